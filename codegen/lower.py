"""Lower a specialized graph to a Program: one kernel per node, each built
by its op's definition (a scalar formula for elementwise ops, a loop nest
for the rest; a fused node composes its members', see codegen/fuse.py),
with storage from the memory plan (dlc.ir.passes.memory).

The graph must have static shapes, outputs that are produced by real
(non-view) nodes, and no value listed twice among its outputs
(see `dlc.ir.passes.materialize_outputs`).
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Value
from ..ir.errors import UnsupportedError
from ..ir.ops import kernel_name, node_sources
from ..ir.passes.memory import ALIGN, Interval, plan_memory, view_base
from .builder import KernelBuilder
from .kir import Buffer, Kernel
from .program import Call, Program, Storage, TensorSpec
from .target import GENERIC, Target


def lower_elementwise(k: KernelBuilder, opdef, ins: list[Buffer | None], outs: list[Buffer], attrs: dict) -> None:
    """The loop nest of every elementwise/broadcast op: one scalar formula per element."""
    out = outs[0]
    with k.loops(out.shape) as idx:
        args = [k.load_broadcast(b, idx) if b is not None else None for b in ins]
        k.store(out, idx, k.cast(opdef.scalar(k, *args, **attrs), out.dtype))


def lower_node(node: Node, name: str, target: Target = GENERIC) -> tuple[Kernel, dict[Buffer, Value]]:
    """Build the kernel of one node for `target`; returns it with the Value behind each param."""
    opdef = node.opdef
    k = KernelBuilder(name, node_sources(node), target)
    bufs: dict[Value, Buffer] = {}

    def buffer(v: Value) -> Buffer:
        if v not in bufs:
            bufs[v] = Buffer(k.fresh(v.name), v.dtype, v.shape, const=v.const)
        return bufs[v]

    for i in opdef.static_inputs:
        if i < len(node.inputs) and node.inputs[i] is not None and not node.inputs[i].is_const:
            raise UnsupportedError(f"{node.where}: input {i} ({node.inputs[i].name}) must be known "
                                   f"at compile time, but it is computed from the model's inputs")
    ins = [buffer(v) if v is not None else None for v in node.inputs]
    outs = [buffer(v) for v in node.outputs]
    if opdef.scalar is not None:
        lower_elementwise(k, opdef, ins, outs, node.attrs)
    elif opdef.lower is not None:
        opdef.lower(k, ins, outs, **node.attrs)
    else:
        raise UnsupportedError(f"{node.where}: op {node.op} has no lowering")
    kernel = k.kernel
    kernel.params = list(bufs.values())
    return kernel, {b: v for v, b in bufs.items()}


def _weights_layout(g: Graph, fill: bool = True) -> tuple[dict[Value, int], np.ndarray, int]:
    """Offsets of the constants in the weights blob, the blob (empty
    unless `fill`) and its size in bytes."""
    offsets, total = {}, 0
    consts = g.constants()
    for c in consts:
        offsets[c] = total
        total += (c.nbytes + ALIGN - 1) // ALIGN * ALIGN
    if not fill:
        return offsets, np.zeros(0, np.uint8), total
    blob = np.zeros(total, np.uint8)
    for c in consts:
        raw = np.ascontiguousarray(c.const).view(np.uint8).reshape(-1)
        blob[offsets[c]:offsets[c] + raw.size] = raw
    blob.setflags(write=False)
    return offsets, blob, total


def _refuse_host_values(g: Graph) -> None:
    """Sequences, optionals and strings live on the host (dlc/staged.py
    routes every node that touches one to a host step); one reaching native
    code is a bug, reported with the value and its node."""
    for v in g.inputs + g.outputs:
        if v.host_only:
            raise UnsupportedError(f"{g.name}: {'input' if v in g.inputs else 'output'} {v.name} is a {v.type_str}, "
                                   f"which lives on the host and cannot be passed to native code")
    for n in g.nodes:
        for v in n.inputs + n.outputs:
            if v is not None and v.host_only:
                raise UnsupportedError(f"{n.where}: {v.name} is a {v.type_str}, which lives on the host; "
                                       f"{n.op} cannot be compiled to native code for it")


def lower_graph(g: Graph, reuse_memory: bool = True, weights: bool = True, target: Target = GENERIC) -> Program:
    """`reuse_memory`: best-fit arena with in-place reuse (else one slot per buffer).
    `weights`: build the weights blob (statistics need only its size).
    `target`: what the kernels' schedules may assume (codegen/target.py)."""
    _refuse_host_values(g)
    prog = Program(
        g.name,
        inputs=[TensorSpec(v.name, v.dtype, v.shape) for v in g.inputs],
        outputs=[TensorSpec(v.name, v.dtype, v.shape) for v in g.outputs],
    )
    steps: list[tuple[int, Kernel, dict[Buffer, Value]]] = []
    for i, n in enumerate(g.nodes):
        if n.opdef.kind != "view":
            steps.append((i, *lower_node(n, kernel_name(n, i), target)))

    # memory: values live from definition to last use; scratch only during its step
    scratch = [Interval(sb, sb.numel * sb.dtype.itemsize, i, i) for i, kernel, _ in steps for sb in kernel.scratch]
    plan = plan_memory(g, scratch, reuse=reuse_memory)
    prog.memory = plan
    prog.arena_bytes = plan.arena_bytes
    woffsets, prog.weights, prog.weights_bytes = _weights_layout(g, weights)
    in_index = {v: j for j, v in enumerate(g.inputs)}
    out_index = {v: j for j, v in enumerate(g.outputs)}

    def storage(v: Value) -> Storage:
        base = view_base(v)
        if base in out_index:
            return Storage("output", out_index[base])
        if base in in_index:
            return Storage("input", in_index[base])
        if base.is_const:
            return Storage("weights", woffsets[base])
        return Storage("arena", plan.offsets[base])

    for _, kernel, params in steps:
        args = [storage(params[b]) for b in kernel.params]
        args += [Storage("arena", plan.offsets[sb]) for sb in kernel.scratch]
        prog.calls.append(Call(kernel, args))
    return prog
