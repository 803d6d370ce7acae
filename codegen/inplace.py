"""In-place outputs: a Program whose output j is written over input i.

A training step returns each parameter's (and optimizer slot's) new value
as an output that must land in the memory of the input it replaces, so no
copy is made and the weights stay where the runtime keeps them. That is
safe only if no kernel still reads the old value after the first kernel
writes the new one, and if a kernel that both reads the old value and
writes the new one does so element for element (an elementwise update
formula; not a fused matmul that accumulates in its output before its
epilogue reads the old weight). `alias_outputs` checks both on the final
call order and kernel bodies (whatever grouping of nodes into kernels
produced them). Where writing in place is safe it points the writes at the
input; where it is not, the output goes to an arena temporary that a
copy kernel writes over the input after the program's last kernel. Kernel
params that share memory lose ``noalias`` in the renderer (see
`codegen.llvm.module.overlapping_args`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir.errors import DLCError
from .builder import KernelBuilder
from .kir import Assign, Block, Buffer, Check, Expr, If, Load, Loop, Store
from .kir_print import format_expr
from .program import Call, Program, Storage


class InplaceError(DLCError):
    """An in-place output would overwrite a value a later kernel still reads."""


def _walk(stmt, stores: list, loads: list) -> None:
    """Collect the Store statements and Load expressions of a kernel body."""
    def expr(e):
        if isinstance(e, Load):
            loads.append(e)
        for child in getattr(e, "__slots__", ()):
            v = getattr(e, child, None)
            if isinstance(v, Expr):
                expr(v)
            elif isinstance(v, tuple):
                for x in v:
                    if isinstance(x, Expr):
                        expr(x)
    if isinstance(stmt, Block):
        for x in stmt.stmts:
            _walk(x, stores, loads)
    elif isinstance(stmt, Loop):
        expr(stmt.start), expr(stmt.stop)
        _walk(stmt.body, stores, loads)
    elif isinstance(stmt, Store):
        stores.append(stmt)
        [expr(i) for i in stmt.idx]
        expr(stmt.value)
    elif isinstance(stmt, Assign):
        expr(stmt.value)
    elif isinstance(stmt, If):
        expr(stmt.cond)
        _walk(stmt.then, stores, loads)
        if stmt.orelse is not None:
            _walk(stmt.orelse, stores, loads)
    elif isinstance(stmt, Check):
        expr(stmt.cond)


def _element_for_element(call: Call, i: int, j: int) -> bool:
    """Whether `call` reads input i and writes output j only at one and the
    same index, writing each element once and never reading it back."""
    bufs = call.kernel.params + call.kernel.scratch
    src = {b for b, s in zip(bufs, call.args) if s == Storage("input", i)}
    dst = {b for b, s in zip(bufs, call.args) if s == Storage("output", j)}
    if not src or not dst:
        return True
    stores, loads = [], []
    _walk(call.kernel.body, stores, loads)
    out_stores = [st for st in stores if st.buf in dst]
    if len(out_stores) != 1 or any(ld.buf in dst for ld in loads):
        return False
    at = [format_expr(x) for x in out_stores[0].idx]
    return all([format_expr(x) for x in ld.idx] == at for ld in loads if ld.buf in src)


def _copy_back(prog: Program, j: int, i: int, offset: int) -> Call:
    spec = prog.inputs[i]
    k = KernelBuilder(f"copy_back_{j}", [f"in-place update of {spec.name}"])
    src, dst = Buffer("new", spec.dtype, spec.shape), Buffer("old", spec.dtype, spec.shape)
    k.kernel.params = [src, dst]
    with k.loops(spec.shape) as idx:
        k.store(dst, idx, k.load(src, idx))
    return Call(k.kernel, [Storage("arena", offset), Storage("input", i)])


def alias_outputs(prog: Program, inplace: dict[int, int]) -> Program:
    """Rewrite `prog` so that output j ends up in input ``inplace[j]``: written
    there directly where that is safe, else copied there at the end."""
    if not inplace:
        return prog
    last_read: dict[int, int] = {}
    first_write: dict[int, int] = {}
    for c, call in enumerate(prog.calls):
        for s in call.args:
            if s.kind == "input":
                last_read[s.index] = c
            elif s.kind == "output":
                first_write.setdefault(s.index, c)
    targets = list(inplace.values())
    if len(set(targets)) != len(targets):
        raise InplaceError("two in-place outputs target the same input")
    deferred: dict[int, int] = {}     # output j -> arena offset of its temporary
    arena = prog.arena_bytes
    for j, i in inplace.items():
        if prog.inputs[i].shape != prog.outputs[j].shape or prog.inputs[i].dtype != prog.outputs[j].dtype:
            raise InplaceError(f"output {prog.outputs[j].name} cannot be written over input {prog.inputs[i].name}: "
                               f"their types differ")
        w, r = first_write.get(j), last_read.get(i, -1)
        safe = w is None or r < w or (r == w and all(
            _element_for_element(call, i, j) for call in prog.calls
            if Storage("input", i) in call.args and Storage("output", j) in call.args))
        if not safe:
            deferred[j] = arena = (arena + 63) // 64 * 64
            arena += prog.outputs[j].dtype.itemsize * int(np.prod(prog.outputs[j].shape, dtype=np.int64))

    def place(s: Storage) -> Storage:
        if s.kind != "output" or s.index not in inplace:
            return s
        return Storage("arena", deferred[s.index]) if s.index in deferred else Storage("input", inplace[s.index])

    calls = [Call(call.kernel, [place(s) for s in call.args]) for call in prog.calls]
    calls += [_copy_back(prog, j, inplace[j], off) for j, off in deferred.items()]
    return replace(prog, calls=calls, arena_bytes=max(arena, prog.arena_bytes))
