"""Shape and data-movement ops against onnxruntime: Concat, Split, Slice,
Gather, Tile, Pad, ConstantOfShape, Range, Reshape, Flatten, Squeeze,
Unsqueeze, Transpose, Expand, Shape, Size; the Shape->...->Reshape chain
PyTorch exporters emit; run-time and compile-time errors."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc.compiler import Options, optimize, specialize
from dlc.frontends.onnx import import_model
from tests.util import check_model, check_op, make_model, rand, run_reference

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.int8, np.uint8, np.bool_]
INT64_MAX, INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def i64(*v):
    return np.array(v, np.int64)


# ------------------------------------------------------------------ concat
@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (2, 4)], 1),
    ([(2, 3), (2, 4), (2, 1)], -1),
    ([(1, 3, 2), (4, 3, 2)], 0),
    ([(2, 3), (2, 0), (2, 2)], 1),      # a 0-size input along the axis
    ([(0, 3), (0, 3)], 0),              # everything empty
    ([(2, 1, 3)], 1),                   # one input
    ([(5,), (1,)], -1),
])
@pytest.mark.parametrize("opset", [9, 13])
def test_concat(shapes, axis, opset):
    inputs = {f"x{i}": rand(*s, seed=i) for i, s in enumerate(shapes)}
    check_op("Concat", inputs, {"axis": axis}, opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_concat_dtypes(dtype):
    check_op("Concat", {"a": rand(2, 3, dtype=dtype), "b": rand(2, 2, dtype=dtype, seed=1)}, {"axis": 1})


def test_concat_constant_and_input():
    check_op("Concat", {"a": rand(2, 3), "b": rand(1, 3, seed=1)}, {"axis": 0}, constants=["b"])


# ------------------------------------------------------------------- split
@pytest.mark.parametrize("shape, attrs, n, opset", [
    ((6, 4), {"axis": 0}, 3, 7),                        # equal parts
    ((6, 4), {"axis": 1, "split": [1, 3]}, 2, 7),        # sizes as attribute
    ((6, 4), {"axis": -1, "split": [2, 2]}, 2, 11),      # negative axis
    ((2, 9), {"axis": -1}, 3, 13),
    ((7, 3), {"axis": 0, "num_outputs": 3}, 3, 18),     # uneven last chunk: 3, 3, 1
    ((4, 5), {"axis": 1, "num_outputs": 2}, 2, 21),     # 3, 2
    ((3, 1), {"axis": 0, "num_outputs": 1}, 1, 18),
])
def test_split(shape, attrs, n, opset):
    check_op("Split", {"x": rand(*shape)}, attrs, n_outputs=n, opset=opset)


@pytest.mark.parametrize("split", [[1, 2, 3], [0, 6, 0], [6]])
@pytest.mark.parametrize("opset", [13, 18])
def test_split_input(split, opset):
    check_op("Split", {"x": rand(6, 2), "split": i64(*split)}, {"axis": 0}, n_outputs=len(split),
             constants=["split"], opset=opset)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64, np.int8, np.uint8, np.bool_])
def test_split_dtypes(dtype):
    check_op("Split", {"x": rand(4, 3, dtype=dtype)}, {"axis": 0}, n_outputs=2, opset=13)


# ------------------------------------------------------------------- slice
SLICES = [  # starts, ends, axes, steps (None: omitted)
    ([1], [3], [0], None),
    ([0, 1], [INT64_MAX, -1], None, None),
    ([-1], [INT64_MIN], [1], [-1]),                     # reverse an axis
    ([-1, 1], [INT64_MIN, 100], [0, -1], [-1, 2]),
    ([10], [20], [2], [1]),                             # past the end: empty
    ([-100], [100], [2], [3]),                          # clamped both ends
    ([-10], [INT64_MIN], [0], [-1]),                    # negative step: start clamps to 0
    ([3], [0], [1], [-2]),
    ([2], [2], [1], [1]),                               # empty range
    ([0, 0, 0], [1, 1, 1], [0, 1, 2], [1, 1, 1]),
]


@pytest.mark.parametrize("starts, ends, axes, steps", SLICES)
@pytest.mark.parametrize("opset", [11, 13])
def test_slice(starts, ends, axes, steps, opset):
    inputs = {"x": rand(3, 4, 5), "starts": i64(*starts), "ends": i64(*ends),
              "axes": None if axes is None else i64(*axes), "steps": None if steps is None else i64(*steps)}
    if axes is None and steps is not None:
        inputs["axes"] = i64(*range(len(starts)))
    check_op("Slice", inputs, constants=["starts", "ends", "axes", "steps"], opset=opset)


def test_slice_int32_indices():
    inputs = {"x": rand(4, 6), "starts": np.array([1, -2], np.int32), "ends": np.array([4, 0], np.int32),
              "axes": np.array([0, 1], np.int32), "steps": np.array([2, -1], np.int32)}
    check_op("Slice", inputs, constants=["starts", "ends", "axes", "steps"], opset=10)


@pytest.mark.parametrize("attrs", [
    {"starts": [1], "ends": [3]},
    {"starts": [0, -3], "ends": [-1, INT64_MAX], "axes": [1, 2]},
    {"starts": [-2], "ends": [1000], "axes": [-1]},
])
@pytest.mark.parametrize("opset", [7, 9])
def test_slice_attributes(attrs, opset):
    check_op("Slice", {"x": rand(3, 4, 5)}, attrs, opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice_dtypes(dtype):
    check_op("Slice", {"x": rand(5, 3, dtype=dtype), "starts": i64(4), "ends": i64(0), "axes": i64(0),
                       "steps": i64(-2)}, constants=["starts", "ends", "axes", "steps"])


def test_slice_zero_size_input():
    check_op("Slice", {"x": rand(0, 4), "starts": i64(1), "ends": i64(3), "axes": i64(1)},
             constants=["starts", "ends", "axes"])


# ------------------------------------------------------------------ gather
@pytest.mark.parametrize("shape, indices, axis", [
    ((5, 3), [0, 4, 2], 0),
    ((5, 3), [[0, -1], [-3, 2]], 1),
    ((2, 3, 4), [-1, 0, 3, 3], -1),
    ((2, 3, 4), 1, 1),                       # scalar index: the axis goes away
    ((4,), -4, 0),
    ((3, 4), [], 0),                         # no indices
    ((1, 4), [[0, 0, 0]], 0),
])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_gather(shape, indices, axis, index_dtype):
    check_op("Gather", {"x": rand(*shape), "i": np.array(indices, index_dtype)}, {"axis": axis})


@pytest.mark.parametrize("opset", [9, 11, 13])
def test_gather_constant_indices(opset):
    check_op("Gather", {"x": rand(4, 5), "i": i64(3, 1)}, {"axis": 1}, constants=["i"], opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_dtypes(dtype):
    check_op("Gather", {"x": rand(4, 3, dtype=dtype), "i": i64(3, -4, 0)}, {"axis": 0})


@pytest.mark.parametrize("bad", [5, -6, INT64_MAX])
def test_gather_index_out_of_range_is_an_error(bad):
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="my_gather", axis=0)],
                       [("x", np.float32, [5, 2]), ("i", np.int64, [3])], ["y"])
    m = dlc.compile(model)
    x = rand(5, 2)
    np.testing.assert_array_equal(m.run(None, {"x": x, "i": i64(0, 4, -5)})[0], x[[0, 4, 0]])
    with pytest.raises(dlc.ExecutionError, match=r"my_gather.*out of range"):
        m.run(None, {"x": x, "i": i64(1, bad, 2)})


def test_gather_from_empty_axis_is_an_error():
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g0", axis=1)],
                       [("x", np.float32, [2, 0]), ("i", np.int64, [1])], ["y"])
    with pytest.raises(dlc.ExecutionError, match="g0"):
        dlc.compile(model).run(None, {"x": rand(2, 0), "i": i64(0)})


# -------------------------------------------------------------------- tile
@pytest.mark.parametrize("shape, repeats", [
    ((2, 3), [2, 3]), ((2, 3), [1, 1]), ((1, 3, 1), [4, 1, 2]), ((3,), [0]), ((0, 2), [3, 2]), ((), []),
])
def test_tile(shape, repeats):
    check_op("Tile", {"x": rand(*shape), "r": i64(*repeats)}, constants=["r"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_dtypes(dtype):
    check_op("Tile", {"x": rand(2, 2, dtype=dtype), "r": i64(2, 3)}, constants=["r"])


# --------------------------------------------------------------------- pad
PADS = [
    [0, 1, 2, 1],
    [1, 0, 0, 2],
    [2, 3, 3, 2],          # wider than the input: wrap repeats, reflect is an error
    [-1, 1, 0, -2],        # negative pads crop
    [1, -1, -1, 1],        # same shape, shifted data
    [0, 0, 0, 0],
]


@pytest.mark.parametrize("mode, pads", [(m, p) for m in ("constant", "reflect", "edge", "wrap") for p in PADS
                                        if m != "reflect" or max(p) < 3])   # see test_pad_reflect_too_wide
def test_pad_modes(mode, pads):
    check_op("Pad", {"x": rand(3, 4), "pads": i64(*pads)}, {"mode": mode}, constants=["pads"], opset=21)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("opset", [7, 9])
def test_pad_attributes(mode, opset):
    check_op("Pad", {"x": rand(2, 3, 4)}, {"mode": mode, "pads": [0, 1, 2, 1, 0, 1], "value": 1.5}, opset=opset)


def test_pad_attribute_value_cast_to_int():
    check_op("Pad", {"x": rand(2, 3, dtype=np.int32)}, {"pads": [1, 1, 0, 2], "value": 7.0}, opset=9)


@pytest.mark.parametrize("opset", [11, 13])
def test_pad_constant_value(opset):
    check_op("Pad", {"x": rand(2, 3), "pads": i64(1, 0, 1, 2), "v": np.array(-3.25, np.float32)},
             constants=["pads", "v"], opset=opset)


def test_pad_value_at_run_time():
    check_op("Pad", {"x": rand(2, 3), "pads": i64(1, 2, 0, 1), "v": np.array(9.5, np.float32)},
             constants=["pads"])


@pytest.mark.parametrize("axes, pads", [([1], [2, 1]), ([-1, 0], [1, 0, 2, 1]), ([0, 2], [1, 1, -1, 2])])
@pytest.mark.parametrize("opset", [18, 21])
def test_pad_axes(axes, pads, opset):
    check_op("Pad", {"x": rand(2, 3, 4), "pads": i64(*pads), "v": None, "axes": i64(*axes)},
             {"mode": "edge"}, constants=["pads", "axes"], opset=opset)


def test_pad_int32_axes():   # (onnxruntime's shape inference rejects int32 axes; numpy is the oracle)
    x = rand(3, 4)
    check_op("Pad", {"x": x, "pads": i64(1, 2), "v": np.array(1.0, np.float32),
                     "axes": np.array([1], np.int32)}, constants=["pads", "v", "axes"], opset=18,
             expected=[np.pad(x, [(0, 0), (1, 2)], constant_values=1.0)])


def test_pad_reflect_too_wide():
    model = make_model([helper.make_node("Pad", ["x", "pads"], ["y"], name="wide", mode="reflect")],
                       [("x", np.float32, [3, 4])], ["y"], {"pads": i64(0, 0, 3, 0)})
    with pytest.raises(dlc.DLCError, match="wide.*reflect"):
        dlc.compile(model)


@pytest.mark.parametrize("shape, pads", [((0, 3), [1, 0, 2, 1]), ((2, 3), [0, -3, 0, 2]), ((1, 1), [0, 2, 1, 0])])
def test_pad_empty_and_cropped_away(shape, pads):
    check_op("Pad", {"x": rand(*shape), "pads": i64(*pads)}, constants=["pads"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_pad_dtypes(dtype, mode):
    check_op("Pad", {"x": rand(3, 3, dtype=dtype), "pads": i64(1, 2, 2, 1)}, {"mode": mode},
             constants=["pads"])


# ---------------------------------------------------------- ConstantOfShape
@pytest.mark.parametrize("shape", [[2, 3], [4], [], [3, 0, 2]])
@pytest.mark.parametrize("value", [None, np.array([1.5], np.float32), np.array([7], np.int64),
                                   np.array([-2], np.int32), np.array([True]), np.array([0.25])])
def test_constant_of_shape(shape, value):
    attrs = {} if value is None else {"value": helper.make_tensor("v", _onnx_type(value), [1], value.tolist())}
    check_op("ConstantOfShape", {"s": np.array(shape, np.int64)}, attrs, constants=["s"], opset=21)


def _onnx_type(a):
    return helper.np_dtype_to_tensor_dtype(a.dtype)


def test_constant_of_shape_from_input_shape():
    """A shape computed from an input's shape folds once shapes are known."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["y"],
                              value=helper.make_tensor("v", 7, [1], [3]))]
    model = make_model(nodes, [("x", np.float32, ["N", 2])], ["y"], opset=9)
    check_model(model, {"x": rand(4, 2)})


