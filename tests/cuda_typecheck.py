"""Type-check and lower the generated CUDA source with the real numba-cuda
compiler (not the simulator): every phase of every kernel of a set of models
goes through numba's typing and lowering to LLVM IR for a compute
capability, which needs no GPU and no CUDA toolkit. The simulator runs the
same text as plain Python, so it would not notice a typing error (an int32
sum widened to int64, a float32 computation drifting into float64); this
does. With ``--ptx`` it also compiles one kernel to PTX (needs NVVM).

    NUMBA_ENABLE_CUDASIM=0 python -m tests.cuda_typecheck [--ptx]

Prints one line per model and exits non-zero on the first failure.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
from onnx import helper

os.environ["NUMBA_ENABLE_CUDASIM"] = "0"


def models():
    from tests import model_zoo
    from tests.util import make_model, rand

    def one(op, inputs, attrs=None, inits=None, n_out=1, opset=21):
        node = helper.make_node(op, list(inputs) + list(inits or {}), [f"y{i}" for i in range(n_out)], **(attrs or {}))
        return make_model([node], [(k, v[0], list(v[1])) for k, v in inputs.items()],
                          [f"y{i}" for i in range(n_out)], inits, opset)

    f32 = np.float32
    out = {name: fn()[0] for name, fn in model_zoo.MODELS.items()}
    out.update({
        "int_div_mod": make_model([helper.make_node("Div", ["a", "b"], ["d"]), helper.make_node("Mod", ["a", "b"], ["m"]),
                                   helper.make_node("Mul", ["d", "m"], ["y"])],
                                  [("a", np.int32, [3, 4]), ("b", np.int32, [3, 4])], ["y"]),
        "uint8_ops": make_model([helper.make_node("Sub", ["a", "b"], ["s"]), helper.make_node("Max", ["s", "b"], ["y"])],
                                [("a", np.uint8, [5]), ("b", np.uint8, [5])], ["y"]),
        "casts": make_model([helper.make_node("Cast", ["x"], ["i"], to=6), helper.make_node("Cast", ["i"], ["b"], to=9),
                             helper.make_node("Cast", ["b"], ["y"], to=11)], [("x", f32, [4])], ["y"]),
        "rounding": make_model([helper.make_node("Round", ["x"], ["r"]), helper.make_node("Floor", ["r"], ["f"]),
                                helper.make_node("Ceil", ["f"], ["y"])], [("x", f32, [4])], ["y"]),
        "minmax_pow": make_model([helper.make_node("Max", ["a", "b"], ["m"]), helper.make_node("Pow", ["m", "b"], ["y"])],
                                 [("a", f32, [4]), ("b", f32, [4])], ["y"]),
        "int_pow": make_model([helper.make_node("Pow", ["a", "b"], ["y"])], [("a", np.int64, [4]), ("b", np.int64, [4])],
                              ["y"]),
        "float64_softmax": one("Softmax", {"x": (np.float64, (3, 70))}, {"axis": -1}),
        "int_reduce": one("ReduceMax", {"x": (np.int32, (3, 70))}, {"keepdims": 0}, {"axes": np.array([1], np.int64)}),
        "argmax": one("ArgMax", {"x": (f32, (3, 70))}, {"axis": 1}),
        "gather": one("Gather", {"x": (f32, (5, 3)), "i": (np.int64, (4,))}, {"axis": 0}),
        "bool_logic": make_model([helper.make_node("And", ["a", "b"], ["c"]), helper.make_node("Not", ["c"], ["y"])],
                                 [("a", np.bool_, [4]), ("b", np.bool_, [4])], ["y"]),
        "maxpool_indices": one("MaxPool", {"x": (f32, (1, 2, 6, 6))}, {"kernel_shape": [2, 2]}, n_out=2),
        "avgpool": one("AveragePool", {"x": (f32, (1, 2, 6, 6))}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
        "conv_transpose": one("ConvTranspose", {"x": (f32, (1, 2, 4, 4))}, {"strides": [2, 2]},
                              {"w": rand(2, 3, 3, 3)}),
        "depthwise": one("Conv", {"x": (f32, (1, 4, 6, 6))}, {"group": 4, "pads": [1, 1, 1, 1]}, {"w": rand(4, 1, 3, 3)}),
        "resize": one("Resize", {"x": (f32, (1, 1, 3, 4))}, {"mode": "linear"},
                      {"roi": np.zeros(0, f32), "scales": np.array([1, 1, 2, 1.5], f32)}),
        "layernorm": one("LayerNormalization", {"x": (f32, (2, 5, 40))}, {"axis": -1},
                         {"s": rand(40), "b": rand(40)}),
        "long_k_matmul": one("MatMul", {"a": (f32, (3, 1100))}, None, {"b": rand(1100, 5)}),
        "int_matmul": one("MatMul", {"a": (np.int32, (3, 4)), "b": (np.int32, (4, 5))}),
        "pad_reflect": one("Pad", {"x": (f32, (2, 3))}, {"mode": "reflect"}, {"p": np.array([1, 0, 0, 2], np.int64)}),
        "float16": make_model([helper.make_node("Cast", ["x"], ["h"], to=10), helper.make_node("MatMul", ["h", "w"], ["t"]),
                               helper.make_node("Sigmoid", ["t"], ["y"])],
                              [("x", np.float64, [4, 6])], ["y"], {"w": rand(6, 5).astype(np.float16)}),
    })
    return out


def main(argv) -> int:
    from numba import types
    from numba.cuda.compiler import compile_cuda

    from dlc.codegen.cuda import jit
    from dlc.codegen.cuda.module import render_program
    from dlc.codegen.cuda.render import RenderConfig
    from dlc.codegen.lower import lower_graph
    from dlc.compiler import Options, optimize
    from dlc.frontends.onnx import import_model
    assert not jit.running_simulator(), "run without NUMBA_ENABLE_CUDASIM=1"

    from tests import model_zoo
    seen = set()   # kernel keys typed already (a kernel the same as another model's is typed once)
    for name, model in models().items():
        t0 = time.perf_counter()
        shapes = {i.name: [d.dim_value or 1 for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
        g, _ = import_model(model, shapes)
        prog = lower_graph(optimize(g, Options()))
        n = 0
        # the GPU's launch shapes; the simulator's too for the small models (the zoo's take long to type)
        for config in (RenderConfig(),) + (() if name in model_zoo.MODELS else (RenderConfig.for_simulator(),)):
            code = render_program(prog, config)
            for ck in code.kernels:
                if ck.key in seen:
                    continue
                seen.add(ck.key)
                ns = jit._namespace(ck)
                for p in ck.phases:
                    sig = jit._signature(ck, len(p.host_vars))
                    try:
                        compile_cuda(ns[p.name], types.void, sig.args, cc=(7, 5))
                    except Exception as e:
                        print(f"FAILED {name}: kernel {p.name}: {type(e).__name__}: {e}\n{ck.source}", flush=True)
                        return 1
                    n += 1
        print(f"ok {name}: {n} kernel phases in {time.perf_counter() - t0:.1f} s", flush=True)
    if "--ptx" in argv:
        ck = render_program(prog, RenderConfig()).kernels[0]
        ptx = jit.compile_ptx(ck, (7, 5))
        assert ".entry" in ptx["phases"][0][0]
        print("ok ptx", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
