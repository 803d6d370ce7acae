"""ONNX model -> dlc IR Graph.

Reads a file, bytes or ModelProto; checks everything it can before
converting anything (opset range, every unsupported op in one error,
unsupported dtypes); then converts node by node through the converter
table. Initializers that are also listed as graph inputs (MXNet and older
exporters do this) are weights unless the caller feeds them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from ...ir import Graph, Value, dtypes
from ...ir.graph import OPT, SEQ
from ...ir.errors import DLCError, ModelError, NeedsValueError, UnsupportedError
from .by_value import OP as BY_VALUE
from .context import Context, ONode
from .functions import body_opset, expand, function_body, has_function
from .registry import find_converter

MIN_OPSET = 1   # an op whose converters all start later is reported as unsupported at that opset


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as users see it (shaped like onnxruntime's NodeArg)."""
    name: str
    dtype: np.dtype
    shape: tuple | None  # ints, and str for symbolic dims; None: a sequence's items of unknown rank
    container: tuple = ()   # ("seq",): a sequence of such tensors; ("opt", ...): an optional (ir/graph.py)

    @property
    def type(self) -> str:
        t = f"tensor({_ORT_TYPE.get(self.dtype.name, self.dtype.name)})"
        for c in reversed(self.container):
            t = f"{'seq' if c == SEQ else 'optional'}({t})"
        return t

    def __repr__(self) -> str:
        shape = "?" if self.shape is None else list(self.shape)
        return f"TensorInfo({self.name!r}, {self.type if self.container else self.dtype.name}, {shape})"


_ORT_TYPE = {"float32": "float", "float64": "double", "bool": "bool", "object": "string"}   # others: numpy's name


@dataclass
class Signature:
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    # initializers the model also lists as inputs: weights unless fed
    overridable: dict[str, TensorInfo] = field(default_factory=dict)


def load_model(src) -> onnx.ModelProto:
    """A ModelProto from a path, bytes, or a ModelProto; clear errors for bad files."""
    if isinstance(src, onnx.ModelProto):
        return src
    if isinstance(src, (bytes, bytearray)):
        try:
            return onnx.load_from_string(bytes(src))
        except Exception as e:
            raise ModelError(f"cannot parse the given bytes as an ONNX model: {_short(e)}") from None
    path = os.fspath(src)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    try:
        model = onnx.load(path)
    except Exception as e:
        raise ModelError(f"{path}: not a valid ONNX model ({_short(e)})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not a valid ONNX model (it has no graph)")
    return model


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return s[0][:200] if s else type(e).__name__


def model_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    raise ModelError("the model imports no version of the default ONNX operator set")


def model_opsets(model: onnx.ModelProto) -> dict[str, int]:
    """Imported opset version by domain ("" for the default one)."""
    out = {}
    for o in model.opset_import:
        out["" if o.domain == "ai.onnx" else o.domain] = int(o.version)
    return out


def _all_nodes(graph: onnx.GraphProto):
    for n in graph.node:
        yield n
        for a in n.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _all_nodes(sub)


def _node_version(opsets: dict[str, int], domain: str) -> int:
    domain = "" if domain == "ai.onnx" else domain
    if domain not in opsets:
        if domain == "":
            raise ModelError("the model imports no version of the default ONNX operator set")
        return 1
    return opsets[domain]


def unsupported_nodes(model: onnx.ModelProto) -> dict[str, list[str]]:
    """{op (``domain.Op`` outside the default domain): names of its nodes}
    for every op dlc can convert neither with a converter nor through the
    function body the standard defines for it, at the model's opsets."""
    opsets = model_opsets(model)
    missing: dict[str, list[str]] = {}
    for i, n in enumerate(_all_nodes(model.graph)):
        domain = "" if n.domain in ("", "ai.onnx") else n.domain
        version = _node_version(opsets, domain)
        if find_converter(n.op_type, version, domain) is None and not has_function(n.op_type, version, domain):
            key = n.op_type if domain == "" else f"{domain}.{n.op_type}"
            missing.setdefault(key, []).append(n.name or f"#{i}")
    return missing


