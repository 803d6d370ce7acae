"""`dlc compare model.onnx`: where does dlc's output start to differ?

    r = dlc.compare.compare("model.onnx", against="onnxruntime", ablate=True)
    print(r.format()); r.first_divergence

How it works:

1. **Every intermediate value, recorded.** dlc compiles a *debug variant* of
   the model in which every ONNX node output is also a graph output: the
   passes and code generation must then produce each one in memory (a fused
   kernel keeps the values it covers), and one run returns them all, named
   by their ONNX names.
2. **The same values from a reference**: onnxruntime (graph optimizations
   off, the intermediates added as model outputs), the onnx package's
   reference evaluator (``reference``), or dlc's own numpy reference
   interpreter in float64 (``fp64``: how far float32 rounding alone goes).
3. **First divergence.** Values are compared in the model's (topological)
   node order; the first beyond tolerance (|dlc - ref| > atol + rtol·|ref|
   anywhere, or another shape) is reported with its max abs/rel error and the
   kernel of the normal build that computes it (the name the profile and
   the dumps use). The normal build's model outputs are compared too: a
   difference that only shows when intermediates are not materialized points
   at fusion or memory planning.
4. **Ablation** (``ablate=True``): the model is rebuilt with each pass (and
   each implemented non-graph stage: fusion, memory planning, layout) turned
   off through ``Options.disabled_passes``; a pass whose removal makes the
   difference disappear is named as the one that introduces it. When none
   does, the difference is in the lowering of the first divergent node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import onnx

from . import compiler
from .compiler import Options, build, specialize
from .frontends.onnx.importer import import_model, load_model
from .ir.errors import DLCError, InputError, UnsupportedError
from .ir.passes import run_passes
from .staged import HostStep, StagedExecutable, needs_staging

AGAINST = ("onnxruntime", "reference", "fp64")


@dataclass
class ValueDiff:
    node: str                # ONNX node name
    op_type: str
    output: str              # ONNX value name
    kernel: str = ""         # kernel(s) of the normal build that compute it
    ok: bool = True
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst: tuple = ()        # index of the largest error
    note: str = ""           # shape/dtype mismatch, NaN where the reference has none, ...

    def describe(self) -> str:
        if self.note and not self.max_abs:
            err = self.note
        else:
            err = (f"max abs err {self.max_abs:.3g}" + (f" at {list(self.worst)}" if self.worst else "")
                   + f", max rel err {self.max_rel:.3g}" + (f" ({self.note})" if self.note else ""))
        return f"node {self.node} ({self.op_type}) output {self.output!r}: {err}; kernel {self.kernel or '-'}"


@dataclass
class Ablation:
    name: str                # pass or stage turned off
    fixed: bool              # no divergence without it
    first: str = ""          # first divergence without it, if any
    error: str = ""          # the variant failed to build or run


@dataclass
class CompareReport:
    model: str
    against: str
    rtol: float
    atol: float
    inputs: str
    values: list[ValueDiff] = field(default_factory=list)
    outputs: list[ValueDiff] = field(default_factory=list)   # the normal build's model outputs
    ablations: list[Ablation] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def diverging(self) -> list[ValueDiff]:
        return [v for v in self.values if not v.ok]

    @property
    def first_divergence(self) -> ValueDiff | None:
        bad = self.diverging
        return bad[0] if bad else None

    @property
    def ok(self) -> bool:
        return not self.diverging and all(o.ok for o in self.outputs)

    @property
    def culprits(self) -> list[str]:
        """Passes whose removal makes the difference disappear (after ablation)."""
        return [a.name for a in self.ablations or [] if a.fixed]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def format(self, show_all: bool = False) -> str:
        lines = [f"compare {self.model} against {self.against} (rtol {self.rtol:g}, atol {self.atol:g}); "
                 f"inputs: {self.inputs}"]
        lines += [f"note: {n}" for n in self.notes]
        first = self.first_divergence
        lines.append(f"{len(self.values)} node outputs compared, {len(self.diverging)} diverge")
        if first is not None:
            lines.append("first divergence: " + first.describe())
        bad_outs = [o for o in self.outputs if not o.ok]
        if bad_outs and first is None:
            lines.append("the normal build's outputs differ although every intermediate matches when all are "
                         "materialized: suspect fusion or memory planning (try --ablate)")
        for o in bad_outs:
            lines.append(f"  model output {o.output!r} of the normal build: " + o.describe().partition(": ")[2])
        if show_all or first is not None:
            rows = self.values if show_all else [v for v in self.values if not v.ok][:20]
            if rows:
                w = max(len(v.node) for v in rows)
                k = max(len(v.kernel or "-") for v in rows)
                lines.append(f"  {'node':<{w}}  {'op':<14} {'kernel':<{k}}  {'max abs':>9}  {'max rel':>9}")
                for v in rows:
                    lines.append(f"  {v.node:<{w}}  {v.op_type:<14} {v.kernel or '-':<{k}}  {v.max_abs:9.2e}  "
                                 f"{v.max_rel:9.2e}  {'ok' if v.ok else 'DIFF'}{'  ' + v.note if v.note else ''}")
                if not show_all and len(self.diverging) > 20:
                    lines.append(f"  ... {len(self.diverging) - 20} more")
        if self.ablations is not None:
            lines.append("ablation (rebuilt with one pass off at a time):")
            for a in self.ablations:
                state = "error: " + a.error if a.error else ("no difference" if a.fixed else
                                                             "still differs" + (f" ({a.first})" if a.first else ""))
                lines.append(f"  without {a.name:<34} {state}")
            if self.culprits:
                lines.append(f"=> the difference is introduced by: {', '.join(self.culprits)}")
            elif first is not None:
                lines.append(f"=> no single pass introduces it: suspect the lowering of {first.op_type} "
                             f"(node {first.node}, kernel {first.kernel or '-'})")
        if self.ok:
            lines.append("result: dlc matches " + self.against)
        return "\n".join(lines)

    __str__ = format


# ------------------------------------------------------------- helpers
def random_feeds(model: onnx.ModelProto, shapes: Mapping | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input (symbolic dims as 1 unless `shapes` says)."""
    from .frontends.onnx.importer import signature_of
    sig = signature_of(model, shapes)
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in sig.inputs:
        shape = tuple(d if isinstance(d, int) else 1 for d in info.shape)
        if info.dtype.kind == "f":
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            feeds[info.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[info.name] = rng.integers(0, 10, shape).astype(info.dtype)
    return feeds


def _host_typed(t: onnx.TypeProto) -> bool:
    return t.HasField("sequence_type") or t.HasField("optional_type") or \
        t.tensor_type.elem_type == onnx.TensorProto.STRING


def _node_outputs(model: onnx.ModelProto) -> list[tuple[str, str, str]]:
    """(node name as dlc names it, op type, output name), in node order."""
    inputs = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    out = []
    for i, n in enumerate(model.graph.node):
        for o in n.output:
            if o and o not in inputs:
                out.append((n.name or f"{n.op_type}_{i}", n.op_type, o))
    return out


def _reference_values(model, feeds, names: list[str], against: str, notes: list[str]) -> dict[str, np.ndarray]:
    if against == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise UnsupportedError("--against onnxruntime needs onnxruntime (pip install onnxruntime); "
                                   "or compare --against reference") from None
        m = onnx.ModelProto()
        m.CopyFrom(model)
        have = {o.name for o in m.graph.output}
        m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in have)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        try:
            sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
            return dict(zip(names, sess.run(names, dict(feeds))))
        except Exception as e:
            notes.append(f"onnxruntime cannot run this model ({str(e).splitlines()[0][:160]}); "
                         f"used the onnx reference evaluator instead")
            against = "reference"
    if against == "reference":
        from onnx.reference import ReferenceEvaluator
        res = ReferenceEvaluator(model).run(names, dict(feeds))
        return {n: np.asarray(r) for n, r in zip(names, res)}
    # fp64: dlc's reference interpreter on the imported graph, floats in float64
    env: dict = {}
    g, sig = import_model(model, {k: np.shape(v) for k, v in feeds.items()}, fallback="reference", values=env)
    vals: dict = {}
    for v in g.inputs:
        a = np.asarray(feeds[v.name])
        vals[v] = a.astype(np.float64) if a.dtype.kind == "f" else a

    def get(v):
        return None if v is None else (v.const if v.is_const else vals[v])

    with np.errstate(all="ignore"):
        for n in g.nodes:
            args = [get(v) for v in n.inputs]
            args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
            res = n.opdef.ref(*args, **n.attrs)
            res = list(res) if isinstance(res, (tuple, list)) else [res]
            for v, r in zip(n.outputs, res):
                r = np.asarray(r)
                vals[v] = r.astype(np.float64) if v.dtype.kind == "f" else r.astype(v.dtype)
    return {n: np.asarray(get(env[n])) for n in names if n in env}


