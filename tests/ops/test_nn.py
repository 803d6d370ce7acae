"""NN ops (Conv, ConvTranspose, pooling, Resize/Upsample) against onnxruntime,
compiled and through the IR reference interpreter."""
from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import dlc
from tests.util import check_model, check_op, make_model, rand, run_ort


def _same_pads(size, kernel, stride, dilation, upper):
    """Explicit ONNX pads equal to SAME_UPPER/SAME_LOWER (per the spec)."""
    begin, end = [], []
    for s, k, st, d in zip(size, kernel, stride, dilation):
        total = max(0, (math.ceil(s / st) - 1) * st + (k - 1) * d + 1 - s)
        b = total // 2 if upper else total - total // 2
        begin.append(b)
        end.append(total - b)
    return begin + end


def _ort_with_explicit_pads(op, inputs, attrs, n_outputs=1, constants=(), opset=21):
    """onnxruntime's answer for a SAME_* node whose dilations it rejects
    (or computes differently from the spec): the same node with the
    equivalent explicit pads."""
    x = inputs["x"]
    nsp = x.ndim - 2
    kernel = attrs.get("kernel_shape") or list(inputs["w"].shape[2:])
    strides = attrs.get("strides", [1] * nsp)
    dilations = attrs.get("dilations", [1] * nsp)
    explicit = {k: v for k, v in attrs.items() if k != "auto_pad"}
    explicit["pads"] = _same_pads(x.shape[2:], kernel, strides, dilations, attrs["auto_pad"] == "SAME_UPPER")
    names = list(inputs)
    node = helper.make_node(op, names, [f"out{i}" for i in range(n_outputs)], **explicit)
    model = make_model([node], [(k, v.dtype, list(v.shape)) for k, v in inputs.items() if k not in constants],
                       [f"out{i}" for i in range(n_outputs)], {k: inputs[k] for k in constants}, opset)
    return run_ort(model, {k: v for k, v in inputs.items() if k not in constants})


