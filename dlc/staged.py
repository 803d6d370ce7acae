"""Staged execution: how dlc runs graphs whose shapes depend on data.

Native code is compiled for static shapes. An op whose output shape depends
on its input *values* (``OpDef.dynamic_shape``: NonZero, Unique, ...) cannot
be inside such code, so a graph containing one runs in stages:

    segment 0 (native) -> host step(s) -> segment 1 (native) -> host -> ...

A host step evaluates its node with the op's numpy reference, on the values
the previous segment produced. Each segment is a subgraph compiled like a
whole model: specialized to the shapes it receives (and to the values of
small inputs it needs as constants, e.g. a Reshape target computed from a
NonZero count, or a Reshape target that is a graph input), compiled once
per distinct signature and cached. A model whose data-dependent sizes vary
from call to call therefore compiles once per distinct size; each compile
is logged. Nodes whose converter needs an input's value (TopK's k, a
reduction's axes: dlc/frontends/onnx/by_value.py) are host steps compiled
the same way.

Sequences, optionals and string tensors (``Value.host_only``: ir/graph.py)
live on the host only: every node that reads or writes one is a host step
(its op's reference), and the tensors it hands on (an item of a sequence)
flow into segments like any other host step's outputs.

Control flow (If with a run-time condition, Loop, Scan, SequenceMap: ir/ops/control.py)
runs as host steps too, but their bodies do not run on the host: the host
step only drives the iteration. Each body is compiled like a segment (once
per shape signature, cached in the step), its input and output buffers are
bound once per step, and an iteration is a copy of its arguments into the
bound inputs and one native call (`CompiledBodies`). A body that itself
has host steps (nested control flow) runs staged in the same way.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .ir import Graph, Node, Value, infer_shapes
from .ir.errors import ShapeError
from .ir.interpreter import as_value, copy_value, run_node
from .ir.ops.control import CONTROL, run_control
from .runtime.executable import Executable

log = logging.getLogger("dlc")


def has_host_steps(g: Graph) -> bool:
    """Whether `g` must run staged: it has host steps, or host-only inputs or outputs."""
    return any(n.on_host for n in g.nodes) or any(v.host_only for v in g.inputs + g.outputs)


def _signature(a) -> tuple:
    """What code is compiled for: an array's shape (host-only values are not compiled for)."""
    return a.shape if isinstance(a, np.ndarray) else ()


def needs_staging(g: Graph) -> bool:
    """Whether `g` runs staged: it has host steps, or a static input (a
    Reshape target...) is computed from a graph input (it then compiles per
    distinct value of that input)."""
    return has_host_steps(g) or bool(value_inputs(g))


def subgraph(g: Graph, nodes: list[Node], inputs: list[Value], outputs: list[Value], name: str) -> Graph:
    """A new Graph of `nodes` (copied), reading `inputs` and returning `outputs`."""
    sub = Graph(name)
    vmap: dict[Value, Value] = {}
    for v in inputs:
        vmap[v] = sub.add_input(v.name, v.dtype, v.shape)

    def get(v):
        if v is None:
            return None
        if v.is_const:
            return v
        return vmap[v]

    for n in nodes:
        copy = Node(n.op, [get(v) for v in n.inputs], n.attrs, n.source)
        for v in n.outputs:
            nv = Value(sub.fresh_name(v.name), v.dtype, v.shape, producer=copy)
            copy.outputs.append(nv)
            vmap[v] = nv
        sub.nodes.append(copy)
    sub.outputs = [get(v) for v in outputs]
    return sub


def value_inputs(g: Graph) -> list[int]:
    """Positions of `g`'s inputs whose values the code must be compiled
    for: they flow (through any nodes but shape queries) into an input that
    an op needs as a compile-time constant (``OpDef.static_inputs``: a
    Reshape target, a Slice start computed from a loop's iteration number)."""
    need: set[Value] = set()
    for n in reversed(g.nodes):
        reads = [n.inputs[i] for i in n.opdef.static_inputs if i < len(n.inputs)]
        if n.opdef.fold is None and any(v in need for v in n.outputs):
            reads = n.inputs
        need.update(v for v in reads if v is not None and not v.is_const and not v.container)
    return [i for i, v in enumerate(g.inputs) if v in need]


