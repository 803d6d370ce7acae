"""The local-rewrite driver: rules are callbacks that get a node and return
its replacement output Values (or None); the driver repeats until no rule
fires, then drops what became dead."""
from __future__ import annotations

from typing import Callable, Sequence

from ..graph import Graph, Node, Value

Rule = Callable[[Graph, Node], Sequence[Value] | None]


def rewrite(g: Graph, rules: Sequence[Rule], max_rounds: int = 100) -> Graph:
    """Apply `rules` to every node until a fixed point. A rule may append
    new nodes with ``g.op``; the driver moves them before the node they
    replace, so topological order holds."""
    from .cleanup import eliminate_dead_code
    for _ in range(max_rounds):
        changed = False
        i = 0
        while i < len(g.nodes):
            node = g.nodes[i]
            for rule in rules:
                before = len(g.nodes)
                new = rule(g, node)
                if new is None:
                    del g.nodes[before:]
                    continue
                added = g.nodes[before:]
                del g.nodes[before:]
                g.nodes[i:i] = added
                for old, rep in zip(node.outputs, new):
                    if rep is not old:
                        g.replace_uses(old, rep)
                i += len(added)
                changed = True
                break
            i += 1
        if not changed:
            break
        eliminate_dead_code(g)
    return g