# ------------------------------------------------------------------- Conv
CONV_CASES = [
    # x shape, w shape, attributes
    ((1, 3, 7), (4, 3, 3), {}),
    ((3, 2, 9), (3, 2, 2), dict(strides=[2], pads=[1, 0])),
    ((2, 4, 10), (4, 1, 3), dict(group=4, dilations=[2], pads=[2, 1])),            # depthwise
    ((1, 3, 1), (2, 3, 1), {}),                                                      # size-1 spatial
    ((1, 3, 6, 5), (4, 3, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((3, 4, 7, 6), (6, 2, 3, 2), dict(group=2, strides=[2, 1], pads=[1, 0, 2, 1])),
    ((1, 2, 8, 7), (3, 2, 3, 3), dict(strides=[2, 2], dilations=[2, 1], pads=[0, 2, 1, 0])),
    ((2, 3, 5, 5), (3, 1, 3, 3), dict(group=3, strides=[2, 2], pads=[1, 1, 1, 1])),  # depthwise, stride 2
    ((1, 2, 1, 6), (2, 2, 1, 3), dict(pads=[0, 1, 0, 1])),
    ((1, 2, 4, 4), (5, 2, 4, 4), {}),                                                # kernel = input
    ((1, 2, 5, 4, 3), (3, 2, 2, 2, 2), {}),
    ((2, 4, 5, 6, 4), (4, 2, 3, 3, 2), dict(group=2, strides=[1, 2, 2], dilations=[2, 1, 1], pads=[1, 0, 1, 2, 1, 0])),
]
AUTO_PADS = ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
@pytest.mark.parametrize("bias", [True, False])
def test_conv(xs, ws, attrs, bias):
    inputs = {"x": rand(*xs), "w": rand(*ws, seed=1)}
    if bias:
        inputs["b"] = rand(ws[0], seed=2)
    check_op("Conv", inputs, attrs, constants=["w", "b"] if bias else ["w"])


@pytest.mark.parametrize("auto_pad", AUTO_PADS)
@pytest.mark.parametrize("xs,ws,strides", [
    ((1, 2, 7), (3, 2, 3), [2]),
    ((2, 2, 6, 5), (3, 2, 3, 2), [2, 3]),
    ((1, 2, 6, 5), (3, 2, 4, 1), [1, 3]),
    ((1, 2, 4, 5, 3), (2, 2, 2, 3, 2), [2, 1, 2]),
])
def test_conv_auto_pad(auto_pad, xs, ws, strides):
    check_op("Conv", {"x": rand(*xs), "w": rand(*ws, seed=1)}, dict(auto_pad=auto_pad, strides=strides))


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_same_with_dilation(auto_pad):
    # onnxruntime rejects this combination; compare with the spec's explicit pads
    inputs = {"x": rand(1, 2, 7, 6), "w": rand(3, 2, 3, 2, seed=1)}
    attrs = dict(auto_pad=auto_pad, strides=[2, 1], dilations=[2, 3])
    check_op("Conv", inputs, attrs, expected=_ort_with_explicit_pads("Conv", inputs, attrs))


def test_conv_weights_as_inputs_float64_and_opset7():
    check_op("Conv", {"x": rand(2, 4, 5, 5, dtype=np.float64), "w": rand(2, 2, 3, 3, seed=1, dtype=np.float64),
                      "b": rand(2, seed=2, dtype=np.float64)}, dict(group=2, pads=[1, 1, 1, 1]),
             rtol=1e-10, atol=1e-12)
    check_op("Conv", {"x": rand(1, 3, 6, 6), "w": rand(2, 3, 3, 3, seed=1)},
             dict(kernel_shape=[3, 3], strides=[2, 2]), opset=7)


@pytest.mark.parametrize("op,attrs,weights,n_out", [
    ("Conv", dict(strides=[2, 2], auto_pad="SAME_UPPER"), {"w": rand(3, 2, 3, 3, seed=1)}, 1),
    ("Conv", dict(pads=[1, 0, 0, 1], dilations=[2, 1]), {"w": rand(3, 2, 3, 2, seed=1)}, 1),
    ("ConvTranspose", dict(strides=[2, 1], auto_pad="SAME_LOWER"), {"w": rand(2, 3, 3, 3, seed=1)}, 1),
    ("MaxPool", dict(kernel_shape=[2, 3], strides=[2, 2], ceil_mode=1, pads=[1, 1, 0, 1]), {}, 2),
    ("AveragePool", dict(kernel_shape=[2, 2], auto_pad="SAME_LOWER", strides=[2, 1]), {}, 1),
    ("Resize", dict(mode="linear"),
     {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, 1.5, 0.5], np.float32)}, 1),
])
def test_symbolic_spatial_dims(op, attrs, weights, n_out):
    # one compiled model, specialized for each input shape it is run with
    x_vi = helper.make_tensor_value_info("x", 1, ["N", 2, "H", "W"])
    outs = [f"y{i}" for i in range(n_out)]
    model = make_model([helper.make_node(op, ["x", *weights], outs, **attrs)], [x_vi], outs, weights)
    for shape in [(1, 2, 7, 5), (3, 2, 4, 9)]:
        check_model(model, {"x": rand(*shape)})


# ---------------------------------------------------------- ConvTranspose
CONVT_CASES = [
    ((1, 3, 5), (3, 2, 3), {}),
    ((2, 2, 4), (2, 3, 3), dict(strides=[2], pads=[1, 0])),
    ((1, 2, 5), (2, 3, 3), dict(strides=[3], output_padding=[2], pads=[1, 2])),
    ((1, 2, 5), (2, 3, 3), dict(strides=[2], dilations=[2])),
    ((1, 4, 3), (4, 1, 2), dict(group=4, strides=[2])),                              # depthwise
    ((1, 2, 1), (2, 2, 3), {}),                                                      # size-1 spatial
    ((1, 2, 3, 4), (2, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0])),
    ((3, 4, 3, 3), (4, 2, 2, 3), dict(group=2, strides=[1, 2], dilations=[2, 1], pads=[0, 1, 1, 0])),
    ((1, 2, 4, 3), (2, 1, 3, 2), dict(strides=[2, 3], output_shape=[8, 8])),
    ((1, 2, 4, 3), (2, 1, 3, 2), dict(strides=[2, 3], output_shape=[9, 7])),
    ((1, 2, 4, 3), (2, 1, 3, 2), dict(strides=[2, 3], output_shape=[1, 1, 8, 8])),   # full-rank output_shape
    ((1, 2, 3, 2, 2), (2, 2, 2, 2, 2), dict(strides=[2, 1, 2], dilations=[1, 2, 1], output_padding=[1, 0, 0])),
]


