"""The compile pipeline for one shape specialization:

    Graph --specialize--> static shapes --passes--> lower_graph --> Program
          --render_program--> LLVM IR --compile_ir--> object code --> Executable
    (target="cuda": Program --codegen.cuda.module.render_program--> CudaCode
          (Numba-CUDA kernel source) --> CudaExecutable, which compiles it to PTX)

Each arrow is a plain function you can call from a REPL.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Sequence

from .codegen.inplace import alias_outputs
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

TARGETS = ("cpu", "cuda")

# Compile stages that are not graph passes but can be switched off by name in
# ``Options.disabled_passes`` (the code that implements each honours it).
STAGES = ("fusion", "memory_planning", "layout")
# the STAGES this build has and that honour the switch (`dlc compare --ablate`
# tries these); code that implements a stage adds its name here
IMPLEMENTED_STAGES: frozenset = frozenset({"fusion", "memory_planning"})
# passes the pipeline cannot run without (codegen relies on what they promise)
REQUIRED_PASSES = frozenset({"materialize_outputs"})

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
    # conveniences for the "fusion" and "memory_planning" stages of `disabled_passes`:
    fuse: bool = True            # the fusion passes (FUSION_PASSES): off gives one kernel per op
    plan_memory: bool = True     # best-fit arena with in-place reuse: off gives each buffer its own slot
    log: list = field(default_factory=list)   # PassRecords and stage timings
    # passes (by function name) and stages (STAGES) to skip: for ablation
    # (`dlc compare --ablate`) and for working around a pass bug
    disabled_passes: frozenset = frozenset()
    fallback: str | None = None  # "reference": unsupported ONNX nodes run on the host
    cache: bool = True           # use the on-disk compile cache (dlc/cache.py)
    kernel_timings: bool = False  # attribute compile time to kernels (dlc compile --timings)
    cuda_graphs: bool = False    # target="cuda": replay the launches as a CUDA graph (unverified on a GPU)
    # threads the parallel loops may use (None: DLC_NUM_THREADS, else all cores); not
    # part of the generated code, so not of the cache key either
    threads: int | None = None

    def __post_init__(self):
        self.disabled_passes = frozenset(self.disabled_passes) | frozenset(
            name for name, on in (("fusion", self.fuse), ("memory_planning", self.plan_memory)) if not on)
        self.fuse, self.plan_memory = self.enabled("fusion"), self.enabled("memory_planning")
        bad = self.disabled_passes - known_passes()
        if bad:
            raise UnsupportedError(f"cannot disable unknown pass(es) {', '.join(sorted(bad))}; known: "
                                   f"{', '.join(sorted(known_passes()))}")
        required = self.disabled_passes & REQUIRED_PASSES
        if required:
            raise UnsupportedError(f"pass(es) {', '.join(sorted(required))} cannot be disabled: "
                                   f"code generation relies on them")
        if self.fallback not in (None, "reference"):
            raise UnsupportedError(f"unknown fallback {self.fallback!r}; the only one is 'reference'")

    def enabled(self, name: str) -> bool:
        """Whether the pass or stage `name` runs (see `disabled_passes`)."""
        return name not in self.disabled_passes

    def passes(self, pipeline) -> list:
        """`pipeline` without the disabled passes (and without FUSION_PASSES
        when the "fusion" stage is off)."""
        off = self.disabled_passes | (frozenset(FUSION_PASSES) if not self.fuse else frozenset())
        return [p for p in pipeline if p.__name__ not in off]

    def cache_key(self) -> dict:
        """The options that change generated code (part of the compile-cache key)."""
        key = {"target": self.target, "disabled_passes": sorted(self.disabled_passes)}
        if self.target == "cuda":
            from .codegen.cuda.jit import simulator
            from .doctor import _dist_version
            key["cuda"] = {"simulator": simulator(), "numba": _dist_version("numba"),
                           "numba-cuda": _dist_version("numba-cuda", "numba_cuda")}
        return key


def known_passes() -> frozenset:
    """Names `Options.disabled_passes` accepts: the graph passes of the
    pipelines and the non-graph STAGES."""
    return frozenset(p.__name__ for p in GENERIC_PASSES + SPECIALIZED_PASSES) | frozenset(STAGES)


def codegen_target(options: Options):
    """What the kernel schedules may assume: the host CPU's vectors and caches."""
    from .codegen.target import GENERIC, host
    return host() if options.target == "cpu" else GENERIC


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise UnsupportedError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    if target == "cuda":
        from .doctor import require_cuda
        require_cuda()   # no usable GPU (or explicit simulator): raises the doctor's diagnosis and its fix
    return target


def specialize(g: Graph, shapes: Sequence[Sequence[int]]) -> Graph:
    """A copy of `g` with its inputs fixed to `shapes` and types re-inferred
    (sequences and optionals keep their types: they live on the host)."""
    s = g.copy()
    for v, shape in zip(s.inputs, shapes):
        if not v.container:
            v.shape = tuple(int(d) for d in shape)
    return infer_shapes(s)


