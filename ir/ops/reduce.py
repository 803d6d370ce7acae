"""Reductions over a set of axes: sum, mean, max, min, prod, L1, L2,
log-sum, log-sum-exp, sum of squares. ``axes`` is always explicit and
normalized in the IR (the frontend decides what "no axes" means);
``keepdims`` keeps reduced axes as size 1."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axes as norm_axes
from .base import REDUCE, OpDef, register


def reduce_infer(ins, axes, keepdims):
    x = ins[0]
    ax = norm_axes(axes, x.rank)
    if tuple(ax) != tuple(axes):
        raise ShapeError(f"axes {list(axes)} must be normalized (non-negative, in range)")
    shape = tuple(1 if d in ax else s for d, s in enumerate(x.shape) if keepdims or d not in ax)
    return x.dtype, shape


def lowest(dt: np.dtype):
    kind = dtypes.kind(dt)
    return -np.inf if kind == "f" else False if kind == "b" else np.iinfo(dt).min


def highest(dt: np.dtype):
    kind = dtypes.kind(dt)
    return np.inf if kind == "f" else True if kind == "b" else np.iinfo(dt).max


@contextmanager
def row_loops(k, x, axes):
    """Outer (parallel) loops over every axis not in `axes`; yields
    ``(inner_loops, at)``: ``with inner_loops() as r`` walks one row (the
    `axes`) and ``at(r)`` is the full index of x there."""
    kept = [d for d in range(x.rank) if d not in axes]
    with k.loops([x.shape[d] for d in kept], "i") as outer:
        pos = dict(zip(kept, outer))

        def inner_loops():
            return k.loops([x.shape[d] for d in axes], "r", parallel=False)

        def at(inner):
            idx = dict(pos)
            idx.update(zip(axes, inner))
            return [idx[d] for d in range(x.rank)]
        yield inner_loops, at


def reduce_loops(k, x, out, axes, keepdims, body):
    """A reduction's loop nest: per row, ``value = body(inner_loops, load)``
    (``load(r)`` reads x at row position r), stored to `out`."""
    with row_loops(k, x, axes) as (inner_loops, at):
        value = body(inner_loops, lambda r: k.load(x, at(r)))
        first = at([0] * len(axes))    # reduced axes at 0: the keepdims index
        k.store(out, [first[d] for d in range(x.rank) if keepdims or d not in axes], k.cast(value, out.dtype))


def _simple(init, combine, prologue=lambda k, v: v, epilogue=lambda k, acc, n: acc):
    def lower(k, ins, outs, axes, keepdims):
        x = ins[0]
        n = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))

        def body(inner_loops, load):
            acc = k.local(k.const(init(x.dtype), x.dtype), "acc")
            with inner_loops() as r:
                k.accumulate(acc, prologue(k, load(r)), combine)
            return epilogue(k, acc, n)
        reduce_loops(k, x, outs[0], axes, keepdims, body)
    return lower


def _mean(k, acc, n):
    # the mean of nothing is 0, as onnxruntime has it (not 0/0)
    return acc / k.const(n, acc.dtype) if n else acc


def _log_sum_exp_lower(k, ins, outs, axes, keepdims):
    x = ins[0]

    def body(inner_loops, load):   # max first, so exp never overflows
        m = k.local(k.const(-np.inf, x.dtype), "max")
        with inner_loops() as r:
            k.accumulate(m, load(r), "max")
        inf = k.const(np.inf, x.dtype)
        safe = k.select(k.eq(m, inf) | k.eq(m, -inf), k.zero(x.dtype), m)
        s = k.local(k.zero(x.dtype), "sum")
        with inner_loops() as r:
            k.accumulate(s, k.exp(load(r) - safe))
        return k.log(s) + safe
    reduce_loops(k, x, outs[0], axes, keepdims, body)


def _np(fn):
    def ref(x, axes, keepdims):
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, axes, keepdims)).astype(x.dtype)
    return ref


def _lse_ref(x, axes, keepdims):
    m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros([1] * x.ndim, x.dtype)
    m = np.where(np.isinf(m), 0, m)
    s = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axes)


def _max_ref(x, axes, keepdims):
    if x.size == 0 or axes == ():
        return np.max(x, axis=axes, keepdims=keepdims, initial=lowest(x.dtype)) if axes else x
    return np.max(x, axis=axes, keepdims=keepdims)


def _min_ref(x, axes, keepdims):
    if x.size == 0 or axes == ():
        return np.min(x, axis=axes, keepdims=keepdims, initial=highest(x.dtype)) if axes else x
    return np.min(x, axis=axes, keepdims=keepdims)


def _mean_ref(x, axes, keepdims):
    n = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    s = np.sum(x, axis=axes, keepdims=keepdims)
    if n == 0:
        return np.zeros_like(s)
    if x.dtype.kind in "iu":   # integer mean truncates toward zero
        return np.sign(s) * (np.abs(s) // n)
    return s / np.asarray(n, x.dtype)


_REDUCTIONS = {
    "reduce_sum": (lambda x, a, k: np.sum(x, axis=a, keepdims=k), _simple(lambda dt: 0, "add")),
    "reduce_mean": (_mean_ref, _simple(lambda dt: 0, "add", epilogue=_mean)),
    "reduce_max": (_max_ref, _simple(lowest, "max")),
    "reduce_min": (_min_ref, _simple(highest, "min")),
    "reduce_prod": (lambda x, a, k: np.prod(x, axis=a, keepdims=k), _simple(lambda dt: 1, "mul")),
    "reduce_l1": (lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k),
                  _simple(lambda dt: 0, "add", prologue=lambda k, v: k.abs(v))),
    "reduce_l2": (lambda x, a, k: np.sqrt(np.sum(np.square(x.astype(np.float64)), axis=a, keepdims=k)),
                  _simple(lambda dt: 0, "add", prologue=lambda k, v: v * v,
                          epilogue=lambda k, acc, n: k.sqrt(acc) if acc.dtype.kind == "f"
                          else k.cast(k.sqrt(k.cast(acc, "float64")), acc.dtype))),
    "reduce_sum_square": (lambda x, a, k: np.sum(np.square(x), axis=a, keepdims=k),
                          _simple(lambda dt: 0, "add", prologue=lambda k, v: v * v)),
    "reduce_log_sum": (lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k)),
                       _simple(lambda dt: 0, "add", epilogue=lambda k, acc, n: k.log(acc))),
    "reduce_log_sum_exp": (_lse_ref, _log_sum_exp_lower),
}


# ----------------------------------------------------------- gradient rules
def _rvjp(fn):
    """A reduction's rule from ``fn(d, g, x, y)``, where g and y have the
    reduced axes kept as size 1 (so they broadcast over x)."""
    def rule(d, ins, outs, gouts, axes, keepdims):
        x = ins[0]
        g, y = (d.unreduce(v, x.shape, axes, keepdims) for v in (gouts[0], outs[0]))
        return [fn(d, g, x, y, axes)]
    return rule


def _extremum_vjp(d, g, x, y, axes):   # shared equally among the elements that tie
    mask = d.cast(d.equal(x, y), x.dtype)
    return g * mask / d.sum(mask, axes, keepdims=True)


def _count(x, axes):
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


_VJPS = {
    "reduce_sum": lambda d, g, x, y, axes: g,
    "reduce_mean": lambda d, g, x, y, axes: g / max(_count(x, axes), 1),
    "reduce_max": _extremum_vjp,
    "reduce_min": _extremum_vjp,
    "reduce_prod": lambda d, g, x, y, axes: g * y / x,
    "reduce_l1": lambda d, g, x, y, axes: g * d.sign(x),
    "reduce_l2": lambda d, g, x, y, axes: g / y * x,
    "reduce_sum_square": lambda d, g, x, y, axes: g * 2 * x,
    "reduce_log_sum": lambda d, g, x, y, axes: g * d.exp(-y),
    "reduce_log_sum_exp": lambda d, g, x, y, axes: g * d.exp(x - y),
}

for _name, (_ref, _lower) in _REDUCTIONS.items():
    register(OpDef(_name, REDUCE, reduce_infer, _np(_ref), lower=_lower, vjp=_rvjp(_VJPS[_name])))
