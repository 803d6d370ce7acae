"""More pooling: ``lp_pool`` ((sum of |x|^p over the window)^(1/p), pads
counting as zeros), ``max_unpool`` (values scattered back to the positions
MaxPool's indices name) and ``lrn`` (local response normalization across
channels). Sliding-window attributes are as in nn.py."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from .base import OPAQUE, OpDef, register
from .nn import (_check_float, _pad_for_windows, _pool_shape, _tap_loops, _taps, _window_positions, _windows,
                 window_geometry)

INDEX = np.dtype("int64")


# ------------------------------------------------------------------ lp_pool
def _lp_pool_infer(ins, kernel, strides, dilations, pads, p=2, pad_mode="explicit", ceil_mode=False):
    x = ins[0]
    _check_float("lp_pool", x)
    return x.dtype, _pool_shape(x, kernel, strides, dilations, pads, pad_mode, ceil_mode)


def _lp_pool_ref(x, kernel, strides, dilations, pads, p=2, pad_mode="explicit", ceil_mode=False):
    out, begin, _ = window_geometry(x.shape[2:], kernel, strides, dilations, pads, pad_mode, ceil_mode)
    xp = _pad_for_windows(np.abs(x) ** p, out, kernel, strides, dilations, begin, 0)
    total = sum(win for _, win in _windows(xp, out, kernel, strides, dilations))
    return (total ** (1.0 / p)).astype(x.dtype)


def _lp_pool_lower(k, ins, outs, kernel, strides, dilations, pads, p=2, pad_mode="explicit", ceil_mode=False):
    x, y = ins[0], outs[0]
    n, c, *size = x.shape
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    with k.loops([n, c, *out], "i") as (ni, ci, *o):
        ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                  for j in range(len(size))]
        acc = k.local(k.zero(x.dtype), "acc")
        with _tap_loops(k, ranges) as t:
            v = k.abs(k.load(x, [ni, ci, *_window_positions(o, strides, begin, t, dilations)]))
            k.accumulate(acc, v * v if p == 2 else (v if p == 1 else k.pow(v, k.const(p, v.dtype))))
        res = k.sqrt(acc) if p == 2 else (acc if p == 1 else k.pow(acc, k.const(1.0 / p, acc.dtype)))
        k.store(y, [ni, ci, *o], res)


register(OpDef("lp_pool", OPAQUE, _lp_pool_infer, _lp_pool_ref, lower=_lp_pool_lower,
               doc="(sum over the window of |x|^p)^(1/p); pads count as zeros"))


# --------------------------------------------------------------- max_unpool
def _unpool_shape(size, kernel, strides, pads):
    nsp = len(size)
    return [(size[j] - 1) * strides[j] + kernel[j] - pads[j] - pads[nsp + j] for j in range(nsp)]


def _max_unpool_infer(ins, kernel, strides, pads, output_shape=None):
    x, ind = ins
    if ind.dtype != INDEX or tuple(ind.shape) != tuple(x.shape):
        raise ShapeError(f"max_unpool indices must be int64 shaped like X {list(x.shape)}, got {ind.type_str}")
    if x.rank < 3:
        raise ShapeError(f"max_unpool needs [N, C, spatial...], got {list(x.shape)}")
    spatial = list(output_shape)[-(x.rank - 2):] if output_shape else \
        _unpool_shape(x.shape[2:], kernel, strides, pads)
    return x.dtype, (x.shape[0], x.shape[1], *spatial)


def _max_unpool_ref(x, ind, kernel, strides, pads, output_shape=None):
    n, c = x.shape[:2]
    spatial = list(output_shape)[-(x.ndim - 2):] if output_shape else _unpool_shape(x.shape[2:], kernel, strides, pads)
    y = np.zeros(n * c * int(np.prod(spatial)), x.dtype)
    flat = ind.reshape(-1)
    if np.any((flat < 0) | (flat >= y.size)):
        raise IndexError("max_unpool index out of range")
    y[flat] = x.reshape(-1)
    return y.reshape(n, c, *spatial)


def _max_unpool_lower(k, ins, outs, kernel, strides, pads, output_shape=None):
    x, ind = ins
    y = outs[0]
    total = y.numel
    with k.loops(y.shape) as idx:     # zeros first, then the values at their indices
        k.store(y, idx, k.zero(y.dtype))
    if not x.numel:
        return
    strides_y = [int(np.prod(y.shape[d + 1:])) for d in range(y.rank)]
    with k.loops(x.shape, parallel=False) as idx:
        j = k.load(ind, idx)
        k.check((j >= 0) & (j < total), f"index out of range: indices must be in [0, {total - 1}]")
        j = k.clamp(j, 0, total - 1)
        at = [k.floormod(k.floordiv(j, s), d) for s, d in zip(strides_y, y.shape)]
        k.store(y, at, k.load(x, idx))


register(OpDef("max_unpool", OPAQUE, _max_unpool_infer, _max_unpool_ref, lower=_max_unpool_lower,
               doc="zeros, with x's values at the flat output positions `indices` names"))


# ---------------------------------------------------------------------- lrn
def _lrn_infer(ins, size, alpha=1e-4, beta=0.75, bias=1.0):
    x = ins[0]
    _check_float("lrn", x)
    if x.rank < 3:
        raise ShapeError(f"lrn needs [N, C, spatial...], got {list(x.shape)}")
    return x.dtype, x.shape


def _lrn_ref(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    c = x.shape[1]
    lo, hi = math.floor((size - 1) / 2), math.ceil((size - 1) / 2) + 1
    sq = np.zeros_like(x)
    for ch in range(c):
        sq[:, ch] = np.sum(x[:, max(0, ch - lo):min(c, ch + hi)] ** 2, axis=1)
    return (x / (bias + (alpha / size) * sq) ** beta).astype(x.dtype)


def _lrn_lower(k, ins, outs, size, alpha=1e-4, beta=0.75, bias=1.0):
    x, y = ins[0], outs[0]
    c = x.shape[1]
    lo, hi = math.floor((size - 1) / 2), math.ceil((size - 1) / 2) + 1
    with k.loops(y.shape) as idx:
        ch = idx[1]
        acc = k.local(k.zero(x.dtype), "sq")
        with k.loop(k.min(ch + hi, c), "j", start=k.max(ch - lo, 0)) as j:
            v = k.load(x, [idx[0], j, *idx[2:]])
            k.accumulate(acc, v * v)
        base = bias + (alpha / size) * acc
        den = k.sqrt(base) if beta == 0.5 else k.pow(base, k.const(beta, base.dtype))
        k.store(y, idx, k.load(x, idx) / den)


register(OpDef("lrn", OPAQUE, _lrn_infer, _lrn_ref, lower=_lrn_lower,
               doc="x / (bias + alpha/size * sum of x^2 over `size` neighbouring channels)^beta"))

