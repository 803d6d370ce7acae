"""Converters: TfIdfVectorizer (int64 pools)."""
from __future__ import annotations

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
