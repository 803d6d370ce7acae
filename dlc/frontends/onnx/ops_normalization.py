"""Converters: Softmax, LogSoftmax, the inference-time normalizations
(BatchNormalization, InstanceNormalization, LayerNormalization) and
ArgMax/ArgMin."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError
from .registry import converter


def _axis(n, rank):
    a = int(n.attr("axis"))
    if not -rank <= a < max(rank, 1):
        raise n.error(f"axis {a} is out of range for rank {rank}")
    return a % rank if rank else 0


# ------------------------------------------------------------------ softmax
def _softmax(ir_op, coerce_2d):
    """Before opset 13 the input is seen as 2-D, [before axis, from axis on],
    so the row is every axis from `axis`; since 13 it is the one axis."""
    def convert(cx, n):
        x = n.need(0)
        if x.rank == 0:
            raise n.error("the input must have rank >= 1")
        a = _axis(n, x.rank)
        return cx.op(ir_op, [x], axes=tuple(range(a, x.rank)) if coerce_2d else (a,))
    return convert


for _t, _op in (("Softmax", "softmax"), ("LogSoftmax", "log_softmax")):
    converter(_t, since=1)(_softmax(_op, coerce_2d=True))
    converter(_t, since=13)(_softmax(_op, coerce_2d=False))


# ----------------------------------------------------------- normalizations
def _per_channel(cx, v, x):
    """A [C] parameter as [C, 1, ...], to broadcast over x's [N, C, ...]."""
    v = cx.cast(v, x.dtype)
    return cx.reshape(v, [-1] + [1] * (x.rank - 2)) if x.rank > 2 else v


def _only_first_output(n):
    if any(n.wants_output(i) for i in range(1, n.num_outputs)):
        raise n.error("only the first output (Y) is supported; the others exist for training",
                      UnsupportedError)


def _batch_norm_training(cx, n, x):
    """Training mode (training_mode=1 since opset 14; before it, asking for
    the running mean/var outputs): normalize with the batch's mean and
    (biased) variance over all axes but the channels, and return the
    running statistics moved toward them by 1 - momentum."""
    if any(n.wants_output(i) for i in range(3, n.num_outputs)):
        raise n.error("the saved_mean/saved_var outputs are not supported", UnsupportedError)
    axes = (0,) + tuple(range(2, x.rank))
    mean = cx.op("reduce_mean", [x], axes=axes, keepdims=True)
    centered = cx.op("sub", [x, mean])
    var = cx.op("reduce_mean", [cx.op("mul", [centered, centered])], axes=axes, keepdims=True)
    eps = cx.const(np.array(n.attr("epsilon"), x.dtype))
    scale = cx.op("mul", [cx.op("reciprocal", [cx.op("sqrt", [cx.op("add", [var, eps])])]),
                          _per_channel(cx, n.need(1), x)])
    y = cx.op("add", [cx.op("mul", [centered, scale]), _per_channel(cx, n.need(2), x)])
    momentum = float(n.attr("momentum", 0.9))
    outs = [y]
    for i, batch in ((3, mean), (4, var)):
        if n.wants_output(i - 2):
            running = cx.cast(n.need(i), x.dtype)
            batch = cx.reshape(batch, [-1])
            new = cx.op("add", [cx.op("mul", [running, cx.const(np.array(momentum, x.dtype))]),
                                cx.op("mul", [batch, cx.const(np.array(1 - momentum, x.dtype))])])
            outs.append(cx.cast(new, n.need(i).dtype))
    return outs


@converter("BatchNormalization")
def batch_norm(cx, n):
    """y = x * scale + shift with scale = gamma / sqrt(var + eps) and
    shift = beta - mean * scale: constant weights fold both to one constant."""
    x = n.need(0)
    if not n.attr("spatial", 1):
        raise n.error("spatial=0 is not supported", UnsupportedError)
    if n.attr("training_mode", 0) or (n.opset < 14 and (n.wants_output(1) or n.wants_output(2))):
        if x.rank < 2:
            raise n.error(f"X must have rank >= 2 ([N, C, ...]), got {list(x.shape)}")
        return _batch_norm_training(cx, n, x)
    _only_first_output(n)
    if x.rank < 2:
        raise n.error(f"X must have rank >= 2 ([N, C, ...]), got {list(x.shape)}")
    gamma, beta, mean, var = (_per_channel(cx, n.need(i), x) for i in range(1, 5))
    eps = cx.const(np.array(n.attr("epsilon"), x.dtype))
    scale = cx.op("div", [gamma, cx.op("sqrt", [cx.op("add", [var, eps])])])
    shift = cx.op("sub", [beta, cx.op("mul", [mean, scale])])
    return cx.op("add", [cx.op("mul", [x, scale]), shift])


@converter("InstanceNormalization")
def instance_norm(cx, n):
    x = n.need(0)
    if x.rank < 3:
        raise n.error(f"X must have rank >= 3 ([N, C, D1, ...]), got {list(x.shape)}")
    y = cx.op("normalize", [x], axis=2, epsilon=float(n.attr("epsilon")))
    y = cx.op("mul", [y, _per_channel(cx, n.need(1), x)])
    return cx.op("add", [y, _per_channel(cx, n.need(2), x)])


