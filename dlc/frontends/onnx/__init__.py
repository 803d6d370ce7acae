"""The ONNX frontend: ONNX models to dlc IR. ONNX names live only here."""
from . import (by_value, fallback, ops_control, ops_cumulative, ops_dynamic, ops_elementwise,  # noqa: F401
               ops_image, ops_indexing, ops_linalg, ops_ml, ops_nn, ops_normalization, ops_quantize, ops_random,
               ops_recurrent, ops_reduce, ops_sequence, ops_shape, ops_spectral, ops_text,
               ops_training)  # (register converters)
from .importer import Signature, TensorInfo, check_support, import_model, load_model, model_opset
from .registry import CONVERTERS, converter, supported_ops

__all__ = ["import_model", "load_model", "check_support", "model_opset", "Signature", "TensorInfo",
           "converter", "CONVERTERS", "supported_ops"]
