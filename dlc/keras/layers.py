"""Keras-style layers. Each layer creates its weights in Keras' layouts and
with Keras' argument names and defaults, computes its output shape, and
emits its computation as ONNX nodes (`emit`). Weights are aligned numpy
arrays the compiled training steps update in place.

Images are channels-last (N, H, W, C) at the API; see backend.py for how
they are kept channels-first between convolutions. Recurrent layers are
unrolled over their (fixed) number of time steps.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

import numpy as np

from ..ir.errors import ModelError, UnsupportedError
from ..runtime.training import state_array
from . import activations, initializers
from .backend import Builder, Sym

_name_counts: dict[str, int] = defaultdict(int)


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _snake(name: str) -> str:
    """Keras' default layer names: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _pair(v, what: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ModelError(f"{what} must be an int or a pair of ints, got {v}")
    return v


class Variable:
    """A layer weight: an aligned numpy array (``value``) updated in place by training."""

    def __init__(self, name: str, value: np.ndarray, trainable: bool = True):
        self.name = name
        self.value = state_array(value, np.float32)
        self._trainable = trainable
        self.layer = None

    @property
    def trainable(self) -> bool:
        return self._trainable and (self.layer is None or self.layer.trainable)

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value) -> None:
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ModelError(f"cannot assign shape {list(value.shape)} to {self.name} of shape {list(self.shape)}")
        self.value[...] = value

    def __array__(self, dtype=None, copy=None):
        return self.value.astype(dtype) if dtype is not None else self.value.copy()

    def __repr__(self) -> str:
        return f"<Variable {self.name} shape={self.shape} trainable={self.trainable}>"


class KerasTensor:
    """A symbolic tensor of the functional API: shape (None for the batch),
    dtype, and the layer call that produces it."""

    def __init__(self, shape, dtype="float32", layer=None, inputs: Sequence["KerasTensor"] = (), name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.layer = layer
        self.inputs = list(inputs)
        self.name = name

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name}>"


class Layer:
    def __init__(self, name: str | None = None, trainable: bool = True, input_shape=None, batch_input_shape=None,
                 input_dim=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown arguments {', '.join(sorted(kwargs))}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self._vars: list[Variable] = []
        self.input_spec_shape = None   # (without batch) from input_shape= and friends
        if input_shape is not None:
            self.input_spec_shape = tuple(input_shape)
        elif batch_input_shape is not None:
            self.input_spec_shape = tuple(batch_input_shape)[1:]
        elif input_dim is not None:
            self.input_spec_shape = (int(input_dim),)
        self.output_shape = None
        self._inbound: list[KerasTensor] = []

    # ------------------------------------------------------------ weights
    def add_weight(self, name: str, shape, initializer="glorot_uniform", trainable: bool = True) -> Variable:
        v = Variable(f"{self.name}/{name}", initializers.get(initializer)(shape), trainable)
        v.layer = self
        self._vars.append(v)
        return v

    @property
    def weights(self) -> list[Variable]:
        return list(self._vars)

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if not v.trainable]

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        mine = self.weights
        if len(weights) != len(mine):
            raise ModelError(f"{self.name}: expected {len(mine)} weight arrays, got {len(weights)}")
        for v, w in zip(mine, weights):
            v.assign(w)

    def count_params(self) -> int:
        return int(sum(v.value.size for v in self.weights))

    # -------------------------------------------------------------- graph
    def build(self, input_shape) -> None:
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def output_dtype(self, input_dtype) -> np.dtype:
        return np.dtype("float32")

    def __call__(self, inputs, *args, **kwargs):
        many = isinstance(inputs, (list, tuple))
        xs = list(inputs) if many else [inputs]
        if not all(isinstance(x, KerasTensor) for x in xs):
            return self._eager(inputs)
        shapes = [x.shape for x in xs]
        shape = shapes if many else shapes[0]
        if not self.built:
            self.build(shape)
            self.built = True
        out = KerasTensor(self.compute_output_shape(shape), self.output_dtype(xs[0].dtype), self, xs)
        self.output_shape = out.shape
        self._inbound = xs
        return out

    def _eager(self, x):
        from .models import Sequential
        x = np.asarray(x)
        return Sequential([InputLayer(shape=x.shape[1:], dtype=x.dtype), self]).predict(x, verbose=0)

    def emit(self, b: Builder, ins: list[Sym]) -> Sym:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


