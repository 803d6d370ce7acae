"""dlc.keras: layer shapes and parameter counts as Keras computes them, the
functional and Sequential APIs, fit / evaluate / predict / summary, weight
saving, dropout and frozen layers, and export to ONNX (onnxruntime and
`dlc compile` run the exported model like predict does)."""
import io
from contextlib import redirect_stdout

import numpy as np
import onnx
import pytest

import dlc
from dlc import keras
from dlc.keras import layers
from tests.util import run_ort


def test_layer_shapes_and_parameter_counts_are_keras():
    keras.utils.set_random_seed(0)
    img = keras.Input((10, 10, 3))
    cases = [
        (layers.Conv2D(8, 3, padding="same"), img, (None, 10, 10, 8), 224),
        (layers.Conv2D(4, (3, 2), strides=2), keras.Input((10, 10, 8)), (None, 4, 5, 4), 196),
        (layers.MaxPooling2D(), img, (None, 5, 5, 3), 0),
        (layers.MaxPooling2D(3, strides=2, padding="same"), img, (None, 5, 5, 3), 0),
        (layers.AveragePooling2D((2, 3)), img, (None, 5, 3, 3), 0),
        (layers.Conv2DTranspose(6, 3, strides=2, padding="same"), keras.Input((5, 5, 2)), (None, 10, 10, 6), 114),
        (layers.Conv2DTranspose(6, 3, strides=2), keras.Input((5, 5, 2)), (None, 11, 11, 6), 114),
        (layers.GlobalAveragePooling2D(), img, (None, 3), 0),
        (layers.Flatten(), img, (None, 300), 0),
        (layers.Reshape((-1, 6)), img, (None, 50, 6), 0),
        (layers.BatchNormalization(), img, (None, 10, 10, 3), 12),
        (layers.Dense(5), keras.Input((7, 4)), (None, 7, 5), 25),
        (layers.SimpleRNN(7), keras.Input((5, 4)), (None, 7), 84),
        (layers.LSTM(7, return_sequences=True), keras.Input((5, 4)), (None, 5, 7), 336),
        (layers.GRU(7), keras.Input((5, 4)), (None, 7), 273),
        (layers.GRU(7, reset_after=False), keras.Input((5, 4)), (None, 7), 252),
        (layers.Embedding(50, 8), keras.Input((6,), dtype="int64"), (None, 6, 8), 400),
    ]
    for layer, x, shape, params in cases:
        y = layer(x)
        assert y.shape == shape, layer
        assert layer.count_params() == params, layer
    assert [v.name.split("/")[1] for v in cases[10][0].weights] == ["gamma", "beta", "moving_mean",
                                                                   "moving_variance"]
    assert [v.trainable for v in cases[10][0].weights] == [True, True, False, False]
    assert cases[0][0].name.startswith("conv2d") and cases[5][0].name.startswith("conv2d_transpose")


def _image_model():
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 2))
    x = layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.AveragePooling2D()(x)
    x = layers.Conv2D(5, 2, strides=2, activation="tanh")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out)


def _sequence_model():
    keras.utils.set_random_seed(2)
    return keras.Sequential([
        keras.Input((3,), dtype="int64"), layers.Embedding(20, 6),
        layers.SimpleRNN(5, return_sequences=True), layers.GRU(4, return_sequences=True),
        layers.LSTM(3), layers.Dense(2, activation="softmax"),
    ])


@pytest.mark.parametrize("make,x,y", [
    (_image_model, np.random.default_rng(0).normal(size=(12, 8, 8, 2)).astype(np.float32),
     np.random.default_rng(1).integers(0, 3, 12)),
    (_sequence_model, np.random.default_rng(2).integers(0, 20, (12, 3)), np.random.default_rng(3).integers(0, 2, 12)),
])
def test_trained_model_exports_to_onnx_that_runs_like_predict(make, x, y, tmp_path):
    model = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=6, verbose=0)
    want = model.predict(x)
    path = tmp_path / "model.onnx"
    model.export(path)
    onnx.checker.check_model(onnx.load(path))
    np.testing.assert_allclose(run_ort(onnx.load(path), {model.inputs[0].name: x})[0], want, rtol=1e-4, atol=1e-5)
    from dlc.cli import main
    assert main(["compile", str(path), "-o", str(tmp_path / "model.dlc"),
                 "--shape", f"{model.inputs[0].name}={','.join(str(d) for d in x.shape)}"]) == 0
    np.testing.assert_allclose(dlc.load(tmp_path / "model.dlc")(x), want, rtol=1e-4, atol=1e-5)


