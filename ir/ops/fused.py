"""The ``fused`` op: a group of ops that codegen emits as one kernel (made by
`dlc.ir.passes.fuse_operators`).

Its ``body`` attribute is a sub-Graph of the member nodes, unchanged (they
keep their ops, attributes and source names): ``body.inputs`` mirror the
node's inputs in order (constants keep their data), ``body.outputs`` are
the member values the node produces, in order. One-element constants and
constants used only as static inputs (a reshape's target) stay inside the
body. ``name`` is the kernel's base name, after what it holds
(``fused_conv_add_relu``).

Its type rule reads the body, its reference semantics interpret the body,
and its lowering asks the KernelBuilder to compose the body's own formulas
and loop nests into one kernel (codegen/fuse.py).
"""
from __future__ import annotations

from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

SOURCE_SEP = " + "   # joins the sources of a node that stands for several (a conv with its batch norm)


def _infer(ins, body, name="fused"):
    if len(ins) != len(body.inputs):
        raise ShapeError(f"{name}: {len(ins)} inputs for a body with {len(body.inputs)}")
    for v, b in zip(ins, body.inputs):
        if v is None or v.dtype != b.dtype or tuple(v.shape) != tuple(b.shape):
            got = "nothing" if v is None else v.type_str
            raise ShapeError(f"{name}: input {b.name} is {got}, the body expects {b.type_str}")
    return [(v.dtype, v.shape) for v in body.outputs]


def _ref(*args, body, name="fused"):
    from ..interpreter import interpret
    return tuple(interpret(body, list(args)))


def _lower(k, ins, outs, body, name="fused"):
    k.compose(body, ins, outs)


register(OpDef("fused", OPAQUE, _infer, _ref, lower=_lower,
               doc="a fused group: one kernel computing the member nodes of `body`"))


def node_sources(node) -> list[str]:
    """The source names (``onnx Conv_3``) a node stands for: a fused node's
    members', a folded node's own and what was folded into it; in order, once each."""
    if node.op == "fused":
        parts = [s for m in node.attrs["body"].nodes for s in node_sources(m)]
    else:
        parts = [s for s in node.source.split(SOURCE_SEP) if s]
    return list(dict.fromkeys(parts))


def kernel_name(node, i: int) -> str:
    """The name of the kernel that computes `node`, the `i`-th node of its graph:
    ``relu_3``, ``fused_conv_add_relu_7``. LLVM functions and dumps use it."""
    base = node.attrs.get("name", "fused") if node.op == "fused" else node.op
    return f"{base}_{i}"
