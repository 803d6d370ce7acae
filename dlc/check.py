"""`dlc check model.onnx`: will this model compile, and what looks wrong in it?

Before any code generation it lists:

- every unsupported (op type, opset) with its node names, whether the onnx
  reference implementation has it (so ``fallback="reference"`` would run
  it), and every node dlc's converter refuses (an attribute value it does
  not implement, an input that must be constant...), with the reason;
- every (op type, opset, dtype) whose tensors have an element type dlc does
  not compute in;
- model lint: training-mode Dropout/BatchNormalization left in an inference
  graph, symbolic dims with different names that the graph forces to be
  equal (or that an output declares differently), initializers that shadow
  graph inputs, inputs nothing reads, and ops whose output shapes depend on
  input data (they run as host steps between compiled segments).

``check(model).compiles`` (and the command's exit status, 0 or 1) says
whether `dlc.compile` will succeed without the fallback. The check imports
the model, runs the graph passes and lowers it to kernel IR (for static or
``shapes``-given inputs; symbolic dims are taken as 1), but never runs LLVM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import onnx

from .ir import dtypes
from .ir.errors import DLCError, UnsupportedError

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass
class Finding:
    severity: str          # error | warning | info
    code: str              # unsupported-op, unsupported-node, unsupported-dtype, training-mode, symbolic-dims,
    #                        shadowed-initializer, unused-input, data-dependent-shape, host-values, model-error, ...
    message: str
    nodes: list[str] = field(default_factory=list)
    fallback: bool = False  # the reference fallback would run it

    def format(self) -> str:
        nodes = ""
        if self.nodes:
            shown = ", ".join(self.nodes[:8]) + (f", ... ({len(self.nodes)} in all)" if len(self.nodes) > 8 else "")
            nodes = f"\n{'':<32}nodes: {shown}"
        return f"{self.severity:<8} {self.code:<22} {self.message}{nodes}"


@dataclass
class CheckReport:
    model: str
    opset: int
    node_count: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def compiles(self) -> bool:
        """dlc.compile succeeds (without the reference fallback)."""
        return not self.errors

    @property
    def compiles_with_fallback(self) -> bool:
        return all(f.fallback for f in self.errors)

    @property
    def exit_code(self) -> int:
        return 0 if self.compiles else 1

    def add(self, *args, **kwargs) -> None:
        self.findings.append(Finding(*args, **kwargs))

    def format(self) -> str:
        lines = [f"model {self.model}: opset {self.opset}, {self.node_count} nodes"]
        order = {ERROR: 0, WARNING: 1, INFO: 2}
        lines += [f.format() for f in sorted(self.findings, key=lambda f: order[f.severity])]
        nerr, nwarn = len(self.errors), sum(f.severity == WARNING for f in self.findings)
        if self.compiles:
            verdict = "compiles" + (f" ({nwarn} warning(s))" if nwarn else "")
        else:
            verdict = f"does not compile: {nerr} error(s)"
            if self.compiles_with_fallback:
                verdict += ("; with fallback='reference' (dlc compile --fallback reference) the unsupported "
                            "nodes would run on the host with the onnx reference implementation")
        lines.append(f"result: {verdict}")
        return "\n".join(lines)

    __str__ = format


# ---------------------------------------------------------------- check
def check(model, shapes: Mapping | None = None) -> CheckReport:
    """Check `model` (a path, bytes or ModelProto) without generating code."""
    from .frontends.onnx.fallback import has_reference
    from .frontends.onnx.importer import (MIN_OPSET, _all_nodes, _node_version, load_model, model_opset,
                                          model_opsets, unsupported_nodes)
    model = load_model(model)
    opset = model_opset(model)
    report = CheckReport(model.graph.name or "(unnamed)", opset, len(model.graph.node))
    if opset < MIN_OPSET:
        report.add(ERROR, "unsupported-opset", f"opset {opset}; dlc supports opset {MIN_OPSET} and newer "
                   f"(upgrade with onnx.version_converter.convert_version)")
        return report
    all_nodes = list(_all_nodes(model.graph))

    def node_name(n, i):   # as the importer names nodes (for top-level ones)
        return n.name or f"{n.op_type}_{i}"

    # 1. ops dlc has no converter for
    missing = unsupported_nodes(model)
    no_reference = False
    for op, nodes in sorted(missing.items()):
        domain, _, op_type = op.rpartition(".")
        version = _node_version(model_opsets(model), domain)
        ref = has_reference(op_type, domain, version)
        no_reference |= not ref
        where = f" (domain {domain} v{version})" if domain else f" (opset {version})"
        report.add(ERROR, "unsupported-op", f"{op_type}{where}: dlc has no converter"
                   + ("; the onnx reference implementation has one" if ref else
                      "; the onnx reference implementation has none either"), nodes, fallback=ref)

    # 2. element types dlc does not compute in, per (op, opset, dtype)
    types = _value_types(model)
    bad_types: dict[tuple, list[str]] = {}
    for i, n in enumerate(all_nodes):
        for name in list(n.input) + list(n.output):
            elem = types.get(name)
            if elem is not None and not _supported_elem(elem):
                key = (n.op_type, onnx.TensorProto.DataType.Name(elem).lower())
                nm = node_name(n, i)
                if nm not in bad_types.setdefault(key, []):
                    bad_types[key].append(nm)
    for (op_type, dt), nodes in sorted(bad_types.items()):
        report.add(ERROR, "unsupported-dtype", f"{op_type} (opset {opset}) on {dt}: dlc has no tensors of this "
                   "element type", nodes)

    # 3. lint on the ONNX graph
    training = _lint_training(model, opset, report, node_name)
    _lint_inputs(model, report)

    # 4. import (unsupported nodes as host steps, to find every refusal), passes, lowering
    if not no_reference and not bad_types:
        _check_import(model, shapes, report, training | {n for nodes in missing.values() for n in nodes})
    else:
        report.add(INFO, "skipped", "conversion, shape and lowering checks were skipped: fix the errors above "
                   "first (ops no implementation has, or unsupported element types)")
    return report


def _supported_elem(elem: int) -> bool:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)) in dtypes.SUPPORTED
    except Exception:
        return False


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    """{value name: ONNX element type} from the model and its shape inference."""
    out: dict[str, int] = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        inferred = model
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            out[vi.name] = vi.type.tensor_type.elem_type
    for t in g.initializer:
        out[t.name] = t.data_type
    return out


def _const_bool(model: onnx.ModelProto, name: str) -> bool | None:
    """The value of a boolean that is an initializer or a Constant node's output; None if computed."""
    for t in model.graph.initializer:
        if t.name == name:
            return bool(onnx.numpy_helper.to_array(t).reshape(-1)[0])
    for n in model.graph.node:
        if n.op_type == "Constant" and name in n.output:
            for a in n.attribute:
                if a.name == "value":
                    return bool(onnx.numpy_helper.to_array(a.t).reshape(-1)[0])
    return None


