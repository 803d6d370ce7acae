"""A Dense(10) - Dense(8) - Dense(1, sigmoid) binary classifier with
binary cross-entropy, on the breast-cancer data bundled with scikit-learn.

    python examples/keras/breast_cancer.py [epochs]

Prints the training progress and the test accuracy (>= 95 %).
"""
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from dlc import keras
from dlc.keras import layers


def data():
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return (scaler.transform(x_train).astype(np.float32), scaler.transform(x_test).astype(np.float32),
            y_train.astype(np.float32), y_test.astype(np.float32))


def build():
    return keras.Sequential([
        layers.Dense(10, activation="relu", input_shape=(30,)),
        layers.Dense(8, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])


def main(epochs: int = 30, verbose: int = 1) -> dict:
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = data()
    model = build()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=16, epochs=epochs, validation_split=0.1, verbose=verbose)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f}  test accuracy: {acc:.4f}")
    return {"loss": loss, "accuracy": acc, "model": model}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
