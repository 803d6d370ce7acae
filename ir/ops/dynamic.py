"""Ops whose output shapes depend on input values. They have no lowering:
the runtime evaluates them with their numpy reference between natively
compiled segments (dlc/staged.py)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..shapes import unknown_dim
from .base import OPAQUE, OpDef, register

register(OpDef(
    "nonzero", OPAQUE,
    lambda ins: (np.dtype("int64"), (ins[0].rank, unknown_dim())),
    lambda x: np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1),
    dynamic_shape=True,
    doc="indices of the non-zero elements, one row per axis (ONNX NonZero)"))


def _compress_infer(ins, axis=None):
    x = ins[0]
    return x.dtype, (unknown_dim(),) if axis is None else x.shape[:axis] + (unknown_dim(),) + x.shape[axis + 1:]


def _compress_ref(x, cond, axis=None):
    keep = np.asarray(cond, bool).reshape(-1)
    return np.compress(keep, x.reshape(-1) if axis is None else x, axis=axis)


register(OpDef("compress", OPAQUE, _compress_infer, _compress_ref, dynamic_shape=True,
               doc="the slices of x along `axis` (x flattened when None) where cond is true (ONNX Compress)"))


def _unique_infer(ins, axis=None, sorted=1):
    x = ins[0]
    i64 = np.dtype("int64")
    y = (unknown_dim(),) if axis is None else x.shape[:axis] + (unknown_dim(),) + x.shape[axis + 1:]
    n = x.numel if axis is None and x.static else x.shape[axis] if axis is not None else unknown_dim()
    return [(x.dtype, y), (i64, (unknown_dim(),)), (i64, (n,)), (i64, (unknown_dim(),))]


def _unique_ref(x, axis=None, sorted=1):
    y, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True,
                                          axis=axis)
    if not sorted:      # in order of first occurrence
        order = np.argsort(first, kind="stable")
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts = first[order], counts[order]
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        inverse = rank[inverse.reshape(-1)]
    i64 = np.int64
    return y, first.astype(i64), inverse.reshape(-1).astype(i64), counts.astype(i64)


register(OpDef("unique", OPAQUE, _unique_infer, _unique_ref, dynamic_shape=True,
               doc="the distinct elements (or slices along `axis`) of x, sorted or in order of first "
                   "occurrence, with first indices, inverse indices and counts (ONNX Unique)"))


def _iou(a, b):
    """Intersection over union of boxes [y1, x1, y2, x2] (corners in any order)."""
    ay1, ay2 = min(a[0], a[2]), max(a[0], a[2])
    ax1, ax2 = min(a[1], a[3]), max(a[1], a[3])
    by1, by2 = min(b[0], b[2]), max(b[0], b[2])
    bx1, bx2 = min(b[1], b[3]), max(b[1], b[3])
    inter = max(0.0, min(ay2, by2) - max(ay1, by1)) * max(0.0, min(ax2, bx2) - max(ax1, bx1))
    union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter
    return inter / union if union > 0 else 0.0


def _nms_ref(boxes, scores, max_out=None, iou=None, score=None, center_point_box=0):
    """Greedy per (batch, class): the best-scoring box, then the next one
    overlapping no kept box by more than the IoU threshold, ..."""
    limit = int(np.asarray(max_out).reshape(-1)[0]) if max_out is not None and max_out.size else 0
    iou_t = float(np.asarray(iou).reshape(-1)[0]) if iou is not None and iou.size else 0.0
    score_t = float(np.asarray(score).reshape(-1)[0]) if score is not None and score.size else None
    b = boxes.astype(np.float64)
    if center_point_box:     # [x_center, y_center, width, height] -> corners
        b = np.stack([b[..., 1] - b[..., 3] / 2, b[..., 0] - b[..., 2] / 2,
                      b[..., 1] + b[..., 3] / 2, b[..., 0] + b[..., 2] / 2], -1)
    out = []
    for n in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[n, c]
            order = [i for i in np.argsort(-s, kind="stable") if score_t is None or s[i] > score_t]
            kept: list[int] = []
            for i in order:
                if len(kept) >= limit:
                    break
                if all(_iou(b[n, i], b[n, j]) <= iou_t for j in kept):
                    kept.append(i)
            out += [(n, c, i) for i in kept]
    return np.array(out, np.int64).reshape(-1, 3)


register(OpDef("non_max_suppression", OPAQUE,
               lambda ins, center_point_box=0: (np.dtype("int64"), (unknown_dim(), 3)),
               _nms_ref, dynamic_shape=True,
               doc="selected [batch, class, box] triples of greedy non-maximum suppression "
                   "(ONNX NonMaxSuppression)"))


IMAGE_FORMATS = {"RGB": 3, "BGR": 3, "Grayscale": 1}


def _image_decode_infer(ins, pixel_format="RGB"):
    data = ins[0]
    if data.dtype != np.uint8 or data.rank != 1:
        raise ShapeError(f"the encoded image must be a 1-D uint8 tensor, got {data.type_str}")
    return np.dtype("uint8"), (unknown_dim(), unknown_dim(), IMAGE_FORMATS[pixel_format])


def _image_decode_ref(data, pixel_format="RGB"):
    """Decodes with Pillow (imported here: only this op needs it; the
    converter checks that it is installed)."""
    import io

    import PIL.Image
    try:
        img = PIL.Image.open(io.BytesIO(np.asarray(data, np.uint8).tobytes()))
        img = img.convert("L" if pixel_format == "Grayscale" else "RGB")
    except (OSError, ValueError) as e:   # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"cannot decode the image ({data.size} bytes): {e}") from None
    y = np.asarray(img, np.uint8).reshape(img.height, img.width, -1)
    return np.ascontiguousarray(y[:, :, ::-1] if pixel_format == "BGR" else y)


register(OpDef("image_decode", OPAQUE, _image_decode_infer, _image_decode_ref, dynamic_shape=True,
               doc="an encoded image (JPEG, PNG, BMP, TIFF, WebP, PNM, JPEG 2000) decoded to [H, W, C] uint8 "
                   "by Pillow (ONNX ImageDecoder)"))
