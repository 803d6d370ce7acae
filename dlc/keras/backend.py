"""How dlc.keras layers describe themselves: each emits ONNX nodes (one
description per layer), and a model is the ONNX graph its layers emit. dlc
imports that graph like any ONNX model to train, evaluate and predict, and
exports it as is.

Images are channels-last at the API (Keras' layout) and channels-first
inside (ONNX's Conv/Pool layout): a tensor between layers is a `Sym` that
knows its layout, and a layer asks for the layout it needs, so a stack of
convolutions transposes once on the way in and once on the way out (at a
Flatten, a Dense, or the model's output).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17
BATCH = "batch"
TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


@dataclass(frozen=True)
class Sym:
    """A tensor in the graph being emitted: its ONNX name, its Keras shape
    (None for the batch dim), its dtype, and whether its data is stored
    channels-first (only rank-4 image tensors ever are)."""
    name: str
    shape: tuple
    dtype: np.dtype = np.dtype("float32")
    nchw: bool = False


class Builder:
    """Collects ONNX nodes, initializers, inputs and outputs."""

    def __init__(self, name: str = "model"):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count: dict[str, int] = {}

    def fresh(self, hint: str) -> str:
        i = self._count.get(hint, 0)
        self._count[hint] = i + 1
        return hint if i == 0 else f"{hint}_{i}"

    def node(self, op_type: str, inputs: list[str], hint: str, n_out: int = 1, **attrs) -> list[str] | str:
        outs = [self.fresh(f"{hint}/{op_type}{'' if n_out == 1 else f'_{k}'}") for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, hint: str, dtype=None) -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(f"{hint}/const")
        self.inits[name] = numpy_helper.from_array(arr, name)
        return name

    def weight(self, name: str, value: np.ndarray) -> str:
        """An initializer for a layer variable (once, however often it is used)."""
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def add_input(self, name: str, dtype, shape) -> None:
        dims = [BATCH if d is None else int(d) for d in shape]
        self.inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                                         dims))

    def add_output(self, s: Sym) -> None:
        dims = [BATCH if d is None else int(d) for d in s.shape]
        self.outputs.append(helper.make_tensor_value_info(s.name, helper.np_dtype_to_tensor_dtype(s.dtype), dims))

    def model(self) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, list(self.inits.values()))
        opsets = [helper.make_opsetid("", OPSET)]
        m = helper.make_model(graph, opset_imports=opsets, producer_name="dlc.keras",
                              ir_version=helper.find_min_ir_version_for(opsets))
        return m

    # ------------------------------------------------------------- layout
    def channels_first(self, s: Sym, hint: str) -> Sym:
        if s.nchw or len(s.shape) != 4:
            return s
        return Sym(self.node("Transpose", [s.name], hint, perm=list(TO_NCHW)), s.shape, s.dtype, True)

    def keras_layout(self, s: Sym, hint: str) -> Sym:
        if not s.nchw:
            return s
        return Sym(self.node("Transpose", [s.name], hint, perm=list(TO_NHWC)), s.shape, s.dtype, False)

    def ints(self, values, hint: str) -> str:
        return self.const(np.array(values, np.int64), hint)
