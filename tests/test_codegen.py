"""Kernel IR and the LLVM renderer, below the graph level: hand-built
kernels compiled and run, compared with numpy."""
import ctypes

import numpy as np
import pytest

from dlc.codegen.builder import KernelBuilder
from dlc.codegen.kir import Buffer
from dlc.codegen.llvm.jit import NativeCode, compile_ir
from dlc.codegen.llvm.module import render_program
from dlc.codegen.program import Call, Program, Storage, TensorSpec
from dlc.ir.errors import ExecutionError
from dlc.runtime.executable import ExecMeta, Executable


def run_kernel(k: KernelBuilder, ins: list[np.ndarray], outs: list[Buffer]):
    """Compile one kernel whose params are inputs then outputs; run it."""
    kernel = k.kernel
    n_in = len(kernel.params) - len(outs)
    prog = Program("t", [TensorSpec(b.name, b.dtype, b.shape) for b in kernel.params[:n_in]],
                   [TensorSpec(b.name, b.dtype, b.shape) for b in outs])
    prog.calls.append(Call(kernel, [Storage("input", i) for i in range(n_in)]
                           + [Storage("output", i) for i in range(len(outs))]))
    compiled = compile_ir(str(render_program(prog)))
    meta = ExecMeta([a.dtype.name for a in ins], [list(a.shape) for a in ins],
                    [b.dtype.name for b in outs], [list(b.shape) for b in outs], 0,
                    [(kernel.name, ["test"], kernel.messages)])
    return Executable(meta, compiled.object_code, np.zeros(0, np.uint8)).run(ins), compiled


def test_loop_nest_with_local_accumulator_and_printer():
    k = KernelBuilder("rowsum")
    x, out = Buffer("x", "float32", (3, 5)), Buffer("out", "float32", (3,))
    k.kernel.params = [x, out]
    with k.loops([3]) as (i,):
        acc = k.local(k.zero(np.float32), "acc")
        with k.loop(5, "j") as j:
            k.accumulate(acc, k.load(x, [i, j]))
        k.store(out, [i], acc)
    text = str(k.kernel)
    assert "parallel for i0 in 0..3:" in text and "acc = (acc + x[i0, j])" in text
    a = np.arange(15, dtype=np.float32).reshape(3, 5)
    (got,), compiled = run_kernel(k, [a], [out])
    np.testing.assert_allclose(got, a.sum(1))
    assert "@rowsum" in compiled.optimized_ir and "i0" in str(render_program_text(k))


def render_program_text(k):
    prog = Program("t", [], [])
    prog.calls.append(Call(k.kernel, [Storage("input", i) for i in range(len(k.kernel.params))]))
    return render_program(prog)


def test_llvm_names_follow_the_kernel_ir():
    k = KernelBuilder("relu_3")
    x, y = Buffer("x", "float32", (8,)), Buffer("y", "float32", (8,))
    k.kernel.params = [x, y]
    with k.loops([8]) as (i,):
        k.store(y, [i], k.max(k.load(x, [i]), 0))
    text = str(render_program_text(k))
    assert 'define internal void @"relu_3"(ptr noalias %"x", ptr noalias %"y")' in text
    assert '"i0.body"' in text and '"x.addr"' in text


def test_elementwise_loop_vectorizes_for_the_host():
    k = KernelBuilder("add")
    a, b, c = (Buffer(n, "float32", (1024,)) for n in "abc")
    k.kernel.params = [a, b, c]
    with k.loops([1024]) as (i,):
        k.store(c, [i], k.load(a, [i]) + k.load(b, [i]))
    x, y = np.arange(1024, dtype=np.float32), np.ones(1024, np.float32)
    (got,), compiled = run_kernel(k, [x, y], [c])
    np.testing.assert_array_equal(got, x + y)
    assert "<8 x float>" in compiled.optimized_ir or "<16 x float>" in compiled.optimized_ir


def test_float_sum_reduction_vectorizes_with_reassoc():
    k = KernelBuilder("sum")
    x, out = Buffer("x", "float32", (4096,)), Buffer("out", "float32", ())
    k.kernel.params = [x, out]
    acc = k.local(k.zero(np.float32), "acc")
    with k.loop(4096, "i") as i:
        k.accumulate(acc, k.load(x, [i]))
    k.store(out, [], acc)
    data = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    (got,), compiled = run_kernel(k, [data], [out])
    np.testing.assert_allclose(got, data.astype(np.float64).sum(), rtol=1e-4)
    assert "fadd reassoc" in compiled.optimized_ir and "x float>" in compiled.optimized_ir


