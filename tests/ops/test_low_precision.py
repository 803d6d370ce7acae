"""Storage-only element types: float16, bfloat16, the float8/float4 types
and the 4-/2-bit integers. Kernels compute them in float32 (int8/uint8 for
the small integers); loads widen, stores and casts round to nearest even
(or wrap). Checked against onnxruntime where it has a kernel, else the onnx
reference evaluator (ml_dtypes' conversions), bit for bit where the
conversion is exact."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import dlc
from tests.util import check_model, check_op, make_model, rand

BF16 = np.dtype(ml_dtypes.bfloat16)
SPECIAL = np.array([0.0, -0.0, 0.3, -1.7, 1e-7, -3e-5, 1000.0, 1e6, -1e6, 448.0, 464.0, 465.0, 61440.0, 5.0,
                    0.25, np.inf, -np.inf, np.nan], np.float32)


def _cast_model(src, to, saturate=None, opset=21):
    attrs = {"to": int(to)} if saturate is None else {"to": int(to), "saturate": saturate}
    node = helper.make_node("Cast", ["x"], ["y"], **attrs)
    x = helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(np.dtype(src)), [len(SPECIAL)])
    y = helper.make_tensor_value_info("y", int(to), [len(SPECIAL)])
    return make_model([node], [x], [y], opset=opset)


def _same_bits(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    g, w = got.view(np.uint8 if got.dtype.itemsize == 1 else np.uint16), \
        want.view(np.uint8 if want.dtype.itemsize == 1 else np.uint16)
    np.testing.assert_array_equal(g, w, err_msg=f"{got} != {want}")


LOW = ["FLOAT16", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT4E2M1",
       "INT4", "UINT4", "INT2", "UINT2"]


@pytest.mark.parametrize("to,saturate", [(t, s) for t in LOW for s in ([None, 0] if t.startswith("FLOAT8") else [None])])
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_cast_to_low_precision_is_bit_exact(to, src, saturate):
    t = getattr(TensorProto, to)
    model = _cast_model(src, t, saturate)
    x = SPECIAL.astype(src)
    with np.errstate(over="ignore"):    # 1e6 overflows float16: inf, as intended
        want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = dlc.compile(model).run(None, {"x": x})[0]
    _same_bits(got, np.asarray(want).astype(got.dtype))


@pytest.mark.parametrize("src", LOW)
def test_every_code_widens_exactly(src):
    """Every bit pattern of the type, read and cast to float32."""
    dt = helper.tensor_dtype_to_np_dtype(getattr(TensorProto, src))
    n = 1 << (8 * np.dtype(dt).itemsize)
    codes = np.arange(n, dtype=np.uint16 if n > 256 else np.uint8)
    if np.dtype(dt).itemsize == 1 and src in ("FLOAT4E2M1", "INT4", "UINT4", "INT2", "UINT2"):
        codes = codes[:16 if "4" in src else 4]   # ml_dtypes keeps the value in the low bits
    x = codes.view(dt)
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    model = make_model([node], [helper.make_tensor_value_info("x", getattr(TensorProto, src), [x.size])],
                       ["y"], opset=21)
    got = dlc.compile(model).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, x.astype(np.float32))


def test_float64_to_float16_rounds_once():
    # 1 + 2**-11 + 2**-40 is just above a float16 tie: float64 -> float32 would round it onto the tie
    x = np.array([1 + 2 ** -11 + 2 ** -40, -(1 + 2 ** -11 + 2 ** -40), 65520.0, 1e-8], np.float64)
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)
    model = make_model([node], [("x", np.float64, [4])], ["y"])
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    _same_bits(dlc.compile(model).run(None, {"x": x})[0], want)


@pytest.mark.parametrize("dtype", [np.float16, BF16])
@pytest.mark.parametrize("op,attrs", [("Relu", {}), ("Sigmoid", {}), ("Exp", {}), ("Softmax", {"axis": -1}),
                                      ("ReduceMean", {"keepdims": 1}), ("LeakyRelu", {"alpha": 0.1})])
def test_unary_ops_in_reduced_precision(dtype, op, attrs):
    x = rand(3, 17, low=-3, high=3).astype(dtype)
    want = ReferenceEvaluator(make_model([helper.make_node(op, ["x"], ["out0"], **attrs)],
                                         [("x", x.dtype, [3, 17])], ["out0"])).run(None, {"x": x})[0]
    # computed in float32 and rounded once: within one unit in the last place of the reference
    check_op(op, {"x": x}, attrs, rtol=2 ** -7 if dtype == BF16 else 2 ** -10, atol=1e-3,
             expected=[np.asarray(want)])


@pytest.mark.parametrize("dtype", [np.float16, BF16])
def test_matmul_and_add_in_reduced_precision(dtype):
    a, b, c = rand(4, 8).astype(dtype), rand(8, 5, seed=1).astype(dtype), rand(5, seed=2).astype(dtype)
    nodes = [helper.make_node("MatMul", ["a", "b"], ["t"]), helper.make_node("Add", ["t", "c"], ["y"])]
    model = make_model(nodes, [("a", dtype, [4, 8]), ("b", dtype, [8, 5])], ["y"], {"c": c})
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(dtype).astype(np.float32) + c.astype(np.float32)
    got = check_model(model, {"a": a, "b": b}, expected=[want.astype(dtype)], rtol=2 ** -7,
                      atol=0.05 if dtype == BF16 else 0.01)
    assert got[0].dtype == dtype


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_bitshift_signed(direction, dtype):
    bits = np.dtype(dtype).itemsize * 8
    x = np.array([5, -5, 1, -1, 100, -128, 7, -7], dtype)
    s = np.array([1, 1, bits - 1, bits - 1, bits, bits + 3, -1, 0], dtype)
    model = make_model([helper.make_node("BitShift", ["x", "s"], ["y"], direction=direction)],
                       [("x", dtype, [8]), ("s", dtype, [8])], ["y"], opset=26)
    want = ReferenceEvaluator(model).run(None, {"x": x, "s": s})[0]
    np.testing.assert_array_equal(dlc.compile(model).run(None, {"x": x, "s": s})[0], want)


@pytest.mark.parametrize("src,to", [(np.float32, TensorProto.INT32), (np.int64, TensorProto.DOUBLE),
                                    (np.bool_, TensorProto.UINT8), (np.float16, TensorProto.INT16)])
def test_bitcast(src, to):
    x = rand(2, 3, dtype=src, low=-100, high=100)
    model = make_model([helper.make_node("BitCast", ["x"], ["y"], to=to)], [("x", src, [2, 3])], ["y"], opset=26)
    got = dlc.compile(model).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, x.view(helper.tensor_dtype_to_np_dtype(to)))


def test_float8e8m0_round_up_and_every_code():
    model = _cast_model(np.float32, TensorProto.FLOAT8E8M0, opset=24)
    x = SPECIAL
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    _same_bits(dlc.compile(model).run(None, {"x": x})[0], np.asarray(want))
    codes = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu)
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    back = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT8E8M0, [256])], ["y"], opset=24)
    np.testing.assert_array_equal(dlc.compile(back).run(None, {"x": codes})[0], codes.astype(np.float32))


def test_float8e8m0_other_round_modes_are_refused():
    node = helper.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.FLOAT8E8M0, round_mode="nearest")
    model = make_model([node], [("x", np.float32, [3])], [helper.make_tensor_value_info("y", TensorProto.FLOAT8E8M0,
                                                                                       [3])], opset=24)
    with pytest.raises(dlc.UnsupportedError, match="'c'.*round up"):
        dlc.compile(model)


def test_bfloat16_and_int4_models_save_and_load(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, ["N", 4])
    q = helper.make_tensor_value_info("q", TensorProto.INT4, [4])
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Cast", ["q"], ["z"], to=TensorProto.FLOAT)]
    m = dlc.compile(make_model(nodes, [x, q], ["y", "z"]))
    a = (np.arange(8, dtype=np.float32).reshape(2, 4) - 3).astype(ml_dtypes.bfloat16)
    b = np.array([-8, -1, 0, 7], dtype=ml_dtypes.int4)
    want = m.run(None, {"x": a, "q": b})
    m.save(tmp_path / "m.dlc")
    got = dlc.load(tmp_path / "m.dlc").run(None, {"x": a, "q": b})
    assert got[0].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got[0].astype(np.float32), want[0].astype(np.float32))
    np.testing.assert_array_equal(got[1], [-8, -1, 0, 7])
