"""Indexing ops against onnxruntime: GatherElements, ScatterElements,
GatherND, ScatterND, OneHot, Trilu; out-of-range indices stop the model."""
from __future__ import annotations

import numpy as np
import pytest

from onnx import helper

import dlc
from tests.util import check_op, make_model, rand


def idx(*shape, high, seed=0, negative=True):
    rng = np.random.default_rng(seed)
    return rng.integers(-high if negative else 0, high, shape).astype(np.int64)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16])
def test_gather_elements(axis, dtype):
    data = rand(3, 4, 5, dtype=dtype, low=-9, high=9)
    shape = [3, 4, 5]
    shape[axis] = 2
    check_op("GatherElements", {"x": data, "i": idx(*shape, high=data.shape[axis])}, {"axis": axis})


def test_gather_elements_out_of_range_stops_the_model():
    node = helper.make_node("GatherElements", ["x", "i"], ["y"], name="ge", axis=0)
    model = make_model([node], [("x", np.float32, [3, 4]), ("i", np.int64, [1, 4])], ["y"])
    m = dlc.compile(model)
    with pytest.raises(dlc.ExecutionError, match="ge: index out of range"):
        m.run(None, {"x": rand(3, 4), "i": np.array([[0, 9, 1, 2]], np.int64)})


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("axis", [0, -1])
def test_scatter_elements(reduction, axis):
    data = rand(4, 5)
    shape = [4, 5]
    shape[axis] = 3
    # distinct indices per line for "none" (onnxruntime leaves the winner of duplicates unspecified)
    i = np.argsort(rand(*shape, seed=3), axis=axis).astype(np.int64) - 2 if reduction == "none" \
        else idx(*shape, high=data.shape[axis])
    check_op("ScatterElements", {"x": data, "i": i, "u": rand(*shape, seed=4)},
             {"axis": axis, "reduction": reduction}, opset=18)


@pytest.mark.parametrize("batch_dims", [0, 1])
def test_gather_nd(batch_dims):
    data = rand(2, 3, 4, dtype=np.int64, low=-50, high=50)
    i = np.stack([np.array([[1, 0], [2, 3]]), np.array([[0, 1], [1, 2]])]).astype(np.int64)   # [2, 2, 2]
    check_op("GatherND", {"x": data, "i": i if batch_dims else i[:1] % 2}, {"batch_dims": batch_dims})


@pytest.mark.parametrize("reduction", ["none", "add", "max"])
def test_scatter_nd(reduction):
    data = rand(4, 3, 2)
    i = np.array([[[1], [3]], [[0], [2]]], np.int64)          # slices: updates [2, 2, 3, 2]
    check_op("ScatterND", {"x": data, "i": i, "u": rand(2, 2, 3, 2, seed=5)}, {"reduction": reduction}, opset=18)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    i = np.array([[0, 2, -1], [5, 1, -4]], np.int64)    # 5 and -4 are out of range: an all-off line
    check_op("OneHot", {"i": i, "d": np.array(4, np.int64), "v": np.array([0.5, 3.0], np.float32)},
             {"axis": axis}, constants=["d"])


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -1, 2])
def test_trilu(upper, k):
    inputs = {"x": rand(2, 4, 5)}
    if k is not None:
        inputs["k"] = np.array(k, np.int64)     # a run-time input
    check_op("Trilu", inputs, {"upper": upper}, opset=14)


@pytest.mark.parametrize("k", [0, 1, -2])
@pytest.mark.parametrize("dtype", [None, 7])    # keep the input's type, or int64
def test_eye_like(k, dtype):
    attrs = {"k": k} if dtype is None else {"k": k, "dtype": dtype}
    check_op("EyeLike", {"x": rand(3, 5)}, attrs)


@pytest.mark.parametrize("batch_axis,time_axis", [(0, 1), (1, 0)])
def test_reverse_sequence(batch_axis, time_axis):
    x = rand(4, 4, 3)
    check_op("ReverseSequence", {"x": x, "lens": np.array([4, 0, 2, 1], np.int64)},
             {"batch_axis": batch_axis, "time_axis": time_axis})


@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter(mode):
    cache, update = rand(2, 3, 6, 4), rand(2, 3, 2, 4, seed=1)
    write = np.array([1, 5 if mode == "circular" else 4], np.int64)
    check_op("TensorScatter", {"c": cache, "u": update, "w": write}, {"mode": mode}, opset=24, reference="onnx")


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_topk(axis, largest, k, dtype):
    x = rand(5, 6, 5, dtype=dtype, low=0, high=9)     # few distinct values: ties keep the lower index first
    check_op("TopK", {"x": x, "k": np.array([k], np.int64)}, {"axis": axis, "largest": largest}, n_outputs=2,
             constants=["k"])


def test_topk_opset1_attribute():
    check_op("TopK", {"x": rand(3, 7)}, {"k": 2}, n_outputs=2, opset=9)
