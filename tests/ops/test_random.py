"""Random ops: no other generator agrees with dlc's (a counter-based hash,
fixed per seed), so these check shapes, dtypes, determinism per seed, that
the kernel reproduces the numpy reference bit for bit, and the statistics."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from tests.util import make_model, rand, run_interpreter


def _run(nodes, inputs, outputs, feeds, opset=22):
    model = make_model(nodes, inputs, outputs, opset=opset)
    got = dlc.compile(model).run(None, feeds)
    for g, w in zip(got, run_interpreter(model, feeds)):   # kernel == numpy reference, exactly
        np.testing.assert_array_equal(g, w)
    return got


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16])
def test_random_uniform(dtype):
    node = helper.make_node("RandomUniform", [], ["y"], shape=[200, 300], low=-2.0, high=3.0, seed=7.0, dtype=dtype)
    y, = _run([node], [], ["y"], {})
    assert y.shape == (200, 300) and y.dtype == helper.tensor_dtype_to_np_dtype(dtype)
    assert y.min() >= -2 and y.max() <= 3
    assert abs(y.astype(np.float64).mean() - 0.5) < 0.03 and abs(y.astype(np.float64).std() - 5 / 12 ** 0.5) < 0.03


def test_random_normal_like_and_seeds():
    x = rand(100, 500)
    nodes = [helper.make_node("RandomNormalLike", ["x"], ["a"], mean=1.0, scale=2.0, seed=3.0),
             helper.make_node("RandomNormalLike", ["x"], ["b"], mean=1.0, scale=2.0, seed=3.0),
             helper.make_node("RandomNormalLike", ["x"], ["c"], mean=1.0, scale=2.0, seed=4.0)]
    a, b, c = _run(nodes, [("x", np.float32, [100, 500])], ["a", "b", "c"], {"x": x})
    np.testing.assert_array_equal(a, b)            # one seed, one stream
    assert not np.array_equal(a, c)
    assert abs(a.mean() - 1) < 0.05 and abs(a.std() - 2) < 0.05


def test_bernoulli():
    p = np.full((300, 300), 0.3, np.float32)
    y, = _run([helper.make_node("Bernoulli", ["p"], ["y"], seed=1.0)], [("p", np.float32, [300, 300])], ["y"],
              {"p": p})
    assert set(np.unique(y)) <= {0.0, 1.0} and abs(y.mean() - 0.3) < 0.01


def test_multinomial():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.0, 0.5]], np.float32) + 1e-30)
    node = helper.make_node("Multinomial", ["x"], ["y"], sample_size=4000, seed=2.0)
    y, = _run([node], [("x", np.float32, [2, 3])], ["y"], {"x": logits}, opset=15)
    assert y.shape == (2, 4000) and y.dtype == np.int32
    np.testing.assert_allclose(np.bincount(y[0], minlength=3) / 4000, [0.1, 0.6, 0.3], atol=0.03)
    assert not np.any(y[1] == 1)


@pytest.mark.parametrize("ratio", [0.0, 0.25])
@pytest.mark.parametrize("training", [True, False])
def test_training_dropout(ratio, training):
    x = rand(200, 300, low=1, high=2)
    node = helper.make_node("Dropout", ["x", "r", "t"], ["y", "m"], seed=5)
    y, m = _run([node], [("x", np.float32, [200, 300]), ("r", np.float32, []), ("t", np.bool_, [])], ["y", "m"],
                {"x": x, "r": np.array(ratio, np.float32), "t": np.array(training)})
    if not training or ratio == 0:
        np.testing.assert_array_equal(y, x)
        assert m.all()
    else:
        assert abs(1 - m.mean() - ratio) < 0.01
        np.testing.assert_allclose(y[m], x[m] / (1 - ratio), rtol=1e-6)
        assert not y[~m].any()
