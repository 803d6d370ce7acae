"""Converters: MatMul, Gemm, Einsum. All become the IR ``matmul`` plus
views, transposes and elementwise ops (which fold for constant weights)."""
from __future__ import annotations

import re

import numpy as np

from ...ir.errors import UnsupportedError
from .registry import converter


def matmul(cx, a, b):
    """numpy matmul, 1-D operands included: they get a unit dim for the
    product, which the result then loses."""
    if a.rank == 0 or b.rank == 0:
        raise cx.node.error(f"MatMul operands must have rank >= 1, got {list(a.shape)} and {list(b.shape)}")
    squeeze = []
    if a.rank == 1:
        a = cx.op("unsqueeze", [a], axes=(0,))
        squeeze.append(-2)
    if b.rank == 1:
        b = cx.op("unsqueeze", [b], axes=(1,))
        squeeze.append(-1)
    y = cx.op("matmul", [a, b])
    return cx.op("squeeze", [y], axes=tuple(squeeze)) if squeeze else y


@converter("MatMul")
def matmul_(cx, n):
    return matmul(cx, n.need(0), n.need(1))


def _scaled(cx, v, factor):
    return v if factor == 1 else cx.op("mul", [v, cx.const(np.array(factor, v.dtype))])


@converter("Gemm")
def gemm(cx, n):
    a, b, c = n.need(0), n.need(1), n.input(2)
    if a.rank != 2 or b.rank != 2:
        raise n.error(f"A and B must be 2-D, got {list(a.shape)} and {list(b.shape)}")
    if c is None and n.opset < 11:
        raise n.error("input C is required before opset 11")
    if n.attr("transA", 0):
        a = cx.op("transpose", [a], perm=(1, 0))
    if n.attr("transB", 0):
        b = cx.op("transpose", [b], perm=(1, 0))
    y = _scaled(cx, cx.op("matmul", [a, b]), n.attr("alpha", 1.0))
    beta = n.attr("beta", 1.0)
    if c is None or beta == 0:
        return y
    if c.rank > 2 or any(isinstance(dc, int) and isinstance(dy, int) and dc not in (1, dy)
                         for dc, dy in zip(c.shape[::-1], y.shape[::-1])):
        raise n.error(f"C of shape {list(c.shape)} does not broadcast to the result {list(y.shape)}")
    return cx.op("add", [y, _scaled(cx, cx.cast(c, y.dtype), beta)])


# ------------------------------------------------------------------ Einsum
def _parse(n, ranks):
    """Each operand's labels and the output's, as lists; an ellipsis becomes
    labels ``...0``, ``...1`` ... aligned on the right, as numpy broadcasts."""
    eq = n.attr("equation").replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise n.error(f"equation {eq!r} has {len(terms)} operands, the node has {len(ranks)} inputs")
    if not re.fullmatch(r"[A-Za-z.]*(,[A-Za-z.]*)*", lhs) or not re.fullmatch(r"[A-Za-z.]*", rhs):
        raise n.error(f"cannot parse equation {eq!r}")
    n_ell = max((r - len(t.replace("...", "")) for t, r in zip(terms, ranks) if "..." in t), default=0)
    ell = [f"...{i}" for i in range(n_ell)]

    def labels(term, rank=None):
        head, dots, tail = term.partition("...")
        if "." in head + tail:
            raise n.error(f"cannot parse equation {eq!r}")
        mid = []
        if dots:
            k = n_ell if rank is None else rank - len(head) - len(tail)
            mid = ell[n_ell - k:] if k >= 0 else None
        if mid is None or (rank is not None and len(head) + len(mid) + len(tail) != rank):
            raise n.error(f"term {term!r} of {eq!r} does not match an operand of rank {rank}")
        return list(head) + mid + list(tail)

    ins = [labels(t, r) for t, r in zip(terms, ranks)]
    if arrow:
        out = labels(rhs)
        if len(set(out)) != len(out) or not set(out) <= {x for ls in ins for x in ls}:
            raise n.error(f"output {rhs!r} of {eq!r} repeats an index or names one no input has")
    else:   # implicit output: the ellipsis, then the indices seen once, alphabetically
        count = {}
        for x in (x for ls in ins for x in ls):
            count[x] = count.get(x, 0) + 1
        out = [x for x in ell if x in count] + sorted(x for x, c in count.items() if c == 1 and x not in ell)
    return ins, out


def _permute(cx, v, labels, order):
    if labels == order:
        return v
    return cx.op("transpose", [v], perm=tuple(labels.index(x) for x in order))


def _sum_out(cx, v, labels, needed):
    """Sum over the labels nothing later needs."""
    axes = tuple(i for i, x in enumerate(labels) if x not in needed)
    if not axes:
        return v, labels
    return cx.op("reduce_sum", [v], axes=axes, keepdims=False), [x for x in labels if x in needed]


