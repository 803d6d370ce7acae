"""Utilities: seeding and label encoding."""
from __future__ import annotations

import numpy as np

from . import initializers


def set_random_seed(seed: int) -> None:
    """Seed weight initialization and fit's shuffling (numpy's global RNG too)."""
    initializers.set_seed(seed)
    np.random.seed(seed)


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    n = int(num_classes if num_classes is not None else y.max() + 1)
    out = np.zeros((len(y), n), dtype)
    out[np.arange(len(y)), y] = 1
    return out