def check_support(model: onnx.ModelProto, fallback: str | None = None) -> None:
    """Raise one UnsupportedError naming every unsupported op with its nodes.
    An op without a converter is supported if the standard defines it as a
    function (its body is then checked when it is converted). With
    ``fallback="reference"``, only ops the onnx reference evaluator lacks
    too are refused (the others will run on the host)."""
    opsets = model_opsets(model)
    opset = opsets.get("", 0)
    if "" in opsets and opset < MIN_OPSET:
        raise UnsupportedError(f"the model uses opset {opset}; dlc supports opset {MIN_OPSET} and newer "
                               f"(upgrade it with onnx.version_converter.convert_version)")
    missing = unsupported_nodes(model)
    if fallback == "reference":
        from .fallback import has_reference
        missing = {op: names for op, names in missing.items()
                   if not has_reference(op.rpartition(".")[2], op.rpartition(".")[0],
                                        _node_version(opsets, op.rpartition(".")[0]))}
    if missing:
        parts = [f"{op} (nodes: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
                 for op, names in sorted(missing.items())]
        where = f"at opset {opset}" if "" in opsets else "(no default opset)"
        tail = " (the onnx reference implementation has none of these either)" if fallback else ""
        raise UnsupportedError(f"unsupported ops {where}: " + "; ".join(parts) + tail)


def _elem_dtype(elem_type: int, where: str) -> np.dtype:
    try:
        dt = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    except Exception:
        raise UnsupportedError(f"{where}: element type {onnx.TensorProto.DataType.Name(elem_type)} "
                               f"is not supported") from None
    if np.dtype(dt) not in dtypes.SUPPORTED:
        name = onnx.TensorProto.DataType.Name(elem_type).lower()
        raise UnsupportedError(f"{where}: dtype {name} is not supported yet "
                               f"(float16, bfloat16, float32, float64, int8/16/32/64, uint8/16/32/64 and bool are)")
    return np.dtype(dt)


def value_type(tp: onnx.TypeProto, where: str, name: str) -> tuple[np.dtype, tuple | None, tuple]:
    """(dtype, shape, container) of an ONNX type: a tensor, or sequences and
    optionals of one (see ir/graph.py); shape None where the model gives none.
    Unnamed dims get made-up names from `name`."""
    container = []
    while tp.HasField("sequence_type") or tp.HasField("optional_type"):
        container.append(SEQ if tp.HasField("sequence_type") else OPT)
        tp = tp.sequence_type.elem_type if tp.HasField("sequence_type") else tp.optional_type.elem_type
    if not tp.HasField("tensor_type"):
        raise UnsupportedError(f"{where}: only tensors, and sequences and optionals of tensors, are supported "
                               f"(not {tp.WhichOneof('value') or 'an untyped value'})")
    t = tp.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or f"{name}_d{i}")
                  for i, d in enumerate(t.shape.dim)) if t.HasField("shape") else None
    return _elem_dtype(t.elem_type, where), shape, tuple(container)


def _input_info(vi: onnx.ValueInfoProto, shapes: Mapping) -> TensorInfo:
    dt, shape, container = value_type(vi.type, f"input {vi.name!r}", vi.name)
    if vi.name in shapes:
        shape = tuple(shapes[vi.name])
    elif shape is None and not container:
        raise ModelError(f"input {vi.name!r} has no shape in the model; give one "
                         f"(compile(..., shapes={{{vi.name!r}: (...)}}) or --shape {vi.name}=...)")
    return TensorInfo(vi.name, dt, shape, container)


