"""Metrics as IR: each builds a per-sample value ([N]) from the prediction
and the targets; the runtime averages them over the samples of an epoch.
'accuracy' picks binary, categorical or sparse categorical accuracy from the
loss and the output's shape, as Keras does."""
from __future__ import annotations

import numpy as np

from ..ir.autodiff import Emitter, Val
from ..ir.errors import ModelError
from .losses import BinaryCrossentropy, Loss, SparseCategoricalCrossentropy, _per_sample


class Metric:
    name = "metric"

    def per_sample(self, d: Emitter, pred: Val, target: Val) -> Val:
        raise NotImplementedError


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = threshold
        self.name = name or self.name

    def per_sample(self, d, pred, target):
        hit = d.equal(d.cast(pred > self.threshold, pred.dtype), target)
        return _per_sample(d, d.cast(hit, pred.dtype))


def _argmax_last(d, x):
    return d.argmax(x, axis=x.rank - 1, keepdims=False)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def __init__(self, name: str | None = None):
        self.name = name or self.name

    def per_sample(self, d, pred, target):
        return _per_sample(d, d.cast(d.equal(_argmax_last(d, pred), _argmax_last(d, target)), pred.dtype))


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"
    sparse = True

    def __init__(self, name: str | None = None):
        self.name = name or self.name

    def per_sample(self, d, pred, target):
        return _per_sample(d, d.cast(d.equal(_argmax_last(d, pred), d.cast(target, np.int64)), pred.dtype))


class LossMetric(Metric):
    """A loss used as a metric ('mse', 'mae', ...)."""

    def __init__(self, loss: Loss, name: str):
        self.loss, self.name = loss, name

    def per_sample(self, d, pred, target):
        return self.loss.per_sample(d, pred, target)


def get(metric, loss: Loss, output_shape) -> Metric:
    """A Metric from a Metric or a Keras name; 'accuracy'/'acc' depends on the loss."""
    if isinstance(metric, Metric):
        return metric
    if not isinstance(metric, str):
        raise ModelError(f"unknown metric {metric!r}")
    if metric in ("accuracy", "acc"):
        if isinstance(loss, SparseCategoricalCrossentropy):
            return SparseCategoricalAccuracy(name=metric)
        if isinstance(loss, BinaryCrossentropy) or output_shape[-1] == 1:
            m = BinaryAccuracy(name=metric)
            return m
        return CategoricalAccuracy(name=metric)
    table = {"binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
             "sparse_categorical_accuracy": SparseCategoricalAccuracy}
    if metric in table:
        return table[metric]()
    from . import losses
    try:
        return LossMetric(losses.get(metric), metric)
    except ModelError:
        raise ModelError(f"unknown metric {metric!r}; known: accuracy, {', '.join(table)}, or a loss name "
                         f"('mse', 'mae', ...)") from None