def _lint_training(model, opset: int, report: CheckReport, node_name) -> set[str]:
    """Training-mode Dropout / BatchNormalization. Returns their node names."""
    found: dict[str, list[str]] = {}
    for i, n in enumerate(model.graph.node):
        name = node_name(n, i)
        if n.op_type == "Dropout" and len(n.input) > 2 and n.input[2]:
            value = _const_bool(model, n.input[2])
            if value is None:
                found.setdefault(f"Dropout's training_mode comes from {n.input[2]!r}, computed at run time", []
                                 ).append(name)
            elif value:
                found.setdefault("Dropout with training_mode=true", []).append(name)
        if n.op_type == "BatchNormalization":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if attrs.get("training_mode", 0):
                found.setdefault("BatchNormalization with training_mode=1", []).append(name)
            elif sum(1 for o in n.output if o) > 1:
                found.setdefault("BatchNormalization with its training outputs (running mean/var) used", []
                                 ).append(name)
    for what, nodes in found.items():
        report.add(ERROR, "training-mode", f"{what}: the graph was exported for training; export it for "
                   f"inference (PyTorch: model.eval() before torch.onnx.export)", nodes, fallback=True)
    return {n for nodes in found.values() for n in nodes}


def _used_names(g: onnx.GraphProto) -> set[str]:
    used = set()
    for n in g.node:
        used.update(n.input)
        for a in n.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                used |= _used_names(sub)
                used.update(o.name for o in sub.output)
    return used


def _lint_inputs(model: onnx.ModelProto, report: CheckReport) -> None:
    g = model.graph
    inits = {t.name for t in g.initializer}
    shadow = [i.name for i in g.input if i.name in inits]
    if shadow:
        report.add(WARNING, "shadowed-initializer", "initializers with the name of a graph input: dlc (like "
                   "onnxruntime) uses the initializer as a weight unless the input is fed; if they are "
                   "constants, remove them from the graph inputs (onnxruntime's "
                   "remove_initializer_from_input.py)", shadow)
    used = _used_names(g) | {o.name for o in g.output}
    unused = [i.name for i in g.input if i.name not in inits and i.name not in used]
    if unused:
        report.add(WARNING, "unused-input", "graph inputs nothing reads: callers must still feed them", unused)
    unused_inits = [t.name for t in g.initializer if t.name not in used]
    if unused_inits:
        report.add(INFO, "unused-initializer", f"{len(unused_inits)} initializer(s) nothing reads "
                   f"(dropped at compile time)", unused_inits)