def signature_of(model: onnx.ModelProto, shapes: Mapping | None = None) -> Signature:
    """Inputs the user must feed and initializers they may feed; outputs are
    filled in by `import_model`."""
    shapes = dict(shapes or {})
    inits = {t.name for t in model.graph.initializer}
    unknown = set(shapes) - {i.name for i in model.graph.input}
    if unknown:
        raise ModelError(f"shapes given for unknown inputs: {', '.join(sorted(unknown))} "
                         f"(inputs: {', '.join(i.name for i in model.graph.input if i.name not in inits)})")
    sig = Signature([], [])
    for vi in model.graph.input:
        info = _input_info(vi, shapes) if vi.name not in inits else None
        if info is not None:
            sig.inputs.append(info)
    init_by_name = {t.name: t for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            t = init_by_name[vi.name]
            sig.overridable[vi.name] = TensorInfo(vi.name, _elem_dtype(t.data_type, f"initializer {vi.name!r}"),
                                                  tuple(t.dims))
    return sig


def import_model(model: onnx.ModelProto, shapes: Mapping | None = None,
                 fed_initializers: Sequence[str] = (), fallback: str | None = None,
                 values: dict | None = None) -> tuple[Graph, Signature]:
    """Convert `model` to an IR Graph. Graph inputs are the model's inputs
    in order, then the `fed_initializers` (initializers the caller feeds).
    ``fallback="reference"``: a node dlc cannot convert becomes an
    ``onnx_reference`` host step (dlc/frontends/onnx/fallback.py) instead of
    an error. ``values``, when given, receives {ONNX value name: IR Value}
    for every input, initializer and node output (for `dlc compare`)."""
    check_support(model, fallback)
    opsets = model_opsets(model)
    sig = signature_of(model, shapes)
    g = Graph(model.graph.name or "main")
    env: dict[str, Value] = {}
    for info in sig.inputs:
        env[info.name] = g.add_input(info.name, info.dtype, info.shape, info.container)
    fed = set(fed_initializers)
    for t in model.graph.initializer:
        if t.name in fed:
            continue
        _elem_dtype(t.data_type, f"initializer {t.name!r}")
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:
            raise ModelError(f"initializer {t.name!r} cannot be read: {_short(e)}") from None
        env[t.name] = g.const(arr, name=t.name)
    for name in fed_initializers:
        info = sig.overridable[name]
        env[name] = g.add_input(name, info.dtype, info.shape)
    cx = Context(g, env)
    cx.host = _HostNodes(model)
    cx.fallback = cx.host if fallback == "reference" else None
    for i, proto in enumerate(model.graph.node):
        _convert_node(cx, proto, env, opsets, i)
    if values is not None:
        values.update(env)
    for vi in model.graph.output:
        if vi.name not in env:
            raise ModelError(f"graph output {vi.name!r} is not produced by any node")
        g.outputs.append(env[vi.name])
    sig.outputs = [TensorInfo(vi.name, v.dtype, v.shape, v.container) for vi, v in zip(model.graph.output, g.outputs)]
    return g, sig


class _HostNodes:
    """Makes IR nodes that hold an ONNX node and run it at run time: as an
    `onnx_reference` host step (for what dlc cannot convert), or as an
    `onnx_by_value` node (converted per value of a run-time input)."""

    def __init__(self, model: onnx.ModelProto):
        from . import fallback
        self.model = model
        self.module = fallback
        self._types = None

    def types(self) -> dict:
        if self._types is None:
            self._types = self.module.model_value_types(self.model)
        return self._types

    def convert(self, cx: Context, node: ONode, env: dict, reason: str, op: str = "onnx_reference",
                **attrs) -> list:
        extra = self.module.captured_names(node.proto)
        missing = [n for n in extra if n not in env]
        if missing:
            raise node.error(f"its subgraph reads {', '.join(missing)}, which is not defined", ModelError)
        spec = self.module.make_node(node.proto, node.name, self.model, self.types(), reason)
        outs = cx.op(op, node.inputs + [env[n] for n in extra], node=spec, **attrs)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        it = iter(outs)
        return [next(it) if name else None for name in node.output_names]


def _convert_node(cx: Context, proto: onnx.NodeProto, env: dict, opsets: dict[str, int], index: int) -> None:
    """Convert one node: its converter; else (no converter, or the converter
    refuses this case) the function body the standard defines for it; else,
    with the reference fallback on, an `onnx_reference` host step. A node
    whose converter needs the value of a run-time input becomes an
    `onnx_by_value` node (by_value.py)."""
    inputs = []
    for name in proto.input:
        if name == "":
            inputs.append(None)
        elif name not in env:
            raise ModelError(f"{proto.op_type} node {proto.name or index!r} uses {name!r}, "
                             f"which no earlier node, input or initializer defines")
        else:
            inputs.append(env[name])
    domain = "" if proto.domain in ("", "ai.onnx") else proto.domain
    opset = _node_version(opsets, domain)
    node = ONode(proto, inputs, opset, index)
    conv = find_converter(node.op_type, opset, domain)
    cx.node, cx.env, cx.opsets = node, env, opsets
    first_new = len(cx.g.nodes)
    try:
        if conv is None:
            return _convert_function(cx, proto, node, env, opsets, index)
        try:
            res = conv(cx, node)
            res = list(res) if isinstance(res, (list, tuple)) else [res]
            for i, name in enumerate(node.output_names):
                if name != "" and (i >= len(res) or res[i] is None):
                    raise node.error(f"output {i} ({name!r}) is not supported", UnsupportedError)
        except NeedsValueError:
            raise
        except UnsupportedError:
            if not has_function(node.op_type, opset, domain):
                raise
            del cx.g.nodes[first_new:]   # the converter refused this case: the standard's function does it
            return _convert_function(cx, proto, node, env, opsets, index)
    except NeedsValueError as e:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in proto.attribute):
            raise
        del cx.g.nodes[first_new:]
        cx.node = node
        res = cx.host.convert(cx, node, env, str(e), op=BY_VALUE, need=e.index)
    except UnsupportedError as e:
        fallback = cx.fallback
        if fallback is None:
            raise
        del cx.g.nodes[first_new:]
        cx.node = node
        res = fallback.convert(cx, node, env, str(e).removeprefix(f"{node.op_type} node {node.name!r}: "))
    except DLCError:
        raise
    except Exception as e:
        raise ModelError(f"{node.op_type} node {node.name!r}: conversion failed: {type(e).__name__}: {e}") from e
    created = {v for n in cx.g.nodes[first_new:] for v in n.outputs}
    for i, name in enumerate(node.output_names):
        if name == "":
            continue
        v = res[i]
        if v in created:   # made-up values take their ONNX name
            cx.g._used.discard(v.name)
            v.name = cx.g.fresh_name(name)
        env[name] = v


