"""The `dlc` command line, run as a separate process like a user would."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import dlc
from tests.util import make_model, rand


def dlc_cmd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dlc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    nodes = [helper.make_node("Mul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"]),
             helper.make_node("ReduceMax", ["y"], ["m"], axes=[1], keepdims=0)]
    model = make_model(nodes, [("x", np.float32, ["N", 3])], ["y", "m"], {"w": rand(3, seed=4)}, opset=17)
    path = d / "tiny.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_console_script_is_installed():
    beside = os.path.join(os.path.dirname(sys.executable), "dlc")   # a venv's bin, when not activated
    exe = beside if os.path.exists(beside) else shutil.which("dlc")
    assert exe, "the `dlc` console command is not on PATH (pip install the package)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "compile" in out.stdout


@pytest.mark.parametrize("cmd", ["compile", "run", "inspect"])
def test_help_for_each_command(cmd):
    out = dlc_cmd(cmd, "--help")
    assert out.returncode == 0 and "usage: dlc " + cmd in out.stdout


def test_compile_then_run_in_a_new_process(model_file, tmp_path):
    art = tmp_path / "tiny.dlc"
    out = dlc_cmd("compile", model_file, "-o", art, "--shape", "x=4,3")
    assert out.returncode == 0, out.stderr
    assert art.exists() and "compiled" in out.stderr
    x = rand(4, 3)
    np.save(tmp_path / "x.npy", x)
    out = dlc_cmd("run", art, "--input", f"x={tmp_path / 'x.npy'}", "--output", tmp_path / "out.npz")
    assert out.returncode == 0, out.stderr
    assert "y: float32[4, 3]" in out.stdout
    saved = np.load(tmp_path / "out.npz")
    y, m = dlc.compile(str(model_file))(x)
    np.testing.assert_array_equal(saved["y"], y)
    np.testing.assert_array_equal(saved["m"], m)


def test_compile_default_output_name_and_timings_and_dump(model_file, tmp_path):
    src = tmp_path / "m.onnx"
    shutil.copy(model_file, src)
    out = dlc_cmd("compile", src, "--shape", "x=2,3", "--timings", "--dump", tmp_path / "dump")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "m.dlc").exists()
    assert "llvm_optimize_and_codegen" in out.stderr and "fold_constants" in out.stderr
    for name in ("kernels.txt", "memory.txt", "module.ll", "module.opt.ll", "module.s"):
        assert (tmp_path / "dump" / name).stat().st_size > 0


def test_run_onnx_with_random_inputs(model_file):
    out = dlc_cmd("run", model_file, "--random", "--shape", "x=5,3")
    assert out.returncode == 0, out.stderr
    assert "y: float32[5, 3]" in out.stdout and "m: float32[5]" in out.stdout


@pytest.mark.parametrize("stage,expect", [("onnx", "ReduceMax"), ("ir", "tanh("), ("fused", "onnx Tanh_1"),
                                          ("memory", "# arena"), ("kernels", "kernel fused_mul_tanh_"),
                                          ("llvm", "@dlc_main(ptr"), ("asm", "dlc_main:")])
def test_inspect_stages(model_file, stage, expect):
    out = dlc_cmd("inspect", model_file, "--stage", stage, "--shape", "x=2,3")
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout


def test_inspect_json_statistics_and_picture(model_file, tmp_path):
    import json
    out = dlc_cmd("inspect", model_file, "--shape", "x=2,3", "--json", "--html", tmp_path / "g.html")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["onnx_nodes"] == 3 and stats["kernels"] == 2
    for key in ("arena_bytes", "naive_bytes", "live_lower_bound_bytes", "weights_bytes"):
        assert isinstance(stats[key], int)
    page = (tmp_path / "g.html").read_text()
    assert "<svg" in page and "fused_mul_tanh_0" in page and "onnx Tanh_1" in page and "<script" not in page
    unfused = json.loads(dlc_cmd("inspect", model_file, "--shape", "x=2,3", "--json", "--no-fuse").stdout)
    assert unfused["kernels"] == 3


def test_inspect_symbolic_ir_without_shape(model_file):
    out = dlc_cmd("inspect", model_file)
    assert out.returncode == 0 and "x: f32[N,3]" in out.stdout


def test_inspect_staged_model_says_why():
    """A model with a Loop runs staged: its IR shows the body; the stages of
    one compiled program are refused with the reason."""
    path = os.path.join(os.path.dirname(__file__), "models", "control", "loop_cell_torchscript.onnx")
    out = dlc_cmd("inspect", path, "--stage", "ir")
    assert out.returncode == 0 and "body of onnx /Loop" in out.stdout
    out = dlc_cmd("inspect", path, "--stage", "fused")
    assert out.returncode == 1 and "runs staged" in out.stderr and "/Loop (loop)" in out.stderr


@pytest.mark.parametrize("args,message", [
    (["compile", "/nonexistent.onnx"], "no such file"),
    (["run", "/nonexistent.dlc"], "no such file"),
    (["inspect", "/nonexistent.onnx"], "no such file"),
])
def test_errors_are_one_line_and_nonzero(args, message):
    out = dlc_cmd(*args)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlc: error:") and message in lines[0]


def test_bad_input_file_and_wrong_shape(model_file, tmp_path):
    art = tmp_path / "t.dlc"
    assert dlc_cmd("compile", model_file, "-o", art, "--shape", "x=4,3").returncode == 0
    np.save(tmp_path / "bad.npy", rand(2, 2))
    out = dlc_cmd("run", art, "--input", f"x={tmp_path / 'bad.npy'}")
    assert out.returncode == 1 and "dim 0 must be 4" in out.stderr
    (tmp_path / "junk.npy").write_bytes(b"junk")
    out = dlc_cmd("run", art, "--input", f"x={tmp_path / 'junk.npy'}")
    assert out.returncode == 1 and "cannot read input 'x'" in out.stderr


def test_bad_arguments_exit_2():
    out = dlc_cmd("compile", "m.onnx", "--shape", "x=a,b")
    assert out.returncode == 2 and "dims must be integers" in out.stderr
