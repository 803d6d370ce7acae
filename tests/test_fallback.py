"""The reference fallback: unsupported ONNX nodes run on the host with the
onnx reference implementation, everything else compiled; off by default,
reported when on."""
import logging

import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from dlc.staged import StagedExecutable
from tests.util import make_model, rand, run_ort


def unsupported_model():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm0"),
             helper.make_node("Compress", ["h", "keep"], ["c"], name="compress0", axis=1),
             helper.make_node("Relu", ["c"], ["r"], name="relu0"),
             helper.make_node("Unique", ["r"], ["u"], name="unique0", axis=1),
             helper.make_node("Add", ["u", "r"], ["y"], name="add0")]
    return make_model(nodes, [("x", np.float32, ["N", 4])], ["y"],
                      {"w": rand(4, 6, seed=1), "keep": np.array([1, 1, 0, 1, 1, 1], np.bool_)})


def test_off_by_default_lists_every_unsupported_op():
    with pytest.raises(dlc.UnsupportedError, match=r"Compress \(nodes: compress0\); Unique \(nodes: unique0\)"):
        dlc.compile(unsupported_model())


def test_fallback_matches_onnxruntime_and_warns_with_share(caplog):
    model = unsupported_model()
    with caplog.at_level(logging.WARNING, logger="dlc"):
        m = dlc.compile(model, fallback="reference")
        assert m.fallback_nodes == ["compress0", "unique0"]
        assert "will run on the host" in caplog.text and "compress0, unique0" in caplog.text
        caplog.clear()
        for seed, n in ((0, 2), (1, 5), (2, 5)):
            x = rand(n, 4, seed=seed)
            np.testing.assert_allclose(m(x), run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-6)
    runtime_warnings = [r.getMessage() for r in caplog.records if "ran on the host" in r.getMessage()]
    assert len(runtime_warnings) == 1        # once per model
    msg = runtime_warnings[0]
    assert "compress0 (Compress," in msg and "unique0 (Unique," in msg and "% of run time" in msg
    exe = m.executable((((2, 4),), ()))
    assert isinstance(exe, StagedExecutable)
    assert [type(s).__name__ for s in exe.stages] == ["Segment", "HostStep", "Segment", "HostStep", "Segment"]


def test_converter_refusal_falls_back():
    """Resize's converter refuses tf_crop_and_resize with nearest: the node runs on the host."""
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="resize0",
                              coordinate_transformation_mode="tf_crop_and_resize"),
             helper.make_node("Sigmoid", ["y"], ["z"], name="sig0")]
    model = make_model(nodes, [("x", np.float32, [1, 1, 4, 4])], ["z"],
                       {"roi": np.array([0, 0, 0.1, 0.2, 1, 1, 0.9, 0.8], np.float32),
                        "scales": np.array([1, 1, 2, 2], np.float32)}, opset=13)
    with pytest.raises(dlc.UnsupportedError, match="tf_crop_and_resize"):
        dlc.compile(model)
    m = dlc.compile(model, fallback="reference")
    assert m.fallback_nodes == ["resize0"]
    x = rand(1, 1, 4, 4)
    np.testing.assert_allclose(m(x), run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_subgraph_node_reads_outer_values():
    """If (no converter) whose branches read a value of the outer graph."""
    then = helper.make_graph([helper.make_node("Mul", ["h", "h"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3])])
    orelse = helper.make_graph([helper.make_node("Neg", ["h"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 3])])
    nodes = [helper.make_node("Exp", ["x"], ["h"], name="exp0"),
             helper.make_node("If", ["cond"], ["o"], name="if0", then_branch=then, else_branch=orelse),
             helper.make_node("Add", ["o", "x"], ["y"], name="add0")]
    model = make_model(nodes, [("x", np.float32, [2, 3]), ("cond", np.bool_, [])], ["y"], opset=17)
    m = dlc.compile(model, fallback="reference")
    for c in (True, False):
        feeds = {"x": rand(2, 3), "cond": np.array(c)}
        np.testing.assert_allclose(m.run(None, feeds)[0], run_ort(model, feeds)[0], rtol=1e-5)


def test_op_without_reference_is_still_refused():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Foo", ["r"], ["y"], domain="my.ops")]
    model = make_model(nodes, [("x", np.float32, [2])], ["y"])
    model.opset_import.append(helper.make_opsetid("my.ops", 1))
    with pytest.raises(dlc.UnsupportedError, match="my.ops.Foo.*reference implementation has none"):
        dlc.compile(model, fallback="reference")


def test_unknown_fallback_name():
    with pytest.raises(dlc.UnsupportedError, match="unknown fallback 'numpy'"):
        dlc.compile(unsupported_model(), fallback="numpy")


def test_fallback_model_saves_and_loads(tmp_path):
    model = unsupported_model()
    m = dlc.compile(model, fallback="reference")
    x = rand(3, 4)
    want = m(x)
    m.save(tmp_path / "f.dlc")
    m2 = dlc.load(tmp_path / "f.dlc")
    np.testing.assert_array_equal(m2(x), want)


def test_profile_shows_host_steps():
    m = dlc.compile(unsupported_model(), fallback="reference")
    p = m.profile({"x": rand(2, 4)}, repeat=3)
    hosts = [r for r in p.kernels() if r.kind == "host"]
    assert sorted(r.name for r in hosts) == ["compress0", "unique0"]
    assert "(host) compress0" in p.table()
