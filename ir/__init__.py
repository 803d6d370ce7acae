"""dlc.ir: the dataflow IR, its op registry, type inference, verifier,
reference interpreter and graph passes. Imports nothing else of dlc."""
from . import dtypes, shapes
from .errors import (ArtifactError, DLCError, ExecutionError, InputError, ModelError, ShapeError,
                     UnsupportedError)
from .graph import Graph, Node, Value, infer_node, infer_shapes, is_static
from .ops import REGISTRY, OpDef, get_op

__all__ = ["Graph", "Node", "Value", "OpDef", "REGISTRY", "get_op", "infer_node", "infer_shapes",
           "is_static", "dtypes", "shapes", "DLCError", "ModelError", "UnsupportedError", "ShapeError",
           "InputError", "ArtifactError", "ExecutionError"]
