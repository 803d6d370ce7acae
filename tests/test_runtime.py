"""The compiled-model object: run contract, input validation, shape
specialization, concurrency, save/load, and bad artifacts."""
import threading

import numpy as np
import pytest
from onnx import helper

import dlc
from tests.util import make_model, rand, run_ort


def mlp_like(batch="N"):
    """y = relu(x * s + b); z = sum(y, axis=1)."""
    nodes = [helper.make_node("Mul", ["x", "s"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["h2"]),
             helper.make_node("Relu", ["h2"], ["y"]),
             helper.make_node("ReduceSum", ["y", "ax"], ["z"], keepdims=0)]
    return make_model(nodes, [("x", np.float32, [batch, 4])], ["y", "z"],
                      {"s": rand(4, seed=1), "b": rand(4, seed=3), "ax": np.array([1], np.int64)})


@pytest.fixture(scope="module")
def model():
    return mlp_like()


@pytest.fixture(scope="module")
def compiled(model):
    return dlc.compile(model)


def test_run_contract_matches_onnxruntime(model, compiled):
    x = rand(5, 4)
    want = run_ort(model, {"x": x})
    got = compiled.run(None, {"x": x})
    assert isinstance(got, list) and len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    (z,) = compiled.run(["z"], {"x": x})
    np.testing.assert_allclose(z, want[1], rtol=1e-5, atol=1e-6)
    y, z2 = compiled(x)                 # positional call
    np.testing.assert_allclose(z2, want[1], rtol=1e-5, atol=1e-6)
    y3, _ = compiled(x=x)               # keyword call
    np.testing.assert_array_equal(y3, y)


def test_describes_inputs_and_outputs(compiled):
    (i,) = compiled.inputs
    assert (i.name, i.dtype, i.shape, i.type) == ("x", np.float32, ("N", 4), "tensor(float)")
    assert [o.name for o in compiled.get_outputs()] == ["y", "z"]
    assert "x: float32[N,4]" in repr(compiled)


def test_symbolic_dims_specialize_once_per_shape(model):
    m = dlc.compile(model)
    assert m.compiled_shapes == []          # nothing to compile until a shape is seen
    for n in (1, 7, 7, 1, 7):
        m(rand(n, 4))
    assert sorted(k[0] for k in m.compiled_shapes) == [((1, 4),), ((7, 4),)]


def test_fixed_shape_at_compile_time(model):
    m = dlc.compile(model, shapes={"x": (2, 4)})
    assert m.inputs[0].shape == (2, 4) and len(m.compiled_shapes) == 1
    with pytest.raises(dlc.InputError, match="dim 0 must be 2"):
        m(rand(3, 4))


@pytest.mark.parametrize("feeds,message", [
    ({"x": rand(2, 4).astype(np.float64)}, "input 'x': expected dtype float32, got float64"),
    ({"x": rand(2, 5)}, "input 'x': dim 1 must be 4, got 5"),
    ({"x": rand(4)}, "input 'x': expected 2 dims"),
    ({}, "missing input 'x'"),
    ({"x": rand(2, 4), "q": rand(1)}, "unknown input 'q'"),
])
def test_bad_feeds_are_clear_errors(compiled, feeds, message):
    with pytest.raises(dlc.InputError, match=message):
        compiled.run(None, feeds)


def test_unknown_output_name(compiled):
    with pytest.raises(dlc.InputError, match="unknown output 'nope'"):
        compiled.run(["nope"], {"x": rand(2, 4)})


def test_lists_and_noncontiguous_inputs(compiled):
    x = rand(4, 8)[:, ::2]            # a strided view
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(compiled(x)[0], compiled(np.ascontiguousarray(x))[0])
    np.testing.assert_array_equal(compiled(x.tolist())[0], compiled(x)[0])


def test_symbol_shared_by_two_inputs_must_agree():
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"])],
                       [("a", np.float32, ["N", 3]), ("b", np.float32, ["N", 3])], ["y"])
    m = dlc.compile(model)
    with pytest.raises(dlc.InputError, match="'N'.*is 4, but it is 2 in input 'a'"):
        m(rand(2, 3), rand(4, 3))


def test_empty_tensors_and_nans(compiled):
    y, z = compiled(np.zeros((0, 4), np.float32))
    assert y.shape == (0, 4) and z.shape == (0,)
    x = rand(2, 4)
    x[0, 1] = np.nan
    y, z = compiled(x)
    assert np.isnan(z[0]) and np.isfinite(z[1])


