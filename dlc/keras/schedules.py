"""Learning-rate schedules: callables of the step count (see dlc.training.optimizers)."""
from ..training.optimizers import CosineDecay, ExponentialDecay  # noqa: F401

__all__ = ["ExponentialDecay", "CosineDecay"]