# ------------------------------------------------------------------- range
@pytest.mark.parametrize("start, limit, delta", [(0, 5, 1), (1, 10, 3), (10, 1, -2), (5, 5, 1), (3, 1, 1),
                                                 (-4, 4, 3)])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int16, np.float32, np.float64])
def test_range(start, limit, delta, dtype):
    inputs = {"a": np.array(start, dtype), "b": np.array(limit, dtype), "c": np.array(delta, dtype)}
    check_op("Range", inputs, constants=["a", "b", "c"], opset=11)


@pytest.mark.parametrize("start, limit, delta", [(0.5, 2.0, 0.3), (1.0, -2.0, -0.7), (0.0, 1.0, 0.1)])
def test_range_float_steps(start, limit, delta):
    inputs = {"a": np.array(start, np.float32), "b": np.array(limit, np.float32), "c": np.array(delta, np.float32)}
    check_op("Range", inputs, constants=["a", "b", "c"])


def test_large_results_are_computed_at_run_time():
    """Results too large to fold into the weights run through the lowering."""
    check_op("Range", {"a": np.array(5, np.int64), "b": np.array(300_005, np.int64), "c": np.array(1, np.int64)},
             constants=["a", "b", "c"])
    value = helper.make_tensor("v", 1, [1], [2.5])
    check_op("ConstantOfShape", {"s": i64(600, 600)}, {"value": value}, constants=["s"])


