"""The on-disk compile cache: warm starts skip LLVM, corrupt entries are
rebuilt (never loaded), keys change with what changes the code, and every
compile of a new shape is logged with its reason."""
import logging

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc import cache
from tests.util import make_model, rand


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DLC_CACHE", raising=False)
    return tmp_path / "cache"


def model(n=3):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Relu", ["h"], ["y"], name="r")]
    return make_model(nodes, [("x", np.float32, ["N", n])], ["y"], {"w": rand(n, 4, seed=1)})


def no_llvm(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("LLVM ran on a warm start")
    import dlc.compiler as compiler
    monkeypatch.setattr(compiler, "compile_ir", fail)


def test_warm_start_skips_llvm(monkeypatch, own_cache):
    x = rand(2, 3)
    want = dlc.compile(model())(x)
    assert len(cache.CompileCache().entries()) == 1
    no_llvm(monkeypatch)
    m = dlc.compile(model())
    np.testing.assert_array_equal(m(x), want)
    assert [e["outcome"] for e in m.compile_events] == ["cached"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_entry_is_rebuilt_not_loaded(damage, caplog):
    x = rand(2, 3)
    want = dlc.compile(model())(x)
    (entry,) = cache.CompileCache().entries()
    data = bytearray(entry.path.read_bytes())
    if damage == "flip":          # a byte of the object code: the checksum catches it
        at = data.find(b"\x7fELF")
        data[at + 200] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"junk" * 50)
    entry.path.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="dlc"):
        m = dlc.compile(model())
        np.testing.assert_array_equal(m(x), want)
    assert m.compile_events[0]["outcome"] == "rebuilt (corrupt cache entry)"
    assert "is corrupt" in caplog.text and "rebuilding it" in caplog.text
    # the entry was rewritten and is good again
    m = dlc.compile(model())
    m(x)
    assert [e["outcome"] for e in m.compile_events] == ["cached"]


def test_entry_for_another_key_is_refused():
    dlc.compile(model())(rand(2, 3))
    dlc.compile(model(5))(rand(2, 5))
    by_shape = {e.shapes: e for e in cache.CompileCache().entries()}
    by_shape["[2,5]"].path.write_bytes(by_shape["[2,3]"].path.read_bytes())   # valid entry, wrong name
    m = dlc.compile(model(5))
    x = rand(2, 5, seed=3)
    np.testing.assert_allclose(m(x), np.maximum(x @ rand(5, 4, seed=1), 0), rtol=1e-5)
    assert m.compile_events[0]["outcome"] == "rebuilt (corrupt cache entry)"


def test_key_covers_shapes_weights_options():
    from dlc.compiler import GENERIC_PASSES, Options, specialize
    from dlc.frontends.onnx import import_model
    from dlc.ir.passes import run_passes

    def key(m, shape, **opts):
        g, _ = import_model(m)
        g = specialize(run_passes(g, GENERIC_PASSES), [shape])
        return cache.cache_key(g, Options(**opts))
    base = key(model(), (2, 3))
    assert base == key(model(), (2, 3))
    assert base != key(model(), (4, 3))
    other = model()
    other.graph.initializer[0].raw_data = rand(3, 4, seed=9).tobytes()
    assert base != key(other, (2, 3))
    assert base != key(model(), (2, 3), disabled_passes={"remove_noops"})
    assert {"dlc", "dlc_source", "llvmlite", "llvm", "features", "cpu", "triple"} <= set(cache.toolchain())


def test_recompiles_are_logged_with_their_reason(caplog):
    m = dlc.compile(model())
    with caplog.at_level(logging.INFO, logger="dlc"):
        m(rand(2, 3))
        m(rand(2, 3))
        m(rand(5, 3))
    reasons = [e["reason"] for e in m.compile_events]
    assert reasons == ["first call", "new shape x=[5,3] vs compiled x=[2,3]"]
    assert "first call" in caplog.text and "new shape x=[5,3] vs compiled x=[2,3]" in caplog.text


def test_cache_can_be_turned_off(monkeypatch):
    dlc.compile(model(), cache=False)(rand(2, 3))
    assert not cache.CompileCache().entries()
    monkeypatch.setenv("DLC_CACHE", "0")
    m = dlc.compile(model())
    m(rand(2, 3))
    assert not cache.CompileCache().entries()
    assert m.compile_events[0]["outcome"] == "compiled (cache off)"


def test_cache_info_and_clear_commands(own_cache):
    from tests.test_cli import dlc_cmd
    dlc.compile(model())(rand(2, 3))
    out = dlc_cmd("cache", "info")
    assert out.returncode == 0, out.stderr
    assert str(own_cache) in out.stdout and "entries: 1" in out.stdout and "test [2,3]" in out.stdout
    out = dlc_cmd("cache", "clear")
    assert out.returncode == 0 and "removed 1 entry" in out.stdout
    assert not cache.CompileCache().entries()


def test_suite_never_writes_to_the_home_cache():
    import os
    assert os.environ["DLC_CACHE_DIR"] != os.path.expanduser("~/.cache/dlc")