def specialize_to(g: Graph, args: list[np.ndarray], baked: list[int]) -> Graph:
    """A copy of `g` for these arguments: input shapes set to theirs, and
    the inputs at positions `baked` replaced by their values (constants).
    Sequence and optional inputs keep their types."""
    g = g.copy()
    keep = []
    for i, (v, a) in enumerate(zip(g.inputs, args)):
        if i in baked:
            g.replace_uses(v, g.const(np.array(a, dtype=v.dtype), name=v.name + "_v"))
        else:
            if not v.container:
                v.shape = tuple(np.shape(a))
            keep.append(v)
    g.inputs = keep
    return infer_shapes(g)


@dataclass
class Segment:
    """Native code for a run of nodes between host steps."""
    graph: Graph
    inputs: list[Value]              # values of the outer graph it reads
    outputs: list[Value]             # values of the outer graph it defines for later stages
    baked: list[int]                 # input positions specialized by value (they feed static inputs)
    cache: dict = field(default_factory=dict)


@dataclass
class HostStep:
    """A node evaluated on the host with its numpy reference; or, for an op
    with a ``specialize`` facet, compiled per distinct input signature; or,
    for control flow, driving its compiled bodies."""
    node: Node
    # control flow: each body's `value_inputs`, and its compiled code by (body, shapes, those values)
    baked: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)


def partition(g: Graph) -> list[Segment | HostStep]:
    """Split `g` into native segments and host steps, in an order that
    respects data flow. Stage positions: segment k at 2k, host steps
    between segment k and k+1 at 2k+1; a node goes to the earliest stage
    of its kind after all its inputs."""
    pos: dict[Value, int] = {v: 0 for v in g.inputs}
    node_pos: dict[int, int] = {}
    native: dict[int, list[Node]] = {}
    host: dict[int, list[Node]] = {}
    for n in g.nodes:
        p = max((pos[v] for v in n.inputs if v is not None and not v.is_const), default=0)
        if n.on_host:
            p = p if p % 2 else p + 1
            host.setdefault(p, []).append(n)
        else:
            p = p if p % 2 == 0 else p + 1
            native.setdefault(p, []).append(n)
        node_pos[id(n)] = p
        for v in n.outputs:
            pos[v] = p
    last = max(list(native) + list(host), default=0)
    users = g.users()
    outs = set(g.outputs)
    stages: list[Segment | HostStep] = []
    for p in range(last + 1):
        if p % 2:
            stages += [HostStep(n) for n in host.get(p, [])]
            continue
        nodes = native.get(p, [])
        if not nodes:
            continue
        inside = {v for n in nodes for v in n.outputs}
        ins, outs_ = [], []
        for n in nodes:
            for v in n.inputs:
                if v is not None and not v.is_const and v not in inside and v not in ins:
                    ins.append(v)
            for v in n.outputs:
                if v in outs or any(node_pos[id(u)] != p for u in users.get(v, [])):
                    outs_.append(v)
        sub = subgraph(g, nodes, ins, outs_, f"{g.name}_segment{p // 2}")
        stages.append(Segment(sub, ins, outs_, value_inputs(sub)))
    return stages


def _check_ranks(node: Node, outs) -> None:
    """Later stages were built for the ranks the graph gave these outputs.
    Some come from stand-in values (dlc/frontends/onnx/fallback.py), and an
    item taken from a sequence whose items differ in rank may have another."""
    for v, o in zip(node.outputs, outs):
        if not v.container and v.shape is not None and np.ndim(o) != v.rank:
            raise ShapeError(f"{node.where}: output {v.name!r} has rank {np.ndim(o)} (shape {list(np.shape(o))}) "
                             f"for these input values, but the rest of the model was built for rank {v.rank}")


