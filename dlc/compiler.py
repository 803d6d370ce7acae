"""The compile pipeline for one shape specialization:

    Graph --specialize--> static shapes --passes--> lower_graph --> Program
          --render_program--> LLVM IR --compile_ir--> object code --> Executable

Each arrow is a plain function you can call from a REPL.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Sequence

from .codegen.kir_print import format_kernel
from .codegen.llvm.jit import compile_ir
from .codegen.llvm.module import render_program
from .codegen.lower import lower_graph
from .codegen.program import Program
from .ir import Graph, infer_shapes
from .ir.errors import ShapeError, UnsupportedError
from .ir.passes import (PassRecord, eliminate_common_subexpressions, fold_batch_norm, fold_constants,
                        format_plan, fuse_operators, materialize_outputs, recognize_layer_norm, remove_noops,
                        run_passes)
from .runtime.executable import ExecMeta, Executable

TARGETS = ("cpu",)

# before shapes are known (cheap, shape-agnostic cleanup)
GENERIC_PASSES = [fold_constants, remove_noops, eliminate_common_subexpressions]
# once every dim is a number: Shape chains fold, no-ops show; then fusion
SPECIALIZED_PASSES = [fold_constants, remove_noops, eliminate_common_subexpressions, fold_batch_norm,
                      recognize_layer_norm, materialize_outputs, fuse_operators]
FUSION_PASSES = ("fold_batch_norm", "recognize_layer_norm", "fuse_operators")


@dataclass
class Options:
    target: str = "cpu"
    dump_dir: str | None = None
    check: bool = False          # verify the graph after every pass
    fuse: bool = True            # the fusion passes (FUSION_PASSES): off gives one kernel per op
    plan_memory: bool = True     # best-fit arena with in-place reuse: off gives each buffer its own slot
    disable: tuple = ()          # names of passes to skip (e.g. "fold_batch_norm")
    log: list = field(default_factory=list)   # PassRecords and stage timings

    def passes(self, passes=SPECIALIZED_PASSES) -> list:
        """`passes` without those this configuration switches off."""
        off = set(self.disable) | (set(FUSION_PASSES) if not self.fuse else set())
        return [p for p in passes if p.__name__ not in off]


def check_target(target: str) -> str:
    if target not in TARGETS:
        if target == "cuda":
            raise UnsupportedError("target 'cuda' is not available in this version of dlc yet "
                                   "(only 'cpu' is)")
        raise UnsupportedError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    return target


def specialize(g: Graph, shapes: Sequence[Sequence[int]]) -> Graph:
    """A copy of `g` with its inputs fixed to `shapes` and types re-inferred."""
    s = g.copy()
    for v, shape in zip(s.inputs, shapes):
        v.shape = tuple(int(d) for d in shape)
    return infer_shapes(s)


def optimize(g: Graph, options: Options, passes=None) -> Graph:
    passes = options.passes() if passes is None else passes
    g = run_passes(g, passes, check=options.check, dump_dir=options.dump_dir, log=options.log)
    for n in g.nodes:
        for v in n.outputs:
            if not v.static:
                raise UnsupportedError(
                    f"{n.where}: output {v.name} has shape {list(v.shape)}, which depends on input "
                    f"data rather than input shapes; dlc needs every shape known at compile time")
    return g


def _timed(options: Options, name: str, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    options.log.append(PassRecord(name, time.perf_counter() - t0, 0, 0))
    return out


def build(g: Graph, options: Options) -> tuple[Program, Executable]:
    """Compile a graph whose input shapes are all static into an Executable."""
    if not all(v.static for v in g.inputs):
        raise ShapeError("build() needs static input shapes; specialize the graph first")
    g = optimize(g, options)
    prog = _timed(options, "lower", lower_graph, g, options.plan_memory)
    module = _timed(options, "render_llvm", render_program, prog)
    raw_ir = str(module)
    compiled = _timed(options, "llvm_optimize_and_codegen", compile_ir, raw_ir)
    meta = ExecMeta(
        input_dtypes=[s.dtype.name for s in prog.inputs],
        input_shapes=[list(s.shape) for s in prog.inputs],
        output_dtypes=[s.dtype.name for s in prog.outputs],
        output_shapes=[list(s.shape) for s in prog.outputs],
        arena_bytes=prog.arena_bytes,
        calls=[(c.kernel.name, c.kernel.sources, c.kernel.messages) for c in prog.calls],
    )
    if options.dump_dir:
        _dump(options.dump_dir, prog, raw_ir, compiled)
        with open(os.path.join(options.dump_dir, "memory.txt"), "w") as f:
            f.write(format_plan(g, prog.memory) + "\n")
    return prog, Executable(meta, compiled.object_code, prog.weights)


def analyze(g: Graph, options: Options) -> tuple[Graph, Program]:
    """The passes and the lowering to kernel IR (no LLVM, no weights blob):
    what statistics and `dlc inspect` need."""
    g = optimize(g, options)
    return g, lower_graph(g, options.plan_memory, weights=False)


def statistics(g: Graph, prog: Program, onnx_nodes: int | None = None) -> dict:
    """Machine-readable statistics of one compiled specialization."""
    plan = prog.memory
    stats = {
        "kernels": len(prog.calls),
        "arena_bytes": prog.arena_bytes,
        "naive_bytes": plan.naive_bytes,
        "live_lower_bound_bytes": plan.live_lower_bound_bytes,
        "weights_bytes": prog.weights_bytes,
        "ir_nodes": sum(len(n.attrs["body"].nodes) if n.op == "fused" else 1 for n in g.nodes),
        "fused_kernels": sum(n.op == "fused" for n in g.nodes),
    }
    if onnx_nodes is not None:
        stats = {"onnx_nodes": onnx_nodes, **stats}
    return stats


def _dump(d: str, prog: Program, raw_ir: str, compiled) -> None:
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "kernels.txt"), "w") as f:
        for c in prog.calls:
            f.write(format_kernel(c.kernel) + "\n")
            f.write(f"  # args: {', '.join(str(a) for a in c.args)}\n\n")
        f.write(f"# arena: {prog.arena_bytes} bytes, weights: {prog.weights.size} bytes\n")
    for name, text in (("module.ll", raw_ir), ("module.opt.ll", compiled.optimized_ir),
                       ("module.s", compiled.assembly())):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
