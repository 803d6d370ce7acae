"""target="cuda": the kernel IR rendered as Numba-CUDA kernels.

Without a GPU (CI), the kernels run under numba's CUDA simulator
(tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1 unless DLC_TEST_GPU=1), on
tiny shapes: every op family and small end-to-end models against
onnxruntime, run-time checks, device inputs and outputs, save/load, the
compile cache. With DLC_TEST_GPU=1 the same tests run on the GPU, and the
`gpu`-marked ones too. tests/test_cuda_numba.py type-checks the generated
source with the real (non-simulated) numba-cuda compiler.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from tests import model_zoo
from tests.util import check_model, check_op, make_model, rand, run_ort

pytest.importorskip("numba.cuda")

from dlc.codegen.cuda import jit  # noqa: E402

CUDA = {"target": "cuda"}


def cuda_model(model, **kw):
    return dlc.compile(model, target="cuda", **kw)


def phases(m):
    exe = next(iter(m._exes.values()))
    return {p.name: p.kind for k in exe.code.kernels for p in k.phases}


# ------------------------------------------------------------ op families
def _x(*shape, **kw):
    return rand(*shape, **kw)


ELEMENTWISE = [
    ("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("Exp", {}), ("Neg", {}), ("Abs", {}), ("Erf", {}),
    ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Sign", {}), ("Softplus", {}), ("HardSwish", {}),
    ("LeakyRelu", {"alpha": 0.1}), ("Elu", {}), ("Selu", {}), ("Gelu", {}), ("Mish", {}), ("Sin", {}),
    ("Atan", {}), ("Reciprocal", {}),
]


@pytest.mark.parametrize("op,attrs", ELEMENTWISE, ids=[o for o, _ in ELEMENTWISE])
def test_unary(op, attrs):
    x = _x(2, 3, 5, low=-3, high=3)
    x[0, 0, :4] = [0.5, -0.5, 2.5, -2.5]   # rounding ties
    check_op(op, {"x": x}, attrs, opset=20 if op == "Gelu" else 21, **CUDA)


def test_sqrt_log_of_positive_values():
    check_op("Sqrt", {"x": _x(3, 4, low=0.1, high=4)}, **CUDA)
    check_op("Log", {"x": _x(3, 4, low=0.1, high=4)}, **CUDA)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Greater", "LessOrEqual", "Equal"])
def test_binary_broadcasting(op):
    a, b = _x(2, 3, 4, low=0.5, high=2), _x(3, 1, low=0.5, high=2, seed=1)
    check_op(op, {"a": a, "b": b}, **CUDA)


def test_math_at_its_edges_gives_nan_and_inf_like_the_cpu():
    # (Python's math raises there; the simulated GPU must not)
    x = np.array([0, -1, 1000, np.inf, -np.inf, np.nan], np.float32)
    nodes = [helper.make_node("Log", ["x"], ["l"]), helper.make_node("Sqrt", ["x"], ["s"]),
             helper.make_node("Exp", ["x"], ["e"]), helper.make_node("Mod", ["x", "z"], ["m"], fmod=1),
             helper.make_node("Pow", ["x", "h"], ["p"])]
    model = make_model(nodes, [("x", np.float32, [6])], ["l", "s", "e", "m", "p"],
                       {"z": np.zeros(6, np.float32), "h": np.full(6, 0.5, np.float32)})
    want = dlc.compile(model).run(None, {"x": x})   # C's (pow(-inf, 0.5) is inf)
    for got, w in zip(cuda_model(model).run(None, {"x": x}), want):
        np.testing.assert_allclose(got, w, rtol=1e-6)


def test_min_max_propagate_nan():
    a = np.array([1.0, np.nan, 3.0, -np.inf], np.float32)
    b = np.array([np.nan, 2.0, 1.0, 0.0], np.float32)
    check_op("Max", {"a": a, "b": b}, **CUDA)
    check_op("Min", {"a": a, "b": b}, **CUDA)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integer_arithmetic(dtype):
    a = rand(3, 5, dtype=dtype, low=-9 if dtype != np.uint8 else 0, high=9)
    b = rand(3, 5, dtype=dtype, low=1, high=4, seed=1)
    for op in ("Add", "Sub", "Mul", "Div", "Max"):
        check_op(op, {"a": a, "b": b}, **CUDA)
    check_op("Mod", {"a": a, "b": b}, {"fmod": 0}, **CUDA)


def test_integer_division_truncates_like_c():
    a = np.array([-7, 7, -7, 7, 0, -1], np.int32)
    b = np.array([2, -2, -2, 2, 3, 5], np.int32)
    check_op("Div", {"a": a, "b": b}, **CUDA)
    check_op("Mod", {"a": a, "b": b}, {"fmod": 1}, **CUDA)


@pytest.mark.parametrize("to", [np.int32, np.uint8, np.float64, np.bool_])
def test_cast(to):
    x = np.array([[-3.7, -0.5, 0.0, 0.5, 2.9, 200.0]], np.float32)
    if to == np.uint8:
        x = np.abs(x)   # (out of range, the CPU and CUDA targets saturate where onnxruntime wraps)
    check_op("Cast", {"x": x}, {"to": helper.np_dtype_to_tensor_dtype(np.dtype(to))}, **CUDA)


def test_float16_is_stored_and_computed_in_float32():
    # a load widens, the tiled product and the fused sigmoid run in float32, the store rounds once
    a, b = rand(4, 8).astype(np.float16), rand(8, 5, seed=1).astype(np.float16)
    nodes = [helper.make_node("MatMul", ["a", "b"], ["t"]), helper.make_node("Sigmoid", ["t"], ["y"])]
    model = make_model(nodes, [("a", np.float16, [4, 8]), ("b", np.float16, [8, 5])], ["y"])
    want = 1 / (1 + np.exp(-(a.astype(np.float32) @ b.astype(np.float32))))
    got = cuda_model(model).run(None, {"a": a, "b": b})[0]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want, rtol=2 ** -11, atol=0)


def test_float64_to_float16_rounds_once():
    # just above a float16 tie: rounding to float32 first would land on the tie
    x = np.array([1 + 2 ** -11 + 2 ** -40, -(1 + 2 ** -11 + 2 ** -40), 65520.0, 1e-8], np.float64)
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)], [("x", np.float64, [4])],
                       ["y"])
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    np.testing.assert_array_equal(cuda_model(model).run(None, {"x": x})[0].view(np.uint16), want.view(np.uint16))


def test_bitcast_reads_the_input_as_another_dtype():
    x = rand(2, 3)
    model = make_model([helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT32)], [("x", np.float32, [2, 3])],
                       ["y"], opset=26)
    np.testing.assert_array_equal(cuda_model(model).run(None, {"x": x})[0], x.view(np.int32))


def test_other_storage_types_are_refused_naming_the_node():
    model = make_model([helper.make_node("Cast", ["x"], ["y"], name="to_bf16", to=TensorProto.BFLOAT16)],
                       [("x", np.float32, [3])], [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [3])])
    with pytest.raises(dlc.UnsupportedError, match="to_bf16.*CUDA target does not support dtype bfloat16.*target='cpu'"):
        cuda_model(model)


def test_where_and_logic():
    c = rand(2, 4, dtype=np.bool_)
    check_op("Where", {"c": c, "a": _x(2, 4), "b": _x(1, 4, seed=2)}, **CUDA)
    check_op("And", {"a": c, "b": rand(2, 4, dtype=np.bool_, seed=3)}, **CUDA)
    check_op("Not", {"a": c}, **CUDA)
    check_op("IsNaN", {"x": np.array([1.0, np.nan, np.inf], np.float32)}, **CUDA)


# --------------------------------------------------------------- reductions
@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
                                "ReduceLogSumExp"])
@pytest.mark.parametrize("axes", [[1], [0, 2]])
def test_reduce(op, axes):
    x = _x(3, 20, 4, low=0.5, high=1.5)
    check_op(op, {"x": x, "axes": np.array(axes, np.int64)}, {"keepdims": 1}, constants=["axes"], **CUDA)


def test_long_row_reduction_uses_warp_shuffles():
    model = make_model([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)], [("x", np.float32, [3, 50])],
                       ["y"], {"axes": np.array([1], np.int64)})
    m = cuda_model(model)
    assert "warp" in phases(m).values()
    x = _x(3, 50)
    np.testing.assert_allclose(m(x), x.sum(1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_reductions(dtype):
    x = rand(4, 30, dtype=dtype, low=-5, high=5)
    for op in ("ReduceSum", "ReduceMax", "ReduceMin"):
        check_op(op, {"x": x, "axes": np.array([1], np.int64)}, constants=["axes"], **CUDA)


def test_argmax_argmin():
    x = _x(3, 12)
    check_op("ArgMax", {"x": x}, {"axis": 1}, **CUDA)
    check_op("ArgMin", {"x": x}, {"axis": 0, "keepdims": 0}, **CUDA)


# ------------------------------------------------------ softmax / normalize
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("n", [7, 40])
def test_softmax(op, n):
    check_op(op, {"x": _x(3, n, low=-5, high=5)}, {"axis": -1}, **CUDA)


def test_layer_norm_and_batch_norm():
    x = _x(2, 5, 12)
    check_op("LayerNormalization", {"x": x, "s": _x(12, seed=1), "b": _x(12, seed=2)}, {"axis": -1},
             constants=["s", "b"], **CUDA)
    c = 3
    check_op("BatchNormalization", {"x": _x(2, c, 4, 4), "s": _x(c, low=0.5), "b": _x(c), "m": _x(c),
                                    "v": _x(c, low=0.5, high=1.5)}, constants=["s", "b", "m", "v"], **CUDA)


def test_instance_norm():
    check_op("InstanceNormalization", {"x": _x(2, 3, 9), "s": _x(3, seed=1), "b": _x(3, seed=2)},
             constants=["s", "b"], **CUDA)


# ----------------------------------------------------------------- linalg
@pytest.mark.parametrize("a,b", [((5, 7), (7, 9)), ((2, 6, 5), (5, 3)), ((2, 1, 4, 6), (3, 6, 5)),
                                 ((4, 9), (9, 1)), ((1, 8), (8, 6))])
def test_matmul(a, b):
    check_op("MatMul", {"a": _x(*a), "b": _x(*b, seed=1)}, **CUDA)


def test_matmul_is_a_tiled_contraction_with_its_epilogue():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["y"])]
    model = make_model(nodes, [("x", np.float32, [6, 10])], ["y"], {"w": _x(10, 7), "b": _x(7)})
    m = cuda_model(model)
    assert list(phases(m).values()) == ["tiled"]
    x = _x(6, 10, seed=5)
    check_model(model, {"x": x}, **CUDA)


def test_gemm_and_integer_matmul():
    check_op("Gemm", {"a": _x(4, 6), "b": _x(5, 6), "c": _x(5)}, {"transB": 1, "alpha": 0.5, "beta": 2.0}, **CUDA)
    check_op("MatMul", {"a": rand(3, 4, dtype=np.int32, low=-3, high=3),
                        "b": rand(4, 5, dtype=np.int32, low=-3, high=3)}, **CUDA)


# ------------------------------------------------------------- conv / pool
@pytest.mark.parametrize("xs,ws,attrs", [
    ((1, 3, 6, 6), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((2, 2, 7, 5), (3, 2, 3, 2), {"strides": [2, 1], "dilations": [1, 2]}),
    ((1, 4, 5, 5), (4, 1, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),     # depthwise
    ((1, 4, 5, 5), (6, 2, 1, 1), {"group": 2}),
    ((1, 2, 9), (3, 2, 3), {"pads": [2, 0]}),                               # 1-D
])
def test_conv(xs, ws, attrs):
    check_op("Conv", {"x": _x(*xs), "w": _x(*ws, seed=1), "b": _x(ws[0], seed=2)}, attrs, constants=["w", "b"],
             **CUDA)


def test_conv_transpose():
    check_op("ConvTranspose", {"x": _x(1, 2, 4, 4), "w": _x(2, 3, 3, 3, seed=1)}, {"strides": [2, 2]},
             constants=["w"], **CUDA)


def test_pooling():
    x = _x(1, 2, 7, 7)
    check_op("MaxPool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, **CUDA)
    check_op("MaxPool", {"x": x}, {"kernel_shape": [2, 2]}, n_outputs=2, **CUDA)   # with indices
    check_op("AveragePool", {"x": x}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, **CUDA)
    check_op("GlobalAveragePool", {"x": x}, **CUDA)
    check_op("GlobalMaxPool", {"x": x}, **CUDA)


def test_resize():
    check_op("Resize", {"x": _x(1, 1, 3, 4), "roi": np.zeros(0, np.float32),
                        "scales": np.array([1, 1, 2, 1.5], np.float32)}, {"mode": "linear"},
             constants=["roi", "scales"], **CUDA)


# -------------------------------------------------------------- shape ops
def test_shape_ops():
    x = _x(2, 3, 4)
    check_op("Transpose", {"x": x}, {"perm": [2, 0, 1]}, **CUDA)
    check_op("Reshape", {"x": x, "s": np.array([4, -1], np.int64)}, constants=["s"], **CUDA)
    check_op("Concat", {"a": x, "b": _x(2, 1, 4, seed=1)}, {"axis": 1}, **CUDA)
    check_op("Slice", {"x": x, "s": np.array([0, 3], np.int64), "e": np.array([2, 0], np.int64),
                       "a": np.array([1, 2], np.int64), "t": np.array([1, -1], np.int64)},
             constants=["s", "e", "a", "t"], **CUDA)
    check_op("Expand", {"x": _x(3, 1), "s": np.array([2, 3, 4], np.int64)}, constants=["s"], **CUDA)
    check_op("Tile", {"x": _x(2, 3), "r": np.array([2, 1], np.int64)}, constants=["r"], **CUDA)
    check_op("Pad", {"x": _x(2, 3), "p": np.array([1, 0, 0, 2], np.int64)}, {"mode": "reflect"},
             constants=["p"], **CUDA)
    check_op("Split", {"x": _x(6, 2)}, {"axis": 0, "num_outputs": 3}, n_outputs=3, **CUDA)


def test_gather():
    check_op("Gather", {"x": _x(5, 3), "i": np.array([[0, 4], [-1, 2]], np.int64)}, {"axis": 0}, **CUDA)
    check_op("Gather", {"x": _x(2, 5), "i": np.array([3, -5], np.int32)}, {"axis": 1}, **CUDA)


def test_gather_out_of_range_raises_the_cpu_message():
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=0, name="gather0")],
                       [("x", np.float32, [5, 3]), ("i", np.int64, [4])], ["y"])
    feeds = {"x": _x(5, 3), "i": np.array([0, 7, 1, 2], np.int64)}
    with pytest.raises(dlc.ExecutionError) as cpu:
        dlc.compile(model).run(None, feeds)
    m = cuda_model(model)
    with pytest.raises(dlc.ExecutionError) as gpu:
        m.run(None, feeds)
    assert str(gpu.value) == str(cpu.value) and "gather0" in str(gpu.value)
    feeds["i"] = np.array([0, 4, 1, -5], np.int64)    # the status word was reset: the next run is fine
    np.testing.assert_array_equal(m.run(None, feeds)[0], feeds["x"][[0, 4, 1, 0]])


# ------------------------------------------------------------------ models
def _small_resnet():
    b = model_zoo.Builder(7)
    x = b.op("Relu", [b.bn(b.conv("x", 3, 4, 3, pad=1, bias=False), 4)])
    y = b.op("Relu", [b.bn(b.conv(x, 4, 8, 3, 2, 1, bias=False), 8)])
    y = b.bn(b.conv(y, 8, 8, 3, 1, 1, bias=False), 8)
    x = b.op("Relu", [b.op("Add", [y, b.bn(b.conv(x, 4, 8, 1, 2, bias=False), 8)])])
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])])
    return b.model([("x", np.float32, ["N", 3, 6, 6])], b.dense(x, 8, 5)), (1, 3, 6, 6)


def _small_mobilenet():
    b = model_zoo.Builder(8)
    lo, hi = b.const(0.0, np.float32), b.const(6.0, np.float32)
    x = b.op("Clip", [b.bn(b.conv("x", 3, 4, 3, stride=2, pad=1, bias=False), 4), lo, hi])
    y = b.op("Clip", [b.bn(b.conv(x, 4, 8, 1, bias=False), 8), lo, hi])
    y = b.op("Clip", [b.bn(b.conv(y, 8, 8, 3, pad=1, group=8, bias=False), 8), lo, hi])
    x = b.op("Add", [x, b.bn(b.conv(y, 8, 4, 1, bias=False), 4)])
    x = b.op("ReduceMean", [b.op("HardSwish", [x])], axes=[2, 3], keepdims=0)
    return b.model([("x", np.float32, ["N", 3, 8, 8])], b.dense(x, 4, 3), opset=14), (2, 3, 8, 8)


MODELS = {
    "mlp": lambda: model_zoo.mlp(),
    "transformer_encoder": lambda: model_zoo.transformer_encoder(seq=5, d=8, heads=2, ff=16),
    "resnet": _small_resnet,
    "mobilenet": _small_mobilenet,
}


@pytest.mark.parametrize("name", list(MODELS))
def test_models_match_onnxruntime(name):
    model, shape = MODELS[name]()
    shape = (1,) + tuple(shape[1:]) if name in ("mlp", "transformer_encoder") else shape
    check_model(model, {"x": _x(*shape, seed=3)}, rtol=1e-4, atol=1e-4, interpreter=False, **CUDA)


@pytest.mark.slow
def test_lenet_matches_onnxruntime():
    model, shape = model_zoo.lenet()
    check_model(model, {"x": _x(1, *shape[1:])}, rtol=1e-4, atol=1e-4, interpreter=False, **CUDA)


def test_fusion_off_and_plain_memory_give_the_same_results():
    model, shape = _small_resnet()
    x = _x(*shape)
    want = run_ort(model, {"x": x})[0]
    for kw in ({"fuse": False}, {"plan_memory": False}):
        np.testing.assert_allclose(cuda_model(model, **kw)(x), want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------- device arrays
def _add_model():
    return make_model([helper.make_node("Add", ["x", "y"], ["z"]), helper.make_node("Relu", ["z"], ["out"])],
                      [("x", np.float32, [2, 3]), ("y", np.float32, [2, 3])], ["out"])


def test_device_inputs_and_outputs():
    m = cuda_model(_add_model())
    x, y = _x(2, 3), _x(2, 3, seed=1)
    dx = jit.to_device(x)
    out = m.run(None, {"x": dx, "y": y}, device_outputs=True)[0]
    assert jit.is_device_array(out)
    np.testing.assert_allclose(out.copy_to_host(), np.maximum(x + y, 0), rtol=1e-6)
    # a device output feeds the next run without a copy
    again = m.run(None, {"x": out, "y": y})[0]
    assert isinstance(again, np.ndarray)
    np.testing.assert_allclose(again, np.maximum(np.maximum(x + y, 0) + y, 0), rtol=1e-6)


def test_device_inputs_are_checked_like_host_arrays():
    m = cuda_model(_add_model())
    y = _x(2, 3)
    with pytest.raises(dlc.InputError, match="expected dtype float32, got float64"):
        m.run(None, {"x": jit.to_device(np.zeros((2, 3))), "y": y})
    with pytest.raises(dlc.InputError, match="dim 1 must be 3"):
        m.run(None, {"x": jit.to_device(np.zeros((2, 4), np.float32)), "y": y})


def test_cuda_array_interface_objects_are_taken_as_device_arrays():
    class Foreign:   # what a CuPy array or a PyTorch CUDA tensor exposes
        __cuda_array_interface__ = {"shape": (2, 3), "typestr": "<f4", "data": (0, False), "version": 3,
                                    "strides": (4, 8)}
    m = cuda_model(_add_model())
    with pytest.raises(dlc.InputError, match="not C-contiguous"):
        m.run(None, {"x": Foreign(), "y": _x(2, 3)})
    with pytest.raises(dlc.InputError, match="target='cpu'"):
        dlc.compile(_add_model()).run(None, {"x": Foreign(), "y": _x(2, 3)})


def test_device_outputs_needs_the_cuda_target():
    with pytest.raises(dlc.InputError, match="target='cuda'"):
        dlc.compile(_add_model()).run(None, {"x": _x(2, 3), "y": _x(2, 3)}, device_outputs=True)


# --------------------------------------------------- artifacts and cache
def test_save_and_load(tmp_path):
    model, shape = _small_mobilenet()
    m = cuda_model(model)
    x = _x(*shape)
    want = m(x)
    m.save(tmp_path / "m.dlc")
    m2 = dlc.load(tmp_path / "m.dlc")
    assert m2.target == "cuda"
    np.testing.assert_allclose(m2(x), want, rtol=1e-6)
    x4 = _x(4, *shape[1:])   # the source is saved too (symbolic batch): new shapes compile
    np.testing.assert_allclose(m2(x4), run_ort(model, {"x": x4})[0], rtol=1e-4, atol=1e-4)


def test_command_line_compiles_and_runs_for_cuda(tmp_path):
    from tests.test_cli import dlc_cmd
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", np.float32, [2, 3])], ["y"])
    onnx_path, x = tmp_path / "relu.onnx", np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    onnx_path.write_bytes(model.SerializeToString())
    np.save(tmp_path / "x.npy", x)
    out = dlc_cmd("compile", onnx_path, "-o", tmp_path / "relu.dlc", "--target", "cuda")
    assert out.returncode == 0, out.stderr
    assert dlc.load(tmp_path / "relu.dlc").target == "cuda"
    out = dlc_cmd("run", tmp_path / "relu.dlc", "--input", f"x={tmp_path / 'x.npy'}")
    assert out.returncode == 0, out.stderr
    assert "[0., 2., 0., 4., 0., 6.]" in out.stdout


def test_compile_cache_warm_start():
    model = _add_model()
    cuda_model(model)
    m = cuda_model(model)
    assert m.compile_events[-1]["outcome"] == "cached"
    x, y = _x(2, 3), _x(2, 3, seed=1)
    np.testing.assert_allclose(m(x, y), np.maximum(x + y, 0), rtol=1e-6)


def test_dump_dir_has_the_cuda_source(tmp_path):
    dlc.compile(_add_model(), target="cuda", dump_dir=str(tmp_path))
    src = (tmp_path / "cuda_kernels.py").read_text()
    kernels = (tmp_path / "kernels.txt").read_text()
    assert "def fused_add_relu_0(" in src and "kernel fused_add_relu_0(" in kernels
    assert "cuda.grid(1)" in src and "cuda.gridsize(1)" in src   # grid-stride loop


def test_profile():
    m = cuda_model(_add_model())
    p = m.profile({"x": _x(2, 3), "y": _x(2, 3)}, repeat=2)
    assert [r.name for r in p.kernels()] == ["fused_add_relu_0"]


# -------------------------------------------------------- real GPU only
@pytest.mark.gpu
def test_gpu_artifact_loads_its_ptx_without_compiling(tmp_path, monkeypatch):
    model, shape = _small_resnet()
    m = cuda_model(model, shapes={"x": shape})
    x = _x(*shape)
    want = m(x)
    m.save(tmp_path / "m.dlc")

    def no_compile(*a, **k):
        raise AssertionError("loading an artifact must not compile PTX")
    monkeypatch.setattr(jit, "compile_ptx", no_compile)
    np.testing.assert_allclose(dlc.load(tmp_path / "m.dlc")(x), want, rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(model_zoo.MODELS))
def test_gpu_zoo_models(name):
    model, shape = model_zoo.MODELS[name]()
    check_model(model, {"x": _x(*shape)}, rtol=1e-4, atol=1e-4, interpreter=False, **CUDA)


@pytest.mark.gpu
def test_gpu_cuda_graphs():
    model, shape = _small_resnet()
    x = _x(*shape)
    m = cuda_model(model, shapes={"x": shape}, cuda_graphs=True)
    want = run_ort(model, {"x": x})[0]
    for _ in range(3):
        np.testing.assert_allclose(m(x), want, rtol=1e-4, atol=1e-4)
