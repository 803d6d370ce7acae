"""End to end: whole models compiled by dlc match onnxruntime (rtol 1e-4),
with fusion and memory planning on and off.

Models written with onnx.helper (tests/model_zoo.py) and models exported by
PyTorch with both of its exporters (tests/models/, see export_torch.py)."""
import glob
import os

import numpy as np
import onnx
import pytest

import dlc
from tests.model_zoo import MODELS
from tests.util import check_model, rand, run_ort

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_MODELS = sorted(glob.glob(os.path.join(HERE, "models", "*.onnx")))


FUSE = pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])


@FUSE
@pytest.mark.parametrize("name", sorted(MODELS))
def test_helper_built_models_match_onnxruntime(name, fuse):
    model, shape = MODELS[name]()
    check_model(model, {"x": rand(*shape, seed=7)}, rtol=1e-4, atol=1e-5, fuse=fuse, plan_memory=fuse)


@FUSE
@pytest.mark.parametrize("name", sorted(MODELS))
def test_symbolic_batch_runs_at_several_sizes(name, fuse):
    model, shape = MODELS[name]()
    m = dlc.compile(model, fuse=fuse)
    for n in (1, 3):
        x = rand(n, *shape[1:], seed=n)
        np.testing.assert_allclose(m(x), run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_torch_models_are_present():
    assert len(TORCH_MODELS) == 10, "run tests/models/export_torch.py"


@FUSE
@pytest.mark.parametrize("path", TORCH_MODELS, ids=lambda p: os.path.basename(p)[:-5])
def test_torch_exported_models_match_onnxruntime(path, fuse):
    model = onnx.load(path)
    dims = [d.dim_value or 2 for d in model.graph.input[0].type.tensor_type.shape.dim]
    check_model(model, {"x": rand(*dims, seed=3)}, rtol=1e-4, atol=1e-5, interpreter=False, fuse=fuse,
                plan_memory=fuse)


@FUSE
def test_bundled_example_model(fuse):
    ex = os.path.join(HERE, "..", "examples", "models")
    m = dlc.compile(os.path.join(ex, "digits_cnn.onnx"), fuse=fuse)
    data = np.load(os.path.join(ex, "digits_test.npz"))
    probs = m(data["images"])
    assert (probs.argmax(1) == data["labels"]).mean() > 0.95
    model = onnx.load(os.path.join(ex, "digits_cnn.onnx"))
    np.testing.assert_allclose(probs, run_ort(model, {"image": data["images"]})[0], rtol=1e-4, atol=1e-6)
