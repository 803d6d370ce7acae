"""Callbacks for fit: hooks called at the start and end of training,
epochs and batches with the running logs."""
from __future__ import annotations

from ..training.session import History  # noqa: F401


class Callback:
    model = None

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_end=None, on_train_begin=None,
                 on_train_end=None):
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_batch_end", on_batch_end), ("on_train_begin", on_train_begin),
                         ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto"):
        self.monitor, self.min_delta, self.patience = monitor, min_delta, patience
        self.sign = -1 if mode == "max" or (mode == "auto" and "acc" in monitor) else 1
        self.best, self.wait, self.stop_training, self.stopped_epoch = None, 0, False, 0

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.stop_training = None, 0, False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if self.best is None or self.sign * (value - self.best) < -self.min_delta:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stop_training, self.stopped_epoch = True, epoch


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch: schedule(epoch, lr) -> lr."""

    def __init__(self, schedule, optimizer=None):
        self.schedule, self.optimizer = schedule, optimizer

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.optimizer or (self.model.optimizer if self.model is not None else None)
        if opt is None:
            raise ValueError("LearningRateScheduler needs the model (use it through Model.fit) or an optimizer")
        opt.learning_rate = float(self.schedule(epoch, opt.lr_at(0)))