def _merge_k(cx, v, lead, n_con):
    """Reshape the `n_con` contraction dims of `v` at `lead`.. into one (K),
    keeping the dims before them and the one after them, if any."""
    if n_con == 1:
        return v
    if n_con == 0:
        return cx.op("unsqueeze", [v], axes=(lead,))
    shape = list(v.shape)
    k_dims, tail = shape[lead:lead + n_con], shape[lead + n_con:]
    known = all(isinstance(d, int) for d in k_dims) and int(np.prod(k_dims)) > 0   # (0 would mean "copy")
    if all(isinstance(d, int) for d in shape):   # explicit dims (so a 0 means 0)
        target = shape[:lead] + [int(np.prod(k_dims))] + tail
        return cx.op("reshape", [v, cx.const(np.array(target, np.int64))], allowzero=1)
    # a 0 in the target copies a leading dim; -1 stands for the one dim left unknown
    if known:
        target = [0] * lead + [int(np.prod(k_dims))] + [-1] * len(tail)
    elif all(isinstance(d, int) for d in tail):
        target = [0] * lead + [-1] + tail
    else:   # both unknown: merge with the tail dim moved before them, then move it back
        r = v.rank
        v = cx.op("transpose", [v], perm=tuple(range(lead)) + (r - 1,) + tuple(range(lead, r - 1)))
        v = cx.reshape(v, [0] * (lead + 1) + [-1])
        return cx.op("transpose", [v], perm=tuple(range(lead)) + (lead + 1, lead))
    return cx.reshape(v, target)


def _align(cx, v, labels, batch, rest):
    """Transpose `v` to [batch..., rest...]; batch labels it lacks become unit dims."""
    v = _permute(cx, v, labels, [x for x in batch if x in labels] + rest)
    missing = tuple(i for i, x in enumerate(batch) if x not in labels)
    return cx.op("unsqueeze", [v], axes=missing) if missing else v


def _contract(cx, a, la, b, lb, keep, order):
    """a (labels la) times b (labels lb), summed over the shared labels not
    in `keep`, as one matmul [batch, M, K] @ [batch, K, N]. M and N are the
    last label only a (b) has; any others become batch dims the other
    operand broadcasts over. Returns the result and its labels."""
    a, la = _sum_out(cx, a, la, keep | set(lb))
    b, lb = _sum_out(cx, b, lb, keep | set(la))
    con = [x for x in la if x in lb and x not in keep]
    a_only = [x for x in la if x not in lb]
    b_only = [x for x in lb if x not in la]
    m, nn = a_only[-1:], b_only[-1:]
    batch = sorted((x for x in la + b_only if x not in con + m + nn), key=order.index)
    nb = len(batch)
    a = _align(cx, a, la, batch, m + con)
    if not m:
        a = cx.op("unsqueeze", [a], axes=(nb,))
    b = _align(cx, b, lb, batch, con + nn)
    if not nn:
        b = cx.op("unsqueeze", [b], axes=(b.rank,))
    y = cx.op("matmul", [_merge_k(cx, a, nb + 1, len(con)), _merge_k(cx, b, nb, len(con))])
    drop = tuple(i for i, gone in ((nb, not m), (nb + 1, not nn)) if gone)
    if drop:
        y = cx.op("squeeze", [y], axes=drop)
    return y, batch + m + nn


def _diagonals(cx, n, v, labels):
    """A label repeated within one operand ('ii') takes the diagonal: the two
    axes go last, are flattened, and every (size+1)-th element is gathered."""
    labels = list(labels)
    while len(set(labels)) != len(labels):
        x = next(lb for lb in labels if labels.count(lb) > 1)
        p, q = [i for i, lb in enumerate(labels) if lb == x][:2]
        size = v.shape[p]
        if not isinstance(size, int) or v.shape[q] != size:
            raise n.error(f"the axes of repeated index {x!r} must have one known size, got {v.shape[p]} and "
                          f"{v.shape[q]}")
        rest = [i for i in range(v.rank) if i not in (p, q)]
        v = cx.op("transpose", [v], perm=tuple(rest) + (p, q))
        v = cx.reshape(v, [0] * len(rest) + [size * size])
        v = cx.op("gather", [v, cx.const(np.arange(size, dtype=np.int64) * (size + 1))], axis=len(rest))
        labels = [labels[i] for i in rest] + [x]
    return v, labels


@converter("Einsum", since=12)
def einsum(cx, n):
    vals = [n.need(i) for i in range(len(n.inputs))]
    if not vals:
        raise n.error("needs at least one input")
    ins, out = _parse(n, [v.rank for v in vals])
    for i, (v, ls) in enumerate(zip(vals, ins)):
        vals[i], ins[i] = _diagonals(cx, n, v, ls)
    order = list(dict.fromkeys(out + [x for ls in ins for x in ls]))
    y, ly = _sum_out(cx, vals[0], ins[0], set(out) | {x for ls in ins[1:] for x in ls})
    for i in range(1, len(vals)):   # left to right, one matmul per operand
        keep = set(out) | {x for ls in ins[i + 1:] for x in ls}
        y, ly = _contract(cx, y, ly, vals[i], ins[i], keep, order)
    return _permute(cx, y, ly, out)


@converter("Det", since=11)
def det(cx, n):
    return cx.op("det", [n.need(0)])
