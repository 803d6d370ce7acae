"""Converters: GatherElements, ScatterElements (and the older Scatter),
GatherND, ScatterND, OneHot, Trilu."""
from __future__ import annotations

import numpy as np

from .ops_elementwise import onnx_dtype
from .registry import converter


@converter("GatherElements", since=11)
def gather_elements(cx, n):
    return cx.op("gather_elements", [n.need(0), n.need(1)], axis=int(n.attr("axis", 0)))


@converter("Scatter", since=9)
@converter("ScatterElements", since=11)
def scatter_elements(cx, n):
    reduction = n.attr("reduction", "none") if n.op_type == "ScatterElements" else "none"
    return cx.op("scatter_elements", [n.need(0), n.need(1), n.need(2)], axis=int(n.attr("axis", 0)),
                 reduction=reduction)


@converter("GatherND", since=11)
def gather_nd(cx, n):
    return cx.op("gather_nd", [n.need(0), n.need(1)], batch_dims=int(n.attr("batch_dims", 0)))


@converter("ScatterND", since=11)
def scatter_nd(cx, n):
    return cx.op("scatter_nd", [n.need(0), n.need(1), n.need(2)], reduction=n.attr("reduction", "none"))


@converter("OneHot", since=9)
def one_hot(cx, n):
    indices, values = n.need(0), n.need(2)
    depth = n.const(1, "depth")      # the output shape depends on it: a constant
    depth = np.asarray(depth).reshape(-1)
    if depth.size != 1:
        raise n.error(f"depth must hold one value, got {depth.size}")
    d = int(depth[0])      # a float depth truncates, as in onnxruntime
    if d < 1:
        raise n.error(f"depth must be >= 1, got {d}")
    return cx.op("one_hot", [indices, values], axis=int(n.attr("axis", -1)), depth=d)


@converter("Trilu", since=14)
def trilu(cx, n):
    k = n.input(1)
    return cx.op("trilu", [n.need(0)] + ([cx.cast(k, np.int64)] if k is not None else []),
                 upper=int(n.attr("upper", 1)))


@converter("EyeLike", since=9)
def eye_like(cx, n):
    x = n.need(0)
    dt = n.attr("dtype")
    to = onnx_dtype(n, dt) if dt is not None else x.dtype
    return cx.op("eye_like", [x], dtype=to, k=int(n.attr("k", 0)))


@converter("ReverseSequence", since=10)
def reverse_sequence(cx, n):
    return cx.op("reverse_sequence", [n.need(0), n.need(1)], batch_axis=int(n.attr("batch_axis", 1)),
                 time_axis=int(n.attr("time_axis", 0)))


@converter("TensorScatter", since=24)
def tensor_scatter(cx, n):
    ins = [n.need(0), n.need(1)] + ([n.input(2)] if n.input(2) is not None else [])
    return cx.op("tensor_scatter", ins, axis=int(n.attr("axis", -2)), mode=n.attr("mode", "linear"))


@converter("TopK")
def topk(cx, n):
    x = n.need(0)
    k = n.attr("k") if n.opset < 10 else n.ints(1, what="K")   # the output shape depends on k: a constant
    k = int(k[0] if isinstance(k, (list, tuple)) else k)
    largest = int(n.attr("largest", 1)) if n.opset >= 11 else 1
    return list(cx.op("topk", [x], k=k, axis=int(n.attr("axis", -1)), largest=largest))
