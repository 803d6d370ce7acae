"""Elementwise ops against onnxruntime: every op, dtypes, broadcasting,
size-1 and size-0 dims, special values."""
import numpy as np
import onnx
import pytest

import dlc
from tests.util import check_op, make_model, rand, check_model
from onnx import helper

FLOAT_UNARY = ["Abs", "Neg", "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Floor", "Ceil", "Round", "Sign",
               "Sin", "Cos", "Tan", "Tanh", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
               "Sigmoid", "Relu", "Softplus", "Softsign", "HardSwish", "Mish"]
# inputs inside each function's domain
DOMAIN = {"Sqrt": (0.01, 4), "Log": (0.01, 4), "Asin": (-0.99, 0.99), "Acos": (-0.99, 0.99),
          "Atanh": (-0.99, 0.99), "Acosh": (1.01, 4), "Reciprocal": (0.1, 4)}
OPSET = {"Mish": 18, "HardSwish": 14}


@pytest.mark.parametrize("op", FLOAT_UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_unary(op, dtype):
    lo, hi = DOMAIN.get(op, (-3, 3))
    x = rand(3, 17, dtype=dtype, low=lo, high=hi)
    if op == "Round":
        x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6], dtype)
    check_op(op, {"x": x}, opset=OPSET.get(op, 21))


@pytest.mark.parametrize("op,attrs", [
    ("LeakyRelu", {"alpha": 0.2}), ("LeakyRelu", {}), ("Elu", {"alpha": 0.7}), ("Celu", {"alpha": 1.3}),
    ("Selu", {}), ("Selu", {"alpha": 1.5, "gamma": 2.0}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("ThresholdedRelu", {"alpha": 0.5}), ("Shrink", {"bias": 0.2, "lambd": 0.7}),
    ("Gelu", {}), ("Gelu", {"approximate": "tanh"}),
])
def test_unary_with_attributes(op, attrs):
    check_op(op, {"x": rand(4, 9, low=-4, high=4)}, attrs, opset=20 if op == "Gelu" else 21)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign", "Relu"])
def test_int_unary(op, dtype):
    check_op(op, {"x": rand(5, 6, dtype=dtype, low=-50, high=50)})


BINARY = ["Add", "Sub", "Mul", "Div"]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (5, 2)), ((), (2, 3)),
          ((2, 0, 3), (3,)), ((4, 1), (1, 0))]


@pytest.mark.parametrize("op", BINARY + ["Pow", "Max", "Min"])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_broadcast(op, sa, sb):
    a, b = rand(*sa, low=0.5, high=2, seed=1), rand(*sb, low=0.5, high=2, seed=2)
    check_op(op, {"a": a, "b": b})


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.float64])
@pytest.mark.parametrize("op", BINARY + ["Max", "Min"])
def test_binary_dtypes(op, dtype):
    a = rand(4, 5, dtype=dtype, low=1, high=40, seed=3)
    b = rand(4, 5, dtype=dtype, low=1, high=9, seed=4)
    check_op(op, {"a": a, "b": b})


def test_int_division_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 0, 5], np.int32)
    b = np.array([2, 2, -2, -2, 3, -5], np.int32)
    check_op("Div", {"a": a, "b": b})


def test_int_division_by_zero_does_not_trap():
    a = np.array([7, -7, np.iinfo(np.int32).min], np.int32)
    b = np.array([0, 0, -1], np.int32)
    model = make_model([helper.make_node("Div", ["a", "b"], ["y"])], [("a", np.int32, [3]), ("b", np.int32, [3])],
                       ["y"])
    y = dlc.compile(model)(a, b)
    assert y[0] == 0 and y[1] == 0 and y[2] == np.iinfo(np.int32).min   # defined results, no SIGFPE


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_mod_int(fmod, dtype):
    a = np.array([7, -7, 7, -7, 9, -9], dtype)
    b = np.array([3, 3, -3, -3, 4, 4], dtype)
    check_op("Mod", {"a": a, "b": b}, {"fmod": fmod})


def test_mod_float():
    check_op("Mod", {"a": rand(3, 4, low=-5, high=5), "b": rand(4, low=0.5, high=2, seed=9)}, {"fmod": 1})


def test_pow_mixed_exponent_dtype():
    check_op("Pow", {"a": rand(3, 4, low=0.5, high=2), "b": np.array([2, 3, 1, 0], np.int64)})


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_compare(op, dtype):
    a = rand(3, 4, dtype=dtype, low=0, high=3, seed=5)
    b = rand(4, dtype=dtype, low=0, high=3, seed=6)
    if dtype == np.float32:
        a, b = np.round(a), np.round(b)   # make ties happen
    check_op(op, {"a": a, "b": b}, opset=16)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op):
    check_op(op, {"a": rand(3, 4, dtype=bool, seed=1), "b": rand(4, dtype=bool, seed=2)})


def test_not():
    check_op("Not", {"x": rand(3, 4, dtype=bool)})


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise(op):
    check_op(op, {"a": rand(3, 4, dtype=np.int32, low=-100, high=100), "b": rand(4, dtype=np.int32, low=0, high=99)},
             opset=18)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift(direction):
    a = np.array([1, 2, 255, 16], np.uint8)
    b = np.array([1, 2, 3, 4], np.uint8)
    check_op("BitShift", {"a": a, "b": b}, {"direction": direction})