@converter("LayerNormalization", since=17)
def layer_norm(cx, n):
    """Computed in the input's dtype whatever stash_type says (float32 and
    float64 inputs only, so this is never less precise)."""
    _only_first_output(n)
    x, scale, bias = n.need(0), n.need(1), n.input(2)
    if x.rank == 0:
        raise n.error("X must have rank >= 1")
    y = cx.op("normalize", [x], axis=_axis(n, x.rank), epsilon=float(n.attr("epsilon")))
    y = cx.op("mul", [y, cx.cast(scale, x.dtype)])
    return y if bias is None else cx.op("add", [y, cx.cast(bias, x.dtype)])


@converter("RMSNormalization", since=23)
def rms_norm(cx, n):
    """One kernel: x / sqrt(mean(x^2) + epsilon) over the axes from `axis`,
    times scale. float16/bfloat16 compute in float32 (stash_type's float32)."""
    x, scale = n.need(0), n.need(1)
    if x.rank == 0:
        raise n.error("X must have rank >= 1")
    y = cx.op("rms_normalize", [x], axis=_axis(n, x.rank), epsilon=float(n.attr("epsilon")))
    return cx.op("mul", [y, cx.cast(scale, x.dtype)])


@converter("GroupNormalization", since=18)
def group_norm(cx, n):
    """Normalize each group of channels (with everything after them) as one
    row: [N, G, C/G * spatial] through the layer-norm kernel. Opset 18's
    scale and bias have one value per group, opset 21's one per channel."""
    x, scale, bias = n.need(0), n.need(1), n.need(2)
    g = int(n.attr("num_groups"))
    if x.rank < 2 or not isinstance(x.shape[1], int) or g < 1 or x.shape[1] % g:
        raise n.error(f"X {list(x.shape)} must have a known channel count divisible by num_groups {g}")
    c = x.shape[1]
    t = cx.op("reshape", [x, cx.const(np.array([0, g, -1], np.int64))])
    t = cx.op("normalize", [t], axis=2, epsilon=float(n.attr("epsilon")))
    if n.opset < 21 and scale.shape == (g,) and g != c:   # per group: repeat over the group's channels
        scale, bias = (cx.op("gather", [v, cx.const(np.arange(c, dtype=np.int64) // (c // g))]) for v in (scale, bias))
    y = cx.op("reshape", [t, cx.op("shape", [x])])
    y = cx.op("mul", [y, _per_channel(cx, scale, x)])
    return cx.op("add", [y, _per_channel(cx, bias, x)])


# ------------------------------------------------------------ ArgMax/ArgMin
def _arg(ir_op):
    def convert(cx, n):
        x = n.need(0)
        if x.rank == 0:
            raise n.error("the input must have rank >= 1")
        return cx.op(ir_op, [x], axis=_axis(n, x.rank), keepdims=bool(n.attr("keepdims", 1)),
                     select_last_index=int(n.attr("select_last_index", 0)))
    return convert


converter("ArgMax")(_arg("argmax"))
converter("ArgMin")(_arg("argmin"))


# -------------------------------------------------------------------- Hardmax
def _hardmax(coerce_2d):
    """1 at the first largest element along the axis, 0 elsewhere: argmax
    compared with the positions along the axis. Before opset 13 the input
    is seen as 2-D, [before axis, from axis on]."""
    def convert(cx, n):
        x = n.need(0)
        if x.rank == 0:
            raise n.error("the input must have rank >= 1")
        a = _axis(n, x.rank)
        orig = x
        if coerce_2d:
            x = cx.op("flatten", [x], axis=a)
            a = 1
        pos = cx.op("argmax", [x], axis=a, keepdims=True)
        iota = np.arange(x.shape[a], dtype=np.int64).reshape([-1 if d == a else 1 for d in range(x.rank)])
        y = cx.cast(cx.op("equal", [pos, cx.const(iota)]), x.dtype)
        return cx.op("reshape", [y, cx.op("shape", [orig])]) if coerce_2d else y
    return convert


converter("Hardmax", since=1)(_hardmax(coerce_2d=True))
converter("Hardmax", since=13)(_hardmax(coerce_2d=False))


# ----------------------------------------------------------- LpNormalization
@converter("LpNormalization")
def lp_normalization(cx, n):
    """x / ||x||_p along the axis (p = 1 or 2); 0 where the norm is 0."""
    x = n.need(0)
    a, p = _axis(n, x.rank), int(n.attr("p", 2))
    if p not in (1, 2):
        raise n.error(f"p must be 1 or 2, got {p}")
    norm = cx.op("reduce_l1" if p == 1 else "reduce_l2", [x], axes=(a,), keepdims=True)
    zero = cx.const(np.array(0, x.dtype))
    return cx.op("where", [cx.op("equal", [norm, zero]), zero, cx.op("div", [x, norm])])
