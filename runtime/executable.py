"""An Executable: the native code of one shape specialization, its weights,
and a pool of arenas. Calling it is one native call.

The arena is allocated once, with the Executable, and reused by every call.
Concurrent calls are safe: each call takes its own arena (and the pointer
table that goes with it) from the pool, a new one when all are busy, so no
two calls share scratch memory. ctypes releases the GIL during the native
call.
"""
from __future__ import annotations

import ctypes
from dataclasses import asdict, dataclass, field

import numpy as np

from ..codegen.llvm.jit import NativeCode
from ..codegen.llvm.module import ENTRY
from ..codegen.llvm.pool import MAX_THREADS, default_threads
from ..codegen.llvm.render import THREADS_GLOBAL
from ..ir.errors import ExecutionError

_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_void_p)
ARENA_ALIGN = 64


def _probe_data_offset() -> int | None:
    """Where a numpy array object keeps its data pointer (right after the
    object header in CPython's layout), verified here on a few arrays; None
    means "ask numpy" (slower)."""
    probes = [np.zeros(3), np.zeros(()), np.arange(10)[3:], np.empty((2, 0))]
    for off in (16,):
        try:
            if all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data for a in probes):
                return off
        except (ValueError, OSError):
            pass
    return None


_DATA_OFFSET = _probe_data_offset()
_at = ctypes.c_void_p.from_address


def data_pointer(a: np.ndarray) -> int:
    """The address of `a`'s first element. ``a.ctypes.data`` costs ~2.5 us;
    reading the field costs ~0.3 us, and calls are that short."""
    if _DATA_OFFSET is None:
        return a.ctypes.data
    return _at(id(a) + _DATA_OFFSET).value or 0


@dataclass
class ExecMeta:
    """What the runtime needs to know about compiled code (saved with it)."""
    input_dtypes: list[str]
    input_shapes: list[list[int]]
    output_dtypes: list[str]
    output_shapes: list[list[int]]
    arena_bytes: int
    # per call of the entry: (kernel name, source nodes, run-time check messages)
    calls: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    # [output j, input i]: output j is written in place over input i
    inplace: list[list[int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ExecMeta":
        return cls(**d)

    def error_message(self, status: int) -> str:
        """Decode the entry's status: (call index + 1) << 16 | (check code + 1)."""
        call, code = (status >> 16) - 1, (status & 0xFFFF) - 1
        if 0 <= call < len(self.calls) and 0 <= code < len(self.calls[call][2]):
            name, sources, messages = self.calls[call]
            return f"{', '.join(sources) or name}: {messages[code]}"
        return f"generated code reported error status {status}"


def _stamps_pointer(stamps: np.ndarray, calls: int) -> int:
    if stamps.dtype != np.int64 or stamps.size < calls + 1 or not stamps.flags.c_contiguous \
            or not stamps.flags.writeable:
        raise ValueError(f"timestamps must be a writable contiguous int64 array of at least {calls + 1} slots")
    return stamps.ctypes.data


def aligned_empty(nbytes: int, align: int = ARENA_ALIGN) -> np.ndarray:
    raw = np.empty(nbytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]


class Executable:
    """`threads`: how many threads the parallel loops of this code may use
    (default: DLC_NUM_THREADS, else the cores this process may run on);
    settable later with the ``threads`` property."""

    def __init__(self, meta: ExecMeta, object_code: bytes, weights: np.ndarray, threads: int | None = None):
        self.meta = meta
        self.object_code = object_code
        self.weights = aligned_empty(weights.size)
        self.weights[:] = weights
        self.weights.setflags(write=False)
        self._native = NativeCode(object_code)     # keeps the code alive
        self._fn = _ENTRY_TYPE(self._native.address(ENTRY))
        addr = self._native.global_address(THREADS_GLOBAL)
        self._threads_cell = ctypes.c_int32.from_address(addr) if addr else None
        self.threads = threads
        # outputs of a page or more are cache-line aligned, like the arena: kernels
        # (a fused matmul accumulating in its output) run slower on split vectors
        self._out_specs = []
        for d, s in zip(meta.output_dtypes, meta.output_shapes):
            nbytes = int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize
            self._out_specs.append((np.dtype(d), tuple(s), nbytes, nbytes < 4096))
        self._weights_ptr = self.weights.ctypes.data
        n_in = len(meta.input_dtypes)
        self._table_type = ctypes.c_void_p * max(n_in + len(self._out_specs), 1)
        self._n_in = n_in
        self._outputs_at = n_in * ctypes.sizeof(ctypes.c_void_p)
        self._inplace = [(j, i) for j, i in meta.inplace]
        # arenas not in use: (arena, its address, a pointer table, its address); list.pop and
        # list.append are atomic, so taking and returning one needs no lock
        self._free: list[tuple] = [self._new_arena()]

    @property
    def threads(self) -> int:
        return self._threads

    @threads.setter
    def threads(self, n: int | None) -> None:
        n = default_threads() if n is None else int(n)
        if n < 1:
            raise ValueError(f"threads must be at least 1, got {n}")
        self._threads = min(n, MAX_THREADS)
        if self._threads_cell is not None:
            self._threads_cell.value = self._threads

    def _new_arena(self) -> tuple:
        arena = aligned_empty(max(self.meta.arena_bytes, 1))
        table = self._table_type()
        return arena, arena.ctypes.data, table, ctypes.addressof(table)

    def run(self, inputs: list[np.ndarray], timestamps: np.ndarray | None = None) -> list[np.ndarray]:
        """Run on inputs that already match the specialization (dtype, shape,
        C-contiguous): the caller validates. ``timestamps``: an int64 array of
        len(meta.calls) + 1 that receives a monotonic clock reading (ns)
        before the first kernel and after each (the per-kernel profile)."""
        outs = [np.empty(shape, dtype) if small else aligned_empty(nbytes).view(dtype).reshape(shape)
                for dtype, shape, nbytes, small in self._out_specs]
        for j, i in self._inplace:   # written over the input: the input array is the output
            outs[j] = inputs[i]
        try:
            slot = self._free.pop()
        except IndexError:   # another call holds the others
            slot = self._new_arena()
        _, arena, table, base = slot
        try:
            # one table: the input pointers, then the output pointers
            table[:self._n_in] = [data_pointer(a) for a in inputs]
            table[self._n_in:self._n_in + len(outs)] = [data_pointer(o) for o in outs]
            status = self._fn(base, base + self._outputs_at, self._weights_ptr, arena,
                              None if timestamps is None else _stamps_pointer(timestamps, len(self.meta.calls)))
        finally:
            self._free.append(slot)
        if status:
            raise ExecutionError(self.meta.error_message(status))
        return outs

    def bind(self, inputs: list[np.ndarray], outputs: list[np.ndarray]):
        """A function of no arguments that runs on these arrays (matching the
        specialization, C-contiguous) and writes into `outputs`: the pointer
        table and an arena are made once, so each call is just the native
        call. The arrays must stay where they are (update them in place)."""
        table = self._table_type(*[data_pointer(a) for a in inputs], *[data_pointer(o) for o in outputs])
        base = ctypes.addressof(table)
        arena = aligned_empty(max(self.meta.arena_bytes, 1))
        arena_ptr = arena.ctypes.data
        fn, out_at, weights, meta = self._fn, base + self._outputs_at, self._weights_ptr, self.meta
        keep = (table, arena, list(inputs), list(outputs), self)

        def call() -> None:
            status = fn(base, out_at, weights, arena_ptr, None)
            if status:
                raise ExecutionError(meta.error_message(status))
        call.keep = keep
        return call
