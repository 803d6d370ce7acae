"""Softmax, LogSoftmax, BatchNormalization, InstanceNormalization,
LayerNormalization, ArgMax and ArgMin against onnxruntime: every axis,
the opset-13 change of Softmax semantics, large magnitudes, ties."""
import numpy as np
import pytest
from onnx import helper

import dlc
from tests.util import check_op, make_model, rand


# ----------------------------------------------------------------- softmax
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_axes(op, axis, opset):
    check_op(op, {"x": rand(2, 3, 4)}, {"axis": axis}, opset=opset)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [7, 11, 13])
def test_softmax_default_axis(op, opset):
    check_op(op, {"x": rand(2, 3, 4)}, opset=opset)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_large_magnitudes_are_stable(op):
    check_op(op, {"x": rand(3, 50, low=900, high=1100)}, opset=13)
    check_op(op, {"x": rand(3, 50, low=-1100, high=-900)}, opset=13)
    check_op(op, {"x": rand(4, 33, low=-1000, high=1000)}, {"axis": 0}, opset=13)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(5,), (1, 1), (2, 1), (3, 0), (2, 257)])
def test_softmax_shapes_and_float64(op, shape):
    check_op(op, {"x": rand(*shape)}, opset=13)
    check_op(op, {"x": rand(*shape, dtype=np.float64)}, {"axis": 0}, opset=11)


# -------------------------------------------------------- BatchNormalization
def _bn_inputs(c, dtype=np.float32, stats_dtype=None):
    stats_dtype = stats_dtype or dtype
    return {"scale": rand(c, seed=2, dtype=dtype), "bias": rand(c, seed=3, dtype=dtype),
            "mean": rand(c, seed=4, dtype=stats_dtype), "var": rand(c, seed=5, low=0.1, high=2, dtype=stats_dtype)}


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 3, 4, 5), (1, 3, 2, 2, 2)])
def test_batch_norm(opset, shape):
    inputs = {"x": rand(*shape)} | _bn_inputs(shape[1])
    check_op("BatchNormalization", inputs, {"epsilon": 1e-3}, constants=["scale", "bias", "mean", "var"],
             opset=opset)


def test_batch_norm_runtime_params_and_float64():
    check_op("BatchNormalization", {"x": rand(2, 3, 4)} | _bn_inputs(3), opset=15)   # not folded
    check_op("BatchNormalization", {"x": rand(2, 3, 4, dtype=np.float64)} | _bn_inputs(3, np.float64),
             constants=["scale", "bias", "mean", "var"], opset=9)


def _compile_node(op, inputs, outputs, name, opset=21, inits=None, **attrs):
    node = helper.make_node(op, list(inputs), list(outputs), name=name, **attrs)
    model = make_model([node], [(k, np.float32, s) for k, s in inputs.items() if k not in (inits or {})],
                       list(outputs), inits, opset)
    return dlc.compile(model)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 5)])
def test_batch_norm_training_mode(shape):
    """Batch statistics, and the running ones moved toward them (onnxruntime's training kernel)."""
    check_op("BatchNormalization", {"x": rand(*shape)} | _bn_inputs(shape[1]),
             {"training_mode": 1, "momentum": 0.8, "epsilon": 1e-3}, n_outputs=3, opset=15)
    check_op("BatchNormalization", {"x": rand(*shape)} | _bn_inputs(shape[1]), {"training_mode": 1}, opset=15,
             n_outputs=3, constants=["scale", "bias", "mean", "var"])


def test_batch_norm_statistics_outside_training_are_refused_naming_the_node():
    params = _bn_inputs(3)
    ins = {"x": [2, 3, 4]} | {k: [3] for k in params}
    with pytest.raises(dlc.UnsupportedError, match="bn_stats"):
        _compile_node("BatchNormalization", ins, ["y", "rm", "rv"], "bn_stats", opset=15, inits=params)
    with pytest.raises(dlc.UnsupportedError, match="bn_saved.*saved_mean"):
        _compile_node("BatchNormalization", ins, ["y", "rm", "rv", "sm"], "bn_saved", opset=9, inits=params)


# ---------------------------------------------------- Instance / LayerNorm
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (1, 2, 3, 2, 2), (2, 3, 1)])
@pytest.mark.parametrize("opset", [7, 21])
def test_instance_norm(shape, opset):
    c = shape[1]
    inputs = {"x": rand(*shape), "scale": rand(c, seed=2), "bias": rand(c, seed=3)}
    check_op("InstanceNormalization", inputs, {"epsilon": 1e-4}, constants=["scale", "bias"], opset=opset)


def test_instance_norm_float64_runtime_params():
    x = rand(2, 3, 40, dtype=np.float64, low=5, high=6)   # a large mean: two passes keep the variance exact
    check_op("InstanceNormalization", {"x": x, "scale": rand(3, seed=2, dtype=np.float64),
                                       "bias": rand(3, seed=3, dtype=np.float64)})


