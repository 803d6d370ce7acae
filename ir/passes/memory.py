"""Static memory planning: place intermediates in one arena.

Linearize the graph: its node order is the schedule, one step per node.
Each intermediate lives from the step that defines it to the last step that
reads it; a view (reshape & co.) owns no memory and keeps its base buffer
alive; kernel scratch lives for its one step. Graph inputs, outputs and
constants are not in the arena: the caller owns inputs and outputs, and
weights live in their own read-only blob.

In place: an elementwise kernel (an elementwise op, or a fused group of
them) whose input dies at that step and has an output's byte size writes
that output over it, so the two are one buffer. Such an input is read only
at the index of the element being written, and only before it is written
(codegen reads all of an element's inputs first), and the renderer drops
``noalias`` on arguments that overlap.

Placement: best fit. Buffers are taken largest first; each goes to the
smallest gap, among the buffers already placed whose lifetimes overlap its
own, that holds it (at the end of the arena if none does). A few orders are
tried (by size, by size x lifetime, by start) and the smallest arena kept.
No two buffers live at the same step overlap.

Statistics: ``naive_bytes`` (every intermediate its own memory),
``live_lower_bound_bytes`` (the most bytes live at one step: no placement of
these buffers uses less) and ``arena_bytes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable

from ..graph import Graph, Node, Value

ALIGN = 64


@dataclass
class Interval:
    key: Hashable
    size: int
    start: int  # index of the step that defines it
    end: int    # index of the last step that reads it (inclusive)
    shared: tuple = ()   # further keys that live in this buffer (outputs written in place over it)


@dataclass
class MemoryPlan:
    offsets: dict = field(default_factory=dict)   # key -> byte offset in the arena
    arena_bytes: int = 0
    intervals: list[Interval] = field(default_factory=list)
    naive_bytes: int = 0                  # every intermediate in its own memory
    live_lower_bound_bytes: int = 0       # the most bytes live at one step
    inplace: dict = field(default_factory=dict)   # key -> the key whose buffer it reuses


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _place(ivs: list[Interval]) -> tuple[dict, int]:
    """Best-fit placement of `ivs` in the given order."""
    placed: list[tuple[int, int, Interval]] = []   # (offset, end offset, interval)
    offsets, top = {}, 0
    for iv in ivs:
        size = _align(max(iv.size, 1))
        busy = sorted((o, e) for o, e, p in placed if p.start <= iv.end and iv.start <= p.end)
        best, best_gap, cur = None, None, 0
        for o, e in busy:
            if o - cur >= size and (best_gap is None or o - cur < best_gap):
                best, best_gap = cur, o - cur
            cur = max(cur, e)
        offset = cur if best is None else best
        placed.append((offset, offset + size, iv))
        offsets[iv.key] = offset
        top = max(top, offset + size)
    return offsets, top


def _orders(ivs: list[Interval]):
    yield sorted(ivs, key=lambda iv: (-iv.size, iv.start))
    yield sorted(ivs, key=lambda iv: (-iv.size * (iv.end - iv.start + 1), iv.start))
    yield sorted(ivs, key=lambda iv: (iv.start, -iv.size))
    yield sorted(ivs, key=lambda iv: (-(iv.end - iv.start), -iv.size))


def live_lower_bound(intervals: Iterable[Interval]) -> int:
    """The most bytes live at any one step."""
    events: dict[int, int] = {}
    for iv in intervals:
        events[iv.start] = events.get(iv.start, 0) + iv.size
        events[iv.end + 1] = events.get(iv.end + 1, 0) - iv.size
    best = cur = 0
    for step in sorted(events):
        cur += events[step]
        best = max(best, cur)
    return best


def _finish(plan: MemoryPlan, ivs: list[Interval]) -> MemoryPlan:
    for iv in ivs:
        for k in iv.shared:
            plan.offsets[k] = plan.offsets[iv.key]
            plan.inplace[k] = iv.key
    plan.live_lower_bound_bytes = live_lower_bound(ivs)
    return plan


def pack(intervals: Iterable[Interval], naive_bytes: int | None = None) -> MemoryPlan:
    """Best-fit placement; no two intervals live at once overlap."""
    ivs = list(intervals)
    best = None
    for order in _orders(ivs):
        offsets, top = _place(order)
        if best is None or top < best[1]:
            best = (offsets, top)
    plan = MemoryPlan(offsets=best[0] if best else {}, arena_bytes=best[1] if best else 0, intervals=ivs)
    plan.naive_bytes = sum(iv.size for iv in ivs) if naive_bytes is None else naive_bytes
    return _finish(plan, ivs)


def pack_naive(intervals: Iterable[Interval], naive_bytes: int | None = None) -> MemoryPlan:
    """No reuse: every buffer its own slot (memory planning off)."""
    ivs = list(intervals)
    plan = MemoryPlan(intervals=ivs)
    for iv in ivs:
        plan.offsets[iv.key] = plan.arena_bytes
        plan.arena_bytes += _align(max(iv.size, 1))
    plan.naive_bytes = sum(iv.size for iv in ivs) if naive_bytes is None else naive_bytes
    return _finish(plan, ivs)


def view_base(v: Value) -> Value:
    """The Value whose memory `v` views (itself unless produced by a view op)."""
    while v.producer is not None and v.producer.opdef.kind == "view":
        v = v.producer.inputs[0]
    return v


def elementwise_inputs(n: Node) -> list[int]:
    """Indices of the inputs of `n` that its kernel reads only at the index
    of the output element it is writing (and before writing it): inputs of
    an elementwise op, or of a fused group of elementwise ops, with the
    output's shape. Such an input may be overwritten in place."""
    out = n.outputs[0].shape if n.outputs else None
    kind = n.opdef.kind
    if kind in ("elemwise", "broadcast"):
        return [i for i, v in enumerate(n.inputs) if v is not None and v.shape == out]
    if n.op != "fused":
        return []
    body = n.attrs["body"]
    if any(m.opdef.kind in ("reduce", "out_fusable") for m in body.nodes):
        return []
    users = body.users()
    return [i for i, v in enumerate(body.inputs)
            if v.shape == out and all(m.opdef.kind in ("elemwise", "broadcast") for m in users.get(v, ()))]


