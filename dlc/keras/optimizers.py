"""Optimizers with Keras' names and defaults (see dlc.training.optimizers)."""
from ..training.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get  # noqa: F401
from . import schedules  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "schedules"]
