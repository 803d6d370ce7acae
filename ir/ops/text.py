"""``tfidf``: n-gram counts of integer token sequences (ONNX's
TfIdfVectorizer over int64 pools; string tokens are not supported).

Each pool n-gram (a tuple of token ids, and the output column it counts
into) is matched at every start position and skip distance (the gap
between its tokens, 1 to max_skip_count + 1); as in onnxruntime, unigrams
count at skip distance 1 only. Columns then hold the count (TF), the IDF
weight where the count is non-zero (IDF), or weight * count (TFIDF).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

F32 = np.dtype("float32")
MODES = ("TF", "IDF", "TFIDF")


def _skips(n: int, min_gram: int, max_skip: int) -> list[int]:
    """Skip distances at which an n-gram counts."""
    return [d for d in range(1, max_skip + 2) if n >= (min_gram if d == 1 or min_gram > 1 else 2)]


def _infer(ins, pool, mode, output_size, weights=None, min_gram=1, max_gram=1, max_skip=0):
    x = ins[0]
    if dtypes.kind(x.dtype) not in "iu" or x.rank not in (1, 2):
        raise ShapeError(f"tfidf expects int tokens [C] or [B, C], got {x.type_str}")
    if mode not in MODES:
        raise ShapeError(f"tfidf mode {mode!r} is not one of {MODES}")
    return F32, (output_size,) if x.rank == 1 else (x.shape[0], output_size)


def _finish(counts, mode, weights):
    w = np.ones(counts.shape[-1], F32) if weights is None else np.asarray(weights, F32)
    if mode == "TF":
        return counts
    if mode == "IDF":
        return np.where(counts > 0, w, 0).astype(F32)
    return (counts * w).astype(F32)


def _ref(x, pool, mode, output_size, weights=None, min_gram=1, max_gram=1, max_skip=0):
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    out = np.zeros((rows.shape[0], output_size), F32)
    for gram, col in pool:
        n = len(gram)
        for d in _skips(n, min_gram, max_skip):
            for s in range(rows.shape[1] - (n - 1) * d):
                hit = np.all([rows[:, s + t * d] == gram[t] for t in range(n)], axis=0)
                out[:, col] += hit
    out = _finish(out, mode, weights)
    return out[0] if x.ndim == 1 else out


def _lower(k, ins, outs, pool, mode, output_size, weights=None, min_gram=1, max_gram=1, max_skip=0):
    x, y = ins[0], outs[0]
    rows, c = (1, x.shape[0]) if x.rank == 1 else x.shape
    at = (lambda r, i: [i]) if x.rank == 1 else (lambda r, i: [r, i])
    yat = (lambda r, j: [j]) if x.rank == 1 else (lambda r, j: [r, j])
    w = [1.0] * output_size if weights is None else list(weights)
    with k.loop(rows, "r", parallel=True) as r:
        with k.loop(output_size, "j") as j:
            k.store(y, yat(r, j), k.zero(F32))
        for gram, col in pool:
            n = len(gram)
            count = k.local(k.zero(F32), "count")
            for d in _skips(n, min_gram, max_skip):
                if c - (n - 1) * d <= 0:
                    continue
                with k.loop(c - (n - 1) * d, "s") as s:
                    hit = None
                    for t, tok in enumerate(gram):
                        eq = k.eq(k.load(x, at(r, s + t * d)), k.const(tok, x.dtype))
                        hit = eq if hit is None else hit & eq
                    k.assign(count, count + k.cast(hit, F32))
            k.store(y, yat(r, col), k.load(y, yat(r, col)) + count)
        if mode != "TF":
            with k.loop(output_size, "j") as j:
                v = k.load(y, yat(r, j))
                wj = k.const(0.0, F32)
                for col, val in enumerate(w):     # the column's weight (a small constant table)
                    wj = k.select(k.eq(j, col), k.const(val, F32), wj)
                res = k.select(v > 0.0, wj, k.zero(F32)) if mode == "IDF" else v * wj
                k.store(y, yat(r, j), res)


register(OpDef("tfidf", OPAQUE, _infer, _ref, lower=_lower,
               doc="n-gram counts (TF), IDF weights or TF*IDF of int token rows over a constant pool"))
