"""Converters: GridSample, RoiAlign, DeformConv, Col2Im."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError
from ...ir.shapes import is_known
from .registry import converter

_GS_MODES = {"bilinear": "linear", "bicubic": "cubic", "linear": "linear", "cubic": "cubic", "nearest": "nearest"}


@converter("GridSample", since=16)
def grid_sample(cx, n):
    mode = n.attr("mode", "linear")
    if mode not in _GS_MODES:
        raise n.error(f"unknown mode {mode!r}")
    return cx.op("grid_sample", [n.need(0), n.need(1)], mode=_GS_MODES[mode],
                 padding_mode=n.attr("padding_mode", "zeros"), align_corners=int(n.attr("align_corners", 0)))


@converter("RoiAlign", since=10)
def roi_align(cx, n):
    ctm = n.attr("coordinate_transformation_mode", "output_half_pixel") if n.opset >= 16 else "output_half_pixel"
    if ctm not in ("half_pixel", "output_half_pixel"):
        raise n.error(f"unknown coordinate_transformation_mode {ctm!r}")
    return cx.op("roi_align", [n.need(0), n.need(1), n.need(2)], mode=n.attr("mode", "avg"),
                 output_height=int(n.attr("output_height", 1)), output_width=int(n.attr("output_width", 1)),
                 sampling_ratio=int(n.attr("sampling_ratio", 0)), spatial_scale=float(n.attr("spatial_scale", 1.0)),
                 half_pixel=int(ctm == "half_pixel"))


@converter("DeformConv", since=19)
def deform_conv(cx, n):
    x, w, off = n.need(0), n.need(1), n.need(2)
    if x.rank != 4:
        raise n.error(f"only 2-D deformable convolutions are supported, got an input of rank {x.rank}",
                      UnsupportedError)

    def ints(name, default):
        v = n.attr(name)
        return [int(a) for a in v] if v else default
    return cx.op("deform_conv", [x, w, off, n.input(3), n.input(4)], strides=ints("strides", [1, 1]),
                 dilations=ints("dilations", [1, 1]), pads=ints("pads", [0, 0, 0, 0]),
                 group=int(n.attr("group", 1)), offset_group=int(n.attr("offset_group", 1)))


@converter("Col2Im", since=18)
def col2im(cx, n):
    """ONNX blocks are [N, C*prod(block), L]; our col2im (the adjoint of the
    im2col convolutions train with) takes one row per block position."""
    x = n.need(0)
    image = n.ints(1, what="image_shape")    # they decide the output shape: constants
    block = n.ints(2, what="block_shape")
    nsp, taps = len(image), int(np.prod(block))
    batch, ck = x.shape[0], x.shape[1] if x.rank == 3 else None
    if x.rank != 3 or not is_known(batch) or not is_known(ck) or ck % taps:
        raise n.error(f"input {list(x.shape)} is not [N, C*{taps}, L] with known N and C")

    def ints(name, default):
        v = n.attr(name)
        return tuple(int(a) for a in v) if v else default
    rows = cx.op("reshape", [cx.op("transpose", [x], perm=(0, 2, 1)), cx.const(np.array([-1, ck], np.int64))])
    return cx.op("col2im", [rows], shape=(batch, ck // taps, *image), kernel=tuple(block),
                 strides=ints("strides", (1,) * nsp), dilations=ints("dilations", (1,) * nsp),
                 pads=ints("pads", (0,) * 2 * nsp))
