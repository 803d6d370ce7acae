"""``dft``: the discrete Fourier transform along one axis, as ONNX's DFT.

The input's last dim holds the real part (size 1) or the real and imaginary
parts (size 2) of each value; so does the output (2, or 1 for an inverse
one-sided transform, which rebuilds a real signal from half a spectrum).
`length` pads or truncates the signal (its default: the axis size, or
2 * (size - 1) for an inverse one-sided transform); `onesided` keeps the
first length // 2 + 1 frequencies of a forward transform.

Each output element is a direct sum over the signal (O(n²) per line),
accumulated in float64 with angles reduced modulo the length. The axis is
an attribute, or a run-time input when the output shape does not depend
on it (no onesided, no length): then it picks the axis per element.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axis as norm_axis
from .base import OPAQUE, OpDef, register

F64, INDEX = np.dtype("float64"), np.dtype("int64")


def _signal_axis(axis, rank):
    """ONNX counts the axis over the whole input, the last (real/imag) dim included."""
    a = norm_axis(axis, rank)
    if a == rank - 1:
        raise ShapeError(f"dft axis {axis} is the real/imaginary dim")
    return a


def _geometry(shape, axis, inverse, onesided, length):
    """(signal axis, input length along it, transform length, output length)."""
    a = axis
    size = shape[a]
    n = length if length is not None else (2 * (size - 1) if inverse and onesided else size)
    out = (n // 2 + 1) if onesided and not inverse else n
    return a, size, n, out


def _dft_infer(ins, axis=None, inverse=0, onesided=0, length=None):
    x = ins[0]
    if dtypes.kind(x.dtype) != "f" or x.rank < 2 or x.shape[-1] not in (1, 2):
        raise ShapeError(f"dft expects a float input [..., 1 or 2], got {x.type_str}")
    last = 1 if inverse and onesided else 2
    if axis is None:                  # a run-time axis
        if onesided or length is not None:
            raise ShapeError("dft: a run-time axis needs onesided=0 and no length")
        return x.dtype, x.shape[:-1] + (last,)
    a = _signal_axis(axis, x.rank)
    a, _, _, out = _geometry(x.shape, a, inverse, onesided, length)
    shape = list(x.shape[:-1]) + [last]
    shape[a] = out
    return x.dtype, tuple(shape)


def _dft_ref(x, axis_in=None, axis=None, inverse=0, onesided=0, length=None):
    a = int(np.asarray(axis_in).reshape(-1)[0]) if axis is None else axis
    a = _signal_axis(a, x.ndim)
    a, _, n, _ = _geometry(x.shape, a, inverse, onesided, length)
    sig = x[..., 0].astype(np.complex128) + (1j * x[..., 1] if x.shape[-1] == 2 else 0)
    if not inverse:
        r = np.fft.fft(sig, n=n, axis=a)
        if onesided:
            r = np.take(r, np.arange(n // 2 + 1), axis=a)
    elif onesided:
        return np.fft.irfft(sig, n=n, axis=a)[..., None].astype(x.dtype)
    else:
        r = np.fft.ifft(sig, n=n, axis=a)
    return np.stack([r.real, r.imag], axis=-1).astype(x.dtype)


def _dft_lower(k, ins, outs, axis=None, inverse=0, onesided=0, length=None):
    x, y = ins[0], outs[0]
    if not y.numel:
        return
    r = x.rank - 1                     # signal dims (the last one is real/imag)
    complex_in = x.shape[-1] == 2
    with k.loops(y.shape[:-1]) as idx:
        if axis is None:               # pick the axis at run time (all axes keep their sizes)
            ab = ins[1]
            av = k.cast(k.load(ab, [0] * ab.rank), INDEX)
            av = k.local(k.select(av < 0, av + x.rank, av), "axis")
            k.check((av >= 0) & (av < r), f"axis out of range for {r} signal dims")
            pos, size = idx[0], k.const(x.shape[0], INDEX)
            for d in range(1, r):
                pos = k.select(k.eq(av, d), idx[d], pos)
                size = k.select(k.eq(av, d), k.const(x.shape[d], INDEX), size)
            o, size = k.local(pos, "o"), k.local(size, "size")
            n, used = size, size

            def src(j):
                return [k.select(k.eq(av, d), j, idx[d]) for d in range(r)]
        else:
            a, size, n_, _ = _geometry(x.shape, _signal_axis(axis, x.rank), inverse, onesided, length)
            o = idx[a]
            n = k.const(n_, INDEX)
            used = k.const(min(size, n_ if not (inverse and onesided) else size), INDEX)

            def src(j, a=a):
                s = list(idx)
                s[a] = j
                return s
        nf = k.cast(n, F64)
        re = k.local(k.const(0.0, F64), "re")
        im = k.local(k.const(0.0, F64), "im")
        sign = 1.0 if inverse else -1.0
        if inverse and onesided:       # a real signal from half a spectrum (Hermitian symmetry)
            half = k.local(k.floordiv(n, 2) + 1, "half")
            with k.loop(k.min(used, half), "j") as j:
                theta = (2.0 * math.pi) * k.cast(k.floormod(j * o, n), F64) / nf
                xr = k.cast(k.load(x, src(j) + [0]), F64)
                xi = k.cast(k.load(x, src(j) + [1]), F64) if complex_in else k.const(0.0, F64)
                term = xr * k.cos(theta) - xi * k.sin(theta)
                # DC (and Nyquist, for even n) count once and drop their imaginary part
                edge = k.eq(j, 0) | k.eq(j * 2, n)
                k.assign(re, re + k.select(edge, xr * k.cos(theta), 2.0 * term))
            k.store(y, list(idx) + [0], k.cast(re / nf, y.dtype))
            continue_ = False
        else:
            continue_ = True
        if continue_:
            with k.loop(k.min(used, n), "j") as j:
                theta = (2.0 * math.pi) * k.cast(k.floormod(j * o, n), F64) / nf
                c, s = k.local(k.cos(theta), "c"), k.local(sign * k.sin(theta), "s")
                xr = k.cast(k.load(x, src(j) + [0]), F64)
                xi = k.cast(k.load(x, src(j) + [1]), F64) if complex_in else k.const(0.0, F64)
                k.assign(re, re + xr * c - xi * s)
                k.assign(im, im + xr * s + xi * c)
            scale = (1.0 / nf) if inverse else k.const(1.0, F64)
            k.store(y, list(idx) + [0], k.cast(re * scale, y.dtype))
            k.store(y, list(idx) + [1], k.cast(im * scale, y.dtype))


register(OpDef("dft", OPAQUE, _dft_infer, _dft_ref, lower=_dft_lower,
               doc="discrete Fourier transform along `axis` (or a run-time axis input); inverse, onesided, "
                   "length; values as [..., real(, imag)]"))


# -------------------------------------------------------- mel_weight_matrix
def _scalar(v):
    return np.asarray(v).reshape(-1)[0]


def _mel_infer(ins, dtype):
    bins, length = ins[0], ins[1]
    if bins.const is None or length.const is None:
        raise ShapeError("mel_weight_matrix: num_mel_bins and dft_length decide the output shape: constants")
    return np.dtype(dtype), (int(_scalar(length.const)) // 2 + 1, int(_scalar(bins.const)))


def _mel_ref(num_mel_bins, dft_length, sample_rate, lower_hz, upper_hz, dtype):
    """The ONNX definition: triangular filters between mel-spaced edges."""
    bins, n, rate = int(_scalar(num_mel_bins)), int(_scalar(dft_length)), _scalar(sample_rate)
    lo, hi = float(_scalar(lower_hz)), float(_scalar(upper_hz))
    edges = np.arange(bins + 2)
    lo_mel, hi_mel = 2595 * np.log1p(lo / 700) / np.log(10), 2595 * np.log1p(hi / 700) / np.log(10)
    edges = edges * ((hi_mel - lo_mel) / (bins + 2)) + lo_mel
    edges = (((n + 1) * (700 * np.expm1(edges / 2595 * np.log(10)))) // rate).astype(int)
    out = np.zeros((n // 2 + 1, bins))
    for i in range(bins):
        left, center, right = edges[i], edges[i + 1], edges[i + 2]
        if center == left:
            out[center, i] = 1
        else:
            for j in range(left, center + 1):
                out[j, i] = (j - left) / (center - left)
        for j in range(center, right):
            out[j, i] = (right - j) / (right - center)
    return out.astype(dtype)


def _mel_lower(k, ins, outs, dtype):
    """Only reached with folding off: the matrix from the constant inputs."""
    out = outs[0]
    value = _mel_ref(*[b.const for b in ins], dtype=dtype)
    for idx in np.ndindex(*value.shape):
        k.store(out, list(idx), k.const(value[idx], out.dtype))


register(OpDef("mel_weight_matrix", OPAQUE, _mel_infer, _mel_ref, lower=_mel_lower, static_inputs=(0, 1, 2, 3, 4),
               doc="[dft_length // 2 + 1, num_mel_bins] triangular mel filters (a compile-time constant)"))
