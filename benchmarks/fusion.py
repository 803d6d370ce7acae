"""Fusion and memory planning on ResNet-50, MobileNetV2 and a BERT-base
encoder: statistics, and end-to-end latency with fusion on and off.

    pip install torch==2.13.0 && python benchmarks/fusion.py [--runs 15] [--models resnet50,bert_base]

For each network (benchmarks/models.py, seeded random weights, exported by
PyTorch): the statistics `dlc inspect --json` prints, with fusion on and
off; then, in this one process, dlc.compile(model, fuse=True, threads=1) and
(fuse=False) (memory planning on in both), both checked against
onnxruntime, and `run` timed in interleaved rounds (fused, unfused,
onnxruntime with one thread) after one warm-up run each: the median wall
time of each, the median over rounds of unfused / fused wall time (paired,
so a change of machine load hits both alike), and the median thread CPU
time. Prints markdown tables (the ones in the README).
"""
import argparse
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import dlc  # noqa: E402
from dlc.compiler import GENERIC_PASSES, Options, analyze, specialize, statistics  # noqa: E402
from dlc.frontends.onnx import import_model  # noqa: E402
from dlc.ir.passes import run_passes  # noqa: E402


def stats(model, fuse: bool) -> dict:
    g, _ = import_model(model)
    g = run_passes(g, GENERIC_PASSES)
    g, prog = analyze(specialize(g, [v.shape for v in g.inputs]), Options(fuse=fuse))
    return statistics(g, prog, onnx_nodes=len(model.graph.node))


def feeds_for(m) -> dict:
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.standard_normal(i.shape).astype(np.float32) for i in m.inputs}
    if "attention_mask" in feeds:   # the last 16 positions are padding
        feeds["attention_mask"] = np.ones(feeds["attention_mask"].shape, np.float32)
        feeds["attention_mask"][:, -16:] = 0
    return feeds


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def mb(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MB"


def bench(name: str, path: str, runs: int) -> dict:
    model = onnx.load(path)
    row = {"model": name, "fused": stats(model, True), "unfused": stats(model, False)}
    t0 = time.perf_counter()
    fused = dlc.compile(path, fuse=True, threads=1)
    row["compile_fused_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    unfused = dlc.compile(path, fuse=False, threads=1)
    row["compile_unfused_s"] = time.perf_counter() - t0
    sess = ort_session(path)
    feeds = feeds_for(fused)
    runners = {"fused": lambda: fused.run(None, feeds), "unfused": lambda: unfused.run(None, feeds),
               "onnxruntime": lambda: sess.run(None, feeds)}
    outs = {k: f()[0] for k, f in runners.items()}   # (also the warm-up run)
    scale = float(np.abs(outs["onnxruntime"]).max())
    row["max_abs_err"] = {k: float(np.abs(outs[k] - outs["onnxruntime"]).max()) for k in ("fused", "unfused")}
    row["max_abs_out"] = scale
    times = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for _ in range(runs):
        for k, f in runners.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            f()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.thread_time() - c0)
    row["median_ms"] = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    row["min_ms"] = {k: 1e3 * float(np.min(v)) for k, v in times.items()}
    row["median_cpu_ms"] = {k: 1e3 * float(np.median(v)) for k, v in cpu.items()}
    # paired: each round's unfused / fused time, so load changes hit both alike
    row["median_speedup"] = float(np.median(np.array(times["unfused"]) / np.array(times["fused"])))
    return row


def table(rows: list[dict]) -> str:
    out = ["| model | ONNX nodes | kernels fused (unfused) | kernels / nodes | arena | live lower bound | "
           "arena / bound | naive (unfused naive) | weights |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f, u = r["fused"], r["unfused"]
        out.append(f"| {r['model']} | {f['onnx_nodes']} | {f['kernels']} ({u['kernels']}) | "
                   f"{f['kernels'] / f['onnx_nodes']:.2f} | {mb(f['arena_bytes'])} | "
                   f"{mb(f['live_lower_bound_bytes'])} | "
                   f"{f['arena_bytes'] / f['live_lower_bound_bytes']:.2f} | {mb(f['naive_bytes'])} "
                   f"({mb(u['naive_bytes'])}) | {mb(f['weights_bytes'])} |")
    if any("median_ms" in r for r in rows):
        out += ["", "| model | fused | unfused | unfused / fused, paired | fused, CPU time | unfused, CPU time | "
                "onnxruntime (1 thread) | max abs error vs onnxruntime (fused, unfused) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            if "median_ms" not in r:
                continue
            t, c, e = r["median_ms"], r["median_cpu_ms"], r["max_abs_err"]
            out.append(f"| {r['model']} | {t['fused']:.0f} ms | {t['unfused']:.0f} ms | {r['median_speedup']:.3f} | "
                       f"{c['fused']:.0f} ms | {c['unfused']:.0f} ms | {t['onnxruntime']:.1f} ms | "
                       f"{e['fused']:.1e}, {e['unfused']:.1e} (outputs up to {r['max_abs_out']:.1f}) |")
    return "\n".join(out)


def main():
    from benchmarks.models import MODELS, export
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="timed rounds per model (default 15)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--stats-only", action="store_true", help="no compiling or timing")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in args.models.split(","):
            path = os.path.join(d, f"{name}.onnx")
            export(name, path)
            if args.stats_only:
                model = onnx.load(path)
                rows.append({"model": name, "fused": stats(model, True), "unfused": stats(model, False)})
            else:
                rows.append(bench(name, path, args.runs))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, onnxruntime and dlc with 1 thread")
    print(table(rows))


if __name__ == "__main__":
    main()
