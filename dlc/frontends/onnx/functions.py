"""ONNX functions: ops the standard defines as a graph of other ops.

An op with no converter of its own (or whose converter refuses a case with
UnsupportedError) is converted through its function body from the operator
schema, when the schema has one: the version for the model's opset, or the
context-dependent body the schema builds for the node's input types. Each
body node then converts through the converter table as usual (recursively).
This is how the standard defines those ops, so it is their semantics; ops
worth a kernel of their own get a converter, which takes precedence.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
from onnx import AttributeProto, FunctionProto, NodeProto, helper

from ...ir import Value


def _schema(op_type: str, opset: int, domain: str):
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except Exception:
        return None


def has_function(op_type: str, opset: int, domain: str = "") -> bool:
    s = _schema(op_type, opset, domain)
    return s is not None and (_versions(s.function_opset_versions, opset) is not None
                              or _versions(s.context_dependent_function_opset_versions, opset) is not None)


def _versions(versions: Sequence[int], opset: int) -> int | None:
    ok = [v for v in versions if v <= opset]
    return max(ok) if ok else None


def _type_proto(v: Value | None) -> onnx.TypeProto:
    if v is None:
        return onnx.TypeProto()
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype))
    return helper.make_tensor_type_proto(elem, [d if isinstance(d, int) else None for d in v.shape])


def function_body(node: NodeProto, opset: int, domain: str,
                  inputs: Sequence[Value | None]) -> tuple[FunctionProto, dict] | None:
    """The function body of `node` at `opset` (None if the schema has none)
    and the node's attributes with schema defaults filled in."""
    s = _schema(node.op_type, opset, domain)
    if s is None:
        return None
    v = _versions(s.function_opset_versions, opset)
    fn = FunctionProto()
    attrs = {a.name: a for a in node.attribute}
    for name, a in s.attributes.items():
        if name not in attrs and a.default_value is not None and a.default_value.type != 0:
            attrs[name] = a.default_value
    if v is not None:
        fn.ParseFromString(s.get_function_with_opset_version(v))
        return fn, attrs
    v = _versions(s.context_dependent_function_opset_versions, opset)
    if v is None:
        return None
    full = NodeProto()
    full.CopyFrom(node)
    full.ClearField("attribute")
    full.attribute.extend(attrs.values())
    try:
        raw = s.get_context_dependent_function_with_opset_version(
            v, full.SerializeToString(), [_type_proto(x).SerializeToString() for x in inputs])
    except Exception:
        return None
    fn.ParseFromString(raw)
    return fn, attrs


def expand(node: NodeProto, fn: FunctionProto, attrs: dict, prefix: str) -> list[NodeProto]:
    """The body's nodes wired to `node`'s inputs and outputs: formal names are
    renamed, internal ones prefixed, attribute references substituted."""
    names = {}
    for i, formal in enumerate(fn.input):
        names[formal] = node.input[i] if i < len(node.input) else ""
    for i, formal in enumerate(fn.output):
        if i < len(node.output) and node.output[i]:
            names[formal] = node.output[i]

    def rename(x: str) -> str:
        if x in names:
            return names[x]
        return "" if x == "" else prefix + x

    return [_rename(n, rename, attrs, prefix) for n in fn.node]


def _rename(n: NodeProto, rename, attrs: dict, prefix: str) -> NodeProto:
    out = NodeProto()
    out.CopyFrom(n)
    out.ClearField("input")
    out.ClearField("output")
    out.ClearField("attribute")
    out.input.extend(rename(x) for x in n.input)
    out.output.extend(rename(x) for x in n.output)
    if n.name:
        out.name = prefix + n.name
    for a in n.attribute:
        if a.HasField("ref_attr_name"):
            if a.ref_attr_name in attrs:
                b = AttributeProto()
                b.CopyFrom(attrs[a.ref_attr_name])
                b.name = a.name
                out.attribute.append(b)
            continue
        b = AttributeProto()
        b.CopyFrom(a)
        if a.type == AttributeProto.GRAPH:   # subgraphs see the renamed outer names
            inner = {x.name for x in list(b.g.input) + list(b.g.output) + list(b.g.initializer)}
            inner |= {o for nd in b.g.node for o in nd.output}
            sub = [_rename(nd, lambda x: x if x in inner else rename(x), attrs, prefix) for nd in b.g.node]
            b.g.ClearField("node")
            b.g.node.extend(sub)
        out.attribute.append(b)
    return out


def body_opset(fn: FunctionProto, default: int) -> dict[str, int]:
    """Opset versions the body's nodes are written against, by domain."""
    out = {"": default}
    for o in fn.opset_import:
        out["" if o.domain == "ai.onnx" else o.domain] = int(o.version)
    return out
