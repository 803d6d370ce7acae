"""Identity and no-op removal, as local rewrite rules."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value
from .rewrite import rewrite


def _same_type(a: Value, b: Value) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.static


def _all_equal(v: Value | None, x) -> bool:
    return v is not None and v.is_const and v.const.size > 0 and bool(np.all(v.const == x))


def _moves_data(n: Node) -> bool:
    """A same-shape slice or pad that still changes the data: a reversing
    slice (negative steps), or pads like (1, -1) that shift."""
    if n.op == "slice":
        steps = n.inputs[4] if len(n.inputs) > 4 else None
        return steps is not None and bool(np.any(steps.const < 0))
    return n.op == "pad" and bool(np.any(n.inputs[1].const != 0))


def drop_noop(g: Graph, n: Node):
    """Ops that return one input unchanged: cast to the same type,
    reshape/transpose/expand/slice/pad/tile/concat that change nothing,
    x+0, 0+x, x-0, x*1, 1*x, x/1, x**1."""
    if not n.inputs or n.inputs[0] is None or len(n.outputs) != 1:
        return None
    x, y, op = n.inputs[0], n.outputs[0], n.op
    if op in ("cast", "reshape", "flatten", "squeeze", "unsqueeze", "expand", "slice", "tile", "pad") \
            and _same_type(x, y) and not _moves_data(n):
        return [x]
    if op == "transpose" and _same_type(x, y):
        perm = n.attrs.get("perm")
        perm = list(perm) if perm is not None else list(range(x.rank))[::-1]
        if perm == sorted(perm):
            return [x]
    if op == "concat" and len(n.inputs) == 1:
        return [x]
    identity = {"add": 0, "sub": 0, "mul": 1, "div": 1, "pow": 1}.get(op)
    if identity is None:
        return None
    if _same_type(x, y) and _all_equal(n.inputs[1], identity):
        return [x]
    if op in ("add", "mul") and _same_type(n.inputs[1], y) and _all_equal(x, identity):
        return [n.inputs[1]]
    return None


def collapse_views(g: Graph, n: Node):
    """A view of a view becomes one reshape of the base (static shapes)."""
    if n.opdef.kind != "view" or not n.outputs[0].static:
        return None
    src = n.inputs[0]
    if src.producer is None or src.producer.opdef.kind != "view":
        return None
    base = src.producer.inputs[0]
    if base.dtype != n.outputs[0].dtype:   # a bitcast in the chain: a reshape would lose it
        return None
    shape = g.const(np.array(n.outputs[0].shape, np.int64))
    return [g.op("reshape", [base, shape], source=n.source)]


def remove_noops(g: Graph) -> Graph:
    """Remove identity-like nodes and collapse view chains. Promises: same
    outputs; every removed node returned its input unchanged."""
    return rewrite(g, [drop_noop, collapse_views])
