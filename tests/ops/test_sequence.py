"""Sequences and optionals (ir/ops/sequence.py, SequenceMap in
ir/ops/control.py) against onnxruntime: host-only values, run as host
steps; the tensors taken out of them flow into compiled segments."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from dlc.codegen.lower import lower_graph
from dlc.frontends.onnx import import_model
from dlc.ir import ShapeError
from dlc.ir.errors import ExecutionError, InputError, UnsupportedError
from dlc.ir.interpreter import interpret
from dlc.staged import Segment, StagedExecutable
from dlc.runtime.executable import Executable
from tests.util import make_model, rand, run_ort

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def tensor(name, elem=F, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def seq(name, elem=F, shape=None):
    return helper.make_value_info(name, helper.make_sequence_type_proto(helper.make_tensor_type_proto(elem, shape)))


def opt(name, inner):
    return helper.make_value_info(name, helper.make_optional_type_proto(inner))


def assert_same(got, want, what="output"):
    """Values compared as onnx's runner does: sequences item by item, optionals empty or equal."""
    if want is None:
        assert got is None, f"{what}: expected an empty optional, got {got!r}"
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{what}: {got!r} vs {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{what} item {i}")
    else:
        assert got.dtype == want.dtype and got.shape == want.shape, f"{what}: {got!r} vs {want!r}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)


def check(model, feeds):
    """dlc (compiled, staged) and the IR interpreter against onnxruntime."""
    want = run_ort(model, feeds)
    m = dlc.compile(model)
    got = m.run(None, feeds)
    for g, w, o in zip(got, want, model.graph.output):
        assert_same(g, w, f"dlc output {o.name!r}")
    g, sig = import_model(model)
    for g_, w, o in zip(interpret(g, [feeds[i.name] for i in sig.inputs]), want, model.graph.output):
        assert_same(g_, w, f"interpreter output {o.name!r}")
    return m, got


def test_construct_insert_erase_at_length():
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
             helper.make_node("SequenceInsert", ["s", "c", "pos"], ["s2"]),      # at the front
             helper.make_node("SequenceErase", ["s2", "neg"], ["s3"]),          # drops the last
             helper.make_node("SequenceInsert", ["s3", "a"], ["s4"]),           # at the back
             helper.make_node("SequenceAt", ["s4", "neg"], ["last"]),
             helper.make_node("SequenceLength", ["s4"], ["n"])]
    model = make_model(nodes, [tensor("a", F, [2, 3]), tensor("b", F, [4, 3]), tensor("c", F, [1, 3]),
                               tensor("pos", I64, []), tensor("neg", I64, [])],
                       [seq("s4", F, None), tensor("last"), tensor("n", I64, [])], opset=17)
    feeds = {"a": rand(2, 3), "b": rand(4, 3, seed=1), "c": rand(1, 3, seed=2), "pos": np.array(0),
             "neg": np.array(-1)}
    m, (s4, last, n) = check(model, feeds)
    assert [x.shape for x in s4] == [(1, 3), (2, 3), (2, 3)] and int(n) == 3


@pytest.mark.parametrize("split, attrs", [(None, {"axis": 1}), (None, {"axis": 0, "keepdims": 0}),
                                          (np.array(2), {"axis": 1}), (np.array([1, 4]), {"axis": -1})])
def test_split_to_sequence(split, attrs):
    inputs = ["x"] if split is None else ["x", "split"]
    node = helper.make_node("SplitToSequence", inputs, ["s"], **attrs)
    ins = [tensor("x", F, [3, 5])] + ([] if split is None else [tensor("split", I64, list(split.shape))])
    feeds = {"x": rand(3, 5)} | ({} if split is None else {"split": split})
    check(make_model([node], ins, [seq("s")], opset=17), feeds)


