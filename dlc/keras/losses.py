"""Losses with Keras' names (see dlc.training.losses)."""
from ..training.losses import (BinaryCrossentropy, CategoricalCrossentropy, Hinge, Loss,  # noqa: F401
                               MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy,
                               categorical_crossentropy, get, hinge, mae, mean_absolute_error, mean_squared_error,
                               mse, sparse_categorical_crossentropy)
