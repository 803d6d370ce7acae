"""Render a whole Program for CUDA: its kernels (each rendered once per
distinct source), and per call of the entry, the storage of each argument
and the status tag. `CudaCode` is what the runtime launches, what the
compile cache and saved artifacts keep (as JSON, with PTX once compiled for
a GPU), and what ``dump_dir`` shows (``cuda_kernels.py``).

Nothing here imports numba: rendering runs anywhere.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..llvm.module import overlapping_args
from ..program import Program, Storage
from .render import CudaKernel, Phase, RenderConfig, render_kernel


@dataclass(frozen=True)
class Arg:
    """One array argument of a launch: `storage` (the caller's input or
    output `index`, or a byte offset into the weights or the arena), seen
    as a 1-D array of `dtype` with `count` elements from there."""
    kind: str
    index: int
    dtype: str
    count: int


@dataclass
class CudaCall:
    kernel: int          # index into CudaCode.kernels
    args: list[Arg]
    tag: int             # (call index + 1) << 16: what a failed check reports, with its code


@dataclass
class CudaCode:
    kernels: list[CudaKernel]
    calls: list[CudaCall]
    simulator: bool = False
    # PTX per kernel key: {"cc": [major, minor], "phases": [[ptx, entry name], ...]}
    ptx: dict[str, dict] = field(default_factory=dict)

    def source(self) -> str:
        """Every kernel's source, in call order (for dumps and `dlc inspect`)."""
        return "\n\n".join(k.source for k in self.kernels)

    def to_json(self) -> dict:
        return {
            "simulator": self.simulator,
            "kernels": [_kernel_json(k) for k in self.kernels],
            "calls": [{"kernel": c.kernel, "tag": c.tag, "args": [[a.kind, a.index, a.dtype, a.count] for a in c.args]}
                      for c in self.calls],
            "ptx": self.ptx,
        }

    @classmethod
    def from_json(cls, d: dict) -> "CudaCode":
        return cls([_kernel_from_json(k) for k in d["kernels"]],
                   [CudaCall(c["kernel"], [Arg(*a) for a in c["args"]], c["tag"]) for c in d["calls"]],
                   d.get("simulator", False), dict(d.get("ptx") or {}))


def _span(buf) -> int:
    """Elements of `buf`'s dtype from its storage's start that it reaches."""
    if buf.numel == 0:
        return 0
    return int(buf.offset + sum((d - 1) * st for d, st in zip(buf.shape, buf.strides)) + 1)


def render_program(prog: Program, config: RenderConfig | None = None,
                   render_seconds: dict | None = None) -> CudaCode:
    config = config or RenderConfig()
    kernels: list[CudaKernel] = []
    by_key: dict[str, int] = {}
    calls = []
    for ci, call in enumerate(prog.calls):
        t0 = time.perf_counter()
        ck = render_kernel(call.kernel, overlapping_args(call), config)
        if render_seconds is not None:
            render_seconds[call.kernel.name] = render_seconds.get(call.kernel.name, 0.0) + time.perf_counter() - t0
        key = ck.key
        if key not in by_key:
            by_key[key] = len(kernels)
            kernels.append(ck)
        args = []
        for buf, s in zip(call.kernel.params + call.kernel.scratch, call.args):
            args.append(_arg(buf, s, prog))
        calls.append(CudaCall(by_key[key], args, (ci + 1) << 16))
    return CudaCode(kernels, calls, config.simulator)


def _arg(buf, s: Storage, prog: Program) -> Arg:
    if s.kind in ("input", "output"):
        spec = (prog.inputs if s.kind == "input" else prog.outputs)[s.index]
        return Arg(s.kind, s.index, buf.dtype.name, int(np.prod(spec.shape, dtype=np.int64)))
    return Arg(s.kind, s.index, buf.dtype.name, _span(buf))


# ------------------------------------------------------------------ json
def _kernel_json(k: CudaKernel) -> dict:
    return {"name": k.name, "source": k.source,
            "consts": {n: [v.dtype.str, v.tobytes().hex()] for n, v in k.consts.items()},
            "arg_dtypes": [d.str for d in k.arg_dtypes],
            "phases": [[p.name, p.kind, p.work, list(p.block), list(p.host_vars), p.lanes] for p in k.phases],
            "launches": [[i, list(v)] for i, v in k.launches],
            "sources": k.sources, "messages": k.messages}


def _kernel_from_json(d: dict) -> CudaKernel:
    consts = {n: np.frombuffer(bytes.fromhex(h), np.dtype(dt))[0] for n, (dt, h) in d["consts"].items()}
    return CudaKernel(d["name"], d["source"], consts, [np.dtype(x) for x in d["arg_dtypes"]],
                      [Phase(n, kind, work, tuple(block), tuple(hv), lanes)
                       for n, kind, work, block, hv, lanes in d["phases"]],
                      [(i, tuple(v)) for i, v in d["launches"]], d.get("sources", []), d.get("messages", []))
