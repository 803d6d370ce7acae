"""Run `dlc bench` over the zoo and write the results table and bar chart.

    python benchmarks/zoo.py --models mlp,mnist_cnn,resnet18     # once (needs torch)
    python benchmarks/report.py --models mlp,mnist_cnn,resnet18 --batch 1 --threads 2

Writes benchmarks/results/NAME-bBATCH.json (one per model, `dlc bench
--json`), then benchmarks/results/table.md and benchmarks/results/latency.png
(matplotlib, from the `bench` extra) from every JSON there.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def run(models, batch, threads, runs, against):
    os.makedirs(RESULTS, exist_ok=True)
    for name in models:
        path = os.path.join(HERE, "zoo", f"{name}.onnx")
        out = os.path.join(RESULTS, f"{name}-b{batch}.json")
        cmd = [sys.executable, "-m", "dlc", "bench", path, "--against", against, "--batch", str(batch),
               "--threads", str(threads), "--runs", str(runs), "--json", out]
        print("$", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=False)


def load_all():
    rows = []
    for f in sorted(glob.glob(os.path.join(RESULTS, "*.json"))):
        with open(f) as fh:
            rows.append(json.load(fh))
    return rows


def table(reports) -> str:
    rivals = []
    for rep in reports:
        for r in rep["results"][1:]:
            if r["name"] not in rivals:
                rivals.append(r["name"])
    head = ["model", "batch", "dlc ms"] + [f"{n} ms" for n in rivals] + [f"dlc / {n}" for n in rivals]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rep in reports:
        by = {r["name"]: r for r in rep["results"]}
        name = os.path.splitext(os.path.basename(rep["model"]))[0]
        d = by["dlc"]
        cells = [name, str(rep["batch"]), f"{d['median_ms']:.3f}" if d["status"] == "ok" else d["status"]]
        for n in rivals:
            r = by.get(n)
            cells.append(f"{r['median_ms']:.3f}" if r and r["status"] == "ok" else (r["status"] if r else "-"))
        for n in rivals:
            r = by.get(n)
            ok = r and r["status"] == "ok" and r.get("dlc_over_this")
            cells.append(f"{r['dlc_over_this']:.2f}x" + ("" if r.get("agree", True) else " (outputs differ)")
                         if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(reports, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    names = sorted({r["name"] for rep in reports for r in rep["results"] if r["status"] == "ok"},
                   key=lambda n: (n != "dlc", n))
    labels = [f"{os.path.splitext(os.path.basename(rep['model']))[0]} b{rep['batch']}" for rep in reports]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(reports)), 4))
    width = 0.8 / max(len(names), 1)
    for j, n in enumerate(names):
        vals = []
        for rep in reports:   # latency relative to onnxruntime (or dlc when it is missing)
            by = {r["name"]: r for r in rep["results"] if r["status"] == "ok"}
            base = by.get("onnxruntime", by.get("dlc"))
            vals.append(by[n]["median_ms"] / base["median_ms"] if n in by and base else np.nan)
        ax.bar(np.arange(len(reports)) + j * width, vals, width, label=n)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(reports)) + width * (len(names) - 1) / 2, labels)
    ax.set_ylabel("latency / onnxruntime's (log; lower is faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--against", default="onnxruntime,torch,tvm")
    args = ap.parse_args()
    if args.models:
        run(args.models.split(","), args.batch, args.threads, args.runs, args.against)
    reports = load_all()
    with open(os.path.join(RESULTS, "table.md"), "w") as f:
        f.write(table(reports) + "\n")
    print(table(reports))
    try:
        chart(reports, os.path.join(RESULTS, "latency.png"))
    except ImportError:
        print("matplotlib is not installed: no chart (pip install -e '.[bench]')")


if __name__ == "__main__":
    main()