# ------------------------------------------------------------------- input
class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype="float32", name=None, input_shape=None, **kwargs):
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ModelError("InputLayer needs shape=")
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.batch_size = batch_size
        self.built = True
        self.output = KerasTensor((None,) + self.shape, self.dtype, self, [], name=self.name)
        self.output_shape = self.output.shape


def Input(shape=None, batch_size=None, dtype="float32", name=None, **kwargs) -> KerasTensor:
    """A symbolic input of a functional model (shape without the batch dim)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs).output


# -------------------------------------------------------------------- core
class Dense(Layer):
    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.check(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def emit(self, b, ins):
        x = b.keras_layout(ins[0], self.name)
        y = b.node("MatMul", [x.name, b.weight(self.kernel.name, self.kernel.value)], self.name)
        if self.bias is not None:
            y = b.node("Add", [y, b.weight(self.bias.name, self.bias.value)], self.name)
        return activations.emit(b, Sym(y, self.compute_output_shape(ins[0].shape)), self.activation, self.name)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.check(activation)

    def emit(self, b, ins):
        s = ins[0]
        return activations.emit(b, s, self.activation, self.name)


class LeakyReLU(Layer):
    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(alpha if alpha is not None else negative_slope)

    def emit(self, b, ins):
        s = ins[0]
        return Sym(b.node("LeakyRelu", [s.name], self.name, alpha=self.negative_slope), s.shape, s.dtype, s.nchw)


class Dropout(Layer):
    """Active in fit (a new mask every step, seeded), the identity in
    evaluate and predict."""

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if noise_shape is not None:
            raise UnsupportedError("Dropout(noise_shape=...) is not supported")
        if not 0 <= rate < 1:
            raise ModelError(f"Dropout rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), seed

    def emit(self, b, ins):
        s = ins[0]
        attrs = {} if self.seed is None else {"seed": int(self.seed)}
        ratio = b.const(np.array(self.rate, np.float32), self.name)
        return Sym(b.node("Dropout", [s.name, ratio], self.name, **attrs), s.shape, s.dtype, s.nchw)


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64)))

    def emit(self, b, ins):
        x = b.keras_layout(ins[0], self.name)
        return Sym(b.node("Flatten", [x.name], self.name, axis=1), self.compute_output_shape(x.shape), x.dtype)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape):
        target = list(self.target_shape)
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
            total = int(np.prod(input_shape[1:], dtype=np.int64))
            target[target.index(-1)] = total // known
        return (input_shape[0],) + tuple(target)

    def emit(self, b, ins):
        x = b.keras_layout(ins[0], self.name)
        shape = b.ints([0] + list(self.target_shape), self.name)
        return Sym(b.node("Reshape", [x.name, shape], self.name), self.compute_output_shape(x.shape), x.dtype)


# -------------------------------------------------------------- convolution
def _conv_geometry(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """Output length and (begin, end) pads of one spatial axis, as Keras/TF compute them."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - span) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def _check_padding(padding: str) -> str:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ModelError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _check_channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise UnsupportedError("only data_format='channels_last' is supported (the Keras default)")


