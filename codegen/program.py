"""A Program: the kernels of one specialized graph, in call order, with the
storage each kernel argument lives in. The entry function renders from it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kir import Kernel


@dataclass(frozen=True)
class Storage:
    """Where a buffer lives: the caller's input/output `index`, or a byte
    offset into the weights blob or the arena."""
    kind: str   # "input" | "output" | "weights" | "arena"
    index: int

    def __str__(self) -> str:
        return f"{self.kind}[{self.index}]" if self.kind in ("input", "output") else f"{self.kind}+{self.index}"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]


@dataclass
class Call:
    kernel: Kernel
    args: list[Storage]   # one per kernel param, then one per scratch buffer


@dataclass
class Program:
    name: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    calls: list[Call] = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    arena_bytes: int = 0
    weights_bytes: int = 0
    memory: object = None   # the MemoryPlan (offsets, lifetimes, statistics)

    @property
    def kernels(self) -> list[Kernel]:
        return [c.kernel for c in self.calls]
