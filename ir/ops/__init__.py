"""The op registry. Each family module registers its ops on import."""
from .base import (BROADCAST, ELEMWISE, INJECTIVE, KINDS, OPAQUE, OUT_FUSABLE, REDUCE, REGISTRY,
                   VIEW, OpDef, get_op, register)
from . import (cumulative, elementwise, image, indexing, linalg, nn, normalization,  # noqa: F401  (register ops)
               pooling, random, recurrent, reduce, shape, sorting, spectral, text, trees)

__all__ = ["OpDef", "REGISTRY", "get_op", "register", "KINDS", "ELEMWISE", "BROADCAST", "INJECTIVE",
           "REDUCE", "OUT_FUSABLE", "VIEW", "OPAQUE"]