class _Conv2DBase(Layer):
    """What Conv2D and Conv2DTranspose share: arguments, weights, output
    shape and the ONNX node (NHWC in, transposed to NCHW around it)."""
    op = ""

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                 kernel_initializer, bias_initializer, **kwargs):
        super().__init__(**kwargs)
        _check_channels_last(data_format)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        self.padding = _check_padding(padding)
        self.activation = activations.check(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def _build(self, kernel_channels):
        """Keras' kernel layout: (kh, kw, *kernel_channels)."""
        self.kernel = self.add_weight("kernel", self.kernel_size + kernel_channels, self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None
        self.built = True

    def _check_rank(self, input_shape):
        if len(input_shape) != 4:
            raise ModelError(f"{self.name}: {type(self).__name__} expects (batch, height, width, channels) "
                             f"inputs, got shape {input_shape}")

    def compute_output_shape(self, input_shape):
        geo = self._geometry(input_shape)
        return (input_shape[0], geo[0][0], geo[1][0], self.filters)

    def _attrs(self, geo) -> dict:
        """The node's attributes besides the window's."""
        raise NotImplementedError

    def emit(self, b, ins):
        x = b.channels_first(ins[0], self.name)
        geo = self._geometry(x.shape)
        w = b.node("Transpose", [b.weight(self.kernel.name, self.kernel.value)], self.name, perm=[3, 2, 0, 1])
        args = [x.name, w] + ([b.weight(self.bias.name, self.bias.value)] if self.bias is not None else [])
        y = b.node(self.op, args, self.name, kernel_shape=list(self.kernel_size), strides=list(self.strides),
                   dilations=list(self.dilation_rate), pads=[geo[0][1], geo[1][1], geo[0][2], geo[1][2]],
                   **self._attrs(geo))
        y = Sym(y, self.compute_output_shape(ins[0].shape), nchw=True)
        return activations.emit(b, y, self.activation, self.name)


class Conv2D(_Conv2DBase):
    op = "Conv"

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid", data_format=None,
                 dilation_rate=(1, 1), groups: int = 1, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer, **kwargs)
        self.groups = int(groups)

    def build(self, input_shape):
        self._check_rank(input_shape)
        cin = input_shape[-1]
        if cin % self.groups or self.filters % self.groups:
            raise ModelError(f"{self.name}: channels {cin} and filters {self.filters} must divide by groups")
        self._build((cin // self.groups, self.filters))

    def _geometry(self, input_shape):
        return [_conv_geometry(input_shape[1 + j], self.kernel_size[j], self.strides[j], self.dilation_rate[j],
                               self.padding) for j in range(2)]

    def _attrs(self, geo) -> dict:
        return {"group": self.groups}


class Conv2DTranspose(_Conv2DBase):
    op = "ConvTranspose"

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer, **kwargs)
        self.output_padding = None if output_padding is None else _pair(output_padding, "output_padding")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self._build((self.filters, input_shape[-1]))   # Keras: (kh, kw, filters, input channels)

    def _geometry(self, input_shape):
        """Per spatial axis: output length, begin pad, end pad, output_padding (as Keras computes them)."""
        out = []
        for j in range(2):
            size, k, s, d = input_shape[1 + j], self.kernel_size[j], self.strides[j], self.dilation_rate[j]
            span = (k - 1) * d + 1
            op = None if self.output_padding is None else self.output_padding[j]
            if self.padding == "valid":
                length = (size - 1) * s + span + (op or 0) if op is not None else size * s + max(span - s, 0)
                begin = 0
            else:
                length = size * s if op is None else (size - 1) * s + op + span - 2 * (span // 2)
                begin = span // 2 if op is not None else max(span - s, 0) // 2
            full = (size - 1) * s + span
            extra = length + begin - full          # what the end pad (if negative) or output_padding adds
            out.append((length, begin, max(-extra, 0), max(extra, 0)))
        return out

    def _attrs(self, geo) -> dict:
        return {"output_padding": [geo[0][3], geo[1][3]]}


class _Pooling2D(Layer):
    op = ""

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_channels_last(data_format)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = _check_padding(padding)

    def _geometry(self, input_shape):
        return [_conv_geometry(input_shape[1 + j], self.pool_size[j], self.strides[j], 1, self.padding)
                for j in range(2)]

    def compute_output_shape(self, input_shape):
        geo = self._geometry(input_shape)
        return (input_shape[0], geo[0][0], geo[1][0], input_shape[3])

    def emit(self, b, ins):
        x = b.channels_first(ins[0], self.name)
        geo = self._geometry(x.shape)
        y = b.node(self.op, [x.name], self.name, kernel_shape=list(self.pool_size), strides=list(self.strides),
                   pads=[geo[0][1], geo[1][1], geo[0][2], geo[1][2]])
        return Sym(y, self.compute_output_shape(ins[0].shape), nchw=True)


class MaxPooling2D(_Pooling2D):
    op = "MaxPool"


class AveragePooling2D(_Pooling2D):
    op = "AveragePool"


class GlobalAveragePooling2D(Layer):
    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        _check_channels_last(data_format)
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    def emit(self, b, ins):
        x = ins[0]
        axes = [2, 3] if x.nchw else [1, 2]
        y = b.node("ReduceMean", [x.name], self.name, axes=axes, keepdims=int(self.keepdims))
        return Sym(y, self.compute_output_shape(ins[0].shape), nchw=x.nchw and self.keepdims)


# ----------------------------------------------------------- normalization
class BatchNormalization(Layer):
    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 0.001, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.inits = (gamma_initializer, beta_initializer, moving_mean_initializer, moving_variance_initializer)

    def build(self, input_shape):
        self._axis = self.axis % len(input_shape)
        if self._axis == 0:
            raise ModelError(f"{self.name}: cannot normalize over the batch axis")
        c = (input_shape[self._axis],)
        self.gamma = self.add_weight("gamma", c, self.inits[0]) if self.scale else None
        self.beta = self.add_weight("beta", c, self.inits[1]) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", c, self.inits[2], trainable=False)
        self.moving_variance = self.add_weight("moving_variance", c, self.inits[3], trainable=False)
        self.built = True

    def emit(self, b, ins):
        x = ins[0]
        rank, c = len(x.shape), x.shape[self._axis]
        if rank == 4 and self._axis == 3:
            x = b.channels_first(x, self.name)
            perm = None
        elif self._axis == 1 and not x.nchw:
            perm = None
        else:
            x = b.keras_layout(x, self.name)
            order = [0, self._axis] + [a for a in range(1, rank) if a != self._axis]
            perm = list(np.argsort(order))
            x = Sym(b.node("Transpose", [x.name], self.name, perm=order), x.shape)
        params = [b.weight(self.gamma.name, self.gamma.value) if self.gamma else b.const(np.ones(c, np.float32),
                                                                                       self.name),
                  b.weight(self.beta.name, self.beta.value) if self.beta else b.const(np.zeros(c, np.float32),
                                                                                    self.name),
                  b.weight(self.moving_mean.name, self.moving_mean.value),
                  b.weight(self.moving_variance.name, self.moving_variance.value)]
        y = b.node("BatchNormalization", [x.name] + params, self.name, epsilon=self.epsilon, momentum=self.momentum)
        if perm is not None:
            return Sym(b.node("Transpose", [y], self.name, perm=[int(p) for p in perm]), ins[0].shape)
        return Sym(y, ins[0].shape, nchw=x.nchw)


# ---------------------------------------------------------------- embedding
class Embedding(Layer):
    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform", mask_zero: bool = False,
                 input_length=None, **kwargs):
        super().__init__(**kwargs)
        if mask_zero:
            raise UnsupportedError("Embedding(mask_zero=True) is not supported")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def emit(self, b, ins):
        x = ins[0]
        idx = x.name if x.dtype.kind in "iu" else b.node("Cast", [x.name], self.name, to=7)   # int64
        y = b.node("Gather", [b.weight(self.embeddings.name, self.embeddings.value), idx], self.name, axis=0)
        return Sym(y, self.compute_output_shape(x.shape))


# ---------------------------------------------------------------- recurrent
class _RNN(Layer):
    """Recurrent layers, unrolled over the time steps (fixed by the input
    shape): the input projection of all steps is one matmul, then each step
    adds its recurrent matmul and gates."""
    gates = 1

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, return_sequences: bool = False,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, unroll: bool = False,
                 go_backwards: bool = False, return_state: bool = False, **kwargs):
        super().__init__(**kwargs)
        if dropout or recurrent_dropout:
            raise UnsupportedError(f"{type(self).__name__}: dropout/recurrent_dropout are not supported "
                                   f"(use a Dropout layer)")
        if go_backwards or return_state:
            raise UnsupportedError(f"{type(self).__name__}: go_backwards and return_state are not supported")
        self.units = int(units)
        self.activation = activations.check(activation)
        self.use_bias, self.return_sequences = use_bias, return_sequences
        self.inits = (kernel_initializer, recurrent_initializer, bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None:
            raise ModelError(f"{self.name}: expects (batch, timesteps, features) inputs with a known number of "
                             f"timesteps, got {input_shape}")
        g = self.gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[2], g), self.inits[0])
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, g), self.inits[1])
        self.bias = self.add_weight("bias", self.bias_shape(), self.bias_init()) if self.use_bias else None
        self.built = True

    def bias_shape(self):
        return (self.gates * self.units,)

    def bias_init(self):
        return self.inits[2]

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def _act(self, b, name, act):
        return activations.emit(b, Sym(name, (None, self.units)), act, self.name).name

    def _steps(self, b, x: Sym, bias: str | None) -> list[str]:
        """x @ kernel (+ bias) for every time step: T tensors [N, gates * units]."""
        xw = b.node("MatMul", [x.name, b.weight(self.kernel.name, self.kernel.value)], self.name)
        if bias is not None:
            xw = b.node("Add", [xw, bias], self.name)
        steps = x.shape[1]
        parts = [xw] if steps == 1 else b.node("Split", [xw], self.name, n_out=steps, axis=1)
        axes = b.ints([1], self.name)
        return [b.node("Squeeze", [p, axes], self.name) for p in parts]

    def emit(self, b, ins):
        x = b.keras_layout(ins[0], self.name)
        hs = self.recur(b, x)
        if not self.return_sequences:
            return Sym(hs[-1], self.compute_output_shape(x.shape))
        axes = b.ints([1], self.name)
        seq = [b.node("Unsqueeze", [h, axes], self.name) for h in hs]
        return Sym(seq[0] if len(seq) == 1 else b.node("Concat", seq, self.name, axis=1),
                   self.compute_output_shape(x.shape))

    def recur(self, b, x) -> list[str]:
        raise NotImplementedError