def test_range_length_from_input_shape():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Range", ["start", "n", "one"], ["r"]),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = make_model(nodes, [("x", np.int64, ["N"])], ["y"],
                       {"zero": i64(0).reshape(()), "start": i64(0).reshape(()), "one": i64(1).reshape(())})
    for n in (3, 6):
        check_model(model, {"x": rand(n, dtype=np.int64)})


def test_range_from_run_time_input_is_unsupported():
    model = make_model([helper.make_node("Range", ["a", "b", "c"], ["y"], name="r0")],
                       [("a", np.int64, []), ("b", np.int64, []), ("c", np.int64, [])], ["y"])
    with pytest.raises(dlc.DLCError, match="r0"):
        dlc.compile(model).run(None, {"a": np.array(0), "b": np.array(3), "c": np.array(1)})


# ----------------------------------------------------------------- reshape
@pytest.mark.parametrize("shape, target", [
    ((2, 3, 4), [6, 4]), ((2, 3, 4), [0, -1]), ((2, 3, 4), [-1]), ((2, 3, 4), [2, 0, 2, 2]),
    ((6,), [1, 2, 1, 3]), ((1,), []), ((0, 3), [0, 5]), ((0, 3), [-1, 3]),
])
@pytest.mark.parametrize("opset", [9, 13])
def test_reshape(shape, target, opset):
    check_op("Reshape", {"x": rand(*shape), "s": i64(*target)}, constants=["s"], opset=opset)


