"""The diagnostics options of `dlc compile`/`dlc run`, and dumps whose names
match the profile's and compare's."""
import numpy as np
import pytest
from onnx import helper

import dlc
from tests.test_cli import dlc_cmd
from tests.util import make_model, rand


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("diag")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"), helper.make_node("Tanh", ["h"], ["y"], name="act")]
    path = d / "m.onnx"
    path.write_bytes(make_model(nodes, [("x", np.float32, [2, 3])], ["y"], {"w": rand(3, 5)}).SerializeToString())
    return path


@pytest.fixture(scope="module")
def fallback_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("diagfb")
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu0"),
             helper.make_node("Compress", ["r", "keep"], ["y"], name="compress0", axis=1)]
    path = d / "f.onnx"
    path.write_bytes(make_model(nodes, [("x", np.float32, [2, 3])], ["y"],
                                {"keep": np.array([1, 0, 1], np.bool_)}).SerializeToString())
    return path


@pytest.mark.parametrize("cmd", ["check", "compare", "cache", "doctor"])
def test_help_for_each_new_command(cmd):
    out = dlc_cmd(cmd, "--help")
    assert out.returncode == 0 and "usage: dlc " + cmd in out.stdout


def test_compile_timings_per_pass_and_kernel(model_file, tmp_path):
    out = dlc_cmd("compile", model_file, "-o", tmp_path / "m.dlc", "--timings")
    assert out.returncode == 0, out.stderr
    err = out.stderr
    assert "compile time per pass / stage:" in err and "fold_constants" in err and "llvm_optimize_and_codegen" in err
    assert "compile time per kernel" in err
    # MatMul and Tanh are one fused kernel, listed with both ONNX nodes
    assert any(line.strip().startswith("fused_matmul_tanh_0") and line.rstrip().endswith("fc, act")
               for line in err.splitlines()), err


def test_compile_warm_start_and_no_cache(model_file, tmp_path):
    assert dlc_cmd("compile", model_file, "-o", tmp_path / "a.dlc").returncode == 0
    out = dlc_cmd("compile", model_file, "-o", tmp_path / "b.dlc")
    assert out.returncode == 0 and "loaded from the compile cache" in out.stderr
    out = dlc_cmd("compile", model_file, "-o", tmp_path / "c.dlc", "--no-cache")
    assert out.returncode == 0 and "loaded from the compile cache" not in out.stderr


def test_compile_disable_pass(model_file, tmp_path):
    out = dlc_cmd("compile", model_file, "-o", tmp_path / "d.dlc", "--disable-pass", "remove_noops", "--timings")
    assert out.returncode == 0, out.stderr
    assert "remove_noops" not in out.stderr and "fold_constants" in out.stderr
    out = dlc_cmd("compile", model_file, "--disable-pass", "no_such_pass")
    assert out.returncode == 1 and "cannot disable unknown pass(es) no_such_pass" in out.stderr
    out = dlc_cmd("compile", model_file, "--disable-pass", "materialize_outputs")
    assert out.returncode == 1 and "cannot be disabled" in out.stderr


def test_fallback_on_the_command_line(fallback_file, tmp_path):
    out = dlc_cmd("compile", fallback_file, "-o", tmp_path / "f.dlc")
    assert out.returncode == 1 and "Compress (nodes: compress0)" in out.stderr
    out = dlc_cmd("compile", fallback_file, "-o", tmp_path / "f.dlc", "--fallback", "reference")
    assert out.returncode == 0, out.stderr
    assert "will run on the host" in out.stderr and "compress0" in out.stderr
    out = dlc_cmd("run", tmp_path / "f.dlc", "--random")
    assert out.returncode == 0, out.stderr
    assert "ran on the host" in out.stderr and "compress0 (Compress" in out.stderr and "% of run time" in out.stderr


def test_dump_names_match_the_profile(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"), helper.make_node("Tanh", ["h"], ["y"], name="act")]
    model = make_model(nodes, [("x", np.float32, [2, 3])], ["y"], {"w": rand(3, 5)})
    m = dlc.compile(model, dump_dir=str(tmp_path / "dump"))
    kernels = {r.name for r in m.profile({"x": rand(2, 3)}, repeat=1).kernels()}
    text = (tmp_path / "dump" / "kernels.txt").read_text()
    ll = (tmp_path / "dump" / "module.opt.ll").read_text()
    asm = (tmp_path / "dump" / "module.s").read_text()
    for k in kernels:
        assert f"kernel {k}(" in text and f"@{k}(" in ll and f"{k}:" in asm


def test_staged_segments_dump_to_their_own_folders(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu0"), helper.make_node("NonZero", ["r"], ["i"]),
             helper.make_node("Cast", ["i"], ["y"], to=1)]
    model = make_model(nodes, [("x", np.float32, [2, 3])], ["y"])
    m = dlc.compile(model, dump_dir=str(tmp_path / "dump"))
    m(rand(2, 3))
    assert (tmp_path / "dump" / "test_segment0" / "module.ll").exists()
    assert (tmp_path / "dump" / "test_segment1" / "kernels.txt").exists()
