"""Random small IR graphs for property tests of fusion and memory planning:
chains and diamonds of elementwise ops with broadcasting, reductions,
softmax, matmuls, transposes, slices, expands and views, with several outputs."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlc.ir import Graph

UNARY = ["exp", "neg", "relu", "tanh", "sigmoid", "abs"]
BINARY = ["add", "mul", "sub", "max"]


@st.composite
def graphs(draw, max_nodes: int = 10) -> tuple[Graph, list[np.ndarray]]:
    """A graph with one or two float32 inputs, and feeds for it."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    g = Graph("random")
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    vals = [g.add_input("x", "float32", shape)]
    if draw(st.booleans()):
        vals.append(g.add_input("y", "float32", shape))

    def const(shape):
        return g.const(rng.uniform(-1, 1, shape).astype(np.float32))

    for _ in range(draw(st.integers(1, max_nodes))):
        x = draw(st.sampled_from(vals))
        choice = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "softmax", "matmul",
                                       "transpose", "reshape", "unary", "binary", "slice", "expand"]))
        if choice == "unary":
            v = g.op(draw(st.sampled_from(UNARY)), [x])
        elif choice == "binary":
            same = [u for u in vals if u.shape == x.shape and u is not x]
            if same and draw(st.booleans()):
                other = draw(st.sampled_from(same))
            else:   # a constant that broadcasts: some dims kept, others 1, maybe fewer dims
                keep = draw(st.lists(st.booleans(), min_size=x.rank, max_size=x.rank))
                cshape = tuple(d if k else 1 for d, k in zip(x.shape, keep))
                cshape = cshape[draw(st.integers(0, x.rank)):]
                other = const(cshape)
            args = [x, other] if draw(st.booleans()) else [other, x]
            v = g.op(draw(st.sampled_from(BINARY)), args)
        elif choice == "reduce" and x.rank >= 1:
            v = g.op(draw(st.sampled_from(["reduce_sum", "reduce_mean", "reduce_max"])), [x],
                     {"axes": (x.rank - 1,), "keepdims": draw(st.booleans()) or x.rank == 1})
        elif choice == "slice" and x.shape[-1] >= 2:   # every other element of the last axis, maybe reversed
            step = draw(st.sampled_from([2, -1, -2]))
            start, end = (0, x.shape[-1]) if step > 0 else (x.shape[-1] - 1, -x.shape[-1] - 1)
            v = g.op("slice", [x, g.const(np.array([start], np.int64)), g.const(np.array([end], np.int64)),
                               g.const(np.array([x.rank - 1], np.int64)), g.const(np.array([step], np.int64))])
        elif choice == "expand":   # a new leading axis of 2
            v = g.op("expand", [x, g.const(np.array((2,) + x.shape, np.int64))])
        elif choice == "softmax" and x.rank >= 1:
            v = g.op("softmax", [x], {"axes": (x.rank - 1,)})
        elif choice == "matmul" and x.rank >= 2:
            v = g.op("matmul", [x, const((x.shape[-1], draw(st.integers(1, 4))))])
        elif choice == "transpose" and x.rank >= 2:
            perm = tuple(draw(st.permutations(range(x.rank))))
            v = g.op("transpose", [x], {"perm": perm})
        elif choice == "reshape":
            v = g.op("reshape", [x, g.const(np.array([-1], np.int64))])
        else:
            v = g.op("exp", [x])
        vals.append(v)
    produced = [v for v in vals if v.producer is not None]
    outs = [produced[-1]] + draw(st.lists(st.sampled_from(produced), max_size=2))
    g.outputs = list(dict.fromkeys(outs))
    feeds = [rng.uniform(-2, 2, v.shape).astype(np.float32) for v in g.inputs]
    return g, feeds
