"""Render a whole Program into one LLVM module with one entry function:

    i32 dlc_main(ptr inputs, ptr outputs, ptr weights, ptr arena)

``inputs``/``outputs`` are arrays of data pointers in the model's order.
The entry calls each kernel with pointers into those, the weights blob and
the arena, and returns 0, or the status of the first failed run-time check.
"""
from __future__ import annotations

from llvmlite import ir

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


def render_program(prog: Program) -> ir.Module:
    module = ir.Module(name=prog.name)
    fn = ir.Function(module, ir.FunctionType(I32, [PTR] * 4), ENTRY)
    ins, outs, weights, arena = fn.args
    for a, n in zip(fn.args, ("inputs", "outputs", "weights", "arena")):
        a.name = n
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    status = b.alloca(I32, name="status")
    b.store(ir.Constant(I32, 0), status)

    def pointer(s) -> ir.Value:
        if s.kind in ("input", "output"):
            table = ins if s.kind == "input" else outs
            slot = b.gep(table, [ir.Constant(I64, s.index)], inbounds=True, source_etype=PTR)
            return b.load(slot, typ=PTR, name=f"{s.kind}{s.index}")
        base = weights if s.kind == "weights" else arena
        return b.gep(base, [ir.Constant(I64, s.index)], inbounds=True, source_etype=I8)

    for ci, call in enumerate(prog.calls):
        kfn = render_kernel(module, call.kernel, overlapping_args(call))
        args = [pointer(s) for s in call.args]
        if not call.kernel.messages:
            b.call(kfn, args)
            continue
        b.call(kfn, args + [status])
        code = b.load(status, name=f"{call.kernel.name}.status")
        ok = fn.append_basic_block(f"{call.kernel.name}.ok")
        failed = fn.append_basic_block(f"{call.kernel.name}.failed")
        b.cbranch(b.icmp_unsigned("!=", code, ir.Constant(I32, 0)), failed, ok)
        b.position_at_end(failed)   # report which call failed: (call index + 1) << 16 | code
        b.ret(b.or_(code, ir.Constant(I32, (ci + 1) << 16)))
        b.position_at_end(ok)
    b.ret(ir.Constant(I32, 0))
    return module
