"""Converters: DFT."""
from __future__ import annotations

import numpy as np

from .registry import converter


def _length(n):
    v = n.ints(1, what="dft_length")    # the output shape depends on it: a constant
    return None if not v else int(v[0])


@converter("DFT", since=17)
def dft_v17(cx, n):
    return cx.op("dft", [n.need(0)], axis=int(n.attr("axis", 1)), inverse=int(n.attr("inverse", 0)),
                 onesided=int(n.attr("onesided", 0)), length=_length(n))


@converter("DFT", since=20)
def dft_v20(cx, n):
    x, axis = n.need(0), n.input(2)
    attrs = dict(inverse=int(n.attr("inverse", 0)), onesided=int(n.attr("onesided", 0)), length=_length(n))
    if axis is None or axis.const is not None:
        a = -2 if axis is None else int(np.asarray(axis.const).reshape(-1)[0])
        return cx.op("dft", [x], axis=a, **attrs)
    if attrs["onesided"] or attrs["length"] is not None:
        n.const(2, "axis")      # the output shape depends on it: compiled per value (by_value.py)
    return cx.op("dft", [x, cx.cast(axis, np.int64)], **attrs)



@converter("STFT", since=17)
def stft(cx, n):
    """Frames of the signal (a gather with a constant index table), times
    the window, then a DFT of each frame: [batch, frames, bins, 2]. The
    frame step and length decide the output shape: constants."""
    x = n.need(0)
    step = n.ints(1, what="frame_step")
    window = n.input(2)
    length = n.ints(3, what="frame_length")
    if length is None and window is None:
        raise n.error("needs a window or a frame_length")
    flen = int(length[0]) if length is not None else int(window.shape[0])
    if x.rank != 3 or not isinstance(x.shape[1], int):
        raise n.error(f"the signal must be [batch, length, 1 or 2] with a known length, got {list(x.shape)}")
    frames = (x.shape[1] - flen) // int(step[0]) + 1
    if frames < 1:
        raise n.error(f"the signal ({x.shape[1]}) is shorter than a frame ({flen})")
    idx = np.arange(frames)[:, None] * int(step[0]) + np.arange(flen)[None, :]
    t = cx.op("gather", [x, cx.const(idx.astype(np.int64))], axis=1)      # [B, frames, flen, c]
    if window is not None:
        t = cx.op("mul", [t, cx.reshape(cx.cast(window, x.dtype), [1, 1, flen, 1])])
    return cx.op("dft", [t], axis=2, inverse=0, onesided=int(n.attr("onesided", 1)), length=None)


@converter("MelWeightMatrix", since=17)
def mel_weight_matrix(cx, n):
    from .ops_elementwise import onnx_dtype
    for i, what in enumerate(("num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz")):
        n.const(i, what)     # all of them decide the result: constants (it folds to a constant)
    return cx.op("mel_weight_matrix", [n.need(i) for i in range(5)], dtype=onnx_dtype(n, n.attr("output_datatype", 1)))
