"""Graph passes: each keeps the graph valid (verify) and its outputs equal
(the reference interpreter, before vs after)."""
import numpy as np
import pytest
from onnx import helper

from dlc.compiler import GENERIC_PASSES, Options, optimize, specialize
from dlc.frontends.onnx import import_model
from dlc.ir import Graph
from dlc.ir.interpreter import interpret
from dlc.ir.passes import (eliminate_common_subexpressions, eliminate_dead_code, fold_constants,
                           materialize_outputs, remove_noops, run_passes)
from dlc.ir.verify import verify
from tests.util import make_model, rand


def same_outputs(before: Graph, after: Graph, feeds):
    for a, b in zip(interpret(before, feeds), interpret(after, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def ops(g):
    return [n.op for n in g.nodes]


def test_fold_constants_evaluates_constant_subgraphs():
    g = Graph()
    x = g.add_input("x", "float32", (3,))
    c = g.op("exp", [g.const(np.array([0.0, 1.0, 2.0], np.float32))])
    d = g.op("mul", [c, g.const(np.float32(2))])
    g.outputs = [g.op("add", [x, d])]
    before = g.copy()
    verify(fold_constants(g))
    assert ops(g) == ["add"]
    same_outputs(before, g, [rand(3)])


def test_fold_leaves_large_growth_to_run_time():
    g = Graph()
    x = g.add_input("x", "float32", (1024, 1024))
    big = g.op("expand", [g.const(np.float32(1)), g.const(np.array([1024, 1024], np.int64))])
    g.outputs = [g.op("add", [x, big])]
    fold_constants(g)
    assert "expand" in ops(g)       # a 4 MB constant from a 4-byte one is not worth storing


def shape_chain_model():
    """x: [N, 3, 4] -> reshape to [N, 12] with the target computed by
    Shape -> Gather -> Unsqueeze -> Concat, as PyTorch exporters write it."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "m1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"]),
             helper.make_node("Relu", ["y"], ["z"])]
    return make_model(nodes, [("x", np.float32, ["N", 3, 4])], ["z"],
                      {"zero": np.array(0, np.int64), "ax0": np.array([0], np.int64),
                       "m1": np.array([-1], np.int64)})


def test_shape_chains_fold_after_specialization():
    g, _ = import_model(shape_chain_model())
    generic = run_passes(g, GENERIC_PASSES, check=True)
    assert "shape" in ops(generic)            # N is unknown: nothing to fold yet
    s = optimize(specialize(generic, [(5, 3, 4)]), Options(check=True))
    assert ops(s) == ["reshape", "relu"]      # the chain folded; the reshape is a view (no kernel)
    x = rand(5, 3, 4)
    np.testing.assert_array_equal(interpret(s, [x])[0], np.maximum(x.reshape(5, 12), 0))


def test_cse_merges_equal_nodes_and_constants():
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    a = g.op("mul", [x, g.const(np.float32(2))])
    b = g.op("mul", [x, g.const(np.float32(2))])   # same op on an equal constant
    g.outputs = [g.op("add", [a, b])]
    before = g.copy()
    verify(eliminate_common_subexpressions(g))
    assert ops(g) == ["mul", "add"]
    same_outputs(before, g, [rand(4)])


def test_dce_removes_unused_nodes():
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    g.op("exp", [x])
    g.outputs = [g.op("neg", [x])]
    verify(eliminate_dead_code(g))
    assert ops(g) == ["neg"]


@pytest.mark.parametrize("build", [
    lambda g, x: g.op("add", [x, g.const(np.zeros(4, np.float32))]),
    lambda g, x: g.op("mul", [g.const(np.ones((), np.float32)), x]),
    lambda g, x: g.op("cast", [x], {"to": np.dtype("float32")}),
    lambda g, x: g.op("transpose", [x], {"perm": (0,)}),
    lambda g, x: g.op("reshape", [x, g.const(np.array([4], np.int64))]),
    lambda g, x: g.op("expand", [x, g.const(np.array([4], np.int64))]),
])
def test_remove_noops(build):
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    g.outputs = [g.op("exp", [build(g, x)])]
    before = g.copy()
    verify(remove_noops(g))
    assert ops(g) == ["exp"]
    same_outputs(before, g, [rand(4)])


def test_noop_with_broadcast_is_kept():
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    g.outputs = [g.op("add", [x, g.const(np.zeros((2, 4), np.float32))])]   # changes the shape
    remove_noops(g)
    assert ops(g) == ["add"]


def test_view_chains_collapse():
    g = Graph()
    x = g.add_input("x", "float32", (2, 3, 4))
    a = g.op("flatten", [x], {"axis": 1})
    b = g.op("unsqueeze", [a], {"axes": (0,)})
    g.outputs = [g.op("neg", [b])]
    before = g.copy()
    verify(remove_noops(g))
    assert ops(g) == ["reshape", "neg"] and g.nodes[0].inputs[0] is g.inputs[0]
    same_outputs(before, g, [rand(2, 3, 4)])


def test_materialize_outputs():
    g = Graph()
    x = g.add_input("x", "float32", (4,))
    r = g.op("relu", [x])
    v = g.op("reshape", [r, g.const(np.array([2, 2], np.int64))])
    g.outputs = [x, r, r, v, g.const(np.ones(2, np.float32))]
    before = g.copy()
    verify(materialize_outputs(g))
    producers = [o.producer.op for o in g.outputs]
    assert producers == ["copy", "relu", "copy", "copy", "copy"]
    same_outputs(before, g, [rand(4)])
