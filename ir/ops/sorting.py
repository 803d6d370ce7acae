"""``topk``: the k largest (or smallest) elements along an axis, and their
int64 indices, best first; equal values keep their order (the lower index
first). k is an attribute: the output shape depends on it.

Each row is an insertion sort into the output row itself (O(n·k) per row):
the first k slots hold the best so far, and a new element that beats the
worst of them shifts the worse ones down by one.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axis as norm_axis
from .base import OPAQUE, OpDef, register

INDEX = np.dtype("int64")


def _topk_infer(ins, k, axis=-1, largest=1):
    x = ins[0]
    if dtypes.kind(x.dtype) not in "iuf":
        raise ShapeError(f"topk expects a numeric input, got {x.dtype.name}")
    if x.rank == 0:
        raise ShapeError("topk needs an input of rank >= 1")
    a = norm_axis(axis, x.rank)
    if k < 0 or (isinstance(x.shape[a], int) and k > x.shape[a]):
        raise ShapeError(f"topk: k = {k} is out of range for an axis of size {x.shape[a]}")
    shape = x.shape[:a] + (int(k),) + x.shape[a + 1:]
    return [(x.dtype, shape), (INDEX, shape)]


def _topk_ref(x, k, axis=-1, largest=1):
    a = norm_axis(axis, x.ndim)
    if largest:   # descending, ties by ascending index: a stable ascending sort of the reversed row, reversed
        n = x.shape[a]
        order = n - 1 - np.flip(np.argsort(np.flip(x, a), axis=a, kind="stable"), a)
    else:
        order = np.argsort(x, axis=a, kind="stable")
    order = np.take(order, np.arange(k), axis=a)
    return np.take_along_axis(x, order, axis=a), order.astype(INDEX)


def _topk_lower(k_, ins, outs, k, axis=-1, largest=1):
    kb = k_
    x = ins[0]
    vals, idxs = outs
    a = norm_axis(axis, x.rank)
    n = x.shape[a]
    if not vals.numel or k == 0:
        return
    rows = [d for i, d in enumerate(x.shape) if i != a]

    def at(outer, j):
        return list(outer[:a]) + [j] + list(outer[a:])

    def better(u, w):
        return u > w if largest else u < w

    with kb.loops(rows, "i") as outer:
        m = kb.local(kb.const(0, INDEX), "filled")
        with kb.loop(n, "e") as e:
            v = kb.local(kb.load(x, at(outer, e)), "v")
            last = kb.min(m, k - 1)
            candidate = (m < k) | better(v, kb.load(vals, at(outer, kb.const(k - 1, INDEX))))
            with kb.if_(candidate):
                j = kb.local(last, "slot")           # the slot to fill: the first free one, or the worst
                pos = kb.local(kb.const(0, INDEX), "pos")
                with kb.loop(j, "q") as q:           # how many kept ones are at least as good
                    kb.assign(pos, pos + kb.cast(~better(v, kb.load(vals, at(outer, q))), INDEX))
                with kb.loop(j - pos, "s") as s:     # shift the worse ones down, from the end
                    q = j - 1 - s
                    kb.store(vals, at(outer, q + 1), kb.load(vals, at(outer, q)))
                    kb.store(idxs, at(outer, q + 1), kb.load(idxs, at(outer, q)))
                kb.store(vals, at(outer, pos), v)
                kb.store(idxs, at(outer, pos), e)
                kb.assign(m, kb.min(m + 1, k))


register(OpDef("topk", OPAQUE, _topk_infer, _topk_ref, lower=_topk_lower,
               doc="the k best elements along `axis` (largest or smallest) and their indices, best first"))
