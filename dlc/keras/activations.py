"""Activations by Keras name, emitted as ONNX nodes."""
from __future__ import annotations

import math

from ..ir.errors import ModelError
from .backend import Builder, Sym


def _unary(op, **attrs):
    return lambda b, s, hint: Sym(b.node(op, [s.name], hint, **attrs), s.shape, s.dtype, s.nchw)


def _softmax(op):
    def emit(b, s, hint):
        return Sym(b.node(op, [s.name], hint, axis=1 if s.nchw else -1), s.shape, s.dtype, s.nchw)
    return emit


def _swish(b, s, hint):
    return Sym(b.node("Mul", [s.name, b.node("Sigmoid", [s.name], hint)], hint), s.shape, s.dtype, s.nchw)


def _gelu(b, s, hint):   # x * Phi(x), with Erf (Gelu is an ONNX op only since opset 20)
    scaled = b.node("Mul", [s.name, b.const(1 / math.sqrt(2), hint, "float32")], hint)
    cdf = b.node("Add", [b.node("Erf", [scaled], hint), b.const(1.0, hint, "float32")], hint)
    half = b.node("Mul", [s.name, b.const(0.5, hint, "float32")], hint)
    return Sym(b.node("Mul", [half, cdf], hint), s.shape, s.dtype, s.nchw)


def _mish(b, s, hint):   # x * tanh(softplus(x)) (Mish is an ONNX op only since opset 18)
    t = b.node("Tanh", [b.node("Softplus", [s.name], hint)], hint)
    return Sym(b.node("Mul", [s.name, t], hint), s.shape, s.dtype, s.nchw)


def _relu6(b, s, hint):
    return Sym(b.node("Clip", [s.name, b.const(0.0, hint, "float32"), b.const(6.0, hint, "float32")], hint),
               s.shape, s.dtype, s.nchw)


ACTIVATIONS = {
    "relu": _unary("Relu"), "sigmoid": _unary("Sigmoid"), "tanh": _unary("Tanh"),
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "elu": _unary("Elu", alpha=1.0), "selu": _unary("Selu"), "softplus": _unary("Softplus"),
    "softsign": _unary("Softsign"), "swish": _swish, "silu": _swish, "gelu": _gelu, "relu6": _relu6,
    "leaky_relu": _unary("LeakyRelu", alpha=0.2), "exponential": _unary("Exp"),
    "hard_sigmoid": _unary("HardSigmoid", alpha=1 / 6, beta=0.5), "mish": _mish,
}


def check(name) -> str | None:
    """Validate an activation argument; None and 'linear' mean none."""
    if name is None or name == "linear":
        return None
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ModelError(f"unknown activation {name!r}; known: linear, {', '.join(ACTIVATIONS)}")
    return name


def emit(b: Builder, s: Sym, name: str | None, hint: str) -> Sym:
    return s if name is None else ACTIVATIONS[name](b, s, hint)