def convert_subgraph(cx: Context, graph: onnx.GraphProto, types: Sequence[tuple], name: str
                     ) -> tuple[Graph, list[Value]]:
    """An ONNX subgraph (a Loop or Scan body, an If branch) as an IR Graph.
    Its inputs are the subgraph's formal inputs, typed by `types` ((dtype,
    shape, container) each), then the outer values it reads that are not constants:
    those are returned too (the node passes them as its last inputs). Outer
    constants are used directly, so they still fold inside."""
    from .fallback import graph_captures
    node, env, opsets = cx.node, cx.env, cx.opsets
    if len(types) != len(graph.input):
        raise node.error(f"subgraph {graph.name!r} has {len(graph.input)} inputs, expected {len(types)}")
    body = Graph(name)
    inner: dict[str, Value] = {}
    for vi, (dt, shape, container) in zip(graph.input, types):
        inner[vi.name] = body.add_input(vi.name, dt, shape, container)
    captured = []
    for n in graph_captures(graph):
        if n not in env:
            raise node.error(f"subgraph {graph.name!r} reads {n!r}, which is not defined")
        v = env[n]
        if v.is_const:
            inner[n] = v
        else:
            inner[n] = body.add_input(n, v.dtype, v.shape, v.container)
            captured.append(v)
    _add_initializers(body, graph, inner)
    sub = Context(body)
    sub.host, sub.fallback = cx.host, cx.fallback
    for i, proto in enumerate(graph.node):
        _convert_node(sub, proto, inner, opsets, i)
    body.outputs = [_output(node, graph, o.name, inner) for o in graph.output]
    cx.node, cx.env, cx.opsets = node, env, opsets
    return body, captured


