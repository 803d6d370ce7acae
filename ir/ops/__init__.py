"""The op registry. Each family module registers its ops on import."""
from .base import (BROADCAST, ELEMWISE, INJECTIVE, KINDS, OPAQUE, OUT_FUSABLE, REDUCE, REGISTRY,
                   VIEW, OpDef, get_op, register)
from . import (control, cumulative, dropout, dynamic, elementwise, fused, image, indexing, linalg, nn,  # noqa: F401
               normalization, pooling, random, recurrent, reduce, sequence, shape, sorting, spectral, text,
               trees)
from .fused import kernel_name, node_sources

__all__ = ["OpDef", "REGISTRY", "get_op", "register", "KINDS", "ELEMWISE", "BROADCAST", "INJECTIVE",
           "REDUCE", "OUT_FUSABLE", "VIEW", "OPAQUE", "kernel_name", "node_sources"]