def test_isnan_isinf():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    check_op("IsNaN", {"x": x})
    check_op("IsInf", {"x": x})
    check_op("IsInf", {"x": x}, {"detect_negative": 0})
    check_op("IsInf", {"x": x}, {"detect_positive": 0})


def test_nan_propagates():
    x = np.array([np.nan, -1.0, 2.0], np.float32)
    for op in ("Relu", "Sigmoid", "Exp", "Abs"):
        check_op(op, {"x": x})
    check_op("Max", {"a": x, "b": np.zeros(3, np.float32)})


@pytest.mark.parametrize("to,src", [(np.int32, np.float32), (np.float32, np.int64), (np.int64, np.int32),
                                    (np.float64, np.float32), (np.float32, np.float64), (bool, np.float32),
                                    (np.float32, bool), (np.uint8, np.int32), (np.int8, np.float32)])
def test_cast(to, src):
    x = rand(3, 5, dtype=src, low=-20, high=20)
    if np.dtype(to).kind == "u":
        x = np.abs(x)
    check_op("Cast", {"x": x}, {"to": int(helper.np_dtype_to_tensor_dtype(np.dtype(to)))})


def test_cast_like():
    check_op("CastLike", {"x": rand(3, 4), "t": np.zeros(1, np.int64)}, constants=["t"])


def test_cast_to_complex_is_refused_naming_the_node():
    """(Casts to and from strings: tests/ops/test_strings.py.)"""
    model = make_model([helper.make_node("Cast", ["x"], ["y"], name="Cast_0", to=onnx.TensorProto.COMPLEX64)],
                       [("x", np.float32, [3])], ["y"])
    with pytest.raises(dlc.UnsupportedError, match="Cast_0.*complex64"):
        dlc.compile(model)


@pytest.mark.parametrize("opset", [7, 11, 13])
def test_clip(opset):
    x = rand(4, 6, low=-3, high=3)
    if opset < 11:
        check_op("Clip", {"x": x}, {"min": -1.0, "max": 0.5}, opset=opset)
    else:
        check_op("Clip", {"x": x, "lo": np.array(-1.0, np.float32), "hi": np.array(0.5, np.float32)},
                 constants=["lo"], opset=opset)   # `hi` is a run-time input
        check_op("Clip", {"x": x, "lo": None, "hi": np.array(0.5, np.float32)}, constants=["hi"], opset=opset)


def test_clip_int():
    check_op("Clip", {"x": rand(10, dtype=np.int32, low=-9, high=9), "lo": np.array(-2, np.int32),
                      "hi": np.array(3, np.int32)}, constants=["lo", "hi"])


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic(op, n):
    ins = {f"x{i}": rand(*([3, 4] if i % 2 == 0 else [4]), seed=i) for i in range(n)}
    check_op(op, ins)


def test_where():
    check_op("Where", {"c": rand(3, 1, dtype=bool), "a": rand(3, 4), "b": rand(4, seed=3)})
    check_op("Where", {"c": rand(5, dtype=bool), "a": rand(5, dtype=np.int64, low=0, high=9), "b":
                       np.array(-1, np.int64)}, constants=["b"])


def test_prelu():
    check_op("PRelu", {"x": rand(2, 3, 4, 4), "s": rand(3, 1, 1, seed=2)}, constants=["s"])
    check_op("PRelu", {"x": rand(2, 5), "s": rand(5, seed=2)})


def test_identity_and_dropout():
    x = rand(3, 4)
    check_op("Identity", {"x": x})
    check_op("Dropout", {"x": x}, opset=13)
    check_op("Dropout", {"x": x}, {"ratio": 0.3}, opset=7)


def test_dropout_mask_output():
    model = make_model([helper.make_node("Dropout", ["x"], ["y", "mask"])], [("x", np.float32, [3, 4])],
                       ["y", "mask"], opset=13)
    check_model(model, {"x": rand(3, 4)})


def test_training_dropout_draws_a_seeded_mask():
    from dlc.ir.ops.dropout import dropout_mask
    model = make_model([helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop", seed=11)],
                       [("x", np.float32, [30, 40])], ["y"],
                       {"r": np.array(0.25, np.float32), "t": np.array(True)}, opset=13)
    x = rand(30, 40)
    want = np.where(dropout_mask(x.shape, seed=11, step=0, ratio=0.25), x / np.float32(0.75), 0).astype(np.float32)
    check_model(model, {"x": x}, expected=[want])
    assert 0.7 < np.mean(want != 0) < 0.8


def test_constant_node():
    model = make_model([helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]),
                        helper.make_node("Add", ["x", "c"], ["y"])], [("x", np.float32, [2, 3])], ["y"])
    check_model(model, {"x": rand(2, 3)})


def test_scalar_constant_is_inlined_as_immediate():
    """x * 0.5 loads no weight: the kernel has the constant as an immediate."""
    from dlc.codegen.lower import lower_graph
    from dlc.compiler import Options, optimize
    from dlc.frontends.onnx import import_model
    model = make_model([helper.make_node("Mul", ["x", "h"], ["y"])], [("x", np.float32, [8])], ["y"],
                       {"h": np.array(0.5, np.float32)})
    g, _ = import_model(model)
    prog = lower_graph(optimize(g, Options()))
    assert "0.5" in str(prog.calls[0].kernel) and "h[" not in str(prog.calls[0].kernel)
