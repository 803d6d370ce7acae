"""CumSum and CumProd against onnxruntime (CumProd: the onnx reference):
constant axes (a linear scan) and run-time axes (a prefix per element)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op, rand


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("const_axis", [True, False])
def test_cumsum(axis, exclusive, reverse, const_axis):
    inputs = {"x": rand(3, 4, 5), "axis": np.array(axis, np.int64)}
    check_op("CumSum", inputs, {"exclusive": exclusive, "reverse": reverse},
             constants=["axis"] if const_axis else [])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
def test_cumsum_dtypes(dtype):
    check_op("CumSum", {"x": rand(6, 2, dtype=dtype, low=-9, high=9), "axis": np.array(0, np.int32)},
             constants=["axis"])


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("const_axis", [True, False])
def test_cumprod(axis, exclusive, reverse, const_axis):
    check_op("CumProd", {"x": rand(3, 4, low=0.5, high=1.5), "axis": np.array(axis, np.int64)},
             {"exclusive": exclusive, "reverse": reverse}, constants=["axis"] if const_axis else [],
             opset=26, reference="onnx")
