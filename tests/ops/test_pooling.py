"""LpPool, MaxUnpool and LRN against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.util import check_model, check_op, make_model, rand


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3]),
    dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1]),
    dict(kernel_shape=[2, 2], auto_pad="SAME_UPPER"),
    dict(kernel_shape=[2, 2], dilations=[2, 2]),
])
def test_lp_pool(p, attrs):
    check_op("LpPool", {"x": rand(2, 3, 7, 6)}, dict(attrs, p=p), opset=18, rtol=1e-4, atol=1e-4)


def test_lp_pool_1d_and_3d():
    check_op("LpPool", {"x": rand(1, 2, 9)}, dict(kernel_shape=[3], p=2), opset=11)
    check_op("LpPool", {"x": rand(1, 2, 4, 5, 3)}, dict(kernel_shape=[2, 2, 2], p=2), opset=11)


@pytest.mark.parametrize("attrs", [dict(kernel_shape=[2, 2], strides=[2, 2]),
                                   dict(kernel_shape=[3, 3], strides=[3, 3])])
def test_max_pool_then_unpool(attrs):
    x = rand(1, 2, 6, 6)
    pool = helper.make_node("MaxPool", ["x"], ["v", "i"], **attrs)
    unpool = helper.make_node("MaxUnpool", ["v", "i"], ["y"], **attrs)
    check_model(make_model([pool, unpool], [("x", np.float32, [1, 2, 6, 6])], ["y"], opset=11), {"x": x})


def test_max_unpool_with_a_constant_output_shape():
    v, i = rand(1, 1, 2, 2), np.array([[[[0, 7], [13, 15]]]], np.int64)
    check_op("MaxUnpool", {"v": v, "i": i, "s": np.array([1, 1, 5, 4], np.int64)},
             dict(kernel_shape=[2, 2], strides=[2, 2]), constants=["s"], opset=11)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_lrn(size):
    # onnxruntime: odd sizes only; the onnx reference for the rest (it loops over the batch dim
    # where it means the channels, so N == C here)
    ref = "ort" if size % 2 else "onnx"
    check_op("LRN", {"x": rand(6, 6, 3, 4)}, dict(size=size, alpha=1e-3, beta=0.6, bias=1.5), opset=13,
             reference=ref)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_global_lp_pool(p):
    check_op("GlobalLpPool", {"x": rand(2, 3, 4, 5)}, {"p": p}, rtol=1e-4, atol=1e-5)
