"""The IR on its own: building, printing, type rules, verifier, interpreter,
and the op registry's completeness."""
import numpy as np
import pytest

from dlc.ir import REGISTRY, Graph, ModelError, ShapeError, infer_shapes
from dlc.ir.interpreter import interpret
from dlc.ir.ops import KINDS
from dlc.ir.verify import verify


def small_graph(batch="N"):
    g = Graph("demo")
    x = g.add_input("x", "float32", (batch, 4))
    w = g.const(np.arange(4, dtype=np.float32), name="w")
    t = g.op("mul", [x, w], source="onnx Mul_0")
    y = g.op("relu", [t], source="onnx Relu_1")
    s = g.op("reduce_sum", [y], {"axes": (1,), "keepdims": False})
    g.outputs = [y, s]
    return g


def test_printer_shows_types_and_sources():
    text = str(small_graph())
    assert "graph demo(x: f32[N,4]) -> (t2: f32[N,4], t3: f32[N])" in text
    assert "w: f32[4] = const [0.,1.,2.,3.]" in text
    assert "t2: f32[N,4] = relu(t1)  # onnx Relu_1" in text
    assert "t3: f32[N] = reduce_sum(t2, axes=[1], keepdims=False)" in text


def test_symbolic_dims_and_specialized_inference():
    g = small_graph()
    assert g.outputs[1].shape == ("N",)
    g.inputs[0].shape = (3, 4)
    infer_shapes(g)
    assert g.outputs[0].shape == (3, 4) and g.outputs[1].shape == (3,)


def test_type_errors_name_the_node():
    g = Graph()
    a = g.add_input("a", "float32", (2, 3))
    b = g.add_input("b", "int64", (2, 3))
    with pytest.raises(ShapeError, match="onnx Add_9: add: input dtypes differ"):
        g.op("add", [a, b], source="onnx Add_9")
    c = g.add_input("c", "float32", (4,))
    with pytest.raises(ShapeError, match="cannot broadcast"):
        g.op("add", [a, c])


def test_verifier_accepts_good_and_rejects_broken_graphs():
    verify(small_graph())
    g = small_graph()
    g.nodes.reverse()                       # use before definition
    with pytest.raises(ModelError, match="before it is defined"):
        verify(g)
    g = small_graph()
    g.nodes[1].outputs[0].shape = (5, 5)    # a type that disagrees with the op's rule
    g.inputs[0].shape = (2, 4)
    infer_shapes(g.copy())
    with pytest.raises(ModelError, match="differ from inferred"):
        verify(g)
    g = small_graph()
    g.nodes[1].outputs[0].name = "x"        # duplicate names
    with pytest.raises(ModelError, match="two values are named 'x'"):
        verify(g)


def test_interpreter_matches_numpy():
    g = small_graph()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y, s = interpret(g, [x])
    np.testing.assert_allclose(y, np.maximum(x * np.arange(4), 0))
    np.testing.assert_allclose(s, y.sum(1), rtol=1e-6)


def test_copy_is_independent():
    g = small_graph()
    h = g.copy()
    h.inputs[0].shape = (7, 4)
    infer_shapes(h)
    assert g.outputs[0].shape == ("N", 4) and h.outputs[0].shape == (7, 4)
    assert str(g).replace("N", "7") == str(h)


def test_every_op_has_its_facets():
    """One op, one place: every registered op has a kind, a type rule, a
    numpy reference, and a lowering (a scalar formula or a loop nest), except
    views, which move no data, and ops that run on the host between compiled
    segments (output shapes that depend on data, control flow)."""
    for name, op in REGISTRY.items():
        assert op.kind in KINDS, name
        assert callable(op.infer) and callable(op.ref), name
        if op.kind == "view" or op.on_host:
            assert op.scalar is None and op.lower is None, name
            continue
        assert (op.scalar is not None) != (op.lower is not None), f"{name}: needs exactly one of scalar/lower"
        if op.kind in ("elemwise", "broadcast"):
            assert op.scalar is not None, f"{name}: elementwise ops lower through a scalar formula"
