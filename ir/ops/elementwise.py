"""Elementwise ops: unary math and activations, binary arithmetic and logic
with numpy broadcasting, ``where`` and ``cast``. Each is a numpy reference
plus a scalar formula in kernel IR; codegen supplies the loop nest."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import broadcast
from .base import BROADCAST, ELEMWISE, OpDef, register

_erf = np.frompyfunc(math.erf, 1, 1)


def np_erf(x: np.ndarray) -> np.ndarray:
    return _erf(x).astype(x.dtype) if x.size else x.copy()


# --------------------------------------------------------------- type rules
def _check_kind(x, kinds: str, op: str) -> None:
    if dtypes.kind(x.dtype) not in kinds:
        want = {"f": "a float", "iu": "an integer", "b": "a bool", "iuf": "a numeric",
                "fi": "a signed numeric", "iub": "an integer or bool"}.get(kinds, kinds)
        raise ShapeError(f"{op} expects {want} input, got {x.dtype.name}")


def unary_infer(kinds: str, op: str, out=None):
    def infer(ins, **_):
        x = ins[0]
        _check_kind(x, kinds, op)
        return (np.dtype(out) if out else x.dtype), x.shape
    return infer


def binary_infer(kinds: str, op: str, out=None):
    def infer(ins, **_):
        a, b = ins
        if a.dtype != b.dtype:
            raise ShapeError(f"{op}: input dtypes differ ({a.dtype.name} vs {b.dtype.name})")
        _check_kind(a, kinds, op)
        return (np.dtype(out) if out else a.dtype), broadcast(a.shape, b.shape)
    return infer


# ----------------------------------------------------------- gradient rules
def uvjp(fn):
    """A unary op's gradient rule from ``fn(d, g, x, y, **attrs)`` -> dx."""
    return lambda d, ins, outs, gouts, **attrs: [fn(d, gouts[0], ins[0], outs[0], **attrs)]


def bvjp(fn):
    """A binary op's gradient rule from ``fn(d, g, a, b, y)`` -> (da, db)."""
    return lambda d, ins, outs, gouts, **attrs: list(fn(d, gouts[0], ins[0], ins[1], outs[0], **attrs))


def _zero_grad(d, g, x, y, **_):   # piecewise constant: zero almost everywhere
    return None


_INV_SQRT_PI_2 = 2 / math.sqrt(math.pi)
_TRIG_VJP = {
    "sin": lambda d, g, x, y: g * d.cos(x),
    "cos": lambda d, g, x, y: -g * d.sin(x),
    "tan": lambda d, g, x, y: g * (1 + y * y),
    "tanh": lambda d, g, x, y: g * (1 - y * y),
    "sinh": lambda d, g, x, y: g * d.cosh(x),
    "cosh": lambda d, g, x, y: g * d.sinh(x),
    "asin": lambda d, g, x, y: g / d.sqrt(1 - x * x),
    "acos": lambda d, g, x, y: -g / d.sqrt(1 - x * x),
    "atan": lambda d, g, x, y: g / (1 + x * x),
    "asinh": lambda d, g, x, y: g / d.sqrt(x * x + 1),
    "acosh": lambda d, g, x, y: g / d.sqrt(x * x - 1),
    "atanh": lambda d, g, x, y: g / (1 - x * x),
}


def _unary(name, ref, scalar, kinds="f", out=None, **kw):
    register(OpDef(name, ELEMWISE, unary_infer(kinds, name, out), ref, scalar=scalar, **kw))


def _binary(name, ref, scalar, kinds="iuf", out=None, **kw):
    register(OpDef(name, BROADCAST, binary_infer(kinds, name, out), ref, scalar=scalar, **kw))


# ---------------------------------------------------------------- unary math
_unary("copy", lambda x: x.copy(), lambda k, x: x, kinds="iufb", vjp=uvjp(lambda d, g, x, y: g),
       doc="a real copy (e.g. a graph output that is also an input)")
_unary("neg", np.negative, lambda k, x: -x, kinds="if", vjp=uvjp(lambda d, g, x, y: -g))
_unary("abs", np.abs, lambda k, x: k.abs(x), kinds="iuf", vjp=uvjp(lambda d, g, x, y: g * d.sign(x)))
_unary("sign", np.sign, lambda k, x: k.cast(x > 0, x.dtype) - k.cast(x < 0, x.dtype), kinds="iuf",
       vjp=uvjp(_zero_grad))
