"""Row-wise normalizations: softmax and log_softmax over a set of axes,
``normalize`` (zero mean, unit variance over the trailing axes from
``axis``; layer and instance norm add their scale and bias with
elementwise ops), and argmax/argmin along one axis.

Each is one kernel: outer (parallel) loops over the rows, then a few passes
over the row."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axes as norm_axes
from ..shapes import axis as norm_axis
from .base import OPAQUE, REDUCE, OpDef, register
from .reduce import highest, lowest, reduce_infer, reduce_loops, row_loops


def _check_float(x, op):
    if dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"{op} expects a float input, got {x.dtype.name}")


# ----------------------------------------------------------------- softmax
def _softmax_infer(op):
    def infer(ins, axes):
        x = ins[0]
        _check_float(x, op)
        if tuple(norm_axes(axes, x.rank)) != tuple(axes):
            raise ShapeError(f"{op}: axes {list(axes)} must be normalized (non-negative, in range)")
        return x.dtype, x.shape
    return infer


def _softmax_lower(log):
    def lower(k, ins, outs, axes):
        x, out = ins[0], outs[0]
        with row_loops(k, x, axes) as (inner_loops, at):
            m = k.local(k.const(-np.inf, x.dtype), "max")   # subtract the max: exp never overflows
            with inner_loops() as r:
                k.accumulate(m, k.load(x, at(r)), "max")
            s = k.local(k.zero(x.dtype), "sum")
            with inner_loops() as r:
                e = k.local(k.exp(k.load(x, at(r)) - m), "e")
                if not log:
                    k.store(out, at(r), e, partial=True)   # the last pass rescales it
                k.accumulate(s, e)
            if log:   # (x - max) - log(sum): x - (max + log(sum)) would round away small outputs
                log_s = k.local(k.log(s), "log_sum")
                with inner_loops() as r:
                    k.store(out, at(r), (k.load(x, at(r)) - m) - log_s)
            else:
                inv = k.local(1 / s, "inv")
                with inner_loops() as r:
                    k.store(out, at(r), k.load(out, at(r)) * inv)
    return lower


def _softmax_ref(x, axes):
    m = np.max(x, axis=axes, keepdims=True) if x.size else 0
    e = np.exp(x - m)
    return (e / np.sum(e, axis=axes, keepdims=True)).astype(x.dtype)


def _log_softmax_ref(x, axes):
    m = np.max(x, axis=axes, keepdims=True) if x.size else 0
    return ((x - m) - np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True))).astype(x.dtype)


def _softmax_vjp(d, ins, outs, gouts, axes):
    y, g = outs[0], gouts[0]
    return [y * (g - d.sum(g * y, axes, keepdims=True))]


def _log_softmax_vjp(d, ins, outs, gouts, axes):
    y, g = outs[0], gouts[0]
    return [g - d.exp(y) * d.sum(g, axes, keepdims=True)]


register(
    OpDef("softmax", REDUCE, _softmax_infer("softmax"), _softmax_ref, lower=_softmax_lower(False),
          vjp=_softmax_vjp, doc="exp(x - max) / sum(exp(x - max)) over `axes` (normalized, sorted)"),
    OpDef("log_softmax", REDUCE, _softmax_infer("log_softmax"), _log_softmax_ref, lower=_softmax_lower(True),
          vjp=_log_softmax_vjp, doc="x - max - log(sum(exp(x - max))) over `axes`"),
)


# --------------------------------------------------------------- normalize
def _normalize_infer(ins, axis, epsilon):
    x = ins[0]
    _check_float(x, "normalize")
    if norm_axis(axis, x.rank) != axis:
        raise ShapeError(f"normalize: axis {axis} must be normalized (non-negative, in range)")
    return x.dtype, x.shape


def _normalize_lower(k, ins, outs, axis, epsilon):
    x, out = ins[0], outs[0]
    axes = tuple(range(axis, x.rank))
    n = k.const(int(np.prod(x.shape[axis:], dtype=np.int64)), x.dtype)
    with row_loops(k, x, axes) as (inner_loops, at):
        s = k.local(k.zero(x.dtype), "sum")
        with inner_loops() as r:
            k.accumulate(s, k.load(x, at(r)))
        mean = k.local(s / n, "mean")
        # the variance from a second pass over x - mean: no cancellation as in E[x^2] - E[x]^2
        ss = k.local(k.zero(x.dtype), "ss")
        with inner_loops() as r:
            d = k.load(x, at(r)) - mean
            k.accumulate(ss, d * d)
        inv_std = k.local(1 / k.sqrt(ss / n + k.const(epsilon, x.dtype)), "inv_std")
        with inner_loops() as r:
            k.store(out, at(r), (k.load(x, at(r)) - mean) * inv_std)


def _normalize_ref(x, axis, epsilon):
    axes = tuple(range(axis, x.ndim))
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    return ((x - mean) / np.sqrt(var + x.dtype.type(epsilon))).astype(x.dtype)


def _normalize_vjp(d, ins, outs, gouts, axis, epsilon):
    """dx = (g - mean(g) - y * mean(g * y)) / std, with std recomputed from x."""
    x, y, g = ins[0], outs[0], gouts[0]
    axes = tuple(range(axis, x.rank))
    centered = x - d.mean(x, axes, keepdims=True)
    inv_std = 1 / d.sqrt(d.mean(centered * centered, axes, keepdims=True) + epsilon)
    return [(g - d.mean(g, axes, keepdims=True) - y * d.mean(g * y, axes, keepdims=True)) * inv_std]


register(OpDef("normalize", REDUCE, _normalize_infer, _normalize_ref, lower=_normalize_lower, vjp=_normalize_vjp,
               doc="(x - mean) / sqrt(var + epsilon) over the axes from `axis` to the last"))


# ------------------------------------------------------------ rms_normalize
def _rms_lower(k, ins, outs, axis, epsilon):
    x, out = ins[0], outs[0]
    axes = tuple(range(axis, x.rank))
    n = k.const(int(np.prod(x.shape[axis:], dtype=np.int64)), x.dtype)
    with row_loops(k, x, axes) as (inner_loops, at):
        ss = k.local(k.zero(x.dtype), "ss")
        with inner_loops() as r:
            v = k.load(x, at(r))
            k.accumulate(ss, v * v)
        inv = k.local(1 / k.sqrt(ss / n + k.const(epsilon, x.dtype)), "inv_rms")
        with inner_loops() as r:
            k.store(out, at(r), k.load(x, at(r)) * inv)


def _rms_ref(x, axis, epsilon):
    axes = tuple(range(axis, x.ndim))
    ms = np.mean(np.square(x), axis=axes, keepdims=True)
    return (x / np.sqrt(ms + x.dtype.type(epsilon))).astype(x.dtype)


register(OpDef("rms_normalize", OPAQUE, _normalize_infer, _rms_ref, lower=_rms_lower,
               doc="x / sqrt(mean(x^2) + epsilon) over the axes from `axis` to the last"))


# ---------------------------------------------------------- argmax/argmin
def _arg_infer(op):
    def infer(ins, axis, keepdims, select_last_index=0):
        x = ins[0]
        if dtypes.kind(x.dtype) not in "iuf":
            raise ShapeError(f"{op} expects a numeric input, got {x.dtype.name}")
        if x.rank == 0 or norm_axis(axis, x.rank) != axis:
            raise ShapeError(f"{op}: axis {axis} must be normalized (non-negative, in range)")
        if x.shape[axis] == 0:
            raise ShapeError(f"{op}: axis {axis} of {list(x.shape)} is empty")
        return np.dtype("int64"), reduce_infer(ins, (axis,), keepdims)[1]
    return infer


def _arg_lower(is_max):
    def lower(k, ins, outs, axis, keepdims, select_last_index=0):
        x = ins[0]

        def body(inner_loops, load):
            best = k.local(k.const(lowest(x.dtype) if is_max else highest(x.dtype), x.dtype), "best")
            at = k.local(k.zero("int64"), "at")
            with inner_loops() as (r,):
                v = k.local(load((r,)), "v")
                # ties: a strict test keeps the first index, a non-strict one moves to the last
                if is_max:
                    better = v >= best if select_last_index else v > best
                else:
                    better = v <= best if select_last_index else v < best
                take = k.local(better, "take")
                k.assign(at, k.select(take, r, at))
                k.assign(best, k.select(take, v, best))
            return at
        reduce_loops(k, x, outs[0], (axis,), keepdims, body)
    return lower


def _arg_ref(fn):
    def ref(x, axis, keepdims, select_last_index=0):
        if select_last_index:   # the last extreme is the first one of the reversed axis
            i = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis, keepdims=bool(keepdims))
        else:
            i = fn(x, axis=axis, keepdims=bool(keepdims))
        return np.asarray(i, np.int64)
    return ref


register(
    OpDef("argmax", OPAQUE, _arg_infer("argmax"), _arg_ref(np.argmax), lower=_arg_lower(True),
          doc="int64 index of the largest element along `axis`"),
    OpDef("argmin", OPAQUE, _arg_infer("argmin"), _arg_ref(np.argmin), lower=_arg_lower(False),
          doc="int64 index of the smallest element along `axis`"),
)
