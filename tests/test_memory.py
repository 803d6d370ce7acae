"""The arena planner: no two buffers live at the same time overlap (except
an elementwise kernel writing its output over an input that dies there),
and the arena never exceeds the naive sum of all buffers: over random
intervals, and over random graphs through the real passes and lowering."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlc.compiler import Options, analyze
from dlc.ir import Graph, Value
from dlc.ir.passes import pack, value_intervals
from dlc.ir.passes.memory import ALIGN, Interval, _align, elementwise_inputs, view_base
from tests.random_graphs import graphs


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


# ------------------------------------------------- through the real passes
def lifetimes(g):
    """Each arena buffer's [first step, last step], derived from the graph
    independently of the planner (views keep their base alive)."""
    outside = set(g.inputs) | set(g.outputs)
    life = {}
    for step, n in enumerate(g.nodes):
        for v in n.inputs:
            if v is not None and view_base(v) in life:
                life[view_base(v)][1] = step
        for v in n.outputs:
            if view_base(v) is v and v not in outside:
                life[v] = [step, step]
    return life


def check_real_plan(g, plan):
    """No two buffers live at the same step share memory, except an
    elementwise kernel's output written over an input that dies there."""
    life = lifetimes(g)
    spans = [(v, s, e, plan.offsets[v], v.nbytes) for v, (s, e) in life.items()]
    spans += [(iv.key, iv.start, iv.end, plan.offsets[iv.key], iv.size) for iv in plan.intervals
              if not isinstance(iv.key, Value)]                      # kernel scratch
    for i, (a, sa, ea, oa, na) in enumerate(spans):
        assert oa % ALIGN == 0 and oa + na <= plan.arena_bytes
        for b, sb, eb, ob, nb in spans[i + 1:]:
            if ea < sb or eb < sa or oa + na <= ob or ob + nb <= oa:
                continue
            first, second = (a, b) if sa < sb else (b, a)
            step = max(sa, sb)
            assert min(ea, eb) == step and isinstance(second, Value), f"{a} and {b} overlap while both live"
            node = g.nodes[step]
            reads = [view_base(node.inputs[i]) for i in elementwise_inputs(node)]
            assert second.producer is node and first in reads, f"{second} is not written in place over {first}"
    assert plan.live_lower_bound_bytes <= plan.arena_bytes <= sum(_align(max(s[4], 1)) for s in spans)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=14), st.booleans())
def test_random_graphs_plan_never_overlaps_live_buffers(case, fuse):
    g, _ = case
    opt, prog = analyze(g, Options(check=True, fuse=fuse))
    check_real_plan(opt, prog.memory)


def test_in_place_chain_uses_one_buffer():
    g = Graph()
    x = g.add_input("x", "float32", (1024,))
    v = x
    for op in ("exp", "neg", "tanh", "relu", "sigmoid"):
        v = g.op(op, [v])
    g.outputs = [g.op("reduce_sum", [v], {"axes": (0,), "keepdims": False})]
    opt, prog = analyze(g, Options(fuse=False))
    check_real_plan(opt, prog.memory)
    assert prog.memory.arena_bytes == 4096          # every elementwise step writes over its dying input
    assert len(prog.memory.inplace) == 4


def test_arena_is_allocated_once_and_reused():
    import dlc
    from tests.util import make_model, rand
    from onnx import helper
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Softmax", ["h"], ["y"])]
    m = dlc.compile(make_model(nodes, [("x", np.float32, [4, 8])], ["y"], {"w": rand(8, 8)}))
    exe = m.executable(m.compiled_shapes[0])
    (arena, address, _, _), = exe._free    # allocated with the compiled code, before any run
    assert arena.size >= exe.meta.arena_bytes > 0
    for seed in range(3):
        m(rand(4, 8, seed=seed))
    assert [slot[1] for slot in exe._free] == [address]   # every call ran in that one arena
