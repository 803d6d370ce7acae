"""Per-kernel profile: where a run's time goes, kernel by kernel, with the
ONNX nodes each kernel covers.

    p = m.profile({"x": x}, repeat=20)
    print(p.table())
    p.save_chrome_trace("trace.json")     # chrome://tracing or ui.perfetto.dev

The generated entry takes an optional timestamps buffer (see
codegen/llvm/module.py): when given, it stores a monotonic clock reading
(clock_gettime, ns) before the first kernel and after each one, so a
kernel's time is the difference of two neighbouring stamps: what the
hardware spent in that kernel, measured in the native code, without Python.
The profiled runs are ordinary runs of the same code (without the buffer,
the stamps cost one untaken branch per kernel). Host steps of staged models
(data-dependent ops, reference-fallback nodes) are timed around their
numpy/onnx evaluation. Kernel and host-step names are the ones `dlc inspect
--stage kernels`, the dumps and `dlc compare` use.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from .runtime.executable import Executable
from .staged import HostStep, StagedExecutable

_clock = time.perf_counter_ns


@dataclass
class Row:
    """One kernel (or host step) of the model, accumulated over the runs."""
    name: str
    nodes: list[str]          # ONNX node names it computes
    kind: str                 # "kernel" | "host"
    segment: str = ""         # staged models: the native segment it belongs to
    ns: int = 0               # total over all profiled runs
    calls: int = 0

    @property
    def label(self) -> str:
        return f"{self.segment}/{self.name}" if self.segment else self.name


@dataclass
class Profile:
    model: str
    runs: int = 0
    wall_ns: int = 0                        # total over runs, measured around each run
    rows: dict[tuple, Row] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)   # chrome trace events of every run
    _cursor_us: float = 0.0                 # where the current run starts on the trace's time axis

    # ------------------------------------------------------------ numbers
    @property
    def per_run_ms(self) -> float:
        return self.wall_ns / max(self.runs, 1) / 1e6

    def kernels(self) -> list[Row]:
        """Rows, slowest first."""
        return sorted(self.rows.values(), key=lambda r: -r.ns)

    def seconds(self, name: str) -> float:
        """Mean seconds per run of the kernel or host step called `name`."""
        return sum(r.ns for r in self.rows.values() if name in (r.name, r.label)) / max(self.runs, 1) / 1e9

    # ------------------------------------------------------------- output
    def table(self, top: int | None = None) -> str:
        runs = max(self.runs, 1)
        wall = max(self.wall_ns, 1)
        inside = sum(r.ns for r in self.rows.values())
        rows = self.kernels()
        width = max([len(r.label) + (7 if r.kind == "host" else 0) for r in rows] + [20])
        lines = [f"profile of {self.model}: {self.runs} run(s), {self.per_run_ms:.3f} ms per run",
                 f"  {'kernel':<{width}}  {'ms/run':>9}  {'share':>6}  ONNX nodes"]
        for r in rows[:top] if top else rows:
            name = ("(host) " if r.kind == "host" else "") + r.label
            nodes = ", ".join(r.nodes) or "-"
            if len(nodes) > 80:
                nodes = nodes[:77] + "..."
            lines.append(f"  {name:<{width}}  {r.ns / runs / 1e6:9.4f}  {100 * r.ns / wall:5.1f}%  {nodes}")
        if top and len(rows) > top:
            rest = sum(r.ns for r in rows[top:])
            lines.append(f"  {f'({len(rows) - top} more)':<{width}}  {rest / runs / 1e6:9.4f}  "
                         f"{100 * rest / wall:5.1f}%")
        other = max(self.wall_ns - inside, 0)
        lines.append(f"  {'(outside kernels)':<{width}}  {other / runs / 1e6:9.4f}  {100 * other / wall:5.1f}%  "
                     f"Python: input checks, output allocation, staging")
        return "\n".join(lines)

    def chrome_trace(self) -> dict:
        """The runs as a Chrome trace (Trace Event Format): one complete
        event per kernel call and host step, its ONNX nodes in ``args``."""
        return {"traceEvents": self.events, "displayTimeUnit": "ms",
                "otherData": {"model": self.model, "runs": self.runs, "generator": "dlc profile"}}

    def save_chrome_trace(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)

    def __str__(self) -> str:
        return self.table()

    # ------------------------------------------------------------ filling
    def _add(self, key: tuple, name: str, nodes: list[str], kind: str, segment: str, start: int, end: int,
             origin: int) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = Row(name, nodes, kind, segment)
        row.ns += end - start
        row.calls += 1
        self.events.append({"name": row.label, "cat": kind, "ph": "X", "pid": 1, "tid": 1,
                            "ts": self._cursor_us + (start - origin) / 1e3, "dur": (end - start) / 1e3,
                            "args": {"onnx_nodes": nodes, "run": self.runs}})

    def _add_native(self, exe: Executable, stamps: np.ndarray, segment: str, origin: int) -> None:
        for i, (name, sources, _) in enumerate(exe.meta.calls):
            nodes = [s.removeprefix("onnx ") for s in sources]
            self._add((segment, i, name), name, nodes, "kernel", segment, int(stamps[i]), int(stamps[i + 1]),
                      origin)


def profile_run(exe, arrays: list[np.ndarray], prof: Profile) -> list[np.ndarray]:
    """Run `exe` (an Executable or a StagedExecutable) once, adding its
    kernel and host-step times to `prof`."""
    if isinstance(exe, StagedExecutable):
        trace: list = []
        t0 = _clock()
        outs = exe.run(arrays, trace=trace)
        t1 = _clock()
        for st, start, end, data in trace:
            if isinstance(st, HostStep):
                node = data
                name = node.where.removeprefix("onnx ")
                op = node.attrs["node"].op_type if node.op == "onnx_reference" else node.op
                prof._add(("host", id(st)), name, [f"{name} ({op})"], "host", "", start, end, t0)
            else:
                sub, stamps = data
                prof._add_native(sub, stamps, st.graph.name, t0)
    else:
        stamps = np.zeros(len(exe.meta.calls) + 1, np.int64)
        t0 = _clock()
        outs = exe.run(arrays, stamps)
        t1 = _clock()
        prof._add_native(exe, stamps, "", t0)
    prof.events.append({"name": f"run {prof.runs}", "cat": "run", "ph": "X", "pid": 1, "tid": 0,
                        "ts": prof._cursor_us, "dur": (t1 - t0) / 1e3, "args": {}})
    prof._cursor_us += (t1 - t0) / 1e3 + 10.0   # runs one after another, 10 us apart
    prof.wall_ns += t1 - t0
    prof.runs += 1
    return outs


def profile_model(model, feeds, repeat: int = 10, warmup: int = 1) -> Profile:
    """Profile `repeat` runs of a CompiledModel on `feeds` (after `warmup`
    unprofiled runs, which also compile what the feeds' shapes need)."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    key, arrays = model._bind(feeds)
    exe = model.executable(key)
    for _ in range(max(warmup, 0)):
        exe.run(arrays)
    prof = Profile(model.name)
    for _ in range(repeat):
        profile_run(exe, arrays, prof)
    return prof
