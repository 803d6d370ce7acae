"""The `dlc` command line: compile, run, inspect.

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
    c.add_argument("--timings", action="store_true", help="print the time spent in each compile stage")

    r = sub.add_parser("run", help="run a compiled .dlc artifact (or an .onnx model) on inputs",
                       description="Run a model on inputs from .npy files and print or save the outputs.")
    r.add_argument("model", help="a .dlc artifact, or an .onnx model (compiled first)")
    r.add_argument("--input", type=_input_arg, action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input array (repeatable)")
    r.add_argument("--random", action="store_true",
                   help="feed random inputs for every input not given (symbolic dims become 1)")
    r.add_argument("--output", metavar="OUT.npz", help="save the outputs to an .npz file")
    _add_shape_option(r)

    i = sub.add_parser("inspect", help="print a model at a compilation stage",
                       description="Print a model after a compilation stage: the IR after the graph passes, "
                                   "the kernels, or the optimized LLVM IR / assembly.")
    i.add_argument("model", help="the .onnx file")
    i.add_argument("--stage", default="ir", choices=("onnx", "ir", "kernels", "llvm", "asm"),
                   help="what to print (default: ir)")
    _add_shape_option(i)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .ir.errors import DLCError
    try:
        return {"compile": cmd_compile, "run": cmd_run, "inspect": cmd_inspect}[args.command](args)
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
    m = dlc.compile(args.model, target=args.target, shapes=dict(args.shape) or None, dump_dir=args.dump)
    if not m.compiled_shapes:   # symbolic dims and no --shape: compile them as 1
        shapes = {i.name: tuple(d if isinstance(d, int) else 1 for d in i.shape) for i in m.inputs}
        m.executable((tuple(shapes.values()), ()))
        _say("note: symbolic dims compiled as 1 ("
             + ", ".join(f"{n}={','.join(map(str, s))}" for n, s in shapes.items())
             + "); other shapes compile at their first run (the artifact keeps the model); "
               "use --shape to choose")
    m.save(out)
    _say(f"compiled {args.model} -> {out} in {time.perf_counter() - t0:.2f} s")
    if args.timings:
        for rec in m.compile_log:
            _say(f"  {rec.name:<32} {rec.seconds * 1000:9.1f} ms")
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
    from .ir.errors import InputError
    if args.model.endswith(".onnx"):
        m = dlc.compile(args.model, shapes=dict(args.shape) or None)
    else:
        m = dlc.load(args.model)
    feeds = {}
    for name, path in args.input:
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read input {name!r} from {path}: {e}") from None
    if args.random:
        for info in m.inputs:
            feeds.setdefault(info.name, _random_input(info, dict(args.shape)))
    t0 = time.perf_counter()
    outs = m.run(None, feeds)
    dt = time.perf_counter() - t0
    for info, a in zip(m.outputs, outs):
        preview = np.array2string(a.reshape(-1)[:6], precision=5, separator=", ", max_line_width=10**6)
        print(f"{info.name}: {a.dtype.name}{list(a.shape)} {preview}{' ...' if a.size > 6 else ''}")
    _say(f"ran in {dt * 1000:.2f} ms")
    if args.output:
        np.savez(args.output, **{info.name: a for info, a in zip(m.outputs, outs)})
        _say(f"outputs saved to {args.output}")
    return 0


def cmd_inspect(args) -> int:
    from .compiler import GENERIC_PASSES, Options, optimize, specialize
    from .codegen.kir_print import format_kernel
    from .codegen.llvm.jit import compile_ir
    from .codegen.llvm.module import render_program
    from .codegen.lower import lower_graph
    from .ir.errors import ShapeError
    from .ir.passes import run_passes
    from .model import OnnxSource

    source = OnnxSource(args.model, dict(args.shape) or None)
    if args.stage == "onnx":
        print(_onnx_summary(source.model))
        return 0
    g, sig = source.build()
    g = run_passes(g, GENERIC_PASSES)
    if not all(v.static for v in g.inputs):
        if args.stage == "ir":
            print(g)
            _say("note: symbolic input dims; give --shape NAME=... to see the specialized graph")
            return 0
        raise ShapeError("this stage needs static input shapes: give --shape NAME=D0,D1,... for "
                         + ", ".join(i.name for i in sig.inputs if not all(isinstance(d, int) for d in i.shape)))
    g = optimize(specialize(g, [v.shape for v in g.inputs]), Options())
    if args.stage == "ir":
        print(g)
        return 0
    prog = lower_graph(g)
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
