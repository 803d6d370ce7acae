"""Quantization ops against onnxruntime (or the onnx reference where it has
no kernel): QuantizeLinear / DequantizeLinear (per tensor, per axis,
blocked, float8 and 4-bit), MatMulInteger, ConvInteger, QLinearMatMul,
QLinearConv, DynamicQuantizeLinear."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tests.util import check_op, rand


def u8(*shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def i8(*shape, seed=0):
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_quantize_per_tensor(zp_dtype):
    x = rand(3, 4, low=-300, high=300)
    x[0, :2] = [2.5, -3.5]    # ties round to even
    check_op("QuantizeLinear", {"x": x, "s": np.array(2.0, np.float32), "zp": np.array(3, zp_dtype)},
             constants=["s", "zp"], opset=21)


@pytest.mark.parametrize("axis", [0, 1])
def test_quantize_and_dequantize_per_axis(axis):
    x = rand(3, 4, low=-10, high=10)
    n = x.shape[axis]
    s, zp = rand(n, low=0.05, high=0.2, seed=1), np.arange(n).astype(np.int8)
    check_op("QuantizeLinear", {"x": x, "s": s, "zp": zp}, {"axis": axis}, constants=["s", "zp"], opset=13)
    check_op("DequantizeLinear", {"q": i8(3, 4), "s": s, "zp": zp}, {"axis": axis}, constants=["s", "zp"], opset=13)


def test_quantize_and_dequantize_blocked():
    x = rand(4, 6, low=-10, high=10)
    s, zp = rand(4, 2, low=0.05, high=0.2, seed=1), np.ones((4, 2), np.uint8)
    attrs = {"axis": 1, "block_size": 3}
    check_op("QuantizeLinear", {"x": x, "s": s, "zp": zp}, attrs, constants=["s", "zp"], opset=21)
    check_op("DequantizeLinear", {"q": u8(4, 6), "s": s, "zp": zp}, attrs, constants=["s", "zp"], opset=21)


@pytest.mark.parametrize("to", [ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4, ml_dtypes.uint4])
def test_quantize_to_small_types(to):
    x = rand(2, 8, low=-600, high=600)
    check_op("QuantizeLinear", {"x": x, "s": np.array(1.5, np.float32), "zp": np.zeros((), to)},
             constants=["s", "zp"], opset=21, reference="onnx")   # onnxruntime returns no numpy arrays for them


def test_matmul_integer_with_zero_points():
    check_op("MatMulInteger", {"a": u8(3, 5), "b": u8(5, 4, seed=1), "azp": np.array(12, np.uint8),
                               "bzp": np.array(200, np.uint8)}, constants=["azp", "bzp"])


def test_conv_integer():
    check_op("ConvInteger", {"x": u8(1, 2, 5, 5), "w": u8(3, 2, 3, 3, seed=1), "xzp": np.array(7, np.uint8)},
             {"pads": [1, 1, 1, 1]}, constants=["xzp"])


def test_qlinear_matmul():
    check_op("QLinearMatMul", {"a": u8(2, 4), "as": np.array(0.05, np.float32), "azp": np.array(110, np.uint8),
                               "b": u8(4, 3, seed=1), "bs": np.array(0.02, np.float32),
                               "bzp": np.array(130, np.uint8), "ys": np.array(0.3, np.float32),
                               "yzp": np.array(120, np.uint8)},
             constants=["as", "azp", "bs", "bzp", "ys", "yzp"], opset=10)


def test_qlinear_conv_per_channel():
    check_op("QLinearConv", {"x": u8(1, 2, 5, 5), "xs": np.array(0.04, np.float32), "xzp": np.array(100, np.uint8),
                             "w": i8(3, 2, 3, 3, seed=1), "ws": np.array([0.01, 0.02, 0.03], np.float32),
                             "wzp": np.zeros(3, np.int8), "ys": np.array(0.5, np.float32),
                             "yzp": np.array(128, np.uint8), "b": np.array([10, -20, 30], np.int32)},
             {"strides": [2, 2]}, constants=["xs", "xzp", "ws", "wzp", "ys", "yzp", "b"], opset=10,
             reference="onnx")   # onnxruntime requantizes in float32 and can differ by one


def test_dynamic_quantize_linear_through_its_function():
    check_op("DynamicQuantizeLinear", {"x": rand(3, 7, low=-4, high=9)}, n_outputs=3, opset=11)
