"""`dlc check`: unsupported (op, opset, dtype) with node names, and model lint,
before any code generation; the exit status says whether it compiles."""
import numpy as np
from onnx import TensorProto, helper

import dlc
from dlc.check import check
from tests.test_cli import dlc_cmd
from tests.util import make_model, rand


def codes(report):
    return {(f.severity, f.code) for f in report.findings}


def find(report, code):
    return [f for f in report.findings if f.code == code]


def test_clean_model_compiles():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", np.float32, ["N", 4])], ["y"])
    r = check(model)
    assert r.compiles and r.exit_code == 0 and not r.errors
    assert r.format().endswith("result: compiles")


def test_several_unsupported_ops_with_their_nodes():
    nodes = [helper.make_node("Normalizer", ["x"], ["a"], name="n1", domain="ai.onnx.ml"),
             helper.make_node("Normalizer", ["a"], ["b"], name="n2", domain="ai.onnx.ml"),
             helper.make_node("Scaler", ["b"], ["c"], name="sc", domain="ai.onnx.ml"),
             helper.make_node("Frobnicate", ["c"], ["y"], name="frob", domain="acme"),
             helper.make_node("Resize", ["x", "roi", "scales"], ["z"], name="rs",
                              coordinate_transformation_mode="tf_crop_and_resize")]
    model = make_model(nodes, [("x", np.float32, [1, 1, 4, 4])], ["y", "z"],
                       {"roi": np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32),
                        "scales": np.array([1, 1, 2, 2], np.float32)})
    model.opset_import.extend([helper.make_opsetid("acme", 3), helper.make_opsetid("ai.onnx.ml", 1)])
    r = check(model)
    assert r.exit_code == 1 and not r.compiles and not r.compiles_with_fallback
    ops = {f.message.split(" ")[0]: f for f in find(r, "unsupported-op")}
    assert ops["Normalizer"].nodes == ["n1", "n2"] and "(domain ai.onnx.ml v1)" in ops["Normalizer"].message
    assert ops["Normalizer"].fallback and ops["Scaler"].nodes == ["sc"]
    assert ops["Frobnicate"].nodes == ["frob"] and "domain acme v3" in ops["Frobnicate"].message
    assert not ops["Frobnicate"].fallback and "has none either" in ops["Frobnicate"].message
    text = r.format()
    assert "nodes: n1, n2" in text and "does not compile" in text


def test_converter_refusals_are_listed_with_their_reason():
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="rs",
                              coordinate_transformation_mode="tf_crop_and_resize"),
             helper.make_node("Scaler", ["y"], ["z"], name="sc", domain="ai.onnx.ml")]
    model = make_model(nodes, [("x", np.float32, [1, 1, 4, 4])], [("z", np.float32, [1, 1, 8, 8])],
                       {"roi": np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32),
                        "scales": np.array([1, 1, 2, 2], np.float32)})
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    r = check(model)
    (refusal,) = find(r, "unsupported-node")
    assert refusal.nodes == ["rs"] and "tf_crop_and_resize" in refusal.message and refusal.fallback
    assert r.compiles_with_fallback and "fallback='reference'" in r.format()


def test_unsupported_dtype_per_op():
    nodes = [helper.make_node("Identity", ["z"], ["t"], name="copy_c"),
             helper.make_node("Identity", ["t"], ["u"], name="copy_c2"),
             helper.make_node("Size", ["u"], ["n"], name="count")]
    model = make_model(nodes, [("z", np.complex64, [2, 2])], ["n"])
    r = check(model)
    found = {f.message.split(" ")[0]: f for f in find(r, "unsupported-dtype")}
    assert found["Identity"].nodes == ["copy_c", "copy_c2"] and "complex64" in found["Identity"].message
    assert found["Size"].nodes == ["count"]
    assert r.exit_code == 1


