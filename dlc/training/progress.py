"""A Keras-style progress bar, one per epoch:

    Epoch 3/10
    45/45 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step - accuracy: 0.9712 - loss: 0.0934 - val_accuracy: 0.9694 - val_loss: 0.1021

On a terminal the line is redrawn as batches finish (at most ~20 times a
second); otherwise (a log file, a notebook capture) each epoch prints one
final line. verbose=2 prints only the final lines, verbose=0 nothing.
"""
from __future__ import annotations

import sys
import time

WIDTH = 20


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.0f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def _per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    def __init__(self, target: int, verbose: int = 1, stream=None):
        self.target, self.verbose = target, verbose
        self.stream = stream or sys.stdout
        self.interactive = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0

    def line(self, current: int, logs: dict) -> str:
        elapsed = time.perf_counter() - self.start
        done = int(WIDTH * current / max(self.target, 1))
        bar = "━" * done + "─" * (WIDTH - done)
        if current < self.target and current:
            timing = f"{_duration(elapsed / current * (self.target - current))} remaining"
        else:
            timing = f"{_duration(elapsed)} {_per_step(elapsed / max(current, 1))}"
        text = f"{current}/{self.target} {bar} {timing}"
        return text + (" - " + format_logs(logs) if logs else "")

    def update(self, current: int, logs: dict, final: bool = False) -> None:
        if self.verbose == 0:
            return
        now = time.perf_counter()
        if not final and (not self.interactive or now - self._last_draw < 0.05):
            return
        self._last_draw = now
        text = self.line(current, logs)
        if self.interactive:
            pad = max(self._width - len(text), 0)
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self._width = len(text)
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()