def _dlc_values(model, feeds, names: list[str], options: Options) -> dict[str, np.ndarray]:
    """Run the debug variant: every ONNX node output is a graph output."""
    env: dict = {}
    g, sig = import_model(model, {k: np.shape(v) for k, v in feeds.items()}, fallback=options.fallback, values=env)
    named = [n for n in names if n in env]
    first_debug = len(g.outputs)
    g.outputs = list(g.outputs) + [env[n] for n in named]
    g = run_passes(g, options.passes(compiler.GENERIC_PASSES))
    arrays = [np.ascontiguousarray(feeds[i.name]) for i in sig.inputs]
    g = specialize(g, [a.shape for a in arrays])
    if needs_staging(g):
        exe = StagedExecutable(g, lambda sg: build(sg, options)[1])
    else:
        exe = build(g, options)[1]
    outs = exe.run(arrays)
    return dict(zip(named, outs[first_debug:]))


def _kernels_by_node(model, feeds, options: Options) -> tuple[dict[str, list[str]], list[np.ndarray]]:
    """{ONNX node name: kernels of the normal build computing it}, and its outputs."""
    from .model import CompiledModel, OnnxSource
    source = OnnxSource(model, {k: np.shape(v) for k, v in feeds.items()}, options.fallback)
    g, sig = source.build()
    g = run_passes(g, options.passes(compiler.GENERIC_PASSES))
    m = CompiledModel(source, sig, options, {(): g})
    outs = m.run(None, {i.name: feeds[i.name] for i in sig.inputs})
    found: dict[str, list[str]] = {}
    for exe in m._exes.values():
        if isinstance(exe, StagedExecutable):
            for st in exe.stages:
                if isinstance(st, HostStep):
                    found.setdefault(st.node.where.removeprefix("onnx "), []).append(
                        "(compiled per input value)" if st.node.opdef.specialize else "(host step)")
                else:
                    for sub in st.cache.values():
                        for name, sources, _ in sub.meta.calls:
                            for s in sources:
                                found.setdefault(s.removeprefix("onnx "), []).append(f"{st.graph.name}/{name}")
        else:
            for name, sources, _ in exe.meta.calls:
                for s in sources:
                    found.setdefault(s.removeprefix("onnx "), []).append(name)
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}, outs