@pytest.mark.parametrize("axis, new_axis", [(0, 0), (1, 0), (-1, 1), (0, 1)])
def test_concat_from_sequence_then_compiled_code(axis, new_axis):
    """The concatenation is a host step; the Relu after it is a compiled segment."""
    nodes = [helper.make_node("SplitToSequence", ["x"], ["s"], axis=1, keepdims=1),
             helper.make_node("ConcatFromSequence", ["s"], ["c"], axis=axis, new_axis=new_axis),
             helper.make_node("Relu", ["c"], ["y"])]
    m, _ = check(make_model(nodes, [tensor("x", F, [2, 3])], [tensor("y")], opset=17), {"x": rand(2, 3)})
    exe = next(iter(m._exes.values()))
    assert isinstance(exe, StagedExecutable) and any(isinstance(st, Segment) for st in exe.stages)


def test_sequence_map_body_is_compiled():
    """SequenceMap(x items, w): each item + w, then its shape; the body is
    compiled once per item shape, not interpreted."""
    body = helper.make_graph([helper.make_node("Add", ["xi", "wi"], ["yi"]), helper.make_node("Shape", ["yi"], ["si"])],
                             "body", [tensor("xi", F, ["N"]), tensor("wi", F, [1])],
                             [tensor("yi", F, ["N"]), tensor("si", I64, [1])])
    node = helper.make_node("SequenceMap", ["xs", "w"], ["ys", "shapes"], body=body)
    model = make_model([node], [seq("xs", F, ["N"]), tensor("w", F, [1])],
                       [seq("ys", F, ["N"]), seq("shapes", I64, [1])], opset=17)
    feeds = {"xs": [rand(3), rand(5, seed=1), rand(3, seed=2)], "w": rand(1, seed=3)}
    m, _ = check(model, feeds)
    exe = next(iter(m._exes.values()))
    step = exe.stages[0]
    assert step.node.op == "sequence_map"
    compiled = [e for e in step.cache.values() if isinstance(e, Executable)]
    assert len(compiled) == 2, step.cache     # lengths 3 and 5


