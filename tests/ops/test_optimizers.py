"""The ai.onnx.preview.training optimizers (Adagrad, Momentum, Adam) against
the onnx reference evaluator (onnxruntime has no kernels for them)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

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
