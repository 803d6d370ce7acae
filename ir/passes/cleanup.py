"""Dead-code and common-subexpression elimination."""
from __future__ import annotations

import hashlib

import numpy as np

from ..graph import Graph, Value


def eliminate_dead_code(g: Graph) -> Graph:
    """Drop nodes none of whose outputs reach a graph output. Keeps order."""
    live = set(g.outputs)
    keep = []
    for n in reversed(g.nodes):
        if any(v in live for v in n.outputs):
            keep.append(n)
            live.update(v for v in n.inputs if v is not None)
    g.nodes = keep[::-1]
    return g


def _attr_key(a):
    if isinstance(a, np.ndarray):
        return ("nd", a.dtype.str, a.shape, a.tobytes())
    if isinstance(a, (list, tuple)):
        return tuple(_attr_key(x) for x in a)
    if isinstance(a, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in a.items()))
    if isinstance(a, np.dtype):
        return ("dt", a.str)
    return a


def _const_key(v: Value):
    digest = hashlib.blake2b(np.ascontiguousarray(v.const).tobytes(), digest_size=16).digest()
    return (v.dtype.str, v.shape, digest)


def eliminate_common_subexpressions(g: Graph) -> Graph:
    """Merge equal constants, then nodes with the same op, inputs and
    attributes (the later one is replaced by the earlier)."""
    consts: dict = {}
    for n in g.nodes:
        n.inputs = [consts.setdefault(_const_key(v), v) if v is not None and v.is_const else v
                    for v in n.inputs]
    seen: dict = {}
    for n in list(g.nodes):
        key = (n.op, tuple(id(v) for v in n.inputs), _attr_key(n.attrs))
        first = seen.get(key)
        if first is None:
            seen[key] = n
            continue
        for old, new in zip(n.outputs, first.outputs):
            g.replace_uses(old, new)
    return eliminate_dead_code(g)
