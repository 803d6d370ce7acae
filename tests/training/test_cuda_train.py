"""Compiled train steps on target="cuda" (numba's simulator without a GPU)
match the CPU's: the same losses, weights and optimizer state after the
same steps, with the state kept on the device between steps."""
import copy

import numpy as np
import pytest

import dlc
from dlc import keras
from tests.training import keras_models

pytest.importorskip("numba.cuda")


def _train(make, target, steps=3, fit=False):
    keras.utils.set_random_seed(0)
    m, loss, x, y = make()
    # (Adam turns the rounding noise of a zero gradient, a bias in front of a
    # batch norm, into full steps of either sign: SGD there)
    opt = keras.optimizers.SGD(0.1, momentum=0.9) if make is keras_models.batchnorm else keras.optimizers.Adam(0.01)
    m.compile(optimizer=opt, loss=loss, metrics=["accuracy"] if "cross" in loss else [],
              target=target)
    if fit:
        h = m.fit(x, y, batch_size=len(x), epochs=steps, verbose=0, shuffle=False)
        losses = h.history["loss"]
    else:
        losses = [m.train_on_batch(x, y) for _ in range(steps)]
    return m, losses, x, y


@pytest.mark.parametrize("make", [keras_models.mlp, keras_models.cnn, keras_models.batchnorm],
                         ids=["mlp", "cnn", "batchnorm"])
def test_train_steps_match_the_cpu(make):
    cpu, lc, x, y = _train(make, "cpu")
    gpu, lg, _, _ = _train(make, "cuda")
    np.testing.assert_allclose(np.ravel(lg), np.ravel(lc), rtol=1e-4, atol=1e-5)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=1e-4, atol=1e-5)


def test_fit_keeps_state_on_the_device_and_syncs_at_epoch_ends():
    cpu, lc, x, y = _train(keras_models.mlp, "cpu", steps=2, fit=True)
    gpu, lg, _, _ = _train(keras_models.mlp, "cuda", steps=2, fit=True)
    np.testing.assert_allclose(lg, lc, rtol=1e-4, atol=1e-5)
    sess = gpu.session()
    assert sess.device is not None and not sess.device.device_newer   # the host copies are current
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # host writes between calls reach the device
    w = [np.zeros_like(v) for v in gpu.get_weights()]
    gpu.set_weights(w)
    cpu.set_weights(copy.deepcopy(w))
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=1e-5, atol=1e-6)


def test_onnx_session_with_dropout_and_batch_norm_matches_the_cpu():
    from tests.training.test_onnx_train import bn_dropout_model
    rng = np.random.default_rng(3)
    x = rng.normal(loc=2.0, size=(16, 4)).astype(np.float32)
    y = x[:, :1] - x[:, 1:2]
    got = {}
    for target in ("cpu", "cuda"):
        sess = dlc.TrainingSession(bn_dropout_model(), "mse", dlc.optimizers.SGD(0.05), target=target)
        l1, g1 = sess.gradients(x, y)
        sess.state["step"][...] = 7            # a host write between calls: another dropout mask
        l2, _ = sess.gradients(x, y)
        hist = sess.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        got[target] = [l1, l2, *hist.history["loss"]], g1, {k: v.copy() for k, v in sess.weights.items()}
    (lc, gc, wc), (lg, gg, wg) = got["cpu"], got["cuda"]
    assert lc[0] != lc[1]
    np.testing.assert_allclose(lg, lc, rtol=1e-5, atol=1e-6)
    for k in gc:
        np.testing.assert_allclose(gg[k], gc[k], rtol=1e-4, atol=1e-6)
    for k in wc:   # the running mean and variance too
        np.testing.assert_allclose(wg[k], wc[k], rtol=1e-4, atol=1e-6)
