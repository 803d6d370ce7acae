"""The `dlc` command line: compile, run, inspect, and the diagnostics
check, compare, cache, doctor.

Errors print one line (`dlc: error: ...`) and exit 1; set DLC_DEBUG=1 for
a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _shape_arg(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, dims = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=D0,D1,... (got {text!r})")
    try:
        return name, tuple(int(d) for d in dims.split(",") if d.strip() != "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"dims must be integers (got {dims!r})") from None


def _input_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.npy (got {text!r})")
    return name, path


def _add_shape_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", type=_shape_arg, action="append", default=[], metavar="NAME=D0,D1,...",
                   help="fix an input's shape at compile time (repeatable)")


def _add_fallback_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fallback", choices=("reference",),
                   help="run ONNX nodes dlc cannot compile on the host with the onnx reference implementation "
                        "(off by default; the nodes and their share of run time are reported)")


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=_input_arg, action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input array (repeatable)")
    _add_shape_option(p)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="dlc", description="dlc: compile ONNX models to native code and run them.")
    p.add_argument("--version", action="version", version=f"dlc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("compile", help="compile an ONNX model into a .dlc artifact",
                       description="Compile an ONNX model into a .dlc artifact that `dlc run` and "
                                   "dlc.load() run without recompiling.")
    c.add_argument("model", help="the .onnx file")
    c.add_argument("-o", "--output", help="artifact path (default: the model's name with .dlc)")
    c.add_argument("--target", default="cpu", help="code generation target (default: cpu)")
    _add_shape_option(c)
    c.add_argument("--dump", metavar="DIR", help="write the graph after each pass, the kernels, LLVM IR and assembly")
    c.add_argument("--timings", action="store_true",
                   help="print the time spent in each pass and compile stage, and per kernel")
    _add_fallback_option(c)
    c.add_argument("--no-cache", action="store_true", help="neither read nor write the compile cache")
    c.add_argument("--disable-pass", action="append", default=[], metavar="NAME",
                   help="skip a graph pass or stage (repeatable; see `dlc compare --ablate`)")

    r = sub.add_parser("run", help="run a compiled .dlc artifact (or an .onnx model) on inputs",
                       description="Run a model on inputs from .npy files and print or save the outputs.")
    r.add_argument("model", help="a .dlc artifact, or an .onnx model (compiled first)")
    r.add_argument("--input", type=_input_arg, action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input array (repeatable)")
    r.add_argument("--random", action="store_true",
                   help="feed random inputs for every input not given (symbolic dims become 1)")
    r.add_argument("--output", metavar="OUT.npz", help="save the outputs to an .npz file")
    _add_shape_option(r)
    _add_fallback_option(r)
    r.add_argument("--profile", action="store_true", help="time each kernel (and host step) and print a table")
    r.add_argument("--repeat", type=int, default=10, metavar="N", help="profiled runs (default 10)")
    r.add_argument("--trace", metavar="TRACE.json", help="with --profile: also write a Chrome trace")

    i = sub.add_parser("inspect", help="print a model at a compilation stage",
                       description="Print a model after a compilation stage: the IR after the graph passes, "
                                   "the fused kernels and the ONNX nodes in each, the memory plan, the kernels, "
                                   "or the optimized LLVM IR / assembly; or statistics as JSON, or a picture "
                                   "of the fused graph.")
    i.add_argument("model", help="the .onnx file")
    i.add_argument("--stage", default="ir", choices=("onnx", "ir", "fused", "memory", "kernels", "llvm", "asm"),
                   help="what to print (default: ir)")
    i.add_argument("--json", action="store_true",
                   help="print statistics as JSON instead: onnx_nodes, kernels, arena_bytes, naive_bytes, "
                        "live_lower_bound_bytes, weights_bytes")
    i.add_argument("--html", metavar="FILE", help="also write a picture of the fused graph (self-contained HTML)")
    i.add_argument("--no-fuse", action="store_true", help="switch operator fusion off")
    i.add_argument("--no-plan", action="store_true", help="switch memory reuse off (one arena slot per buffer)")
    _add_shape_option(i)

    k = sub.add_parser("check", help="list what keeps a model from compiling, and lint it",
                       description="Check an ONNX model before compiling it: unsupported (op, opset, dtype) with "
                                   "their nodes, and lint (training-mode nodes, symbolic dim names, shadowed "
                                   "initializers, unused inputs, data-dependent shapes). Exit status 0: it "
                                   "compiles; 1: it does not.")
    k.add_argument("model", help="the .onnx file")
    _add_shape_option(k)

    cmp = sub.add_parser("compare", help="find the first node where dlc's values differ from a reference",
                         description="Run the model recording every intermediate value and compare each ONNX "
                                     "node output with a reference; report the first divergence and the kernel "
                                     "computing it. Exit status 0: all match; 1: they differ.")
    cmp.add_argument("model", help="the .onnx file")
    cmp.add_argument("--against", default="onnxruntime", choices=("onnxruntime", "reference", "fp64"),
                     help="onnxruntime (default), the onnx reference evaluator, or dlc's numpy reference "
                          "in float64")
    _add_input_options(cmp)
    cmp.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    cmp.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    cmp.add_argument("--ablate", action="store_true",
                     help="rebuild with each pass turned off and name the pass that introduces the difference")
    cmp.add_argument("--all", action="store_true", help="list every node output, not only diverging ones")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    _add_fallback_option(cmp)

    ca = sub.add_parser("cache", help="show or clear the compile cache",
                        description="The on-disk compile cache ($DLC_CACHE_DIR, else ~/.cache/dlc).")
    ca.add_argument("action", choices=("info", "clear"))

    bn = sub.add_parser("bench", help="time dlc against onnxruntime, PyTorch and TVM on a model",
                        description="Run dlc and each available rival on the same model and inputs in one "
                                    "process: outputs checked against dlc's, median and p90 latency, throughput "
                                    "and the ratio to dlc, timed in interleaved rounds. Missing rivals are "
                                    "reported as skipped.")
    bn.add_argument("model", help="an .onnx file (a NAME.torch.json beside it lets PyTorch run it too)")
    bn.add_argument("--against", default="onnxruntime,torch,tvm",
                    help="comma-separated rivals: onnxruntime, torch, tvm (default: all)")
    bn.add_argument("--batch", type=int, default=1, help="the value of a symbolic first input dim (default 1)")
    bn.add_argument("--threads", type=int, default=None,
                    help="threads for every contender (default: DLC_NUM_THREADS, else all cores)")
    bn.add_argument("--runs", type=int, default=20, help="timed rounds (default 20)")
    bn.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    bn.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    _add_shape_option(bn)

    sub.add_parser("doctor", help="versions, host CPU features, and whether a CUDA GPU is usable",
                   description="Print the versions of dlc's dependencies, the CPU features LLVM sees, the "
                               "compile cache, and whether target='cuda' can work here (with the fix when not).")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .ir.errors import DLCError
    try:
        return {"compile": cmd_compile, "run": cmd_run, "inspect": cmd_inspect, "check": cmd_check,
                "compare": cmd_compare, "cache": cmd_cache, "doctor": cmd_doctor,
                "bench": cmd_bench}[args.command](args)
    except DLCError as e:
        print(f"dlc: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:   # a bug in dlc: still one line, unless asked for more
        if os.environ.get("DLC_DEBUG"):
            raise
        print(f"dlc: internal error: {type(e).__name__}: {e} (set DLC_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def cmd_compile(args) -> int:
    import dlc
    from .compiler import check_target
    check_target(args.target)
    out = args.output or os.path.splitext(args.model)[0] + ".dlc"
    t0 = time.perf_counter()
    m = dlc.compile(args.model, target=args.target, shapes=dict(args.shape) or None, dump_dir=args.dump,
                    fallback=args.fallback, cache=not args.no_cache, disable_passes=args.disable_pass,
                    kernel_timings=args.timings)
    if not m.compiled_shapes:   # symbolic dims and no --shape: compile them as 1
        shapes = {i.name: tuple(d if isinstance(d, int) else 1 for d in i.shape) for i in m.inputs}
        m.executable((tuple(shapes.values()), ()), "dlc compile: symbolic dims as 1")
        _say("note: symbolic dims compiled as 1 ("
             + ", ".join(f"{n}={','.join(map(str, s))}" for n, s in shapes.items())
             + "); other shapes compile at their first run (the artifact keeps the model); "
               "use --shape to choose")
    m.save(out)
    _say(f"compiled {args.model} -> {out} in {time.perf_counter() - t0:.2f} s")
    for ev in m.compile_events:
        if ev["outcome"] == "cached":
            _say("  loaded from the compile cache: no compile ran (--no-cache to compile)")
    if args.timings:
        from .timings import format_timings
        _say(format_timings(m.compile_log))
        if m.fallback_nodes or not m.compile_log:
            _say("  (a staged model's native segments compile at their first run: see `dlc run --profile`)")
    if args.dump:
        _say(f"dumps written to {args.dump}")
    return 0


def _random_input(info, shapes: dict) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = shapes.get(info.name) or tuple(d if isinstance(d, int) else 1 for d in info.shape)
    from .ir import dtypes
    if dtypes.kind(info.dtype) == "f":
        return rng.standard_normal(shape).astype(info.dtype)
    if info.dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 10, shape).astype(info.dtype)


def cmd_run(args) -> int:
    import dlc
    if args.model.endswith(".onnx"):
        m = dlc.compile(args.model, shapes=dict(args.shape) or None, fallback=args.fallback)
    else:
        m = dlc.load(args.model)
    feeds = _load_inputs(args.input)
    if args.random:
        for info in m.inputs:
            feeds.setdefault(info.name, _random_input(info, dict(args.shape)))
    t0 = time.perf_counter()
    outs = m.run(None, feeds)
    dt = time.perf_counter() - t0
    if args.profile:
        prof = m.profile(feeds, repeat=args.repeat)
        print(prof.table())
        if args.trace:
            prof.save_chrome_trace(args.trace)
            _say(f"Chrome trace written to {args.trace} (open it in chrome://tracing or ui.perfetto.dev)")
    for info, a in zip(m.outputs, outs):
        preview = np.array2string(a.reshape(-1)[:6], precision=5, separator=", ", max_line_width=10**6)
        print(f"{info.name}: {a.dtype.name}{list(a.shape)} {preview}{' ...' if a.size > 6 else ''}")
    _say(f"ran in {dt * 1000:.2f} ms")
    if args.output:
        np.savez(args.output, **{info.name: a for info, a in zip(m.outputs, outs)})
        _say(f"outputs saved to {args.output}")
    return 0


def _load_inputs(pairs) -> dict:
    from .ir.errors import InputError
    feeds = {}
    for name, path in pairs:
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read input {name!r} from {path}: {e}") from None
    return feeds


def cmd_check(args) -> int:
    from .check import check
    report = check(args.model, dict(args.shape) or None)
    print(report.format())
    return report.exit_code


def cmd_compare(args) -> int:
    from .compare import compare, random_feeds
    from .frontends.onnx import load_model
    model = load_model(args.model)
    feeds = _load_inputs(args.input)
    if feeds:
        for k, v in random_feeds(model, dict(args.shape) or {k: v.shape for k, v in feeds.items()},
                                 args.seed).items():
            feeds.setdefault(k, v)
    report = compare(model, feeds or None, against=args.against, rtol=args.rtol, atol=args.atol,
                     shapes=dict(args.shape) or None, ablate=args.ablate, fallback=args.fallback, seed=args.seed)
    print(report.format(show_all=args.all))
    return report.exit_code


def cmd_cache(args) -> int:
    from .cache import CompileCache
    c = CompileCache()
    if args.action == "info":
        print(c.info())
    else:
        n = c.clear()
        print(f"removed {n} entr{'y' if n == 1 else 'ies'} from {c.root}")
    return 0


def cmd_bench(args) -> int:
    from .bench import bench
    if args.batch < 1 or args.runs < 1 or (args.threads is not None and args.threads < 1):
        print("dlc: error: --batch, --runs and --threads must be positive", file=sys.stderr)
        return 2
    shapes = dict(args.shape) or None
    rep = bench(args.model, [a.strip() for a in args.against.split(",") if a.strip()], batch=args.batch,
                threads=args.threads, runs=args.runs, warmup=args.warmup, shapes=shapes, log=_say)
    print(rep.table())
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(rep.to_json(), f, indent=1)
    differ = [r.name for r in rep.results if r.agree is False]
    if differ:
        print(f"dlc: error: outputs differ from dlc's: {', '.join(differ)}", file=sys.stderr)
    return 0 if all(r.status != "failed" for r in rep.results) and not differ else 1


def cmd_doctor(args) -> int:
    from .doctor import report
    print(report())
    return 0


def cmd_inspect(args) -> int:
    import json
    from .compiler import GENERIC_PASSES, Options, analyze, codegen_target, optimize, specialize, statistics
    from .codegen.kir_print import format_kernel
    from .codegen.llvm.jit import compile_ir
    from .codegen.llvm.module import render_program
    from .codegen.lower import lower_graph
    from .ir.errors import ShapeError
    from .ir.passes import describe_kernels, format_plan, run_passes
    from .model import OnnxSource

    source = OnnxSource(args.model, dict(args.shape) or None)
    if args.stage == "onnx" and not (args.json or args.html):
        print(_onnx_summary(source.model))
        return 0
    g, sig = source.build()
    g = run_passes(g, GENERIC_PASSES)
    if not all(v.static for v in g.inputs):
        if args.stage == "ir" and not (args.json or args.html):
            print(g)
            _say("note: symbolic input dims; give --shape NAME=... to see the specialized graph")
            return 0
        raise ShapeError("this stage needs static input shapes: give --shape NAME=D0,D1,... for "
                         + ", ".join(i.name for i in sig.inputs if not all(isinstance(d, int) for d in i.shape)))
    options = Options(fuse=not args.no_fuse, plan_memory=not args.no_plan)
    g = specialize(g, [v.shape for v in g.inputs])
    if args.stage == "ir" and not (args.json or args.html):   # the IR as fusion gets it
        print(optimize(g, Options(fuse=options.fuse, disabled_passes={"fuse_operators"})))
        return 0
    g, prog = analyze(g, options)
    if args.json or args.html:
        stats = statistics(g, prog, onnx_nodes=len(source.model.graph.node))
        if args.html:
            from .ir.draw import fused_graph_html
            with open(args.html, "w") as f:
                f.write(fused_graph_html(g, os.path.basename(args.model), stats))
            _say(f"picture written to {args.html}")
        if args.json:
            print(json.dumps(stats, indent=2))
        return 0
    if args.stage == "fused":
        print(describe_kernels(g))
        return 0
    if args.stage == "memory":
        print(format_plan(g, prog.memory))
        return 0
    prog = lower_graph(g, options.plan_memory, target=codegen_target(options))
    if args.stage == "kernels":
        for c in prog.calls:
            print(format_kernel(c.kernel))
            print(f"  # args: {', '.join(str(a) for a in c.args)}\n")
        return 0
    compiled = compile_ir(str(render_program(prog)))
    print(compiled.optimized_ir if args.stage == "llvm" else compiled.assembly())
    return 0


def _onnx_summary(model) -> str:
    from collections import Counter
    from .frontends.onnx import model_opset
    g = model.graph
    inits = {t.name for t in g.initializer}
    lines = [f"model: {g.name or '(unnamed)'}  opset {model_opset(model)}  producer "
             f"{model.producer_name or '?'} {model.producer_version}".rstrip(),
             f"nodes: {len(g.node)}  initializers: {len(g.initializer)}"]
    for vi in g.input:
        if vi.name not in inits:
            dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
            lines.append(f"input  {vi.name}: {dims}")
    for vi in g.output:
        lines.append(f"output {vi.name}")
    for op, count in sorted(Counter(n.op_type for n in g.node).items(), key=lambda x: -x[1]):
        lines.append(f"  {op:<24} {count}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