def _check_import(model, shapes, report: CheckReport, skip: set[str]) -> None:
    """`skip`: nodes already reported (training mode, ops without a converter)."""
    from .compiler import GENERIC_PASSES, Options, optimize, specialize
    from .codegen.lower import lower_graph
    from .frontends.onnx.importer import import_model
    from .ir.ops.control import CONTROL
    from .ir.passes import run_passes
    from .staged import needs_staging
    try:
        g, sig = import_model(model, shapes, fallback="reference")
    except DLCError as e:
        report.add(ERROR, "model-error" if not isinstance(e, UnsupportedError) else "unsupported-node", str(e))
        return
    # nodes a converter refused (an attribute value, a computed input that must be constant...)
    refused: dict[tuple, list[str]] = {}
    for n in g.nodes:
        if n.op == "onnx_reference":
            spec = n.attrs["node"]
            if spec.name in skip:
                continue
            refused.setdefault((spec.op_type, spec.reason), []).append(spec.name)
    for (op_type, reason), nodes in sorted(refused.items()):
        report.add(ERROR, "unsupported-node", f"{op_type} (opset {report.opset}): {reason}", nodes, fallback=True)
    _lint_symbols(model, g, sig, report)
    try:
        g = run_passes(g, GENERIC_PASSES)
    except DLCError as e:
        report.add(ERROR, "model-error", str(e))
        return
    control = [n for n in g.nodes if n.op in CONTROL]
    if control:
        report.add(INFO, "control-flow", "If/Loop/Scan/SequenceMap: their bodies compile to native code and the host "
                   "drives the iterations, between compiled segments (see README: control flow)",
                   [f"{n.where.removeprefix('onnx ')} ({n.op})" for n in control])
    dynamic = [n for n in g.nodes if n.opdef.dynamic_shape and n.op != "onnx_reference" and n.op not in CONTROL]
    if dynamic:
        report.add(INFO, "data-dependent-shape", "output shapes depend on input data or on the values of "
                   "shape inputs: these run as host steps between compiled segments (or compile per value), "
                   "and the segments after them compile once per distinct size (see README: data-dependent "
                   "shapes)",
                   [f"{n.where.removeprefix('onnx ')} ({n.op})" for n in dynamic])
    host = [n for n in g.nodes if n.on_host and not n.opdef.dynamic_shape and n.op not in CONTROL]
    if host:
        report.add(INFO, "host-values", "sequences, optionals and string tensors live on the host: these nodes "
                   "run as host steps between compiled segments (see README: sequences, optionals and strings)",
                   [f"{n.where.removeprefix('onnx ')} ({n.op})" for n in host])
    if needs_staging(g) or report.errors:
        return
    sym = {}
    for info in sig.inputs:
        sym[info.name] = tuple(d if isinstance(d, int) else 1 for d in info.shape)
    try:
        spec = specialize(g, [sym[i.name] for i in sig.inputs])
        lower_graph(optimize(spec, Options(cache=False)))
    except DLCError as e:
        code = "data-dependent-shape" if "depends on input data" in str(e) or "known at compile time" in str(e) \
            else "lowering"
        report.add(ERROR, code, str(e))
    if any(isinstance(d, str) for i in sig.inputs for d in i.shape):
        report.add(INFO, "assumed-shapes", "symbolic input dims were taken as 1 for the lowering check: "
                   + ", ".join(f"{i.name}{list(i.shape)}" for i in sig.inputs
                               if any(isinstance(d, str) for d in i.shape)))


def _lint_symbols(model, g, sig, report: CheckReport) -> None:
    """Symbolic dims with different names that the graph forces to be equal,
    and outputs that declare a dim by another name than the one it has."""
    origin: dict[str, str] = {}
    for info in sig.inputs:
        for axis, d in enumerate(info.shape):
            if isinstance(d, str):
                origin.setdefault(d, f"input {info.name!r} dim {axis}")
    clashes: dict[tuple, list[str]] = {}

    def meet(a, b, node):
        if isinstance(a, str) and isinstance(b, str) and a != b and a in origin and b in origin:
            clashes.setdefault(tuple(sorted((a, b))), []).append(node.where.removeprefix("onnx "))

    for n in g.nodes:
        ins = [v for v in n.inputs if v is not None and not v.is_const]
        if n.opdef.kind in ("elemwise", "broadcast") and len(ins) > 1:
            rank = max(v.rank for v in ins)
            for i in range(rank):
                dims = [v.shape[v.rank - rank + i] for v in ins if v.rank - rank + i >= 0]
                dims = [d for d in dims if d != 1]
                for a, b in zip(dims, dims[1:]):
                    meet(a, b, n)
        elif n.op == "matmul" and len(ins) == 2 and ins[0].rank >= 1 and ins[1].rank >= 2:
            meet(ins[0].shape[-1], ins[1].shape[-2], n)
    for (a, b), nodes in sorted(clashes.items()):
        report.add(WARNING, "symbolic-dims", f"dims {a!r} ({origin[a]}) and {b!r} ({origin[b]}) must be equal "
                   f"where they meet; give them one name", sorted(set(nodes)))
    for vi, v in zip(model.graph.output, g.outputs):
        t = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
            continue
        for axis, (d, got) in enumerate(zip(t.shape.dim, v.shape)):
            if d.dim_param and isinstance(got, str) and got in origin and d.dim_param != got:
                report.add(WARNING, "symbolic-dims", f"output {vi.name!r} declares dim {axis} as {d.dim_param!r}, "
                           f"but it is {got!r} ({origin[got]})")
            elif d.dim_param and d.dim_param in origin and isinstance(got, int) and got != 1:
                report.add(WARNING, "symbolic-dims", f"output {vi.name!r} declares dim {axis} as {d.dim_param!r} "
                           f"({origin[d.dim_param]}), but it is always {got}")