def test_training_mode_nodes():
    nodes = [helper.make_node("Dropout", ["x", "ratio", "train"], ["d"], name="drop"),
             helper.make_node("BatchNormalization", ["d", "s", "b", "m", "v"], ["y", "rm", "rv"], name="bn",
                              training_mode=1)]
    c = np.ones(3, np.float32)
    model = make_model(nodes, [("x", np.float32, [1, 3, 2, 2])], ["y"],
                       {"ratio": np.array(0.1, np.float32), "train": np.array(True), "s": c, "b": c, "m": c, "v": c})
    r = check(model)
    msgs = {f.nodes[0]: f.message for f in find(r, "training-mode")}
    assert "Dropout with training_mode=true" in msgs["drop"]
    assert "BatchNormalization with training_mode=1" in msgs["bn"]
    assert "model.eval()" in msgs["bn"]
    assert not find(r, "unsupported-node")    # reported once, as training mode


def test_lint_symbols_shadowing_unused_inputs():
    init_in = helper.make_tensor_value_info("bias", TensorProto.FLOAT, [4])
    nodes = [helper.make_node("Add", ["x", "y"], ["s"], name="add"),
             helper.make_node("Add", ["s", "bias"], ["out"], name="add_bias")]
    model = make_model(nodes, [("x", np.float32, ["batch", 4]), ("y", np.float32, ["N", 4]),
                               ("extra", np.float32, [3]), init_in],
                       [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["B", 4])],
                       {"bias": rand(4)})
    r = check(model)
    sym = find(r, "symbolic-dims")
    clash = next(f for f in sym if "must be equal" in f.message)
    assert "'N' (input 'y' dim 0)" in clash.message and "'batch' (input 'x' dim 0)" in clash.message
    assert clash.nodes == ["add"]
    out_model = make_model([helper.make_node("Relu", ["x"], ["out"])], [("x", np.float32, ["batch", 4])],
                           [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["B", 4])])
    (decl,) = find(check(out_model), "symbolic-dims")
    assert "output 'out' declares dim 0 as 'B', but it is 'batch'" in decl.message
    assert find(r, "shadowed-initializer")[0].nodes == ["bias"]
    assert find(r, "unused-input")[0].nodes == ["extra"]
    assert r.compiles      # lint warnings do not stop compiling
    assert ("warning", "unused-input") in codes(r)


def test_data_dependent_shapes():
    nodes = [helper.make_node("NonZero", ["x"], ["i"], name="nz"),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")]
    model = make_model(nodes, [("x", np.float32, [2, 3]), ("shape", np.int64, [2])], ["i", "y"])
    r = check(model)
    info = find(r, "data-dependent-shape")
    assert info[0].severity == "info" and info[0].nodes == ["nz (nonzero)"]


def test_shape_input_known_at_run_time_compiles_per_value():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")]
    model = make_model(nodes, [("x", np.float32, [2, 3]), ("shape", np.int64, [2])], ["y"])
    assert check(model).compiles
    x = rand(2, 3)
    np.testing.assert_array_equal(dlc.compile(model)(x, np.array([3, 2], np.int64)), x.reshape(3, 2))


def test_check_command_exit_status(tmp_path):
    good = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", np.float32, [2])], ["y"])
    bad = make_model([helper.make_node("Scaler", ["x"], ["y"], name="hm", domain="ai.onnx.ml")],
                     [("x", np.float32, [2, 2])], ["y"])
    bad.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    (tmp_path / "good.onnx").write_bytes(good.SerializeToString())
    (tmp_path / "bad.onnx").write_bytes(bad.SerializeToString())
    out = dlc_cmd("check", tmp_path / "good.onnx")
    assert out.returncode == 0 and "result: compiles" in out.stdout
    out = dlc_cmd("check", tmp_path / "bad.onnx")
    assert out.returncode == 1 and "Scaler (domain ai.onnx.ml v1)" in out.stdout and "nodes: hm" in out.stdout


def test_strings_run_on_the_host():
    model = make_model([helper.make_node("StringConcat", ["s", "s"], ["t"], name="cat")],
                       [("s", object, [2])], [("t", object, [2])], opset=20)
    r = check(model)
    info = find(r, "host-values")
    assert info[0].severity == "info" and info[0].nodes == ["cat (string_concat)"] and r.compiles
