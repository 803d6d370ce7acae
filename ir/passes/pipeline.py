"""The pass pipeline: a list of `def name(g: Graph) -> Graph` functions.
The runner times each pass, can verify the graph after it, and can dump
the graph before and after."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..graph import Graph
from ..verify import verify

Pass = Callable[[Graph], Graph]


@dataclass
class PassRecord:
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int


def run_passes(g: Graph, passes: Sequence[Pass], *, check: bool = False, dump_dir: str | None = None,
               prefix: str = "", log: list[PassRecord] | None = None) -> Graph:
    if dump_dir:
        os.makedirs(dump_dir, exist_ok=True)
        _dump(dump_dir, f"{prefix}00_input.txt", g)
    for i, p in enumerate(passes, 1):
        before = len(g.nodes)
        t0 = time.perf_counter()
        g = p(g)
        dt = time.perf_counter() - t0
        if check:
            verify(g)
        if log is not None:
            log.append(PassRecord(p.__name__, dt, before, len(g.nodes)))
        if dump_dir:
            _dump(dump_dir, f"{prefix}{i:02d}_{p.__name__}.txt", g)
    return g


def _dump(d: str, name: str, g: Graph) -> None:
    with open(os.path.join(d, name), "w") as f:
        f.write(str(g) + "\n")
