"""CudaExecutable: the CUDA code of one shape specialization, its weights
and planned arena in device memory, run as a sequence of kernel launches on
one stream.

- Weights are copied to the device once; the arena (the memory plan's one
  allocation) and a status word live there too, for the executable's life.
- Inputs are numpy arrays (copied to the device) or objects exposing
  ``__cuda_array_interface__`` (Numba device arrays, CuPy arrays, PyTorch
  CUDA tensors): used in place, without a copy. The caller validates dtype,
  shape and contiguity (dlc/model.py does, for both kinds).
- Outputs come back as numpy arrays, or stay on the device
  (``device_outputs=True``: numba device arrays, which expose
  ``__cuda_array_interface__`` to CuPy or PyTorch without a copy).
- Run-time checks (an out-of-range Gather index) write a status word that
  is read once per run, after the last kernel: the same ExecutionError
  messages as the CPU target.
- ``graphs=True`` (real GPUs only) captures the launch sequence into a CUDA
  graph through cuda.core and replays it: inputs and outputs then go
  through fixed device buffers. Not verified on a GPU yet.

Runs are serialized (one arena per executable).
"""
from __future__ import annotations

import ctypes
import threading
import time

import numpy as np

from ..codegen.cuda import jit
from ..codegen.cuda.module import CudaCode
from ..ir.errors import ExecutionError
from .executable import ExecMeta


def _io_arg(a: tuple, flat_in: list, flat_out: list):
    """A caller's input or output as a kernel takes it: ("input"|"output",
    index, dtype), viewed as that dtype where a bitcast reads it as another."""
    kind, index, dtype = a
    d = (flat_in if kind == "input" else flat_out)[index]
    return d if d.dtype == dtype else d.view(dtype)


