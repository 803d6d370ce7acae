"""Identity and no-op removal, as local rewrite rules."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value
from .rewrite import rewrite


def _same_type(a: Value, b: Value) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.static


def _all_equal(v: Value | None, x) -> bool:
    return v is not None and v.is_const and v.const.size > 0 and bool(np.all(v.const == x))


def drop_noop(g: Graph, n: Node):
    """Ops that return their first input unchanged: cast to the same type,
    reshape/transpose/expand/slice/pad/tile/concat that change nothing,
    x+0, x-0, x*1, x/1, x**1."""
    if not n.inputs or n.inputs[0] is None or len(n.outputs) != 1:
        return None
    x, y = n.inputs[0], n.outputs[0]
    if not _same_type(x, y):
        return None
    op = n.op
    if op in ("cast", "reshape", "flatten", "squeeze", "unsqueeze", "expand", "slice", "tile", "pad"):
        return [x]
    if op == "transpose" and list(n.attrs["perm"]) == sorted(n.attrs["perm"]):
        return [x]
    if op == "concat" and len(n.inputs) == 1:
        return [x]
    identity = {"add": 0, "sub": 0, "mul": 1, "div": 1, "pow": 1}.get(op)
    if identity is not None and _all_equal(n.inputs[1], identity):
        return [x]
    if op in ("add", "mul") and _all_equal(x, identity) and _same_type(n.inputs[1], y):
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
    shape = g.const(np.array(n.outputs[0].shape, np.int64))
    return [g.op("reshape", [base, shape], source=n.source)]


def remove_noops(g: Graph) -> Graph:
    """Remove identity-like nodes and collapse view chains. Promises: same
    outputs; every removed node returned its input unchanged."""
    return rewrite(g, [drop_noop, collapse_views])
