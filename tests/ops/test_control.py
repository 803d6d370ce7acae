"""Control flow (If, Loop, Scan) against onnxruntime: bodies compiled and
driven by the host (dlc/staged.py, ir/ops/control.py), constant If
conditions inlined."""
import logging

import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from dlc.ir import ShapeError
from dlc.staged import StagedExecutable
from tests.util import check_model, make_model, rand

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, value):
    a = np.asarray(value)
    t = helper.make_tensor(name, F if a.dtype == np.float32 else I64, a.shape, a.reshape(-1).tolist())
    return helper.make_node("Constant", [], [name], value=t)


# ---------------------------------------------------------------------- If
def if_model():
    """y = If(sum(x) > 0): x * w (captured outer values) else: x[0:2] - 1
    (another shape: the output shape depends on the condition)."""
    then = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["t_out"])], "then", [], [vi("t_out", F, None)])
    orelse = helper.make_graph([const("one", np.float32(1)), const("st", [0]), const("en", [2]),
                                helper.make_node("Slice", ["x", "st", "en"], ["xs"]),
                                helper.make_node("Sub", ["xs", "one"], ["e_out"])],
                               "else", [], [vi("e_out", F, None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=orelse)]
    return make_model(nodes, [("x", np.float32, [4, 3])], ["y"],
                      {"w": rand(4, 3, seed=9), "zero": np.array(0, np.float32)}, opset=13)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_runtime_condition_runs_one_branch(sign):
    x = np.abs(rand(4, 3, seed=1)) * sign
    got = check_model(if_model(), {"x": x})
    assert got[0].shape == ((4, 3) if sign > 0 else (2, 3))


def test_if_only_the_taken_branch_runs():
    """The else branch would fail (a Gather index out of range): it must not run."""
    bad = helper.make_graph([const("i", [7]), helper.make_node("Gather", ["x", "i"], ["e_out"])],
                            "else", [], [vi("e_out", F, None)])
    good = helper.make_graph([helper.make_node("Neg", ["x"], ["t_out"])], "then", [], [vi("t_out", F, None)])
    model = make_model([helper.make_node("If", ["c"], ["y"], then_branch=good, else_branch=bad)],
                       [("c", np.bool_, []), ("x", np.float32, [3, 2])], ["y"], opset=13)
    m = dlc.compile(model)
    x = rand(3, 2)
    np.testing.assert_array_equal(m(np.array(True), x), -x)
    with pytest.raises(dlc.ExecutionError, match="Gather"):
        m(np.array(False), x)


def test_if_constant_condition_is_inlined():
    """A condition known at compile time: the chosen branch becomes part of the graph (one native call)."""
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t_out"])], "then", [], [vi("t_out", F, None)])
    orelse = helper.make_graph([helper.make_node("Neg", ["x"], ["e_out"])], "else", [], [vi("e_out", F, None)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Size", ["s"], ["rank"]),
             helper.make_node("Equal", ["rank", "two"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=orelse)]
    model = make_model(nodes, [("x", np.float32, [3, 2])], ["y"], {"two": np.array(2, np.int64)}, opset=13)
    check_model(model, {"x": rand(3, 2)})
    m = dlc.compile(model)
    m(rand(3, 2))
    assert not isinstance(m.executable((((3, 2),), ())), StagedExecutable)


def test_if_branches_of_different_ranks_are_refused():
    then = helper.make_graph([const("a", np.float32(1))], "then", [], [vi("a", F, None)])
    orelse = helper.make_graph([const("b", np.ones(2, np.float32))], "else", [], [vi("b", F, None)])
    model = make_model([helper.make_node("If", ["c"], ["y"], name="pick", then_branch=then, else_branch=orelse)],
                       [("c", np.bool_, [])], ["y"], opset=13)
    with pytest.raises(ShapeError, match="pick.*branches give"):
        dlc.compile(model)


# -------------------------------------------------------------------- Loop
def loop_model():
    """Loop up to M times while the running sum stays below a limit: carried
    (acc, k), a scan output per iteration, and an outer value (w) the body
    reads. The trip count depends on the data."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "w"], ["acc_out"]),
         helper.make_node("Cast", ["i"], ["i_f"], to=F),
         helper.make_node("Mul", ["acc_out", "i_f"], ["scan_out"]),
         helper.make_node("Add", ["k_in", "i"], ["k_out"]),
         helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"])],
        "body", [vi("i", I64, []), vi("cond_in", B, []), vi("acc_in", F, [2, 3]), vi("k_in", I64, [])],
        [vi("cond_out", B, []), vi("acc_out", F, [2, 3]), vi("k_out", I64, []), vi("scan_out", F, [2, 3])])
    nodes = [helper.make_node("Loop", ["M", "c", "acc0", "k0"], ["acc", "k", "scans"], body=body)]
    return make_model(nodes, [("M", np.int64, []), ("c", np.bool_, []), ("acc0", np.float32, [2, 3]),
                              ("k0", np.int64, [])], ["acc", "k", "scans"],
                      {"w": np.abs(rand(2, 3, seed=3)), "limit": np.array(20, np.float32)}, opset=13)


@pytest.mark.parametrize("trips,cond", [(10, True), (2, True), (0, True), (5, False)])
def test_loop_carried_scan_outputs_and_early_exit(trips, cond):
    feeds = {"M": np.array(trips, np.int64), "c": np.array(cond), "acc0": rand(2, 3, seed=4),
             "k0": np.array(100, np.int64)}
    check_model(loop_model(), feeds)


def test_loop_body_is_compiled_once_and_not_interpreted(monkeypatch):
    """The body runs as native code: the reference interpreter is never used,
    and one compile serves every iteration and every run."""
    import dlc.ir.ops.control as control
    model = loop_model()
    m = dlc.compile(model)

    def refuse(*args):
        raise AssertionError("the body was interpreted")
    monkeypatch.setattr(control, "_interpreted", refuse)
    feeds = {"M": np.array(10, np.int64), "c": np.array(True), "acc0": rand(2, 3, seed=4), "k0": np.array(0, np.int64)}
    m.run(None, feeds)
    m.run(None, feeds)
    exe = m.executable(((tuple(np.shape(v) for v in feeds.values())), ()))
    step = next(s for s in exe.stages if getattr(s, "node", None) is not None and s.node.op == "loop")
    assert len(step.cache) == 1


def test_loop_carried_value_growing_each_iteration():
    """A carried value whose shape changes every iteration (Concat): the body
    compiles once per shape."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Concat", ["seq_in", "x"], ["seq_out"], axis=0)],
        "body", [vi("i", I64, []), vi("cond_in", B, []), vi("seq_in", F, None)],
        [vi("cond_out", B, []), vi("seq_out", F, None)])
    model = make_model([helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)],
                       [("M", np.int64, []), ("x", np.float32, [1, 3])], ["y"], opset=13)
    check_model(model, {"M": np.array(4, np.int64), "x": rand(1, 3)})


