"""Control flow: ``if_else``, ``loop``, ``scan`` and ``sequence_map``, ops
whose attributes hold subgraphs ("bodies", IR Graphs).

A body's inputs are the values the op hands it (Loop: the iteration number,
the condition and the loop-carried values; Scan: the states and one slice of
each scanned input; SequenceMap: one item of each sequence) followed by the
outer values it reads ("captured": the op's last inputs). Output types come
from the body's own type rules, for the input shapes at hand.

None of them has a lowering: they run as host steps between compiled
segments (dlc/staged.py), where the host drives the iteration and each body
runs as natively compiled code (compiled once per shape signature, its
buffers bound once per step). The functions here hold the control logic
once, for both: they take ``run(body, arrays) -> arrays``, which the staged
runtime gives as compiled code and ``ref`` as the reference interpreter
(the oracle for tests and the constant folder). ``run`` may return arrays
it reuses on the next call: keep copies. They return a tuple of outputs (a
list is a sequence value). Sequence and optional values (ir/ops/sequence.py)
pass through If and Loop as they are.

A constant If condition never gets here: the ONNX frontend inlines the
chosen branch.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import ExecutionError, ShapeError
from ..graph import OPT, SEQ, Graph, infer_shapes, type_str
from ..interpreter import as_value, copy_value, interpret
from ..shapes import join_shapes, unknown_dim
from .base import OPAQUE, OpDef, register

INT64, BOOL = np.dtype("int64"), np.dtype("bool")


def body_types(body: Graph, types) -> list[tuple[np.dtype, tuple, tuple]]:
    """Output (dtype, shape, container)s of `body` for inputs of these."""
    g = body.copy()
    for v, (dt, shape, container) in zip(g.inputs, types):
        v.dtype, v.shape, v.container = np.dtype(dt), shape, container
    infer_shapes(g)
    return [(v.dtype, v.shape, v.container) for v in g.outputs]


def _types(vals) -> list:
    return [(v.dtype, v.shape, v.container) for v in vals]


def _same_kind(a, b) -> bool:
    """Same dtype and container, and the same rank where both are known."""
    return a[0] == b[0] and a[2] == b[2] and (a[1] is None or b[1] is None or len(a[1]) == len(b[1]))


def _interpreted(body: Graph, arrays) -> list[np.ndarray]:
    return interpret(body, arrays)


# -------------------------------------------------------------------- if
def _infer_if(ins, then_branch: Graph, else_branch: Graph):
    captured = ins[1:]
    k = len(then_branch.inputs)
    a = body_types(then_branch, _types(captured[:k]))
    b = body_types(else_branch, _types(captured[k:]))
    if len(a) != len(b):
        raise ShapeError(f"the branches have {len(a)} and {len(b)} outputs")
    out = []
    for i, (ta, tb) in enumerate(zip(a, b)):
        if not _same_kind(ta, tb):
            raise ShapeError(f"output {i}: the branches give {type_str(*ta)} and {type_str(*tb)}")
        out.append((ta[0], join_shapes(ta[1], tb[1]), ta[2]))
    return out


def run_if(run, cond, *captured, then_branch: Graph, else_branch: Graph):
    """Only the chosen branch runs."""
    k = len(then_branch.inputs)
    if bool(np.asarray(cond).reshape(-1)[0]):
        return tuple(copy_value(a) for a in run(then_branch, list(captured[:k])))
    return tuple(copy_value(a) for a in run(else_branch, list(captured[k:])))


# ------------------------------------------------------------------ loop
def _infer_loop(ins, body: Graph, n_carried: int):
    carried, captured = ins[2:2 + n_carried], ins[2 + n_carried:]
    outs = body_types(body, [(INT64, (), ()), (BOOL, (), ())] + _types(carried) + _types(captured))
    if len(outs) < 1 + n_carried:
        raise ShapeError(f"the body has {len(outs)} outputs; it needs the condition and {n_carried} "
                         f"loop-carried values")
    res = []
    for t, v in zip(outs[1:1 + n_carried], carried):
        vt = _types([v])[0]
        if vt[2] == (OPT,) + t[2]:   # an optional in, its value out: ONNX allows it
            vt = (vt[0], vt[1], t[2])
        if not _same_kind(t, vt):
            raise ShapeError(f"loop-carried value {v.name} is {v.type_str} but the body returns {type_str(*t)}")
        shape = t[1]
        if shape != v.shape:   # a carried value may change shape from one iteration to the next
            shape = None if shape is None or v.shape is None else tuple(unknown_dim() for _ in shape)
        res.append((t[0], shape, t[2]))
    trips = unknown_dim()
    for dt, shape, container in outs[1 + n_carried:]:
        if container:
            raise ShapeError("a scan output of a loop must be a tensor")
        res.append((dt, (trips, *shape)))
    return res


def run_loop(run, trip_count, cond, *rest, body: Graph, n_carried: int):
    """ONNX Loop: while i < trip_count (if given) and cond (if given)."""
    carried, captured = list(rest[:n_carried]), list(rest[n_carried:])
    trips = None if trip_count is None else int(np.asarray(trip_count).reshape(-1)[0])
    keep = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    scans: list[list[np.ndarray]] = [[] for _ in body.outputs[1 + n_carried:]]
    i = 0
    while keep and (trips is None or i < trips):
        outs = run(body, [np.array(i, INT64), np.array(keep), *carried, *captured])
        keep = bool(np.asarray(outs[0]).reshape(-1)[0])
        carried = [copy_value(a) for a in outs[1:1 + n_carried]]
        for acc, a in zip(scans, outs[1 + n_carried:]):
            acc.append(np.array(a))
        i += 1
    return tuple(carried + [_stack(acc, 0, v) for acc, v in zip(scans, body.outputs[1 + n_carried:])])


def _stack(slices: list[np.ndarray], axis: int, like) -> np.ndarray:
    if not slices:   # no iteration: an empty stack of the body's output shape
        shape = tuple(d if isinstance(d, int) else 0 for d in like.shape)
        return np.zeros((0, *shape) if axis == 0 else shape[:axis] + (0,) + shape[axis:], like.dtype)
    if any(s.shape != slices[0].shape for s in slices):
        other = next(s.shape for s in slices if s.shape != slices[0].shape)
        raise ExecutionError(f"scan output {like.name} changes shape from one iteration to the next "
                             f"({slices[0].shape}, then {other})")
    return np.stack(slices, axis=axis)


# ------------------------------------------------------------------ scan
def _scan_length(xs, axes) -> int | str:
    lengths = {x.shape[a] for x, a in zip(xs, axes)}
    known = {d for d in lengths if isinstance(d, int)}
    if len(known) > 1:
        raise ShapeError(f"the scanned inputs have different lengths {sorted(known)}")
    return known.pop() if known else sorted(lengths)[0]


def _infer_scan(ins, body: Graph, n_state: int, n_scan: int, axes, directions, out_axes, out_directions):
    states, xs, captured = ins[:n_state], ins[n_state:n_state + n_scan], ins[n_state + n_scan:]
    slices = [(x.dtype, x.shape[:a] + x.shape[a + 1:], ()) for x, a in zip(xs, axes)]
    outs = body_types(body, _types(states) + slices + _types(captured))
    if len(outs) != n_state + len(out_axes):
        raise ShapeError(f"the body has {len(outs)} outputs, expected {n_state + len(out_axes)}")
    length = _scan_length(xs, axes)
    res = []
    for (dt, shape, container), v in zip(outs[:n_state], states):
        if (dt, shape, container) != (v.dtype, v.shape, v.container):
            raise ShapeError(f"state {v.name} is {v.type_str} but the body returns {type_str(dt, shape, container)}")
        res.append((dt, shape))
    for (dt, shape, _), a in zip(outs[n_state:], out_axes):
        res.append((dt, shape[:a] + (length,) + shape[a:]))
    return res


def run_scan(run, *args, body: Graph, n_state: int, n_scan: int, axes, directions, out_axes, out_directions):
    """ONNX Scan (opset 9 and later): axes are non-negative here."""
    states = list(args[:n_state])
    xs, captured = args[n_state:n_state + n_scan], list(args[n_state + n_scan:])
    length = xs[0].shape[axes[0]] if xs else 0
    scans: list[list[np.ndarray]] = [[] for _ in out_axes]
    for t in range(length):
        slices = [np.take(x, length - 1 - t if d else t, axis=a) for x, a, d in zip(xs, axes, directions)]
        outs = run(body, states + slices + captured)
        states = list(outs[:n_state])
        for acc, a in zip(scans, outs[n_state:]):
            acc.append(np.array(a))
    res = [np.array(s) for s in states]
    for acc, a, d, v in zip(scans, out_axes, out_directions, body.outputs[n_state:]):
        res.append(_stack(acc[::-1] if d else acc, a, v))
    return tuple(res)


# ---------------------------------------------------------- sequence map
def _infer_sequence_map(ins, body: Graph, mapped):
    k = len(mapped)
    for i, (v, m) in enumerate(zip(ins[:k], mapped)):
        if m and v.container != (SEQ,):
            raise ShapeError(f"input {i} ({v.name}) must be a sequence of tensors, got {v.type_str}")
    if ins[0].shape is None:
        raise ShapeError(f"the rank of the tensors in sequence {ins[0].name} is not known when the graph is built")
    per_item = [(v.dtype, v.shape, ()) if m else (v.dtype, v.shape, v.container) for v, m in zip(ins[:k], mapped)]
    outs = body_types(body, per_item + _types(ins[k:]))
    if any(c for _, _, c in outs):
        raise ShapeError("the body's outputs must be tensors")
    return [(dt, shape, (SEQ,)) for dt, shape, _ in outs]


def run_sequence_map(run, *args, body: Graph, mapped):
    """ONNX SequenceMap: the body runs on item i of each sequence (`mapped`
    marks the sequences among the first inputs; the others, and the
    captured values, are passed whole); each output collects one tensor
    per item."""
    k = len(mapped)
    n = len(args[0])
    if any(m and len(a) != n for a, m in zip(args, mapped)):
        raise ExecutionError(f"the sequences have different lengths {[len(a) for a, m in zip(args, mapped) if m]}")
    outs: list[list[np.ndarray]] = [[] for _ in body.outputs]
    for i in range(n):
        items = [a[i] if m else a for a, m in zip(args[:k], mapped)]
        for acc, y in zip(outs, run(body, items + list(args[k:]))):
            acc.append(np.array(y))
    return tuple(outs)


# ------------------------------------------------------------- registry
CONTROL = {"if_else": run_if, "loop": run_loop, "scan": run_scan, "sequence_map": run_sequence_map}


def run_control(node, args, run) -> list:
    """Evaluate a control-flow node on `args`, its bodies run by `run`."""
    res = CONTROL[node.op](run, *args, **node.attrs)
    return [as_value(r, v) for r, v in zip(res, node.outputs)]


register(
    OpDef("if_else", OPAQUE, _infer_if, partial(run_if, _interpreted), dynamic_shape=True, sequences=True,
          strings=True,
          doc="ONNX If with a run-time condition: runs then_branch or else_branch (bodies with the captured "
              "inputs, then's first); the branches may give different shapes"),
    OpDef("loop", OPAQUE, _infer_loop, partial(run_loop, _interpreted), dynamic_shape=True, sequences=True,
          strings=True,
          doc="ONNX Loop: inputs trip count, condition, loop-carried values, captured values; the trip count "
              "can depend on data"),
    OpDef("scan", OPAQUE, _infer_scan, partial(run_scan, _interpreted), host=True,
          doc="ONNX Scan (opset 9+): states carried through the body, inputs sliced along `axes`, outputs "
              "stacked along `out_axes`; `directions` 1 = reverse"),
    OpDef("sequence_map", OPAQUE, _infer_sequence_map, partial(run_sequence_map, _interpreted), host=True,
          sequences=True, strings=True,
          doc="ONNX SequenceMap: the body on each item of the input sequences (`mapped`), collecting each "
              "output into a sequence"),
)
