"""`dlc compare`: every intermediate value against a reference, the first
divergence with the kernel computing it, and ablation naming the pass that
introduces a difference -- checked on planted miscompilations."""
import dataclasses

import numpy as np
import pytest
from onnx import TensorProto, helper

from dlc import compiler
from dlc.compare import compare, diff
from dlc.ir.errors import UnsupportedError
from dlc.ir.ops import REGISTRY
from tests.test_cli import dlc_cmd
from tests.util import make_model, rand


def mlp():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
             helper.make_node("Relu", ["h"], ["r"], name="act"),
             helper.make_node("Mul", ["r", "two"], ["m"], name="scale"),
             helper.make_node("Tanh", ["m"], ["t"], name="squash"),
             helper.make_node("ReduceSum", ["t"], ["y"], name="total", keepdims=0)]
    return make_model(nodes, [("x", np.float32, ["N", 8])], ["y", "t"],
                      {"w": rand(8, 16, seed=1), "two": np.array(2.0, np.float32)}, opset=17)


@pytest.mark.parametrize("against", ["onnxruntime", "reference", "fp64"])
def test_correct_model_matches_every_reference(against):
    r = compare(mlp(), against=against, shapes={"x": (3, 8)})
    assert r.ok and r.first_divergence is None and r.exit_code == 0
    assert [v.node for v in r.values] == ["fc", "act", "scale", "squash", "total"]
    assert all(v.kernel and "(" not in v.kernel for v in r.values)   # each maps to a kernel of the real build
    assert f"dlc matches {against}" in r.format()


@pytest.fixture
def wrong_relu(monkeypatch):
    """A planted wrong lowering: relu clamps at 0.25 instead of 0."""
    op = REGISTRY["relu"]
    monkeypatch.setitem(REGISTRY, "relu", dataclasses.replace(
        op, scalar=lambda k, x: k.max(x, k.const(0.25, x.dtype))))


def test_planted_wrong_lowering_is_found_and_blamed_on_the_lowering(wrong_relu):
    r = compare(mlp(), ablate=True)
    first = r.first_divergence
    assert first is not None and r.exit_code == 1
    assert (first.node, first.op_type, first.output) == ("act", "Relu", "r")
    assert "relu" in first.kernel and first.max_abs == pytest.approx(0.25, abs=1e-6)   # maybe a fused kernel
    assert [v.node for v in r.diverging][0] == "act" and "fc" not in [v.node for v in r.diverging]
    assert r.culprits == []                       # no pass removal fixes it
    text = r.format()
    assert "first divergence: node act (Relu)" in text
    assert f"suspect the lowering of Relu (node act, kernel {first.kernel})" in text


def test_planted_pass_bug_is_named_by_ablation(monkeypatch):
    """A planted wrong rewrite: a 'remove_noops' that also drops x*c for any constant c."""
    passes = compiler.SPECIALIZED_PASSES
    real = next(p for p in passes if p.__name__ == "remove_noops")

    def remove_noops(g):
        for n in list(g.nodes):
            if n.op == "mul" and n.inputs[1] is not None and n.inputs[1].is_const:
                g.replace_uses(n.outputs[0], n.inputs[0])
        return real(g)
    monkeypatch.setattr(compiler, "SPECIALIZED_PASSES", [remove_noops if p is real else p for p in passes])
    r = compare(mlp(), ablate=True)
    assert r.first_divergence.node == "scale"
    assert r.culprits == ["remove_noops"]
    assert "=> the difference is introduced by: remove_noops" in r.format()
    without = {a.name: a for a in r.ablations}
    assert not without["fold_constants"].fixed and without["remove_noops"].fixed


def test_staged_and_fallback_models_compare():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu0"),
             helper.make_node("NonZero", ["r"], ["nz"], name="nz0"),
             helper.make_node("Scaler", ["x"], ["c"], name="scaler0", offset=[0.5], scale=[2.0], domain="ai.onnx.ml"),
             helper.make_node("Sigmoid", ["c"], ["s"], name="sig0")]
    model = make_model(nodes, [("x", np.float32, [3, 4])], ["nz", "s"])
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    model.graph.value_info.append(helper.make_tensor_value_info("c", 1, [3, 4]))   # (float; ONNX infers no shape for Scaler)
    r = compare(model, fallback="reference")
    assert r.ok, r.format()
    kernels = {v.node: v.kernel for v in r.values}
    assert kernels["scaler0"] == "(host step)" and kernels["nz0"] == "(host step)"
    assert "/" in kernels["sig0"]     # segment/kernel


def test_diff_metrics():
    ok, mabs, mrel, worst, _ = diff(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), 1e-4, 1e-5)
    assert not ok and mabs == 0.5 and mrel == pytest.approx(0.2) and worst == (1,)
    assert diff(np.array([np.nan]), np.array([np.nan]), 1e-4, 1e-5)[0]
    assert not diff(np.zeros(3), np.zeros(4), 1e-4, 1e-5)[0]
    assert not diff(np.array([1, 2], np.int64), np.array([1, 3], np.int64), 0, 0)[0]


def test_compare_command(tmp_path):
    path = tmp_path / "mlp.onnx"
    path.write_bytes(mlp().SerializeToString())
    x = rand(2, 8)
    np.save(tmp_path / "x.npy", x)
    out = dlc_cmd("compare", path, "--input", f"x={tmp_path / 'x.npy'}", "--all")
    assert out.returncode == 0, out.stderr
    assert "5 node outputs compared, 0 diverge" in out.stdout and "squash" in out.stdout
    out = dlc_cmd("compare", path, "--against", "fp64", "--shape", "x=4,8")
    assert out.returncode == 0 and "against fp64" in out.stdout


def test_sequences_and_strings_are_refused():
    node = helper.make_node("StringConcat", ["s", "s"], ["t"])
    model = make_model([node], [helper.make_tensor_value_info("s", TensorProto.STRING, [2])],
                       [helper.make_tensor_value_info("t", TensorProto.STRING, [2])], opset=20)
    with pytest.raises(UnsupportedError, match="compares numeric tensors; this model's s, t are sequences"):
        compare(model)