@pytest.mark.parametrize("xs,ws,attrs", CONVT_CASES, ids=[str(i) for i in range(len(CONVT_CASES))])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose(xs, ws, attrs, bias):
    inputs = {"x": rand(*xs), "w": rand(*ws, seed=1)}
    if bias:
        inputs["b"] = rand(ws[1] * attrs.get("group", 1), seed=2)
    if len(attrs.get("output_shape", [])) == len(xs):   # onnxruntime wants only the spatial dims
        want = dict(attrs, output_shape=attrs["output_shape"][2:])
        expected = run_ort(make_model([helper.make_node("ConvTranspose", list(inputs), ["out0"], **want)],
                                      [(k, v.dtype, list(v.shape)) for k, v in inputs.items()], ["out0"]), inputs)
        check_op("ConvTranspose", inputs, attrs, expected=expected)
        return
    check_op("ConvTranspose", inputs, attrs)


@pytest.mark.parametrize("auto_pad", AUTO_PADS)
@pytest.mark.parametrize("extra", [{}, dict(output_shape=[9]), dict(output_padding=[1]), dict(dilations=[2])])
def test_conv_transpose_auto_pad(auto_pad, extra):
    check_op("ConvTranspose", {"x": rand(2, 2, 5), "w": rand(2, 3, 3, seed=1)},
             dict(auto_pad=auto_pad, strides=[2], **extra))


# --------------------------------------------------------------- MaxPool
POOL_CASES = [
    # x shape, attributes
    ((1, 2, 9), dict(kernel_shape=[3])),
    ((3, 2, 8), dict(kernel_shape=[2], strides=[2], pads=[1, 0])),
    ((1, 1, 1), dict(kernel_shape=[1])),                                             # size-1 spatial
    ((1, 2, 7), dict(kernel_shape=[3], strides=[2], dilations=[2], pads=[2, 1])),
    ((2, 3, 6, 5), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 2, 7, 6), dict(kernel_shape=[2, 3], strides=[2, 1], pads=[1, 0, 0, 2])),
    ((1, 2, 7, 7), dict(kernel_shape=[3, 2], strides=[2, 3], dilations=[2, 2], pads=[1, 1, 2, 0])),
    ((1, 2, 1, 5), dict(kernel_shape=[1, 2], strides=[1, 2])),
    ((1, 2, 5, 4, 5), dict(kernel_shape=[2, 2, 3], strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 1])),
    ((2, 1, 4, 5, 3), dict(kernel_shape=[3, 2, 2], dilations=[1, 2, 1], pads=[1, 1, 0, 1, 0, 1])),
]


@pytest.mark.parametrize("xs,attrs", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
@pytest.mark.parametrize("ceil_mode", [0, 1])
def test_max_pool(xs, attrs, ceil_mode):
    check_op("MaxPool", {"x": rand(*xs)}, dict(attrs, ceil_mode=ceil_mode))


@pytest.mark.parametrize("xs,attrs", POOL_CASES[::2] + POOL_CASES[5:6], ids=lambda v: str(v))
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices(xs, attrs, storage_order):
    check_op("MaxPool", {"x": rand(*xs)}, dict(attrs, storage_order=storage_order), n_outputs=2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_max_pool_int8(dtype):
    x = rand(2, 3, 7, 6, dtype=dtype, low=-128, high=255)
    check_op("MaxPool", {"x": x}, dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 0], ceil_mode=1))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("auto_pad", AUTO_PADS)
@pytest.mark.parametrize("xs,kernel,strides", [((1, 2, 7), [3], [2]), ((2, 1, 6, 5), [2, 3], [2, 3]),
                                               ((1, 1, 5, 4, 3), [2, 2, 2], [1, 2, 2])])
def test_pool_auto_pad(op, auto_pad, xs, kernel, strides):
    check_op(op, {"x": rand(*xs)}, dict(kernel_shape=kernel, strides=strides, auto_pad=auto_pad))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_pool_same_with_dilation(op, auto_pad):
    # onnxruntime ignores the dilation when it computes SAME pads; we follow the spec
    inputs = {"x": rand(1, 2, 7, 6)}
    attrs = dict(kernel_shape=[3, 2], strides=[2, 1], dilations=[2, 2], auto_pad=auto_pad)
    check_op(op, inputs, attrs, expected=_ort_with_explicit_pads(op, inputs, attrs))