@pytest.mark.parametrize("shape, target", [((0, 3), [3, 0]), ((2, 0, 4), [0, 4, 2])])
def test_reshape_allowzero(shape, target):
    check_op("Reshape", {"x": rand(*shape), "s": i64(*target)}, {"allowzero": 1}, constants=["s"], opset=14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_dtypes(dtype):
    check_op("Reshape", {"x": rand(2, 6, dtype=dtype), "s": i64(3, -1)}, constants=["s"])


# ---------------------------------------------------------------- flatten
@pytest.mark.parametrize("shape, axis", [((2, 3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4), 3), ((2, 3, 4), -1),
                                         ((2, 3, 4), -3), ((5,), 1), ((2, 0, 3), 2)])
@pytest.mark.parametrize("opset", [11, 13])
def test_flatten(shape, axis, opset):
    check_op("Flatten", {"x": rand(*shape)}, {"axis": axis}, opset=opset)


# ------------------------------------------------------- squeeze/unsqueeze
@pytest.mark.parametrize("shape, axes", [((1, 3, 1, 2), None), ((1, 3, 1, 2), [0]), ((1, 3, 1, 2), [-2, 0]),
                                         ((1,), None), ((1, 1), [1])])
@pytest.mark.parametrize("opset", [11, 13, 21])
def test_squeeze(shape, axes, opset):
    if opset < 13 or axes is None:
        check_op("Squeeze", {"x": rand(*shape)}, {} if axes is None else {"axes": axes}, opset=opset)
    else:
        check_op("Squeeze", {"x": rand(*shape), "axes": i64(*axes)}, constants=["axes"], opset=opset)


@pytest.mark.parametrize("shape, axes", [((3, 2), [0]), ((3, 2), [-1]), ((3, 2), [0, 3]), ((), [0]),
                                         ((2,), [-1, 0])])
@pytest.mark.parametrize("opset", [11, 13, 21])
def test_unsqueeze(shape, axes, opset):
    if opset < 13:
        check_op("Unsqueeze", {"x": rand(*shape)}, {"axes": axes}, opset=opset)
    else:
        check_op("Unsqueeze", {"x": rand(*shape), "axes": i64(*axes)}, constants=["axes"], opset=opset)


# --------------------------------------------------------------- transpose
@pytest.mark.parametrize("shape, perm", [((2, 3), None), ((3, 3), None), ((2, 3, 4), None), ((2, 3, 4), [1, 0, 2]),
                                         ((2, 3, 4), [0, 1, 2]), ((2, 1, 4, 3), [3, 1, 0, 2]), ((5,), None),
                                         ((0, 2), [1, 0])])
@pytest.mark.parametrize("opset", [9, 13, 21])
def test_transpose(shape, perm, opset):
    check_op("Transpose", {"x": rand(*shape)}, {} if perm is None else {"perm": perm}, opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_dtypes(dtype):
    check_op("Transpose", {"x": rand(2, 3, 2, dtype=dtype)}, {"perm": [2, 0, 1]})


# ------------------------------------------------------------------ expand
@pytest.mark.parametrize("shape, target", [
    ((3, 1), [3, 4]), ((3, 1), [2, 1, 6]), ((1,), [2, 3]), ((2, 3), [1]),    # bidirectional: keeps (2, 3)
    ((4, 1, 2), [3, 1]), ((), [2, 2]), ((3, 1), [3, 0]),
])
@pytest.mark.parametrize("opset", [9, 13])
def test_expand(shape, target, opset):
    check_op("Expand", {"x": rand(*shape), "s": i64(*target)}, constants=["s"], opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_expand_dtypes(dtype):
    check_op("Expand", {"x": rand(1, 3, dtype=dtype), "s": i64(2, 1)}, constants=["s"])


# ------------------------------------------------------------ shape / size
@pytest.mark.parametrize("start, end", [(None, None), (1, None), (-2, None), (0, -1), (1, 2), (-10, 10), (2, 1)])
@pytest.mark.parametrize("opset", [15, 21])
def test_shape_start_end(start, end, opset):
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    check_op("Shape", {"x": rand(2, 3, 4)}, attrs, opset=opset)


@pytest.mark.parametrize("shape", [(2, 3, 4), (), (0, 5)])
@pytest.mark.parametrize("op, opset", [("Shape", 9), ("Shape", 13), ("Size", 9), ("Size", 13)])
def test_shape_and_size(shape, op, opset):
    check_op(op, {"x": rand(*shape)}, opset=opset)


# ------------------------------------------------- exporter-style shapes
def _batch_reshape_model():
    """y = x.reshape(x.shape[0], -1), the way PyTorch exports it."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("Relu", ["flat"], ["y"])]
    inits = {"zero": np.array(0, np.int64), "axes0": i64(0), "minus1": i64(-1)}
    return make_model(nodes, [("x", np.float32, ["N", 3, 4])], ["y"], inits, opset=13)


def test_shape_chain_with_symbolic_batch():
    model = _batch_reshape_model()
    m = dlc.compile(model)
    for n in (2, 5):
        x = rand(n, 3, 4, seed=n)
        got = m.run(None, {"x": x})[0]
        want = run_reference(model, {"x": x})[0]
        assert got.shape == (n, 12)
        np.testing.assert_allclose(got, want)
    assert len(m.compiled_shapes) == 2


def test_shape_chain_folds_after_specialization():
    g, _ = import_model(_batch_reshape_model())
    opt = optimize(specialize(g, [(4, 3, 4)]), Options())
    ops = {n.op for n in opt.nodes}
    assert not ops & {"shape", "gather", "unsqueeze", "concat"}, ops
    assert opt.outputs[0].shape == (4, 12)


def test_shape_chain_slice_concat():
    """x[:, :shape[1]-1] and a Concat whose sizes come from Shape (ends computed from shapes)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "one", "two"], ["d1"]),
             helper.make_node("Sub", ["d1", "one"], ["end"]),
             helper.make_node("Slice", ["x", "one_0", "end", "one"], ["y"]),
             helper.make_node("Concat", ["y", "x"], ["z"], axis=1)]
    inits = {"one": i64(1), "two": i64(2), "one_0": i64(0)}
    model = make_model(nodes, [("x", np.float32, ["N", "M"])], ["z"], inits)
    for shape in ((2, 5), (3, 1)):
        check_model(model, {"x": rand(*shape)})


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("node, inputs", [
    (helper.make_node("Transpose", ["a"], ["y"], name="bad_perm", perm=[0, 0, 1]), [("a", np.float32, [2, 3, 4])]),
    (helper.make_node("Transpose", ["a"], ["y"], name="bad_perm", perm=[1, 0]), [("a", np.float32, [2, 3, 4])]),
    (helper.make_node("Concat", ["a", "b"], ["y"], name="bad_concat", axis=1),
     [("a", np.float32, [2, 3]), ("b", np.float32, [3, 3])]),
    (helper.make_node("Concat", ["a", "b"], ["y"], name="bad_concat", axis=0),
     [("a", np.float32, [2, 3]), ("b", np.float32, [2])]),
    (helper.make_node("Concat", ["a"], ["y"], name="bad_axis", axis=2), [("a", np.float32, [2, 3])]),
    (helper.make_node("Split", ["a"], ["y", "z"], name="bad_split", axis=0, split=[1, 1]),
     [("a", np.float32, [3, 2])]),
    (helper.make_node("Split", ["a"], ["y", "z"], name="uneven_split", axis=0), [("a", np.float32, [3, 2])]),
    (helper.make_node("Gather", ["a", "b"], ["y"], name="bad_gather", axis=2),
     [("a", np.float32, [2, 3]), ("b", np.int64, [1])]),
    (helper.make_node("Flatten", ["a"], ["y"], name="bad_flatten", axis=4), [("a", np.float32, [2, 3])]),
])
def test_bad_attributes_name_the_node(node, inputs):
    model = make_model([node], inputs, ["y"] + list(node.output[1:]), opset=11)
    with pytest.raises(dlc.DLCError, match=node.name):
        dlc.compile(model)


