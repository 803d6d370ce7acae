"""The verifier: structural and type invariants every pass must keep."""
from __future__ import annotations

from .errors import DLCError, ModelError
from .graph import Graph, infer_node


def verify(g: Graph) -> Graph:
    """Raise ModelError describing the first broken invariant; return `g` if none.

    Checks: every op is registered; nodes are in topological order; each
    Value has one producer and its ``producer`` points back; names are
    unique; recorded types equal what the op's rule infers now; outputs are
    defined. Sub-graphs held in attributes (fused bodies) are verified too."""
    defined = set(g.inputs)
    names: dict[str, object] = {}

    def name_ok(v):
        if names.setdefault(v.name, v) is not v:
            raise ModelError(f"verify: two values are named {v.name!r}")

    for v in g.inputs:
        name_ok(v)
    for i, n in enumerate(g.nodes):
        try:
            n.opdef
        except DLCError as e:
            raise ModelError(f"verify: node {i} ({n.where}): {e}") from None
        for v in n.inputs:
            if v is None or v.is_const:
                if v is not None:
                    name_ok(v)
                continue
            if v not in defined:
                raise ModelError(f"verify: {n.where} uses {v.name} before it is defined")
        for v in n.outputs:
            if v in defined or v.producer is not n:
                raise ModelError(f"verify: {v.name} is defined twice or its producer is wrong")
            name_ok(v)
            defined.add(v)
        for a in n.attrs.values():   # a fused node's body is a graph of its own
            if isinstance(a, Graph):
                verify(a)
        types = infer_node(n)
        have = [(v.dtype, v.shape, v.container) for v in n.outputs]
        if len(types) != len(have) or any(t[0] != h[0] or t[2] != h[2] or (h[1] is not None and t[1] != h[1]
                                          and all(isinstance(d, int) for d in h[1])) for t, h in zip(types, have)):
            raise ModelError(f"verify: {n.where}: recorded output types {have} differ from inferred {types}")
    for v in g.outputs:
        if not (v in defined or v.is_const):
            raise ModelError(f"verify: output {v.name} is not defined")
    return g
