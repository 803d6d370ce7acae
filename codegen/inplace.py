"""In-place outputs: a Program whose output j is written over input i.

A training step returns each parameter's (and optimizer slot's) new value
as an output that must land in the memory of the input it replaces, so no
copy is made and the weights stay where the runtime keeps them. That is
safe only if no kernel still reads the old value after the first kernel
writes the new one; `alias_outputs` checks exactly that on the final call
order (whatever grouping of nodes into kernels produced it), then points
the writes at the input. Kernel params that then share memory lose
``noalias`` in the renderer (see `codegen.llvm.module.overlapping_args`).
A kernel that both reads input i and writes output j must do so
element for element (true of the elementwise update formulas).
"""
from __future__ import annotations

from dataclasses import replace

from ..ir.errors import DLCError
from .program import Call, Program, Storage


class InplaceError(DLCError):
    """An in-place output would overwrite a value a later kernel still reads."""


def alias_outputs(prog: Program, inplace: dict[int, int]) -> Program:
    """Rewrite `prog` so that output j is stored in input ``inplace[j]``."""
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
    for j, i in inplace.items():
        if prog.inputs[i].shape != prog.outputs[j].shape or prog.inputs[i].dtype != prog.outputs[j].dtype:
            raise InplaceError(f"output {prog.outputs[j].name} cannot be written over input {prog.inputs[i].name}: "
                               f"their types differ")
        w, r = first_write.get(j), last_read.get(i, -1)
        if w is not None and r > w:
            raise InplaceError(
                f"output {prog.outputs[j].name} is written (kernel {prog.calls[w].kernel.name}) before "
                f"kernel {prog.calls[r].kernel.name} reads the input {prog.inputs[i].name} it replaces")
    calls = []
    for call in prog.calls:
        args = [Storage("input", inplace[s.index]) if s.kind == "output" and s.index in inplace else s
                for s in call.args]
        calls.append(Call(call.kernel, args))
    return replace(prog, calls=calls)