@pytest.mark.parametrize("src,dst,values", [
    ("float32", "int32", [1.9, -1.9, 3e10, -3e10, np.nan]),
    ("float32", "uint8", [1.9, 300.0, -5.0]),
    ("float32", "bool", [0.0, -0.0, 2.0, np.nan]),
    ("int64", "int8", [1, 255, -129]),
    ("bool", "float32", [True, False]),
    ("uint8", "int32", [0, 255]),
])
def test_casts_are_defined_for_every_value(src, dst, values):
    k = KernelBuilder("cast")
    n = len(values)
    x, y = Buffer("x", src, (n,)), Buffer("y", dst, (n,))
    k.kernel.params = [x, y]
    with k.loops([n]) as (i,):
        k.store(y, [i], k.cast(k.load(x, [i]), dst))
    data = np.array(values, dtype=src)
    (got,), _ = run_kernel(k, [data], [y])
    with np.errstate(all="ignore"):
        finite = np.isfinite(data.astype(np.float64))
        in_range = finite & (data.astype(np.float64) >= np.iinfo(dst).min if np.dtype(dst).kind in "iu" else finite)
        if np.dtype(dst).kind in "iu":
            in_range &= data.astype(np.float64) <= np.iinfo(dst).max
            want = data.astype(np.float64)
            want = np.where(np.isnan(want), 0, np.clip(want, np.iinfo(dst).min, np.iinfo(dst).max))
            want = np.trunc(want).astype(dst) if src.startswith("float") else data.astype(dst)
        else:
            want = data.astype(dst)
    np.testing.assert_array_equal(got, want)   # floats saturate, NaN -> 0; ints wrap like numpy


def test_runtime_check_reports_and_stops():
    k = KernelBuilder("gather_7")
    x, idx, y = Buffer("x", "float32", (4,)), Buffer("idx", "int64", (3,)), Buffer("y", "float32", (3,))
    k.kernel.params = [x, idx, y]
    with k.loops([3]) as (i,):
        j = k.load(idx, [i])
        k.check((j >= 0) & (j < 4), "index out of range")
        k.store(y, [i], k.load(x, [k.clamp(j, 0, 3)]))
    data = np.arange(4, dtype=np.float32)
    (got,), _ = run_kernel(k, [data, np.array([3, 0, 1])], [y])
    np.testing.assert_array_equal(got, [3, 0, 1])
    with pytest.raises(ExecutionError, match="test: index out of range"):
        run_kernel(k, [data, np.array([3, 9, 1])], [y])


def test_object_code_loads_in_a_fresh_engine():
    k = KernelBuilder("k")
    y = Buffer("y", "int32", (4,))
    k.kernel.params = [y]
    with k.loops([4]) as (i,):
        k.store(y, [i], k.cast(i * i, "int32"))
    prog = Program("t", [], [TensorSpec("y", np.dtype("int32"), (4,))])
    prog.calls.append(Call(k.kernel, [Storage("output", 0)]))
    obj = compile_ir(str(render_program(prog))).object_code
    native = NativeCode(obj)
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, *[ctypes.c_void_p] * 4)(native.address("dlc_main"))
    out = np.zeros(4, np.int32)
    ptrs = (ctypes.c_void_p * 1)(out.ctypes.data)
    assert fn(None, ctypes.addressof(ptrs), None, None) == 0
    np.testing.assert_array_equal(out, [0, 1, 4, 9])


def test_overlapping_arguments_lose_noalias():
    """An in-place kernel (output written over its input) must not promise
    LLVM that the two pointers never alias."""
    k = KernelBuilder("inplace_neg")
    x, y = Buffer("x", "float32", (8,)), Buffer("y", "float32", (8,))
    k.kernel.params = [x, y]
    with k.loops([8]) as (i,):
        k.store(y, [i], -k.load(x, [i]))
    prog = Program("t", [], [])
    prog.calls.append(Call(k.kernel, [Storage("arena", 0), Storage("arena", 0)]))
    text = str(render_program(prog))
    assert 'define internal void @"inplace_neg"(ptr %"x", ptr %"y")' in text
    prog.calls[0].args = [Storage("arena", 0), Storage("arena", 64)]
    assert '(ptr noalias %"x", ptr noalias %"y")' in str(render_program(prog))


def test_kernels_differing_only_in_memory_are_rendered_once(tmp_path):
    # two convolutions of the same shapes (other weights) and a third of another: two kernel functions
    import re

    from onnx import helper

    import dlc
    from tests.util import make_model, rand, run_ort
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w3"], ["y"])]
    model = make_model(nodes, [("x", np.float32, [1, 4, 6, 6])], ["y"],
                       {"w1": rand(4, 4, 3, 3, seed=1), "w2": rand(4, 4, 3, 3, seed=2), "w3": rand(2, 4, 3, 3, seed=3)})
    m = dlc.compile(model, dump_dir=str(tmp_path), cache=False)
    x = rand(1, 4, 6, 6)
    np.testing.assert_allclose(m.run(None, {"x": x})[0], run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)
    kernels = re.findall(r"define internal void @\"?(conv_\d+)\"?\(", (tmp_path / "module.ll").read_text())
    assert sorted(kernels) == ["conv_0", "conv_2"]
