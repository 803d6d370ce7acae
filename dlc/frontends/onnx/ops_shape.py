"""Converters: shape and data-movement ops."""
from __future__ import annotations

import numpy as np

from .registry import converter


@converter("Reshape", since=5)
def reshape(cx, n):
    return cx.op("reshape", [n.need(0), n.need(1)], allowzero=int(n.attr("allowzero", 0)))


@converter("Flatten")
def flatten(cx, n):
    return cx.op("flatten", [n.need(0)], axis=int(n.attr("axis", 1)))


@converter("Squeeze")
def squeeze(cx, n):
    axes = n.ints(1, attr="axes", what="axes")
    return cx.op("squeeze", [n.need(0)], axes=tuple(axes) if axes else None)


@converter("Unsqueeze")
def unsqueeze(cx, n):
    axes = n.ints(1, attr="axes", what="axes")
    if not axes:
        raise n.error("axes are required")
    return cx.op("unsqueeze", [n.need(0)], axes=tuple(axes))


@converter("Transpose")
def transpose(cx, n):
    perm = n.attr("perm")
    return cx.op("transpose", [n.need(0)], perm=tuple(int(p) for p in perm) if perm else None)


@converter("Expand", since=8)
def expand(cx, n):
    return cx.op("expand", [n.need(0), cx.cast(n.need(1), np.int64)])


@converter("Shape")
def shape(cx, n):
    start, end = int(n.attr("start", 0)), n.attr("end")
    return cx.op("shape", [n.need(0)], start=start, end=None if end is None else int(end))


@converter("Size")
def size(cx, n):
    return cx.op("size", [n.need(0)])
