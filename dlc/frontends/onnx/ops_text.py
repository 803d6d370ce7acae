"""Converters: TfIdfVectorizer (int64 pools); the string ops and
LabelEncoder (host steps: ir/ops/text.py)."""
from __future__ import annotations

import re

import numpy as np

from ...ir.errors import UnsupportedError
from .registry import converter


@converter("TfIdfVectorizer", since=9)
def tfidf(cx, n):
    if n.attr("pool_strings"):
        raise n.error("string pools (string tensors) are not supported", UnsupportedError)
    pool_vals = [int(v) for v in n.attr("pool_int64s") or []]
    counts = [int(c) for c in n.attr("ngram_counts")]
    indexes = [int(i) for i in n.attr("ngram_indexes")]
    min_gram, max_gram = int(n.attr("min_gram_length")), int(n.attr("max_gram_length"))
    pool, gid = [], 0
    for size, start in enumerate(counts, start=1):    # the pool holds the 1-grams, then the 2-grams, ...
        end = counts[size] if size < len(counts) else len(pool_vals)
        for s in range(start, end, size):
            if min_gram <= size <= max_gram:
                pool.append((tuple(pool_vals[s:s + size]), indexes[gid]))
            gid += 1
    weights = n.attr("weights")
    return cx.op("tfidf", [n.need(0)], pool=tuple(pool), mode=n.attr("mode"), output_size=max(indexes) + 1,
                 weights=None if not weights else tuple(float(w) for w in weights), min_gram=min_gram,
                 max_gram=max_gram, max_skip=int(n.attr("max_skip_count")))


# ---------------------------------------------------------- string tensors
@converter("StringNormalizer", since=10)
def string_normalizer(cx, n):
    return cx.op("string_normalizer", [n.need(0)], case_change_action=n.attr("case_change_action", "NONE"),
                 is_case_sensitive=int(n.attr("is_case_sensitive", 0)),
                 stopwords=tuple(n.attr("stopwords") or ()), locale=n.attr("locale") or "")


@converter("StringConcat", since=20)
def string_concat(cx, n):
    return cx.op("string_concat", [n.need(0), n.need(1)])


@converter("StringSplit", since=20)
def string_split(cx, n):
    maxsplit = n.attr("maxsplit")
    return list(cx.op("string_split", [n.need(0)], delimiter=n.attr("delimiter") or "",
                      maxsplit=None if maxsplit is None else int(maxsplit)))


@converter("RegexFullMatch", since=20)
def regex_full_match(cx, n):
    pattern = n.attr("pattern")
    try:
        re.compile(pattern)
    except (re.error, TypeError) as e:
        raise n.error(f"pattern {pattern!r} is not a valid regular expression: {e}") from None
    return cx.op("regex_full_match", [n.need(0)], pattern=pattern)


def _items(a) -> tuple:
    """An attribute's list or tensor as a tuple of Python values (str for strings)."""
    flat = np.asarray(a).reshape(-1).tolist() if isinstance(a, np.ndarray) else list(a)
    return tuple(x.decode() if isinstance(x, bytes) else x for x in flat)


@converter("LabelEncoder", since=2, domain="ai.onnx.ml")
def label_encoder(cx, n):
    """keys_* -> values_* (strings, int64s, floats, or, since opset 4,
    tensors); runs on the host."""
    keys = next((n.attr(k) for k in ("keys_strings", "keys_int64s", "keys_floats", "keys_tensor")
                 if k in n.proto_attrs), None)
    kind = next((k for k in ("strings", "int64s", "floats", "tensor") if f"values_{k}" in n.proto_attrs), None)
    if keys is None or kind is None:
        raise n.error("it needs keys_* and values_* attributes")
    values = n.attr(f"values_{kind}")
    if kind == "tensor":
        dtype = np.asarray(values).dtype
        given = n.attr("default_tensor")
        default = _items(given)[0] if given is not None else "_Unused" if dtype == object else \
            -0.0 if dtype.kind == "f" else -1
    else:
        dtype = {"strings": object, "int64s": np.int64, "floats": np.float32}[kind]
        default = n.attr({"strings": "default_string", "int64s": "default_int64", "floats": "default_float"}[kind])
    keys, values = _items(keys), _items(values)
    if len(keys) != len(values):
        raise n.error(f"{len(keys)} keys but {len(values)} values")
    return cx.op("label_encoder", [n.need(0)], keys=keys, values=values, default=default, dtype=np.dtype(dtype))
