"""The ONNX backend conformance suite, run through dlc.

Cases come from the installed onnx package:

- ``node``: the operator cases of ``onnx.backend.test.case.node.collect_testcases()``
  (a model of one node, or its function expansion, with input/expected-output
  sets). Generating them runs every case's numpy reference (~20 s), so they are
  written once into a cache directory, in the layout onnx's own test data uses
  (``<case>/model.onnx``, ``<case>/test_data_set_N/{input,output}_J.pb``).
- ``simple``, ``pytorch-converted``, ``pytorch-operator``: model suites the onnx
  package ships as files.
- ``light``: ResNet-50, DenseNet-121, Inception v1/v2, ShuffleNet, SqueezeNet,
  VGG-19, ZFNet-512 and AlexNet as the onnx package ships them, offline: the
  architecture with every weight replaced by a ConstantOfShape fill, the input
  ``arange(n) / n`` (onnx's ``generate_dummy_data``), and the expected output
  stored next to the model (computed by onnx's reference evaluator).

Each case compiles once (``dlc.compile``) and runs every data set, compared as
onnx's own runner compares (``Runner.assert_similar_outputs``: same number of
outputs, shapes, dtypes, then ``assert_allclose`` at the case's rtol/atol,
1e-3/1e-7 for every case in onnx 1.23; bfloat16 outputs at rtol >= 2**-6).

Cases are named ``<kind>/<name>``, e.g. ``node/test_abs``, ``light/resnet50``.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PASSING_FILE = os.path.join(HERE, "passing.txt")
CANNOT_PASS_FILE = os.path.join(HERE, "cannot_pass.txt")
MODEL_KINDS = ("simple", "pytorch-converted", "pytorch-operator", "light")
DATA_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def cache_dir() -> str:
    base = os.environ.get("DLC_CONFORMANCE_CACHE") or os.path.join(ROOT, ".dlc-cache", "conformance")
    return os.path.join(base, f"onnx-{onnx.__version__}")


# ------------------------------------------------------------------ the cache
def _write_value(path: str, value, vi: onnx.ValueInfoProto) -> None:
    t = vi.type
    if t.HasField("sequence_type"):
        proto = numpy_helper.from_list(value, vi.name)
    elif t.HasField("optional_type"):
        proto = numpy_helper.from_optional(value, vi.name)
    elif t.HasField("map_type"):
        proto = numpy_helper.from_dict(value, vi.name)
    elif isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(np.asarray(value), vi.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def _generate_node_cases(dest: str) -> None:
    import onnx.backend.test.case.node as node_cases
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases()
    index = {}
    for case in cases:
        d = os.path.join(dest, case.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds, exist_ok=True)
            for j, v in enumerate(inputs):
                _write_value(os.path.join(ds, f"input_{j}.pb"), v, case.model.graph.input[j])
            for j, v in enumerate(outputs):
                _write_value(os.path.join(ds, f"output_{j}.pb"), v, case.model.graph.output[j])
        index[case.name] = {"rtol": case.rtol, "atol": case.atol}
    with open(os.path.join(dest, "index.json"), "w") as f:
        json.dump(index, f, indent=0, sort_keys=True)


def ensure_node_cache() -> str:
    """The directory of the generated node cases (generated on first use;
    several processes may ask at once: one generates, the others wait)."""
    dest = os.path.join(cache_dir(), "node")
    if os.path.exists(os.path.join(dest, "index.json")):
        return dest
    os.makedirs(cache_dir(), exist_ok=True)
    import fcntl
    with open(os.path.join(cache_dir(), ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(dest, "index.json")):
            tmp = f"{dest}.tmp{os.getpid()}"
            _generate_node_cases(tmp)
            if os.path.exists(dest):
                import shutil
                shutil.rmtree(dest)
            os.rename(tmp, dest)
    return dest


# ------------------------------------------------------------------- cases
@dataclass
class Case:
    name: str          # "<kind>/<test name>"
    kind: str
    model_path: str
    data_dirs: list[str]
    rtol: float = 1e-3
    atol: float = 1e-7
    dummy_input: bool = False     # light models: input generated as onnx does
    expected: list[str] = field(default_factory=list)   # light models: expected outputs

    @property
    def short(self) -> str:
        return self.name.split("/", 1)[1]


def node_cases() -> list[Case]:
    d = ensure_node_cache()
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    return [Case(f"node/{name}", "node", os.path.join(d, name, "model.onnx"),
                 sorted(glob.glob(os.path.join(d, name, "test_data_set_*"))), tol["rtol"], tol["atol"])
            for name, tol in sorted(index.items())]


def model_cases(kind: str) -> list[Case]:
    from onnx.backend.test.loader import load_model_tests
    out = []
    if kind == "light":
        for t in load_model_tests(kind="real"):
            if not (t.url or "").startswith("onnx/backend/test/data/light/"):
                continue     # a download; none in onnx 1.23
            path = os.path.join(os.path.dirname(onnx.__file__), "..", t.url)
            path = os.path.normpath(path)
            prefix = os.path.splitext(path)[0]
            expected = sorted(glob.glob(prefix + "_output_*.pb"))
            out.append(Case(f"light/{t.model_name}", "light", path, [], t.rtol, t.atol, True, expected))
        return sorted(out, key=lambda c: c.name)
    for t in load_model_tests(kind=kind):
        out.append(Case(f"{kind}/{t.name}", kind, os.path.join(t.model_dir, "model.onnx"),
                        sorted(glob.glob(os.path.join(t.model_dir, "test_data_set_*"))), t.rtol, t.atol))
    return sorted(out, key=lambda c: c.name)


def all_cases() -> list[Case]:
    out = node_cases()
    for kind in MODEL_KINDS:
        out += model_cases(kind)
    return out


# ------------------------------------------------------------ which op
_EXPANDED = re.compile(r"_expanded(_ver\d+)?$")


def case_ops(cases: list[Case]) -> dict[str, str]:
    """The op each case is about: its node's op type; an ``_expanded`` case
    counts for the op it expands; model suites are keyed by their suite."""
    out = {}
    single = {}
    for c in cases:
        if c.kind != "node":
            out[c.name] = f"({c.kind} models)"
            continue
        m = onnx.load(c.model_path, load_external_data=False)
        ops = [n.op_type for n in m.graph.node]
        single[c.short] = ops
    for name, ops in single.items():
        base = _EXPANDED.sub("", name)
        if base != name and base in single and len(single[base]) == 1:
            out[f"node/{name}"] = single[base][0]
            continue
        if len(ops) == 1:
            out[f"node/{name}"] = ops[0]
            continue
        flat = name.replace("_", "").lower()
        hits = sorted({o for o in ops if o.lower() in flat}, key=len, reverse=True)
        out[f"node/{name}"] = hits[0] if hits else (ops[0] if ops else "?")
    return out


# ------------------------------------------------------------------ running
def _load(path: str, type_proto: onnx.TypeProto):
    with open(path, "rb") as f:
        data = f.read()
    if type_proto.HasField("sequence_type"):
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return numpy_helper.to_list(p)
    if type_proto.HasField("optional_type"):
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return numpy_helper.to_optional(p)
    t = onnx.TensorProto()
    t.ParseFromString(data)
    return numpy_helper.to_array(t)


def dummy_input(vi: onnx.ValueInfoProto) -> np.ndarray:
    """onnx's generate_dummy_data(random=False): arange(n) / n as float32."""
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def data_sets(case: Case, model: onnx.ModelProto) -> list[tuple[dict, list]]:
    """(feeds by input name, expected outputs) per data set. Input J is the
    model's graph input J, as onnx's runner has it."""
    inits = {t.name for t in model.graph.initializer}
    if case.dummy_input:
        feeds = {vi.name: dummy_input(vi) for vi in model.graph.input if vi.name not in inits}
        want = [_load(p, model.graph.output[j].type) for j, p in enumerate(case.expected)]
        return [(feeds, want)]
    out = []
    for d in case.data_dirs:
        n_in = len(glob.glob(os.path.join(d, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(d, "output_*.pb")))
        feeds = {model.graph.input[j].name: _load(os.path.join(d, f"input_{j}.pb"), model.graph.input[j].type)
                 for j in range(n_in)}
        want = [_load(os.path.join(d, f"output_{j}.pb"), model.graph.output[j].type) for j in range(n_out)]
        out.append((feeds, want))
    return out


def assert_similar(want: list, got: list, rtol: float, atol: float) -> None:
    """onnx's own comparison (Runner.assert_similar_outputs)."""
    from onnx.backend.test.runner import Runner
    Runner.assert_similar_outputs(want, got, rtol=rtol, atol=atol)


def compare_value(want, got, rtol: float, atol: float) -> None:
    """One output: a tensor as onnx's runner compares it; a sequence (a list)
    item by item; an optional both empty (None) or holding similar values."""
    if want is None or got is None:
        assert want is None and got is None, \
            f"expected {'an empty optional' if want is None else 'a value'}, got {'None' if got is None else 'a value'}"
        return
    if isinstance(want, list):
        assert isinstance(got, list), f"expected a sequence (a list), got {type(got).__name__}"
        assert len(got) == len(want), f"a sequence of {len(got)} tensors, expected {len(want)}"
        for j, (w, g) in enumerate(zip(want, got)):
            try:
                compare_value(w, g, rtol, atol)
            except AssertionError as e:
                raise AssertionError(f"item {j}: {str(e).strip()}") from None
        return
    assert_similar([want], [got], rtol, atol)


def compare(model: onnx.ModelProto, want: list, got: list, rtol: float, atol: float) -> None:
    """compare_value, output by output, naming the output that differs."""
    if len(got) != len(want):
        assert_similar(want, got, rtol, atol)     # onnx's message for a count mismatch
    for i, (w, g) in enumerate(zip(want, got)):
        try:
            compare_value(w, g, rtol, atol)
        except AssertionError as e:
            name = model.graph.output[i].name if i < len(model.graph.output) else "?"
            raise AssertionError(f"output {i} ({name}): {str(e).strip()}") from None


# Ops whose outputs are random draws: no two generators agree, so a case
# using one is checked by output count, shapes and dtypes only (and said so
# in the results). Dropout counts when it has a training_mode input.
RANDOM_OPS = frozenset({"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Multinomial",
                        "Bernoulli"})


def is_random(model: onnx.ModelProto) -> bool:
    def nodes(g):
        for n in g.node:
            yield n
            for a in n.attribute:
                for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    yield from nodes(sub)
    return any(n.op_type in RANDOM_OPS or (n.op_type == "Dropout" and len(n.input) > 2 and n.input[2])
               for n in nodes(model.graph))


def assert_same_shapes(want: list, got: list) -> None:
    """The check of random cases: as many outputs, each of the expected shape and dtype."""
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    for i, (w, g) in enumerate(zip(want, got)):
        w, g = np.asarray(w), np.asarray(g)
        assert g.shape == w.shape, f"output {i} has shape {g.shape}, expected {w.shape}"
        assert g.dtype == w.dtype, f"output {i} has dtype {g.dtype}, expected {w.dtype}"


@dataclass
class Result:
    name: str
    passed: bool
    stage: str = ""       # where it failed: load | compile | run | compare
    error: str = ""       # one line
    detail: str = ""      # traceback / comparison report
    seconds: float = 0.0
    shapes_only: bool = False   # a random case: checked by shapes and dtypes


def run_case(case: Case, target: str = "cpu") -> Result:
    """Compile once (for `target`), run every data set, compare. Never raises."""
    t0 = time.perf_counter()
    stage = "load"
    try:
        import dlc
        model = onnx.load(case.model_path)
        sets = data_sets(case, model)
        shapes_only = is_random(model)
        stage = "compile"
        m = dlc.compile(model, target=target)
        for feeds, want in sets:
            stage = "run"
            got = m.run(None, feeds)
            stage = "compare"
            with np.errstate(all="ignore"):
                if shapes_only:
                    assert_same_shapes(want, got)
                else:
                    compare(model, want, got, case.rtol, case.atol)
        return Result(case.name, True, seconds=time.perf_counter() - t0, shapes_only=shapes_only)
    except Exception as e:  # a case failing is data, not an error of the harness
        msg = str(e).strip().splitlines()
        first = next((ln for ln in msg if ln.strip()), "")
        if stage == "compare":
            first = " ".join(ln.strip() for ln in msg[:6] if ln.strip())
        return Result(case.name, False, stage, f"{type(e).__name__}: {first}"[:400],
                      traceback.format_exc(), time.perf_counter() - t0)


def explain_failure(case: Case, result: Result) -> str:
    """What a failing case prints: the error, the ONNX graph, dlc's IR after
    the compile passes, and the kernels, naming the kernel that wrote each
    graph output."""
    lines = [f"{case.name} failed at {result.stage}: {result.error}", "", result.detail.rstrip(), ""]
    with contextlib.suppress(Exception):
        model = onnx.load(case.model_path)
        lines += ["ONNX graph:", onnx.printer.to_text(model.graph), ""]
    try:
        from dlc.codegen.lower import lower_graph
        from dlc.compiler import GENERIC_PASSES, Options, optimize, specialize
        from dlc.frontends.onnx import import_model
        from dlc.ir.passes import run_passes
        model = onnx.load(case.model_path)
        g, sig = import_model(model)
        g = run_passes(g, GENERIC_PASSES)
        if all(isinstance(d, int) for i in sig.inputs for d in i.shape):
            g = optimize(specialize(g, [i.shape for i in sig.inputs]), Options())
        lines += ["dlc IR:", str(g), ""]
        prog = lower_graph(g)
        lines.append("kernels (call order):")
        for c in prog.calls:
            writes = [f"output {a.index} ({sig.outputs[a.index].name})" for a in c.args
                      if a.kind == "output"]
            src = ", ".join(c.kernel.sources)
            lines.append(f"  {c.kernel.name}  # {src}" + (f"  -> writes {', '.join(writes)}" if writes else ""))
    except Exception as e:
        lines.append(f"(could not rebuild dlc's IR/kernels: {type(e).__name__}: {str(e)[:300]})")
    return "\n".join(lines)


# ------------------------------------------------------------ the ratchet
def read_passing() -> list[str]:
    with open(PASSING_FILE) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def read_cannot_pass() -> dict[str, str]:
    """case name -> one-line reason."""
    out = {}
    with open(CANNOT_PASS_FILE) as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            name, _, reason = ln.partition(" ")
            out[name] = reason.strip()
    return out


def ratchet_onnx_version() -> str | None:
    with open(PASSING_FILE) as f:
        for ln in f:
            m = re.match(r"#\s*onnx\s+([\w.]+)", ln)
            if m:
                return m.group(1)
    return None