def test_max_pool_old_opsets():
    check_op("MaxPool", {"x": rand(1, 2, 6, 5)}, dict(kernel_shape=[2, 2], strides=[2, 2]), opset=7)
    check_op("MaxPool", {"x": rand(1, 2, 6, 5)}, dict(kernel_shape=[3, 2], pads=[1, 0, 1, 1]), n_outputs=2,
             opset=8)
    check_op("MaxPool", {"x": rand(1, 2, 6, 5)}, dict(kernel_shape=[3, 2], ceil_mode=1, strides=[2, 2]), opset=10)


# ----------------------------------------------------------- AveragePool
@pytest.mark.parametrize("xs,attrs", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
@pytest.mark.parametrize("ceil_mode", [0, 1])
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(xs, attrs, ceil_mode, count_include_pad):
    check_op("AveragePool", {"x": rand(*xs)}, dict(attrs, ceil_mode=ceil_mode, count_include_pad=count_include_pad))


def test_average_pool_old_opsets_and_float64():
    attrs = dict(kernel_shape=[3, 2], pads=[1, 0, 1, 1], count_include_pad=1)
    check_op("AveragePool", {"x": rand(1, 2, 6, 5)}, attrs, opset=7)
    check_op("AveragePool", {"x": rand(1, 2, 6, 5)}, dict(attrs, ceil_mode=1, strides=[2, 2]), opset=11)
    check_op("AveragePool", {"x": rand(2, 2, 6, 5, dtype=np.float64)}, dict(attrs, strides=[2, 1]),
             rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("xs", [(2, 3, 5), (1, 2, 4, 3), (2, 1, 3, 1, 4), (1, 3, 1, 1)])
def test_global_pool(op, xs):
    check_op(op, {"x": rand(*xs)})


# ------------------------------------------------------------------ Resize
COORDS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
          "half_pixel_symmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
# (input shape, scales) and (input shape, sizes): up, down, mixed, exact halves.
# (Not 7 -> 4 with half_pixel_symmetric: onnxruntime lands on an exact tie
# there that float32 arithmetic in its own formula does not reproduce.)
SCALES = [((1, 2, 4, 5), [1, 1, 2.0, 3.0]), ((2, 1, 8, 9), [1, 1, 0.5, 0.7]), ((1, 3, 5, 4), [1, 1, 1.5, 0.75])]
SIZES = [((1, 2, 4, 5), [1, 2, 7, 1]), ((1, 1, 9, 6), [1, 1, 4, 12]), ((2, 2, 3, 3), [2, 2, 3, 8])]


def _resize_inputs(scales=None, sizes=None, opset=19):
    consts = {"roi": None, "scales": None if scales is None else np.array(scales, np.float32),
              "sizes": None if sizes is None else np.array(sizes, np.int64)}
    if opset < 13:   # opset 11-12: roi and scales are required, empty when unused
        consts["roi"] = np.zeros(0, np.float32)
        if scales is None:
            consts["scales"] = np.zeros(0, np.float32)
    return consts


def _resize(x, scales=None, sizes=None, opset=19, **attrs):
    inputs = dict(x=x, **_resize_inputs(scales, sizes, opset))
    check_op("Resize", inputs, attrs, constants=["roi", "scales", "sizes"], opset=opset)


def _resize_many(x, variants, scales=None, sizes=None, opset=19):
    """One model with a Resize node per attribute dict (one compile for all)."""
    consts = {k: v for k, v in _resize_inputs(scales, sizes, opset).items() if v is not None}
    args = ["x"] + [k if consts.get(k) is not None else "" for k in ("roi", "scales", "sizes")]
    while args[-1] == "":
        args.pop()
    nodes = [helper.make_node("Resize", args, [f"y{i}"], name=f"Resize_{i}", **a) for i, a in enumerate(variants)]
    model = make_model(nodes, [("x", x.dtype, list(x.shape))], [f"y{i}" for i in range(len(variants))], consts,
                       opset)
    check_model(model, {"x": x})


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("case", range(len(SCALES) + len(SIZES)))
def test_resize_nearest(coord, case):
    shape, vals = (SCALES + SIZES)[case]
    kw = dict(scales=vals) if case < len(SCALES) else dict(sizes=vals)
    _resize_many(rand(*shape), [dict(mode="nearest", coordinate_transformation_mode=coord, nearest_mode=nm)
                                for nm in NEAREST], **kw)


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("case", range(len(SCALES) + len(SIZES)))
def test_resize_linear(coord, case):
    shape, vals = (SCALES + SIZES)[case]
    kw = dict(scales=vals) if case < len(SCALES) else dict(sizes=vals)
    _resize(rand(*shape), mode="linear", coordinate_transformation_mode=coord, **kw)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("xs,scales", [((6,), [1.5]), ((5, 4), [0.6, 2.0]), ((2, 3, 4), [1, 2.5, 0.5]),
                                       ((1, 3, 4, 2), [1, 0.5, 2.0, 1]), ((1, 1, 3, 4, 2), [1, 1, 2.0, 0.5, 3.0])])
def test_resize_ranks(mode, xs, scales):
    if mode == "linear" and len(xs) == 1:   # onnxruntime has no 1-D linear resize: use the onnx reference
        x = rand(*xs)
        node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")
        model = make_model([node], [("x", x.dtype, list(x.shape))], ["y"], {"scales": np.array(scales, np.float32)})
        check_model(model, {"x": x}, expected=ReferenceEvaluator(model).run(None, {"x": x}))
        return
    _resize(rand(*xs), scales=scales, mode=mode)


def test_resize_to_the_same_shape_and_integer_nearest():
    # output shape == input shape: a copy (as onnxruntime), though scale 1.21 is not 1
    _resize(rand(1, 2, 2, 3), scales=[1, 1, 1.2, 1.21], mode="linear",
            coordinate_transformation_mode="pytorch_half_pixel")
    _resize(rand(1, 2, 4, 5, dtype=np.int32, low=-100, high=100), scales=[1, 1, 1.5, 0.6], mode="nearest")
    _resize(rand(1, 2, 4, 5, dtype=np.uint8, low=0, high=255), sizes=[1, 2, 7, 3], mode="nearest")


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("opset", [11, 13, 18])
def test_resize_opsets(mode, opset):
    _resize(rand(1, 2, 4, 5), scales=[1, 1, 1.5, 0.6], mode=mode, opset=opset)
    _resize(rand(1, 2, 4, 5), sizes=[1, 2, 3, 9], mode=mode, opset=opset, coordinate_transformation_mode="asymmetric")


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 3.0], [1, 1, 0.5, 0.4], [1, 1, 1.7, 0.7]])
def test_resize_opset10(mode, scales):
    check_op("Resize", {"x": rand(1, 2, 5, 6), "scales": np.array(scales, np.float32)}, dict(mode=mode),
             constants=["scales"], opset=10)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_keep_aspect_ratio(mode, policy):
    attrs = dict(mode=mode, keep_aspect_ratio_policy=policy)
    _resize(rand(5, 4), sizes=[8, 9], **attrs)
    _resize(rand(1, 2, 5, 4), sizes=[8, 9], axes=[2, 3], **attrs)
    _resize(rand(1, 2, 5, 4), sizes=[3, 7], axes=[3, 2], **attrs)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_axes(mode):
    x = rand(1, 2, 5, 4)
    _resize(x, scales=[2.0, 0.5], axes=[2, 3], mode=mode)
    _resize(x, scales=[0.5, 2.0], axes=[-1, -2], mode=mode)
    _resize(x, sizes=[3, 7], axes=[-1, 2], mode=mode)


