"""Ops whose output shapes depend on input values. They have no lowering:
the runtime evaluates them with their numpy reference between natively
compiled segments (dlc/staged.py)."""
from __future__ import annotations

import numpy as np

from ..shapes import unknown_dim
from .base import OPAQUE, OpDef, register

register(OpDef(
    "nonzero", OPAQUE,
    lambda ins: (np.dtype("int64"), (ins[0].rank, unknown_dim())),
    lambda x: np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1),
    dynamic_shape=True,
    doc="indices of the non-zero elements, one row per axis (ONNX NonZero)"))
