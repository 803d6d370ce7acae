"""DFT against onnxruntime: real and complex input, forward and inverse,
one-sided (rfft / irfft), padded and truncated lengths, run-time axes."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op, rand


@pytest.mark.parametrize("complex_in", [False, True])
@pytest.mark.parametrize("inverse", [0, 1])
@pytest.mark.parametrize("axis", [1, 2])
def test_dft(complex_in, inverse, axis):
    x = rand(2, 7, 6, 2 if complex_in else 1)
    check_op("DFT", {"x": x, "len": None, "axis": np.array(axis, np.int64)}, {"inverse": inverse},
             constants=["axis"], opset=20, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("length", [4, 9])
def test_dft_length(length):
    check_op("DFT", {"x": rand(3, 6, 1), "len": np.array(length, np.int64)}, {"axis": 1}, constants=["len"],
             opset=17, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [8, 9])
def test_rfft_and_irfft(n):
    x = rand(2, n, 1)
    spec = check_op("DFT", {"x": x}, {"axis": 1, "onesided": 1}, opset=17, rtol=1e-4, atol=1e-4)[0]
    check_op("DFT", {"x": spec, "len": np.array(n, np.int64)}, {"axis": 1, "onesided": 1, "inverse": 1},
             constants=["len"], opset=17, rtol=1e-4, atol=1e-4)


def test_dft_run_time_axis():
    check_op("DFT", {"x": rand(3, 5, 4, 2), "len": None, "axis": np.array(-3, np.int64)}, opset=20,
             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("onesided", [0, 1])
@pytest.mark.parametrize("window", [False, True])
def test_stft(onesided, window):
    ins = {"x": rand(2, 40, 1), "step": np.array(6, np.int64),
           "w": np.hanning(10).astype(np.float32) if window else None,
           "len": None if window else np.array(10, np.int64)}
    check_op("STFT", ins, {"onesided": onesided}, constants=["step", "len"], opset=17, rtol=1e-4, atol=1e-4)


def test_mel_weight_matrix_folds_to_the_reference():
    ins = {"bins": np.array(8, np.int32), "len": np.array(16, np.int32), "rate": np.array(8192, np.int32),
           "lo": np.array(0, np.float32), "hi": np.array(4096, np.float32)}
    check_op("MelWeightMatrix", ins, constants=list(ins), opset=17, reference="onnx")
