"""Small dlc.keras models checked against PyTorch (make_torch_references.py
builds the same functions in torch from these models' weights). Each entry:
a builder, the loss, and the batch."""
from __future__ import annotations

import numpy as np

from dlc import keras
from dlc.keras import layers


def _rng(seed):
    return np.random.default_rng(seed)


def mlp():
    m = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(4, activation="tanh"),
                          layers.Dense(3, activation="softmax")])
    r = _rng(1)
    return m, "sparse_categorical_crossentropy", r.normal(size=(5, 6)).astype(np.float32), r.integers(0, 3, 5)


def mlp_hinge():
    m = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="sigmoid"), layers.Dense(2)])
    r = _rng(2)
    return m, "hinge", r.normal(size=(6, 4)).astype(np.float32), r.integers(0, 2, (6, 2)).astype(np.float32)


def cnn():
    m = keras.Sequential([
        keras.Input((9, 9, 2)),
        layers.Conv2D(4, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),                                           # 4x4
        layers.Conv2D(6, (2, 3), strides=(1, 2), padding="same", activation="elu"),   # 4x2
        layers.AveragePooling2D((2, 1)),                                  # 2x2
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    r = _rng(3)
    y = np.eye(3, dtype=np.float32)[r.integers(0, 3, 4)]
    return m, "categorical_crossentropy", r.normal(size=(4, 9, 9, 2)).astype(np.float32), y


def batchnorm():
    m = keras.Sequential([keras.Input((5, 5, 2)), layers.Conv2D(3, 3), layers.BatchNormalization(),
                          layers.Activation("relu"), layers.GlobalAveragePooling2D(), layers.Dense(4),
                          layers.BatchNormalization(momentum=0.9), layers.Dense(1, activation="sigmoid")])
    r = _rng(4)
    return m, "binary_crossentropy", r.normal(size=(6, 5, 5, 2)).astype(np.float32), \
        r.integers(0, 2, (6, 1)).astype(np.float32)


def rnn():
    m = keras.Sequential([keras.Input((3, 3)), layers.SimpleRNN(4, return_sequences=True), layers.LSTM(5),
                          layers.Dense(2, activation="softmax")])
    r = _rng(5)
    return m, "sparse_categorical_crossentropy", r.normal(size=(3, 3, 3)).astype(np.float32), r.integers(0, 2, 3)


def gru():
    m = keras.Sequential([keras.Input((3, 3)), layers.GRU(5, return_sequences=True), layers.GRU(3),
                          layers.Dense(1)])
    r = _rng(6)
    return m, "mse", r.normal(size=(3, 3, 3)).astype(np.float32), r.normal(size=(3, 1)).astype(np.float32)


def embedding():
    m = keras.Sequential([keras.Input((3,), dtype="int64"), layers.Embedding(10, 4), layers.LSTM(3),
                          layers.Dense(1, activation="sigmoid")])
    r = _rng(7)
    return m, keras.losses.BinaryCrossentropy(from_logits=False), r.integers(0, 10, (4, 3)), \
        r.integers(0, 2, (4, 1)).astype(np.float32)


def generator():
    m = keras.Sequential([keras.Input((3, 3, 2)), layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
                          layers.LeakyReLU(0.2), layers.Conv2DTranspose(1, 2, padding="valid"),
                          layers.Activation("tanh"), layers.Flatten()])
    r = _rng(8)
    return m, "mae", r.normal(size=(2, 3, 3, 2)).astype(np.float32), r.uniform(-1, 1, (2, 49)).astype(np.float32)


def logits():
    m = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="gelu"), layers.Dense(1)])
    r = _rng(9)
    return m, keras.losses.BinaryCrossentropy(from_logits=True), r.normal(size=(5, 3)).astype(np.float32), \
        r.integers(0, 2, (5, 1)).astype(np.float32)


MODELS = {f.__name__: f for f in (mlp, mlp_hinge, cnn, batchnorm, rnn, gru, embedding, generator, logits)}


def build(name: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    model, loss, x, y = MODELS[name]()
    model.compile(optimizer="sgd", loss=loss)
    return model, x, y
