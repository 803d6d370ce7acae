"""RNN, GRU and LSTM against onnxruntime: directions, sequence lengths,
initial states, biases, peepholes, activations, clip, layouts."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op, rand

SEQ, BATCH, IN, HID = 5, 3, 4, 6
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _inputs(op, dirs, seq_lens=False, initial=False, peepholes=False, layout=0, seed=0):
    g = GATES[op]
    x = rand(SEQ, BATCH, IN, seed=seed) if not layout else rand(BATCH, SEQ, IN, seed=seed)
    ins = {"x": x, "w": rand(dirs, g * HID, IN, seed=seed + 1, low=-0.5, high=0.5),
           "r": rand(dirs, g * HID, HID, seed=seed + 2, low=-0.5, high=0.5),
           "b": rand(dirs, 2 * g * HID, seed=seed + 3, low=-0.5, high=0.5)}
    ins["lens"] = np.array([5, 2, 4], np.int32) if seq_lens else None
    h_shape = (dirs, BATCH, HID) if not layout else (BATCH, dirs, HID)
    ins["h0"] = rand(*h_shape, seed=seed + 4) if initial else None
    if op == "LSTM":
        ins["c0"] = rand(*h_shape, seed=seed + 5) if initial else None
        ins["p"] = rand(dirs, 3 * HID, seed=seed + 6, low=-0.5, high=0.5) if peepholes else None
    return ins


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("seq_lens", [False, True])
def test_directions_and_lengths(op, direction, seq_lens):
    dirs = 2 if direction == "bidirectional" else 1
    ins = _inputs(op, dirs, seq_lens=seq_lens, initial=True, peepholes=True)
    n = 3 if op == "LSTM" else 2
    check_op(op, ins, {"hidden_size": HID, "direction": direction}, n_outputs=n, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op,acts", [
    ("RNN", ["Relu"]), ("RNN", ["LeakyRelu"]), ("GRU", ["HardSigmoid", "Softsign"]),
    ("LSTM", ["Sigmoid", "Elu", "ScaledTanh"]), ("LSTM", ["HardSigmoid", "Tanh", "Softplus"]),
])
def test_activations(op, acts):
    attrs = {"hidden_size": HID, "activations": acts}
    if "LeakyRelu" in acts or "Elu" in acts or "HardSigmoid" in acts or "ScaledTanh" in acts:
        attrs["activation_alpha"] = [0.3, 0.9]
        attrs["activation_beta"] = [0.4]
    check_op(op, _inputs(op, 1), attrs, n_outputs=3 if op == "LSTM" else 2, rtol=1e-4, atol=1e-5)


def test_gru_linear_before_reset_and_clip():
    check_op("GRU", _inputs("GRU", 1, initial=True), {"hidden_size": HID, "linear_before_reset": 1, "clip": 0.8},
             n_outputs=2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_batch_major_layout(op):
    """layout=1 (onnxruntime has no kernel for it) against layout 0 transposed."""
    ins = _inputs(op, 2, initial=True, layout=0)
    n = 3 if op == "LSTM" else 2
    attrs = {"hidden_size": HID, "direction": "bidirectional"}
    want = check_op(op, ins, attrs, n_outputs=n, rtol=1e-4, atol=1e-5)
    batch_major = dict(ins, x=ins["x"].transpose(1, 0, 2), h0=ins["h0"].transpose(1, 0, 2))
    if op == "LSTM":
        batch_major["c0"] = ins["c0"].transpose(1, 0, 2)
    expected = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2) for w in want[1:]]
    check_op(op, batch_major, dict(attrs, layout=1), n_outputs=n, expected=expected, rtol=1e-6, atol=1e-6)


def test_lstm_without_optional_inputs_and_only_y_h():
    ins = {"x": rand(SEQ, BATCH, IN), "w": rand(1, 4 * HID, IN, seed=1), "r": rand(1, 4 * HID, HID, seed=2)}
    check_op("LSTM", ins, {"hidden_size": HID}, n_outputs=2, rtol=1e-4, atol=1e-5)


def test_lstm_input_forget_and_float64():
    ins = _inputs("LSTM", 1, initial=True)
    want = check_op("LSTM", ins, {"hidden_size": HID, "input_forget": 1}, n_outputs=3, rtol=1e-4, atol=1e-5)
    ins64 = {k: (v.astype(np.float64) if v is not None and v.dtype == np.float32 else v) for k, v in ins.items()}
    # onnxruntime has no float64 LSTM: against the float32 results
    check_op("LSTM", ins64, {"hidden_size": HID, "input_forget": 1}, n_outputs=3,
             expected=[w.astype(np.float64) for w in want], rtol=1e-4, atol=1e-5)