def test_loop_and_if_carry_sequences_and_optionals():
    """A Loop appends to a carried sequence; an If picks an optional's value or a new sequence."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Unsqueeze", ["fi", "ax"], ["item"]),
         helper.make_node("SequenceInsert", ["s_in", "item"], ["s_out"])],
        "body", [tensor("i", I64, []), tensor("c_in", TensorProto.BOOL, []), seq("s_in", F, [1])],
        [tensor("c_out", TensorProto.BOOL, []), seq("s_out", F, [1])], [helper.make_tensor("ax", I64, [1], [0])])
    then = helper.make_graph([helper.make_node("OptionalGetElement", ["o"], ["t_out"])], "then", [],
                             [seq("t_out", F, [1])])
    orelse = helper.make_graph([helper.make_node("SequenceConstruct", ["x"], ["e_out"])], "else", [],
                               [seq("e_out", F, [1])])
    nodes = [helper.make_node("OptionalHasElement", ["o"], ["has"]),
             helper.make_node("If", ["has"], ["s0"], then_branch=then, else_branch=orelse),
             helper.make_node("Loop", ["n", "", "s0"], ["s"], body=body),
             helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0)]
    f1 = helper.make_tensor_type_proto(F, [1])
    model = make_model(nodes, [opt("o", helper.make_sequence_type_proto(f1)), tensor("x", F, [1]),
                               tensor("n", I64, [])], [seq("s", F, [1]), tensor("y")], opset=17)
    check(model, {"o": [rand(1)], "x": rand(1, seed=1), "n": np.array(3)})
    check(model, {"o": None, "x": rand(1, seed=1), "n": np.array(2)})


def test_optional_outputs_and_has_element():
    nodes = [helper.make_node("Optional", ["x"], ["ox"]), helper.make_node("OptionalHasElement", ["ox"], ["has"]),
             helper.make_node("Optional", [], ["empty"], type=helper.make_tensor_type_proto(F, [2])),
             helper.make_node("OptionalHasElement", ["empty"], ["has_empty"])]
    model = make_model(nodes, [tensor("x", F, [2])],
                       [opt("ox", helper.make_tensor_type_proto(F, [2])), tensor("has", TensorProto.BOOL, []),
                        opt("empty", helper.make_tensor_type_proto(F, [2])), tensor("has_empty", TensorProto.BOOL, [])],
                       opset=18)
    x = rand(2)
    ox, has, empty, has_empty = dlc.compile(model).run(None, {"x": x})
    np.testing.assert_array_equal(ox, x)
    assert bool(has) and empty is None and not bool(has_empty)


def test_sequence_signature_save_and_load(tmp_path):
    model = make_model([helper.make_node("SequenceAt", ["s", "i"], ["y"]), helper.make_node("Neg", ["y"], ["z"])],
                       [seq("s", F, ["N"]), tensor("i", I64, [])], [tensor("z", F, ["N"])], opset=17)
    m = dlc.compile(model)
    assert m.inputs[0].type == "seq(tensor(float))" and m.inputs[0].container == ("seq",)
    feeds = {"s": [rand(2), rand(4, seed=1)], "i": np.array(1)}
    want = m.run(None, feeds)
    m.save(tmp_path / "m.dlc")
    got = dlc.load(tmp_path / "m.dlc").run(None, feeds)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(want[0], -feeds["s"][1])


# ------------------------------------------------------------------ errors
def _at_model():
    return make_model([helper.make_node("SequenceAt", ["s", "i"], ["y"], name="at")],
                      [seq("s", F, ["N"]), tensor("i", I64, [])], [tensor("y", F, ["N"])], opset=17)


@pytest.mark.parametrize("feeds, message", [
    ({"s": np.ones(3, np.float32), "i": np.array(0)}, "input 's': expected a sequence"),
    ({"s": [np.ones(3, np.int64)], "i": np.array(0)}, "input 's', item 0: expected dtype float32, got int64"),
    ({"s": [np.ones((3, 2), np.float32)], "i": np.array(0)}, "input 's', item 0: expected 1 dims"),
    ({"s": [np.ones(3, np.float32)], "i": [np.ones(1), np.ones(1)]},
     "input 'i': expected a tensor (int64), got a sequence"),
])
def test_wrong_feeds_name_the_input(feeds, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dlc.compile(_at_model()).run(None, feeds)


def test_run_time_errors_name_the_node():
    m = dlc.compile(_at_model())
    with pytest.raises(ExecutionError, match="at: .*position 2 is out of range for a sequence of 1"):
        m.run(None, {"s": [np.ones(3, np.float32)], "i": np.array(2)})
    get = make_model([helper.make_node("OptionalGetElement", ["o"], ["y"], name="get")],
                     [opt("o", helper.make_tensor_type_proto(F, [2]))], [tensor("y", F, [2])], opset=18)
    with pytest.raises(ExecutionError, match="get: .*the optional is empty"):
        dlc.compile(get).run(None, {"o": None})


def test_a_sequence_where_a_tensor_is_expected():
    model = make_model([helper.make_node("Relu", ["s"], ["y"], name="relu")], [seq("s", F, [2])], [tensor("y")],
                       opset=17)
    with pytest.raises(ShapeError, match=r"relu: input 0 \(s\) is a seq\(f32\[2\]\); relu takes tensors"):
        dlc.compile(model)
    bad = make_model([helper.make_node("SequenceInsert", ["s", "x"], ["t"], name="ins")],
                     [seq("s", F, [2]), tensor("x", I64, [2])], [seq("t")], opset=17)
    with pytest.raises(ShapeError, match="ins: cannot insert a int64 tensor into a sequence of float32"):
        dlc.compile(bad)


def test_native_code_refuses_sequences():
    """Staged execution keeps them out of native code; if one got there, codegen names it."""
    g, _ = import_model(_at_model())
    with pytest.raises(UnsupportedError, match=r"input s is a seq\(f32\[N\]\), which lives on the host"):
        lower_graph(g)
    model = make_model([helper.make_node("SequenceConstruct", ["x"], ["s"], name="make"),
                        helper.make_node("SequenceAt", ["s", "i"], ["y"])],
                       [tensor("x", F, [2]), tensor("i", I64, [])], [tensor("y", F, [2])], opset=17)
    g, _ = import_model(model)
    with pytest.raises(UnsupportedError, match=r"make: s is a seq\(f32\[2\]\), which lives on the host"):
        lower_graph(g)
