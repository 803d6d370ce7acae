"""Reference interpreter: run a graph node by node with each op's numpy
`ref`. It is the oracle for compiled code and the engine of constant folding."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import dtypes
from .errors import DLCError, ExecutionError
from .graph import Graph, Node, Value


def copy_value(a):
    """A copy of a value (an array, a sequence: a list of arrays, or an empty
    optional: None) that does not share the buffers it came from."""
    if a is None:
        return None
    return [np.array(x) for x in a] if isinstance(a, list) else np.array(a)


def as_value(a, v: Value):
    """`a` as the value `v` holds: an array of its dtype; sequences and optionals as they are."""
    return a if v.container else np.asarray(a, dtype=v.dtype)


def run_node(node: Node, args: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """Evaluate one node on numpy arrays (sequences: lists of them); outputs
    are cast to the node's output dtypes. float16/bfloat16 inputs are
    computed in float32, as kernels do."""
    try:
        with np.errstate(all="ignore"):
            res = node.opdef.ref(*[dtypes.widen(a) for a in args], **node.attrs)
    except DLCError:
        raise
    except Exception as e:
        raise ExecutionError(f"{node.where}: reference evaluation failed: {e}") from e
    one = len(node.outputs) == 1 and node.outputs[0].container and isinstance(res, list)   # a sequence
    res = list(res) if isinstance(res, (tuple, list)) and not one else [res]
    return [r if v.container else np.asarray(r, dtype=v.dtype).reshape(r.shape if hasattr(r, "shape") else ())
            for r, v in zip(res, node.outputs)]


def interpret(g: Graph, feeds: Sequence[np.ndarray], keep: bool = False) -> list[np.ndarray] | dict:
    """Run `g` on `feeds` (in input order). With ``keep``, return every
    computed Value's array (a dict keyed by Value), for debugging."""
    env: dict[Value, np.ndarray] = {}
    if len(feeds) != len(g.inputs):
        raise ExecutionError(f"graph has {len(g.inputs)} inputs, got {len(feeds)} feeds")
    for v, a in zip(g.inputs, feeds):
        env[v] = as_value(a, v)

    def get(v: Value | None):
        if v is None:
            return None
        return v.const if v.is_const else env[v]

    for n in g.nodes:
        for v, a in zip(n.outputs, run_node(n, [get(v) for v in n.inputs])):
            env[v] = a
    return env if keep else [copy_value(get(v)) for v in g.outputs]