def optimize(g: Graph, options: Options, passes=None) -> Graph:
    passes = options.passes(SPECIALIZED_PASSES if passes is None else passes)
    g = run_passes(g, passes, check=options.check, dump_dir=options.dump_dir, log=options.log)
    for n in g.nodes:
        for v in n.outputs:
            if not v.static and not v.host_only:   # (host-only values: refused by lower_graph, naming them)
                raise UnsupportedError(
                    f"{n.where}: output {v.name} has shape {list(v.shape)}, which depends on input "
                    f"data rather than input shapes; dlc needs every shape known at compile time")
    return g


def _timed(options: Options, name: str, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    options.log.append(PassRecord(name, time.perf_counter() - t0, 0, 0))
    return out


def build(g: Graph, options: Options, inplace: dict[int, int] | None = None) -> tuple[Program, Executable]:
    """Compile a graph whose input shapes are all static into an Executable.
    ``inplace`` {output j: input i} writes output j over input i (a training
    step's new weights; see codegen/inplace.py)."""
    if not all(v.static for v in g.inputs):
        raise ShapeError("build() needs static input shapes; specialize the graph first")
    g = optimize(g, options)
    prog = _timed(options, "lower", lower_graph, g, options.plan_memory, True, codegen_target(options))
    if inplace:
        prog = alias_outputs(prog, inplace)
    render_seconds = {} if options.kernel_timings else None
    meta = ExecMeta(
        input_dtypes=[s.dtype.name for s in prog.inputs],
        input_shapes=[list(s.shape) for s in prog.inputs],
        output_dtypes=[s.dtype.name for s in prog.outputs],
        output_shapes=[list(s.shape) for s in prog.outputs],
        arena_bytes=prog.arena_bytes,
        calls=[(c.kernel.name, c.kernel.sources, c.kernel.messages) for c in prog.calls],
        inplace=sorted([j, i] for j, i in (inplace or {}).items()),
    )
    if options.target == "cuda":
        return prog, _build_cuda(g, prog, meta, options, render_seconds)
    module = _timed(options, "render_llvm", render_program, prog, render_seconds)
    raw_ir = str(module)
    compiled = _timed(options, "llvm_optimize_and_codegen", compile_ir, raw_ir)
    if options.kernel_timings:
        from .timings import kernel_records
        options.log.extend(kernel_records(prog, render_seconds))
    if options.dump_dir:
        _dump(options.dump_dir, prog, raw_ir, compiled)
        with open(os.path.join(options.dump_dir, "memory.txt"), "w") as f:
            f.write(format_plan(g, prog.memory) + "\n")
    return prog, Executable(meta, compiled.object_code, prog.weights)


def _build_cuda(g: Graph, prog: Program, meta: ExecMeta, options: Options, render_seconds):
    """The CUDA half of `build`: Numba-CUDA source for every kernel, then
    the CudaExecutable (which compiles it to PTX, or loads it into numba's
    simulator)."""
    from .codegen.cuda import jit
    from .codegen.cuda.module import render_program as render_cuda
    from .codegen.cuda.render import RenderConfig
    from .runtime.cuda import CudaExecutable
    config = RenderConfig.for_simulator() if jit.running_simulator() else RenderConfig()
    code = _timed(options, "render_cuda", render_cuda, prog, config, render_seconds)
    if options.dump_dir:
        _dump(options.dump_dir, prog, None, None)
        with open(os.path.join(options.dump_dir, "cuda_kernels.py"), "w") as f:
            f.write(code.source())
        with open(os.path.join(options.dump_dir, "memory.txt"), "w") as f:
            f.write(format_plan(g, prog.memory) + "\n")
    exe = _timed(options, "cuda_compile", CudaExecutable, meta, code, prog.weights, options.cuda_graphs)
    if options.dump_dir and code.ptx:
        with open(os.path.join(options.dump_dir, "cuda_kernels.ptx"), "w") as f:
            for k in code.kernels:
                for (ptx, entry), p in zip(code.ptx[k.key]["phases"], k.phases):
                    f.write(f"// {p.name} ({entry})\n{ptx}\n")
    return exe


def analyze(g: Graph, options: Options) -> tuple[Graph, Program]:
    """The passes and the lowering to kernel IR (no LLVM, no weights blob):
    what statistics and `dlc inspect` need."""
    g = optimize(g, options)
    hosts = [f"{n.where.removeprefix('onnx ')} ({n.op})" for n in g.nodes if n.on_host]
    if hosts:
        raise UnsupportedError(f"this graph runs staged, not as one compiled program: its host steps "
                               f"{', '.join(hosts)} (control flow, shapes that depend on data, or sequences and "
                               f"strings) split it into "
                               f"native segments compiled at run time; see the graph with `dlc inspect --stage ir` "
                               f"and its segments' kernels with `dlc run --profile`")
    return g, lower_graph(g, options.plan_memory, weights=False, target=codegen_target(options))


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
    if raw_ir is None:   # target="cuda": no LLVM
        return
    for name, text in (("module.ll", raw_ir), ("module.opt.ll", compiled.optimized_ir),
                       ("module.s", compiled.assembly())):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
