"""Operator fusion: which ops end up in one kernel, and that fused code
computes what the unfused graph does (the reference interpreter, and the
same graph compiled without fusion)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import helper

from dlc.compiler import Options, analyze, build, optimize
from dlc.frontends.onnx import import_model
from dlc.ir import Graph
from dlc.ir.interpreter import interpret
from dlc.ir.passes import describe_kernels
from dlc.ir.passes.fuse import reshape_index
from dlc.ir.verify import verify
from tests.random_graphs import graphs
from tests.util import check_model, make_model, rand


def kernels(g: Graph, fuse: bool = True) -> list[list[str]]:
    """The ops in each kernel of `g` after the passes (views are no kernel)."""
    out, _ = analyze(g.copy(), Options(check=True, fuse=fuse))
    return [[m.op for m in n.attrs["body"].nodes] if n.op == "fused" else [n.op]
            for n in out.nodes if n.opdef.kind != "view"]


def run_compiled(g: Graph, feeds, fuse: bool = True, plan: bool = True):
    _, exe = build(g.copy(), Options(check=True, fuse=fuse, plan_memory=plan))
    return exe.run([np.ascontiguousarray(f) for f in feeds])


def check_graph(g: Graph, feeds, rtol=1e-5, atol=1e-6):
    """Fused and unfused compiled code and the optimized graph's interpreter
    all agree with the interpreter on the original graph."""
    want = interpret(g.copy(), feeds)
    fused, _ = analyze(g.copy(), Options(check=True))
    verify(fused)
    for got in (interpret(fused, feeds), run_compiled(g, feeds), run_compiled(g, feeds, fuse=False)):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def onnx_kernels(model, shapes):
    g, _ = import_model(model, shapes)
    return kernels(g)


# ------------------------------------------------------------ epilogues
def test_conv_bias_relu_and_batch_norm_fold_into_one_kernel():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
             helper.make_node("Relu", ["n"], ["y"])]
    inits = {"w": rand(8, 3, 3, 3, seed=1), "s": rand(8, seed=2, low=0.5), "b": rand(8, seed=3),
             "m": rand(8, seed=4), "v": rand(8, seed=5, low=0.5, high=1.5)}
    model = make_model(nodes, [("x", np.float32, [1, 3, 6, 6])], ["y"], inits)
    assert onnx_kernels(model, {"x": (1, 3, 6, 6)}) == [["conv", "relu"]]   # mul and add folded into conv
    check_model(model, {"x": rand(1, 3, 6, 6)})


ACTIVATIONS = {
    "Relu": ([], {}), "Clip": (["lo", "hi"], {}), "Sigmoid": ([], {}), "HardSwish": ([], {}),
    "Gelu": ([], {}), "LeakyRelu": ([], {"alpha": 0.1}), "Tanh": ([], {}),
}
ANCHORS = {   # op -> (inputs after x, attributes, weight shapes, x shape)
    "Conv": (["w", "b"], {"pads": [1, 1, 1, 1]}, {"w": (4, 3, 3, 3), "b": (4,)}, (1, 3, 5, 5)),
    "ConvTranspose": (["w", "b"], {"strides": [2, 2]}, {"w": (3, 4, 3, 3), "b": (4,)}, (1, 3, 3, 3)),
    "MatMul": (["w"], {}, {"w": (6, 4)}, (2, 3, 6)),
    "Gemm": (["w", "b"], {"transB": 1}, {"w": (4, 6), "b": (4,)}, (3, 6)),
}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("anchor", sorted(ANCHORS))
def test_anchor_bias_activation_and_residual_are_one_kernel(anchor, act):
    """Conv / ConvTranspose / MatMul / Gemm, then an activation, then a residual
    add of a graph input: one kernel, matching onnxruntime."""
    extra, attrs, weights, xshape = ANCHORS[anchor]
    inits = {k: rand(*shape, seed=i) for i, (k, shape) in enumerate(weights.items())}
    inits.update(lo=np.array(0, np.float32), hi=np.array(1.5, np.float32))
    act_inputs, act_attrs = ACTIVATIONS[act]
    nodes = [helper.make_node(anchor, ["x"] + extra, ["a"], **attrs),
             helper.make_node(act, ["a"] + act_inputs, ["h"], **act_attrs),
             helper.make_node("Add", ["h", "r"], ["y"])]
    out_shape = {"Conv": (1, 4, 5, 5), "ConvTranspose": (1, 4, 7, 7), "MatMul": (2, 3, 4), "Gemm": (3, 4)}[anchor]
    model = make_model(nodes, [("x", np.float32, list(xshape)), ("r", np.float32, list(out_shape))], ["y"], inits)
    assert len(onnx_kernels(model, {"x": xshape, "r": out_shape})) == 1
    check_model(model, {"x": rand(*xshape, seed=9), "r": rand(*out_shape, seed=10)})


def test_residual_add_and_clip_join_the_conv():
    g = Graph()
    x = g.add_input("x", "float32", (1, 4, 5, 5))
    c = g.op("conv", [x, g.const(rand(4, 4, 3, 3, seed=1)), g.const(rand(4, seed=2))],
             {"strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 1, 1]})
    r = g.op("add", [c, x])
    y = g.op("min", [g.op("max", [r, g.const(np.float32(0))]), g.const(np.float32(6))])
    g.outputs = [y]
    assert kernels(g) == [["conv", "add", "max", "min"]]
    check_graph(g, [rand(1, 4, 5, 5)])


def test_matmul_bias_and_erf_gelu():
    g = Graph()
    x = g.add_input("x", "float32", (2, 3, 8))
    h = g.op("add", [g.op("matmul", [x, g.const(rand(8, 16, seed=1))]), g.const(rand(16, seed=2))])
    e = g.op("erf", [g.op("div", [h, g.const(np.float32(np.sqrt(2)))])])
    y = g.op("mul", [g.op("mul", [h, g.op("add", [e, g.const(np.float32(1))])]), g.const(np.float32(0.5))])
    g.outputs = [y]
    assert kernels(g) == [["matmul", "add", "div", "erf", "add", "mul", "mul"]]
    check_graph(g, [rand(2, 3, 8)])


def test_epilogue_stores_a_value_once_not_also_permuted():
    """An epilogue value needed outside the group is stored as it is; a
    transpose of it is read through by its consumer, not stored a second time."""
    g = Graph()
    x = g.add_input("x", "float32", (6, 8))
    r = g.op("relu", [g.op("matmul", [x, g.const(rand(8, 5, seed=1))])])
    g.outputs = [g.op("reduce_sum", [r], {"axes": (0,), "keepdims": False}),
                 g.op("exp", [g.op("transpose", [r], {"perm": (1, 0)})])]
    ks = kernels(g)
    assert ["matmul", "relu"] in ks and not any("matmul" in k and "transpose" in k for k in ks), ks
    check_graph(g, [rand(6, 8)])


def test_decomposed_layer_norm_is_one_kernel():
    g = Graph()
    x = g.add_input("x", "float32", (2, 3, 16))
    mean = g.op("reduce_mean", [x], {"axes": (2,), "keepdims": True})
    d = g.op("sub", [x, mean])
    var = g.op("reduce_mean", [g.op("pow", [d, g.const(np.float32(2))])], {"axes": (2,), "keepdims": True})
    s = g.op("sqrt", [g.op("add", [var, g.const(np.float32(1e-5))])])
    y = g.op("add", [g.op("mul", [g.op("div", [d, s]), g.const(rand(16, seed=1))]), g.const(rand(16, seed=2))])
    g.outputs = [y]
    assert kernels(g) == [["normalize", "mul", "add"]]
    check_graph(g, [rand(2, 3, 16)], atol=1e-5)


def test_softmax_takes_a_broadcast_prologue_and_pooling_an_activation():
    g = Graph()
    x = g.add_input("x", "float32", (2, 4, 6, 6))
    mask = g.const(rand(1, 1, 1, 6, seed=1))
    s = g.op("softmax", [g.op("add", [g.op("mul", [x, g.const(np.float32(0.5))]), mask])], {"axes": (3,)})
    p = g.op("max_pool", [s], {"kernel": [2, 2], "strides": [2, 2], "dilations": [1, 1], "pads": [0, 0, 0, 0]})
    g.outputs = [g.op("relu", [g.op("sub", [p, g.const(np.float32(0.2))])])]
    assert kernels(g) == [["mul", "add", "softmax"], ["max_pool", "sub", "relu"]]
    check_graph(g, [rand(2, 4, 6, 6)])


# ------------------------------------------------------------- remaps
def test_transposes_are_index_remaps_not_copies():
    """Attention-style head split: matmul -> reshape -> transpose is stored
    permuted by the matmul's kernel, and a transpose feeding a matmul is read
    through; no transpose kernel is left."""
    g = Graph()
    x = g.add_input("x", "float32", (1, 6, 8))
    q = g.op("add", [g.op("matmul", [x, g.const(rand(8, 8, seed=1))]), g.const(rand(8, seed=2))])
    q = g.op("transpose", [g.op("reshape", [q, g.const(np.array([1, 6, 2, 4], np.int64))])], {"perm": (0, 2, 1, 3)})
    kt = g.op("transpose", [g.op("reshape", [x, g.const(np.array([1, 6, 2, 4], np.int64))])], {"perm": (0, 2, 3, 1)})
    scores = g.op("matmul", [q, kt])
    g.outputs = [scores]
    ks = kernels(g)
    assert ks == [["matmul", "add", "reshape", "transpose"], ["transpose", "reshape", "matmul"]] or \
        ks == [["matmul", "add", "reshape", "transpose"], ["transpose", "matmul"]], ks
    check_graph(g, [rand(1, 6, 8)])


def test_reshape_index_matches_numpy():
    for src, dst in [((2, 12), (2, 3, 4)), ((6, 4), (3, 8)), ((1, 6, 1), (2, 3)), ((4, 1, 6), (24,)),
                     ((2, 3, 4), (4, 6)), ((), (1, 1))]:
        a = np.arange(int(np.prod(src))).reshape(src)
        b = a.reshape(dst)
        for idx in np.ndindex(*src):
            assert b[tuple(reshape_index(list(idx), src, dst))] == a[idx]


# ------------------------------------------------------- tricky cases
def test_value_used_by_two_fused_groups_is_computed_once():
    g = Graph()
    x = g.add_input("x", "float32", (4, 8))
    a = g.op("exp", [g.op("mul", [x, g.const(np.float32(0.1))])])
    b = g.op("relu", [g.op("matmul", [a, g.const(rand(8, 8, seed=1))])])
    c = g.op("mul", [g.op("reduce_sum", [a], {"axes": (1,), "keepdims": True}), g.const(np.float32(2))])
    g.outputs = [b, c]
    ks = kernels(g)
    assert sum(k.count("exp") for k in ks) == 1, ks     # not recomputed by either consumer
    assert ["mul", "exp"] in ks
    check_graph(g, [rand(4, 8)])


def test_graph_outputs_inside_a_group_are_written():
    g = Graph()
    x = g.add_input("x", "float32", (3, 4))
    m = g.op("matmul", [x, g.const(rand(4, 4, seed=1))])
    h = g.op("add", [m, g.const(rand(4, seed=2))])
    y = g.op("tanh", [h])
    g.outputs = [y, h, m]          # the anchor's result, a middle value and the end of the epilogue
    assert kernels(g) == [["matmul", "add", "tanh"]]
    check_graph(g, [rand(3, 4)])


def test_broadcast_shapes_inside_groups():
    g = Graph()
    x = g.add_input("x", "float32", (2, 3, 4))
    y = g.add_input("y", "float32", (3, 1))
    a = g.op("add", [x, y])                                   # [2,3,4]
    b = g.op("mul", [a, g.const(rand(4, seed=1))])           # [2,3,4]
    c = g.op("sub", [g.const(rand(1, 3, 1, seed=2)), b])
    t = g.op("exp", [y])                                      # [3,1]: a smaller domain, its own kernel
    g.outputs = [g.op("max", [c, t])]
    ks = kernels(g)
    assert ["exp"] in ks and len(ks) == 2, ks
    check_graph(g, [rand(2, 3, 4), rand(3, 1)])


def test_no_cycle_between_groups():
    """The add reads the matmul's result and a reduction of it: putting it in
    the matmul's epilogue would need the reduction (another kernel) inside."""
    g = Graph()
    x = g.add_input("x", "float32", (4, 6))
    m = g.op("matmul", [x, g.const(rand(6, 6, seed=1))])
    r = g.op("reduce_max", [m], {"axes": (1,), "keepdims": True})
    y = g.op("sub", [m, r])
    g.outputs = [y]
    out, _ = analyze(g.copy(), Options(check=True))
    assert len([n for n in out.nodes if n.opdef.kind != "view"]) == 3
    check_graph(g, [rand(4, 6)])


