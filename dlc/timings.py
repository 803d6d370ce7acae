"""Compile-time attribution to kernels (`dlc compile --timings`).

Per pass and per stage, times come from the pipeline itself (PassRecords in
``Options.log``). Per kernel, two numbers, both honest about what they are:

- ``render``: the time the real build spent rendering that kernel into LLVM
  IR (llvmlite's Python IR builder), measured inside the build;
- ``llvm``: the time LLVM takes to optimize (O3) and emit machine code for
  that kernel's function *alone*, in a module of its own. The real build
  optimizes all kernels in one module, whose time is only known as a whole
  (``llvm_optimize_and_codegen``), so this is an extra compile made only
  when per-kernel timings are asked for; their sum is close to the
  module's time, not equal to it.

Lowering to kernel IR is timed for all kernels together (``lower``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from llvmlite import ir

from .codegen.llvm.jit import compile_ir
from .codegen.llvm.module import overlapping_args
from .codegen.llvm.render import render_kernel


@dataclass
class KernelRecord:
    kernel: str
    nodes: list[str]
    render_seconds: float
    llvm_seconds: float

    @property
    def seconds(self) -> float:
        return self.render_seconds + self.llvm_seconds


def kernel_records(prog, render_seconds: dict | None) -> list[KernelRecord]:
    out = []
    for call in prog.calls:
        module = ir.Module(name=call.kernel.name)
        fn = render_kernel(module, call.kernel, overlapping_args(call))
        fn.linkage = ""   # external: otherwise LLVM drops the unused function
        t0 = time.perf_counter()
        compile_ir(str(module))
        llvm_s = time.perf_counter() - t0
        out.append(KernelRecord(call.kernel.name, [s.removeprefix("onnx ") for s in call.kernel.sources],
                                (render_seconds or {}).get(call.kernel.name, 0.0), llvm_s))
    return out


def format_timings(log: list) -> str:
    """The compile log as a table: passes and stages in order, then kernels slowest first."""
    from .ir.passes import PassRecord
    lines = ["compile time per pass / stage:"]
    for rec in log:
        if isinstance(rec, PassRecord):
            nodes = f"  {rec.nodes_before} -> {rec.nodes_after} nodes" if rec.nodes_before or rec.nodes_after else ""
            lines.append(f"  {rec.name:<34} {rec.seconds * 1000:9.1f} ms{nodes}")
    kernels = sorted((r for r in log if isinstance(r, KernelRecord)), key=lambda r: -r.seconds)
    if kernels:
        w = max(len(r.kernel) for r in kernels)
        lines.append("compile time per kernel (render: LLVM IR building in the build; llvm: O3 + codegen of "
                     "the kernel alone, an extra compile for this report):")
        lines.append(f"  {'kernel':<{w}}  {'render ms':>9}  {'llvm ms':>9}  ONNX nodes")
        for r in kernels:
            lines.append(f"  {r.kernel:<{w}}  {r.render_seconds * 1000:9.2f}  {r.llvm_seconds * 1000:9.2f}  "
                         f"{', '.join(r.nodes) or '-'}")
    return "\n".join(lines)
