"""Make every graph output a buffer of its own."""
from __future__ import annotations

from ..graph import Graph


def materialize_outputs(g: Graph) -> Graph:
    """Give each graph output its own producing kernel: an output that is a
    graph input, a constant, a view, or listed twice gets a ``copy`` node.
    Codegen then writes every output straight into the caller's array."""
    seen = set()
    inputs = set(g.inputs)
    for j, v in enumerate(g.outputs):
        needs_copy = (v in seen or v in inputs or v.is_const
                      or (v.producer is not None and v.producer.opdef.kind == "view"))
        seen.add(v)
        if needs_copy:
            g.outputs[j] = g.op("copy", [v], source=f"output {j}")
    return g
