"""Cumulative sums and products along an axis, optionally exclusive (each
element left out of its own result) and reversed.

The axis is an attribute when it is known at compile time: one running
accumulator per line, a linear scan. ONNX also allows it as a run-time
scalar input (the output shape does not depend on it): then each output
element sums its prefix along whichever axis the input names, chosen per
dim with a select (quadratic along the axis, but correct for any axis).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axis as norm_axis
from .base import OPAQUE, OpDef, register

INDEX = np.dtype("int64")


def _infer(op):
    def infer(ins, axis=None, exclusive=0, reverse=0):
        x = ins[0]
        if dtypes.kind(x.dtype) not in "iuf":
            raise ShapeError(f"{op} expects a numeric input, got {x.dtype.name}")
        if x.rank == 0:
            raise ShapeError(f"{op} needs an input of rank >= 1")
        if axis is None:
            if len(ins) < 2 or ins[1] is None:
                raise ShapeError(f"{op} needs an axis (attribute or input)")
            if ins[1].static and ins[1].numel != 1:
                raise ShapeError(f"{op} axis must be a scalar")
        else:
            norm_axis(axis, x.rank)
        return x.dtype, x.shape
    return infer


def _ref(np_fn):
    def ref(x, axis_in=None, axis=None, exclusive=0, reverse=0):
        a = norm_axis(int(np.asarray(axis_in).reshape(-1)[0]) if axis is None else axis, x.ndim)
        if reverse:
            x = np.flip(x, a)
        res = np_fn(x, axis=a, dtype=x.dtype)
        if exclusive:
            first = np.ones_like if np_fn is np.cumprod else np.zeros_like
            res = np.concatenate([first(np.take(res, [0], axis=a)), np.delete(res, -1, axis=a)], axis=a) \
                if x.shape[a] else res
        return np.flip(res, a) if reverse else res
    return ref


def _lower(combine, identity):
    def lower(k, ins, outs, axis=None, exclusive=0, reverse=0):
        x, out = ins[0], outs[0]
        if not out.numel:
            return
        if axis is not None:
            _scan(k, x, out, norm_axis(axis, x.rank), exclusive, reverse, combine, identity)
        else:
            _prefix(k, x, ins[1], out, exclusive, reverse, combine, identity)
    return lower


def _scan(k, x, out, a, exclusive, reverse, combine, identity):
    """One running accumulator per line along axis `a`."""
    n = x.shape[a]
    lines = [d for i, d in enumerate(x.shape) if i != a]
    with k.loops(lines, "i") as outer:
        acc = k.local(k.const(identity, x.dtype), "acc")
        with k.loop(n, "j") as j:
            pos = (n - 1) - j if reverse else j
            idx = list(outer[:a]) + [pos] + list(outer[a:])
            v = k.load(x, idx)
            if exclusive:
                k.store(out, idx, acc)
                k.assign(acc, combine(k, acc, v))
            else:
                k.assign(acc, combine(k, acc, v))
                k.store(out, idx, acc)


def _prefix(k, x, axis_buf, out, exclusive, reverse, combine, identity):
    """The axis is a run-time value: each element combines its own prefix."""
    r = x.rank
    a = k.cast(k.load(axis_buf, [0] * axis_buf.rank), INDEX)
    a = k.local(k.select(a < 0, a + r, a), "axis")
    k.check((a >= 0) & (a < r), f"axis out of range for rank {r}")
    with k.loops(out.shape) as idx:
        pos, size = idx[0], x.shape[0]
        for d in range(1, r):
            pos = k.select(k.eq(a, d), idx[d], pos)
            size = k.select(k.eq(a, d), k.const(x.shape[d], INDEX), size)
        pos, size = k.local(pos, "pos"), k.local(k.cast(size, INDEX), "size")
        lo = (pos + (1 if exclusive else 0)) if reverse else k.const(0, INDEX)
        hi = size if reverse else (pos if exclusive else pos + 1)
        acc = k.local(k.const(identity, x.dtype), "acc")
        with k.loop(hi, "j", start=lo) as j:
            src = [k.select(k.eq(a, d), j, idx[d]) for d in range(r)]
            k.assign(acc, combine(k, acc, k.load(x, src)))
        k.store(out, idx, acc)


register(
    OpDef("cumsum", OPAQUE, _infer("cumsum"), _ref(np.cumsum), lower=_lower(lambda k, a, b: a + b, 0),
          doc="running sum along `axis` (an attribute, or input 1 at run time); exclusive, reverse"),
    OpDef("cumprod", OPAQUE, _infer("cumprod"), _ref(np.cumprod), lower=_lower(lambda k, a, b: a * b, 1),
          doc="running product along `axis` (an attribute, or input 1 at run time); exclusive, reverse"),
)
