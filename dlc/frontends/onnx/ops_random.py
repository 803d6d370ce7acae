"""Converters: RandomUniform, RandomNormal, RandomUniformLike,
RandomNormalLike, Multinomial, and training-mode Dropout (see ir/ops/random.py:
a counter-based generator, fixed per seed)."""
from __future__ import annotations

import numpy as np

from ...ir.ops.random import seed_bits
from .ops_elementwise import onnx_dtype
from .registry import converter


def _seed(n) -> int:
    """The node's seed as 64 bits; a seedless node gets a random one now."""
    s = n.attr("seed")
    if s is None:
        return int(np.random.default_rng().integers(0, 2 ** 63))
    return seed_bits(s)


def _dtype(n, default=None):
    dt = n.attr("dtype")
    return onnx_dtype(n, dt) if dt is not None else default


@converter("RandomUniform")
def random_uniform(cx, n):
    return cx.op("random", [], shape=tuple(int(d) for d in n.attr("shape")), dtype=_dtype(n, np.float32),
                 dist="uniform", a=float(n.attr("low", 0.0)), b=float(n.attr("high", 1.0)), seed=_seed(n))


@converter("RandomNormal")
def random_normal(cx, n):
    return cx.op("random", [], shape=tuple(int(d) for d in n.attr("shape")), dtype=_dtype(n, np.float32),
                 dist="normal", a=float(n.attr("mean", 0.0)), b=float(n.attr("scale", 1.0)), seed=_seed(n))


@converter("RandomUniformLike")
def random_uniform_like(cx, n):
    x = n.need(0)
    return cx.op("random", [x], dtype=_dtype(n, x.dtype), dist="uniform", a=float(n.attr("low", 0.0)),
                 b=float(n.attr("high", 1.0)), seed=_seed(n))


@converter("RandomNormalLike")
def random_normal_like(cx, n):
    x = n.need(0)
    return cx.op("random", [x], dtype=_dtype(n, x.dtype), dist="normal", a=float(n.attr("mean", 0.0)),
                 b=float(n.attr("scale", 1.0)), seed=_seed(n))


@converter("Multinomial", since=7)
def multinomial(cx, n):
    return cx.op("multinomial", [n.need(0)], sample_size=int(n.attr("sample_size", 1)),
                 dtype=_dtype(n, np.int32), seed=_seed(n))


def training_dropout(cx, n, x, training):
    ratio = n.input(1)
    ratio = cx.const(np.array(0.5, np.float32)) if ratio is None else ratio
    y, mask = cx.op("dropout_with_mask", [x, ratio, training], seed=_seed(n))
    return [y, mask] if n.wants_output(1) else [y]


@converter("Bernoulli", since=15)
def bernoulli(cx, n):
    """1 with probability p. (The standard's function body, RandomUniformLike
    > p, draws 1 with probability 1 - p; onnxruntime's kernel and the
    operator's definition agree on p.)"""
    p = n.need(0)
    u = cx.op("random", [p], dtype=p.dtype, dist="uniform", a=0.0, b=1.0, seed=_seed(n))
    return cx.cast(cx.op("less", [u, p]), _dtype(n, p.dtype))