class StagedExecutable:
    """Runs a partitioned graph; same `run(inputs) -> outputs` as Executable."""

    def __init__(self, g: Graph, build):
        self.graph = g
        self._build = build              # Graph with static inputs -> Executable (or (it, outcome))
        self.stages = partition(g)
        self._lock = threading.Lock()
        # run-time accounting (compiles excluded): seconds per host step, in all
        self.host_seconds: dict[str, float] = {}
        self.total_seconds = 0.0
        self.runs = 0

    def body_executable(self, step: HostStep, body: Graph, args: list[np.ndarray], key: tuple):
        """The compiled code of a control-flow body for `args` (their shapes
        and the values of the body's `value_inputs`, which `key` holds): an
        Executable, or a StagedExecutable when the body has host steps."""
        exe = step.cache.get(key)
        if exe is None:
            with self._lock:
                exe = step.cache.get(key)
                if exe is None:
                    baked = step.baked[body]
                    g = specialize_to(body, args, baked)
                    g.name = f"{self.graph.name}_{body.name}"
                    if has_host_steps(g):
                        exe, outcome = StagedExecutable(g, self._build), "staged"
                    else:
                        res = self._build(g)
                        exe, outcome = res if isinstance(res, tuple) else (res, "compiled")
                    step.cache[key] = exe
                    log.info("dlc: %s for input shapes %s%s: %s", g.name, [list(s) for s in key[1]],
                             f" and the values of inputs {baked}" if baked else "", outcome)
        return exe

    def _executable(self, seg: Segment, args: list[np.ndarray]):
        key = (tuple(a.shape for a in args),
               tuple(args[i].tobytes() + str(args[i].shape).encode() for i in seg.baked))
        exe = seg.cache.get(key)
        if exe is None:
            with self._lock:
                exe = seg.cache.get(key)
                if exe is None:
                    reason = "first call" if not seg.cache else "new input values" \
                        if any(k[0] == key[0] for k in seg.cache) else "new data-dependent sizes"
                    res = self._build(specialize_to(seg.graph, args, seg.baked))
                    exe, outcome = res if isinstance(res, tuple) else (res, "compiled")
                    seg.cache[key] = exe
                    log.info("dlc: %s for input shapes %s: %s (%s)", seg.graph.name,
                             [list(k) for k in key[0]], outcome, reason)
        return exe

    def _specialized(self, st: HostStep, args: list) -> list[np.ndarray]:
        """Run a node compiled for these inputs: its graph from the op's
        ``specialize``, built once per distinct (shapes, baked values)."""
        arrays = [None if a is None else np.require(a, requirements="C") for a in args]
        shapes = tuple(None if a is None else a.shape for a in arrays)
        for key, (exe, runtime) in list(st.cache.items()):   # baked positions are learned: match on them
            if key[0] == shapes and all(arrays[i].tobytes() == b for i, b in key[1]):
                return exe.run([arrays[i] for i in runtime])
        with self._lock:
            g, runtime = st.node.opdef.specialize(arrays, **st.node.attrs)
            g.name = f"{self.graph.name}_{st.node.where.removeprefix('onnx ')}"
            fed = set(runtime)
            baked = tuple((i, a.tobytes()) for i, a in enumerate(arrays) if a is not None and i not in fed)
            res = self._build(g)
            exe, outcome = res if isinstance(res, tuple) else (res, "compiled")
            reason = "new input values" if st.cache else "first call"
            st.cache[(shapes, baked)] = (exe, runtime)
            log.info("dlc: %s for input shapes %s: %s (%s)", g.name, [list(s) for s in shapes if s is not None],
                     outcome, reason)
        return exe.run([arrays[i] for i in runtime])

    def run(self, inputs: list[np.ndarray], trace: list | None = None) -> list[np.ndarray]:
        """``trace``, when given, receives one (stage, start ns, end ns, data)
        per stage: a host step's Node, or a segment's (Executable, kernel
        timestamps) (see dlc/profile.py)."""
        env: dict[Value, object] = dict(zip(self.graph.inputs, inputs))
        clock = time.perf_counter_ns
        spent = 0
        host: dict[str, int] = {}

        def get(v: Value):
            return v.const if v.is_const else env[v]

        for st in self.stages:
            if isinstance(st, HostStep):
                t0 = clock()
                args = [None if v is None else get(v) for v in st.node.inputs]
                if st.node.op in CONTROL:
                    outs = run_control(st.node, args, CompiledBodies(st, self))
                else:
                    outs = self._specialized(st, args) if st.node.opdef.specialize else run_node(st.node, args)
                _check_ranks(st.node, outs)
                env.update(zip(st.node.outputs, outs))
                t1 = clock()
                host[st.node.where] = host.get(st.node.where, 0) + t1 - t0
                spent += t1 - t0
                if trace is not None:
                    trace.append((st, t0, t1, st.node))
                continue
            args = [np.require(get(v), requirements="C") for v in st.inputs]
            exe = self._executable(st, args)
            runtime_args = [a for i, a in enumerate(args) if i not in st.baked]
            stamps = np.zeros(len(exe.meta.calls) + 1, np.int64) if trace is not None else None
            t0 = clock()
            env.update(zip(st.outputs, exe.run(runtime_args, stamps)))
            t1 = clock()
            spent += t1 - t0
            if trace is not None:
                trace.append((st, t0, t1, (exe, stamps)))
        with self._lock:
            self.runs += 1
            self.total_seconds += spent * 1e-9
            for k, ns in host.items():
                self.host_seconds[k] = self.host_seconds.get(k, 0.0) + ns * 1e-9
        return [copy_value(get(v)) for v in self.graph.outputs]

    def host_report(self) -> str:
        """A sentence naming the ONNX nodes that ran through the reference
        fallback and their share of run time so far ("" when none did)."""
        nodes = [st.node for st in self.stages if isinstance(st, HostStep) and st.node.op == "onnx_reference"]
        if not nodes or not self.runs:
            return ""
        total = max(self.total_seconds, 1e-12)
        share = sum(self.host_seconds.get(n.where, 0.0) for n in nodes) / total
        parts = [f"{n.where.removeprefix('onnx ')} ({n.attrs['node'].op_type}, "
                 f"{100 * self.host_seconds.get(n.where, 0.0) / total:.1f}%)" for n in nodes]
        return (f"fallback='reference': {len(nodes)} ONNX node(s) ran on the host with the onnx reference "
                f"implementation, {100 * share:.1f}% of run time over {self.runs} run(s): {', '.join(parts)}")