class CudaExecutable:
    target = "cuda"

    def __init__(self, meta: ExecMeta, code: CudaCode, weights: np.ndarray, graphs: bool = False):
        self.meta = meta
        self.code = code
        self.weights = np.ascontiguousarray(weights)
        self.sim = jit.running_simulator()
        if self.sim != code.simulator:
            want = "the simulator (NUMBA_ENABLE_CUDASIM=1)" if code.simulator else "a GPU"
            raise ExecutionError(f"this CUDA code was rendered for {want}; recompile it for this process")
        kernels = []
        for k in code.kernels:
            ptx = code.ptx.get(k.key)
            if self.sim:
                kernels.append(jit.load_kernel(k, None))
                continue
            if ptx is None:   # compiled here; kept with the code for save() and the compile cache
                ptx = code.ptx[k.key] = jit.compile_ptx(k)
            else:
                jit.check_ptx_target(ptx)
            kernels.append(jit.load_kernel(k, ptx))
        self._kernels = kernels
        self._lock = threading.Lock()
        self._stream = None if self.sim else jit.stream()
        self._dweights = jit.to_device(self.weights.view(np.uint8).reshape(-1) if self.weights.size
                                       else np.zeros(1, np.uint8))
        self._arena = jit.empty(meta.arena_bytes)
        self._status = jit.to_device(np.zeros(1, np.int32))
        self._out_specs = [(np.dtype(d), tuple(s)) for d, s in zip(meta.output_dtypes, meta.output_shapes)]
        self._out_bufs = None
        self._graphs = graphs and not self.sim
        self._graph = None
        self._plan = self._make_plan()

    # ------------------------------------------------------------ plan
    def _make_plan(self) -> list:
        """Per launch: (kernel, phase, grid, block, args, tag, host values,
        call index) where each arg is a static device view (weights, arena)
        or ("input"|"output", index, dtype)."""
        plan = []
        views: dict = {}
        for ci, call in enumerate(self.code.calls):
            ck = self.code.kernels[call.kernel]
            args = []
            for a in call.args:
                if a.kind in ("input", "output"):
                    args.append((a.kind, a.index, np.dtype(a.dtype)))
                    continue
                key = (a.kind, a.index, a.dtype, a.count)
                if key not in views:
                    raw = self._dweights if a.kind == "weights" else self._arena
                    views[key] = jit.typed_view(raw, a.index, a.dtype, a.count)
                args.append(views[key])
            for phase, host in ck.launches:
                p = ck.phases[phase]
                grid = jit.launch_grid(p.kind, p.work, p.block, p.lanes)
                if grid:
                    plan.append((self._kernels[call.kernel], phase, grid, p.block, args, call.tag, host, ci))
        return plan

    # ------------------------------------------------------------- run
    def device_inputs(self, inputs: list) -> list:
        """Device arrays for the inputs: numpy arrays are copied, device arrays used as they are."""
        out = []
        for a in inputs:
            if isinstance(a, np.ndarray):
                out.append(jit.to_device(a, self._stream))
            else:
                out.append(jit.as_device_array(a))
        return out

    def _outputs(self, fresh: bool) -> list:
        """Device output arrays: new ones (they are handed to the caller), or
        the executable's own (reused: the results are copied out)."""
        if fresh or self._out_bufs is None:
            bufs = [jit.cuda().device_array(shape, dtype) for dtype, shape in self._out_specs]
            if fresh:
                return bufs
            self._out_bufs = bufs
        return list(self._out_bufs)

    def launch(self, dins: list, douts: list, timestamps: np.ndarray | None = None) -> None:
        """Launch every kernel on device inputs and outputs (no checks, no
        sync). ``timestamps``: as for the CPU Executable, a monotonic clock
        reading (ns) before the first call and after each call (waiting for
        the device after each)."""
        flat_in = [jit.flat(d) for d in dins]
        flat_out = [jit.flat(d) for d in douts]
        status, stream = self._status, self._stream
        if timestamps is not None:
            self.synchronize()
            timestamps[0] = time.monotonic_ns()
        n = len(self._plan)
        for li, (kernel, phase, grid, block, args, tag, host, ci) in enumerate(self._plan):
            real = [_io_arg(a, flat_in, flat_out) if isinstance(a, tuple) else a for a in args]
            if self.sim:
                with jit.quiet():
                    kernel.launch(phase, grid, block, real + [status, tag, *host])
            else:
                params = []
                for r in real:
                    params += jit.array_params(r)
                params += jit.array_params(status) + [ctypes.c_int64(tag)] + [ctypes.c_int64(h) for h in host]
                kernel.launch(phase, grid, block, params, stream)
            if timestamps is not None and (li + 1 == n or self._plan[li + 1][7] != ci):
                self.synchronize()
                timestamps[ci + 1] = time.monotonic_ns()
        if timestamps is not None:   # calls that launched nothing (no work)
            for ci in range(len(self.code.calls)):
                if timestamps[ci + 1] == 0:
                    timestamps[ci + 1] = timestamps[ci]

    def synchronize(self) -> None:
        if self._stream is not None:
            self._stream.synchronize()

    def check_status(self) -> None:
        """Read the status word (waits for the kernels); raise on a failed check."""
        st = int(self._status.copy_to_host(stream=self._stream)[0]) if self._stream is not None \
            else int(self._status.copy_to_host()[0])
        if st:
            self._status.copy_to_device(np.zeros(1, np.int32))
            raise ExecutionError(self.meta.error_message(st))

    def run(self, inputs: list, timestamps=None, device_outputs: bool = False) -> list:
        """Run on inputs that match the specialization (numpy or device
        arrays; the caller validates). Returns numpy arrays, or device
        arrays with ``device_outputs``."""
        with self._lock:
            dins = self.device_inputs(inputs)
            douts = self._outputs(fresh=device_outputs)
            for j, i in self.meta.inplace:
                douts[j] = dins[i]
            if timestamps is not None:
                timestamps[:len(self.code.calls) + 1] = 0
            if self._graphs and timestamps is None:
                self._replay(dins, douts)
            else:
                self.launch(dins, douts, timestamps)
            self.check_status()
            if device_outputs:
                return douts
            outs = []
            for (dtype, shape), d in zip(self._out_specs, douts):
                host = np.empty(shape, dtype)
                if host.size:
                    if self._stream is not None:
                        d.copy_to_host(host, stream=self._stream)
                    else:
                        host[...] = d.copy_to_host()
                outs.append(host)
            self.synchronize()
            for j, i in self.meta.inplace:   # written over a host input: the caller sees it there
                if isinstance(inputs[i], np.ndarray):
                    inputs[i][...] = outs[j]
                    outs[j] = inputs[i]
            return outs

    # --------------------------------------------------- CUDA graphs
    def _replay(self, dins: list, douts: list) -> None:
        """Capture the launches once (on fixed input and output buffers),
        then replay the graph; inputs are copied into the fixed buffers."""
        from cuda.core import Device
        if self._graph is None:
            self._gin = [jit.cuda().device_array(tuple(s), np.dtype(d))
                         for d, s in zip(self.meta.input_dtypes, self.meta.input_shapes)]
            self._gout = self._outputs(fresh=False)
            core = Device().create_stream(self._stream)
            builder = core.create_graph_builder()
            builder.begin_building()
            saved = self._stream
            self._stream = builder
            try:
                self.launch(self._gin, self._gout)
            finally:
                self._stream = saved
            builder.end_building()
            self._graph = (builder.complete(), core)
        for src, dst in zip(dins, self._gin):
            dst.copy_to_device(src, stream=self._stream)
        graph, core = self._graph
        graph.launch(core)
        for j, d in enumerate(douts):
            if d is not self._gout[j]:
                d.copy_to_device(self._gout[j], stream=self._stream)

    # ----------------------------------------------------- training
    def bind_device(self, dins: list, douts: list):
        """A function of no arguments that runs on these device arrays (the
        training session's state and batch buffers): launches, then reads
        the status word."""
        def call() -> None:
            with self._lock:
                self.launch(dins, douts)
                self.check_status()
        call.keep = (dins, douts, self)
        return call

    @property
    def object_code(self) -> bytes:   # what the CPU Executable saves; CUDA saves `code`
        return b""