def diff(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> tuple[bool, float, float, tuple, str]:
    """(within tolerance, max abs err, max rel err, worst index, note)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False, 0.0, 0.0, (), f"shape {list(got.shape)} vs reference {list(want.shape)}"
    if got.size == 0:
        return True, 0.0, 0.0, (), ""
    if got.dtype.kind in "biu" and want.dtype.kind in "biu":
        bad = got.astype(np.int64) != want.astype(np.int64) if got.dtype.kind != "b" else got != want
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
        worst = np.unravel_index(int(np.argmax(err)), got.shape) if got.ndim else ()
        rel = float(np.max(err / np.maximum(np.abs(want.astype(np.float64)), 1)))
        return not bad.any(), float(err.max()), rel, tuple(int(i) for i in worst), \
            (f"{int(bad.sum())} of {got.size} elements differ" if bad.any() else "")
    g64, w64 = got.astype(np.float64), want.astype(np.float64)
    with np.errstate(all="ignore"):
        close = np.isclose(g64, w64, rtol=rtol, atol=atol, equal_nan=True)
        err = np.abs(g64 - w64)
        err = np.where(np.isnan(err) & ~(np.isnan(g64) & np.isnan(w64)), np.inf, np.nan_to_num(err, nan=0.0))
        err = np.where(np.isinf(g64) & (g64 == w64), 0.0, err)
        # relative error where the reference is not ~0 (there, only the absolute error means anything)
        rel = np.where(np.abs(w64) > atol, err / np.abs(w64), 0.0)
    worst = np.unravel_index(int(np.argmax(err)), got.shape) if got.ndim else ()
    note = ""
    if not close.all():
        note = f"{int((~close).sum())} of {got.size} elements"
        if np.isnan(g64).sum() != np.isnan(w64).sum():
            note += f", NaN in {int(np.isnan(g64).sum())} vs {int(np.isnan(w64).sum())}"
    return bool(close.all()), float(err.max()), float(np.max(rel)), tuple(int(i) for i in worst), note


def ablation_candidates() -> list[str]:
    """Passes and implemented stages that can be turned off, in pipeline order."""
    names = [p.__name__ for p in compiler.GENERIC_PASSES + compiler.SPECIALIZED_PASSES
             if p.__name__ not in compiler.REQUIRED_PASSES]
    return list(dict.fromkeys(names + sorted(compiler.IMPLEMENTED_STAGES)))


def _rows(model_names, ref, got, kernels, rtol, atol) -> list[ValueDiff]:
    rows = []
    for node, op_type, out in model_names:
        if out not in ref or out not in got:
            continue
        ok, mabs, mrel, worst, note = diff(got[out], ref[out], rtol, atol)
        kernel = ", ".join(kernels.get(node, [])) or "(no kernel: folded, a view, or removed)"
        rows.append(ValueDiff(node, op_type, out, kernel, ok, mabs, mrel, worst, note))
    return rows


# ---------------------------------------------------------------- compare
def compare(model, feeds: Mapping[str, np.ndarray] | None = None, against: str = "onnxruntime",
            rtol: float = 1e-4, atol: float = 1e-5, shapes: Mapping | None = None, ablate: bool = False,
            fallback: str | None = None, disable_passes=(), seed: int = 0) -> CompareReport:
    """Compare every ONNX node output of dlc's build of `model` with
    `against` (onnxruntime | reference | fp64) on `feeds` (random when None)."""
    if against not in AGAINST:
        raise InputError(f"unknown reference {against!r}; choose one of: {', '.join(AGAINST)}")
    model = load_model(model)
    host = [vi.name for vi in list(model.graph.input) + list(model.graph.output) if _host_typed(vi.type)]
    if host:   # per-node comparison is of numeric tensors
        raise UnsupportedError(f"dlc compare compares numeric tensors; this model's {', '.join(host)} are "
                               f"sequences, optionals or strings")
    given = feeds is not None
    feeds = dict(feeds) if given else random_feeds(model, shapes, seed)
    desc = ", ".join(f"{k}={np.asarray(v).dtype.name}{list(np.shape(v))}" for k, v in feeds.items())
    report = CompareReport(model.graph.name or "model", against, rtol, atol,
                           desc + ("" if given else f" (random, seed {seed})"))
    names = _node_outputs(model)
    ref = _reference_values(model, feeds, [n for _, _, n in names], against, report.notes)
    ref_outputs = [ref.get(o.name) for o in model.graph.output]
    if any(r is None for r in ref_outputs):   # outputs that are inputs/initializers: ask the reference directly
        ref_outputs = None

    def options(disabled=frozenset()):
        # never the compile cache: a planted or patched lowering must not be cached or read
        return Options(cache=False, fallback=fallback, disabled_passes=frozenset(disable_passes) | disabled)

    kernels, normal_outs = _kernels_by_node(model, feeds, options())
    got = _dlc_values(model, feeds, [n for _, _, n in names], options())
    report.values = _rows(names, ref, got, kernels, rtol, atol)
    if ref_outputs is not None:
        for o, g_, w in zip(model.graph.output, normal_outs, ref_outputs):
            ok, mabs, mrel, worst, note = diff(g_, w, rtol, atol)
            producer = next((n for n, _, out in names if out == o.name), "")
            report.outputs.append(ValueDiff(producer or o.name, "model output", o.name,
                                            ", ".join(kernels.get(producer, [])), ok, mabs, mrel, worst, note))
    if ablate and not report.ok:
        report.ablations = []
        for name in ablation_candidates():
            if name in disable_passes:
                continue
            try:
                opts = options(frozenset({name}))
                k2, outs2 = _kernels_by_node(model, feeds, opts)
                rows = _rows(names, ref, _dlc_values(model, feeds, [n for _, _, n in names], opts), k2, rtol, atol)
                outs_ok = ref_outputs is None or all(diff(a, b, rtol, atol)[0] for a, b in zip(outs2, ref_outputs))
                bad = [r for r in rows if not r.ok]
                report.ablations.append(Ablation(name, not bad and outs_ok,
                                                 f"first: node {bad[0].node}" if bad else
                                                 ("" if outs_ok else "model outputs")))
            except DLCError as e:
                report.ablations.append(Ablation(name, False, error=str(e).splitlines()[0][:160]))
    return report