class CompiledBodies:
    """``run(body, arrays)`` for one run of a control-flow host step (see
    ir/ops/control.py): each body as native code, with its input and output
    arrays bound once, so an iteration copies its arguments in and makes one
    native call. The outputs it returns are overwritten by the next call."""

    def __init__(self, step: HostStep, staged: StagedExecutable):
        self.step, self.staged = step, staged
        self.bound: dict = {}

    def __call__(self, body: Graph, args: list[np.ndarray]) -> list[np.ndarray]:
        baked = self.step.baked.get(body)
        if baked is None:
            baked = self.step.baked[body] = value_inputs(body)
        key = (body, tuple(_signature(a) for a in args), tuple(args[i].tobytes() for i in baked))
        bound = self.bound.get(key)
        if bound is None:
            exe = self.staged.body_executable(self.step, body, args, key)
            if isinstance(exe, Executable):
                meta = exe.meta
                ins = [np.empty(s, d) for d, s in zip(meta.input_dtypes, meta.input_shapes)]
                outs = [np.empty(s, d) for d, s in zip(meta.output_dtypes, meta.output_shapes)]
                bound = (ins, outs, exe.bind(ins, outs))
            else:
                bound = (None, None, exe)
            self.bound[key] = bound
        if baked:
            args = [a for i, a in enumerate(args) if i not in baked]
        ins, outs, call = bound
        if ins is None:   # a staged body
            return call.run([as_value(a, v) for a, v in zip(args, call.graph.inputs)])
        for dst, a in zip(ins, args):
            np.copyto(dst, a, casting="unsafe")
        call()
        return outs
