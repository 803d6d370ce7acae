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

With CUDA executables the state also lives on the device (`DeviceState`):
steps update the device copies in place, and the host arrays are brought up
to date by ``sync_to_host`` (the session calls it when a public call
returns); host writes reach the device through ``host_changed`` (marks
arrays to upload before the next step) and ``sync_to_device`` (marks all).
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


class DeviceState:
    """Device copies of a session's state arrays, made on first use, and
    which side is newer."""

    def __init__(self, host: dict[str, np.ndarray]):
        from ..codegen.cuda import jit
        self.jit = jit
        self.host = host
        self.dev: dict = {}
        self.upload_pending: set[str] = set()
        self.device_newer: set[str] = set()

    def array(self, name: str):
        d = self.dev.get(name)
        if d is None:
            d = self.dev[name] = self.jit.to_device(self.host[name])
            self.upload_pending.discard(name)
        return d

    def upload(self) -> None:
        for name in sorted(self.upload_pending):
            if name in self.dev:
                self.dev[name].copy_to_device(self.host[name])
        self.upload_pending.clear()

    def download(self) -> None:
        for name in sorted(self.device_newer):
            h = self.host[name]
            if h.size:
                self.dev[name].copy_to_host(h)
        self.device_newer.clear()


class Bound:
    """One executable bound to the session's state and to its own batch and
    result buffers: ``feed[name][...] = batch; call(); results[name]``."""

    def __init__(self, exe: Executable, io: StepIO, state: dict[str, np.ndarray],
                 device: DeviceState | None = None):
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
        if getattr(exe, "target", "cpu") == "cuda":
            self.call: Callable[[], None] = self._device_call(exe, io, ins, outs, device)
        else:
            self.call = exe.bind(ins, outs)

    @staticmethod
    def _device_call(exe, io: StepIO, ins: list, outs: list, device: DeviceState) -> Callable[[], None]:
        """A call on the device: the batch buffers are copied up, the state is
        the device's copy (updated in place), the results are copied back."""
        jit = device.jit
        dins, douts, up, down, written = [], [], [], [], []
        for (kind, name), arr in zip(io.inputs, ins):
            if kind == "state":
                dins.append(device.array(name))
            else:
                d = jit.to_device(arr)
                dins.append(d)
                up.append((arr, d))
        for (kind, name), arr in zip(io.outputs, outs):
            if kind == "state":
                douts.append(device.array(name))
                written.append(name)
            else:
                d = jit.to_device(arr)
                douts.append(d)
                down.append((d, arr))
        launch = exe.bind_device(dins, douts)

        def call() -> None:
            device.upload()
            for h, d in up:
                if h.size:
                    d.copy_to_device(h)
            launch()
            device.device_newer.update(written)
            for d, h in down:
                if h.size:
                    d.copy_to_host(h)
        call.keep = (dins, douts, launch)
        return call


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
        self.device: DeviceState | None = None   # made by the first CUDA executable

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
                    if getattr(exe, "target", "cpu") == "cuda" and self.device is None:
                        self.device = DeviceState(self.state)
                    b = self._bound[key] = Bound(exe, io, self.state, self.device)
        return b

    # -------------------------------------------- host and device copies
    def host_changed(self, *names: str) -> None:
        """The host copies of these state arrays were written: upload them
        before the next step (a no-op without a device)."""
        if self.device is not None:
            self.device.upload_pending.update(names)

    def sync_to_device(self) -> None:
        """Every host state array may have been written (by the user, between
        calls): upload all before the next step."""
        if self.device is not None:
            self.device.download()   # nothing is pending when the previous call synced; keep device results
            self.device.upload_pending.update(self.device.dev)

    def sync_to_host(self) -> None:
        """Bring the host copies of the state up to date with the device's."""
        if self.device is not None:
            self.device.download()

    @property
    def compiled(self) -> list[tuple]:
        return list(self._bound)

    def forget_compiled(self) -> None:
        """Drop every compiled executable (after the graphs' meaning changed)."""
        with self.lock:
            self._bound.clear()
