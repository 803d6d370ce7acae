"""`dlc bench` and the threads option: behaviour only, never timings."""
import json
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc import bench as bench_mod
from tests.util import make_model, rand


def dlc_cmd(*args):
    return subprocess.run([sys.executable, "-m", "dlc", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    model = make_model(nodes, [("x", np.float32, ["N", 16])], ["y"], {"w": rand(16, 24, seed=3)}, opset=17)
    path = d / "tiny.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def test_bench_against_onnxruntime(tiny):
    rep = bench_mod.bench(tiny, ["onnxruntime"], batch=3, threads=1, runs=3, warmup=1)
    dlc_r, ort = rep.results
    assert (dlc_r.name, ort.name) == ("dlc", "onnxruntime")
    assert dlc_r.status == ort.status == "ok"
    assert len(dlc_r.times) == len(ort.times) == len(ort.paired) == 3
    assert ort.agree and ort.max_abs_diff < 1e-4
    text = rep.table()
    assert "onnxruntime" in text and "agree" in text and "batch 3" in text
    js = rep.to_json()
    assert js["results"][1]["dlc_over_this"] > 0 and js["machine"]["cores"] >= 1


def test_missing_or_unknown_rivals_are_skipped(tiny, monkeypatch):
    monkeypatch.setitem(bench_mod._PACKAGE, "tvm", "no_such_package_dlc_test")
    rep = bench_mod.bench(tiny, ["tvm", "caffe"], runs=2, warmup=0, threads=1)
    by = {r.name: r for r in rep.results}
    assert by["dlc"].status == "ok"
    assert by["tvm"].status == "skipped" and "not installed" in by["tvm"].reason
    assert by["caffe"].status == "skipped" and "unknown" in by["caffe"].reason
    assert "tvm" in rep.table() and "skipped" in rep.table()


def test_torch_without_definition_is_skipped(tiny):
    rep = bench_mod.bench(tiny, ["torch"], runs=1, warmup=0, threads=1)
    r = rep.results[1]
    assert r.status == "skipped"   # not installed, or no NAME.torch.json beside the model


def test_output_agreement_check():
    ref = [np.array([1.0, 2.0, 4.0], np.float32)]
    assert bench_mod._compare([ref[0] + 1e-6], ref)[2]
    mad, mrd, ok = bench_mod._compare([ref[0] + np.array([0, 0, 0.5], np.float32)], ref)
    assert not ok and mad == pytest.approx(0.5) and mrd == pytest.approx(0.125)


def test_disagreeing_rival_is_flagged(tiny, monkeypatch):
    def wrong(path, specs, inputs, threads):
        return lambda: [np.full((1, 24), 7.0, np.float32)]
    monkeypatch.setitem(bench_mod._PREPARE, "onnxruntime", wrong)
    rep = bench_mod.bench(tiny, ["onnxruntime"], runs=1, warmup=0, threads=1)
    assert rep.results[1].agree is False and "DIFFER" in rep.table()


def test_cli_help_and_run(tiny, tmp_path):
    out = dlc_cmd("bench", "--help")
    assert out.returncode == 0 and "usage: dlc bench" in out.stdout and "--against" in out.stdout
    js = tmp_path / "r.json"
    out = dlc_cmd("bench", tiny, "--against", "onnxruntime,nope", "--runs", "2", "--threads", "1",
                  "--json", js)
    assert out.returncode == 0, out.stderr
    assert "onnxruntime" in out.stdout and "nope" in out.stdout and "skipped" in out.stdout
    assert [r["name"] for r in json.loads(js.read_text())["results"]] == ["dlc", "onnxruntime", "nope"]
    assert dlc_cmd("bench", tiny, "--batch", "0").returncode == 2


# ------------------------------------------------------------- threads
def big_matmul():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    return make_model(nodes, [("x", np.float32, [96, 200])], ["y"], {"w": rand(200, 160, seed=5)}, opset=17)


def test_results_do_not_depend_on_threads():
    x = rand(96, 200, seed=1)
    m = dlc.compile(big_matmul(), threads=1, cache=False)
    assert m.threads == 1
    y1 = m(x)
    m.threads = 2
    assert m.threads == 2
    y2 = m(x)
    np.testing.assert_array_equal(y1, y2)
    w = big_matmul().graph.initializer[0]
    from onnx import numpy_helper
    np.testing.assert_allclose(y1, x @ numpy_helper.to_array(w), rtol=1e-4, atol=1e-4)


def test_threads_option_and_environment(monkeypatch):
    with pytest.raises(ValueError, match="threads"):
        dlc.compile(big_matmul(), threads=0)
    monkeypatch.setenv("DLC_NUM_THREADS", "3")
    assert dlc.compile(big_matmul()).threads == 3
    monkeypatch.setenv("DLC_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="DLC_NUM_THREADS"):
        dlc.compile(big_matmul()).threads
