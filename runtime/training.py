"""The training session's runtime: named state arrays kept between calls
(weights, optimizer slots, running statistics, the step counter and the
learning rate), and compiled step / eval / predict executables bound to
them once per batch shape, so that a step is one native call that reads
the batch from a bound buffer and updates the state in place.

What the executables compute is decided above this layer (dlc.training
builds and compiles the graphs); this module only keeps arrays where the
native code expects them. State arrays must never be replaced, only
written into (``session.state[k][...] = v``): bound calls hold their
addresses.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir.errors import InputError
from .executable import Executable, aligned_empty

Key = tuple[str, str]   # ("batch" | "target" | "state" | "result", name)


@dataclass
class StepIO:
    """What each input and output of a compiled step is: batch and target
    inputs are copied into buffers per call; state inputs and outputs are the
    session's arrays (a state output is written over its input); results
    come back in buffers."""
    inputs: list[Key]
    outputs: list[Key]


def state_array(value, dtype=None) -> np.ndarray:
    """A 64-byte aligned, C-contiguous, writeable copy of `value`."""
    value = np.asarray(value, dtype=dtype)
    out = aligned_empty(value.nbytes).view(value.dtype).reshape(value.shape)
    out[...] = value
    return out


class Bound:
    """One executable bound to the session's state and to its own batch and
    result buffers: ``feed[name][...] = batch; call(); results[name]``."""

    def __init__(self, exe: Executable, io: StepIO, state: dict[str, np.ndarray]):
        meta = exe.meta
        self.exe, self.io = exe, io
        self.feed: dict[str, np.ndarray] = {}
        self.results: dict[str, np.ndarray] = {}
        ins, outs = [], []
        for (kind, name), dt, shape in zip(io.inputs, meta.input_dtypes, meta.input_shapes):
            if kind == "state":
                arr = state[name]
                if arr.dtype != np.dtype(dt) or list(arr.shape) != list(shape) or not arr.flags.c_contiguous:
                    raise InputError(f"state {name!r} is {arr.dtype.name}{list(arr.shape)}, the step expects "
                                     f"{dt}{list(shape)}")
            else:
                arr = self.feed[name] = state_array(np.zeros(shape, dt))
            ins.append(arr)
        for (kind, name), dt, shape in zip(io.outputs, meta.output_dtypes, meta.output_shapes):
            if kind == "state":
                outs.append(state[name])
            else:
                outs.append(self.results.setdefault(name, state_array(np.zeros(shape, dt))))
        self.call: Callable[[], None] = exe.bind(ins, outs)


class TrainingSession:
    """State arrays and the executables bound to them, compiled on demand
    per (kind, batch shapes) by `compile_fn(kind, shapes) -> (Executable, StepIO)`.
    Calls are serialized: a session's state has one writer at a time."""

    def __init__(self, state: dict[str, np.ndarray], compile_fn: Callable, copy: bool = True):
        """`state` is copied into aligned arrays, or used as is with ``copy=False``
        (the caller's arrays are then updated in place)."""
        self.state = {k: state_array(v) for k, v in state.items()} if copy else dict(state)
        self._compile = compile_fn
        self._bound: dict[tuple, Bound] = {}
        self.lock = threading.RLock()

    def bound(self, kind: str, shapes: dict[str, tuple[int, ...]]) -> Bound:
        """The `kind` executable ("train", "eval", "predict") for these batch
        and target shapes, compiled and bound on first use."""
        key = (kind, tuple(sorted((k, tuple(v)) for k, v in shapes.items())))
        b = self._bound.get(key)
        if b is None:
            with self.lock:
                b = self._bound.get(key)
                if b is None:
                    exe, io = self._compile(kind, dict(shapes))
                    b = self._bound[key] = Bound(exe, io, self.state)
        return b

    @property
    def compiled(self) -> list[tuple]:
        return list(self._bound)

    def forget_compiled(self) -> None:
        """Drop every compiled executable (after the graphs' meaning changed)."""
        with self.lock:
            self._bound.clear()
