"""Per-kernel profile: kernel times measured in the generated code, mapped to
ONNX nodes, as a table and a Chrome trace; the entry ABI's timestamps."""
import json

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc.runtime.artifact import FORMAT_VERSION
from tests.test_cli import dlc_cmd
from tests.util import make_model, rand


def mlp():
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="act1"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    return make_model(nodes, [("x", np.float32, [16, 64])], ["y"],
                      {"w1": rand(64, 128, seed=1), "w2": rand(128, 10, seed=2)})


def test_profile_rows_are_the_kernels_with_their_nodes():
    m = dlc.compile(mlp(), fuse=False)     # one kernel per ONNX node
    p = m.profile({"x": rand(16, 64)}, repeat=5)
    exe = m.executable((((16, 64),), ()))
    kernel_names = [c[0] for c in exe.meta.calls]
    assert sorted(r.name for r in p.kernels()) == sorted(kernel_names)
    by = {r.name: r for r in p.kernels()}
    assert by[kernel_names[0]].nodes == ["fc1"] and by[kernel_names[1]].nodes == ["act1"]
    assert all(r.calls == 5 and r.ns > 0 for r in p.kernels())
    assert p.runs == 5 and sum(r.ns for r in p.kernels()) <= p.wall_ns
    # the big matmul costs more than the relu
    assert by[kernel_names[0]].ns > by[kernel_names[1]].ns
    table = p.table()
    for name in kernel_names:
        assert name in table
    assert "fc1" in table and "(outside kernels)" in table


def test_fused_kernel_rows_list_every_node_they_cover():
    m = dlc.compile(mlp())
    p = m.profile({"x": rand(16, 64)}, repeat=2)
    fused = [r for r in p.kernels() if r.name.startswith("fused_")]
    assert fused and fused[0].nodes == ["fc1", "act1"]
    assert "fc1" in p.table() and "act1" in p.table()


def test_chrome_trace(tmp_path):
    m = dlc.compile(mlp(), fuse=False)
    p = m.profile({"x": rand(16, 64)}, repeat=2)
    p.save_chrome_trace(tmp_path / "t.json")
    trace = json.loads((tmp_path / "t.json").read_text())
    events = [e for e in trace["traceEvents"] if e["cat"] == "kernel"]
    assert len(events) == 2 * 3
    assert {e["ph"] for e in trace["traceEvents"]} == {"X"}
    assert events[0]["args"]["onnx_nodes"] == ["fc1"]
    # kernels of one run follow each other
    run0 = [e for e in events if e["args"]["run"] == 0]
    for a, b in zip(run0, run0[1:]):
        assert a["ts"] + a["dur"] <= b["ts"] + 1e-3


def test_timestamps_are_optional_and_checked():
    m = dlc.compile(mlp())
    exe = m.executable((((16, 64),), ()))
    x = rand(16, 64)
    plain = exe.run([x])
    stamps = np.zeros(len(exe.meta.calls) + 1, np.int64)
    timed = exe.run([x], stamps)
    np.testing.assert_array_equal(plain[0], timed[0])
    assert np.all(np.diff(stamps) >= 0) and stamps[0] > 0
    with pytest.raises(ValueError, match="int64"):
        exe.run([x], np.zeros(1, np.int64))


def test_artifacts_of_the_old_entry_abi_are_refused(tmp_path):
    import zipfile
    m = dlc.compile(mlp())
    m.save(tmp_path / "m.dlc")
    with zipfile.ZipFile(tmp_path / "m.dlc") as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["dlc.json"])
    manifest["format_version"] = FORMAT_VERSION - 1
    members["dlc.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "m.dlc", "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(dlc.ArtifactError, match="recompile"):
        dlc.load(tmp_path / "m.dlc")


def test_run_profile_command(tmp_path):
    path = tmp_path / "mlp.onnx"
    path.write_bytes(mlp().SerializeToString())
    out = dlc_cmd("run", path, "--random", "--profile", "--repeat", "3", "--trace", tmp_path / "t.json")
    assert out.returncode == 0, out.stderr
    assert "profile of test: 3 run(s)" in out.stdout and "fc1" in out.stdout and "fused_matmul_relu_0" in out.stdout
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
