"""From rendered kernel source to launchable CUDA kernels: the one module of
dlc that imports numba (lazily: CPU-only users never load it).

On a GPU, each phase of a kernel is compiled to PTX by numba-cuda
(``cuda.compile_ptx``, for the current device's compute capability),
loaded through cuda.core (the driver bindings numba-cuda itself launches
with) and launched with numba's kernel argument layout. Saved artifacts and
the compile cache keep the PTX, so loading one runs no Python-to-PTX
compile (the driver JIT-compiles PTX for the exact GPU when it loads it).

Under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``), the same source runs
as Python through ``numba.cuda.jit``; there is no PTX. The simulator lacks
``shfl_xor_sync`` and ``syncwarp``: `_simulator_shims` adds them (a warp
exchange through a block-wide barrier: the generated code calls them from
every thread of a block the same number of times). It also makes the
simulator's ``cuda.shared.array`` thread-safe: numba's looks the array up
and then stores a new one without a lock, so two threads of a block that
switch in between get different arrays, and the block computes garbage
(rarely: it takes a thread switch at that point). And the kernels' ``math``
returns NaN or inf where Python's raises (``math.fmod(x, 0)``), as a GPU does.
"""
from __future__ import annotations

import linecache
import math
import os
import re
import sys
import threading
import warnings
from contextlib import contextmanager
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from ...ir.errors import ArtifactError, UnsupportedError
from .render import CudaKernel

_lock = threading.RLock()


def simulator() -> bool:
    """Whether numba's CUDA simulator is on (it is chosen when numba.cuda is
    first imported, from this variable)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() == "1"


@lru_cache(maxsize=None)
def cuda():
    """numba.cuda, imported on first use (with the simulator shims)."""
    from numba import cuda as numba_cuda
    if _is_simulated(numba_cuda):
        _simulator_shims()
    return numba_cuda


def _is_simulated(numba_cuda) -> bool:
    return getattr(numba_cuda.jit, "__module__", "").startswith("numba.cuda.simulator")


def running_simulator() -> bool:
    """Whether the numba.cuda this process imported is the simulator."""
    return _is_simulated(cuda())


def _simulator_shims() -> None:
    from numba.cuda.simulator import kernelapi
    fake = kernelapi.FakeCUDAModule

    def exchange(value, src_of):
        t = threading.current_thread()
        slots = t._manager.__dict__.setdefault("_dlc_exchange", {})
        slots[t.thread_id] = value
        t.syncthreads()
        v = slots.get(src_of(t.thread_id), value)
        t.syncthreads()
        return v

    if not hasattr(fake, "shfl_xor_sync"):
        fake.shfl_xor_sync = lambda self, mask, value, lane_mask: exchange(value, lambda i: i ^ lane_mask)
    if not hasattr(fake, "syncwarp"):
        fake.syncwarp = lambda self, mask=0xFFFFFFFF: threading.current_thread().syncthreads()

    shared_lock = threading.Lock()

    def shared_array(self, shape, dtype, alignment=None):
        # numba's, less dynamic shared memory (never rendered), under a lock:
        # one array per block and source line
        from numba import types
        from numba.np import numpy_support
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with shared_lock:
            res = self._allocations.get(key)
            if res is None:
                res = self._allocations[key] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAShared.array = shared_array


def _ieee(name: str, np_fn):
    """math.`name` as the GPU computes it: where Python's raises (a domain
    error, an overflow), numpy's IEEE result (NaN, inf) instead."""
    fn = getattr(math, name)

    def f(*args):
        try:
            return fn(*args)
        except (ValueError, OverflowError):
            with np.errstate(all="ignore"):
                return float(np_fn(*(np.float64(a) for a in args)))
    return f


@lru_cache(maxsize=None)
def _simulator_math():
    """The `math` the generated source sees under the simulator (see _ieee)."""
    names = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan,
             "tanh": np.tanh, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
             "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "log1p": np.log1p,
             "expm1": np.expm1, "fmod": np.fmod, "pow": np.power}
    return SimpleNamespace(erf=math.erf, **{n: _ieee(n, f) for n, f in names.items()})


