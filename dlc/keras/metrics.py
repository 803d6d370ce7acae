"""Metrics with Keras' names (see dlc.training.metrics)."""
from ..training.metrics import (BinaryAccuracy, CategoricalAccuracy, Metric, SparseCategoricalAccuracy,  # noqa: F401
                                get)