def test_loop_with_a_slice_by_iteration_number():
    """The body's shapes depend on the iteration number (a Slice start):
    it compiles once per value, as the conformance case test_loop11."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Unsqueeze", ["i", "zero"], ["start"]),
         helper.make_node("Add", ["start", "two"], ["end"]),
         helper.make_node("Slice", ["x", "start", "end"], ["part"]),
         helper.make_node("ReduceSum", ["part"], ["s"], keepdims=0),
         helper.make_node("Add", ["acc_in", "s"], ["acc_out"])],
        "body", [vi("i", I64, []), vi("cond_in", B, []), vi("acc_in", F, [])],
        [vi("cond_out", B, []), vi("acc_out", F, [])])
    model = make_model([helper.make_node("Loop", ["M", "", "a0"], ["acc"], body=body)],
                       [("M", np.int64, []), ("a0", np.float32, []), ("x", np.float32, [6])], ["acc"],
                       {"zero": np.array([0], np.int64), "two": np.array([2], np.int64)}, opset=13)
    check_model(model, {"M": np.array(5, np.int64), "a0": np.array(1, np.float32), "x": rand(6)})


# -------------------------------------------------------------------- Scan
def scan_model(directions, out_axes, out_directions):
    """Two states (a running sum and a running product-like mix), two scanned
    inputs along different axes, two scan outputs, and an outer value."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["s_out"]),
         helper.make_node("Mul", ["b", "w"], ["bw"]),
         helper.make_node("Add", ["p_in", "bw"], ["p_out"]),
         helper.make_node("Tanh", ["s_out"], ["y1"]),
         helper.make_node("Sub", ["p_out", "s_out"], ["y2"])],
        "body", [vi("s_in", F, [3]), vi("p_in", F, [3]), vi("a", F, [3]), vi("b", F, [3])],
        [vi("s_out", F, [3]), vi("p_out", F, [3]), vi("y1", F, [3]), vi("y2", F, [3])])
    node = helper.make_node("Scan", ["s0", "p0", "xa", "xb"], ["s", "p", "ya", "yb"], body=body, num_scan_inputs=2,
                            scan_input_axes=[0, 1], scan_input_directions=directions,
                            scan_output_axes=out_axes, scan_output_directions=out_directions)
    return make_model([node], [("s0", np.float32, [3]), ("p0", np.float32, [3]), ("xa", np.float32, [5, 3]),
                               ("xb", np.float32, [3, 5])], ["s", "p", "ya", "yb"], {"w": rand(3, seed=7)}, opset=16)


