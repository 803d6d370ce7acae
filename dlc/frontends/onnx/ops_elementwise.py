"""Converters: elementwise math, activations, logic, Cast, Clip, Where,
variadic Sum/Mean/Min/Max, and the pass-through ops (Identity, Dropout)."""
from __future__ import annotations

import hashlib

import numpy as np
import onnx

from ...ir import dtypes
from ...ir.errors import UnsupportedError
from .registry import converter

_UNARY = {
    "Abs": "abs", "Neg": "neg", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Exp": "exp", "Log": "log",
    "Erf": "erf", "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign", "Sin": "sin",
    "Cos": "cos", "Tan": "tan", "Tanh": "tanh", "Asin": "asin", "Acos": "acos", "Atan": "atan",
    "Sinh": "sinh", "Cosh": "cosh", "Asinh": "asinh", "Acosh": "acosh", "Atanh": "atanh", "Not": "not",
    "IsNaN": "isnan", "Sigmoid": "sigmoid", "Relu": "relu", "Softplus": "softplus", "Softsign": "softsign",
    "HardSwish": "hard_swish", "Mish": "mish", "BitwiseNot": "bitwise_not",
}
# op type -> (IR op, the attributes it forwards)
_UNARY_ATTRS = {
    "LeakyRelu": ("leaky_relu", ("alpha",)), "Elu": ("elu", ("alpha",)), "Celu": ("celu", ("alpha",)),
    "Selu": ("selu", ("alpha", "gamma")), "HardSigmoid": ("hard_sigmoid", ("alpha", "beta")),
    "ThresholdedRelu": ("thresholded_relu", ("alpha",)), "Shrink": ("shrink", ("bias", "lambd")),
    "IsInf": ("isinf", ("detect_positive", "detect_negative")), "Gelu": ("gelu", ("approximate",)),
}
_BINARY = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Equal": "equal", "Less": "less",
    "Greater": "greater", "LessOrEqual": "less_equal", "GreaterOrEqual": "greater_equal", "And": "and",
    "Or": "or", "Xor": "xor", "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or",
    "BitwiseXor": "bitwise_xor",
}


def _unary(ir_op, attr_names=()):
    def convert(cx, n):
        return cx.op(ir_op, [n.need(0)], **{a: n.attr(a) for a in attr_names})
    return convert


def legacy_broadcast(cx, n, a, b):
    """Before opset 7, binary ops broadcast only B, and only when
    ``broadcast=1``: B's dims match A's from ``axis`` on (or A's trailing
    dims when no axis is given, which numpy broadcasting also does)."""
    if n.opset >= 7 or not n.attr("broadcast", 0) or n.attr("axis") is None:
        return b
    axis = int(n.attr("axis"))
    axis = axis + a.rank if axis < 0 else axis
    trailing = a.rank - axis - b.rank
    if trailing < 0:
        raise n.error(f"B of shape {list(b.shape)} does not fit A {list(a.shape)} from axis {axis}")
    return cx.reshape(b, list(b.shape) + [1] * trailing) if trailing else b


def _binary(ir_op):
    def convert(cx, n):
        a, b = n.need(0), n.need(1)
        return cx.op(ir_op, [a, legacy_broadcast(cx, n, a, b)])
    return convert


for _t, _op in _UNARY.items():
    converter(_t)(_unary(_op))
for _t, (_op, _attrs) in _UNARY_ATTRS.items():
    converter(_t)(_unary(_op, _attrs))
for _t, _op in _BINARY.items():
    converter(_t)(_binary(_op))


@converter("Pow")
def pow_(cx, n):
    x, y = n.need(0), n.need(1)
    return cx.op("pow", [x, cx.cast(legacy_broadcast(cx, n, x, y), x.dtype)])


@converter("Mod")
def mod(cx, n):
    return cx.op("mod", [n.need(0), n.need(1)], fmod=int(n.attr("fmod", 0)))


@converter("BitShift")
def bitshift(cx, n):
    return cx.op("bitshift", [n.need(0), n.need(1)], direction=str(n.attr("direction")).lower())


@converter("PRelu")
def prelu(cx, n):
    x, slope = n.need(0), n.need(1)
    if n.opset < 7 and slope.rank == 1 and x.rank > 2 and slope.shape[0] == x.shape[1] != x.shape[-1]:
        slope = cx.reshape(slope, [-1] + [1] * (x.rank - 2))   # PRelu-6: one slope per channel
    return cx.op("prelu", [x, slope])


@converter("Where")
def where(cx, n):
    return cx.op("where", [n.need(0), n.need(1), n.need(2)])


def _variadic(ir_op, mean=False):
    def convert(cx, n):
        vals = [v for v in n.inputs if v is not None]
        if not vals:
            raise n.error("needs at least one input")
        acc = vals[0]
        for v in vals[1:]:
            acc = cx.op(ir_op, [acc, v])
        if mean:
            acc = cx.op("div", [acc, cx.const(np.array(len(vals), acc.dtype))])
        return acc if len(vals) > 1 or mean else cx.op("copy", [acc])
    return convert


