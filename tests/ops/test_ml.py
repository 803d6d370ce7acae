"""ai.onnx.ml Binarizer and ArrayFeatureExtractor against onnxruntime."""
from __future__ import annotations

import numpy as np
from onnx import helper

from tests.util import check_model, make_model, rand


def _ml_model(op, inputs, outputs, **attrs):
    model = make_model([helper.make_node(op, [nm for nm, _, _ in inputs], outputs, domain="ai.onnx.ml", **attrs)],
                       inputs, outputs)
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    return model


def test_binarizer():
    x = rand(3, 4)
    check_model(_ml_model("Binarizer", [("x", np.float32, [3, 4])], ["y"], threshold=0.5), {"x": x})


def test_array_feature_extractor():
    x, i = rand(3, 5), np.array([4, 0, 2], np.int64)
    check_model(_ml_model("ArrayFeatureExtractor", [("x", np.float32, [3, 5]), ("i", np.int64, [3])], ["y"]),
                {"x": x, "i": i})
