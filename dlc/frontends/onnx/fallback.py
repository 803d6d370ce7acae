"""The reference fallback: ONNX nodes dlc cannot compile, run on the host.

With ``dlc.compile(..., fallback="reference")`` the importer turns every node
it has no converter for (or whose converter refuses it: an unsupported
attribute value, a computed input that must be constant...) into one IR node
of op ``onnx_reference``. The op holds the ONNX node itself (`OnnxNode`) and
is ``dynamic_shape``: it has no lowering, so staged execution (dlc/staged.py)
runs it between natively compiled segments, evaluating it with the onnx
package's reference implementation (``onnx.reference``). Everything else is
compiled as usual.

Its types come from ONNX's own type inference for the node (given the input
types, and the values of constant inputs); where that cannot tell, from the
model's shape inference. Subgraph nodes (If, Loop, Scan) read values of the
outer graph: those become extra inputs of the host node.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...ir.errors import ExecutionError, UnsupportedError
from ...ir.ops import OPAQUE, OpDef, register
from ...ir.shapes import unknown_dim


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node run by the reference fallback (the attribute ``node``
    of an ``onnx_reference`` IR node)."""
    op_type: str
    name: str
    proto: bytes                     # the NodeProto, serialized
    opsets: tuple                    # ((domain, version), ...) of the model
    ir_version: int
    inputs: tuple                    # names read: the node's inputs ("" when omitted), then captured ones
    outputs: tuple                   # names of the outputs the IR node has (the non-empty ones)
    declared: tuple                  # per output: (elem_type, dims or None) from model shape inference, or None
    reason: str                      # why it is not compiled

    def __str__(self) -> str:
        return f"<{self.op_type} {self.name!r}>"

    __repr__ = __str__


def has_reference(op_type: str, domain: str, version: int) -> bool:
    """Whether the onnx reference evaluator implements this op."""
    if domain == "ai.onnx.ml":
        from onnx.reference.ops.aionnxml import load_op
    else:
        from onnx.reference.ops import load_op
    try:
        load_op("" if domain == "ai.onnx" else domain, op_type, version)
        return True
    except Exception:
        return False


def captured_names(proto: onnx.NodeProto) -> list[str]:
    """Names of outer-scope values the node's subgraphs read."""
    used: list[str] = []
    for a in proto.attribute:
        for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            used += [n for n in graph_captures(sub) if n not in used]
    return used


def graph_captures(graph: onnx.GraphProto) -> list[str]:
    """Names of outer-scope values a subgraph (or one nested in it) reads."""
    used: list[str] = []
    defined: set[str] = set()

    def walk(g: onnx.GraphProto):
        defined.update(i.name for i in g.input)
        defined.update(t.name for t in g.initializer)
        for n in g.node:
            defined.update(n.output)
            for name in n.input:
                if name and name not in used:
                    used.append(name)
            for a in n.attribute:
                for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    walk(sub)
        for o in g.output:
            if o.name not in used:
                used.append(o.name)

    walk(graph)
    return [n for n in used if n not in defined]


def make_node(proto: onnx.NodeProto, name: str, model: onnx.ModelProto, declared: dict,
              reason: str) -> OnnxNode:
    outputs = tuple(o for o in proto.output if o)
    return OnnxNode(proto.op_type, name, proto.SerializeToString(),
                    tuple((o.domain, int(o.version)) for o in model.opset_import), int(model.ir_version),
                    tuple(proto.input) + tuple(captured_names(proto)), outputs,
                    tuple(declared.get(o) for o in outputs), reason)


# ------------------------------------------------------------ type rule
def _type_proto(v) -> onnx.TypeProto:
    elem = helper.np_dtype_to_tensor_dtype(v.dtype)
    dims = [d if isinstance(d, int) else (None if d.startswith("?") else d) for d in v.shape]
    return helper.make_tensor_type_proto(elem, dims)


def _onnx_infer(ins, node: OnnxNode, data: dict) -> dict:
    """ONNX's type inference for the node: {output name: TypeProto} ({} when it fails)."""
    proto = onnx.NodeProto.FromString(node.proto)
    try:
        version = dict(node.opsets).get(proto.domain or "", 1)
        schema = onnx.defs.get_schema(proto.op_type, version, proto.domain or "")
        given = {n: _type_proto(v) for n, v in zip(node.inputs, ins) if n and v is not None}
        opsets = [helper.make_opsetid(d, ver) for d, ver in node.opsets]
        return onnx.shape_inference.infer_node_outputs(schema, proto, given, data, opset_imports=opsets,
                                                       ir_version=node.ir_version)
    except Exception:
        return {}


def _dims(t: onnx.TypeProto | None) -> tuple | None:
    """A tensor type's dims (ints, symbol names, None where unknown); None without a shape."""
    if t is None or not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.tensor_type.shape.dim)


