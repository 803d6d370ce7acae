"""What a lowering may assume about the machine its kernel runs on.

A lowering reads ``k.target`` (KernelBuilder) to pick a schedule: the
vector width it blocks registers for, the cache sizes it tiles for. The
default, GENERIC, has no vectors: lowerings then emit the plain scalar loop
nests every renderer (and the CUDA backend) understands. The CPU compile
path passes `host()`: the features LLVM reports for this CPU and the cache
sizes the OS reports, so tile sizes are chosen at compile time for the host.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Target:
    name: str = "generic"
    vector_bits: int = 0        # 0: no vector expressions (scalar schedules only)
    vector_registers: int = 16
    fma: bool = False
    l1d: int = 32 * 1024        # bytes, per core
    l2: int = 512 * 1024
    l3: int = 8 * 2 ** 20

    def lanes(self, dtype) -> int:
        """Lanes of a vector register of `dtype` (1: do not vectorize it by hand)."""
        dt = np.dtype(dtype)
        if self.vector_bits == 0 or dt.kind != "f" or dt.itemsize not in (4, 8):
            return 1
        return self.vector_bits // (8 * dt.itemsize)


GENERIC = Target()


def _cache_size(level: int, default: int) -> int:
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            d = os.path.join(base, entry)
            with open(os.path.join(d, "level")) as f:
                lvl = int(f.read())
            with open(os.path.join(d, "type")) as f:
                typ = f.read().strip()
            if lvl == level and typ in ("Data", "Unified"):
                with open(os.path.join(d, "size")) as f:
                    text = f.read().strip().upper()
                mult = {"K": 1024, "M": 2 ** 20, "G": 2 ** 30}.get(text[-1:], 1)
                return int(text.rstrip("KMG")) * mult
    except (OSError, ValueError):
        pass
    return default


def cpu_target(features: str) -> Target:
    """The Target of a CPU with LLVM feature string `features` ("+avx2,+fma,...")."""
    have = {f[1:] for f in features.split(",") if f.startswith("+")}
    if "avx512f" in have:
        bits, regs = 512, 32
    elif "avx" in have:
        bits, regs = 256, 16
    elif "sse2" in have or "neon" in have:
        bits, regs = 128, 16 if "sse2" in have else 32
    else:
        bits, regs = 0, 16
    return Target("cpu", bits, regs, "fma" in have or "neon" in have,
                  _cache_size(1, 32 * 1024), _cache_size(2, 512 * 1024), _cache_size(3, 8 * 2 ** 20))


@lru_cache(maxsize=None)
def host() -> Target:
    from .llvm.jit import host as llvm_host
    return cpu_target(llvm_host().features)
