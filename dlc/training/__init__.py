"""Training: losses, metrics and optimizers as IR, compiled train steps,
and the TrainingSession that runs them on an ONNX model (dlc.keras builds
on it)."""
from . import losses, metrics, optimizers
from .session import History, TrainingSession, train

__all__ = ["losses", "metrics", "optimizers", "History", "TrainingSession", "train"]
