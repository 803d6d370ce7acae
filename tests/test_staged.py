"""Staged execution of graphs whose shapes depend on data (NonZero & co):
native segments around host steps, specialized per shape, matching
onnxruntime."""
import logging

import numpy as np
import pytest
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


@pytest.mark.parametrize("axis, sorted_", [(None, 1), (None, 0), (0, 1), (1, 0), (-1, 1)])
def test_unique_against_onnxruntime(axis, sorted_):
    x = np.array([[2, 1, 2, 1], [0, 1, 0, 1], [2, 1, 2, 1]], np.float32)
    attrs = {"sorted": sorted_} if axis is None else {"sorted": sorted_, "axis": axis}
    model = make_model([helper.make_node("Unique", ["x"], ["y", "first", "inverse", "counts"], **attrs)],
                       [("x", np.float32, [3, 4])], ["y", "first", "inverse", "counts"])
    check_model(model, {"x": x})


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress_against_onnxruntime(axis):
    attrs = {} if axis is None else {"axis": axis}
    model = make_model([helper.make_node("Compress", ["x", "c"], ["y"], **attrs)],
                       [("x", np.float32, [3, 4]), ("c", np.bool_, [3])], ["y"])
    for c in ([True, False, True], [False, False, False]):
        check_model(model, {"x": rand(3, 4), "c": np.array(c)})


@pytest.mark.parametrize("center", [0, 1])
def test_non_max_suppression_against_onnxruntime(center):
    rng = np.random.default_rng(5)
    boxes = rng.uniform(0, 10, (2, 12, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (2, 3, 12)).astype(np.float32)
    model = make_model([helper.make_node("NonMaxSuppression", ["b", "s", "k", "iou", "thr"], ["sel"],
                                         center_point_box=center)],
                       [("b", np.float32, [2, 12, 4]), ("s", np.float32, [2, 3, 12])], ["sel"],
                       {"k": np.array([4], np.int64), "iou": np.array([0.3], np.float32),
                        "thr": np.array([0.2], np.float32)})
    check_model(model, {"b": boxes, "s": scores})


def test_staged_model_saves_with_its_source(tmp_path):
    model = nonzero_model()
    m = dlc.compile(model)
    x = rand(3, 4, seed=2)
    want = m(x)
    m.save(tmp_path / "s.dlc")
    m2 = dlc.load(tmp_path / "s.dlc")
    for a, b in zip(m2(x), want):
        np.testing.assert_array_equal(a, b)


def shape_input_model():
    """A Reshape target and TopK's k that are graph inputs, then a Tile
    whose repeats are one too: shapes decided by input values."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Relu", ["r"], ["h"]),
             helper.make_node("TopK", ["h", "k"], ["top", "idx"], axis=-1),
             helper.make_node("Tile", ["top", "reps"], ["y"])]
    return make_model(nodes, [("x", np.float32, [4, 6]), ("shape", np.int64, [2]), ("k", np.int64, [1]),
                              ("reps", np.int64, [2])], ["y", "idx"], opset=13)


def test_inputs_that_decide_shapes_compile_per_value(caplog):
    model = shape_input_model()
    m = dlc.compile(model)
    x = rand(4, 6, seed=3)
    feeds = [{"x": x, "shape": np.array(s, np.int64), "k": np.array([k], np.int64), "reps": np.array(r, np.int64)}
             for s, k, r in (([3, 8], 2, [1, 2]), ([3, 8], 2, [1, 2]), ([2, 12], 5, [2, 1]), ([3, 8], 2, [2, 1]))]
    with caplog.at_level(logging.INFO, logger="dlc"):
        for f in feeds:
            for got, want in zip(m.run(None, f), run_ort(model, f)):
                np.testing.assert_allclose(got, want, rtol=1e-6)
                assert got.dtype == want.dtype and got.shape == want.shape
    exe = m.executable((((4, 6), (2,), (1,), (2,)), ()))
    assert isinstance(exe, StagedExecutable)
    assert [type(s).__name__ for s in exe.stages] == ["Segment", "HostStep", "Segment"]
    # compiles: the Reshape's segment per target (2), TopK per (input shape, k) (2), the Tile's
    # segment per (input shape, repeats) (3)
    assert caplog.text.count("first call") == 3
    assert caplog.text.count("new input values") == 3 and caplog.text.count("new data-dependent sizes") == 1


def test_an_if_branch_with_a_run_time_shape_input():
    """The branches' Reshape target is an outer graph input: they compile per value."""
    then = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["o"])], "t", [],
                             [helper.make_tensor_value_info("o", 1, None)])
    orelse = helper.make_graph([helper.make_node("Neg", ["x"], ["e"]),
                                helper.make_node("Reshape", ["e", "shape"], ["o2"])], "e", [],
                               [helper.make_tensor_value_info("o2", 1, None)])
    model = make_model([helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=orelse)],
                       [("x", np.float32, [4]), ("shape", np.int64, [2]), ("c", np.bool_, [])], ["y"], opset=13)
    m, x = dlc.compile(model), rand(4)
    for c, shape in ((True, [2, 2]), (False, [1, 4]), (True, [4, 1])):
        feeds = {"x": x, "shape": np.array(shape, np.int64), "c": np.array(c)}
        np.testing.assert_array_equal(m.run(None, feeds)[0], run_ort(model, feeds)[0])


@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduction_with_run_time_axes_feeds_native_code(keepdims):
    """ONNX shape inference gives the reduction no rank (its axes are an input);
    dlc learns it from the axes' length and compiles the Sqrt after it."""
    model = make_model([helper.make_node("ReduceSumSquare", ["x", "axes"], ["s"], keepdims=keepdims),
                        helper.make_node("Sqrt", ["s"], ["y"])],
                       [("x", np.float32, [3, 4, 5]), ("axes", np.int64, [2])], ["y"], opset=18)
    m = dlc.compile(model)
    for axes in ([0, 2], [-1, 1], [1, 0]):
        feeds = {"x": rand(3, 4, 5), "axes": np.array(axes, np.int64)}
        got, want = m.run(None, feeds)[0], run_ort(model, feeds)[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_host_step_giving_another_rank_than_built_for_is_a_clear_error():
    from dlc.ir import Graph, Node
    from dlc.ir.errors import ShapeError
    from dlc.staged import _check_ranks
    g = Graph("g")
    x = g.add_input("x", np.float32, (2, 3))
    y = g.op("nonzero", [x])
    with pytest.raises(ShapeError, match=r"nonzero.*rank 1.*built for rank 2"):
        _check_ranks(y.producer, [np.zeros(4, np.int64)])
    _check_ranks(y.producer, [np.zeros((2, 4), np.int64)])