def test_resize_float64_and_sizes_computed_from_shapes():
    _resize(rand(1, 2, 4, 5, dtype=np.float64), scales=[1, 1, 1.5, 0.6], mode="linear")
    # sizes from Shape -> Concat: only known once shapes are specialized
    x_vi = helper.make_tensor_value_info("x", 1, ["N", 2, "H", "W"])
    nodes = [helper.make_node("Shape", ["x"], ["s"], end=2),
             helper.make_node("Concat", ["s", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest")]
    model = make_model(nodes, [x_vi], ["y"], {"hw": np.array([5, 7], np.int64)})
    for shape in [(1, 2, 3, 4), (2, 2, 6, 9)]:
        check_model(model, {"x": rand(*shape)})


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("opset,scales", [(7, [1.0, 1.0, 2.0, 3.0]), (9, [1.0, 1.0, 2.0, 1.5])])
def test_upsample(mode, opset, scales):
    x = rand(1, 2, 3, 4)
    if opset < 9:
        check_op("Upsample", {"x": x}, dict(mode=mode, scales=scales), opset=opset)
    else:
        check_op("Upsample", {"x": x, "scales": np.array(scales, np.float32)}, dict(mode=mode),
                 constants=["scales"], opset=opset)


# ------------------------------------------------------------------ errors
def _compile_one(op, inputs, attrs, opset=21, consts=()):
    node = helper.make_node(op, list(inputs), ["y"], name="the_node", **attrs)
    model = make_model([node], [(k, v.dtype, list(v.shape)) for k, v in inputs.items() if k not in consts],
                       ["y"], {k: inputs[k] for k in consts}, opset)
    return dlc.compile(model)


@pytest.mark.parametrize("op,inputs,attrs,cls", [
    ("Conv", {"x": rand(1, 4, 5, 5), "w": rand(2, 3, 3, 3)}, {}, dlc.DLCError),          # channels mismatch
    ("Conv", {"x": rand(1, 4, 5, 5), "w": rand(3, 2, 3, 3)}, dict(group=2), dlc.DLCError),  # 3 % group
    ("Conv", {"x": rand(1, 4, 5, 5), "w": rand(2, 4, 3, 3)}, dict(strides=[1]), dlc.DLCError),
    ("Conv", {"x": rand(1, 4, 2, 2), "w": rand(2, 4, 3, 3)}, {}, dlc.DLCError),          # window > input
    ("ConvTranspose", {"x": rand(1, 4, 5), "w": rand(3, 2, 3)}, {}, dlc.DLCError),
    ("MaxPool", {"x": rand(1, 4, 5, 5)}, dict(kernel_shape=[2]), dlc.DLCError),
    ("AveragePool", {"x": rand(1, 4, 5, 5)}, dict(kernel_shape=[2, 2], auto_pad="BOGUS"), dlc.DLCError),
])
def test_invalid_attributes_name_the_node(op, inputs, attrs, cls):
    with pytest.raises(cls, match="the_node"):
        _compile_one(op, inputs, attrs)


def test_unsupported_resize_modes_name_the_node():
    x, scales = rand(1, 1, 4, 4), np.array([1, 1, 2, 2], np.float32)
    for attrs in [dict(mode="nearest", coordinate_transformation_mode="tf_crop_and_resize")]:
        with pytest.raises(dlc.UnsupportedError, match="the_node"):
            _compile_one("Resize", {"x": x, "roi": np.zeros(0, np.float32), "scales": scales}, attrs,
                         consts=("roi", "scales"))


@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 1.5], [1, 1, 0.6, 0.8]])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_cubic(coord, scales, exclude_outside):
    x = rand(1, 2, 5, 6)
    check_op("Resize", {"x": x, "roi": np.zeros(0, np.float32), "scales": np.array(scales, np.float32)},
             {"mode": "cubic", "coordinate_transformation_mode": coord, "exclude_outside": exclude_outside,
              "cubic_coeff_a": -0.5 if exclude_outside else -0.75},
             constants=["roi", "scales"], opset=13, rtol=1e-4, atol=1e-5)


def test_resize_cubic_sizes():
    check_op("Resize", {"x": rand(2, 3, 4, 4), "roi": None, "scales": None, "sizes": np.array([2, 3, 7, 3], np.int64)},
             {"mode": "cubic"}, constants=["sizes"], opset=18, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.6, 0.5], [1, 1, 0.8, 1.7]])
def test_resize_antialias(mode, scales):
    check_op("Resize", {"x": rand(1, 2, 8, 7), "roi": None, "scales": np.array(scales, np.float32)},
             {"mode": mode, "antialias": 1}, constants=["scales"], opset=18, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_tf_crop_and_resize(mode):
    roi = np.array([0, 0, 0.4, 0.6, 1, 1, 0.6, 1.3], np.float32)    # the last axis reaches outside: extrapolation
    check_op("Resize", {"x": rand(1, 2, 6, 5), "roi": roi, "scales": None, "sizes": np.array([1, 2, 3, 4], np.int64)},
             {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 7.0},
             constants=["roi", "sizes"], opset=13, rtol=1e-4, atol=1e-5)
