"""ImageDecoder: decoded by Pillow in a host step; the pixels of a losslessly
encoded image come back exactly, and bad input fails naming the node."""
from __future__ import annotations

import io

import numpy as np
import pytest
from onnx import helper

import dlc
from dlc.ir.errors import ExecutionError, ShapeError, UnsupportedError
from tests.util import make_model

PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow is in the test extra")


def decoder(fmt="RGB"):
    node = helper.make_node("ImageDecoder", ["data"], ["image"], pixel_format=fmt, name="decode")
    return make_model([node], [("data", np.uint8, ["n"])], [("image", np.uint8, None)], opset=20)


def encoded(pixels: np.ndarray, fmt: str) -> np.ndarray:
    buf = io.BytesIO()
    PIL_Image.fromarray(pixels).save(buf, format=fmt)
    return np.frombuffer(buf.getvalue(), np.uint8)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_lossless_formats_decode_exactly(fmt):
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    m = dlc.compile(decoder("RGB"))
    np.testing.assert_array_equal(m.run(None, {"data": encoded(pixels, fmt)})[0], pixels)
    bgr = dlc.compile(decoder("BGR")).run(None, {"data": encoded(pixels, fmt)})[0]
    np.testing.assert_array_equal(bgr, pixels[:, :, ::-1])


def test_grayscale_and_a_size_change_between_calls():
    m = dlc.compile(decoder("Grayscale"))
    for shape in ((4, 6), (9, 2)):
        gray = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
        got = m.run(None, {"data": encoded(gray, "PNG")})[0]
        assert got.shape == shape + (1,)
        np.testing.assert_array_equal(got[:, :, 0], gray)


def test_bytes_that_are_no_image_fail_naming_the_node():
    m = dlc.compile(decoder())
    with pytest.raises(ExecutionError, match="decode.*cannot decode the image"):
        m.run(None, {"data": np.arange(40, dtype=np.uint8)})


def test_bad_attributes_and_input_types_are_refused():
    with pytest.raises(dlc.ModelError, match="pixel_format"):
        dlc.compile(decoder("CMYK"))
    node = helper.make_node("ImageDecoder", ["data"], ["image"])
    with pytest.raises(ShapeError, match="1-D uint8"):
        dlc.compile(make_model([node], [("data", np.float32, [10])], [("image", np.uint8, None)], opset=20))


def test_without_pillow_the_error_says_how_to_get_it(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else real(name, *a))
    with pytest.raises(UnsupportedError, match="pip install pillow"):
        dlc.compile(decoder())
