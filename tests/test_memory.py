"""The arena planner: no two buffers live at the same time overlap, and the
arena never exceeds the naive sum of all buffers."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dlc.ir import Graph
from dlc.ir.passes import pack, value_intervals
from dlc.ir.passes.memory import ALIGN, Interval


def check_plan(intervals, plan):
    for a in intervals:
        for b in intervals:
            if a is b or a.end < b.start or b.end < a.start:
                continue
            oa, ob = plan.offsets[a.key], plan.offsets[b.key]
            assert oa + a.size <= ob or ob + b.size <= oa, f"{a} and {b} overlap"
    naive = sum((max(iv.size, 1) + ALIGN - 1) // ALIGN * ALIGN for iv in intervals)
    assert plan.arena_bytes <= naive
    for iv in intervals:
        assert plan.offsets[iv.key] % ALIGN == 0


@st.composite
def lifetimes(draw):
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        start = draw(st.integers(0, 30))
        out.append(Interval(i, draw(st.integers(0, 5000)), start, start + draw(st.integers(0, 10))))
    return out


@settings(max_examples=300, deadline=None)
@given(lifetimes())
def test_random_lifetimes_never_overlap(intervals):
    check_plan(intervals, pack(intervals))


def test_chain_reuses_memory():
    g = Graph()
    x = g.add_input("x", "float32", (1024,))
    v = x
    for _ in range(10):
        v = g.op("exp", [v])
    g.outputs = [v]
    ivs = value_intervals(g)
    plan = pack(ivs)
    check_plan(ivs, plan)
    assert len(ivs) == 9                       # input and output live outside the arena
    assert plan.arena_bytes == 2 * 4096        # a chain needs only two buffers at a time


def test_view_keeps_its_base_alive():
    g = Graph()
    x = g.add_input("x", "float32", (4, 4))
    a = g.op("exp", [x])                                         # step 0
    v = g.op("reshape", [a, g.const(np.array([16], np.int64))])  # step 1 (a view of a)
    b = g.op("neg", [x])                                         # step 2
    g.outputs = [g.op("add", [g.op("reshape", [b, g.const(np.array([16], np.int64))]), v])]
    ivs = {iv.key: iv for iv in value_intervals(g)}
    assert ivs[a].end == 4 and v not in ivs     # a lives until the add reads its view
