"""The vectorized convolution schedules (ir/ops/conv_fast.py and the 1x1
GEMM in nn.py): depthwise (vectorized along rows) and the GEMM over shifted
rows of the (padded, phase-split) input,
against onnxruntime, with a fused epilogue, at 1 and 2 threads (which must
give identical results)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc.ir.ops import conv_fast
from tests.util import assert_close, make_model, rand, run_ort


def _check(xs, ws, attrs, bias=True, epilogue="Relu"):
    inputs = {"x": rand(*xs)}
    consts = {"w": rand(*ws, seed=1)}
    if bias:
        consts["b"] = rand(ws[0], seed=2)
    nodes = [helper.make_node("Conv", ["x", *consts], ["y"], **attrs)]
    if epilogue:
        nodes.append(helper.make_node(epilogue, ["y"], ["z"]))
    model = make_model(nodes, [("x", np.float32, list(xs))], ["z" if epilogue else "y"], consts)
    want = run_ort(model, inputs)[0]
    got = [dlc.compile(model, threads=t, cache=False).run(None, inputs)[0] for t in (1, 2)]
    assert_close(got[0], want, 1e-4, 1e-4)
    np.testing.assert_array_equal(got[0], got[1])


DEPTHWISE = [
    # x shape, w shape, attributes (group = channels unless given)
    ((1, 3, 9, 13), (3, 1, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((2, 5, 11, 17), (5, 1, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 4, 10, 23), (4, 1, 3, 3), dict(strides=[1, 3], pads=[0, 2, 1, 0])),
    ((1, 6, 8, 9), (6, 1, 3, 2), dict(dilations=[2, 3], pads=[2, 1, 1, 3])),
    ((1, 2, 7, 7), (6, 1, 5, 5), dict(group=2, pads=[2, 2, 2, 2])),                 # channel multiplier 3
    ((3, 40, 7, 7), (40, 1, 3, 3), dict(pads=[1, 1, 1, 1])),                         # more planes than slots
    ((1, 8, 32, 33), (8, 1, 3, 3), dict(strides=[2, 2], pads=[0, 0, 1, 1])),
    ((1, 3, 4, 1), (3, 1, 2, 1), {}),
    ((2, 32, 56, 57), (32, 1, 3, 3), dict(pads=[1, 1, 1, 1])),                      # parallel
]


@pytest.mark.parametrize("xs,ws,attrs", DEPTHWISE, ids=[str(i) for i in range(len(DEPTHWISE))])
def test_depthwise(xs, ws, attrs):
    _check(xs, ws, {"group": xs[1], **attrs})


SHIFTED = [
    ((1, 3, 9, 13), (5, 3, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((2, 16, 12, 12), (20, 16, 3, 3), {}),                                           # no copy of x
    ((1, 4, 9, 10), (3, 4, 2, 3), dict(pads=[0, 2, 1, 0], dilations=[2, 1])),
    ((2, 6, 7, 5), (6, 2, 3, 3), dict(group=3, pads=[1, 1, 1, 1])),
    ((1, 3, 30, 31), (9, 3, 5, 5), dict(pads=[2, 2, 2, 2])),                         # several GEMM tasks
    ((1, 20, 7, 7), (300, 20, 3, 3), dict(pads=[1, 1, 1, 1])),                       # rows over MC
    ((2, 3, 17), (4, 3, 3), dict(pads=[1, 2], dilations=[2])),                       # 1-D
    ((1, 2, 5, 6, 4), (3, 2, 3, 2, 2), dict(pads=[1, 0, 1, 1, 1, 0])),              # 3-D
    ((2, 8, 14, 15), (16, 8, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),        # stride: phase planes
    ((1, 8, 14, 13), (12, 8, 1, 1), dict(strides=[2, 2])),                           # 1x1 stride 2: one phase
    ((1, 3, 23, 22), (8, 3, 7, 7), dict(strides=[2, 2], pads=[3, 3, 3, 3])),         # a ResNet stem
    ((1, 4, 17, 19), (5, 4, 3, 2), dict(strides=[3, 2], dilations=[2, 3], pads=[2, 0, 1, 3])),
    ((1, 6, 5, 7), (4, 6, 1, 1), dict(pads=[1, 0, 0, 2])),                           # 1x1 with pads
    ((2, 4, 9, 8), (6, 2, 2, 2), dict(group=2, strides=[2, 3], pads=[0, 1, 1, 0])),
    ((1, 2, 7, 6, 5), (3, 2, 3, 2, 2), dict(strides=[2, 1, 2], pads=[1, 0, 1, 1, 1, 0])),
    ((1, 16, 9, 9), (8, 16, 1, 1), {}),                                              # 1x1 in place
    ((1, 48, 40, 41), (24, 48, 3, 3), dict(pads=[1, 1, 1, 1])),                     # B packed (input > L2/2)
    ((2, 40, 46, 47), (16, 40, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),    # packed phases
]


@pytest.mark.parametrize("xs,ws,attrs", SHIFTED, ids=[str(i) for i in range(len(SHIFTED))])
@pytest.mark.parametrize("bias", [True, False])
def test_shifted_gemm(xs, ws, attrs, bias):
    _check(xs, ws, attrs, bias)


def test_shifted_gemm_in_row_blocks(monkeypatch):
    # scratch smaller than the output: the GEMM runs over blocks of output rows
    monkeypatch.setattr(conv_fast, "SHIFT_BYTES", 2048)
    _check((2, 3, 12, 10), (8, 3, 3, 3), dict(pads=[1, 1, 1, 1]))
    _check((1, 2, 6, 5, 4), (3, 2, 3, 2, 2), dict(pads=[1, 0, 1, 1, 1, 0]))
    _check((1, 48, 40, 41), (8, 48, 3, 3), dict(pads=[1, 1, 1, 1]))      # B packed per block


@pytest.mark.parametrize("group,ws", [(4, (4, 1, 3, 3)), (1, (5, 4, 3, 3))])
def test_fused_prologue_input(group, ws):
    # x is a transpose read through in the conv's kernel (its loads are hooked): copied, not read in place
    model = make_model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                        helper.make_node("Conv", ["t", "w"], ["y"], group=group, pads=[1, 1, 1, 1])],
                       [("x", np.float32, [1, 9, 11, 4])], ["y"], {"w": rand(*ws, seed=1)})
    inputs = {"x": rand(1, 9, 11, 4)}
    assert_close(dlc.compile(model, cache=False).run(None, inputs)[0], run_ort(model, inputs)[0], 1e-4, 1e-4)
