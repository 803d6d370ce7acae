"""``dropout`` for training, with a step counter.

(ONNX's Dropout with a run-time ratio/training flag and a mask output is
``dropout_with_mask`` in ir/ops/random.py.)

Each element's random number comes from the counter-based generator of
ir/ops/random.py, keyed by (seed, step) and counted by the flat index, so a
mask is reproducible, identical in compiled and interpreted runs, and
independent of how loops are split over threads.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import OPAQUE, OpDef, register
from .random import _NpGen, random_bits, stream_key

U64 = np.dtype("uint64")


def keep_threshold(ratio: float) -> int:
    """An element is kept when its 53 random bits, as an integer, are >= this."""
    return min(int(round(float(ratio) * (1 << 53))), 1 << 53)


def _key(seed: int, step: int) -> np.uint64:
    with np.errstate(over="ignore"):
        return stream_key(_NpGen, int(seed), np.uint64(int(step) & (2 ** 64 - 1)))


def dropout_mask(shape, seed: int, step: int, ratio: float) -> np.ndarray:
    """The keep mask (bool) that `dropout` uses for this seed and step."""
    n = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        bits = random_bits(_NpGen, _key(seed, step), np.arange(n, dtype=U64))
    return (bits >= np.uint64(keep_threshold(ratio))).reshape(shape)


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
    if step is None:
        key = k.const(int(_key(seed, 0)), U64)
    else:
        key = k.local(stream_key(k, int(seed), k.load(step, [0] * step.rank)), "key", U64)
    threshold = k.const(keep_threshold(ratio), U64)
    with k.loops(y.shape) as idx:
        flat = 0
        for i, d in zip(idx, y.shape):
            flat = flat * d + i
        keep = random_bits(k, key, flat) >= threshold
        k.store(y, idx, k.select(keep, k.load(x, idx) * _scale(ratio), k.zero(y.dtype)))


def _dropout_vjp(d, ins, outs, gouts, ratio, seed=0):
    """y = x * mask / (1 - ratio): the same op on g regenerates the mask."""
    return [d.dropout(gouts[0], *ins[1:], ratio=ratio, seed=seed)] + [None] * (len(ins) - 1)


register(OpDef("dropout", OPAQUE, _dropout_infer, _dropout_ref, lower=_dropout_lower, vjp=_dropout_vjp,
               doc="training-mode dropout: x * keep / (1 - ratio); inputs x and an optional int64 step "
                   "that, with the `seed` attribute, picks the mask"))
