"""Text: string tensors and token counts.

String tensors (dtype ``str``: numpy object arrays of Python str) live on
the host: ``string_normalizer``, ``string_concat``, ``string_split``,
``regex_full_match`` and ``label_encoder`` run as host steps with their
numpy references (dlc/staged.py); their numeric outputs flow on into
compiled segments.

``tfidf``: n-gram counts of integer token sequences (ONNX's
TfIdfVectorizer over int64 pools; string tokens are not supported).

Each pool n-gram (a tuple of token ids, and the output column it counts
into) is matched at every start position and skip distance (the gap
between its tokens, 1 to max_skip_count + 1); as in onnxruntime, unigrams
count at skip distance 1 only. Columns then hold the count (TF), the IDF
weight where the count is non-zero (IDF), or weight * count (TFIDF).
"""
from __future__ import annotations

import operator
import re

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import broadcast, unknown_dim
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


# ------------------------------------------------------------------ strings
STR, BOOL, I64 = dtypes.string, np.dtype("bool"), np.dtype("int64")


def _strings(*xs):
    for i, x in enumerate(xs):
        if x.dtype != STR:
            raise ShapeError(f"input {i} ({x.name}) must be a string tensor, got {x.type_str}")
    return xs[0]


def _normalizer_infer(ins, case_change_action="NONE", is_case_sensitive=0, stopwords=(), locale=""):
    x = _strings(ins[0])
    if x.rank not in (1, 2) or (x.rank == 2 and x.shape[0] != 1):
        raise ShapeError(f"the input must be [C] or [1, C], got {x.type_str}")
    if case_change_action not in ("NONE", "LOWER", "UPPER"):
        raise ShapeError(f"case_change_action {case_change_action!r} is not NONE, LOWER or UPPER")
    return STR, x.shape[:-1] + (unknown_dim(),)


def _normalizer_ref(x, case_change_action="NONE", is_case_sensitive=0, stopwords=(), locale=""):
    """Drops the stopwords (compared case-folded unless case-sensitive), then
    changes case; an empty result is one empty string (as onnxruntime)."""
    fold = (lambda w: w) if is_case_sensitive else str.casefold
    stops = {fold(w) for w in stopwords}
    change = {"LOWER": str.lower, "UPPER": str.upper}.get(case_change_action, lambda w: w)
    words = [change(w) for w in x.reshape(-1) if fold(w) not in stops] or [""]
    return np.array(words, dtype=object).reshape(x.shape[:-1] + (-1,))


def _split_infer(ins, delimiter="", maxsplit=None):
    x = _strings(ins[0])
    return [(STR, x.shape + (unknown_dim(),)), (I64, x.shape)]


def _split_ref(x, delimiter="", maxsplit=None):
    """Split on `delimiter` (runs of whitespace when empty), at most
    `maxsplit` times; rows padded with empty strings to the longest."""
    parts = [s.split(delimiter or None, -1 if maxsplit is None else maxsplit) for s in x.reshape(-1)]
    width = max((len(p) for p in parts), default=0)
    out = np.array([p + [""] * (width - len(p)) for p in parts], dtype=object).reshape(x.shape + (width,))
    return out, np.array([len(p) for p in parts], I64).reshape(x.shape)


def _label_encoder_infer(ins, keys, values, default, dtype):
    x = ins[0]
    if keys and (x.dtype == STR) != isinstance(keys[0], str):
        raise ShapeError(f"the keys ({type(keys[0]).__name__}) do not match the input {x.type_str}")
    return np.dtype(dtype), x.shape


def _label_encoder_ref(x, keys, values, default, dtype):
    table = dict(zip(keys, values))
    return np.array([table.get(k, default) for k in x.reshape(-1).tolist()], dtype).reshape(x.shape)


register(
    OpDef("string_normalizer", OPAQUE, _normalizer_infer, _normalizer_ref, host=True, strings=True,
          doc="string tensor [C] or [1, C] without its stopwords, case changed (ONNX StringNormalizer)"),
    OpDef("string_concat", OPAQUE, lambda ins: (_strings(*ins).dtype, broadcast(ins[0].shape, ins[1].shape)),
          np.frompyfunc(operator.add, 2, 1), host=True, strings=True,
          doc="elementwise concatenation of two string tensors, broadcasting (ONNX StringConcat)"),
    OpDef("string_split", OPAQUE, _split_infer, _split_ref, host=True, strings=True,
          doc="each string split into substrings (padded with empty ones) and their count (ONNX StringSplit)"),
    OpDef("regex_full_match", OPAQUE, lambda ins, pattern: (BOOL, _strings(ins[0]).shape),
          lambda x, pattern: np.vectorize(lambda s: re.fullmatch(pattern, s) is not None, otypes=[bool])(x),
          host=True, strings=True,
          doc="whether each string matches `pattern` entirely (Python's re; ONNX RegexFullMatch)"),
    OpDef("label_encoder", OPAQUE, _label_encoder_infer, _label_encoder_ref, host=True, strings=True,
          doc="each element mapped through the table keys -> values, else `default` (ai.onnx.ml LabelEncoder)"),
)
