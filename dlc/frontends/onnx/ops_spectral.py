"""Converters: DFT."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError
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
        raise n.error("input 2 (axis) must be a constant: with onesided or dft_length the output shape "
                      "depends on it", UnsupportedError)
    return cx.op("dft", [x, cx.cast(axis, np.int64)], **attrs)