def inline_subgraph(cx: Context, graph: onnx.GraphProto) -> list[Value]:
    """Convert a subgraph's nodes into the current graph (an If branch
    chosen at compile time); returns its outputs."""
    node, env, opsets = cx.node, cx.env, cx.opsets
    inner = dict(env)
    _add_initializers(cx.g, graph, inner)
    for i, proto in enumerate(graph.node):
        _convert_node(cx, proto, inner, opsets, i)
    cx.node, cx.env, cx.opsets = node, env, opsets
    return [_output(node, graph, o.name, inner) for o in graph.output]


def _add_initializers(g: Graph, graph: onnx.GraphProto, env: dict) -> None:
    for t in graph.initializer:
        env[t.name] = g.const(numpy_helper.to_array(t), name=t.name)


def _output(node: ONode, graph: onnx.GraphProto, name: str, env: dict) -> Value:
    if name not in env:
        raise node.error(f"subgraph {graph.name!r}: output {name!r} is not produced by any node")
    return env[name]


def _convert_function(cx: Context, proto: onnx.NodeProto, node: ONode, env: dict, opsets: dict[str, int],
                      index: int) -> None:
    """Convert a node through its function body (see functions.py).

    A body over float16 or bfloat16 inputs runs in float32 and its float
    outputs round back once, as the op's own kernel would compute it (the
    body's ops would otherwise round every intermediate)."""
    low = {v.dtype for v in node.inputs if v is not None and dtypes.is_storage_only(v.dtype)
           and dtypes.kind(v.dtype) == "f"}
    if len(low) == 1 and all(v is None or v.dtype in low or dtypes.kind(v.dtype) != "f" for v in node.inputs):
        return _convert_function_in_float32(cx, proto, node, env, opsets, index, low.pop())
    got = function_body(proto, node.opset, node.domain, node.inputs)
    if got is None:
        raise node.error(f"op {node.op_type} is not supported at opset {node.opset}", UnsupportedError)
    fn, attrs = got
    body = expand(proto, fn, attrs, prefix=f"{node.name}/")
    inner = dict(opsets)
    inner.update(body_opset(fn, opsets.get("", node.opset)))
    for j, sub in enumerate(body):
        if not sub.name:
            sub.name = f"{node.name}/{sub.op_type}_{j}"
        try:
            _convert_node(cx, sub, env, inner, index)
        except UnsupportedError as e:
            raise UnsupportedError(f"{node.op_type} node {node.name!r} (converted through its ONNX "
                                   f"function): {e}") from None
    for name in node.output_names:
        if name and name not in env:
            raise node.error(f"its function body does not produce output {name!r}")


def _convert_function_in_float32(cx, proto, node, env, opsets, index, low) -> None:
    wide = onnx.NodeProto()
    wide.CopyFrom(proto)
    cx.node = node
    for i, (name, v) in enumerate(zip(proto.input, node.inputs)):
        if v is not None and v.dtype == low:
            wide.input[i] = f"{node.name}/{name}_f32"
            env[wide.input[i]] = cx.cast(v, dtypes.float32)
    outs = [f"{node.name}/{name}_f32" if name else "" for name in proto.output]
    wide.ClearField("output")
    wide.output.extend(outs)
    inner = ONode(wide, [env[x] if x else None for x in wide.input], node.opset, index)
    _convert_function(cx, wide, inner, env, opsets, index)
    cx.node = node
    for name, wide_name in zip(proto.output, outs):
        if name:
            v = env[wide_name]
            env[name] = cx.cast(v, low) if v.dtype == dtypes.float32 else v
