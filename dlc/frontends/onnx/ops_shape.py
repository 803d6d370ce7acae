"""Converters: shape and data-movement ops. Values such as a Slice's starts
or a Pad's pads become inputs of the IR op even when older opsets give them
as attributes; the IR requires them constant only when it lowers the node,
so ones computed from shapes (Shape -> Gather -> ...) fold first."""
from __future__ import annotations

import numpy as np

from ...ir import dtypes
from ...ir.errors import UnsupportedError
from .registry import converter


@converter("Reshape")
def reshape_v1(cx, n):
    shape = n.attr("shape")
    if shape is None:
        raise n.error("the shape attribute is required")
    return cx.op("reshape", [n.need(0), cx.const(np.array(shape, np.int64))])


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
    x, perm = n.need(0), n.attr("perm")
    perm = range(x.rank)[::-1] if perm is None else perm    # default: reverse the axes
    return cx.op("transpose", [x], perm=tuple(int(p) for p in perm))


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


def _int64s(cx, n, i, attr=None):
    """Input `i` as int64 (Slice and Pad indices may be int32), or the values
    of attribute `attr` (older opsets) as a constant; None if neither."""
    if attr is not None and n.input(i) is None:
        a = n.attr(attr)
        return None if a is None else cx.const(np.array(a, np.int64).reshape(-1))
    v = n.input(i)
    return None if v is None else cx.cast(v, np.int64)


@converter("Concat")
def concat(cx, n):
    axis = n.attr("axis", 1 if n.opset < 4 else None)   # Concat-1: axis defaults to 1
    if axis is None:
        raise n.error("the axis attribute is required")
    return cx.op("concat", [v for v in n.inputs if v is not None], axis=int(axis))


@converter("Split")
def split(cx, n):
    x = n.need(0)
    sizes = n.ints(1, attr="split" if n.opset < 13 else None, what="split")
    num = n.attr("num_outputs") if n.opset >= 18 and sizes is None else None
    if num is None:
        num = n.num_outputs
    elif int(num) != n.num_outputs:
        raise n.error(f"num_outputs is {num} but the node has {n.num_outputs} outputs")
    if sizes is not None and len(sizes) != n.num_outputs:
        raise n.error(f"split has {len(sizes)} sizes but the node has {n.num_outputs} outputs")
    outs = cx.op("split", [x], axis=int(n.attr("axis", 0)), split=None if sizes is None else tuple(sizes),
                 num_outputs=int(num), uneven=int(n.opset >= 18))
    return list(outs) if isinstance(outs, tuple) else [outs]


@converter("Slice")
def slice_v1(cx, n):
    return cx.op("slice", [n.need(0), _int64s(cx, n, 1, "starts"), _int64s(cx, n, 2, "ends"),
                           _int64s(cx, n, 3, "axes"), None])


@converter("Slice", since=10)
def slice_v10(cx, n):
    return cx.op("slice", [n.need(0), cx.cast(n.need(1), np.int64), cx.cast(n.need(2), np.int64),
                           _int64s(cx, n, 3), _int64s(cx, n, 4)])


@converter("Gather")
def gather(cx, n):
    return cx.op("gather", [n.need(0), n.need(1)], axis=int(n.attr("axis", 0)))


@converter("Tile", since=6)
def tile(cx, n):
    return cx.op("tile", [n.need(0), cx.cast(n.need(1), np.int64)])


@converter("Pad", since=1)
def pad_v1(cx, n):
    return pad_v2(cx, n, "paddings")


@converter("Pad", since=2)
def pad_v2(cx, n, attr="pads"):
    x = n.need(0)
    pads = n.attr(attr)
    if pads is None:
        raise n.error(f"the {attr} attribute is required")
    value = cx.const(np.array(n.attr("value", 0.0)).astype(x.dtype))
    return cx.op("pad", [x, cx.const(np.array(pads, np.int64)), value, None], mode=n.attr("mode"))


@converter("Pad", since=11)
def pad_v11(cx, n):
    return cx.op("pad", [n.need(0), cx.cast(n.need(1), np.int64), n.input(2), _int64s(cx, n, 3)],
                 mode=n.attr("mode"))


@converter("ConstantOfShape", since=9)
def constant_of_shape(cx, n):
    value = n.attr("value")
    value = np.zeros((), np.float32) if value is None else np.asarray(value).reshape(-1)
    if value.size != 1:
        raise n.error(f"value must hold one element, got {value.size}")
    if value.dtype not in dtypes.SUPPORTED:
        raise n.error(f"dtype {value.dtype.name} is not supported yet", UnsupportedError)
    return cx.op("expand", [cx.const(value.reshape(())), cx.cast(n.need(0), np.int64)])


@converter("Range", since=11)
def range_(cx, n):
    return cx.op("range", [n.need(0), n.need(1), n.need(2)])


# ------------------------------------------------------ DepthToSpace & co
def _static_dims(n, x, what):
    if x.rank != 4 or not all(isinstance(d, int) for d in x.shape[1:]):
        raise n.error(f"{what} needs a [N, C, H, W] input with known C, H, W, got {list(x.shape)}")
    return x.shape


@converter("DepthToSpace")
def depth_to_space(cx, n):
    """[N, C, H, W] -> [N, C/b², H*b, W*b]: a reshape, a transpose and a
    reshape (DCR: depth-column-row order, the default; CRD: column-row-depth)."""
    x, b = n.need(0), int(n.attr("blocksize"))
    _, c, h, w = _static_dims(n, x, "DepthToSpace")
    if c % (b * b):
        raise n.error(f"channels {c} are not divisible by blocksize² = {b * b}")
    if n.attr("mode", "DCR") == "CRD":
        t = cx.reshape(x, [0, c // (b * b), b, b, h, w])
        t = cx.op("transpose", [t], perm=(0, 1, 4, 2, 5, 3))
    else:
        t = cx.reshape(x, [0, b, b, c // (b * b), h, w])
        t = cx.op("transpose", [t], perm=(0, 3, 4, 1, 5, 2))
    return cx.reshape(t, [0, c // (b * b), h * b, w * b])


@converter("SpaceToDepth")
def space_to_depth(cx, n):
    """[N, C, H, W] -> [N, C*b², H/b, W/b] (DCR order; CRD from opset 28's mode)."""
    x, b = n.need(0), int(n.attr("blocksize"))
    _, c, h, w = _static_dims(n, x, "SpaceToDepth")
    if h % b or w % b:
        raise n.error(f"H {h} and W {w} must be divisible by blocksize {b}")
    t = cx.reshape(x, [0, c, h // b, b, w // b, b])
    perm = (0, 1, 3, 5, 2, 4) if n.attr("mode", "DCR") == "CRD" else (0, 3, 5, 1, 2, 4)
    t = cx.op("transpose", [t], perm=perm)
    return cx.reshape(t, [0, c * b * b, h // b, w // b])
