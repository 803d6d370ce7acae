"""Random ops: uniform and normal samples, multinomial draws, and
training-mode dropout.

Numbers come from a counter-based generator: element i of an op with seed s
is a hash (splitmix64) of (s, i), so kernels need no state, any element can
be computed on its own (in parallel), and the numpy reference reproduces the
kernel bit for bit. The stream is therefore fixed per seed: every run of a
compiled model draws the same numbers (an op without a seed gets one chosen
when the model is converted). Results cannot match another runtime's
generator; the conformance harness checks these ops by shape and dtype.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

U64, F32, F64, INDEX = np.dtype("uint64"), np.dtype("float32"), np.dtype("float64"), np.dtype("int64")
_GOLDEN = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def seed_bits(seed: float) -> int:
    """An ONNX float seed as 64 bits."""
    return int(np.float64(seed).view(np.uint64)) if seed is not None else 0


# -- the generator, written once for numpy (uint64 arrays wrap) and kernel IR
def _mix(m, z):
    z = m.xor(z, m.shr(z, 30)) * _M1
    z = m.xor(z, m.shr(z, 27)) * _M2
    return m.xor(z, m.shr(z, 31))


def _uniform(m, seed: int, counter):
    """A float64 in [0, 1) from 53 bits of hash(seed, counter)."""
    z = m.cast(counter, U64) * _GOLDEN + m.const((seed * _GOLDEN + _GOLDEN) & (2 ** 64 - 1), U64)
    bits = m.shr(_mix(m, z), 11)
    return m.cast(bits, F64) * (1.0 / (1 << 53))


def _normal(m, seed: int, counter):
    """A standard normal (Box-Muller from two uniforms of the element)."""
    u1 = 1.0 - _uniform(m, seed, counter * 2)        # in (0, 1]
    u2 = _uniform(m, seed, counter * 2 + 1)
    return m.sqrt(-2.0 * m.log(u1)) * m.cos((2.0 * np.pi) * u2)


class _NpGen:
    @staticmethod
    def xor(a, b):
        return np.bitwise_xor(a, np.asarray(b, U64))

    @staticmethod
    def shr(a, n):
        return np.right_shift(a, np.asarray(n, U64))

    @staticmethod
    def cast(x, dt):
        return np.asarray(x).astype(dt)

    @staticmethod
    def const(v, dt):
        return np.asarray(v, dt)

    sqrt, log, cos = staticmethod(np.sqrt), staticmethod(np.log), staticmethod(np.cos)


def _np_counters(n: int):
    return np.arange(n, dtype=U64)


def _flat(k, idx, shape):
    f = 0
    for i, d in zip(idx, shape):
        f = f * d + i
    return k.cast(f, INDEX)


def _samples(dist):
    return _uniform if dist == "uniform" else _normal


# --------------------------------------------------------- random (+ _like)
def _random_infer(ins, shape=None, dtype=None, dist="uniform", a=0.0, b=1.0, seed=0):
    if ins and ins[0] is not None:
        shape = ins[0].shape
        dtype = dtype if dtype is not None else ins[0].dtype
    if shape is None or dtype is None:
        raise ShapeError("random: needs a shape and a dtype (or an input to take them from)")
    if dtypes.kind(dtype) != "f":
        raise ShapeError(f"random: dtype must be a float type, got {np.dtype(dtype).name}")
    return np.dtype(dtype), tuple(shape)


def _random_ref(*ins, shape=None, dtype=None, dist="uniform", a=0.0, b=1.0, seed=0):
    if ins and ins[0] is not None:
        shape = ins[0].shape
        dtype = dtype if dtype is not None else ins[0].dtype
    n = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        v = _samples(dist)(_NpGen, seed, _np_counters(n))
    # uniform: a + (b - a) * u; normal: a (mean) + b (scale) * z
    v = a + (b - a) * v if dist == "uniform" else a + b * v
    return v.reshape(shape).astype(dtype)


def _random_lower(k, ins, outs, shape=None, dtype=None, dist="uniform", a=0.0, b=1.0, seed=0):
    out = outs[0]
    if not out.numel:
        return
    with k.loops(out.shape) as idx:
        v = _samples(dist)(k, seed, _flat(k, idx, out.shape))
        v = a + (b - a) * v if dist == "uniform" else a + b * v
        k.store(out, idx, k.cast(v, out.dtype))


register(OpDef("random", OPAQUE, _random_infer, _random_ref, lower=_random_lower,
               doc="uniform [a, b) or normal (mean a, scale b) samples; shape and dtype from the "
                   "attributes or from an input (its data unused)"))


# --------------------------------------------------------------- multinomial
def _multinomial_infer(ins, sample_size=1, dtype=np.dtype("int32"), seed=0):
    x = ins[0]
    if x.rank != 2 or dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"multinomial expects float [batch, classes] log-probabilities, got {x.type_str}")
    return np.dtype(dtype), (x.shape[0], int(sample_size))


def _multinomial_ref(x, sample_size=1, dtype=np.dtype("int32"), seed=0):
    b, c = x.shape
    p = np.exp(x.astype(F64) - x.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    with np.errstate(over="ignore"):
        u = _uniform(_NpGen, seed, _np_counters(b * sample_size)).reshape(b, sample_size)
    target = u * cdf[:, -1:]
    out = np.array([[min(int(np.sum(cdf[i] <= t)), c - 1) for t in target[i]] for i in range(b)])
    return out.astype(dtype)


def _multinomial_lower(k, ins, outs, sample_size=1, dtype=np.dtype("int32"), seed=0):
    x, out = ins[0], outs[0]
    b, c = x.shape
    if not out.numel:
        return
    with k.loop(b, "b", parallel=True) as bi:
        m = k.local(k.const(-np.inf, F64), "max")
        with k.loop(c, "j") as j:
            k.assign(m, k.max(m, k.cast(k.load(x, [bi, j]), F64)))
        total = k.local(k.const(0.0, F64), "total")
        with k.loop(c, "j") as j:
            k.assign(total, total + k.exp(k.cast(k.load(x, [bi, j]), F64) - m))
        with k.loop(sample_size, "s") as s:
            t = k.local(_uniform(k, seed, bi * sample_size + s) * total, "t")
            acc = k.local(k.const(0.0, F64), "cdf")
            pick = k.local(k.const(0, INDEX), "pick")
            with k.loop(c, "j") as j:     # the first class whose cdf exceeds t
                k.assign(acc, acc + k.exp(k.cast(k.load(x, [bi, j]), F64) - m))
                k.assign(pick, pick + k.cast(acc <= t, INDEX))
            k.store(out, [bi, s], k.cast(k.min(pick, c - 1), out.dtype))


register(OpDef("multinomial", OPAQUE, _multinomial_infer, _multinomial_ref, lower=_multinomial_lower,
               doc="sample_size class draws per row of unnormalized log-probabilities"))


# ----------------------------------------------------------------- dropout
def _dropout_infer(ins, seed=0):
    x, ratio, training = ins
    if dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"dropout expects a float input, got {x.dtype.name}")
    return [(x.dtype, x.shape), (np.dtype("bool"), x.shape)]


def _dropout_ref(x, ratio, training, seed=0):
    r = float(np.asarray(ratio).reshape(-1)[0])
    if not bool(np.asarray(training).reshape(-1)[0]) or r == 0:
        return x.copy(), np.ones(x.shape, bool)
    with np.errstate(over="ignore"):
        keep = _uniform(_NpGen, seed, _np_counters(x.size)).reshape(x.shape) >= r
    return np.where(keep, x / (1.0 - r), 0).astype(x.dtype), keep


def _dropout_lower(k, ins, outs, seed=0):
    x, ratio, training = ins
    y, mask = outs
    if not y.numel:
        return
    r = k.local(k.cast(k.load(ratio, [0] * ratio.rank), F64), "ratio")
    on = k.local(k.cast(k.load(training, [0] * training.rank), np.dtype("bool")) & k.ne(r, 0.0), "on")
    scale = k.local(k.select(on, 1.0 / (1.0 - r), k.const(1.0, F64)), "scale")
    with k.loops(y.shape) as idx:
        keep = k.local(~on | (_uniform(k, seed, _flat(k, idx, y.shape)) >= r), "keep")
        v = k.cast(k.load(x, idx), F64) * scale
        k.store(y, idx, k.cast(k.select(keep, v, k.const(0.0, F64)), y.dtype))
        k.store(mask, idx, keep)


register(OpDef("dropout_with_mask", OPAQUE, _dropout_infer, _dropout_ref, lower=_dropout_lower,
               doc="x (and an all-true mask) unless training (a run-time bool) and ratio > 0: then "
                   "each element is kept with probability 1 - ratio and scaled by 1 / (1 - ratio)"))
