"""Converters: the ai.onnx.preview.training optimizers Adagrad, Momentum and
Adam, as elementwise IR ops over each (X, G, state...) group. R (learning
rate) and T (iteration count) are run-time scalars."""
from __future__ import annotations

import numpy as np

from .registry import converter

DOMAIN = "ai.onnx.preview.training"


class _Ops:
    """Small elementwise helpers over IR values in one float dtype."""

    def __init__(self, cx, dtype):
        self.cx, self.dt = cx, np.dtype(dtype)

    def c(self, v):
        return self.cx.const(np.array(v, self.dt))

    def __getattr__(self, op):   # add, sub, mul, div, sqrt, pow, where, greater...
        return lambda *xs: self.cx.op(op, list(xs))


def _groups(n, per: int):
    data = [n.need(i) for i in range(2, len(n.inputs))]
    if len(data) % per:
        raise n.error(f"expects 2 + {per}*N inputs, got {len(n.inputs)}")
    k = len(data) // per
    return [data[j * k:(j + 1) * k] for j in range(per)]


def _scalars(cx, n, o):
    r = cx.cast(cx.reshape(n.need(0), []), o.dt)
    t = cx.cast(cx.reshape(n.need(1), []), o.dt)
    return r, t


@converter("Adagrad", domain=DOMAIN)
def adagrad(cx, n):
    xs, gs, hs = _groups(n, 3)
    o = _Ops(cx, xs[0].dtype)
    r, t = _scalars(cx, n, o)
    decay, eps, norm = (float(n.attr(a, d)) for a, d in (("decay_factor", 0.0), ("epsilon", 0.0),
                                                         ("norm_coefficient", 0.0)))
    lr = o.div(r, o.add(o.c(1), o.mul(t, o.c(decay))))
    new_x, new_h = [], []
    for x, g, h in zip(xs, gs, hs):
        g = o.add(o.mul(o.c(norm), x), cx.cast(g, o.dt))
        h2 = o.add(cx.cast(h, o.dt), o.mul(g, g))
        new_x.append(o.sub(x, o.div(o.mul(lr, g), o.add(o.sqrt(h2), o.c(eps)))))
        new_h.append(h2)
    return new_x + new_h


@converter("Momentum", domain=DOMAIN)
def momentum(cx, n):
    xs, gs, vs = _groups(n, 3)
    o = _Ops(cx, xs[0].dtype)
    r, t = _scalars(cx, n, o)
    alpha, beta, norm = (float(n.attr(a)) for a in ("alpha", "beta", "norm_coefficient"))
    nesterov = n.attr("mode", "standard") == "nesterov"
    b = o.where(o.greater(t, o.c(0)), o.c(beta), o.c(1))   # the first step takes the whole gradient
    new_x, new_v = [], []
    for x, g, v in zip(xs, gs, vs):
        g = o.add(o.mul(o.c(norm), x), cx.cast(g, o.dt))
        v2 = o.add(o.mul(o.c(alpha), cx.cast(v, o.dt)), o.mul(b, g))
        step = o.add(g, o.mul(o.c(alpha), v2)) if nesterov else v2
        new_x.append(o.sub(x, o.mul(r, step)))
        new_v.append(v2)
    return new_x + new_v


@converter("Adam", domain=DOMAIN)
def adam(cx, n):
    xs, gs, vs, hs = _groups(n, 4)
    o = _Ops(cx, xs[0].dtype)
    r, t = _scalars(cx, n, o)
    alpha, beta, eps, norm, post = (float(n.attr(a, d)) for a, d in (
        ("alpha", 0.9), ("beta", 0.999), ("epsilon", 0.0), ("norm_coefficient", 0.0),
        ("norm_coefficient_post", 0.0)))
    # bias correction from the second step on: r * sqrt(1 - beta^t) / (1 - alpha^t)
    corrected = o.div(o.mul(r, o.sqrt(o.sub(o.c(1), o.pow(o.c(beta), t)))), o.sub(o.c(1), o.pow(o.c(alpha), t)))
    lr = o.where(o.greater(t, o.c(0)), corrected, r)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(xs, gs, vs, hs):
        g = o.add(o.mul(o.c(norm), x), cx.cast(g, o.dt))
        v2 = o.add(o.mul(o.c(alpha), cx.cast(v, o.dt)), o.mul(o.c(1 - alpha), g))
        h2 = o.add(o.mul(o.c(beta), cx.cast(h, o.dt)), o.mul(o.c(1 - beta), o.mul(g, g)))
        x2 = o.sub(x, o.mul(lr, o.div(v2, o.add(o.sqrt(h2), o.c(eps)))))
        new_x.append(o.mul(o.c(1 - post), x2))
        new_v.append(v2)
        new_h.append(h2)
    return new_x + new_v + new_h
