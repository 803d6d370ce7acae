"""``dropout`` for training, with a counter-based RNG and a step counter.

(ONNX's Dropout with a run-time ratio/training flag and a mask output is
``dropout_with_mask`` in ir/ops/random.py.)

Each element's random number is a hash of (seed, step, flat index), written
the same way in numpy (the reference) and in kernel IR, so a mask is
reproducible, identical in compiled and interpreted runs, and independent
of how loops are split over threads. The hash is Chris Wellons' 32-bit
"lowbias32" integer mixer; the 24 high bits of the result are the uniform
number.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

U32 = np.dtype("uint32")
_GOLDEN = 0x9E3779B9


def _mix(x, k, const):
    """lowbias32 on uint32 numpy arrays (k None) or kernel-IR expressions."""
    c1, c2 = const(0x7FEB352D), const(0x846CA68B)
    if k is None:
        x = x ^ (x >> np.uint32(16))
        x = x * c1
        x = x ^ (x >> np.uint32(15))
        x = x * c2
        return x ^ (x >> np.uint32(16))
    x = k.xor(x, k.shr(x, 16))
    x = x * c1
    x = k.xor(x, k.shr(x, 15))
    x = x * c2
    return k.xor(x, k.shr(x, 16))


def keep_threshold(ratio: float) -> int:
    """An element is kept when its 24-bit uniform number is >= this."""
    return min(int(round(float(ratio) * (1 << 24))), 1 << 24)


def dropout_key(seed: int, step: int) -> np.uint32:
    with np.errstate(over="ignore"):
        s = np.array([(int(step) & 0xFFFFFFFF) ^ _GOLDEN], U32)
        s = _mix(s, None, np.uint32) ^ np.uint32(int(seed) & 0xFFFFFFFF)
        return _mix(s, None, np.uint32)[0]


def dropout_mask(shape, seed: int, step: int, ratio: float) -> np.ndarray:
    """The keep mask (bool) that `dropout` uses for this seed and step."""
    n = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        u = _mix(np.arange(n, dtype=np.int64).astype(U32) ^ dropout_key(seed, step), None, np.uint32)
    return ((u >> np.uint32(8)) >= np.uint32(keep_threshold(ratio))).reshape(shape)


def _dropout_infer(ins, ratio, seed=0):
    x = ins[0]
    step = ins[1] if len(ins) > 1 else None
    if x.dtype.kind != "f":
        raise ShapeError(f"dropout expects a float input, got {x.dtype.name}")
    if not 0 <= ratio < 1:
        raise ShapeError(f"dropout ratio must be in [0, 1), got {ratio}")
    if step is not None and (step.dtype != np.dtype("int64") or (step.static and step.numel != 1)):
        raise ShapeError(f"dropout step must be an int64 scalar, got {step.type_str}")
    return x.dtype, x.shape


def _scale(ratio: float) -> float:
    return 1.0 / (1.0 - ratio)


def _dropout_ref(x, step=None, *, ratio, seed=0):
    keep = dropout_mask(x.shape, seed, 0 if step is None else int(np.asarray(step).reshape(-1)[0]), ratio)
    return np.where(keep, x * x.dtype.type(_scale(ratio)), x.dtype.type(0)).astype(x.dtype)


def _dropout_lower(k, ins, outs, ratio, seed=0):
    x, y = ins[0], outs[0]
    step = ins[1] if len(ins) > 1 else None
    u32 = lambda v: k.const(v, U32)   # noqa: E731
    s = k.cast(k.load(step, [0] * step.rank), U32) if step is not None else u32(0)
    key = k.local(_mix(k.xor(_mix(k.xor(s, u32(_GOLDEN)), k, u32), u32(int(seed) & 0xFFFFFFFF)), k, u32),
                  "key", U32)
    threshold = u32(keep_threshold(ratio))
    with k.loops(y.shape) as idx:
        flat = 0
        for i, d in zip(idx, y.shape):
            flat = flat * d + i
        u = _mix(k.xor(k.cast(flat, U32), key), k, u32)
        keep = k.shr(u, 8) >= threshold
        k.store(y, idx, k.select(keep, k.load(x, idx) * _scale(ratio), k.zero(y.dtype)))


def _dropout_vjp(d, ins, outs, gouts, ratio, seed=0):
    """y = x * mask / (1 - ratio): the same op on g regenerates the mask."""
    return [d.dropout(gouts[0], *ins[1:], ratio=ratio, seed=seed)] + [None] * (len(ins) - 1)


register(OpDef("dropout", OPAQUE, _dropout_infer, _dropout_ref, lower=_dropout_lower, vjp=_dropout_vjp,
               doc="training-mode dropout: x * keep / (1 - ratio); inputs x and an optional int64 step "
                   "that, with the `seed` attribute, picks the mask"))
