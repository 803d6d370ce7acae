"""The ONNX frontend's handling of bad and unusual models."""
import numpy as np
import onnx
import pytest
from onnx import helper

import dlc
from dlc.frontends.onnx import import_model, supported_ops
from tests.util import make_model, rand


def test_every_unsupported_op_listed_in_one_error_before_any_work(monkeypatch):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("Normalizer", ["a"], ["b"], name="id1", domain="ai.onnx.ml"),
             helper.make_node("Twiddle", ["a"], ["c"], name="tw", domain="com.example"),
             helper.make_node("Normalizer", ["a"], ["d"], name="id2", domain="ai.onnx.ml"),
             helper.make_node("Frobnicate", ["a"], ["e"], name="f", domain="com.example")]
    model = make_model(nodes, [("x", np.float32, [2])], ["b", "c", "d", "e"])
    model.opset_import.extend([helper.make_opsetid("com.example", 1), helper.make_opsetid("ai.onnx.ml", 1)])
    import dlc.frontends.onnx.importer as importer
    monkeypatch.setattr(importer, "_convert_node", lambda *a: pytest.fail("converted before checking support"))
    with pytest.raises(dlc.UnsupportedError) as e:
        dlc.compile(model)
    msg = str(e.value)
    assert "ai.onnx.ml.Normalizer (nodes: id1, id2)" in msg
    assert "com.example.Twiddle (nodes: tw)" in msg
    assert "com.example.Frobnicate (nodes: f)" in msg
    assert "Relu" not in msg


def test_old_opsets_convert_with_their_own_semantics():
    # opset 6: Add broadcasts B from `axis` only when broadcast=1
    node = helper.make_node("Add", ["x", "b"], ["y"], broadcast=1, axis=1)
    model = make_model([node], [("x", np.float32, [2, 3, 4]), ("b", np.float32, [3])], ["y"], opset=6)
    x, b = rand(2, 3, 4), rand(3, seed=1)
    np.testing.assert_allclose(dlc.compile(model).run(None, {"x": x, "b": b})[0], x + b[:, None])
    # opset 1: Reshape takes its shape as an attribute
    node = helper.make_node("Reshape", ["x"], ["y"], shape=[4, 6])
    model = make_model([node], [("x", np.float32, [2, 3, 4])], ["y"], opset=1)
    assert dlc.compile(model).run(None, {"x": x})[0].shape == (4, 6)


def test_op_without_a_converter_at_an_old_opset_is_named():
    node = helper.make_node("Tile", ["x", "t", "a"], ["y"])   # Tile-1 (tiles, axis) is not supported
    model = make_model([node], [("x", np.float32, [2]), ("t", np.int64, []), ("a", np.int64, [])], ["y"], opset=5)
    with pytest.raises(dlc.UnsupportedError, match="unsupported ops at opset 5: Tile"):
        dlc.compile(model)


def test_unsupported_input_dtype_is_refused_clearly():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.COMPLEX64, [2])
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [x], ["y"])
    with pytest.raises(dlc.UnsupportedError, match="input 'x': dtype complex64 is not supported"):
        dlc.compile(model)


def test_unsupported_initializer_dtype_is_refused_clearly():
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])], [("x", np.float32, [2])], ["y"],
                       {"w": np.ones(2, np.complex64)})
    with pytest.raises(dlc.UnsupportedError, match="initializer 'w'.*complex64"):
        dlc.compile(model)


@pytest.mark.parametrize("content,message", [
    (b"\x00\x01garbage\xff" * 20, "not a valid ONNX model"),
    (b"", "not a valid ONNX model"),
])
def test_garbage_files(tmp_path, content, message):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(dlc.ModelError, match=message):
        dlc.compile(str(p))


def test_truncated_file(tmp_path):
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])], [("x", np.float32, [64])], ["y"],
                       {"w": np.ones(64, np.float32)})
    data = model.SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) - 40])
    with pytest.raises(dlc.ModelError, match="cut.onnx"):
        dlc.compile(str(p))


def test_missing_file():
    with pytest.raises(dlc.ModelError, match="no such file"):
        dlc.compile("/nonexistent/model.onnx")


def test_undefined_value_names_the_node():
    model = make_model([helper.make_node("Relu", ["nope"], ["y"], name="relu7")], [("x", np.float32, [2])], ["y"])
    with pytest.raises(dlc.ModelError, match="relu7.*'nope'"):
        dlc.compile(model)