_unary("sqrt", np.sqrt, lambda k, x: k.sqrt(x), vjp=uvjp(lambda d, g, x, y: g / (y * 2)))
_unary("reciprocal", lambda x: np.reciprocal(x), lambda k, x: 1 / x, vjp=uvjp(lambda d, g, x, y: -g * y * y))
_unary("exp", np.exp, lambda k, x: k.exp(x), vjp=uvjp(lambda d, g, x, y: g * y))
_unary("log", np.log, lambda k, x: k.log(x), vjp=uvjp(lambda d, g, x, y: g / x))
_unary("erf", np_erf, lambda k, x: k.erf(x), vjp=uvjp(lambda d, g, x, y: g * _INV_SQRT_PI_2 * d.exp(-(x * x))))
_unary("floor", np.floor, lambda k, x: k.floor(x), vjp=uvjp(_zero_grad))
_unary("ceil", np.ceil, lambda k, x: k.ceil(x), vjp=uvjp(_zero_grad))
_unary("round", np.round, lambda k, x: k.round(x), vjp=uvjp(_zero_grad))  # half to even, as ONNX
for _name in ("sin", "cos", "tan", "tanh", "sinh", "cosh"):
    _unary(_name, getattr(np, _name), (lambda op: lambda k, x: getattr(k, op)(x))(_name),
           vjp=uvjp(_TRIG_VJP[_name]))
for _name, _np in (("asin", np.arcsin), ("acos", np.arccos), ("atan", np.arctan),
                   ("asinh", np.arcsinh), ("acosh", np.arccosh), ("atanh", np.arctanh)):
    _unary(_name, _np, (lambda op: lambda k, x: getattr(k, op)(x))(_name), vjp=uvjp(_TRIG_VJP[_name]))
_unary("not", np.logical_not, lambda k, x: k.not_(x), kinds="b")
_unary("bitwise_not", np.invert, lambda k, x: k.not_(x), kinds="iu")
_unary("isnan", np.isnan, lambda k, x: k.isnan(x), out="bool")


def _isinf_ref(x, detect_positive=1, detect_negative=1):
    return (np.isposinf(x) & bool(detect_positive)) | (np.isneginf(x) & bool(detect_negative))


def _isinf_scalar(k, x, detect_positive=1, detect_negative=1):
    inf = k.const(np.inf, x.dtype)
    pos, neg = k.eq(x, inf), k.eq(x, -inf)
    return (pos if detect_positive else k.const(False, "bool")) | (neg if detect_negative else k.const(False, "bool"))


_unary("isinf", _isinf_ref, _isinf_scalar, out="bool")


def _cast_infer(ins, to, saturate=0):
    return dtypes.check(to, "cast"), ins[0].shape


def _to_e8m0(x):
    """float32 -> float8e8m0: the exponent, rounded up, saturated (as the kernel)."""
    bits = np.asarray(x, np.float32).view(np.uint32)
    e = (bits >> 23) & 0xFF
    up = ((bits & 0x7FFFFF) != 0) & (e < 0xFE)
    e = np.where(e == 0xFF, e, e + up)
    e = np.where((bits & 0x7FFFFFFF) == 0x00400000, 0, e)    # 2**-127 itself (code 0)
    return e.astype(np.uint8).view(dtypes.float8_e8m0fnu)


def _cast_ref(x, to, saturate=0):
    if np.dtype(to) == dtypes.string:   # numbers as numpy prints them (the onnx reference does the same)
        return x.astype(np.str_).astype(object)
    if x.dtype == dtypes.string and dtypes.kind(to) == "b":   # a string's bool is "is it non-empty"
        return x.astype(np.float64).astype(to)
    if np.dtype(to) == dtypes.float8_e8m0fnu:
        return _to_e8m0(x)
    if saturate and np.dtype(to) in dtypes.FLOAT8:   # clamp to the largest finite value (NaN stays NaN)
        info = dtypes.finfo(to)
        with np.errstate(invalid="ignore"):
            x = np.clip(x, float(info.min), float(info.max))
    return x.astype(to)


def _cast_scalar(k, x, to, saturate=0):
    if saturate and np.dtype(to) in dtypes.FLOAT8 and x.dtype.kind in "fiu":
        m = float(dtypes.finfo(to).max)
        x = k.clamp(x, k.const(-m, x.dtype), k.const(m, x.dtype))
    return k.cast(x, to)


