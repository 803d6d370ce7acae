"""Nodes compiled per value of a run-time input.

A converter needs some inputs as constants: a Reshape's target shape, TopK's
k, Resize's scales, a reduction's axes. When such an input is only known at
run time (a graph input, or computed from one), the importer makes the node
an ``onnx_by_value`` IR node holding the ONNX node (`OnnxNode`, as the
reference fallback does). The op is ``dynamic_shape``, so staged execution
(dlc/staged.py) runs it between compiled segments; there, its ``specialize``
facet converts the node again with those inputs' values as constants, and
the result is compiled once per distinct (input shapes, those values) and
cached. A model whose shape inputs rarely change therefore runs native code
at a compile per new value (each one logged); one whose shape inputs change
every call pays a compile every call.

Which inputs are needed is learned by converting: the first the converter
asks for, then any other it asks for once that one is known.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...ir.errors import UnsupportedError
from ...ir.interpreter import interpret
from ...ir.ops import OPAQUE, OpDef, register
from .fallback import OnnxNode, _infer

OP = "onnx_by_value"
_needed: dict[OnnxNode, set[int]] = {}    # per node: input positions converted as constants
_lock = threading.Lock()


def _single_node_model(node: OnnxNode, arrays: Sequence, baked: set[int]) -> tuple[onnx.ModelProto, list[int]]:
    """The node alone in a model: baked inputs as initializers, the others as
    inputs of the arrays' shapes. Also returns, per model input, the node
    input position it is fed from."""
    baked_names = {node.inputs[i] for i in baked}
    inputs, inits, runtime, seen = [], [], [], set()
    for i, (name, a) in enumerate(zip(node.inputs, arrays)):
        if not name or a is None or name in seen:
            continue
        seen.add(name)
        a = np.asarray(a)
        if name in baked_names:
            inits.append(numpy_helper.from_array(a, name))
        else:
            inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape))
            runtime.append(i)
    graph = helper.make_graph([onnx.NodeProto.FromString(node.proto)], node.name, inputs,
                              [helper.make_empty_tensor_value_info(o) for o in node.outputs], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in node.opsets],
                              ir_version=node.ir_version)
    return model, runtime


def _specialize(arrays: Sequence, node: OnnxNode, need: int):
    from ...compiler import GENERIC_PASSES
    from ...ir.passes import run_passes
    from .importer import import_model
    with _lock:
        baked = _needed.setdefault(node, {need})
        while True:
            model, runtime = _single_node_model(node, arrays, baked)
            g, _ = import_model(model)
            still = next((n for n in g.nodes if n.op == OP), None)   # another input's value is needed
            if still is None:
                break
            need = still.attrs["need"]
            more = {need} if need not in baked and still.attrs["node"].name == node.name else \
                set(range(len(node.inputs)))      # asked from inside a function body: bake them all
            if more <= baked:
                raise UnsupportedError(f"onnx {node.name}: {still.attrs['node'].reason}")
            baked |= more
    return run_passes(g, GENERIC_PASSES), runtime


def _ref(*arrays, node: OnnxNode, need: int):
    g, runtime = _specialize(arrays, node, need)
    return tuple(interpret(g, [arrays[i] for i in runtime]))


register(OpDef(
    OP, OPAQUE, lambda ins, node, need: _infer(ins, node), _ref, dynamic_shape=True, specialize=_specialize,
    doc="an ONNX node whose converter needs the value of a run-time input: converted and compiled per "
        "distinct value when it runs (see dlc/frontends/onnx/by_value.py)"))