def test_shape_error_names_the_node():
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"], name="add3")],
                       [("a", np.float32, [2, 3]), ("b", np.float32, [4])], ["y"])
    with pytest.raises(dlc.ShapeError, match="onnx add3: cannot broadcast"):
        dlc.compile(model)


def test_shapes_for_unknown_input():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", np.float32, ["N"])], ["y"])
    with pytest.raises(dlc.ModelError, match="unknown inputs: z"):
        dlc.compile(model, shapes={"z": (1,)})


def test_input_without_shape_needs_one():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, None)
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [x], ["y"])
    with pytest.raises(dlc.ModelError, match="input 'x' has no shape"):
        dlc.compile(model)
    m = dlc.compile(model, shapes={"x": (3,)})
    np.testing.assert_array_equal(m(np.array([-1, 0, 2], np.float32)), [0, 0, 2])


def test_unknown_dims_become_symbols():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [x], ["y"])
    m = dlc.compile(model)
    assert m.inputs[0].shape == ("x_d0", 3)
    assert m(rand(5, 3)).shape == (5, 3)


def test_values_keep_source_names_and_nodes_their_source():
    model = make_model([helper.make_node("Relu", ["x"], ["hidden:0"], name="Relu_3"),
                        helper.make_node("Neg", ["hidden:0"], ["y"], name="")], [("x", np.float32, [1, 128])], ["y"])
    g, _ = import_model(model)
    text = str(g)
    assert "hidden_0: f32[1,128] = relu(x)  # onnx Relu_3" in text
    assert "= neg(hidden_0)  # onnx Neg_1" in text


def test_ops_required_by_the_foundation_are_supported():
    required = """Conv ConvTranspose MatMul Gemm Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Neg Abs Erf Relu
    LeakyRelu PRelu Elu Selu Sigmoid HardSigmoid HardSwish Tanh Softplus Gelu Clip Min Max Sum Mean Softmax
    LogSoftmax MaxPool AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization InstanceNormalization
    LayerNormalization Flatten Reshape Transpose Concat Split Slice Squeeze Unsqueeze Gather Expand Tile Pad
    Shape Size Constant ConstantOfShape Cast CastLike Identity Dropout ReduceMean ReduceSum ReduceMax ReduceMin
    ReduceProd ArgMax ArgMin Equal Less Greater Not And Or Where Resize Range Einsum""".split()
    missing = sorted(set(required) - set(supported_ops()))
    assert not missing, f"missing converters: {missing}"


def test_op_without_converter_converts_through_its_onnx_function():
    # MeanVarianceNormalization has no converter: the standard defines it as a function
    from tests.util import check_op
    check_op("MeanVarianceNormalization", {"x": rand(2, 3, 4, 5)}, {"axes": [0, 2, 3]}, opset=13)


def test_context_dependent_function_gets_the_input_types():
    from tests.util import check_op
    # SoftmaxCrossEntropyLoss's body is built for the node's input types
    labels = np.array([[0, 2], [1, 1], [2, 0]], np.int64)
    check_op("SoftmaxCrossEntropyLoss", {"x": rand(3, 3, 2), "y": labels}, {"reduction": "mean"}, opset=13,
             rtol=1e-4, atol=1e-5)


def test_unsupported_op_inside_a_function_is_named_with_the_function(monkeypatch):
    from dlc.frontends.onnx.registry import CONVERTERS
    monkeypatch.delitem(CONVERTERS, ("", "Sqrt"))    # MeanVarianceNormalization's body needs Sqrt
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"], name="mvn")
    model = make_model([node], [("x", np.float32, [2, 3, 4, 5])], ["y"], opset=13)
    with pytest.raises(dlc.UnsupportedError,
                       match="MeanVarianceNormalization node 'mvn' \\(converted through its ONNX function\\).*Sqrt"):
        dlc.compile(model)


def test_function_bodies_compute_float16_in_float32():
    """A float16 op converted through its function computes in float32 and
    rounds once: as the float32 model, rounded."""
    from tests.util import check_model
    x = rand(2, 3, 4, 5, low=-3, high=3)
    mvn = lambda dt: make_model([helper.make_node("MeanVarianceNormalization", ["x"], ["y"])],  # noqa: E731
                                [("x", dt, [2, 3, 4, 5])], ["y"], opset=13)
    want = dlc.compile(mvn(np.float32)).run(None, {"x": x.astype(np.float16).astype(np.float32)})[0]
    check_model(mvn(np.float16), {"x": x.astype(np.float16)}, expected=[want.astype(np.float16)], rtol=0, atol=0)
