"""Training ONNX models: gradients of real PyTorch exports against central
differences (in float64), fine-tuning chosen initializers with dlc.train,
training-mode BatchNormalization and Dropout, and the trained model
running in onnxruntime."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import dlc
from tests.util import make_model, run_ort

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")


def to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same model computing in float64 (initializers, inputs, outputs, Casts, Constants)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    for n in m.graph.node:
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
    return m


EXPORTS = {   # model file: input shape (batch 2)
    "lenet_torchscript": (2, 1, 28, 28),
    "resnet_small_torchscript": (2, 3, 32, 32),
    "mobilenet_small_dynamo": (2, 3, 32, 32),
    "encoder_torchscript": (2, 16, 32),
}


@pytest.mark.parametrize("name", list(EXPORTS))
def test_gradients_of_pytorch_exports_match_central_differences(name):
    model = to_float64(onnx.load(os.path.join(MODELS, f"{name}.onnx")))
    rng = np.random.default_rng(0)
    x = rng.normal(size=EXPORTS[name])
    sess = dlc.TrainingSession(model, "mse", "sgd")
    y = sess.predict(x) + rng.normal(size=sess.predict(x).shape)
    loss, grads = sess.gradients(x, y)
    for w in sess.trainable[::max(1, len(sess.trainable) // 8)]:    # a spread of the weights
        arr = sess.state[w]
        flat = arr.reshape(-1)
        for i in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            hi, _ = sess.gradients(x, y)
            flat[i] = old - 1e-6
            lo, _ = sess.gradients(x, y)
            flat[i] = old
            numeric = (hi - lo) / 2e-6
            assert abs(grads[w].reshape(-1)[i] - numeric) <= 1e-6 + 1e-5 * abs(numeric), (w, i)


def test_fine_tune_chosen_initializers_and_export():
    path = os.path.join(MODELS, "lenet_torchscript.onnx")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 1, 28, 28)).astype(np.float32)
    y = np.argmax(x.reshape(64, 4, -1).mean(-1), 1) + 3 * (x[:, 0, 0, 0] > 0)   # learnable labels
    fc = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    sess = dlc.TrainingSession(path, dlc.losses.SparseCategoricalCrossentropy(from_logits=True),
                               dlc.optimizers.Adam(1e-2), trainable=fc, metrics=["accuracy"])
    conv_before = sess.predict(x[:4])
    start = sess.evaluate(x, y)["loss"]
    hist = sess.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0] and sess.evaluate(x, y)["loss"] < 0.85 * start
    trained = sess.export()
    inits = {t.name: numpy_helper.to_array(t) for t in trained.graph.initializer}
    orig = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    assert np.array_equal(inits["conv1.weight"], orig["conv1.weight"])
    assert not np.array_equal(inits["fc3.weight"], orig["fc3.weight"])
    np.testing.assert_allclose(run_ort(trained, {"x": x[:8]})[0], sess.predict(x[:8]), rtol=1e-4, atol=1e-5)
    assert not np.allclose(conv_before, sess.predict(x[:4]))
    one_call = dlc.train(path, x, y, loss=dlc.losses.SparseCategoricalCrossentropy(from_logits=True),
                         optimizer=dlc.optimizers.Adam(1e-2), trainable=fc, epochs=6, batch_size=16)
    np.testing.assert_allclose(run_ort(one_call, {"x": x[:8]})[0], sess.predict(x[:8]), rtol=1e-3, atol=1e-4)


def bn_dropout_model():
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("BatchNormalization", ["h", "g", "beta", "mean", "var"], ["hn"], momentum=0.8),
             helper.make_node("Relu", ["hn"], ["r"]),
             helper.make_node("Dropout", ["r", "ratio"], ["d"], seed=5),
             helper.make_node("Gemm", ["d", "w2", "b2"], ["y"], transB=1)]
    inits = {"w1": rng.normal(size=(8, 4)).astype(np.float32), "b1": np.zeros(8, np.float32),
             "g": np.ones(8, np.float32), "beta": np.zeros(8, np.float32), "mean": np.zeros(8, np.float32),
             "var": np.ones(8, np.float32), "ratio": np.array(0.5, np.float32),
             "w2": rng.normal(size=(1, 8)).astype(np.float32), "b2": np.zeros(1, np.float32)}
    return make_model(nodes, [("x", np.float32, ["N", 4])], ["y"], inits, opset=15)


def test_batchnorm_and_dropout_train_in_training_mode():
    model = bn_dropout_model()
    rng = np.random.default_rng(3)
    x = rng.normal(loc=2.0, size=(32, 4)).astype(np.float32)
    y = x[:, :1] - x[:, 1:2]
    sess = dlc.TrainingSession(model, "mse", dlc.optimizers.SGD(0.05))
    assert "mean" not in sess.trainable and "ratio" not in sess.trainable
    l1, _ = sess.gradients(x, y)
    sess.state["step"][...] = 7                        # another step draws another dropout mask
    l2, _ = sess.gradients(x, y)
    assert l1 != l2
    np.testing.assert_array_equal(sess.predict(x), sess.predict(x))   # inference: no dropout
    sess.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert not np.allclose(sess.state["mean"], 0)      # running statistics moved toward the batch's
    assert np.all(sess.state["var"] != 1)
    trained = sess.export()
    np.testing.assert_allclose(run_ort(trained, {"x": x})[0], sess.predict(x), rtol=1e-4, atol=1e-5)
