"""Time each kernel of a compiled model on its own, by kernel kind, with
fusion on and off: where the time goes, and what fusion removed.

    python benchmarks/kernel_times.py model.onnx [--reps 5] [--top 12]

Each call of the entry function is compiled into a program of its own and
run on an arena filled with random values; the minimum over `reps` runs is
taken (a rough profile: kernels do not see each other's cache effects).
"""
import argparse
import os
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dlc.codegen.llvm.jit import compile_ir  # noqa: E402
from dlc.codegen.llvm.module import render_program  # noqa: E402
from dlc.codegen.lower import lower_graph  # noqa: E402
from dlc.codegen.program import Program  # noqa: E402
from dlc.compiler import GENERIC_PASSES, Options, optimize, specialize  # noqa: E402
from dlc.ir.passes import run_passes  # noqa: E402
from dlc.model import OnnxSource  # noqa: E402
from dlc.runtime.executable import ExecMeta, Executable  # noqa: E402


def kernel_times(path: str, fuse: bool, reps: int) -> list[tuple[str, float]]:
    g, _ = OnnxSource(path).build()
    g = run_passes(g, GENERIC_PASSES)
    prog = lower_graph(optimize(specialize(g, [v.shape for v in g.inputs]), Options(fuse=fuse)))
    rng = np.random.default_rng(0)
    ins = [rng.standard_normal(s.shape).astype(s.dtype) for s in prog.inputs]
    out = []
    for call in prog.calls:
        p = Program(call.kernel.name, prog.inputs, prog.outputs, [call], prog.weights, prog.arena_bytes)
        meta = ExecMeta([s.dtype.name for s in p.inputs], [list(s.shape) for s in p.inputs],
                        [s.dtype.name for s in p.outputs], [list(s.shape) for s in p.outputs], p.arena_bytes,
                        [(call.kernel.name, call.kernel.sources, call.kernel.messages)])
        exe = Executable(meta, compile_ir(str(render_program(p))).object_code, p.weights)
        arena = exe._free[0][0]
        arena[:arena.size // 4 * 4].view(np.float32)[:] = rng.uniform(-1, 1, arena.size // 4)
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            exe.run(ins)
            best = min(best, time.perf_counter() - t0)
        out.append((call.kernel.name, best))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    for fuse in (True, False):
        times = kernel_times(args.model, fuse, args.reps)
        total = sum(t for _, t in times)
        by_kind = defaultdict(float)
        for name, t in times:
            by_kind[name.rsplit("_", 1)[0]] += t
        print(f"fusion {'on' if fuse else 'off'}: {len(times)} kernels, {total * 1e3:.1f} ms")
        for kind, t in sorted(by_kind.items(), key=lambda x: -x[1])[:args.top]:
            print(f"  {kind:<40} {t * 1e3:9.1f} ms  {100 * t / total:5.1f}%")


if __name__ == "__main__":
    main()
