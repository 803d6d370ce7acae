"""`dlc bench`: dlc against the runtimes users would otherwise pick, on the
same model and inputs, in one process.

    dlc bench model.onnx --against onnxruntime,torch,tvm [--batch N] [--threads N] [--runs 20]

Each contender is prepared (compiled, loaded), checked against dlc's
outputs, warmed up, and then timed in interleaved rounds: every round runs
each contender once, in turn, so a change of machine load hits all of them
alike. Reported: median and p90 latency, throughput (batch / median), the
median over rounds of dlc's time / the contender's (paired), and how far
its outputs are from dlc's. A contender that is not installed, or cannot
run the model, is reported as skipped with the reason, not as an error.

- onnxruntime: CPUExecutionProvider, all graph optimizations,
  intra-op threads = --threads.
- torch: PyTorch eager, `torch.inference_mode()`, `torch.set_num_threads`.
  It needs the model's PyTorch definition: a ``NAME.torch.json`` beside the
  ONNX file naming a builder function (benchmarks/zoo.py writes them).
- tvm: Apache TVM's Relax ONNX frontend, its default build pipeline for the
  host (``llvm -mcpu=<host>``), run on its virtual machine; TVM_NUM_THREADS
  = --threads.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

RIVALS = ("onnxruntime", "torch", "tvm")


@dataclass
class Result:
    name: str
    status: str = "ok"            # "ok" | "skipped" | "failed"
    reason: str = ""
    times: list = field(default_factory=list)     # seconds per run
    paired: list = field(default_factory=list)    # dlc time / this time, per round
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None             # max |this - dlc| / max |dlc|
    agree: bool | None = None
    prepare_s: float | None = None

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times)) * 1e3 if self.times else float("nan")

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.times, 90)) * 1e3 if self.times else float("nan")


@dataclass
class Report:
    model: str
    batch: int
    threads: int
    runs: int
    machine: dict
    results: list

    def to_json(self) -> dict:
        d = asdict(self)
        for r, src in zip(d["results"], self.results):
            r.update(median_ms=src.median_ms, p90_ms=src.p90_ms,
                     dlc_over_this=float(np.median(src.paired)) if src.paired else None)
        return d

    def table(self) -> str:
        lines = [f"dlc bench {os.path.basename(self.model)}: batch {self.batch}, {self.threads} thread(s), "
                 f"{self.runs} interleaved rounds",
                 f"{'':13} {'median ms':>10} {'p90 ms':>9} {'per s':>9} {'dlc/this':>9}  outputs vs dlc"]
        for r in self.results:
            if r.status != "ok":
                lines.append(f"{r.name:13} {r.status}: {r.reason}")
                continue
            ratio = f"{np.median(r.paired):.2f}" if r.paired else "1.00"
            agree = "" if r.agree is None else \
                f"{'agree' if r.agree else 'DIFFER'} (max abs {r.max_abs_diff:.2g}, rel {r.max_rel_diff:.2g})"
            lines.append(f"{r.name:13} {r.median_ms:10.3f} {r.p90_ms:9.3f} {self.batch / r.median_ms * 1e3:9.1f} "
                         f"{ratio:>9}  {agree}")
        lines.append("dlc/this < 1: dlc is faster (median over rounds of the two times' ratio)")
        return "\n".join(lines)


def machine() -> dict:
    from .codegen.llvm.jit import host
    from .codegen.target import host as target
    info = {"cpu": host().cpu, "vector_bits": target().vector_bits, "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["cores"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        info["cores"] = os.cpu_count()
    return info


# ------------------------------------------------------------- the model
def _load(path: str):
    import onnx
    return onnx.load(path)


def _input_specs(model, batch: int, shapes: dict | None):
    """(name, numpy dtype, concrete shape) of each graph input: symbolic
    first dims become `batch`, `shapes` fixes any other."""
    import onnx
    inits = {i.name for i in model.graph.initializer}
    specs = []
    for i in model.graph.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        dims = []
        for j, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            elif j == 0:
                dims.append(batch)
            else:
                dims.append(None)
        if shapes and i.name in shapes:
            dims = list(shapes[i.name])
        if any(d is None for d in dims):
            raise ValueError(f"input {i.name!r} has symbolic dims other than the batch; give --shape")
        specs.append((i.name, onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type), tuple(dims)))
    return specs


def _sidecar(path: str) -> dict | None:
    side = os.path.splitext(path)[0] + ".torch.json"
    if not os.path.exists(side):
        return None
    with open(side) as f:
        return json.load(f)


def _builder_module(side: dict):
    mod, fn = side["builder"].split(":")
    root = side.get("root")
    if root and root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(mod), fn


def make_inputs(path: str, specs, batch: int, seed: int = 0) -> list[np.ndarray]:
    side = _sidecar(path)
    if side is not None:
        try:
            mod, _ = _builder_module(side)
            if hasattr(mod, "example_inputs"):
                ins = mod.example_inputs(side["name"], batch, seed)
                if [a.shape for a in ins] == [s for _, _, s in specs]:
                    return ins
        except Exception:   # no torch: fall back to random inputs
            pass
    rng = np.random.default_rng(seed)
    out = []
    for _, dt, shape in specs:
        if np.dtype(dt).kind == "f":
            out.append(rng.standard_normal(shape).astype(dt))
        elif np.dtype(dt).kind == "b":
            out.append(np.ones(shape, dt))
        else:
            out.append(np.zeros(shape, dt))
    return out


# ----------------------------------------------------------- contenders
def _prepare_dlc(path, specs, inputs, threads):
    import dlc
    m = dlc.compile(path, shapes={n: s for n, _, s in specs}, threads=threads)
    feeds = {n: a for (n, _, _), a in zip(specs, inputs)}
    return lambda: m.run(None, feeds)


def _prepare_onnxruntime(path, specs, inputs, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {n: a for (n, _, _), a in zip(specs, inputs)}
    return lambda: s.run(None, feeds)


def _prepare_torch(path, specs, inputs, threads):
    side = _sidecar(path)
    if side is None:
        raise _Skip(f"no PyTorch definition ({os.path.splitext(os.path.basename(path))[0]}.torch.json, "
                    f"written by benchmarks/zoo.py)")
    import torch
    torch.set_num_threads(threads)
    mod, fn = _builder_module(side)
    model = getattr(mod, fn)(side["name"], side.get("seed", 0))
    args = [torch.from_numpy(a) for a in inputs]

    def run():
        with torch.inference_mode():
            y = model(*args)
        ys = y if isinstance(y, (tuple, list)) else [y]
        return [t.numpy() for t in ys]
    return run


def _prepare_tvm(path, specs, inputs, threads):
    os.environ["TVM_NUM_THREADS"] = str(threads)
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx
    from .codegen.llvm.jit import host
    mod = from_onnx(_load(path), shape_dict={n: list(s) for n, _, s in specs}, keep_params_in_input=False)
    try:
        target = tvm.target.Target({"kind": "llvm", "mcpu": host().cpu})
    except Exception:   # older TVM: the string form
        target = tvm.target.Target(f"llvm -mcpu={host().cpu}")
    ex = relax.build(mod, target=target)
    vm = relax.VirtualMachine(ex, tvm.cpu())
    args = [tvm.runtime.tensor(a) if hasattr(tvm.runtime, "tensor") else tvm.nd.array(a) for a in inputs]

    def run():
        y = vm["main"](*args)
        ys = list(y) if isinstance(y, (tuple, list)) or hasattr(y, "__len__") and not hasattr(y, "numpy") else [y]
        return [t.numpy() for t in ys]
    return run


class _Skip(Exception):
    pass


_PREPARE = {"dlc": _prepare_dlc, "onnxruntime": _prepare_onnxruntime, "torch": _prepare_torch,
            "tvm": _prepare_tvm}
_PACKAGE = {"onnxruntime": "onnxruntime", "torch": "torch", "tvm": "tvm"}


def _compare(ys, ref) -> tuple[float, float, bool]:
    mad, mrd, ok = 0.0, 0.0, True
    for y, r in zip(ys, ref):
        y, r = np.asarray(y, np.float64).reshape(np.shape(r)), np.asarray(r, np.float64)
        d = float(np.max(np.abs(y - r))) if r.size else 0.0
        scale = float(np.max(np.abs(r))) if r.size else 1.0
        mad, mrd = max(mad, d), max(mrd, d / max(scale, 1e-30))
        ok = ok and bool(np.allclose(y, r, rtol=1e-3, atol=1e-3 * max(scale, 1e-6)))
    return mad, mrd, ok


def bench(path: str, against=("onnxruntime",), batch: int = 1, threads: int | None = None, runs: int = 20,
          warmup: int = 3, shapes: dict | None = None, log=None) -> Report:
    from .codegen.llvm.pool import default_threads
    threads = threads or default_threads()
    say = log or (lambda s: None)
    model = _load(path)
    specs = _input_specs(model, batch, shapes)
    del model
    inputs = make_inputs(path, specs, batch)
    names = ["dlc"] + [a for a in against if a != "dlc"]
    results, runners = [], {}
    for name in names:
        r = Result(name)
        results.append(r)
        if name not in _PREPARE:
            r.status, r.reason = "skipped", f"unknown contender (known: {', '.join(RIVALS)})"
            continue
        try:
            if name in _PACKAGE:
                importlib.import_module(_PACKAGE[name])
        except Exception as e:
            r.status, r.reason = "skipped", f"{_PACKAGE[name]} is not installed ({type(e).__name__}: {e})"
            continue
        say(f"preparing {name} ...")
        t0 = time.perf_counter()
        try:
            runners[name] = _PREPARE[name](path, specs, inputs, threads)
            runners[name]()   # first run (lazy initialization) outside the timing
        except _Skip as e:
            r.status, r.reason = "skipped", str(e)
            runners.pop(name, None)
            continue
        except Exception as e:
            r.status, r.reason = ("skipped" if name != "dlc" else "failed"), f"{type(e).__name__}: {e}"[:300]
            runners.pop(name, None)
            continue
        r.prepare_s = time.perf_counter() - t0
    ref = runners["dlc"]() if "dlc" in runners else None
    for r in results:
        if r.name in runners and r.name != "dlc" and ref is not None:
            r.max_abs_diff, r.max_rel_diff, r.agree = _compare(runners[r.name](), ref)
    for _ in range(warmup):
        for f in runners.values():
            f()
    order = list(runners)
    for i in range(runs):
        t = {}
        for name in order[i % len(order):] + order[:i % len(order)]:   # rotate who goes first
            t0 = time.perf_counter()
            runners[name]()
            t[name] = time.perf_counter() - t0
        for r in results:
            if r.name in t:
                r.times.append(t[r.name])
                if "dlc" in t:
                    r.paired.append(t["dlc"] / t[r.name])
    return Report(path, batch, threads, runs, machine(), results)