@pytest.mark.parametrize("directions,out_axes,out_directions", [
    ([0, 0], [0, 0], [0, 0]), ([1, 0], [1, -1], [0, 1]), ([0, 1], [-2, 1], [1, 1])])
def test_scan_axes_and_directions(directions, out_axes, out_directions):
    feeds = {"s0": rand(3, seed=1), "p0": rand(3, seed=2), "xa": rand(5, 3, seed=3), "xb": rand(3, 5, seed=4)}
    check_model(scan_model(directions, out_axes, out_directions), feeds)


def test_scan_opset8_batch():
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x"], ["s_out"]),
                              helper.make_node("Identity", ["s_out"], ["y"])],
                             "body", [vi("s_in", F, [2]), vi("x", F, [2])], [vi("s_out", F, [2]), vi("y", F, [2])])
    node = helper.make_node("Scan", ["", "s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1, directions=[1])
    model = make_model([node], [("s0", np.float32, [3, 2]), ("xs", np.float32, [3, 4, 2])], ["s", "ys"], opset=8)
    check_model(model, {"s0": rand(3, 2, seed=1), "xs": rand(3, 4, 2, seed=2)})


def test_scan_inside_loop_with_if_in_the_scan_body():
    """Nesting: a Loop whose body runs a Scan whose body has an If on a
    value computed inside it (all compiled; the inner ones staged)."""
    then = helper.make_graph([helper.make_node("Add", ["s_in", "x"], ["t"])], "then", [], [vi("t", F, [2])])
    orelse = helper.make_graph([helper.make_node("Sub", ["s_in", "x"], ["e"])], "else", [], [vi("e", F, [2])])
    scan_body = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["xs"], keepdims=0),
         helper.make_node("Greater", ["xs", "zero"], ["pos"]),
         helper.make_node("If", ["pos"], ["s_out"], then_branch=then, else_branch=orelse)],
        "scan_body", [vi("s_in", F, [2]), vi("x", F, [2])], [vi("s_out", F, [2])])
    loop_body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Scan", ["acc_in", "seq"], ["acc_out"], body=scan_body, num_scan_inputs=1)],
        "loop_body", [vi("i", I64, []), vi("cond_in", B, []), vi("acc_in", F, [2])],
        [vi("cond_out", B, []), vi("acc_out", F, [2])])
    model = make_model([helper.make_node("Loop", ["M", "", "a0"], ["acc"], body=loop_body)],
                       [("M", np.int64, []), ("a0", np.float32, [2]), ("seq", np.float32, [4, 2])], ["acc"],
                       {"zero": np.array(0, np.float32)}, opset=13)
    check_model(model, {"M": np.array(3, np.int64), "a0": rand(2), "seq": rand(4, 2, seed=5)})


def test_control_flow_model_saves_and_loads(tmp_path, caplog):
    model = loop_model()
    feeds = {"M": np.array(6, np.int64), "c": np.array(True), "acc0": rand(2, 3, seed=4), "k0": np.array(1, np.int64)}
    m = dlc.compile(model)
    want = m.run(None, feeds)
    m.save(tmp_path / "m.dlc")
    with caplog.at_level(logging.INFO, logger="dlc"):
        got = dlc.load(tmp_path / "m.dlc").run(None, feeds)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_pytorch_scripted_loop_with_if():
    """A TorchScript export (tests/models/export_torch.py, LoopCell; kept out of
    tests/models/*.onnx, which test_models runs with a batch input): an ONNX
    Loop whose trip count is an input and whose body holds an If."""
    import os
    import onnx
    model = onnx.load(os.path.join(os.path.dirname(__file__), "..", "models", "control", "loop_cell_torchscript.onnx"))
    for steps, seed in ((0, 1), (1, 2), (3, 3), (6, 4)):
        check_model(model, {"x": rand(2, 8, seed=seed), "steps": np.array(steps, np.int64)}, rtol=1e-5)


def test_if_on_a_symbolic_dim_is_inlined_once_shapes_are_known():
    """The condition tests a dim that is symbolic in the model: known only
    when the model is specialized, where the taken branch replaces the If
    (the specialization is one native call, not staged)."""
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t_out"])], "then", [], [vi("t_out", F, None)])
    orelse = helper.make_graph([helper.make_node("Neg", ["x"], ["e_out"])], "else", [], [vi("e_out", F, None)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Greater", ["n", "two"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=orelse)]
    model = make_model(nodes, [("x", np.float32, ["batch", 3])], ["y"],
                       {"two": np.array(2, np.int64), "zero": np.array(0, np.int64)}, opset=13)
    m = dlc.compile(model)
    for n in (1, 4):
        x = rand(n, 3, seed=n)
        check_model(model, {"x": x})
        np.testing.assert_array_equal(m(x), np.maximum(x, 0) if n > 2 else -x)
        assert not isinstance(m.executable((((n, 3),), ())), StagedExecutable)