def test_in_place_only_over_a_dying_value():
    """Two elementwise kernels read t: the first must not overwrite it (t is
    still live), the last one may."""
    g = Graph()
    x = g.add_input("x", "float32", (4, 6))
    t = g.op("transpose", [g.op("exp", [x])], {"perm": (1, 0)})   # read by two kernels: stays its own
    a = g.op("tanh", [t])
    b = g.op("mul", [t, g.const(np.float32(3))])
    g.outputs = [g.op("reduce_sum", [a], {"axes": (1,), "keepdims": False}),
                 g.op("reduce_sum", [b], {"axes": (0,), "keepdims": False})]
    opt, prog = analyze(g.copy(), Options(check=True, fuse=False))
    plan = prog.memory
    by_name = {v.name: v for n in opt.nodes for v in n.outputs}
    first, last = sorted((by_name[a.name], by_name[b.name]), key=lambda v: opt.nodes.index(v.producer))
    tv = by_name[t.name]
    assert first not in plan.inplace and plan.inplace.get(last) is not None
    assert plan.offsets[first] != plan.offsets[tv]
    check_graph(g, [rand(4, 6)])


def test_fused_printer_names_onnx_nodes():
    g = Graph()
    x = g.add_input("x", "float32", (2, 4))
    y = g.op("relu", [g.op("matmul", [x, g.const(rand(4, 4))], source="onnx MatMul_0")], source="onnx Relu_1")
    g.outputs = [y]
    text = describe_kernels(optimize(g, Options()))
    assert "kernel fused_matmul_relu_0" in text and "onnx MatMul_0" in text and "onnx Relu_1" in text


