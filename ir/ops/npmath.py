"""The KernelBuilder helpers that formulas written once for both the numpy
reference and the kernel use (resize and grid-sample coordinates, RoiAlign
sampling...), on numpy arrays."""
from __future__ import annotations

import numpy as np


class NumpyMath:
    floor, ceil, round, trunc = (staticmethod(np.floor), staticmethod(np.ceil), staticmethod(np.rint),
                                 staticmethod(np.trunc))
    select, min, max = staticmethod(np.where), staticmethod(np.minimum), staticmethod(np.maximum)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def clamp(x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    @staticmethod
    def const(v, dtype):
        return np.asarray(v, dtype)

    @staticmethod
    def eq(a, b):
        return np.equal(a, b)

    @staticmethod
    def floormod(a, b):
        return np.mod(a, b)