# ------------------------------------------------------------------ kernels
def _namespace(ck: CudaKernel) -> dict:
    ns = {"cuda": cuda(), "np": np, "math": _simulator_math() if running_simulator() else math}
    ns.update(ck.consts)
    filename = f"<dlc-cuda {ck.name} {ck.key[:12]}>"
    linecache.cache[filename] = (len(ck.source), None, ck.source.splitlines(True), filename)
    exec(compile(ck.source, filename, "exec"), ns)
    return ns


def _signature(ck: CudaKernel, host_vars: int):
    from numba import types
    args = [types.Array(_numba_type(d), 1, "C") for d in ck.arg_dtypes]
    args += [types.Array(types.int32, 1, "C"), types.int64] + [types.int64] * host_vars
    return types.void(*args)


def _numba_type(dt: np.dtype):
    from numba import from_dtype
    return from_dtype(np.dtype(dt))


def device_cc() -> tuple[int, int]:
    return tuple(cuda().get_current_device().compute_capability)


def compile_ptx(ck: CudaKernel, cc: tuple[int, int] | None = None) -> dict:
    """PTX of every phase of `ck` for compute capability `cc` (default: the
    current device's): {"cc": [major, minor], "phases": [[ptx, entry], ...]}."""
    c = cuda()
    cc = tuple(cc or device_cc())
    ns = _namespace(ck)
    phases = []
    with _lock:
        for p in ck.phases:
            ptx, _ = c.compile_ptx(ns[p.name], _signature(ck, len(p.host_vars)), device=False, cc=cc)
            m = re.search(r"\.entry\s+([\w$.]+)\s*\(", ptx)
            if m is None:
                raise UnsupportedError(f"kernel {p.name}: numba produced PTX without an entry point")
            phases.append([ptx, m.group(1)])
    return {"cc": list(cc), "phases": phases}


class SimKernel:
    """A kernel's phases as simulator kernels."""

    def __init__(self, ck: CudaKernel):
        ns = _namespace(ck)
        self.ck = ck
        self.functions = [cuda().jit(ns[p.name]) for p in ck.phases]

    def launch(self, phase: int, grid: int, block: tuple[int, int], args: list) -> None:
        fn = self.functions[phase]
        fn[grid, block](*args)


class PtxKernel:
    """A kernel's phases loaded from PTX through cuda.core."""

    def __init__(self, ck: CudaKernel, ptx: dict):
        from cuda.core import ObjectCode
        self.ck = ck
        self.kernels = []
        for (code, entry), p in zip(ptx["phases"], ck.phases):
            try:
                obj = ObjectCode.from_ptx(code.encode() if isinstance(code, str) else code, name=p.name)
            except TypeError:   # older cuda.core without the name argument
                obj = ObjectCode.from_ptx(code.encode() if isinstance(code, str) else code)
            self.kernels.append(obj.get_kernel(entry))

    def launch(self, phase: int, grid: int, block: tuple[int, int], params: list, stream) -> None:
        from cuda.core import LaunchConfig, launch
        launch(stream, LaunchConfig(grid=grid, block=block), self.kernels[phase], *params)


def load_kernel(ck: CudaKernel, ptx: dict | None):
    """A launchable kernel: a simulator kernel, or the PTX loaded (compiled
    first when `ptx` is None)."""
    if running_simulator():
        return SimKernel(ck)
    if ptx is None:
        ptx = compile_ptx(ck)
    return PtxKernel(ck, ptx)


# ---------------------------------------------------------------- memory
def is_device_array(x) -> bool:
    """An object living in device memory: anything exposing
    ``__cuda_array_interface__`` (Numba, CuPy, PyTorch CUDA tensors), or a
    simulator device array under the simulator."""
    if hasattr(x, "__cuda_array_interface__"):
        return True
    if running_simulator() and type(x).__name__ == "FakeCUDAArray":
        return True
    return False