def value_intervals(g: Graph, inplace: bool = False) -> list[Interval]:
    """Lifetimes of the intermediates that need arena memory, in node steps.
    With `inplace`, an elementwise kernel's output that can overwrite a
    dying input (see `elementwise_inputs`) shares that input's interval."""
    outside = set(g.inputs) | set(g.outputs)
    start: dict[Value, int] = {}
    end: dict[Value, int] = {}
    for step, n in enumerate(g.nodes):
        for v in n.outputs:
            if view_base(v) is v:
                start[v] = end[v] = step
        for v in n.inputs:
            if v is not None:
                base = view_base(v)
                if base in start:
                    end[base] = step
    arena = [v for v in start if v not in outside and not v.is_const]
    owner: dict[Value, Value] = {v: v for v in arena}     # value -> the value whose buffer it uses
    if inplace:
        for step, n in enumerate(g.nodes):
            if not n.outputs or n.opdef.kind == "view":
                continue
            taken = set()
            for i in elementwise_inputs(n):
                base = view_base(n.inputs[i])
                if base not in owner or base in taken or end[base] != step:
                    continue
                for o in n.outputs:
                    if o in owner and owner[o] is o and o.nbytes == base.nbytes and o not in taken:
                        root = owner[base]
                        owner[o] = root
                        end[root] = max(end[root], end[o])
                        taken.update((base, o))
                        break
    shared: dict[Value, list[Value]] = {}
    for v in arena:
        if owner[v] is not v:
            shared.setdefault(owner[v], []).append(v)
    return [Interval(v, v.nbytes, start[v], end[v], tuple(shared.get(v, ())))
            for v in arena if owner[v] is v]


def plan_memory(g: Graph, scratch: Iterable[Interval] = (), reuse: bool = True) -> MemoryPlan:
    """Plan the arena of `g` (plus kernel `scratch` intervals): best fit with
    in-place reuse, or with `reuse` off one slot per buffer. Promises: no
    two buffers live at the same step overlap; every intermediate and
    scratch buffer has an offset (shared ones the same)."""
    ivs = value_intervals(g, inplace=reuse) + list(scratch)
    naive = sum(iv.size + sum(v.nbytes for v in iv.shared) for iv in ivs)
    return pack(ivs, naive) if reuse else pack_naive(ivs, naive)


def format_plan(g: Graph, plan: MemoryPlan) -> str:
    """The plan as text: one line per buffer (offset, size, lifetime in
    steps, what it is written over), then the totals."""
    own = {iv.key: iv for iv in value_intervals(g)}   # each value's own lifetime
    lines = [f"{'offset':>12} {'bytes':>12}  {'steps':<11} buffer"]
    rows = []
    for iv in plan.intervals:
        for key in (iv.key, *iv.shared):
            life = own.get(key, iv)
            name = key.name if isinstance(key, Value) else f"{key.name} (kernel scratch)"
            note = f"  (in place over {plan.inplace[key].name})" if key in plan.inplace else ""
            rows.append((life.start, plan.offsets[key], f"{plan.offsets[key]:>12} {life.size:>12}  "
                         f"{f'{life.start}..{life.end}':<11} {name}{note}"))
    lines += [r[2] for r in sorted(rows, key=lambda r: (r[0], r[1]))]
    lines.append(f"# arena {plan.arena_bytes} bytes; naive {plan.naive_bytes}; "
                 f"live lower bound {plan.live_lower_bound_bytes}")
    return "\n".join(lines)