# ------------------------------------------------------------ properties
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=12))
def test_random_graphs_fused_graph_interprets_the_same(case):
    g, feeds = case
    want = interpret(g.copy(), feeds)
    fused = optimize(g.copy(), Options(check=True))
    for a, b in zip(interpret(fused, feeds), want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=8))
def test_random_graphs_fused_compiled_equals_interpreted(case):
    g, feeds = case
    want = interpret(g.copy(), feeds)
    for a, b in zip(run_compiled(g, feeds), want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fuse", [True, False])
def test_options_switch_fusion(fuse):
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    g.outputs = [g.op("exp", [g.op("neg", [x])])]
    assert len(kernels(g, fuse=fuse)) == (1 if fuse else 2)


# ------------------------------------------------- every anchor, fused
_WINDOW = {"strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 1, 1]}
ANCHOR_CASES = {   # op -> (input shapes (a constant after the first), attributes)
    "matmul": ([(2, 3, 5), (5, 4)], {}),
    "conv": ([(1, 2, 5, 5), (3, 2, 3, 3), (3,)], _WINDOW),
    "conv_transpose": ([(1, 2, 3, 3), (2, 3, 3, 3), (3,)],
                       {"strides": [2, 2], "dilations": [1, 1], "pads": [0, 0, 0, 0], "output_padding": [1, 1]}),
    "max_pool": ([(1, 2, 5, 5)], {"kernel": [3, 3], **_WINDOW}),
    "max_pool_grad": ([(1, 2, 5, 5), (1, 2, 2, 2)],
                      {"kernel": [2, 2], "strides": [2, 2], "dilations": [1, 1], "pads": [0, 0, 0, 0]}),
    "avg_pool": ([(1, 2, 5, 5)], {"kernel": [3, 3], **_WINDOW}),
    "softmax": ([(3, 4, 5)], {"axes": (2,)}),
    "log_softmax": ([(3, 4, 5)], {"axes": (1, 2)}),
    "normalize": ([(3, 4, 5)], {"axis": 1, "epsilon": 1e-5}),
    **{op: ([(3, 4, 5)], {"axes": (0, 2), "keepdims": True}) for op in (
        "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_l1", "reduce_l2",
        "reduce_log_sum_exp", "reduce_sum_square")},
    "reduce_log_sum": ([(3, 4, 5)], {"axes": (1,), "keepdims": False}),
}


def test_every_anchor_op_has_a_fusion_case():
    """An op of kind reduce or out_fusable gets a fused epilogue: its lowering
    must mark accumulating stores partial (see ir/ops/base.py). Add a case
    for a new one to ANCHOR_CASES."""
    from dlc.ir import REGISTRY
    anchors = {n for n, op in REGISTRY.items() if op.kind in ("reduce", "out_fusable")}
    assert anchors == set(ANCHOR_CASES)


@pytest.mark.parametrize("op", sorted(ANCHOR_CASES))
def test_anchor_with_prologue_and_epilogue(op):
    shapes, attrs = ANCHOR_CASES[op]
    g = Graph()
    x = g.add_input("x", "float32", shapes[0])
    first = g.op("abs", [x]) if op == "reduce_log_sum" else g.op("mul", [x, g.const(np.float32(0.75))])
    ins = [first] + [g.const(rand(*s, seed=i)) for i, s in enumerate(shapes[1:])]
    a = g.op(op, ins, attrs)
    g.outputs = [g.op("tanh", [g.op("add", [g.op("mul", [a, g.const(np.float32(1.5))]), g.const(np.float32(-0.25))])])]
    ks = kernels(g)   # (conv and matmul fold the multiply, conv also the add, into their weights)
    assert any(op in k and "tanh" in k for k in ks), ks
    prologue = [k for k in ks if op in k and k.index(op) > 0]
    assert bool(prologue) == (a.producer.opdef.kind == "reduce"), ks   # reduce anchors take it in
    check_graph(g, [rand(*shapes[0], seed=5, low=0.1)], rtol=1e-4, atol=1e-5)


def test_layer_norm_pattern_left_alone_when_its_parts_are_needed():
    g = Graph()
    x = g.add_input("x", "float32", (2, 8))
    mean = g.op("reduce_mean", [x], {"axes": (1,), "keepdims": True})
    d = g.op("sub", [x, mean])
    var = g.op("reduce_mean", [g.op("mul", [d, d])], {"axes": (1,), "keepdims": True})
    y = g.op("div", [d, g.op("sqrt", [g.op("add", [var, g.const(np.float32(1e-5))])])])
    g.outputs = [y, mean]            # the mean is an output too: a normalize would compute it again
    assert "normalize" not in sum(kernels(g), [])
    g.outputs = [y]
    assert "normalize" in sum(kernels(g), [])
    check_graph(g, [rand(2, 8)], atol=1e-5)
