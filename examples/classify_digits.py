"""Compile the bundled digits CNN with dlc and classify held-out digits.

    python examples/classify_digits.py

Prints accuracy, and the agreement with onnxruntime when it is installed.
"""
import os
import time

import numpy as np

import dlc

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    model_path = os.path.join(HERE, "models", "digits_cnn.onnx")
    data = np.load(os.path.join(HERE, "models", "digits_test.npz"))
    images, labels = data["images"], data["labels"]

    t0 = time.perf_counter()
    model = dlc.compile(model_path)          # batch is symbolic: compiled per batch size on first use
    probs = model(images)
    print(f"compiled and ran {len(images)} images in {time.perf_counter() - t0:.2f} s")
    print(f"accuracy: {(probs.argmax(1) == labels).mean():.3f}")

    t0 = time.perf_counter()
    for _ in range(20):
        model(images)
    print(f"inference: {(time.perf_counter() - t0) / 20 * 1000:.2f} ms per batch of {len(images)}")

    try:
        import onnxruntime as ort
    except ImportError:
        return
    ref = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"]).run(None, {"image": images})[0]
    print(f"max |dlc - onnxruntime|: {np.abs(probs - ref).max():.2e}")


if __name__ == "__main__":
    main()
