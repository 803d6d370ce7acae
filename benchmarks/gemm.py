"""GEMM GFLOP/s: dlc's compiled MatMul against numpy's BLAS, same thread count.

    python benchmarks/gemm.py [--size 1024] [--threads 2] [--runs 20]

Prints the median GFLOP/s of each and dlc's fraction of numpy's, timed in
interleaved rounds (so a change of machine load hits both alike).
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)   # before numpy loads its BLAS
    import numpy as np
    from onnx import TensorProto, helper
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dlc

    n = args.size
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
                              [helper.make_tensor_value_info(v, TensorProto.FLOAT, [n, n]) for v in "ab"],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m = dlc.compile(model, threads=args.threads)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    c = m(a, b)
    ref = a @ b
    assert np.allclose(c, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max()), "dlc's product differs from numpy's"
    times = {"dlc": [], "numpy": []}
    for _ in range(3):
        m(a, b), a @ b
    for _ in range(args.runs):
        t0 = time.perf_counter()
        m(a, b)
        t1 = time.perf_counter()
        a @ b
        t2 = time.perf_counter()
        times["dlc"].append(t1 - t0)
        times["numpy"].append(t2 - t1)
    flops = 2.0 * n ** 3
    g = {k: flops / np.median(v) / 1e9 for k, v in times.items()}
    print(f"GEMM {n}^3, {args.threads} thread(s), median of {args.runs}: dlc {g['dlc']:.1f} GFLOP/s, "
          f"numpy {g['numpy']:.1f} GFLOP/s, dlc = {g['dlc'] / g['numpy']:.0%} of numpy")


if __name__ == "__main__":
    main()
