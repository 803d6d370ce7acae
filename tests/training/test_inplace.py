"""In-place outputs: the compiled step writes new weights over the old ones
directly where no kernel still reads them afterwards, and through a
temporary copied back at the end otherwise."""
import numpy as np
import pytest

from dlc.compiler import Options, build
from dlc.ir import Graph


def _graph(update_first: bool):
    """new_p = p * 0.5 (in place over p) and r = sum(p * x) (reads the old p)."""
    g = Graph()
    p = g.add_input("p", np.float32, (4, 3))
    x = g.add_input("x", np.float32, (4, 3))
    if update_first:
        new_p = g.op("mul", [p, g.const(np.float32(0.5))])
        r = g.op("reduce_sum", [g.op("mul", [p, x])], {"axes": (0, 1), "keepdims": False})
    else:
        r = g.op("reduce_sum", [g.op("mul", [p, x])], {"axes": (0, 1), "keepdims": False})
        new_p = g.op("mul", [p, g.const(np.float32(0.5))])
    g.outputs = [r, new_p]
    return g


def test_update_after_every_read_runs_in_place():
    _, exe = build(_graph(update_first=False), Options(), inplace={1: 0})
    p = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = np.ones((4, 3), np.float32)
    r = np.zeros((), np.float32)
    out_p = np.empty_like(p)           # not written: output 1 lives in p's memory
    exe.bind([p, x], [r, out_p])()
    assert r == 66
    np.testing.assert_array_equal(p, np.arange(12).reshape(4, 3) * 0.5)
    r2, p2 = exe.run([p, x])           # run() returns the updated input as the output
    assert p2 is p and r2 == 33


@pytest.mark.parametrize("fuse", [True, False])
def test_update_before_a_read_goes_through_a_temporary(fuse):
    prog, exe = build(_graph(update_first=True), Options(fuse=fuse), inplace={1: 0})
    assert prog.calls[-1].kernel.name == "copy_back_1"
    p = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = np.ones((4, 3), np.float32)
    r, p2 = exe.run([p, x])
    assert r == 66 and p2 is p
    np.testing.assert_array_equal(p, np.arange(12).reshape(4, 3) * 0.5)


def test_fused_accumulating_update_is_not_written_in_place():
    """new_w = w - (x^T @ g): a fused matmul accumulates in its output before
    its epilogue reads w, so writing over w directly would read zeros."""
    g = Graph()
    w = g.add_input("w", np.float32, (3, 2))
    x = g.add_input("x", np.float32, (4, 3))
    gr = g.add_input("g", np.float32, (4, 2))
    g.outputs = [g.op("sub", [w, g.op("matmul", [g.op("transpose", [x], {"perm": (1, 0)}), gr])])]
    prog, exe = build(g, Options(), inplace={0: 0})
    assert prog.calls[-1].kernel.name == "copy_back_0"
    rng = np.random.default_rng(0)
    wv, xv, gv = (rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (4, 3), (4, 2)))
    want = wv - xv.T @ gv
    exe.run([wv, xv, gv])
    np.testing.assert_allclose(wv, want, rtol=1e-5)


def test_in_place_outputs_drop_noalias_on_shared_params():
    from dlc.codegen.llvm.module import render_program
    from dlc.codegen.inplace import alias_outputs
    from dlc.codegen.lower import lower_graph
    from dlc.compiler import optimize
    prog = alias_outputs(lower_graph(optimize(_graph(False), Options(fuse=False))), {1: 0})
    ll = str(render_program(prog))
    update = [line for line in ll.splitlines() if line.startswith('define internal void @"mul_2"')]
    assert update == ['define internal void @"mul_2"(ptr %"p", ptr noalias %"c", ptr %"t3") noinline nounwind']
