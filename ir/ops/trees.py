"""``tree_ensemble``: sums (or averages, minima, maxima) of decision-tree
leaf weights per target, as ai.onnx.ml's TreeEnsemble.

The trees are compile-time constants, so each one becomes code: a nest of
if/else on the sample's features, with the leaves adding their weight to
their target's accumulator. A tree is a nested tuple:
``("node", mode, value, feature, missing_goes_true, true_child, false_child)``
or ``("leaf", weight, target)``; mode is one of <=, <, >=, >, ==, !=, "in"
(value is then a tuple of members). A target no leaf reaches is 0 (as
onnxruntime; the onnx reference leaves min/max's starting value there).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

AGGREGATES = ("average", "sum", "min", "max")


def _infer(ins, trees, n_targets, aggregate="sum"):
    x = ins[0]
    if x.rank != 2 or dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"tree_ensemble expects a float [N, features] input, got {x.type_str}")
    if aggregate not in AGGREGATES:
        raise ShapeError(f"tree_ensemble aggregate {aggregate!r} is not one of {AGGREGATES}")
    return x.dtype, (x.shape[0], int(n_targets))


def _test(mode, v, value):
    if mode == "in":
        return any(v == m for m in value)
    return {"<=": v <= value, "<": v < value, ">=": v >= value, ">": v > value, "==": v == value,
            "!=": v != value}[mode]


def _init(aggregate, dt):
    info = dtypes.finfo(dt)
    return {"min": float(info.max), "max": float(info.min)}.get(aggregate, 0.0)


def _ref(x, trees, n_targets, aggregate="sum"):
    out = np.full((x.shape[0], n_targets), _init(aggregate, x.dtype), np.float64)
    hit = np.zeros(out.shape, bool)
    for b, row in enumerate(x.astype(np.float64)):
        for tree in trees:
            t = tree
            while t[0] == "node":
                _, mode, value, feat, missing_true, yes, no = t
                v = row[feat]
                t = yes if _test(mode, v, value) or (missing_true and np.isnan(v)) else no
            _, w, target = t
            hit[b, target] = True
            if aggregate == "sum":
                out[b, target] += w
            elif aggregate == "average":
                out[b, target] += w / len(trees)
            elif aggregate == "min":
                out[b, target] = min(out[b, target], w)
            else:
                out[b, target] = max(out[b, target], w)
    return np.where(hit, out, 0).astype(x.dtype)


def _lower(k, ins, outs, trees, n_targets, aggregate="sum"):
    x, y = ins[0], outs[0]
    ct = dtypes.compute(x.dtype)
    if not y.numel:
        return
    with k.loop(x.shape[0], "b", parallel=True) as b:
        acc = [k.local(k.const(_init(aggregate, x.dtype), ct), f"acc{t}") for t in range(n_targets)]
        hit = [k.local(k.const(False, "bool"), f"hit{t}") for t in range(n_targets)]
        feats = {}

        def feature(i):
            if i not in feats:
                feats[i] = k.local(k.cast(k.load(x, [b, i]), ct), f"x{i}")
            return feats[i]

        def emit(t):
            if t[0] == "leaf":
                _, w, target = t
                a = acc[target]
                k.assign(hit[target], k.const(True, "bool"))
                if aggregate in ("sum", "average"):
                    k.assign(a, a + k.const(w / len(trees) if aggregate == "average" else w, ct))
                else:
                    k.assign(a, (k.min if aggregate == "min" else k.max)(a, k.const(w, ct)))
                return
            _, mode, value, feat, missing_true, yes, no = t
            v = feature(feat)
            if mode == "in":
                cond = None
                for m in value:
                    eq = k.eq(v, k.const(m, ct))
                    cond = eq if cond is None else cond | eq
                cond = cond if cond is not None else k.const(False, "bool")
            else:
                c = k.const(value, ct)
                cond = {"<=": v <= c, "<": v < c, ">=": v >= c, ">": v > c, "==": k.eq(v, c), "!=": k.ne(v, c)}[mode]
            if missing_true:
                cond = cond | k.isnan(v)
            with k.if_(cond):
                emit(yes)
            with k.else_():
                emit(no)

        for i in sorted({f for tree in trees for f in _features(tree)}):   # each feature read once
            feature(i)
        for tree in trees:
            emit(tree)
        for t, (a, h) in enumerate(zip(acc, hit)):
            k.store(y, [b, t], k.cast(k.select(h, a, k.zero(ct)), y.dtype))


def _features(t):
    if t[0] == "leaf":
        return []
    return [t[3]] + _features(t[5]) + _features(t[6])


register(OpDef("tree_ensemble", OPAQUE, _infer, _ref, lower=_lower,
               doc="decision trees compiled to branches: leaf weights summed (averaged, min, max) per target"))