def as_device_array(x):
    """A numba device array viewing `x` (no copy)."""
    if running_simulator():
        return x
    return cuda().as_cuda_array(x)


def device_info(x) -> tuple[np.dtype, tuple[int, ...], bool]:
    """(dtype, shape, C-contiguous) of a device array-like, without copying."""
    cai = getattr(x, "__cuda_array_interface__", None)
    if cai is not None:
        dt = np.dtype(cai["typestr"])
        shape = tuple(int(d) for d in cai["shape"])
        strides = cai.get("strides")
        contig = strides is None or tuple(strides) == _c_strides(shape, dt.itemsize)
        return dt, shape, contig
    return np.dtype(x.dtype), tuple(x.shape), bool(x.is_c_contiguous())


def _c_strides(shape, itemsize) -> tuple[int, ...]:
    out, s = [], itemsize
    for d in reversed(shape):
        out.append(s)
        s *= max(int(d), 1)
    return tuple(reversed(out))


def empty(nbytes: int):
    return cuda().device_array(max(int(nbytes), 1), np.uint8)


def to_device(a: np.ndarray, stream=None):
    c = cuda()
    a = np.ascontiguousarray(a)
    return c.to_device(a, stream=stream) if stream is not None else c.to_device(a)


def typed_view(raw, byte_offset: int, dtype, count: int):
    """A 1-D view of `count` elements of `dtype` at `byte_offset` of the raw (uint8) device array."""
    dt = np.dtype(dtype)
    return raw[byte_offset:byte_offset + count * dt.itemsize].view(dt)


def flat(dev):
    """A 1-D view of a C-contiguous device array."""
    if len(dev.shape) == 1:
        return dev
    return dev.reshape(int(np.prod(dev.shape, dtype=np.int64)))


def array_params(dev) -> list:
    """numba's kernel ABI for a 1-D C-contiguous array argument:
    meminfo, parent, nitems, itemsize, data, shape[0], strides[0]."""
    cai = dev.__cuda_array_interface__
    n = int(cai["shape"][0]) if cai["shape"] else 1
    itemsize = np.dtype(cai["typestr"]).itemsize
    return [0, 0, n, itemsize, int(cai["data"][0]), n, itemsize]


def stream():
    return cuda().stream()


@contextmanager
def quiet():
    """For simulator launches. The simulator computes on numpy scalars:
    overflow and division by zero behave as on the GPU but warn; silence
    that. It runs each CUDA thread as a Python thread and polls for
    barriers: a short GIL switch interval makes barriers (syncthreads, and
    the shims' warp exchanges) cost microseconds rather than milliseconds."""
    import sys
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        sys.setswitchinterval(interval)


def launch_grid(kind: str, work: int, block: tuple[int, int], lanes: int = 1) -> int:
    """Blocks to launch for `work` grid-stride iterations of `lanes` threads
    each (every phase loops over its work, so any grid size is correct)."""
    if work <= 0:
        return 0
    threads = block[0] * block[1]
    if kind == "single":
        return 1
    if kind == "tiled":
        blocks = work
    else:
        blocks = -(-work * lanes // threads)
    if running_simulator():
        return min(blocks, 2)
    return max(1, min(blocks, _max_blocks(kind)))


@lru_cache(maxsize=None)
def _max_blocks(kind: str) -> int:
    if kind == "tiled":
        return 2 ** 31 - 1
    try:
        sms = cuda().get_current_device().MULTIPROCESSOR_COUNT
    except Exception:
        sms = 80
    return sms * 32


def check_ptx_target(ptx: dict) -> None:
    """Refuse PTX made for a newer GPU than this one."""
    have = device_cc()
    want = tuple(ptx.get("cc") or have)
    if want > have:
        raise ArtifactError(f"the CUDA code was compiled for compute capability {want[0]}.{want[1]}; this GPU "
                            f"has {have[0]}.{have[1]}: recompile the model here")
