"""The ai.onnx.preview.training ops: the optimizers (Adagrad, Momentum,
Adam) against the onnx reference evaluator (onnxruntime has no kernels for
them), Gradient against the analytic derivative and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import dlc
from tests.util import check_model, make_model, rand

DOMAIN = "ai.onnx.preview.training"


def _model(op, n_groups, per, attrs):
    letters = {"Adagrad": "XGH", "Momentum": "XGV", "Adam": "XGVH"}[op]
    names = ["R", "T"] + [f"{k}{i}" for k in letters for i in range(n_groups)]
    outs = [f"{k}{i}_new" for k in letters.replace("G", "") for i in range(n_groups)]
    node = helper.make_node(op, names, outs, domain=DOMAIN, **attrs)
    inputs = [("R", np.float32, []), ("T", np.int64, [])] + [(nm, np.float32, [3, 2]) for nm in names[2:]]
    model = make_model([node], inputs, outs, opset=17)
    model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return model, names


def _feeds(names, t):
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(t, np.int64)}
    for i, nm in enumerate(names[2:]):
        feeds[nm] = rand(3, 2, seed=i, low=0.1 if nm[0] == "H" else -1, high=1)
    return feeds


@pytest.mark.parametrize("t", [0, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_adagrad(t, groups):
    model, names = _model("Adagrad", groups, 3, dict(decay_factor=0.1, epsilon=1e-6, norm_coefficient=0.01))
    check_model(model, _feeds(names, t), reference="onnx", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("t", [0, 3])
@pytest.mark.parametrize("mode", ["standard", "nesterov"])
def test_momentum(t, mode):
    model, names = _model("Momentum", 2, 3, dict(alpha=0.9, beta=0.5, mode=mode, norm_coefficient=0.01))
    check_model(model, _feeds(names, t), reference="onnx", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("t", [0, 3])
def test_adam(t):
    model, names = _model("Adam", 2, 4, dict(alpha=0.8, beta=0.95, epsilon=1e-6, norm_coefficient=0.01,
                                             norm_coefficient_post=0.02))
    check_model(model, _feeds(names, t), reference="onnx", rtol=1e-5, atol=1e-6)


def _gradient_model(xs, y, n=4):
    """y = sum(tanh(x @ w) * x[:, :1]); Gradient of it with respect to xs."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
             helper.make_node("Slice", ["x", "zero", "one", "one"], ["x0"]),
             helper.make_node("Mul", ["t", "x0"], ["p"]), helper.make_node("ReduceSum", ["p"], ["s"], keepdims=0),
             helper.make_node("Gradient", xs, [f"d_{x}" for x in xs], domain=DOMAIN, xs=xs, y=y)]
    consts = {"zero": np.array([0], np.int64), "one": np.array([1], np.int64)}
    model = make_model(nodes, [("x", np.float32, [n, 3]), ("w", np.float32, [3, 5])],
                       ["s"] + [f"d_{x}" for x in xs], consts, opset=17)
    model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return model


def test_gradient_matches_the_analytic_derivative_and_finite_differences():
    x, w = rand(4, 3, seed=1), rand(3, 5, seed=2)
    s, dx, dw = dlc.compile(_gradient_model(["x", "w"], "s"))(x, w)
    t = np.tanh(x.astype(np.float64) @ w)
    x0 = x[:, :1].astype(np.float64)
    want_dw = x.T @ ((1 - t * t) * x0)
    want_dx = ((1 - t * t) * x0) @ w.T
    want_dx[:, 0] += t.sum(1)
    np.testing.assert_allclose(s, (t * x0).sum(), rtol=1e-5)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-6)
    eps, x2 = 1e-3, x.astype(np.float64).copy()     # one entry by central differences
    f = lambda a: (np.tanh(a @ w) * a[:, :1]).sum()  # noqa: E731
    x2[1, 0] += eps
    up = f(x2)
    x2[1, 0] -= 2 * eps
    np.testing.assert_allclose(dx[1, 0], (up - f(x2)) / (2 * eps), rtol=1e-3)


def test_gradient_of_an_unrelated_value_is_zero_and_order_is_respected():
    model = _gradient_model(["w", "x"], "x0")
    _, dw, dx = dlc.compile(model)(rand(4, 3), rand(3, 5))
    assert not dw.any()
    np.testing.assert_array_equal(dx, np.repeat([[1, 0, 0]], 4, 0).astype(np.float32))


def test_gradient_names_a_value_computed_later():
    model = _gradient_model(["x"], "later")
    with pytest.raises(dlc.ModelError, match="'later' must be computed before the Gradient node"):
        dlc.compile(model)
