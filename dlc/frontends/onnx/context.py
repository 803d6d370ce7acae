"""What a converter sees: the ONode it converts and the context `cx` it emits into."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...ir import Graph, Value
from ...ir.passes.fold import fold_node
from ...ir.errors import ModelError, UnsupportedError


@lru_cache(maxsize=None)
def _schema_defaults(op_type: str, opset: int, domain: str) -> dict:
    """Attribute defaults from the operator schema (never typed by hand)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:
        return {}
    out = {}
    for name, a in schema.attributes.items():
        if a.default_value is not None and a.default_value.type != 0:
            out[name] = attr_value(a.default_value)
    return out


def attr_value(a: onnx.AttributeProto):
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list):
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
    return v


class ONode:
    """An ONNX node during conversion: its inputs as IR Values, its
    attributes with schema defaults filled in, and its name for messages."""

    def __init__(self, proto: onnx.NodeProto, inputs: Sequence[Value | None], opset: int, index: int):
        self.proto = proto
        self.op_type = proto.op_type
        self.domain = proto.domain or ""
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.inputs = list(inputs)
        self.opset = opset
        self.attrs = dict(_schema_defaults(self.op_type, opset, self.domain))
        self.attrs.update({a.name: attr_value(a) for a in proto.attribute})
        self.proto_attrs = {a.name for a in proto.attribute}
        self.output_names = list(proto.output)

    @property
    def source(self) -> str:
        return f"onnx {self.name}"

    @property
    def num_outputs(self) -> int:
        """How many outputs the model names (trailing optional ones may be absent)."""
        return len(self.output_names)

    def wants_output(self, i: int) -> bool:
        return i < len(self.output_names) and self.output_names[i] != ""

    def error(self, msg: str, cls=ModelError) -> Exception:
        return cls(f"{self.op_type} node {self.name!r}: {msg}")

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def input(self, i: int) -> Value | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def need(self, i: int) -> Value:
        v = self.input(i)
        if v is None:
            raise self.error(f"input {i} is required but missing")
        return v

    def const(self, i: int, what: str | None = None) -> np.ndarray | None:
        """The value of input `i` if it is a compile-time constant; None if absent."""
        v = self.input(i)
        if v is None:
            return None
        if v.const is None and v.static and v.numel == 0:   # an empty tensor: its shape is all of it
            return np.zeros(v.shape, v.dtype)
        if v.const is None:
            raise self.error(f"input {i} ({what or v.name}) must be a constant; it is computed at run time",
                             UnsupportedError)
        return v.const

    def ints(self, i: int, attr: str | None = None, what: str | None = None) -> list[int] | None:
        """A list of ints from input `i` (newer opsets) or attribute `attr` (older)."""
        if attr is not None and attr in self.attrs and self.input(i) is None:
            a = self.attrs[attr]
            return [int(x) for x in (a if isinstance(a, (list, tuple)) else [a])]
        c = self.const(i, what or attr)
        return None if c is None else [int(x) for x in np.asarray(c).reshape(-1)]


class Context:
    """The conversion context: the graph being built and the current node."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.node: ONode | None = None
        self.fallback = None     # the importer's reference fallback, when on

    def op(self, op: str, inputs: Sequence[Value | None], **attrs):
        """Emit an IR node for the current ONNX node; returns its output(s).
        A node computable now (constant inputs, or a shape query on a known
        shape) is folded at once, so later type rules see its value (e.g. a
        Slice bound computed from constants)."""
        out = self.g.op(op, inputs, attrs, source=self.node.source if self.node else "")
        node = self.g.nodes[-1]
        consts = fold_node(self.g, node)
        if consts is None:
            return out
        self.g.nodes.pop()
        return consts[0] if len(consts) == 1 else tuple(consts)

    def const(self, data, dtype=None) -> Value:
        return self.g.const(data, dtype)

    def cast(self, v: Value, dtype) -> Value:
        dtype = np.dtype(dtype)
        return v if v.dtype == dtype else self.op("cast", [v], to=dtype)

    def reshape(self, v: Value, shape: Sequence[int]) -> Value:
        return self.op("reshape", [v, self.const(np.array(shape, np.int64))])