def test_fit_history_validation_progress_and_evaluate():
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float32)
    model = keras.Sequential([layers.Dense(8, activation="relu", input_shape=(3,)),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy", "mae"])
    out = io.StringIO()
    with redirect_stdout(out):
        hist = model.fit(x, y, epochs=5, batch_size=16, validation_split=0.25, verbose=1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/5" and len(lines) == 10
    assert lines[1].startswith("4/4 ━━━━━━━━━━━━━━━━━━━━ ") and " - accuracy: " in lines[1]
    assert "val_loss: " in lines[1] and "val_mae: " in lines[1]
    assert set(hist.history) == {"loss", "accuracy", "mae", "val_loss", "val_accuracy", "val_mae"}
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc, mae = model.evaluate(x, y, verbose=0)
    assert acc > 0.8 and 0 < mae < 0.5 and loss < hist.history["loss"][0]
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert logs == {"loss": loss, "accuracy": acc, "mae": mae}
    p = model.predict(x[:7], batch_size=4)
    assert p.shape == (7, 1) and np.all((p > 0) & (p < 1))
    assert model.train_on_batch(x[:16], y[:16])[0] > 0


def test_summary_and_weights_roundtrip(tmp_path):
    model = _image_model()
    text = []
    model.summary(print_fn=text.append)
    assert text[0] == f'Model: "{model.name}"'
    assert any(line.startswith("conv2d") and "(None, 8, 8, 6)" in line and line.endswith("114") for line in text)
    assert text[-3].startswith(f"Total params: {model.count_params():,}")
    assert text[-1].startswith("Non-trainable params: 12 ")
    model.save_weights(tmp_path / "w.npz")
    other = _image_model()
    for v in other.weights:
        v.assign(np.zeros(v.shape))
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dropout_is_active_in_fit_only():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((20,)), layers.Dropout(0.5), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x, y = np.ones((4, 20), np.float32), np.zeros((4, 1), np.float32)
    losses = {round(model.train_on_batch(x, y), 6) for _ in range(4)}
    assert len(losses) > 1                                     # a new mask every step
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    np.testing.assert_allclose(model.predict(x), x @ model.layers[1].kernel.numpy(), rtol=1e-5)


def test_frozen_layers_stay_put_and_shared_layers_train_together():
    """The classic Keras GAN pattern: the discriminator is compiled on its
    own, then frozen inside the combined model."""
    keras.utils.set_random_seed(6)
    gen = keras.Sequential([keras.Input((2,)), layers.Dense(3)])
    disc = keras.Sequential([keras.Input((3,)), layers.Dense(1, activation="sigmoid")])
    disc.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    disc.trainable = False
    gan = keras.Sequential([gen, disc])
    gan.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    assert [v.name for v in gan.trainable_weights] == [v.name for v in gen.weights]
    z = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    d0, g0 = disc.get_weights(), gen.get_weights()
    gan.train_on_batch(z, np.ones((8, 1), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(d0, disc.get_weights()))
    assert not np.array_equal(g0[0], gen.get_weights()[0])
    disc.train_on_batch(gen.predict(z), np.zeros((8, 1), np.float32))   # compiled before freezing: trains
    assert not np.array_equal(d0[0], disc.get_weights()[0])
    np.testing.assert_allclose(gan.predict(z), disc.predict(gen.predict(z)), rtol=1e-5)


def test_sequential_builds_from_data_and_errors_are_clear():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    with pytest.raises(dlc.ModelError, match="not built yet"):
        model.summary()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    assert model.layers[0].kernel.shape == (3, 4)
    with pytest.raises(dlc.InputError, match=r"expected shape \[batch,3\]"):
        model.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(dlc.ModelError, match="unknown activation 'relux'"):
        layers.Dense(3, activation="relux")
    with pytest.raises(dlc.ModelError, match="compile"):
        keras.Sequential([keras.Input((2,)), layers.Dense(1)]).fit(np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(dlc.InputError, match="do not fit the model's output"):
        model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 5), np.float32), verbose=0)


def test_keras_model_compiles_directly_and_callbacks_run():
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_allclose(dlc.compile(model)(x), model.predict(x), rtol=1e-6)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    seen = []
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append((e, round(logs["loss"], 3))))
    hist = model.fit(x, np.eye(2, dtype=np.float32)[np.arange(10) % 2], epochs=10, verbose=0, callbacks=[cb, stop])
    assert len(hist.epoch) == 2 and [e for e, _ in seen] == [0, 1]


def test_short_last_batch_is_padded_exactly_and_sample_weights_weigh():
    """Without batch statistics, a short last batch runs through the
    full-size step with zero-weighted padding: the same update as a step
    compiled for its size, and no extra compile."""
    def make():
        keras.utils.set_random_seed(9)
        m = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
        m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="mse", metrics=["mae"])
        return m
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)).astype(np.float32), rng.normal(size=(10, 2)).astype(np.float32)
    a, b = make(), make()
    hist = a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert len(a.session().compiled) == 1
    l1, _ = b.train_on_batch(x[:8], y[:8])
    l2, _ = b.train_on_batch(x[8:], y[8:])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hist.history["loss"][0], (8 * l1 + 2 * l2) / 10, rtol=1e-5)
    c = make()   # weights 2 on every sample: the loss, and so each update, doubles (no renormalization)
    d = make()
    c.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0, sample_weight=np.full(8, 2.0))
    d.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5), loss="mse")
    d.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    for wc, wd in zip(c.get_weights(), d.get_weights()):
        np.testing.assert_allclose(wc, wd, rtol=1e-5, atol=1e-7)


def test_batch_statistics_compile_the_short_batch_instead():
    keras.utils.set_random_seed(10)
    m = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.BatchNormalization(), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(np.ones((10, 3), np.float32), np.ones((10, 1), np.float32), batch_size=8, verbose=0)
    assert sorted(k[1][0][1][0] for k in m.session().compiled) == [2, 8]