register(OpDef("cast", ELEMWISE, _cast_infer, _cast_ref, scalar=_cast_scalar,
               vjp=uvjp(lambda d, g, x, y, to, saturate=0: g), strings=True,
               doc="numpy's astype; saturate=1 clamps to a float8 type's finite range first "
                   "(float->4/2-bit int truncates and wraps, as ml_dtypes); to and from strings "
                   "on the host (numbers written and parsed as numpy does)"))


# ----------------------------------------------------------- activations
def _sigmoid_ref(x):
    return (1 / (1 + np.exp(-x))).astype(x.dtype)


def _softplus(k, x):  # log(1 + e^x) without overflow
    return k.max(x, k.zero(x.dtype)) + k.log1p(k.exp(-k.abs(x)))


def _softplus_ref(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype)


def _mish_vjp(d, g, x, y):
    t = d.tanh(d.softplus(x))
    return g * (t + x * (1 - t * t) * d.sigmoid(x))


def _softsign_vjp(d, g, x, y):
    a = 1 + d.abs(x)
    return g / (a * a)


_unary("sigmoid", _sigmoid_ref, lambda k, x: 1 / (1 + k.exp(-x)), vjp=uvjp(lambda d, g, x, y: g * y * (1 - y)))
_unary("relu", lambda x: np.maximum(x, x.dtype.type(0)),
       lambda k, x: k.select(x < 0, k.zero(x.dtype), x), kinds="iuf",
       vjp=uvjp(lambda d, g, x, y: d.where(x > 0, g, 0)))
_unary("leaky_relu", lambda x, alpha=0.01: np.where(x < 0, x * x.dtype.type(alpha), x),
       lambda k, x, alpha=0.01: k.select(x < 0, x * alpha, x),
       vjp=uvjp(lambda d, g, x, y, alpha=0.01: d.where(x < 0, g * alpha, g)))
_unary("elu", lambda x, alpha=1.0: np.where(x < 0, alpha * np.expm1(x), x).astype(x.dtype),
       lambda k, x, alpha=1.0: k.select(x < 0, alpha * k.expm1(x), x),
       vjp=uvjp(lambda d, g, x, y, alpha=1.0: d.where(x < 0, g * (y + alpha), g)))
_unary("celu", lambda x, alpha=1.0: (np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha))).astype(x.dtype),
       lambda k, x, alpha=1.0: k.max(x, 0) + k.min(k.zero(x.dtype), alpha * k.expm1(x / alpha)),
       vjp=uvjp(lambda d, g, x, y, alpha=1.0: d.where(x < 0, g * d.exp(x / alpha), g)))
_unary("selu",
       lambda x, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875:
       np.where(x <= 0, gamma * alpha * np.expm1(x), gamma * x).astype(x.dtype),
       lambda k, x, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875:
       k.select(x <= 0, (gamma * alpha) * k.expm1(x), gamma * x),
       vjp=uvjp(lambda d, g, x, y, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875:
                d.where(x <= 0, g * (y + gamma * alpha), g * gamma)))
_unary("hard_sigmoid",
       lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1).astype(x.dtype),
       lambda k, x, alpha=0.2, beta=0.5: k.clamp(alpha * x + beta, k.zero(x.dtype), k.one(x.dtype)),
       vjp=uvjp(lambda d, g, x, y, alpha=0.2, beta=0.5: d.where((y > 0) & (y < 1), g * alpha, 0)))
_unary("hard_swish",
       lambda x: (x * np.clip(x / 6 + 0.5, 0, 1)).astype(x.dtype),
       lambda k, x: x * k.clamp(x * (1 / 6) + 0.5, k.zero(x.dtype), k.one(x.dtype)),
       vjp=uvjp(lambda d, g, x, y: d.where(x < -3, 0, d.where(x > 3, g, g * (x / 3 + 0.5)))))
_unary("softplus", _softplus_ref, _softplus, vjp=uvjp(lambda d, g, x, y: g * d.sigmoid(x)))
_unary("softsign", lambda x: x / (1 + np.abs(x)), lambda k, x: x / (1 + k.abs(x)), vjp=uvjp(_softsign_vjp))
_unary("mish", lambda x: (x * np.tanh(_softplus_ref(x))).astype(x.dtype),
       lambda k, x: x * k.tanh(_softplus(k, x)), vjp=uvjp(_mish_vjp))
