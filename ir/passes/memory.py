"""Static memory planning: place intermediates in one arena.

Linearize the graph (its node order), take each intermediate's first
definition and last use, and place buffers largest first at the lowest
offset that overlaps no already-placed buffer whose lifetime overlaps
(greedy by size). Graph inputs, outputs and constants are not in the arena:
the caller owns inputs and outputs, weights live in their own read-only blob.
A view (reshape & co.) owns no memory: it keeps its base buffer alive.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable

from ..graph import Graph, Value

ALIGN = 64


@dataclass
class Interval:
    key: Hashable
    size: int
    start: int  # index of the step that defines it
    end: int    # index of the last step that reads it (inclusive)


@dataclass
class MemoryPlan:
    offsets: dict = field(default_factory=dict)   # key -> byte offset in the arena
    arena_bytes: int = 0
    intervals: list[Interval] = field(default_factory=list)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def pack(intervals: Iterable[Interval]) -> MemoryPlan:
    """Greedy-by-size placement; no two intervals live at once overlap."""
    ivs = sorted(intervals, key=lambda iv: (-iv.size, iv.start))
    placed: list[tuple[int, int, Interval]] = []  # (offset, end offset, interval)
    plan = MemoryPlan(intervals=list(ivs))
    for iv in ivs:
        size = _align(max(iv.size, 1))
        busy = sorted((o, e) for o, e, p in placed if p.start <= iv.end and iv.start <= p.end)
        offset = 0
        for o, e in busy:
            if offset + size <= o:
                break
            offset = max(offset, e)
        placed.append((offset, offset + size, iv))
        plan.offsets[iv.key] = offset
        plan.arena_bytes = max(plan.arena_bytes, offset + size)
    return plan


def view_base(v: Value) -> Value:
    """The Value whose memory `v` views (itself unless produced by a view op)."""
    while v.producer is not None and v.producer.opdef.kind == "view":
        v = v.producer.inputs[0]
    return v


def value_intervals(g: Graph) -> list[Interval]:
    """Lifetimes of the intermediates that need arena memory, in node steps."""
    outside = {v for v in g.inputs} | {v for v in g.outputs}
    start: dict[Value, int] = {}
    end: dict[Value, int] = {}
    for step, n in enumerate(g.nodes):
        for v in n.outputs:
            base = view_base(v)
            if base is v:
                start[v] = end[v] = step
        for v in n.inputs:
            if v is not None:
                base = view_base(v)
                if base in start:
                    end[base] = step
    return [Interval(v, v.nbytes, start[v], end[v]) for v in start
            if v not in outside and not v.is_const]
