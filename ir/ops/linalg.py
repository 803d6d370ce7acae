"""Linear algebra: ``matmul`` with numpy semantics for rank >= 2 operands
(leading dims are batch dims and broadcast). 1-D operands are the
frontend's business: it unsqueezes them and squeezes the result."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import broadcast
from .base import OPAQUE, OUT_FUSABLE, OpDef, register
from .gemm import Blocking, gemm, k_slices


def _matmul_infer(ins):
    a, b = ins
    if a.dtype != b.dtype:
        raise ShapeError(f"matmul: input dtypes differ ({a.dtype.name} vs {b.dtype.name})")
    if dtypes.kind(a.dtype) not in "iuf":
        raise ShapeError(f"matmul expects numeric inputs, got {a.dtype.name}")
    if a.rank < 2 or b.rank < 2:
        raise ShapeError(f"matmul needs operands of rank >= 2, got {list(a.shape)} and {list(b.shape)}")
    ka, kb = a.shape[-1], b.shape[-2]
    if isinstance(ka, int) and isinstance(kb, int) and ka != kb:
        raise ShapeError(f"matmul: inner dims differ: {list(a.shape)} @ {list(b.shape)} ({ka} != {kb})")
    try:
        batch = broadcast(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(f"matmul: batch dims of {list(a.shape)} and {list(b.shape)} "
                         f"do not broadcast") from None
    return a.dtype, batch + (a.shape[-2], b.shape[-1])


def _batch_index(buf, batch_idx, rows):
    """Index into `buf` for an output batch index (numpy broadcasting of the
    leading dims) followed by its two matrix indices `rows`."""
    lead = len(batch_idx) - (buf.rank - 2)
    idx = [0 if d == 1 else batch_idx[lead + i] for i, d in enumerate(buf.shape[:-2])]
    return idx + list(rows)


K_BLOCK = 256   # rows of b per block when the inner dim is long (> LONG_K)
LONG_K = 1024


def _batch_of(k, outer, batch):
    """The batch index (one per dim of `batch`) of flat batch number `outer`."""
    idx, rest = [], outer
    for j, d in enumerate(batch):
        inner = int(np.prod(batch[j + 1:], dtype=np.int64))
        idx.append(k.div(rest, inner) if inner > 1 else rest)   # never negative: C division
        rest = k.rem(rest, inner) if inner > 1 else 0
    return idx


def _matmul_gemm(k, a, b, out) -> None:
    """The register-blocked schedule (ir/ops/gemm.py). B's rows are read in
    place when they are plain contiguous memory and few rows of A share
    them; else B is first copied into kernel scratch as column panels
    [panel, K, NR] (zero-padded), which the tiles then read sequentially:
    the copy costs one pass over B and saves cache misses on every row
    block of A (a large M, rows 4 KB apart, or a transposed/fused B)."""
    *batch, m, n = out.shape
    kk = a.shape[-1]
    bl = Blocking.for_target(k, out.dtype)
    nb = int(np.prod(batch, dtype=np.int64))

    def bidx(outer):
        return _batch_of(k, outer, batch)

    row_bytes = n * out.dtype.itemsize
    slices = k_slices(bl, m, n, kk)
    # split K: each row of B is read by one task, once per tile of rows (few: M is small)
    pack = not k.can_vload(b) or (slices == 1 and m >= 4 * bl.mr and (b.const is None or row_bytes % 4096 == 0))
    if pack:
        bb = b.shape[:-2]
        panels = -(-n // bl.nr)
        packed = k.scratch(b.dtype, [*bb, panels, kk, bl.nr], "b_panels")
        with k.loops([*bb, panels], "pk") as idx:
            *bbi, jp = idx
            with k.loop(kk, "pp") as p:
                with k.loop(bl.nr, "pl") as lane:
                    col = jp * bl.nr + lane
                    src = k.load(b, [*bbi, p, k.min(col, n - 1)])
                    k.store(packed, [*bbi, jp, p, lane], k.select(col < n, src, k.zero(b.dtype)))

        def b_vec(o, p, j, lanes, cnt):
            bi = bidx(o)
            lead = len(bi) - len(bb)
            pre = [0 if d == 1 else bi[lead + i] for i, d in enumerate(bb)]
            jp = k.div(j, bl.nr)   # j starts a vector inside a panel
            return k.vload(packed, [*pre, jp, p, j - jp * bl.nr], lanes)
    else:
        def b_vec(o, p, j, lanes, cnt):
            return k.vload(b, _batch_index(b, bidx(o), [p, j]), lanes, cnt)

    def finish(outer, m_lo, m_hi, n_lo, n_hi):
        bi = bidx(outer)
        with k.loop(m_hi, "fm", start=m_lo) as i:
            k.finish(out, [*bi, i], [n_hi - n_lo], start=[n_lo])

    gemm(k, out.dtype, m, n, kk,
         a_at=lambda o, i, p: k.load(a, _batch_index(a, bidx(o), [i, p])),
         b_vec=b_vec, c_index=lambda o, i, j: [*bidx(o), i, j],
         init=lambda o, i: k.zero(out.dtype), finish=finish, c_buf=out, tasks_outer=nb, slices=slices)


def _matmul_lower(k, ins, outs):
    a, b = ins
    out = outs[0]
    *batch, m, n = out.shape
    kk = a.shape[-1]
    if k.lanes(out.dtype) > 1 and n > 1 and kk > 0:
        _matmul_gemm(k, a, b, out)
        return
    with k.loops(list(batch) + [m], "i") as idx:
        bi, i = idx[:-1], idx[-1]
        if n == 1:   # matrix-vector: a dot product per row, reduced in a register
            acc = k.local(k.zero(out.dtype), "acc")
            with k.loop(kk, "k") as r:
                k.accumulate(acc, k.load(a, _batch_index(a, bi, [i, r])) * k.load(b, _batch_index(b, bi, [r, 0])))
            k.store(out, [*bi, i, 0], acc)
            return
        with k.loop(n, "j") as j:
            k.store(out, [*bi, i, j], k.zero(out.dtype), partial=True)
        if kk <= LONG_K:   # i-k-j order: the innermost loop runs along contiguous rows of out and b (it vectorizes)
            with k.loop(kk, "k") as r:
                av = k.local(k.load(a, _batch_index(a, bi, [i, r])), "a_ik")
                with k.loop(n, "j") as j:
                    o = [*bi, i, j]
                    k.store(out, o, k.load(out, o) + av * k.load(b, _batch_index(b, bi, [r, j])), partial=True)
            k.finish(out, [*bi, i], [n])   # the row is final: a fused epilogue runs over it
    if n != 1 and kk > LONG_K:
        # a long inner dim: i-k-j over blocks of K_BLOCK rows of b, so each block
        # stays in cache for every row of a (each sum still runs over k in order)
        with k.loop(-(-kk // K_BLOCK), "kb") as kb:
            with k.loops(list(batch) + [m], "i") as idx:
                bi, i = idx[:-1], idx[-1]
                with k.loop(k.min(kb * K_BLOCK + K_BLOCK, kk), "k", start=kb * K_BLOCK) as r:
                    av = k.local(k.load(a, _batch_index(a, bi, [i, r])), "a_ik")
                    with k.loop(n, "j") as j:
                        o = [*bi, i, j]
                        k.store(out, o, k.load(out, o) + av * k.load(b, _batch_index(b, bi, [r, j])),
                                partial=True)
        with k.loops(list(batch) + [m], "i") as idx:   # every row is final now
            k.finish(out, [*idx[:-1], idx[-1]], [n])


def _matmul_contraction(k, ins, outs):
    """The product as a `kir.Contraction` (a schedule annotation: the CUDA
    renderer tiles it through shared memory); None for integer products and
    matrix-vector ones (the loop nest serves those everywhere)."""
    a, b = ins
    out = outs[0]
    *batch, m, n = out.shape
    if out.dtype.kind != "f" or n == 1:
        return None
    nb = len(batch)
    return k.contraction(
        [*batch, m, n], [a.shape[-1]], out.dtype,
        init=lambda s: k.zero(out.dtype),
        term=lambda s, r: k.load(a, _batch_index(a, s[:nb], [s[nb], r[0]]))
        * k.load(b, _batch_index(b, s[:nb], [r[0], s[nb + 1]])),
        store=lambda s, acc: k.store(out, list(s), acc))


def _matmul_lower_scheduled(k, ins, outs):
    with k.scheduled(_matmul_contraction(k, ins, outs)):
        _matmul_lower(k, ins, outs)


def _matmul_ref(a, b):
    return np.matmul(a, b)


def _swap_last(d, x):
    perm = list(range(x.rank))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return d.transpose(x, perm)


def _permuted(x) -> bool:
    """Whether `x` is a transpose (seen through reshapes): its rows are not
    contiguous memory, so a product reads it faster as its left operand."""
    n = x.v.producer
    while n is not None and n.op == "reshape":
        n = n.inputs[0].producer
    return n is not None and n.op == "transpose"


def _matmul_vjp(d, ins, outs, gouts):
    """da = g @ b^T, db = a^T @ g (the driver sums broadcast batch dims).
    A 2-D b with a batched a (a dense layer over a sequence) takes its
    gradient as one 2-D product over all rows."""
    a, b = ins
    g = gouts[0]
    da = d.matmul(g, _swap_last(d, b))
    if b.rank == 2 and a.rank > 2:
        rows = int(np.prod(a.shape[:-1], dtype=np.int64))
        a, g = d.reshape(a, (rows, a.shape[-1])), d.reshape(g, (rows, g.shape[-1]))
    if a.rank == 2:
        # the right operand of a product is read in rows: make it the one that is plain memory
        # (a convolution's g is a transposed view, its columns a are not), else transpose the smaller
        pg, pa = _permuted(g), _permuted(a)
        if pg and not pa or pg == pa and g.shape[-1] < a.shape[-1]:   # (g^T a)^T
            return [da, _swap_last(d, d.matmul(_swap_last(d, g), a))]
    return [da, d.matmul(_swap_last(d, a), g)]


register(OpDef("matmul", OUT_FUSABLE, _matmul_infer, _matmul_ref, lower=_matmul_lower_scheduled,
               vjp=_matmul_vjp, doc="numpy matmul for rank >= 2 operands; leading (batch) dims broadcast"))


# --------------------------------------------------------------------- det
def _det_infer(ins):
    x = ins[0]
    if dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"det expects a float input, got {x.dtype.name}")
    if x.rank < 2 or (isinstance(x.shape[-1], int) and isinstance(x.shape[-2], int) and x.shape[-1] != x.shape[-2]):
        raise ShapeError(f"det needs square matrices [..., M, M], got {list(x.shape)}")
    return x.dtype, x.shape[:-2]


def _det_ref(x):
    return np.linalg.det(x.astype(np.float64)).astype(x.dtype) if x.size else np.ones(x.shape[:-2], x.dtype)


def _det_lower(k, ins, outs):
    """Per matrix: LU with partial pivoting in a scratch copy; the
    determinant is the product of the pivots, negated per row swap."""
    x, out = ins[0], outs[0]
    *batch, m, _ = x.shape
    ct = dtypes.compute(x.dtype)
    a = k.scratch(ct, [max(m, 1), max(m, 1)], "lu")
    with k.loops(batch, "b", parallel=False) as bi:   # one scratch matrix: not in parallel
        with k.loops([m, m], "c", parallel=False) as (i, j):
            k.store(a, [i, j], k.cast(k.load(x, [*bi, i, j]), ct))
        det = k.local(k.one(ct), "det")
        with k.loop(m, "p") as p:
            piv = k.local(p, "piv")
            best = k.local(k.abs(k.load(a, [p, p])), "best")
            with k.loop(m, "r", start=p + 1) as r:
                v = k.abs(k.load(a, [r, p]))
                with k.if_(v > best):
                    k.assign(best, v)
                    k.assign(piv, r)
            with k.if_(k.ne(piv, p)):    # swap rows: the sign flips
                with k.loop(m, "s") as s:
                    t = k.local(k.load(a, [p, s]), "t")
                    k.store(a, [p, s], k.load(a, [piv, s]))
                    k.store(a, [piv, s], t)
                k.assign(det, -det)
            d = k.local(k.load(a, [p, p]), "pivot")
            k.assign(det, det * d)
            with k.if_(k.ne(d, k.zero(ct))):
                with k.loop(m, "r", start=p + 1) as r:
                    f = k.local(k.load(a, [r, p]) / d, "f")
                    with k.loop(m, "s", start=p + 1) as s:
                        k.store(a, [r, s], k.load(a, [r, s]) - f * k.load(a, [p, s]))
        k.store(out, list(bi), det)


register(OpDef("det", OPAQUE, _det_infer, _det_ref, lower=_det_lower,
               doc="determinant of each trailing [M, M] matrix (LU with partial pivoting)"))
