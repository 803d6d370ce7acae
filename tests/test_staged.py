"""Staged execution of graphs whose shapes depend on data (NonZero & co):
native segments around host steps, specialized per shape, matching
onnxruntime."""
import logging

import numpy as np
from onnx import helper

import dlc
from dlc.staged import StagedExecutable
from tests.util import check_model, make_model, rand, run_ort


def nonzero_model():
    """y = x[nonzero(relu(x) > 0.5)] * 2 summed, plus the indices themselves
    and a reshape whose target is computed from the data-dependent count."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Greater", ["r", "half"], ["mask"]),
             helper.make_node("NonZero", ["mask"], ["idx"]),
             helper.make_node("Transpose", ["idx"], ["idx_t"], perm=[1, 0]),
             helper.make_node("Cast", ["idx"], ["idx_f"], to=1),
             helper.make_node("Mul", ["idx_f", "two"], ["scaled"]),
             helper.make_node("ReduceSum", ["scaled"], ["total"], keepdims=0),
             helper.make_node("Shape", ["idx_t"], ["n_shape"]),
             helper.make_node("Reshape", ["idx_t", "flat"], ["flat_idx"])]
    return make_model(nodes, [("x", np.float32, [3, 4])], ["idx", "total", "flat_idx", "n_shape"],
                      {"half": np.array(0.5, np.float32), "two": np.array(2.0, np.float32),
                       "flat": np.array([-1], np.int64)}, opset=13)


def test_data_dependent_shapes_match_onnxruntime():
    model = nonzero_model()
    m = dlc.compile(model)
    for seed in range(4):
        x = rand(3, 4, seed=seed)
        for got, want in zip(m(x), run_ort(model, {"x": x})):
            np.testing.assert_allclose(got, want, rtol=1e-6)
            assert got.dtype == want.dtype


def test_stages_and_per_size_cache(caplog):
    model = nonzero_model()
    m = dlc.compile(model)
    x = rand(3, 4, seed=1)
    m(x)
    exe = m.executable((((3, 4),), ()))
    assert isinstance(exe, StagedExecutable)
    kinds = [type(s).__name__ for s in exe.stages]
    assert kinds == ["Segment", "HostStep", "Segment"]
    seg = exe.stages[2]
    with caplog.at_level(logging.INFO, logger="dlc"):
        m(x)                                  # same count: no compile
        assert not caplog.records
        y = x.copy()
        y[0, 0] = 1.9 if x[0, 0] <= 0.5 else -1.0
        m(y)                                  # another count: one compile, logged
    assert len(seg.cache) == 2
    assert "new data-dependent sizes" in caplog.text


def test_nonzero_of_a_constant_folds_away():
    model = make_model([helper.make_node("NonZero", ["c"], ["i"]), helper.make_node("Cast", ["i"], ["f"], to=1),
                        helper.make_node("Add", ["f", "x"], ["y"])],
                       [("x", np.float32, [2, 3])], ["y"], {"c": np.array([[0, 1, 0], [1, 1, 0]], np.float32)})
    m = dlc.compile(model)
    assert not any(isinstance(e, StagedExecutable) for e in m._exes.values())
    check_model(model, {"x": rand(2, 3)})


def test_nonzero_op_against_onnxruntime():
    for x in (rand(2, 3, 4, dtype=np.int32, low=-1, high=1), np.zeros((3, 2), np.float32),
              np.ones((5,), bool), np.zeros((0, 3), np.float32)):
        model = make_model([helper.make_node("NonZero", ["x"], ["y"])], [("x", x.dtype, list(x.shape))], ["y"])
        check_model(model, {"x": x})


def test_staged_model_saves_with_its_source(tmp_path):
    model = nonzero_model()
    m = dlc.compile(model)
    x = rand(3, 4, seed=2)
    want = m(x)
    m.save(tmp_path / "s.dlc")
    m2 = dlc.load(tmp_path / "s.dlc")
    for a, b in zip(m2(x), want):
        np.testing.assert_array_equal(a, b)
