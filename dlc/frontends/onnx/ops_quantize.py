"""Converters: quantization. QuantizeLinear, DequantizeLinear, MatMulInteger,
ConvInteger, QLinearMatMul and QLinearConv become elementwise IR ops around
an integer matmul (or a float64 conv, exact for these products), in the
order of operations of the ONNX reference, so roundings agree.
DynamicQuantizeLinear converts through its ONNX function."""
from __future__ import annotations

import numpy as np

from ...ir import dtypes
from .ops_elementwise import onnx_dtype
from .ops_linalg import matmul
from .ops_nn import _spatial_rank, _window_attrs
from .registry import converter

F32, F64, I32, I64 = (np.dtype(t) for t in ("float32", "float64", "int32", "int64"))
_INT_RANGE = {np.dtype(t): (int(dtypes.iinfo(t).min), int(dtypes.iinfo(t).max))
              for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32")}
_INT_RANGE.update({dtypes.int4: (-8, 7), dtypes.uint4: (0, 15), dtypes.int2: (-2, 1), dtypes.uint2: (0, 3)})


def _const_like(cx, value, dtype):
    return cx.const(np.array(value, dtype))


def along_axis(cx, n, v, x, axis: int, block_size: int = 0):
    """A scale or zero point shaped to broadcast against `x`: a scalar as is,
    a 1-D one along `axis`, a blocked one repeated `block_size` times along it."""
    if v.rank == 0:
        return v
    if v.static and v.numel == 1:
        return cx.reshape(v, [])
    a = axis % x.rank if x.rank else 0
    if block_size:
        if v.rank != x.rank:
            raise n.error(f"blocked quantization needs a scale of rank {x.rank}, got {list(v.shape)}")
        idx = cx.const(np.arange(x.shape[a], dtype=np.int64) // int(block_size))
        return cx.op("gather", [v, idx], axis=a)
    if v.rank != 1:
        raise n.error(f"a per-axis scale or zero point must be 1-D, got {list(v.shape)}")
    return cx.reshape(v, [-1 if d == a else 1 for d in range(x.rank)])


def _clip(cx, v, lo, hi):
    v = cx.op("max", [v, _const_like(cx, lo, v.dtype)])
    return cx.op("min", [v, _const_like(cx, hi, v.dtype)])


def _quantized_type(n, zp, default=np.uint8) -> np.dtype:
    if zp is not None:
        return zp.dtype
    od = n.attr("output_dtype", 0)
    return onnx_dtype(n, od) if od else np.dtype(default)


@converter("QuantizeLinear", since=10)
def quantize_linear(cx, n):
    x, scale, zp = n.need(0), n.need(1), n.input(2)
    axis, block = int(n.attr("axis", 1)), int(n.attr("block_size", 0) or 0)
    to = _quantized_type(n, zp)
    prec = n.attr("precision", 0)
    ct = onnx_dtype(n, prec) if prec else np.result_type(x.dtype, scale.dtype)   # numpy's x / scale
    q = cx.op("div", [cx.cast(x, ct), cx.cast(along_axis(cx, n, scale, x, axis, block), ct)])
    if to in _INT_RANGE:      # round half to even, add the zero point, saturate
        q = cx.cast(cx.op("round", [q]), I64)
        if zp is not None:
            q = cx.op("add", [q, cx.cast(along_axis(cx, n, zp, x, axis, block), I64)])
        return cx.op("cast", [_clip(cx, q, *_INT_RANGE[to])], to=to)
    if to in dtypes.FLOAT8:   # the zero point is 0 for float8
        saturate = int(n.attr("saturate", 1))
        return cx.op("cast", [q], to=to, **({"saturate": 1} if saturate else {}))
    if to == dtypes.float4_e2m1fn:
        if zp is not None:
            q = cx.op("add", [q, cx.cast(along_axis(cx, n, zp, x, axis, block), q.dtype)])
        return cx.op("cast", [q], to=to)
    raise n.error(f"cannot quantize to {to.name}")


@converter("DequantizeLinear", since=10)
def dequantize_linear(cx, n):
    x, scale, zp = n.need(0), n.need(1), n.input(2)
    axis, block = int(n.attr("axis", 1)), int(n.attr("block_size", 0) or 0)
    od = n.attr("output_dtype", 0)
    to = onnx_dtype(n, od) if od else scale.dtype
    ct = F64 if scale.dtype == F64 else F32
    dx = cx.cast(x, ct)
    if zp is not None and x.dtype not in dtypes.FLOAT8 and x.dtype != dtypes.float4_e2m1fn:
        dx = cx.op("sub", [dx, cx.cast(along_axis(cx, n, zp, x, axis, block), ct)])
    y = cx.op("mul", [dx, cx.cast(along_axis(cx, n, scale, x, axis, block), ct)])
    return cx.cast(y, to)


def _minus_zero_point(cx, v, zp, shape_zp=None):
    v = cx.cast(v, I32)
    if zp is None:
        return v
    zp = cx.cast(zp, I32)
    if shape_zp is not None:
        zp = shape_zp(zp)
    return cx.op("sub", [v, zp])


@converter("MatMulInteger", since=10)
def matmul_integer(cx, n):
    a, b, azp, bzp = n.need(0), n.need(1), n.input(2), n.input(3)

    def per_row(zp):   # a 1-D zero point of A has one value per row
        if zp.rank == 1 and zp.static and zp.numel > 1:
            return cx.reshape(zp, [-1, 1])
        return zp
    return matmul(cx, _minus_zero_point(cx, a, azp, per_row), _minus_zero_point(cx, b, bzp))


def _int_conv(cx, n, x, w, xzp, wzp, bias=None):
    """conv of (x - xzp) and (w - wzp) in float64 (exact: int8 products, a
    few million terms at most), as int32."""
    nsp = _spatial_rank(n, x)

    def per_channel(zp):   # one weight zero point per output channel
        if zp.rank == 1 and zp.static and zp.numel > 1:
            return cx.reshape(zp, [-1] + [1] * (w.rank - 1))
        return zp
    xi = _minus_zero_point(cx, x, xzp)
    wi = _minus_zero_point(cx, w, wzp, per_channel)
    y = cx.op("conv", [cx.cast(xi, F64), cx.cast(wi, F64), None if bias is None else cx.cast(bias, F64)],
              group=int(n.attr("group", 1)), **_window_attrs(n, nsp))
    return cx.cast(y, I32)


@converter("ConvInteger", since=10)
def conv_integer(cx, n):
    return _int_conv(cx, n, n.need(0), n.need(1), n.input(2), n.input(3))


def _requantize(cx, acc, factor, yzp, to, lo, hi, round_first):
    """acc (int32) * factor (+ y zero point), rounded half to even and
    saturated, in float64 as numpy promotes int32 * float32."""
    r = cx.op("mul", [cx.cast(acc, F64), cx.cast(factor, F64)])
    if yzp is not None:
        r = cx.op("add", [r, cx.cast(yzp, F64)])
    if round_first:
        r = _clip(cx, cx.op("round", [r]), lo, hi)
    else:
        r = cx.op("round", [_clip(cx, r, lo, hi)])
    return cx.op("cast", [r], to=to)


@converter("QLinearMatMul", since=10)
def qlinear_matmul(cx, n):
    a, a_s, azp, b, b_s, bzp, y_s, yzp = (n.input(i) for i in range(8))
    acc = matmul(cx, _minus_zero_point(cx, a, azp), _minus_zero_point(cx, b, bzp))
    factor = cx.op("div", [cx.op("mul", [cx.cast(a_s, F32), cx.cast(b_s, F32)]), cx.cast(y_s, F32)])
    to = yzp.dtype if yzp is not None else a.dtype
    return _requantize(cx, acc, factor, yzp, to, *_INT_RANGE[to], round_first=True)


@converter("QLinearConv", since=10)
def qlinear_conv(cx, n):
    x, x_s, xzp, w, w_s, wzp, y_s, yzp, bias = (n.input(i) for i in range(9))
    acc = _int_conv(cx, n, x, w, xzp, wzp, bias)
    w_s = cx.cast(w_s, F32)
    if w_s.rank == 1 and w_s.static and w_s.numel > 1:   # per output channel
        w_s = cx.reshape(w_s, [1, -1] + [1] * (x.rank - 2))
    factor = cx.op("div", [cx.op("mul", [cx.cast(x_s, F32), w_s]), cx.cast(y_s, F32)])
    to = yzp.dtype if yzp is not None else x.dtype
    lo, hi = (-128, 127) if to == np.dtype(np.int8) else (0, 255)
    return _requantize(cx, acc, factor, yzp, to, lo, hi, round_first=False)

