"""ai.onnx.ml Binarizer and ArrayFeatureExtractor against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
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


def _tree_model(aggregate, post, members=False):
    # two trees over 3 features; tree 1 uses set membership when `members`
    t = helper.make_tensor
    attrs = dict(
        n_targets=2, aggregate_function=aggregate, post_transform=post, tree_roots=[0, 3],
        nodes_featureids=[0, 1, 2, 2, 0], nodes_splits=t("s", 11, [5], [0.5, -0.2, 0.0, 1.0, 0.1]),
        nodes_modes=t("m", 2, [5], [0, 1, 3, 6 if members else 2, 5]),
        nodes_truenodeids=[1, 0, 1, 4, 2], nodes_trueleafs=[0, 1, 1, 0, 1],
        nodes_falsenodeids=[2, 1, 2, 3, 3], nodes_falseleafs=[0, 1, 1, 1, 1],
        leaf_targetids=[0, 1, 0, 1, 0], leaf_weights=t("w", 11, [5], [1.5, -2.0, 3.25, 0.5, -1.0]))
    if members:
        attrs["membership_values"] = t("mv", 11, [3], [1.0, 2.0, np.nan])
    model = make_model([helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", **attrs)],
                       [("x", np.float64, [6, 3])], ["y"], opset=21)
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 5))
    return model


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
def test_tree_ensemble(aggregate):
    x = rand(6, 3, dtype=np.float64, low=-1.5, high=2.5)
    x[0, 2], x[1, 0] = 1.0, np.nan
    y = check_model(_tree_model(aggregate, 0), {"x": x})[0]
    # LOGISTIC applies to each target's score (onnxruntime treats two targets as a binary classifier's)
    check_model(_tree_model(aggregate, 2), {"x": x}, expected=[1 / (1 + np.exp(-y))])


def test_tree_ensemble_set_membership():
    x = rand(6, 3, dtype=np.float64, low=-1.5, high=2.5)
    x[:3, 2] = [1.0, 2.0, 3.0]
    check_model(_tree_model(1, 0, members=True), {"x": x})
