"""GridSample and RoiAlign against onnxruntime (N-D GridSample: the onnx
reference)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op, rand


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_2d(mode, padding, align_corners):
    x = rand(2, 3, 5, 6)
    grid = rand(2, 4, 7, 2, low=-1.4, high=1.4, seed=1)   # some positions fall outside
    check_op("GridSample", {"x": x, "g": grid},
             {"mode": mode, "padding_mode": padding, "align_corners": align_corners}, opset=20,
             rtol=1e-4, atol=1e-5,
             # cubic + border: onnxruntime clamps the taps, the onnx reference (which dlc follows) the coordinate
             reference="onnx" if (mode, padding) == ("cubic", "border") else "ort")


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_grid_sample_3d(mode):
    check_op("GridSample", {"x": rand(1, 2, 3, 4, 5), "g": rand(1, 2, 3, 2, 3, low=-1.2, high=1.2, seed=1)},
             {"mode": mode, "padding_mode": "border"}, opset=20, reference="onnx")


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("ctm", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align(mode, ctm, sampling_ratio):
    x = rand(2, 3, 10, 12)
    rois = np.array([[0, 0, 9, 9], [1.5, 2.5, 7.2, 8.1], [3, 1, 11, 4], [-2, -1, 3, 2]], np.float32)
    batch = np.array([0, 1, 1, 0], np.int64)
    check_op("RoiAlign", {"x": x, "rois": rois, "b": batch},
             {"mode": mode, "coordinate_transformation_mode": ctm, "output_height": 3, "output_width": 4,
              "sampling_ratio": sampling_ratio, "spatial_scale": 0.8}, opset=16, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attrs,with_mask,with_bias", [
    (dict(), False, False),
    (dict(pads=[1, 1, 1, 1]), True, True),
    (dict(strides=[2, 1], dilations=[1, 2], pads=[1, 0, 1, 2]), True, False),
    (dict(group=2, offset_group=2, pads=[1, 1, 1, 1]), False, True),
])
def test_deform_conv(attrs, with_mask, with_bias):
    x, w = rand(1, 4, 5, 6), rand(4, 4 // attrs.get("group", 1), 3, 2, seed=1)
    s, d, p = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1]), attrs.get("pads", [0, 0, 0, 0])
    oh = (5 + p[0] + p[2] - (2 * d[0] + 1)) // s[0] + 1
    ow = (6 + p[1] + p[3] - (1 * d[1] + 1)) // s[1] + 1
    og = attrs.get("offset_group", 1)
    ins = {"x": x, "w": w, "off": rand(1, og * 6 * 2, oh, ow, seed=2, low=-1.5, high=1.5),
           "b": rand(4, seed=3) if with_bias else None,
           "mask": rand(1, og * 6, oh, ow, seed=4, low=0, high=1) if with_mask else None}
    check_op("DeformConv", ins, dict(attrs, kernel_shape=[3, 2]), opset=22, reference="onnx", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attrs", [dict(), dict(strides=[2, 1]), dict(pads=[1, 0, 1, 2], dilations=[1, 2])])
def test_col2im(attrs):
    image, block = [5, 6], [2, 3]
    s, d, p = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1]), attrs.get("pads", [0, 0, 0, 0])
    grid = [(image[j] + p[j] + p[2 + j] - (d[j] * (block[j] - 1) + 1)) // s[j] + 1 for j in range(2)]
    x = rand(2, 3 * 6, grid[0] * grid[1])
    check_op("Col2Im", {"x": x, "i": np.array(image, np.int64), "b": np.array(block, np.int64)}, attrs,
             constants=["i", "b"], opset=18, rtol=1e-5, atol=1e-6)