converter("Sum")(_variadic("add"))
converter("Mean")(_variadic("add", mean=True))
converter("Min")(_variadic("min"))
converter("Max")(_variadic("max"))


def onnx_dtype(n, elem_type: int) -> np.dtype:
    try:
        dt = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(elem_type)))
    except Exception:
        dt = None
    if dt is None or dt not in dtypes.SUPPORTED:
        name = onnx.TensorProto.DataType.Name(int(elem_type)).lower()
        raise n.error(f"dtype {name} is not supported yet", UnsupportedError)
    return dt


@converter("Cast")
def cast(cx, n):
    to = n.attr("to")
    if isinstance(to, str):   # Cast-1 names the type: "FLOAT"
        to = onnx.TensorProto.DataType.Value(to.upper())
    return _cast(cx, n, onnx_dtype(n, to))


def _cast(cx, n, to):
    x = n.need(0)
    if x.dtype == to:
        return x
    saturate = int(n.attr("saturate", 1)) if n.opset >= 19 else 1
    if to == dtypes.float8_e8m0fnu and (not saturate or n.attr("round_mode", "up") != "up"):
        raise n.error("casts to float8e8m0 round up and saturate (round_mode 'up', saturate 1) only",
                      UnsupportedError)
    return cx.op("cast", [x], to=to, **({"saturate": 1} if saturate and to in dtypes.FLOAT8 else {}))


@converter("BitCast", since=26)
def bitcast(cx, n):
    return cx.op("bitcast", [n.need(0)], to=onnx_dtype(n, n.attr("to")))


@converter("CastLike")
def cast_like(cx, n):
    return _cast(cx, n, n.need(1).dtype)


@converter("Clip", since=6)
def clip_v6(cx, n):
    x = n.need(0)
    lo, hi = n.attr("min", -3.4028234663852886e38), n.attr("max", 3.4028234663852886e38)
    x = cx.op("max", [x, cx.const(np.array(lo, x.dtype))])
    return cx.op("min", [x, cx.const(np.array(hi, x.dtype))])


@converter("Clip", since=11)
def clip_v11(cx, n):
    x, lo, hi = n.need(0), n.input(1), n.input(2)
    if lo is not None:
        x = cx.op("max", [x, lo])
    if hi is not None:
        x = cx.op("min", [x, hi])
    return x if lo is not None or hi is not None else cx.op("copy", [x])


@converter("Identity")
def identity(cx, n):
    return n.need(0)


@converter("Dropout")
def dropout(cx, n):
    """Identity (and an all-true mask) at inference; with a training_mode
    input that may be true, a random dropout: `dropout` (per-step masks,
    differentiable) when everything is constant and no mask is asked for,
    else `dropout_with_mask` (ops_random.py)."""
    x = n.need(0)
    training = n.input(2)
    if training is not None and (training.const is None or bool(training.const)):
        ratio = n.input(1)
        if training.const is not None and not n.wants_output(1) and (ratio is None or ratio.const is not None):
            return _dropout_training(cx, n, x)   # trainable: a new mask each step, with a gradient
        from .ops_random import training_dropout
        return training_dropout(cx, n, x, training)   # a run-time flag or ratio, or the mask output
    outs = [x]
    if n.wants_output(1):   # the mask: all True at inference
        outs.append(cx.op("expand", [cx.const(np.array(True)), cx.op("shape", [x])]))
    return outs


def _dropout_training(cx, n, x):
    """Training mode with a constant true training_mode and ratio and no mask
    output: the IR dropout, its mask seeded by the node's `seed` (or its
    name). The training step feeds a step counter as the op's second input,
    so each step draws a new mask."""
    ratio = n.input(1)
    ratio = 0.5 if ratio is None else float(np.asarray(ratio.const).reshape(-1)[0])
    if ratio == 0:
        return [x]
    seed = n.attr("seed")
    if seed is None:
        seed = int.from_bytes(hashlib.blake2b(n.name.encode(), digest_size=4).digest(), "little")
    return [cx.op("dropout", [x, None], ratio=ratio, seed=int(seed))]


@converter("Constant")
def constant(cx, n):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in n.proto_attrs:
            v = n.attrs[key]
            arr = np.asarray(v, dtype=np.float32 if "float" in key else np.int64 if "int" in key else None)
            if arr.dtype not in dtypes.SUPPORTED:
                raise n.error(f"dtype {arr.dtype.name} is not supported yet", UnsupportedError)
            return cx.g.const(arr, name=n.output_names[0])
    raise n.error(f"only tensor, float(s) and int(s) constants are supported "
                  f"(got {', '.join(sorted(n.proto_attrs)) or 'no value'})", UnsupportedError)
