"""Autodiff: every op with a gradient rule against float64 central
differences (through the reference interpreter), plus the driver's own
behaviour (fan-out accumulation, broadcasting, unreachable inputs, errors)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from dlc.ir import REGISTRY, Graph, UnsupportedError
from dlc.ir.autodiff import grad, gradients
from dlc.ir.interpreter import interpret
from dlc.ir.verify import verify

F64 = np.float64


@dataclass
class C:
    """A constant input of a case (not differentiated)."""
    value: np.ndarray


@dataclass
class Case:
    inputs: list
    attrs: dict = field(default_factory=dict)
    id: str = ""


def u(*shape, low=-2.0, high=2.0, seed=0, away=0.0):
    """Uniform float64 values; `away` keeps them that far from 0 (kinks)."""
    x = np.random.default_rng(seed).uniform(low, high, shape)
    if away:
        x = np.sign(x) * (away + np.abs(x))
    return x


def i64(*v):
    return C(np.array(v, np.int64))


UNARY_AWAY = ["copy", "neg", "abs", "sign", "exp", "erf", "sin", "cos", "tanh", "sinh", "cosh", "atan", "asinh",
              "sigmoid", "relu", "softplus", "softsign", "mish", "elu", "selu"]
CASES: dict[str, list[Case]] = {name: [Case([u(2, 3, away=0.1)])] for name in UNARY_AWAY}
CASES.update({
    "floor": [Case([u(2, 3) + 0.05])], "ceil": [Case([u(2, 3) + 0.05])], "round": [Case([u(2, 3) + 0.05])],
    "tan": [Case([u(2, 3, low=-1.2, high=1.2)])],
    "sqrt": [Case([u(2, 3, low=0.5, high=2)])], "log": [Case([u(2, 3, low=0.5, high=2)])],
    "reciprocal": [Case([u(2, 3, away=0.5)])],
    "asin": [Case([u(2, 3, low=-0.8, high=0.8)])], "acos": [Case([u(2, 3, low=-0.8, high=0.8)])],
    "atanh": [Case([u(2, 3, low=-0.8, high=0.8)])], "acosh": [Case([u(2, 3, low=1.2, high=3)])],
    "cast": [Case([u(2, 3)], {"to": np.dtype("float64")})],
    "leaky_relu": [Case([u(2, 3, away=0.1)], {"alpha": 0.1})],
    "celu": [Case([u(2, 3, away=0.1)], {"alpha": 0.7})],
    "hard_sigmoid": [Case([np.array([-3.0, -1.0, 0.3, 1.9, 2.6, 4.0])])],
    "hard_swish": [Case([np.array([-4.0, -2.5, -0.4, 0.7, 2.9, 3.2])])],
    "thresholded_relu": [Case([np.array([-1.0, 0.2, 0.7, 1.5])], {"alpha": 0.5})],
    "shrink": [Case([np.array([-1.0, -0.2, 0.3, 0.9])], {"lambd": 0.5, "bias": 0.1})],
    "gelu": [Case([u(2, 3)]), Case([u(2, 3)], {"approximate": "tanh"}, "tanh")],
    "add": [Case([u(2, 3), u(3, seed=1)]), Case([u(2, 1), u(1, 3, seed=1)], id="both")],
    "sub": [Case([u(2, 3), u(2, 3, seed=1)]), Case([u(3), u(2, 3, seed=1)], id="bcast")],
    "mul": [Case([u(2, 3), u(1, 3, seed=1)])],
    "div": [Case([u(2, 3), u(3, seed=1, away=0.5)])],
    "pow": [Case([u(2, 3, low=0.5, high=2), u(2, 3, seed=1)]), Case([u(2, 3, low=0.5, high=2), C(np.array(2.0))],
                                                                    id="square")],
    "min": [Case([u(2, 3), u(2, 3, seed=1)])], "max": [Case([u(2, 3), u(3, seed=1)])],
    "prelu": [Case([u(2, 3, away=0.1), u(3, seed=1)])],
    "where": [Case([C(np.array([[True, False, True], [False, False, True]])), u(2, 3), u(3, seed=1)])],
    "matmul": [Case([u(2, 3), u(3, 4, seed=1)]), Case([u(2, 2, 3), u(3, 4, seed=1)], id="seq"),
               Case([u(3, 4), u(2, 4, 5, seed=1)], id="bcast_a")],
    "softmax": [Case([u(2, 4)], {"axes": (1,)}), Case([u(2, 3, 4)], {"axes": (1, 2)}, "2axes")],
    "log_softmax": [Case([u(2, 4)], {"axes": (1,)}), Case([u(3, 2)], {"axes": (0,)}, "axis0")],
    "normalize": [Case([u(2, 3, 4)], {"axis": 1, "epsilon": 1e-5}), Case([u(2, 5)], {"axis": 1, "epsilon": 0.1},
                                                                            "eps")],
    "reshape": [Case([u(2, 6), i64(3, 4)])],
    "flatten": [Case([u(2, 3, 4)], {"axis": 2})],
    "squeeze": [Case([u(2, 1, 3)], {"axes": (1,)})],
    "unsqueeze": [Case([u(2, 3)], {"axes": (0, 3)})],
    "transpose": [Case([u(2, 3, 4)], {"perm": (2, 0, 1)})],
    "expand": [Case([u(3, 1), i64(2, 3, 4)])],
    "concat": [Case([u(2, 3), u(2, 2, seed=1)], {"axis": 1}), Case([u(2, 3)], {"axis": 0}, "one")],
    "split": [Case([u(2, 5)], {"axis": 1, "split": (2, 3), "num_outputs": 2})],
    "slice": [Case([u(4, 5), i64(1, 0), i64(3, 5), i64(0, 1), i64(1, 2)]),
              Case([u(4, 5), i64(3), i64(-10), i64(1), i64(-2)], id="reverse")],
    "gather": [Case([u(5, 3), C(np.array([[0, 2], [2, -1]], np.int64))], {"axis": 0}),
               Case([u(2, 4), C(np.array([3, 1, 3], np.int32))], {"axis": 1}, "axis1")],
    "tile": [Case([u(2, 3), i64(2, 1)]), Case([u(2, 3), i64(1, 3)], id="cols")],
    "pad": [Case([u(2, 3), i64(1, 0, 0, 2), u(seed=2)], {"mode": "constant"}),
            Case([u(3, 4), i64(-1, 1, 1, -2)], {"mode": "constant"}, "crop")],
    "dropout": [Case([u(3, 4), C(np.array(5, np.int64))], {"ratio": 0.3, "seed": 7})],
    "conv": [
        Case([u(1, 2, 5, 5), u(3, 2, 3, 3, seed=1), u(3, seed=2)],
             dict(strides=[1, 1], dilations=[1, 1], pads=[1, 1, 1, 1])),
        Case([u(2, 4, 6, 5), u(4, 2, 3, 2, seed=1)],
             dict(strides=[2, 2], dilations=[1, 1], pads=[1, 0, 0, 1], group=2), "group_stride"),
        Case([u(2, 2, 9), u(3, 2, 3, seed=1)], dict(strides=[2], dilations=[2], pads=[0, 0]), "1d_dilated"),
        Case([u(1, 2, 5, 4), u(2, 2, 3, 3, seed=1)],
             dict(strides=[2, 1], dilations=[1, 1], pads=[0, 0, 0, 0], pad_mode="same_upper"), "same"),
        Case([u(2, 1, 6, 5), u(3, 1, 3, 3, seed=1), u(3, seed=2)],
             dict(strides=[2, 1], dilations=[1, 1], pads=[1, 0, 1, 1]), "few_taps"),   # a product per sample
    ],
    "conv_transpose": [
        Case([u(1, 2, 3, 3), u(2, 3, 3, 3, seed=1), u(3, seed=2)],
             dict(strides=[2, 2], dilations=[1, 1], pads=[1, 1, 1, 1], output_padding=[1, 0])),
        Case([u(2, 4, 3, 2), u(4, 1, 2, 3, seed=1)],
             dict(strides=[1, 2], dilations=[1, 1], pads=[0, 1, 0, 0], output_padding=[0, 0], group=2), "group"),
        Case([u(1, 2, 4), u(2, 2, 3, seed=1)],
             dict(strides=[3], dilations=[2], pads=[0, 0], output_padding=[0], output_shape=[12]), "1d_shape"),
    ],
    "im2col": [
        Case([u(2, 2, 4, 3)], dict(kernel=[2, 2], strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0])),
        Case([u(1, 2, 5, 4)], dict(kernel=[3, 2], strides=[2, 1], dilations=[1, 2], pads=[1, 0, 1, 1]), "padded"),
    ],
    "col2im": [
        Case([u(6, 8)], dict(shape=[1, 2, 4, 3], kernel=[2, 2], strides=[1, 1], dilations=[1, 1],
                             pads=[0, 0, 0, 0])),
        Case([u(6, 6)], dict(shape=[1, 2, 5, 4], kernel=[3, 1], strides=[2, 2], dilations=[1, 1],
                             pads=[1, 1, 0, 0]), "padded"),
    ],
    "max_pool": [
        Case([u(1, 2, 5, 5)], dict(kernel=[2, 2], strides=[2, 2], dilations=[1, 1], pads=[0, 0, 0, 0])),
        Case([u(2, 1, 5, 4)], dict(kernel=[3, 3], strides=[2, 1], dilations=[1, 1], pads=[1, 1, 1, 1]), "overlap"),
        Case([u(1, 2, 5, 5)], dict(kernel=[2, 2], strides=[2, 2], dilations=[1, 1], pads=[0, 0, 0, 0],
                                   ceil_mode=True), "ceil"),
    ],
    "avg_pool": [
        Case([u(1, 2, 4, 4)], dict(kernel=[2, 2], strides=[2, 2], dilations=[1, 1], pads=[0, 0, 0, 0])),
        Case([u(1, 2, 5, 5)], dict(kernel=[3, 3], strides=[2, 2], dilations=[1, 1], pads=[1, 1, 1, 1],
                                   count_include_pad=True), "pad_counted"),
        Case([u(2, 1, 5, 5)], dict(kernel=[3, 2], strides=[2, 2], dilations=[1, 1], pads=[1, 0, 1, 0],
                                   ceil_mode=True), "ceil"),
    ],
})
for _r in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_l1", "reduce_l2", "reduce_sum_square",
           "reduce_log_sum_exp"):
    CASES[_r] = [Case([u(2, 3, 4, away=0.1)], {"axes": (0, 2), "keepdims": False}),
                 Case([u(2, 3, 4, away=0.1, seed=3)], {"axes": (1,), "keepdims": True}, "keep")]
CASES["reduce_prod"] = [Case([u(2, 3, away=0.3)], {"axes": (1,), "keepdims": False})]
CASES["reduce_log_sum"] = [Case([u(2, 3, low=0.5, high=2)], {"axes": (0, 1), "keepdims": True})]


def _params():
    for op, cases in sorted(CASES.items()):
        for i, c in enumerate(cases):
            yield pytest.param(op, c, id=f"{op}-{c.id or i}")


def _forward(op: str, case: Case):
    """A float64 graph: the op on the case's inputs, and a scalar loss that
    weighs each float output element with a fixed random number."""
    g = Graph(op)
    vals, wrt, arrays = [], [], []
    for a in case.inputs:
        if isinstance(a, C):
            vals.append(g.const(a.value))
        else:
            v = g.add_input(f"x{len(vals)}", F64, a.shape)
            vals.append(v)
            wrt.append(v)
            arrays.append(a)
    outs = g.op(op, vals, case.attrs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = None
    for j, y in enumerate(outs):
        if y.dtype != F64:
            continue
        r = g.const(np.random.default_rng(10 + j).uniform(0.5, 1.5, y.shape))
        term = g.op("reduce_sum", [g.op("mul", [y, r])], {"axes": tuple(range(y.rank)), "keepdims": False})
        loss = term if loss is None else g.op("add", [loss, term])
    g.outputs = [loss]
    return g, loss, wrt, arrays


def numeric_grads(g: Graph, arrays, eps=1e-6):
    out = []
    for i, a in enumerate(arrays):
        d = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            feeds = [x.copy() for x in arrays]
            feeds[i][j] += eps
            hi = interpret(g, feeds)[0]
            feeds[i][j] -= 2 * eps
            lo = interpret(g, feeds)[0]
            d[j] = (hi - lo) / (2 * eps)
        out.append(d)
    return out


@pytest.mark.parametrize("op,case", list(_params()))
def test_vjp_matches_central_differences(op, case):
    g, loss, wrt, arrays = _forward(op, case)
    gg = verify(grad(g, loss, wrt))
    got = interpret(gg, arrays)
    np.testing.assert_allclose(got[0], interpret(g, arrays)[0], rtol=1e-12)
    for k, (analytic, numeric) in enumerate(zip(got[1:], numeric_grads(g, arrays))):
        assert analytic.shape == arrays[k].shape
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{op}: input {k}")


def test_every_op_with_a_gradient_rule_is_checked():
    """The registry test of gradients: an op that gets a vjp gets a case here."""
    missing = sorted(n for n, op in REGISTRY.items() if op.vjp is not None and n not in CASES)
    assert not missing, f"ops with a vjp but no central-difference case: {missing}"


# ------------------------------------------------------------ the driver
def test_fan_out_accumulates_and_unreached_inputs_get_zeros():
    g = Graph()
    x = g.add_input("x", F64, (3,))
    z = g.add_input("z", F64, (3,))
    y = g.op("mul", [x, x])                               # x used twice, and again below
    s = g.op("add", [y, g.op("exp", [x])])
    loss = g.op("reduce_sum", [s], {"axes": (0,), "keepdims": False})
    g.outputs = [loss]
    xv = np.array([0.5, -1.0, 2.0])
    _, dx, dz = interpret(grad(g, loss, [x, z]), [xv, np.zeros(3)])
    np.testing.assert_allclose(dx, 2 * xv + np.exp(xv))
    np.testing.assert_array_equal(dz, 0)
    assert gradients(g, loss, [z]) == [None]


def test_integer_paths_carry_no_gradient():
    g = Graph()
    x = g.add_input("x", F64, (2, 3))
    i = g.op("argmax", [x], {"axis": 1, "keepdims": False})
    picked = g.op("gather", [x, i], {"axis": 1})
    loss = g.op("reduce_sum", [picked], {"axes": (0, 1), "keepdims": False})
    xv = u(2, 3)
    _, dx = interpret(grad(g, loss, [x]), [xv])
    want = np.zeros((2, 3))
    for col in xv.argmax(1):         # picked[r, k] = x[r, argmax[k]]
        want[:, col] += 1
    np.testing.assert_allclose(dx, want)


def test_missing_rule_names_the_node():
    g = Graph()
    x = g.add_input("x", F64, (4,))
    y = g.op("mod", [x, g.const(np.array(3.0))], source="onnx Mod_7")
    loss = g.op("reduce_sum", [y], {"axes": (0,), "keepdims": False})
    with pytest.raises(UnsupportedError, match="onnx Mod_7: op mod has no gradient rule"):
        gradients(g, loss, [x])


def test_backward_nodes_follow_the_forward_ones():
    g, loss, wrt, _ = _forward("conv", CASES["conv"][0])
    n_forward = len(g.nodes)
    gradients(g, loss, wrt)
    assert all(n.source.startswith("grad") for n in g.nodes[n_forward:])
    verify(g)


# ------------------------------------------------- compiled backward graphs
def _compile_and_run(g: Graph, arrays):
    from dlc.compiler import Options, build
    _, exe = build(g, Options(check=True))
    return exe.run([np.ascontiguousarray(a) for a in arrays])


@pytest.mark.parametrize("op,case", [p for p in _params() if p.values[0] in (
    "conv", "conv_transpose", "im2col", "col2im", "max_pool", "avg_pool", "slice", "gather", "dropout", "matmul",
    "softmax", "log_softmax", "normalize", "concat", "split", "tile", "pad", "reduce_max", "where", "expand")])
def test_compiled_gradient_graph_matches_interpreter(op, case):
    """The backward ops (conv_grad_weight, max_pool_grad, slice_grad, ...)
    lowered to native code agree with their numpy references."""
    g, loss, wrt, arrays = _forward(op, case)
    gg = grad(g, loss, wrt)
    want = interpret(gg, arrays)
    got = _compile_and_run(gg, arrays)
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{op}: output {k}")


def test_dropout_mask_is_seeded_and_keeps_the_expected_fraction():
    from dlc.ir.ops.dropout import dropout_mask
    m = dropout_mask((200, 100), seed=3, step=1, ratio=0.3)
    assert abs(m.mean() - 0.7) < 0.01
    assert np.array_equal(m, dropout_mask((200, 100), seed=3, step=1, ratio=0.3))
    assert not np.array_equal(m, dropout_mask((200, 100), seed=3, step=2, ratio=0.3))
    assert not np.array_equal(m, dropout_mask((200, 100), seed=4, step=1, ratio=0.3))
    assert abs(np.corrcoef(m[:, :-1].ravel(), m[:, 1:].ravel())[0, 1]) < 0.02   # neighbours independent
    g = Graph()
    x = g.add_input("x", np.float32, (200, 100))
    s = g.add_input("s", np.int64, ())
    g.outputs = [g.op("dropout", [x, s], {"ratio": 0.3, "seed": 3})]
    xv = np.ones((200, 100), np.float32)
    got = _compile_and_run(g, [xv, np.array(1, np.int64)])[0]
    np.testing.assert_allclose(got, np.where(m, 1 / 0.7, 0).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("case", CASES["conv"], ids=[c.id or str(i) for i, c in enumerate(CASES["conv"])])
def test_convs_as_matmul_keep_values_and_gradients(case):
    """The training pipeline's conv -> im2col + matmul rewrite."""
    from dlc.ir.passes.conv_matmul import convs_to_matmul
    g, loss, wrt, arrays = _forward("conv", case)
    want = interpret(grad(g, loss, wrt), arrays)
    h = convs_to_matmul(g.copy())
    assert ("conv" in [n.op for n in h.nodes]) == (case.attrs.get("group", 1) != 1)
    hl = h.outputs[0]
    got = interpret(grad(h, hl, [v for v in h.inputs]), arrays)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
