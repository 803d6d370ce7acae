"""Converters: the simple ai.onnx.ml operators (Binarizer,
ArrayFeatureExtractor). Tree ensembles, label encoders and the rest of
ai.onnx.ml are not implemented."""
from __future__ import annotations

import numpy as np

from .registry import converter

ML = "ai.onnx.ml"


@converter("Binarizer", domain=ML)
def binarizer(cx, n):
    x = n.need(0)
    above = cx.op("greater", [x, cx.const(np.array(float(n.attr("threshold", 0.0)), x.dtype))])
    return cx.cast(above, x.dtype)


@converter("ArrayFeatureExtractor", domain=ML)
def array_feature_extractor(cx, n):
    """The elements of the last axis that the (1-D) indices name."""
    x, idx = n.need(0), n.need(1)
    idx = cx.reshape(idx, [-1]) if idx.rank != 1 else idx
    return cx.op("gather", [x, cx.cast(idx, np.int64)], axis=x.rank - 1)