@pytest.mark.parametrize("axis", [-1, -2, 1, 0])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm(axis, bias):
    shape = (2, 3, 4)
    norm_shape = shape[axis % 3:]
    inputs = {"x": rand(*shape), "scale": rand(*norm_shape, seed=2)}
    if bias:
        inputs["bias"] = rand(*norm_shape, seed=3)
    check_op("LayerNormalization", inputs, {"axis": axis}, constants=["scale", "bias"], opset=17)


def test_layer_norm_broadcast_scale_float64_and_long_rows():
    check_op("LayerNormalization", {"x": rand(2, 3, 4, dtype=np.float64), "scale": rand(4, seed=2, dtype=np.float64)},
             {"axis": -2, "epsilon": 1e-3})
    check_op("LayerNormalization", {"x": rand(3, 1000, low=100, high=101), "scale": rand(1000, seed=2),
                                    "bias": rand(1000, seed=3)}, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("axis", [1, -1])
def test_layer_norm_mean_and_inv_std_dev_outputs(axis):
    check_op("LayerNormalization", {"x": rand(2, 3, 4), "scale": rand(*(3, 4)[axis % 3 - 1:], seed=2)},
             {"axis": axis, "epsilon": 1e-3}, n_outputs=3, opset=17)


# ------------------------------------------------------------ ArgMax/ArgMin
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg_ties(op, axis, keepdims, last):
    x = rand(3, 4, 5, low=0, high=3).round()   # few distinct values: many ties
    check_op(op, {"x": x}, {"axis": axis, "keepdims": keepdims, "select_last_index": last}, opset=13)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64])
def test_arg_dtypes_and_opsets(op, dtype):
    x = rand(4, 6, dtype=dtype, low=-3, high=3)
    check_op(op, {"x": x}, {"axis": 1}, opset=12)
    check_op(op, {"x": x}, {"select_last_index": 1}, opset=12)
    check_op(op, {"x": x}, opset=7)   # axis 0 and keepdims 1 by default


def test_arg_infinities_and_single_element():
    x = np.array([[-np.inf, -np.inf, 1], [np.inf, 2, np.inf]], np.float32)
    for op in ("ArgMax", "ArgMin"):
        check_op(op, {"x": x}, {"axis": 1})
        check_op(op, {"x": x}, {"axis": 1, "select_last_index": 1})
        check_op(op, {"x": rand(1, 1)}, {"keepdims": 0})


# ------------------------------------------------------- Hardmax, LpNorm
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("opset", [11, 13])
def test_hardmax(axis, opset):
    x = rand(3, 4, 5, low=0, high=3).round()   # ties: the first maximum wins
    check_op("Hardmax", {"x": x}, {"axis": axis}, opset=opset)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, -1])
def test_lp_normalization(p, axis):
    x = rand(3, 4)
    x[1] = 0     # a zero norm gives 0
    check_op("LpNormalization", {"x": x}, {"p": p, "axis": axis})


def test_batch_norm_training_mode():
    ins = {"x": rand(4, 3, 5, 2), "s": rand(3, seed=1), "b": rand(3, seed=2), "m": rand(3, seed=3),
           "v": rand(3, seed=4, low=0.5, high=2)}
    check_op("BatchNormalization", ins, {"training_mode": 1, "momentum": 0.8, "epsilon": 1e-3}, n_outputs=3,
             opset=15, rtol=1e-4, atol=1e-5)


# ------------------------------------------- RMSNormalization, GroupNormalization
@pytest.mark.parametrize("axis", [-1, 1, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_rms_normalization(axis, dtype):
    x = rand(2, 3, 8, dtype=dtype)
    scale = rand(*(2, 3, 8)[axis % 3:], seed=1, dtype=dtype)
    check_op("RMSNormalization", {"x": x, "s": scale}, {"axis": axis, "epsilon": 1e-3}, opset=23,
             reference="onnx", rtol=2e-3 if dtype == np.float16 else 1e-5, atol=1e-3 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("shape", [(2, 4, 3, 5), (3, 4, 7)])
def test_group_normalization(groups, shape):
    check_op("GroupNormalization", {"x": rand(*shape), "s": rand(4, seed=1), "b": rand(4, seed=2)},
             {"num_groups": groups, "epsilon": 1e-3}, opset=21, rtol=1e-4, atol=1e-5)


def test_group_normalization_opset18_per_group_scale():
    check_op("GroupNormalization", {"x": rand(2, 6, 3), "s": rand(3, seed=1), "b": rand(3, seed=2)},
             {"num_groups": 3}, opset=18, reference="onnx", rtol=1e-4, atol=1e-5)