def _stand_in_ranks(ins, node: OnnxNode, data: dict) -> dict:
    """{output name: rank} from ONNX inference with stand-in values for the
    small run-time inputs. An output's rank usually depends on such an
    input's length, not its values (a reduction's axes, a Reshape target,
    STFT's frame step), so any valid-looking value of the right shape tells
    it; the staged runtime checks the rank the real values give."""
    for make in (lambda n: np.arange(n), lambda n: np.ones(n)):
        fake = dict(data)
        for name, v in zip(node.inputs, ins):
            if name and v is not None and not v.is_const and v.static and v.numel <= 16 \
                    and v.dtype.kind in "iuf":
                fake[name] = numpy_helper.from_array(make(v.numel).astype(v.dtype).reshape(v.shape), name)
        ranks = {o: len(d) for o, t in _onnx_infer(ins, node, fake).items() if (d := _dims(t)) is not None}
        if len(ranks) == len(node.outputs):
            return ranks
    return {}


def _infer(ins, node: OnnxNode):
    data = {n: numpy_helper.from_array(np.asarray(v.const), n)
            for n, v in zip(node.inputs, ins) if n and v is not None and v.is_const}
    types = _onnx_infer(ins, node, data)
    symbols = {d for v in ins if v is not None for d in v.shape if isinstance(d, str)}
    stand_in = None
    out = []
    for i, name in enumerate(node.outputs):
        elem, dims = None, None
        t = types.get(name)
        if t is not None and t.HasField("tensor_type") and t.tensor_type.elem_type:
            elem, dims = t.tensor_type.elem_type, _dims(t)
        if elem is None and node.declared[i] is not None:
            elem, dims = node.declared[i]
        elif dims is None and node.declared[i] is not None and node.declared[i][1] is not None:
            dims = node.declared[i][1]
        if elem is None:
            raise UnsupportedError(f"onnx {node.name}: {node.op_type} cannot run as a host step: "
                                   f"the type of its output {name!r} is unknown")
        if dims is None:
            stand_in = _stand_in_ranks(ins, node, data) if stand_in is None else stand_in
            if name not in stand_in:
                raise UnsupportedError(f"onnx {node.name}: {node.op_type} cannot run as a host step: "
                                       f"the rank of its output {name!r} is unknown")
            dims = [None] * stand_in[name]
        dt = np.dtype(helper.tensor_dtype_to_np_dtype(elem))
        shape = tuple(d if isinstance(d, int) else (d if d in symbols else unknown_dim()) for d in dims)
        out.append((dt, shape))
    return out


# ------------------------------------------------------------- evaluate
_evaluators: dict = {}
_lock = threading.Lock()


def _evaluator(node: OnnxNode, dtypes: tuple):
    key = (node, dtypes)
    ev = _evaluators.get(key)
    if ev is None:
        from onnx.reference import ReferenceEvaluator
        proto = onnx.NodeProto.FromString(node.proto)
        seen, inputs = set(), []
        for n, dt in zip(node.inputs, dtypes):
            if n and n not in seen and dt is not None:
                seen.add(n)
                inputs.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(dt), None))
        graph = helper.make_graph([proto], f"fallback_{node.name}", inputs,
                                  [helper.make_empty_tensor_value_info(o) for o in node.outputs])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in node.opsets],
                                  ir_version=node.ir_version)
        ev = ReferenceEvaluator(model)
        with _lock:
            _evaluators[key] = ev
    return ev


def _ref(*arrays: Sequence[np.ndarray | None], node: OnnxNode):
    ev = _evaluator(node, tuple(None if a is None else np.asarray(a).dtype for a in arrays))
    feeds = {n: a for n, a in zip(node.inputs, arrays) if n and a is not None}
    try:
        res = ev.run(None, feeds)
    except Exception as e:
        raise ExecutionError(f"onnx {node.name}: the onnx reference implementation of {node.op_type} "
                             f"failed: {type(e).__name__}: {e}") from e
    return tuple(np.asarray(r) for r in res)


register(OpDef(
    "onnx_reference", OPAQUE, _infer, _ref, dynamic_shape=True,
    doc="an ONNX node dlc cannot compile, evaluated on the host by the onnx reference implementation "
        "(dlc.compile(..., fallback='reference'))"))


def model_value_types(model: onnx.ModelProto) -> dict:
    """{value name: (elem_type, dims or None)} from ONNX shape inference
    (best effort: {} when inference fails)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        return {}
    out = {}
    g = inferred.graph
    for vi in list(g.value_info) + list(g.output) + list(g.input):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            out[vi.name] = (vi.type.tensor_type.elem_type, _dims(vi.type))
    return out
