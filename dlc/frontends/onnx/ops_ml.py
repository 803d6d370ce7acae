"""Converters: the simple ai.onnx.ml operators (Binarizer,
ArrayFeatureExtractor) and TreeEnsemble; LabelEncoder is with the string
ops (ops_text.py). The rest of ai.onnx.ml is not implemented."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError

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


_MODES = {0: "<=", 1: "<", 2: ">=", 3: ">", 4: "==", 5: "!=", 6: "in"}
_AGGREGATES = {0: "average", 1: "sum", 2: "min", 3: "max"}


@converter("TreeEnsemble", since=5, domain=ML)
def tree_ensemble(cx, n):
    """The ensemble's arrays become nested trees (compiled to branches);
    post_transform NONE, LOGISTIC and SOFTMAX."""
    a = {k: n.attr(k) for k in ("nodes_splits", "nodes_featureids", "nodes_modes", "nodes_truenodeids",
                                "nodes_falsenodeids", "nodes_trueleafs", "nodes_falseleafs", "leaf_targetids",
                                "leaf_weights", "tree_roots", "membership_values", "nodes_missing_value_tracks_true")}
    splits = np.asarray(a["nodes_splits"], np.float64).reshape(-1)
    modes = [int(m) for m in np.asarray(a["nodes_modes"]).reshape(-1)]
    weights = np.asarray(a["leaf_weights"], np.float64).reshape(-1)
    members = iter(np.asarray(a["membership_values"], np.float64).reshape(-1)) if a["membership_values"] is not None \
        else iter(())
    missing = a["nodes_missing_value_tracks_true"] or [0] * len(modes)
    member_sets = {}
    for i, m in enumerate(modes):   # each set-membership node takes the next NaN-terminated run of values
        if m == 6:
            vals = []
            for v in members:
                if np.isnan(v):
                    break
                vals.append(float(v))
            member_sets[i] = tuple(vals)

    def build(i, leaf, depth=0):
        if depth > 10000:
            raise n.error("a tree is cyclic or too deep")
        if leaf:
            return ("leaf", float(weights[i]), int(a["leaf_targetids"][i]))
        mode = _MODES[modes[i]]
        value = member_sets[i] if mode == "in" else float(splits[i])
        return ("node", mode, value, int(a["nodes_featureids"][i]), bool(missing[i]),
                build(int(a["nodes_truenodeids"][i]), bool(a["nodes_trueleafs"][i]), depth + 1),
                build(int(a["nodes_falsenodeids"][i]), bool(a["nodes_falseleafs"][i]), depth + 1))

    trees = []
    for r in a["tree_roots"]:
        r = int(r)
        single = a["nodes_trueleafs"][r] and a["nodes_falseleafs"][r] and \
            a["nodes_truenodeids"][r] == a["nodes_falsenodeids"][r]
        trees.append(build(r, bool(single)))
    y = cx.op("tree_ensemble", [n.need(0)], trees=tuple(trees), n_targets=int(n.attr("n_targets")),
              aggregate=_AGGREGATES[int(n.attr("aggregate_function", 1))])
    post = int(n.attr("post_transform", 0))
    if post == 0:
        return y
    if post == 1:
        return cx.op("softmax", [y], axes=(1,))
    if post == 2:
        return cx.op("sigmoid", [y])
    raise n.error(f"post_transform {post} (SOFTMAX_ZERO / PROBIT) is not supported", UnsupportedError)
