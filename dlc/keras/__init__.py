"""dlc.keras: a Keras-like API whose models dlc compiles for training and inference.

    from dlc import keras
    from dlc.keras import layers

    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.1)
    model.evaluate(x_test, y_test); model.predict(x_test)
    model.export("model.onnx")          # runs in onnxruntime, compiles with `dlc compile`
"""
from . import activations, callbacks, initializers, layers, losses, metrics, optimizers, utils  # noqa: F401
from .layers import Input, InputLayer, Layer, Variable  # noqa: F401
from .models import Model, Sequential  # noqa: F401

__all__ = ["Input", "InputLayer", "Layer", "Model", "Sequential", "Variable", "activations", "callbacks",
           "initializers", "layers", "losses", "metrics", "optimizers", "utils"]
