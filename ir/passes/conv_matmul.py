"""Convolutions as matrix products."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node
from ..ops.nn import window_geometry
from .rewrite import rewrite

MAX_COLUMN_BYTES = 256 << 20
FEW_TAPS = 16   # taps (C * prod(kernel)) up to which the product is computed per sample, transposed


def _conv_as_matmul(g: Graph, n: Node):
    if n.op != "conv" or n.attrs.get("group", 1) != 1:
        return None
    x, w = n.inputs[0], n.inputs[1]
    b = n.inputs[2] if len(n.inputs) > 2 else None
    y = n.outputs[0]
    if not (x.static and w.static and y.static):
        return None
    m, c, *kernel = w.shape
    taps = c * int(np.prod(kernel, dtype=np.int64))
    rows = int(np.prod([y.shape[0], *y.shape[2:]], dtype=np.int64))
    if rows * taps * x.dtype.itemsize > MAX_COLUMN_BYTES:
        return None
    a = n.attrs
    _, begin, end = window_geometry(x.shape[2:], kernel, a["strides"], a["dilations"], a["pads"],
                                    a.get("pad_mode", "explicit"))
    src = n.source

    def shape(v):
        return g.const(np.array(v, np.int64))
    cols = g.op("im2col", [x], dict(kernel=list(kernel), strides=list(a["strides"]), dilations=list(a["dilations"]),
                                    pads=list(begin) + list(end)), source=src)
    w2 = g.op("reshape", [w, shape([m, taps])], source=src)
    rank = y.rank
    if taps <= FEW_TAPS:   # per sample, w2 @ cols^T: [M, O...], rows of y
        pos = int(np.prod(y.shape[2:], dtype=np.int64))
        ct = g.op("transpose", [g.op("reshape", [cols, shape([y.shape[0], pos, taps])], source=src)],
                  {"perm": (0, 2, 1)}, source=src)
        out = g.op("reshape", [g.op("matmul", [w2, ct], source=src), shape(list(y.shape))], source=src)
    else:
        out = g.op("matmul", [cols, g.op("transpose", [w2], {"perm": (1, 0)}, source=src)], source=src)  # [N*O.., M]
        out = g.op("reshape", [out, shape([y.shape[0], *y.shape[2:], m])], source=src)
        out = g.op("transpose", [out], {"perm": (0, rank - 1) + tuple(range(1, rank - 1))}, source=src)
    if b is not None:
        out = g.op("add", [out, g.op("reshape", [b, shape([m] + [1] * (rank - 2))], source=src)], source=src)
    return [out]


def convs_to_matmul(g: Graph) -> Graph:
    """Rewrite each static, ungrouped convolution as im2col (the windows as
    rows), one matmul with the reshaped weights, and a transpose back to
    [N, M, *O] (plus the bias). With few taps (a first layer on one or three
    channels) the product is cheap and storing it dominates: it is then
    computed per sample as weights @ windows^T, whose rows are rows of y
    (contiguous stores), not columns of it. Its gradients then are matmuls
    too (and col2im), which run an order of magnitude faster than direct
    loop nests on short rows. Skips grouped convolutions and any whose
    column matrix would exceed MAX_COLUMN_BYTES. Promises: the same outputs."""
    return rewrite(g, [_conv_as_matmul])
