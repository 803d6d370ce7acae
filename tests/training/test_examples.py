"""The examples learn (fewer epochs than the examples run; the README
states the thresholds the full runs reach)."""
import importlib.util
import os

import numpy as np

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples", "keras")


def example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_cnn_learns():
    assert example("digits_cnn").main(epochs=4, verbose=0)["accuracy"] >= 0.93


def test_breast_cancer_classifier_learns():
    assert example("breast_cancer").main(epochs=8, verbose=0)["accuracy"] >= 0.95


def test_autoencoder_reconstructs():
    r = example("autoencoder").main(epochs=8, verbose=0)
    assert r["mse"] < 0.05 and r["mse"] < 0.6 * r["baseline"]


def test_stacked_lstm_learns():
    assert example("lstm_sequences").main(epochs=6, verbose=0, rows_per_step=2)["accuracy"] >= 0.8


def test_gan_losses_stay_finite_and_samples_change():
    r = example("gan").main(epochs=2, verbose=0)
    for values in r["history"].values():
        assert np.all(np.isfinite(values))
    assert r["change"] > 0.05 and np.all(np.abs(r["samples"]) <= 1)
