"""The LLVM renderer's polynomial math (codegen/llvm/vmath.py) and kernel-IR
vectors: accuracy over wide ranges, the IEEE edge cases, scalar and vector
forms alike, masked loads and stores, lane reductions."""
import ctypes
import math

import numpy as np
import pytest
from llvmlite import ir

from dlc.codegen.builder import KernelBuilder
from dlc.codegen.kir import Buffer
from dlc.codegen.llvm.jit import NativeCode, compile_ir
from dlc.codegen.llvm.render import render_kernel
from dlc.codegen.target import Target

AVX2 = Target("cpu", 256, 16, True)


def _compile(k: KernelBuilder):
    m = ir.Module("m")
    fn = render_kernel(m, k.kernel)
    fn.linkage = "external"
    nc = NativeCode(compile_ir(str(m)).object_code)
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(k.kernel.params))
    return nc, proto(nc.address(k.kernel.name))


def _apply(op: str, x: np.ndarray, vector: bool) -> np.ndarray:
    k = KernelBuilder("f", target=AVX2)
    n = x.size
    xb, yb = Buffer("x", x.dtype, (n,)), Buffer("y", x.dtype, (n,))
    k.kernel.params = [xb, yb]
    lanes = k.lanes(x.dtype) if vector else 1
    with k.loop(-(-n // lanes), "i") as i:
        v = k.vload(xb, [i * lanes], lanes, count=n - i * lanes) if lanes > 1 else k.load(xb, [i])
        k.store(yb, [i * lanes], getattr(k, op)(v), partial=True, count=n - i * lanes)
    keep, f = _compile(k)
    y = np.full_like(x, 7)
    f(x.ctypes.data, y.ctypes.data)
    return y


def _inputs(op: str, dt: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1.0, -1.0]
    if op == "log":
        body = np.exp(rng.uniform(np.log(1e-44), np.log(3e38), 20000))
        special += [5e-324, 1e-300, -2.0]
    else:
        lo, hi = {"exp": (-110, 90) if dt == "float32" else (-750, 720), "tanh": (-25, 25), "erf": (-7, 7)}[op]
        body = np.concatenate([rng.uniform(lo, hi, 20000), rng.uniform(-1e-3, 1e-3, 2000)])
    return np.concatenate([body, special]).astype(dt)


_REF = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "erf": np.vectorize(math.erf, otypes=[np.float64])}
CASES = [("exp", "float32"), ("log", "float32"), ("tanh", "float32"), ("erf", "float32"),
         ("exp", "float64"), ("tanh", "float64")]


@pytest.mark.parametrize("vector", [False, True], ids=["scalar", "vector"])
@pytest.mark.parametrize("op,dt", CASES)
def test_accuracy_and_edges(op, dt, vector):
    x = _inputs(op, dt)
    with np.errstate(all="ignore"):
        ref = _REF[op](x.astype(np.float64)).astype(dt).astype(np.float64)
        y = _apply(op, x, vector).astype(np.float64)
    fin = np.isfinite(ref)
    y_fin = np.where(fin, y, 0.0)
    # inf, nan, exp's overflow and log's domain: exactly as numpy
    np.testing.assert_array_equal(y[~fin], ref[~fin])
    info = np.finfo(dt)
    normal = fin & (np.abs(ref) >= info.tiny)
    ulps = np.abs(y_fin - ref)[normal] / (np.abs(ref[normal]) * info.eps)
    assert ulps.max() <= 4, f"{op} {dt}: {ulps.max():.2f} ulp"
    # results in the denormal range: within one denormal step or so
    sub = fin & ~normal
    assert np.all(np.abs(y_fin - ref)[sub] <= 2 * info.smallest_subnormal)


def test_masked_vectors_and_reductions():
    k = KernelBuilder("v", target=AVX2)
    x, y, s = Buffer("x", "float32", (3, 21)), Buffer("y", "float32", (3, 21)), Buffer("s", "float32", (3, 2))
    k.kernel.params = [x, y, s]
    L = k.lanes("float32")
    assert L == 8
    with k.loop(3, "r") as r:
        acc = k.local(k.broadcast(k.zero("float32"), L), "acc")
        mx = k.local(k.broadcast(k.const(-np.inf, "float32"), L), "mx")
        with k.loop(3, "c") as c:
            n = k.min(21 - c * L, L)
            v = k.vload(x, [r, c * L], L, count=n)
            k.store(y, [r, c * L], v * 2.0 + 1.0, partial=True, count=n)
            k.assign(acc, k.fma(v, v, acc))
            k.assign(mx, k.max(mx, k.select(k.vload(x, [r, c * L], L, count=n) == v, v, v)))
        k.store(s, [r, 0], k.reduce("add", acc))
        k.store(s, [r, 1], k.reduce("max", mx))
    keep, f = _compile(k)
    X = np.random.default_rng(1).standard_normal((3, 21)).astype(np.float32)
    Y, S = np.zeros_like(X), np.zeros((3, 2), np.float32)
    f(X.ctypes.data, Y.ctypes.data, S.ctypes.data)
    np.testing.assert_allclose(Y, X * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(S[:, 0], (X * X).sum(1), rtol=1e-5)
    # masked-off lanes load as 0: the max sees them (0 > negatives)
    np.testing.assert_array_equal(S[:, 1], np.maximum(X.max(1), 0))


def test_generic_target_has_no_vectors():
    k = KernelBuilder("g")
    assert k.lanes("float32") == 1 and k.lanes("float64") == 1