_unary("thresholded_relu", lambda x, alpha=1.0: np.where(x > alpha, x, 0).astype(x.dtype),
       lambda k, x, alpha=1.0: k.select(x > alpha, x, k.zero(x.dtype)),
       vjp=uvjp(lambda d, g, x, y, alpha=1.0: d.where(x > alpha, g, 0)))
_unary("shrink",
       lambda x, bias=0.0, lambd=0.5: np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0)).astype(x.dtype),
       lambda k, x, bias=0.0, lambd=0.5: k.select(x < -lambd, x + bias,
                                                  k.select(x > lambd, x - bias, k.zero(x.dtype))),
       kinds="iuf", vjp=uvjp(lambda d, g, x, y, bias=0.0, lambd=0.5: d.where((x < -lambd) | (x > lambd), g, 0)))

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_ref(x, approximate="none"):
    if approximate == "tanh":
        y = 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
    else:
        y = 0.5 * x * (1 + np_erf(x / math.sqrt(2)))
    return y.astype(x.dtype)


def _gelu(k, x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + k.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + k.erf(x * (1 / math.sqrt(2))))


def _gelu_vjp(d, g, x, y, approximate="none"):
    if approximate == "tanh":
        t = d.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x))
    cdf = 0.5 * (1 + d.erf(x * (1 / math.sqrt(2))))
    return g * (cdf + x * d.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi)))


_unary("gelu", _gelu_ref, _gelu, vjp=uvjp(_gelu_vjp))


# ------------------------------------------------------------------ binary
def _int_div(a, b):
    """C-style truncating integer division; x/0 gives 0 (no trap)."""
    with np.errstate(all="ignore"):
        safe = np.where(b == 0, 1, b)
        q = np.abs(a) // np.abs(safe)
        q = np.where((a < 0) != (safe < 0), -q, q).astype(a.dtype) if a.dtype.kind == "i" else a // safe
        return np.where(b == 0, 0, q).astype(np.result_type(a, b))


def _div_ref(a, b):
    return _int_div(a, b) if a.dtype.kind in "iu" else np.divide(a, b)


def _mod_ref(a, b, fmod=0):
    with np.errstate(all="ignore"):
        if a.dtype.kind == "f":   # fmod: C's fmod; else numpy's (Python's) floored mod
            return np.fmod(a, b) if fmod else np.mod(a, b)
        if fmod:
            return np.where(b == 0, 0, np.fmod(a, np.where(b == 0, 1, b)))
    return np.where(b == 0, 0, np.mod(a, np.where(b == 0, 1, b))).astype(a.dtype)


def _float_floormod(k, a, b):
    """numpy's float mod: the sign of the divisor; a zero result is a zero
    with the divisor's sign; x mod inf is x or +-inf."""
    r = k.rem(a, b)
    zero = k.zero(a.dtype)
    r = k.select(k.ne(r, zero) & k.ne(r < zero, b < zero), r + b, r)
    b_negative = (b < zero) | (k.eq(b, zero) & (1 / b < zero))   # 1/-0 is -inf
    return k.select(k.eq(r, zero), k.select(b_negative, -zero, zero), r)


def _mod(k, a, b, fmod=0):
    if a.dtype.kind == "f":
        return k.rem(a, b) if fmod else _float_floormod(k, a, b)
    return k.rem(a, b) if fmod else k.floormod(a, b)


def _pow_ref(a, b):
    if a.dtype.kind in "iu":
        return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
    return np.power(a, b)


def _pow_vjp(d, g, a, b, y):
    return g * b * d.pow(a, b - 1), d.where(a > 0, g * y * d.log(d.where(a > 0, a, 1)), 0)


def _minmax_vjp(pick_a):
    def rule(d, g, a, b, y):
        take_a = pick_a(a, b)
        return d.where(take_a, g, 0), d.where(take_a, 0, g)
    return rule


