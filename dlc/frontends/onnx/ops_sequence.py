"""Converters: sequences and optionals (ir/ops/sequence.py; SequenceMap's
body is compiled like a Loop's: ir/ops/control.py). They run on the host."""
from __future__ import annotations

import numpy as np

from ...ir.graph import OPT, SEQ, sanitize
from .importer import convert_subgraph, value_type
from .ops_elementwise import onnx_dtype
from .registry import converter


@converter("SequenceConstruct", since=11)
def sequence_construct(cx, n):
    return cx.op("sequence_construct", [n.need(i) for i in range(len(n.inputs))])


@converter("SequenceEmpty", since=11)
def sequence_empty(cx, n):
    dtype = n.attr("dtype")
    return cx.op("sequence_empty", [], dtype=np.dtype("float32") if dtype is None else onnx_dtype(n, dtype))


@converter("SequenceInsert", since=11)
def sequence_insert(cx, n):
    return cx.op("sequence_insert", [n.need(0), n.need(1), n.input(2)])


@converter("SequenceErase", since=11)
def sequence_erase(cx, n):
    return cx.op("sequence_erase", [n.need(0), n.input(1)])


@converter("SequenceAt", since=11)
def sequence_at(cx, n):
    return cx.op("sequence_at", [n.need(0), n.need(1)])


@converter("SequenceLength", since=11)
def sequence_length(cx, n):
    return cx.op("sequence_length", [n.need(0)])


@converter("SplitToSequence", since=11)
def split_to_sequence(cx, n):
    return cx.op("split_to_sequence", [n.need(0), n.input(1)], axis=int(n.attr("axis", 0)),
                 keepdims=int(n.attr("keepdims", 1)))


@converter("ConcatFromSequence", since=11)
def concat_from_sequence(cx, n):
    return cx.op("concat_from_sequence", [n.need(0)], axis=int(n.attr("axis")), new_axis=int(n.attr("new_axis", 0)))


@converter("SequenceMap", since=17)
def sequence_map(cx, n):
    """The body is compiled (once per item shape signature) and the host
    runs it on each item, as it runs a Loop's body."""
    ins = [n.need(i) for i in range(len(n.inputs))]
    mapped = tuple(v.container == (SEQ,) for v in ins)
    types = [(v.dtype, v.shape, ()) if m else (v.dtype, v.shape, v.container) for v, m in zip(ins, mapped)]
    body, captured = convert_subgraph(cx, n.attrs["body"], types, f"{sanitize(n.name)}_body")
    outs = cx.op("sequence_map", [*ins, *captured], body=body, mapped=mapped)
    return list(outs) if isinstance(outs, tuple) else [outs]


@converter("Optional", since=15)
def optional(cx, n):
    x = n.input(0)
    if x is not None:
        return cx.op("optional", [x])
    dtype, shape, container = value_type(n.attr("type"), f"Optional node {n.name!r}: its type", n.name)
    return cx.op("optional", [], dtype=dtype, shape=shape, container=container)


@converter("OptionalHasElement", since=15)
def optional_has_element(cx, n):
    return cx.op("optional_has_element", [n.input(0)])


@converter("OptionalGetElement", since=15)
def optional_get_element(cx, n):
    """Since opset 18 the input may be a tensor or a sequence: returned as it is."""
    x = n.need(0)
    return cx.op("optional_get_element", [x]) if x.container[:1] == (OPT,) else x
