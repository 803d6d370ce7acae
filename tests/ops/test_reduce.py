"""Reductions against onnxruntime: every Reduce op, axes as attribute and
as input, keepdims, noop_with_empty_axes, dtypes, empty reductions."""
import numpy as np
import pytest

from tests.util import check_op, rand

OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]


def axes_input_since(op):
    return 13 if op == "ReduceSum" else 18


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axes", [[0], [-1], [0, 2], [1, 0, 2], None])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_axes(op, axes, keepdims):
    x = rand(2, 3, 4, low=0.5, high=1.5)
    # the newest opset, axes as an input
    inputs = {"x": x} if axes is None else {"x": x, "axes": np.array(axes, np.int64)}
    check_op(op, inputs, {"keepdims": keepdims}, constants=["axes"])
    # an opset where axes is an attribute
    attrs = {"keepdims": keepdims} | ({} if axes is None else {"axes": axes})
    check_op(op, {"x": x}, attrs, opset=axes_input_since(op) - 1)


@pytest.mark.parametrize("op", OPS)
def test_noop_with_empty_axes(op):
    check_op(op, {"x": rand(2, 3, low=0.5, high=1.5)}, {"noop_with_empty_axes": 1}, opset=18)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
def test_reduce_dtypes(op, dtype):
    x = rand(3, 5, dtype=dtype, low=-4, high=4)
    check_op(op, {"x": x, "axes": np.array([1], np.int64)}, constants=["axes"])


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMean", "ReduceProd", "ReduceLogSumExp"])
def test_reduce_over_empty_axis(op):
    x = np.zeros((3, 0), np.float32)
    check_op(op, {"x": x, "axes": np.array([1], np.int64)}, constants=["axes"])


def test_reduce_size_one_and_long_rows():
    check_op("ReduceSum", {"x": rand(1, 1, 1)}, {"keepdims": 0}, opset=11)
    check_op("ReduceMean", {"x": rand(2, 4097)}, {"axes": [1]}, opset=11)   # accumulation error stays small
    check_op("ReduceLogSumExp", {"x": rand(3, 50, low=80, high=100)}, {"axes": [1]}, opset=13)   # no overflow
