"""Constant folding."""
from __future__ import annotations

from ..graph import Graph
from ..interpreter import run_node
from .cleanup import eliminate_dead_code

# Folding may grow the weights (Expand of a scalar, ConstantOfShape):
# fold a result larger than this only if it is no larger than its inputs.
MAX_GROWTH_BYTES = 1 << 20


def fold_constants(g: Graph) -> Graph:
    """Evaluate at compile time every node whose inputs are all constants,
    and every node whose op can tell its result from input shapes alone
    (``shape``, ``size``: so Shape->Gather->Concat->Reshape chains collapse
    once shapes are known). Results too large to be worth storing are left
    to run time. Promises: same outputs, fewer nodes."""
    for n in g.nodes:
        opdef = n.opdef
        outs = opdef.fold(n.inputs, **n.attrs) if opdef.fold is not None else None
        if outs is None:
            if not all(v is None or v.is_const for v in n.inputs):
                continue
            if any(not v.static for v in n.outputs):
                continue
            in_bytes = sum(v.nbytes for v in n.inputs if v is not None)
            out_bytes = sum(v.nbytes for v in n.outputs)
            if out_bytes > MAX_GROWTH_BYTES and out_bytes > in_bytes:
                continue
            outs = run_node(n, [v.const if v is not None else None for v in n.inputs])
        elif not isinstance(outs, (list, tuple)):
            outs = [outs]
        for v, arr in zip(n.outputs, outs):
            g.replace_uses(v, g.const(arr.astype(v.dtype).reshape(v.shape), name=v.name + "_c"))
    return eliminate_dead_code(g)
