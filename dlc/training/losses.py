"""Losses as IR: each builds the per-sample loss of a batch from the
model's prediction and the targets, with the Emitter of `dlc.ir.autodiff`
(so the gradient comes from the ops' rules like everything else).

Names and semantics follow Keras: the loss of one sample is the mean over
its last axis (the sum over classes for the cross-entropies), then the mean
over its other non-batch axes; a batch's loss is the mean over samples.
Probabilities are clipped to [1e-7, 1 - 1e-7] as in Keras; when the
prediction comes straight out of a softmax (sigmoid) node, the
cross-entropy is computed from its input with log_softmax (a softplus
form) instead, as Keras' TensorFlow backend does: the same value away from
saturation, and no vanishing gradient near it.
"""
from __future__ import annotations

import numpy as np

from ..ir.autodiff import Emitter, Val
from ..ir.errors import ModelError

EPSILON = 1e-7


def _per_sample(d: Emitter, x: Val) -> Val:
    """Mean over every non-batch axis: [N, ...] -> [N]."""
    return d.mean(x, range(1, x.rank)) if x.rank > 1 else x


def _producer(x: Val, op: str):
    """The input of the `op` node that produced x, if x's producer is one
    (a softmax over the last axis only)."""
    node = x.v.producer
    if node is None or node.op != op:
        return None
    if op in ("softmax", "log_softmax") and tuple(node.attrs["axes"]) != (x.rank - 1,):
        return None
    return x.d.wrap(node.inputs[0])


class Loss:
    """Base class: `per_sample(d, pred, target)` returns the loss of each sample ([N])."""
    name = "loss"
    sparse = False            # targets are integer class indices

    def target_spec(self, pred_shape, pred_dtype):
        """(dtype, shape) the targets are fed with."""
        return np.dtype(pred_dtype), tuple(pred_shape)

    def per_sample(self, d: Emitter, pred: Val, target: Val) -> Val:
        raise NotImplementedError

    def __call__(self, y_true, y_pred):
        """Evaluate on numpy arrays (through the reference interpreter)."""
        from ..ir import Graph
        from ..ir.interpreter import interpret
        y_pred = np.asarray(y_pred, np.float32)
        dt, shape = self.target_spec(y_pred.shape, y_pred.dtype)
        g = Graph("loss")
        p = g.add_input("pred", y_pred.dtype, y_pred.shape)
        t = g.add_input("target", dt, shape)
        d = Emitter(g)
        g.outputs = [d.mean(self.per_sample(d, d.wrap(p), d.wrap(t)), (0,)).v]
        return float(interpret(g, [y_pred, np.asarray(y_true, dt).reshape(shape)])[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_sample(self, d, pred, target):
        diff = pred - target
        return _per_sample(d, diff * diff)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def per_sample(self, d, pred, target):
        return _per_sample(d, d.abs(pred - target))


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def per_sample(self, d, pred, target):
        logits = pred if self.from_logits else _producer(pred, "sigmoid")
        if logits is not None:   # max(z, 0) - z*y + log(1 + exp(-|z|))
            bce = d.relu(logits) - logits * target + d.log(1 + d.exp(-d.abs(logits)))
        else:
            p = d.min(d.max(pred, EPSILON), 1 - EPSILON)
            bce = -(target * d.log(p + EPSILON) + (1 - target) * d.log(1 - p + EPSILON))
        return _per_sample(d, bce)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def log_probs(self, d, pred):
        axis = (pred.rank - 1,)
        logits = pred if self.from_logits else _producer(pred, "softmax")
        if logits is not None:
            return d.log_softmax(logits, axes=axis)
        p = pred / d.sum(pred, axis, keepdims=True)
        return d.log(d.min(d.max(p, EPSILON), 1 - EPSILON))

    def per_sample(self, d, pred, target):
        return _per_sample(d, -d.sum(target * self.log_probs(d, pred), (pred.rank - 1,)))


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    name = "sparse_categorical_crossentropy"
    sparse = True

    def target_spec(self, pred_shape, pred_dtype):
        return np.dtype("int64"), tuple(pred_shape[:-1])

    def per_sample(self, d, pred, target):
        return _per_sample(d, -d.sum(one_hot(d, target, pred) * self.log_probs(d, pred), (pred.rank - 1,)))


def one_hot(d: Emitter, labels: Val, like: Val) -> Val:
    """Integer labels [N, ...] as one-hot rows of like's dtype and last dim."""
    classes = like.shape[-1]
    lab = d.reshape(labels, tuple(labels.shape) + (1,))
    hot = d.equal(lab, d.const(np.arange(classes, dtype=labels.dtype)))
    return d.cast(hot, like.dtype)


class Hinge(Loss):
    """mean(max(1 - y * pred, 0)); 0/1 labels are taken as -1/1, as Keras does."""
    name = "hinge"

    def per_sample(self, d, pred, target):
        binary = d.cast(d.equal(target, d.const(0, target.dtype)) | d.equal(target, d.const(1, target.dtype)),
                        pred.dtype)
        is01 = d.reduce_min(binary, axes=tuple(range(binary.rank)), keepdims=False)
        y = target + is01 * (target - 1)     # 2y - 1 when every label is 0 or 1
        return _per_sample(d, d.relu(1 - y * pred))


_ALIASES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "MeanSquaredError": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError, "MeanAbsoluteError": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BinaryCrossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "CategoricalCrossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
    "hinge": Hinge, "Hinge": Hinge,
}


def get(loss) -> Loss:
    """A Loss from a Loss, a class, or a Keras name ('mse', 'binary_crossentropy', ...)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if isinstance(loss, str) and loss in _ALIASES:
        return _ALIASES[loss]()
    raise ModelError(f"unknown loss {loss!r}; known: {', '.join(sorted(k for k in _ALIASES if k.islower()))}")


# Keras' function-style names
mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
hinge = Hinge()
