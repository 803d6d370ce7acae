"""Converters: control flow (If, Loop, Scan), whose subgraphs become IR
Graphs held by the node (see dlc/ir/ops/control.py for how they run)."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError
from ...ir.graph import sanitize
from .importer import convert_subgraph, inline_subgraph
from .registry import converter


@converter("If", since=1)
def if_(cx, n):
    """A condition known at compile time (often after folding) inlines its
    branch; otherwise both branches are compiled and one runs."""
    cond = n.need(0)
    if cond.is_const:
        chosen = n.attrs["then_branch"] if bool(np.asarray(cond.const).reshape(-1)[0]) else n.attrs["else_branch"]
        return inline_subgraph(cx, chosen)
    then, then_captured = convert_subgraph(cx, n.attrs["then_branch"], [], f"{sanitize(n.name)}_then")
    orelse, else_captured = convert_subgraph(cx, n.attrs["else_branch"], [], f"{sanitize(n.name)}_else")
    outs = cx.op("if_else", [cond, *then_captured, *else_captured], then_branch=then, else_branch=orelse)
    return list(outs) if isinstance(outs, tuple) else [outs]


@converter("Loop", since=1)
def loop(cx, n):
    carried = n.inputs[2:]
    if any(v is None for v in carried):
        raise n.error("a loop-carried value is missing (only tensors are supported)", UnsupportedError)
    types = [(np.dtype("int64"), (), ()), (np.dtype("bool"), (), ())] + [(v.dtype, v.shape, v.container)
                                                                         for v in carried]
    body, captured = convert_subgraph(cx, n.attrs["body"], types, f"{sanitize(n.name)}_body")
    outs = cx.op("loop", [n.input(0), n.input(1), *carried, *captured], body=body, n_carried=len(carried))
    return list(outs) if isinstance(outs, tuple) else [outs]


@converter("Scan", since=9)
def scan(cx, n):
    n_scan = int(n.attr("num_scan_inputs"))
    n_state = len(n.inputs) - n_scan
    xs = n.inputs[n_state:]
    axes = _axes(n, "scan_input_axes", n_scan, [x.rank for x in xs])
    return _scan(cx, n, n.inputs[:n_state], xs, axes, _flags(n, "scan_input_directions", n_scan))


@converter("Scan", since=8)
def scan_v8(cx, n):
    """Opset 8: inputs and states have a batch axis first (scanned along
    axis 1); each batch element is one scan."""
    n_scan = int(n.attr("num_scan_inputs"))
    lens = n.input(0)
    states, xs = n.inputs[1:len(n.inputs) - n_scan], n.inputs[len(n.inputs) - n_scan:]
    batch = xs[0].shape[0]
    if not isinstance(batch, int):
        raise n.error("the batch size must be known when the model is compiled", UnsupportedError)
    if lens is not None and not (lens.is_const and np.all(np.asarray(lens.const) == xs[0].shape[1])):
        raise n.error("sequence_lens shorter than the sequences are not supported", UnsupportedError)
    per_item = []
    for b in range(batch):
        pick = [cx.op("gather", [v, cx.const(np.int64(b))], axis=0) for v in states + xs]
        per_item.append(_scan(cx, n, pick[:len(states)], pick[len(states):], (0,) * n_scan,
                              _flags(n, "directions", n_scan)))
    return [cx.op("concat", [cx.op("unsqueeze", [outs[k]], axes=(0,)) for outs in per_item], axis=0)
            for k in range(len(per_item[0]))]


def _scan(cx, n, states, xs, axes, directions) -> list:
    slices = [(x.dtype, x.shape[:a] + x.shape[a + 1:], ()) for x, a in zip(xs, axes)]
    body, captured = convert_subgraph(cx, n.attrs["body"], [(v.dtype, v.shape, v.container) for v in states] + slices,
                                      f"{sanitize(n.name)}_body")
    n_out = len(body.outputs) - len(states)
    out_axes = _axes(n, "scan_output_axes", n_out, [v.rank + 1 for v in body.outputs[len(states):]])
    outs = cx.op("scan", [*states, *xs, *captured], body=body, n_state=len(states), n_scan=len(xs), axes=axes,
                 directions=directions, out_axes=out_axes, out_directions=_flags(n, "scan_output_directions", n_out))
    return list(outs) if isinstance(outs, tuple) else [outs]


def _axes(n, attr: str, count: int, ranks: list[int]) -> tuple[int, ...]:
    given = n.attr(attr) or [0] * count
    if len(given) != count:
        raise n.error(f"{attr} has {len(given)} entries, expected {count}")
    for a, r in zip(given, ranks):
        if not -r <= a < r:
            raise n.error(f"{attr}: axis {a} is out of range for rank {r}")
    return tuple(int(a) % r for a, r in zip(given, ranks))


def _flags(n, attr: str, count: int) -> tuple[int, ...]:
    given = n.attr(attr) or [0] * count
    if len(given) != count:
        raise n.error(f"{attr} has {len(given)} entries, expected {count}")
    return tuple(int(d) for d in given)