class SimpleRNN(_RNN):
    """h = activation(x W + h U + b)."""

    def recur(self, b, x):
        bias = b.weight(self.bias.name, self.bias.value) if self.bias is not None else None
        rk = b.weight(self.recurrent_kernel.name, self.recurrent_kernel.value)
        hs, h = [], None
        for xw in self._steps(b, x, bias):
            z = xw if h is None else b.node("Add", [xw, b.node("MatMul", [h, rk], self.name)], self.name)
            h = self._act(b, z, self.activation)
            hs.append(h)
        return hs


class LSTM(_RNN):
    """Keras' LSTM: gates i, f, c, o in that order in the kernels;
    c = f c + i act(x Wc + h Uc + bc); h = o act(c)."""
    gates = 4

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias: bool = True,
                 **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.check(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def bias_init(self):
        if not self.unit_forget_bias:
            return self.inits[2]
        base, u = initializers.get(self.inits[2]), self.units

        def init(shape):
            v = np.asarray(base(shape))
            v[u:2 * u] = 1.0
            return v
        return init

    def recur(self, b, x):
        bias = b.weight(self.bias.name, self.bias.value) if self.bias is not None else None
        rk = b.weight(self.recurrent_kernel.name, self.recurrent_kernel.value)
        hs, h, c = [], None, None
        for xw in self._steps(b, x, bias):
            z = xw if h is None else b.node("Add", [xw, b.node("MatMul", [h, rk], self.name)], self.name)
            i, f, cc, o = b.node("Split", [z], self.name, n_out=4, axis=1)
            i, f, o = (self._act(b, v, self.recurrent_activation) for v in (i, f, o))
            update = b.node("Mul", [i, self._act(b, cc, self.activation)], self.name)
            c = update if c is None else b.node("Add", [b.node("Mul", [f, c], self.name), update], self.name)
            h = b.node("Mul", [o, self._act(b, c, self.activation)], self.name)
            hs.append(h)
        return hs


class GRU(_RNN):
    """Keras' GRU: gates z, r, h in that order; with reset_after (the
    default) the reset gate scales the recurrent projection after the
    matmul and there are two biases (input and recurrent)."""
    gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", reset_after: bool = True,
                 **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.check(recurrent_activation)
        self.reset_after = reset_after

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def recur(self, b, x):
        u = self.units
        rk = b.weight(self.recurrent_kernel.name, self.recurrent_kernel.value)
        b_in = b_rec = None
        if self.bias is not None:
            bias = b.weight(self.bias.name, self.bias.value)
            if self.reset_after:
                b_in, b_rec = b.node("Split", [bias], self.name, n_out=2, axis=0)
            else:
                b_in = bias
        if not self.reset_after:
            rk_zr, rk_h = self._split_cols(b, rk, [2 * u, u])
        hs, h = [], None
        for xw in self._steps(b, x, b_in):
            x_z, x_r, x_h = b.node("Split", [xw], self.name, n_out=3, axis=1)
            if self.reset_after:
                if h is None:
                    rec = b_rec
                else:
                    rec = b.node("MatMul", [h, rk], self.name)
                    rec = rec if b_rec is None else b.node("Add", [rec, b_rec], self.name)
                if rec is None:
                    r_z = r_r = r_h = None
                else:
                    r_z, r_r, r_h = b.node("Split", [rec], self.name, n_out=3, axis=-1)
                z = self._act(b, x_z if r_z is None else b.node("Add", [x_z, r_z], self.name),
                              self.recurrent_activation)
                r = self._act(b, x_r if r_r is None else b.node("Add", [x_r, r_r], self.name),
                              self.recurrent_activation)
                pre = x_h if r_h is None else b.node("Add", [x_h, b.node("Mul", [r, r_h], self.name)], self.name)
            else:
                if h is None:
                    z = self._act(b, x_z, self.recurrent_activation)
                    pre = x_h
                else:
                    zr = b.node("MatMul", [h, rk_zr], self.name)
                    r_z, r_r = b.node("Split", [zr], self.name, n_out=2, axis=1)
                    z = self._act(b, b.node("Add", [x_z, r_z], self.name), self.recurrent_activation)
                    r = self._act(b, b.node("Add", [x_r, r_r], self.name), self.recurrent_activation)
                    rh = b.node("MatMul", [b.node("Mul", [r, h], self.name), rk_h], self.name)
                    pre = b.node("Add", [x_h, rh], self.name)
            hh = self._act(b, pre, self.activation)
            # h = z * h_prev + (1 - z) * hh  =  hh + z * (h_prev - hh)
            if h is None:
                h = b.node("Sub", [hh, b.node("Mul", [z, hh], self.name)], self.name)
            else:
                h = b.node("Add", [hh, b.node("Mul", [z, b.node("Sub", [h, hh], self.name)], self.name)], self.name)
            hs.append(h)
        return hs

    def _split_cols(self, b, w, sizes):
        return b.node("Split", [w, b.ints(sizes, self.name)], self.name, n_out=len(sizes), axis=1)


def _dims(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


__all__ = ["Layer", "InputLayer", "Input", "Dense", "Activation", "LeakyReLU", "Dropout", "Flatten", "Reshape",
           "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
           "BatchNormalization", "Embedding", "SimpleRNN", "LSTM", "GRU", "Variable", "KerasTensor"]
