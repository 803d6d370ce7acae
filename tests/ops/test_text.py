"""TfIdfVectorizer against onnxruntime (int token pools)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op

POOL = dict(ngram_counts=[0, 4], ngram_indexes=[0, 1, 2, 3, 4, 5, 6],
            pool_int64s=[2, 3, 5, 4, 5, 6, 7, 8, 6, 7])     # unigrams 2 3 5 4; bigrams (5,6) (7,8) (6,7)


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize("grams,skip", [((1, 1), 0), ((2, 2), 0), ((1, 2), 3), ((2, 2), 5)])
@pytest.mark.parametrize("weights", [False, True])
def test_tfidf(mode, grams, skip, weights):
    x = np.array([[1, 1, 3, 3, 3, 7, 5, 6, 6, 7, 8, 4], [2, 5, 6, 7, 8, 5, 6, 4, 4, 2, 3, 7]], np.int32)
    attrs = dict(POOL, mode=mode, min_gram_length=grams[0], max_gram_length=grams[1], max_skip_count=skip)
    if weights:
        attrs["weights"] = [0.5, 1.0, 2.0, 0.25, 3.0, 1.5, 0.1]
    check_op("TfIdfVectorizer", {"x": x}, attrs, opset=9)
    check_op("TfIdfVectorizer", {"x": x[1].astype(np.int64)}, attrs, opset=9)
