"""Pattern rules that run before fusion: fold batch norm into the weights of
the conv (or matmul) before it, and recognize the decomposed layer norm
that exporters write for opsets without LayerNormalization.

These are the only places fusion looks at op names, and they only rewrite
into ordinary ops (a conv with new constant weights, ``normalize``).
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value
from ..ops.fused import SOURCE_SEP
from .cleanup import eliminate_dead_code
from .rewrite import rewrite


def _join_sources(*nodes: Node) -> str:
    parts = [s for n in nodes for s in n.source.split(SOURCE_SEP) if s]
    return SOURCE_SEP.join(dict.fromkeys(parts))


def _per_channel(c: Value, out: Value, axis: int) -> np.ndarray | None:
    """`c`'s data as one number per index of `out`'s `axis`, if `c` varies
    along no other axis and broadcasting with it keeps `out`'s shape."""
    if c.const is None or c.rank > out.rank or c.dtype != out.dtype:
        return None
    shape = (1,) * (out.rank - c.rank) + tuple(c.shape)
    for d, (cs, os) in enumerate(zip(shape, out.shape)):
        if cs not in (1, os) or (d != axis and cs != 1):
            return None
    n = out.shape[axis]
    col = [1] * out.rank
    col[axis] = n
    return np.broadcast_to(c.const.reshape(shape), col).reshape(n)


def _fold_into(p: Node, op: str, vec: np.ndarray, g: Graph) -> bool:
    """Fold ``p_out * vec`` / ``+ vec`` / ``- vec`` (one number per output
    channel) into the weights of conv or matmul node `p`."""
    if p.op == "conv":
        w, b = p.inputs[1], (p.inputs[2] if len(p.inputs) > 2 else None)
        if w.const is None or (b is not None and b.const is None):
            return False
        if op == "mul":
            p.inputs[1] = g.const(w.const * vec.reshape((-1,) + (1,) * (w.rank - 1)), name=w.name)
            if b is not None:
                p.inputs[2] = g.const(b.const * vec, name=b.name)
            return True
        bias = b.const if b is not None else np.zeros_like(vec)
        new_b = g.const(bias + vec if op == "add" else bias - vec, name=b.name if b is not None else "bias")
        p.inputs[2:] = [new_b]
        return True
    if p.op == "matmul" and op == "mul":
        w = p.inputs[1]
        if w.const is None:
            return False
        p.inputs[1] = g.const(w.const * vec, name=w.name)   # one scale per output column
        return True
    return False


def fold_batch_norm(g: Graph) -> Graph:
    """Fold a multiply or add by per-output-channel constants (what the
    frontend makes of an inference BatchNormalization: ``x * scale + shift``)
    into the preceding conv's weights and bias, and a per-column multiply
    into a matmul's constant right operand. Assumes static shapes. Only
    when the conv/matmul result has no other reader. Promises: the same
    outputs up to rounding; the conv keeps both source names."""
    changed = True
    while changed:
        changed = False
        users = g.users()
        outputs = set(g.outputs)
        for n in list(g.nodes):
            if n.op not in ("mul", "add", "sub") or len(n.inputs) != 2:
                continue
            for pi in (0, 1):
                y, c = n.inputs[pi], n.inputs[1 - pi]
                p = y.producer
                if p is None or p.op not in ("conv", "matmul") or n.op == "sub" and pi == 1:
                    continue
                if len(users.get(y, ())) != 1 or y in outputs or n.outputs[0].shape != y.shape:
                    continue
                vec = _per_channel(c, y, 1 if p.op == "conv" else y.rank - 1)
                if vec is None or not _fold_into(p, n.op, vec, g):
                    continue
                p.source = _join_sources(p, n)
                g.replace_uses(n.outputs[0], y)
                g.remove_nodes([n])
                changed = True
                break
            if changed:
                break
    return eliminate_dead_code(g)


# --------------------------------------------------------- layer norm
def _producer(v: Value | None, *ops: str) -> Node | None:
    p = v.producer if v is not None else None
    return p if p is not None and p.op in ops else None


def _scalar(v: Value | None) -> float | None:
    return float(v.const.reshape(-1)[0]) if v is not None and v.const is not None and v.numel == 1 else None


def _layer_norm(g: Graph, n: Node):
    """(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) over trailing axes
    -> normalize(x); the scale and shift after it stay ordinary ops."""
    if n.op != "div":
        return None
    d, s = n.inputs
    sq = _producer(s, "sqrt")
    ve = _producer(sq.inputs[0] if sq else None, "add")
    if ve is None:
        return None
    var, eps = ve.inputs if _scalar(ve.inputs[1]) is not None else ve.inputs[::-1]
    eps = _scalar(eps)
    rv = _producer(var, "reduce_mean")
    sqr = _producer(rv.inputs[0] if rv else None, "pow", "mul")
    if eps is None or sqr is None:
        return None
    if sqr.op == "pow" and not (sqr.inputs[0] is d and _scalar(sqr.inputs[1]) == 2.0):
        return None
    if sqr.op == "mul" and not (sqr.inputs[0] is d and sqr.inputs[1] is d):
        return None
    sub = _producer(d, "sub")
    x = sub.inputs[0] if sub else None
    rm = _producer(sub.inputs[1] if sub else None, "reduce_mean")
    if rm is None or rm.inputs[0] is not x or x.dtype.kind != "f":
        return None
    axes = tuple(rm.attrs["axes"])
    r = x.rank
    if not axes or tuple(rv.attrs["axes"]) != axes or axes != tuple(range(r - len(axes), r)) \
            or not rm.attrs["keepdims"] or not rv.attrs["keepdims"]:
        return None
    users = g.users()   # the parts must not be needed elsewhere, or the mean would be computed twice
    inner = {rm, sub, sqr, rv, ve, sq, n}
    if any(u not in inner for m in inner - {n} for v in m.outputs for u in users.get(v, ())) \
            or any(v in g.outputs for m in inner - {n} for v in m.outputs):
        return None
    return [g.op("normalize", [x], {"axis": axes[0], "epsilon": eps},
                 source=_join_sources(rm, sub, sqr, rv, ve, sq, n))]


def recognize_layer_norm(g: Graph) -> Graph:
    """Rewrite the decomposed layer norm exporters write before opset 17
    (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div) into one
    ``normalize``, which fusion then takes with its scale and shift as one
    kernel. Promises: the same outputs up to rounding."""
    return rewrite(g, [_layer_norm])