_binary("add", np.add, lambda k, a, b: a + b, vjp=bvjp(lambda d, g, a, b, y: (g, g)))
_binary("sub", np.subtract, lambda k, a, b: a - b, vjp=bvjp(lambda d, g, a, b, y: (g, -g)))
_binary("mul", np.multiply, lambda k, a, b: a * b, vjp=bvjp(lambda d, g, a, b, y: (g * b, g * a)))
_binary("div", _div_ref, lambda k, a, b: a / b, vjp=bvjp(lambda d, g, a, b, y: (g / b, -g * y / b)))
_binary("mod", _mod_ref, _mod)
_binary("pow", _pow_ref, lambda k, a, b: k.pow(a, b), vjp=bvjp(_pow_vjp))
_binary("min", np.minimum, lambda k, a, b: k.min(a, b), kinds="iufb", vjp=bvjp(_minmax_vjp(lambda a, b: a <= b)))
_binary("max", np.maximum, lambda k, a, b: k.max(a, b), kinds="iufb", vjp=bvjp(_minmax_vjp(lambda a, b: a >= b)))
_binary("equal", np.equal, lambda k, a, b: k.eq(a, b), kinds="iufbO", out="bool", strings=True)   # O: strings
_binary("less", np.less, lambda k, a, b: a < b, kinds="iufb", out="bool")
_binary("less_equal", np.less_equal, lambda k, a, b: a <= b, kinds="iufb", out="bool")
_binary("greater", np.greater, lambda k, a, b: a > b, kinds="iufb", out="bool")
_binary("greater_equal", np.greater_equal, lambda k, a, b: a >= b, kinds="iufb", out="bool")
_binary("and", np.logical_and, lambda k, a, b: a & b, kinds="b")
_binary("or", np.logical_or, lambda k, a, b: a | b, kinds="b")
_binary("xor", np.logical_xor, lambda k, a, b: k.xor(a, b), kinds="b")
_binary("bitwise_and", np.bitwise_and, lambda k, a, b: a & b, kinds="iu")
_binary("bitwise_or", np.bitwise_or, lambda k, a, b: a | b, kinds="iu")
_binary("bitwise_xor", np.bitwise_xor, lambda k, a, b: k.xor(a, b), kinds="iu")
_binary("prelu", lambda x, s: np.where(x < 0, x * s, x).astype(x.dtype),
        lambda k, x, s: k.select(x < 0, x * s, x),
        vjp=bvjp(lambda d, g, x, s, y: (d.where(x < 0, g * s, g), d.where(x < 0, g * x, 0))))


def _shift_ref(a, b, direction="left"):
    """Shifts of a negative or too large amount give 0 (-1 for a right shift
    of a negative signed value); a right shift of a signed value is arithmetic."""
    bits = a.dtype.itemsize * 8
    a, b = np.broadcast_arrays(a, b)
    bad = (b < 0) | (b >= bits)
    safe = np.where(bad, 0, b)
    with np.errstate(all="ignore"):
        if direction == "left":
            u = np.dtype(f"u{a.dtype.itemsize}")
            r = np.left_shift(a.view(u) if a.dtype.kind == "i" else a, safe.astype(u)).view(a.dtype)
        else:
            r = np.right_shift(a, safe)
    fill = np.where((a < 0) & (direction != "left"), -1, 0) if a.dtype.kind == "i" else 0
    return np.where(bad, fill, r).astype(a.dtype)


def _shift(k, a, b, direction="left"):
    bits = a.dtype.itemsize * 8
    bad = (b >= bits) | (b < 0) if a.dtype.kind == "i" else b >= bits
    safe = k.select(bad, k.zero(a.dtype), b)     # LLVM leaves over-wide shifts undefined
    r = k.shl(a, safe) if direction == "left" else k.shr(a, safe)
    fill = k.zero(a.dtype)
    if a.dtype.kind == "i" and direction != "left":
        fill = k.select(a < 0, k.const(-1, a.dtype), fill)
    return k.select(bad, fill, r)


_binary("bitshift", _shift_ref, _shift, kinds="iu")


# ------------------------------------------------------------------- where
def _where_infer(ins, **_):
    c, a, b = ins
    if dtypes.kind(c.dtype) != "b":
        raise ShapeError(f"where: condition must be bool, got {c.dtype.name}")
    if a.dtype != b.dtype:
        raise ShapeError(f"where: branch dtypes differ ({a.dtype.name} vs {b.dtype.name})")
    return a.dtype, broadcast(c.shape, a.shape, b.shape)


def _where_vjp(d, ins, outs, gouts):
    c, g = ins[0], gouts[0]
    return [None, d.where(c, g, 0), d.where(c, 0, g)]


register(OpDef("where", BROADCAST, _where_infer, np.where, scalar=lambda k, c, a, b: k.select(c, a, b),
               vjp=_where_vjp))
