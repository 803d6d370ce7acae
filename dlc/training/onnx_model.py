"""The ONNX side of training: which initializers a session feeds as inputs,
the training-mode variant of a model (BatchNormalization with batch
statistics and running-statistic outputs, Dropout active), and writing
trained weights back into a model.

Both variants stay plain ONNX, so the frontend's converters decide what
they mean; the training variant only asks for what ONNX calls training
mode.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..frontends.onnx.importer import load_model, model_opset
from ..ir.errors import ModelError

TRUE_NAME = "dlc_training_mode_true"


@dataclass
class TrainingModel:
    model: onnx.ModelProto                              # the training-mode variant
    updates: dict[str, str] = field(default_factory=dict)   # initializer -> output holding its new value


def initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def initializer_arrays(model: onnx.ModelProto, names) -> dict[str, np.ndarray]:
    inits = initializers(model)
    return {n: numpy_helper.to_array(inits[n]) for n in names}


def running_stats(model: onnx.ModelProto) -> list[str]:
    """The running mean/var initializers of BatchNormalization nodes."""
    inits = initializers(model)
    out = []
    for n in model.graph.node:
        if n.op_type == "BatchNormalization":
            out += [name for name in n.input[3:5] if name in inits and name not in out]
    return out


def default_trainable(model: onnx.ModelProto) -> list[str]:
    """Every float initializer of rank >= 1 except running statistics."""
    stats = set(running_stats(model))
    return [t.name for t in model.graph.initializer
            if t.name not in stats and len(t.dims) >= 1
            and helper.tensor_dtype_to_np_dtype(t.data_type).kind == "f"]


def with_inputs(model: onnx.ModelProto, names) -> onnx.ModelProto:
    """A copy of `model` that also lists the initializers `names` as graph
    inputs (so they can be fed: the weights of a session)."""
    m = copy.deepcopy(model)
    listed = {i.name for i in m.graph.input}
    inits = initializers(m)
    for name in names:
        if name not in inits:
            raise ModelError(f"{name!r} is not an initializer of the model")
        if name not in listed:
            t = inits[name]
            m.graph.input.append(helper.make_tensor_value_info(name, t.data_type, list(t.dims)))
    return m


def training_variant(model: onnx.ModelProto) -> TrainingModel:
    """BatchNormalization nodes in training mode, their new running
    statistics as extra graph outputs; Dropout nodes (opset >= 12) active."""
    m = copy.deepcopy(model)
    opset = model_opset(m)
    inits = initializers(m)
    out = TrainingModel(m)
    need_true = False
    for i, n in enumerate(m.graph.node):
        name = n.name or f"{n.op_type}_{i}"
        if n.op_type == "BatchNormalization":
            if any(o for o in n.output[1:]):
                raise ModelError(f"BatchNormalization node {name!r} already has statistics outputs")
            stats = list(n.input[3:5])
            outs = [f"{name}/running_mean_new", f"{name}/running_var_new"]
            del n.output[1:]
            n.output.extend(outs)
            if opset >= 14:
                for a in list(n.attribute):
                    if a.name == "training_mode":
                        n.attribute.remove(a)
                n.attribute.append(helper.make_attribute("training_mode", 1))
            for s, o in zip(stats, outs):
                if s in inits:
                    out.updates[s] = o
                m.graph.output.append(helper.make_empty_tensor_value_info(o))
        elif n.op_type == "Dropout" and opset >= 12:
            ins = list(n.input) + [""] * (3 - len(n.input))
            ins[2] = TRUE_NAME
            del n.input[:]
            n.input.extend(ins)
            need_true = True
    if need_true:
        m.graph.initializer.append(numpy_helper.from_array(np.array(True), TRUE_NAME))
    return out


def with_weights(model, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` whose initializers named in `weights` hold those arrays."""
    m = copy.deepcopy(load_model(model))
    for t in m.graph.initializer:
        if t.name in weights:
            arr = np.asarray(weights[t.name]).astype(helper.tensor_dtype_to_np_dtype(t.data_type), copy=False)
            t.CopyFrom(numpy_helper.from_array(arr.reshape(tuple(t.dims)), t.name))
    return m
