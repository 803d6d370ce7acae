"""Constant folding."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value, infer_node
from ..interpreter import run_node
from .cleanup import eliminate_dead_code

# Folding may grow the weights (Expand of a scalar, ConstantOfShape):
# fold a result larger than this only if it is no larger than its inputs.
MAX_GROWTH_BYTES = 1 << 20


def fold_node(g: Graph, n: Node) -> list[Value] | None:
    """Constants for the outputs of `n` if they can be known at compile time
    (all inputs constant, or an op like ``shape`` that needs only input
    shapes), else None. Does not edit the graph. A sequence or optional is
    never a constant."""
    if any(v.container for v in n.outputs):
        return None
    if not all(v.static for v in n.outputs):
        _refresh_types(n)
    opdef = n.opdef
    outs = opdef.fold(n.inputs, **n.attrs) if opdef.fold is not None else None
    if outs is None:
        if not all(v is None or v.is_const for v in n.inputs):
            return None
        if any(not v.static for v in n.outputs) and not opdef.dynamic_shape:
            return None
        in_bytes = sum(v.nbytes for v in n.inputs if v is not None)
        out_bytes = sum(v.nbytes for v in n.outputs if v.static)
        if out_bytes > MAX_GROWTH_BYTES and out_bytes > in_bytes:
            return None
        outs = run_node(n, [v.const if v is not None else None for v in n.inputs])
        if opdef.dynamic_shape:    # the values decide the shapes: take them as computed
            return [g.const(arr, name=v.name + "_c") for v, arr in zip(n.outputs, outs)]
    elif not isinstance(outs, (list, tuple)):
        outs = [outs]
    return [g.const(np.asarray(arr).astype(v.dtype).reshape(v.shape), name=v.name + "_c")
            for v, arr in zip(n.outputs, outs)]


def fold_constants(g: Graph) -> Graph:
    """Evaluate at compile time every node whose inputs are all constants,
    and every node whose op can tell its result from input shapes alone
    (``shape``, ``size``: so Shape->Gather->Concat->Reshape chains collapse
    once shapes are known). Results too large to be worth storing are left
    to run time. Promises: same outputs, fewer nodes."""
    for n in g.nodes:
        consts = fold_node(g, n)
        if consts is not None:
            for v, c in zip(n.outputs, consts):
                g.replace_uses(v, c)
    return eliminate_dead_code(g)


def _refresh_types(n) -> None:
    """Re-run the type rule of a node whose output shape was unknown: an
    input it needs as a constant (a Reshape's target) may just have been
    folded, so a shape that depended on data may now be known."""
    for v, (dt, shape, container) in zip(n.outputs, infer_node(n)):
        v.dtype, v.shape, v.container = dt, shape, container
