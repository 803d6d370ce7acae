"""Render a whole Program into one LLVM module with one entry function:

    i32 dlc_main(ptr inputs, ptr outputs, ptr weights, ptr arena, ptr timestamps)

``inputs``/``outputs`` are arrays of data pointers in the model's order.
The entry calls each kernel with pointers into those, the weights blob and
the arena, and returns 0, or the status of the first failed run-time check.
``timestamps`` is null, or an i64 array of one slot more than there are
calls: the entry then stores a monotonic clock reading (ns) before the first
call and after each one (the per-kernel profile, dlc/profile.py). A null
pointer costs one predictable branch per call.

Kernels that differ only in the memory they run on (e.g. the repeated
blocks of a ResNet: same shapes, other weights) are rendered once, under
the first one's name, and called with each one's pointers: LLVM's time
grows with the code it optimizes.
"""
from __future__ import annotations

import sys
import time

from llvmlite import ir

from ..kir_print import kernel_signature
from ..program import Call, Program
from .render import I8, I32, I64, PTR, render_kernel

ENTRY = "dlc_main"


def overlapping_args(call: Call) -> set[int]:
    """Indices of a call's arguments whose memory overlaps another argument's
    (the same caller array, or intersecting byte ranges of the weights or
    arena), e.g. an output written in place over a dying input."""
    bufs = call.kernel.params + call.kernel.scratch
    spans = []
    for buf, s in zip(bufs, call.args):
        if s.kind in ("input", "output"):
            spans.append((s.kind, s.index, 0, 1))   # whole caller arrays: same index, same memory
        else:
            start = s.index + buf.offset * buf.dtype.itemsize
            spans.append((s.kind, 0, start, start + buf.numel * buf.dtype.itemsize))
    out = set()
    for i, (ki, ii, a0, a1) in enumerate(spans):
        for j, (kj, ij, b0, b1) in enumerate(spans):
            if i < j and ki == kj and ii == ij and a0 < b1 and b0 < a1:
                out.update((i, j))
    return out


# clock_gettime's CLOCK_MONOTONIC on the hosts dlc runs on
_CLOCK_MONOTONIC = {"darwin": 6}.get(sys.platform, 1)


def _stamp_function(module: ir.Module) -> ir.Function:
    """``void dlc.stamp(ptr ts, i64 slot)``: if ts, ts[slot] = monotonic ns."""
    clock = ir.Function(module, ir.FunctionType(I32, [I32, PTR]), "clock_gettime")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, I64]), "dlc.stamp")
    fn.linkage = "internal"
    ts, slot = fn.args
    ts.name, slot.name = "timestamps", "slot"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    spec = b.alloca(ir.ArrayType(I64, 2), name="timespec")
    on, off = fn.append_basic_block("profiling"), fn.append_basic_block("done")
    b.cbranch(b.icmp_unsigned("!=", ts, ir.Constant(PTR, None)), on, off)
    b.position_at_end(on)
    b.call(clock, [ir.Constant(I32, _CLOCK_MONOTONIC), spec])
    sec = b.load(b.gep(spec, [ir.Constant(I32, 0), ir.Constant(I32, 0)], inbounds=True), typ=I64, name="sec")
    nsec = b.load(b.gep(spec, [ir.Constant(I32, 0), ir.Constant(I32, 1)], inbounds=True), typ=I64, name="nsec")
    ns = b.add(b.mul(sec, ir.Constant(I64, 1_000_000_000)), nsec, name="ns")
    b.store(ns, b.gep(ts, [slot], inbounds=True, source_etype=I64))
    b.branch(off)
    b.position_at_end(off)
    b.ret_void()
    return fn


def render_program(prog: Program, render_seconds: dict | None = None) -> ir.Module:
    """`render_seconds`, when given, receives the time spent rendering each
    kernel (by kernel name)."""
    module = ir.Module(name=prog.name)
    fn = ir.Function(module, ir.FunctionType(I32, [PTR] * 5), ENTRY)
    ins, outs, weights, arena, stamps = fn.args
    for a, n in zip(fn.args, ("inputs", "outputs", "weights", "arena", "timestamps")):
        a.name = n
    stamp = _stamp_function(module)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    status = b.alloca(I32, name="status")
    b.store(ir.Constant(I32, 0), status)
    b.call(stamp, [stamps, ir.Constant(I64, 0)])

    def pointer(s) -> ir.Value:
        if s.kind in ("input", "output"):
            table = ins if s.kind == "input" else outs
            slot = b.gep(table, [ir.Constant(I64, s.index)], inbounds=True, source_etype=PTR)
            return b.load(slot, typ=PTR, name=f"{s.kind}{s.index}")
        base = weights if s.kind == "weights" else arena
        return b.gep(base, [ir.Constant(I64, s.index)], inbounds=True, source_etype=I8)

    rendered = {}   # (kernel signature, overlapping args) -> its function
    for ci, call in enumerate(prog.calls):
        t0 = time.perf_counter()
        overlap = overlapping_args(call)
        key = (kernel_signature(call.kernel), frozenset(overlap))
        if key not in rendered:
            rendered[key] = render_kernel(module, call.kernel, overlap)
        kfn = rendered[key]
        if render_seconds is not None:
            render_seconds[call.kernel.name] = render_seconds.get(call.kernel.name, 0.0) + time.perf_counter() - t0
        args = [pointer(s) for s in call.args]
        if not call.kernel.messages:
            b.call(kfn, args)
            b.call(stamp, [stamps, ir.Constant(I64, ci + 1)])
            continue
        b.call(kfn, args + [status])
        b.call(stamp, [stamps, ir.Constant(I64, ci + 1)])
        code = b.load(status, name=f"{call.kernel.name}.status")
        ok = fn.append_basic_block(f"{call.kernel.name}.ok")
        failed = fn.append_basic_block(f"{call.kernel.name}.failed")
        b.cbranch(b.icmp_unsigned("!=", code, ir.Constant(I32, 0)), failed, ok)
        b.position_at_end(failed)   # report which call failed: (call index + 1) << 16 | code
        b.ret(b.or_(code, ir.Constant(I32, (ci + 1) << 16)))
        b.position_at_end(ok)
    b.ret(ir.Constant(I32, 0))
    return module
