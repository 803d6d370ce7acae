"""Converters: ops whose output shapes depend on data (run as host steps):
NonZero, Compress, Unique, NonMaxSuppression, ImageDecoder."""
from __future__ import annotations

import importlib.util

from ...ir.errors import UnsupportedError
from ...ir.ops.dynamic import IMAGE_FORMATS
from .registry import converter


@converter("NonZero", since=9)
def nonzero(cx, n):
    return cx.op("nonzero", [n.need(0)])


def _axis(n, rank):
    axis = n.attr("axis")
    if axis is None:
        return None
    axis = int(axis)
    if not -rank <= axis < rank:
        raise n.error(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


@converter("Compress", since=9)
def compress(cx, n):
    x = n.need(0)
    return cx.op("compress", [x, n.need(1)], axis=_axis(n, x.rank))


@converter("Unique", since=11)
def unique(cx, n):
    x = n.need(0)
    return list(cx.op("unique", [x], axis=_axis(n, x.rank), sorted=int(n.attr("sorted", 1))))


@converter("NonMaxSuppression", since=10)
def non_max_suppression(cx, n):
    return cx.op("non_max_suppression", [n.need(0), n.need(1)] + [n.input(i) for i in (2, 3, 4)],
                 center_point_box=int(n.attr("center_point_box", 0)))


@converter("ImageDecoder", since=20)
def image_decoder(cx, n):
    fmt = n.attr("pixel_format", "RGB")
    if fmt not in IMAGE_FORMATS:
        raise n.error(f"pixel_format must be one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}")
    if importlib.util.find_spec("PIL") is None:
        raise n.error("decoding images needs the Pillow package: pip install pillow", UnsupportedError)
    return cx.op("image_decode", [n.need(0)], pixel_format=fmt)
