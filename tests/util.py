"""Shared test helpers: build small ONNX models and compare dlc (compiled
and the IR reference interpreter) with onnxruntime."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

import dlc
from dlc.frontends.onnx import import_model
from dlc.ir import dtypes
from dlc.ir.interpreter import interpret

DEFAULT_OPSET = 21


def tensor_type(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def make_model(nodes: Sequence[onnx.NodeProto], inputs: Sequence, outputs: Sequence,
               initializers: Mapping[str, np.ndarray] | None = None, opset: int = DEFAULT_OPSET,
               name: str = "test") -> onnx.ModelProto:
    """`inputs`/`outputs`: ValueInfoProtos or (name, dtype, shape) tuples
    (shape None for outputs means "unknown")."""
    def vi(x):
        if isinstance(x, onnx.ValueInfoProto):
            return x
        if isinstance(x, str):
            return helper.make_empty_tensor_value_info(x)
        nm, dt, shape = x
        return helper.make_tensor_value_info(nm, tensor_type(dt), shape)
    inits = [numpy_helper.from_array(np.asarray(a), nm) for nm, a in (initializers or {}).items()]
    graph = helper.make_graph(list(nodes), name, [vi(x) for x in inputs], [vi(x) for x in outputs], inits)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def run_ort(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def run_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """onnxruntime's outputs; where it has no kernel for a type (many float64
    and integer variants), the onnx package's reference evaluator's."""
    import onnxruntime as ort
    try:
        return run_ort(model, feeds)
    except (ort.capi.onnxruntime_pybind11_state.NotImplemented,
            ort.capi.onnxruntime_pybind11_state.InvalidGraph) as e:
        if "implementation" not in str(e) and "Type Error" not in str(e):
            raise
    from onnx.reference import ReferenceEvaluator
    return [np.asarray(o) for o in ReferenceEvaluator(model).run(None, dict(feeds))]


def run_interpreter(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    g, sig = import_model(model, {k: np.shape(v) for k, v in feeds.items() if k in
                                  {i.name for i in model.graph.input}})
    return interpret(g, [feeds[i.name] for i in sig.inputs])


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != expected {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != expected {want.dtype}"
    if dtypes.kind(want.dtype) == "f" and want.dtype.kind != "f":   # ml_dtypes' floats: compare as float32
        got, want = got.astype(np.float32), want.astype(np.float32)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def run_onnx_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The onnx package's reference evaluator (the conformance suite's oracle)."""
    from onnx.reference import ReferenceEvaluator
    return [np.asarray(o) for o in ReferenceEvaluator(model).run(None, dict(feeds))]


def check_model(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], rtol: float = 1e-4,
                atol: float = 1e-5, interpreter: bool = True, expected: Sequence[np.ndarray] | None = None,
                reference: str = "ort", **compile_kwargs) -> list[np.ndarray]:
    """Compile with dlc, run, and compare every output with onnxruntime
    (``reference="onnx"``: the onnx reference evaluator; or `expected`); also
    check the IR reference interpreter. Returns dlc's outputs."""
    if expected is not None:
        want = list(expected)
    else:
        want = run_onnx_reference(model, feeds) if reference == "onnx" else run_reference(model, feeds)
    m = dlc.compile(model, **compile_kwargs)
    got = m.run(None, dict(feeds))
    assert len(got) == len(want)
    names = [o.name for o in model.graph.output]
    for g_, w, nm in zip(got, want, names):
        assert_close(g_, w, rtol, atol, f"dlc output {nm!r}")
    if interpreter:
        for g_, w, nm in zip(run_interpreter(model, feeds), want, names):
            assert_close(g_, w, rtol, atol, f"interpreter output {nm!r}")
    return got


def check_op(op_type: str, inputs: Mapping[str, np.ndarray], attrs: Mapping | None = None,
             n_outputs: int = 1, constants: Sequence[str] = (), opset: int = DEFAULT_OPSET,
             rtol: float = 1e-4, atol: float = 1e-5, **kwargs) -> list[np.ndarray]:
    """One-node model: `inputs` in order (a None value is an omitted optional
    input); names in `constants` become initializers, the rest graph inputs."""
    names = [k if v is not None else "" for k, v in inputs.items()]
    node = helper.make_node(op_type, names, [f"out{i}" for i in range(n_outputs)], name=f"{op_type}_0",
                            **dict(attrs or {}))
    graph_inputs = [(k, v.dtype, list(v.shape)) for k, v in inputs.items() if v is not None and k not in constants]
    inits = {k: v for k, v in inputs.items() if v is not None and k in constants}
    model = make_model([node], graph_inputs, [f"out{i}" for i in range(n_outputs)], inits, opset)
    feeds = {k: v for k, v in inputs.items() if v is not None and k not in constants}
    return check_model(model, feeds, rtol=rtol, atol=atol, **kwargs)


def rand(*shape, dtype=np.float32, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.uniform(low, high, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    return rng.integers(max(int(low), info.min), min(int(high) + 1, info.max), shape).astype(dtype)