@pytest.mark.parametrize("op, inputs, attrs", [
    ("Slice", {"x": rand(3, 4), "starts": i64(0), "ends": i64(2), "axes": i64(0), "steps": i64(0)}, {}),
    ("Pad", {"x": rand(3, 4), "pads": i64(0, 0, -4, 0)}, {}),
    ("Pad", {"x": rand(3, 4), "pads": i64(1, 0)}, {}),
    ("Pad", {"x": rand(3, 4), "pads": i64(0, 1, 0, 1)}, {"mode": "mirror"}),
    ("Reshape", {"x": rand(3, 4), "pads": i64(5, -1)}, {}),
    ("Tile", {"x": rand(3, 4), "pads": i64(2)}, {}),
])
def test_bad_constant_inputs_name_the_node(op, inputs, attrs):
    names = list(inputs)
    node = helper.make_node(op, names, ["y"], name=f"bad_{op}", **attrs)
    model = make_model([node], [("x", np.float32, [3, 4])], ["y"], {k: v for k, v in inputs.items() if k != "x"})
    with pytest.raises(dlc.DLCError, match=f"bad_{op}"):
        dlc.compile(model)


def test_slice_of_run_time_starts_is_unsupported():
    model = make_model([helper.make_node("Slice", ["x", "s", "e"], ["y"], name="dyn_slice")],
                       [("x", np.float32, [4]), ("s", np.int64, [1]), ("e", np.int64, [1])], ["y"])
    with pytest.raises(dlc.DLCError, match="dyn_slice"):
        dlc.compile(model)


# --------------------------------------------------- DepthToSpace & co
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    check_op("DepthToSpace", {"x": rand(2, 8, 3, 4)}, {"blocksize": 2, "mode": mode}, opset=13)


def test_space_to_depth():
    check_op("SpaceToDepth", {"x": rand(2, 3, 4, 6)}, {"blocksize": 2}, opset=13)