def test_concurrent_runs_are_independent(compiled):
    xs = [rand(64, 4, seed=s) for s in range(8)]
    want = [compiled(x)[1] for x in xs]
    errors = []

    def work(i):
        for _ in range(50):
            got = compiled(xs[i])[1]
            if not np.array_equal(got, want[i]):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_save_load_roundtrip_without_llvm_optimization(tmp_path, compiled, monkeypatch):
    x = rand(3, 4)
    want = compiled(x)
    path = tmp_path / "m.dlc"
    compiled.save(path)

    def no_llvm(*a, **k):
        raise AssertionError("LLVM optimization ran while loading")
    import dlc.codegen.llvm.jit as jit
    import dlc.compiler as compiler
    monkeypatch.setattr(jit, "compile_ir", no_llvm)
    monkeypatch.setattr(compiler, "compile_ir", no_llvm)
    m2 = dlc.load(path)
    for a, b in zip(m2(x), want):
        np.testing.assert_array_equal(a, b)
    assert [i.name for i in m2.inputs] == ["x"]


def test_loaded_model_compiles_new_shapes_from_its_source(tmp_path, compiled):
    compiled(rand(3, 4))
    compiled.save(tmp_path / "m.dlc")
    m2 = dlc.load(tmp_path / "m.dlc")
    np.testing.assert_array_equal(m2(rand(11, 4))[1], compiled(rand(11, 4))[1])


def test_static_model_artifact_without_source_refuses_new_shapes(tmp_path, model):
    m = dlc.compile(model, shapes={"x": (2, 4)})
    m.save(tmp_path / "s.dlc")
    m2 = dlc.load(tmp_path / "s.dlc")
    np.testing.assert_array_equal(m2(rand(2, 4))[0], m(rand(2, 4))[0])
    with pytest.raises(dlc.InputError):
        m2(rand(3, 4))


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_artifacts_are_refused(tmp_path, compiled, damage):
    path = tmp_path / "m.dlc"
    compiled(rand(2, 4))
    compiled.save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not a dlc artifact at all" * 10)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(dlc.ArtifactError):
        dlc.load(path)


def test_artifact_for_other_cpu_is_refused(tmp_path, compiled):
    import json
    import zipfile
    path = tmp_path / "m.dlc"
    compiled(rand(2, 4))
    compiled.save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["dlc.json"])
    manifest["host"]["features"] += ",+imaginary-feature"
    members["dlc.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(dlc.ArtifactError, match="lacks CPU features imaginary-feature"):
        dlc.load(path)


def test_missing_artifact():
    with pytest.raises(dlc.ArtifactError, match="no such file"):
        dlc.load("/nonexistent/model.dlc")


def test_initializer_listed_as_input_is_a_weight_unless_fed():
    """MXNet-style: the bias is an initializer and also a graph input."""
    x_info = helper.make_tensor_value_info("x", 1, [2, 3])
    b_info = helper.make_tensor_value_info("b", 1, [3])
    model = make_model([helper.make_node("Add", ["x", "b"], ["y"])], [x_info, b_info], ["y"],
                       {"b": np.array([1, 2, 3], np.float32)})
    m = dlc.compile(model)
    assert [i.name for i in m.inputs] == ["x"]
    x = rand(2, 3)
    np.testing.assert_allclose(m(x), x + [1, 2, 3])
    fed = np.array([10, 20, 30], np.float32)
    np.testing.assert_allclose(m.run(None, {"x": x, "b": fed})[0], x + fed)
    np.testing.assert_allclose(m(x), x + [1, 2, 3])   # the weight is back when not fed


def test_output_that_is_an_input_or_constant_or_repeated():
    model = make_model([helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Identity", ["c"], ["k"]),
                        helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["r2"])],
                       [("x", np.float32, [2, 2])], ["y", "k", "r", "r2"], {"c": np.ones((2,), np.float32)})
    m = dlc.compile(model)
    x = rand(2, 2)
    y, k, r, r2 = m(x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(k, [1, 1])
    np.testing.assert_array_equal(r, np.maximum(x, 0))
    np.testing.assert_array_equal(r2, r)
    assert not np.shares_memory(r, r2)


def test_unknown_target():
    with pytest.raises(dlc.UnsupportedError, match="unknown target 'tpu'"):
        dlc.compile(mlp_like(), target="tpu")
