"""A register-blocked GEMM schedule, written with the KernelBuilder's vector
expressions: what matmul and convolution lower to on a target with vectors
(``k.lanes(dtype) > 1``).

    C[m, n] = init(m) + sum_p A[m, p] * B[p, n]      (m < M, n < N, p < K)

C and B are read and written as rows: B's row p and C's row m must be
contiguous along n (a vector covers `lanes` consecutive n). A is read one
element at a time (`a_at`), so it may be anything a lowering can index,
fused prologues included.

Blocking, chosen at compile time from the target (codegen/target.py):
- registers: a tile of MR rows x NR = NV*lanes columns of C lives in MR*NV
  vector registers (AVX2: 6 x 16 floats in 12 of the 16 registers, leaving
  room for NV vectors of B and one broadcast of A); per step of p the tile
  takes NV vector loads of B, MR broadcasts of A and MR*NV FMAs;
- L1: p runs in blocks of KC, so the KC x NR sliver of B a tile reads stays
  in L1 while all the tiles of a block of rows reuse it;
- L2: rows run in blocks of MC, so an MC x KC block of A stays in L2 while
  it meets every column panel of the task;
- threads: the work is split into tasks of (row block, column chunk); the
  task loop is the kernel's parallel loop (the renderer runs it on the
  thread pool). A task owns its part of C, so no two threads write the
  same element, and each element is summed in the same order whatever the
  number of threads: results do not depend on it.
Edges: the last rows of C (M % MR) get a tile of fewer rows, the last
columns of a chunk a masked tile (masked loads and stores), so any M, N, K
works, 1 and 0 included.

C holds partial sums between blocks of p (``partial`` stores); `finish` is
called for each task's region once it is final, so a fused epilogue runs
while the region is in cache (see codegen/fuse.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

NV = 2   # vectors per tile row


@dataclass(frozen=True)
class Blocking:
    lanes: int
    mr: int
    nr: int
    kc: int
    mc: int

    @staticmethod
    def for_target(k, dtype) -> "Blocking":
        lanes = k.lanes(dtype)
        t = k.target
        item = np.dtype(dtype).itemsize
        mr = max(1, min(14, (t.vector_registers - NV - 1) // NV))
        nr = NV * lanes
        kc = max(64, (t.l1d // 2) // (nr * item) // 8 * 8)
        mc = max(mr, (t.l2 // 2) // (kc * item) // mr * mr)
        return Blocking(lanes, mr, nr, kc, mc)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def tile(k, bl: Blocking, rows: int, ncols, p_lo, p_hi, a_at, b_vec, c_load, c_store, init, first):
    """One MR x NR (or `rows` x `ncols`) tile of C over p in [p_lo, p_hi).

    `ncols` is None for a full tile, else an index expression (< NR, masked).
    a_at(r, p): scalar A; b_vec(p, v, count): vector v of B's row p;
    c_load(r, v, count) / c_store(r, v, value, count): C's vectors;
    init(r): the starting scalar when `first` (an index expr, true on the
    first block of p), else the tile starts from C."""
    L = bl.lanes
    nvec = NV
    counts = [None] * nvec if ncols is None else [k.max(k.min(ncols - v * L, L), 0) for v in range(nvec)]
    accs = []
    for r in range(rows):
        row = []
        for v in range(nvec):
            start = k.broadcast(init(r), L)
            if first is not True:
                prev = c_load(r, v, counts[v])
                start = prev if first is False else k.select(first, start, prev)
            row.append(k.local(start, "c"))
        accs.append(row)
    with k.loop(p_hi, "p", start=p_lo) as p:
        bv = [k.local(b_vec(p, v, counts[v]), "b") for v in range(nvec)]
        for r in range(rows):
            a = k.local(k.broadcast(a_at(r, p), L), "a")
            for v in range(nvec):
                k.assign(accs[r][v], k.fma(a, bv[v], accs[r][v]))
    for r in range(rows):
        for v in range(nvec):
            c_store(r, v, accs[r][v], counts[v])


MAX_SLICES = 16   # K slices of a split-K product


def k_slices(bl: Blocking, M: int, N: int, K: int) -> int:
    """How many slices of K a product with a small C (one block of rows)
    and a long K sums separately (1: none). A slice per task then reads
    its part of A and B once, where column chunks would each read all of
    A and leave most threads idle. The count depends on the sizes only,
    never on the threads: results do not depend on the thread count."""
    if M > bl.mc or K < 4 * max(M, N, bl.kc):
        return 1
    return min(MAX_SLICES, K // (2 * bl.kc))


def gemm(k, dtype, M: int, N: int, K: int, *,
         a_at: Callable, b_vec: Callable, c_index: Callable, init: Callable,
         finish: Callable | None, c_buf, chunk_cols: int | None = None,
         tasks_outer: int = 1, min_tasks: int = 8, slices: int = 1) -> None:
    """Emit C = init + A @ B as one parallel loop of tasks.

    a_at(outer, m, p) -> scalar A[m, p]; b_vec(outer, p, n, lanes, count) ->
    vector B[p, n:n+lanes]; c_index(outer, m, n) -> the index of C[m, n] in
    `c_buf` (its last index runs along n); init(outer, m) -> scalar start
    value; finish(outer, m_lo, m_hi, n_lo, n_hi) runs the epilogue of a
    final region. `tasks_outer` independent products (batch, groups) are
    spread over the same task loop: `outer` is that index. Columns are
    split into chunks of `chunk_cols` (default: enough tasks for
    `min_tasks`), rows into blocks of MC. `slices` > 1 (see `k_slices`)
    splits K instead: see `_gemm_split_k`."""
    bl = Blocking.for_target(k, dtype)
    L, MR, NR, KC, MC = bl.lanes, bl.mr, bl.nr, bl.kc, bl.mc
    if M == 0 or N == 0:
        return
    if slices > 1 and M <= MC:
        _gemm_split_k(k, dtype, bl, M, N, K, slices, a_at, b_vec, c_index, init, finish, c_buf, tasks_outer)
        return
    mblocks = _ceil(M, MC)
    if chunk_cols is None:
        want = max(1, _ceil(min_tasks, tasks_outer * mblocks))
        chunk_cols = max(NR, _ceil(_ceil(N, want), NR) * NR)
    chunk_cols = min(chunk_cols, N)
    nchunks = _ceil(N, chunk_cols)
    ntasks = tasks_outer * mblocks * nchunks
    kblocks = max(1, _ceil(K, KC))
    full_rows = M // MR * MR
    with k.loop(ntasks, "task", parallel=True) as t:
        # (indices are never negative here: C division and remainder are exact)
        outer = k.div(t, mblocks * nchunks) if tasks_outer > 1 else 0
        rest = k.rem(t, mblocks * nchunks) if tasks_outer > 1 else t
        mb = k.div(rest, nchunks) if mblocks > 1 else 0
        ch = k.rem(rest, nchunks) if nchunks > 1 else 0
        m_lo = mb * MC
        m_hi = k.min(m_lo + MC, M) if mblocks > 1 else M
        n_lo = ch * chunk_cols
        n_hi = k.min(n_lo + chunk_cols, N) if nchunks > 1 else N
        # full MR-row tiles of this row block; the M % MR tail rows (last block only)
        n_rowtiles = k.div(k.min(m_hi, full_rows) - m_lo, MR) if mblocks > 1 else full_rows // MR
        n_panels = k.div(n_hi - n_lo, NR) if nchunks > 1 else N // NR
        tail_cols = (n_hi - n_lo) - n_panels * NR if nchunks > 1 else N % NR
        _blocks(k, bl, M, kblocks, 0, K, m_lo, m_hi, mblocks > 1, n_lo, n_rowtiles, n_panels,
                tail_cols, nchunks > 1, lambda m, p: a_at(outer, m, p),
                lambda p, n, cnt: b_vec(outer, p, n, L, cnt), c_buf, lambda m, n: c_index(outer, m, n),
                lambda m: init(outer, m))
        if finish is not None:
            finish(outer, m_lo, m_hi, n_lo, n_hi)


def _blocks(k, bl: Blocking, M, kblocks, k_lo, k_hi, m_lo, m_hi, several_mblocks, n_lo, n_rowtiles, n_panels,
            tail_cols, dynamic_tail, a_at, b_vec, c_buf, c_index, init) -> None:
    """One task's region of C, rows [m_lo, m_hi) and columns from n_lo
    (n_panels of NR and tail_cols more), summed over p in [k_lo, k_hi) in
    `kblocks` blocks of KC."""
    L, MR, NR, KC = bl.lanes, bl.mr, bl.nr, bl.kc
    full_rows = M // MR * MR
    with k.loop(kblocks, "kb") as kb:
        p_lo = k_lo + kb * KC
        p_hi = k.min(p_lo + KC, k_hi) if kblocks > 1 else k_hi
        first = True if kblocks == 1 else k.eq(kb, 0)

        def tiles(rows, m0, n0, ncols):
            tile(k, bl, rows, ncols, p_lo, p_hi,
                 a_at=lambda r, p: a_at(m0 + r, p),
                 b_vec=lambda p, v, cnt: b_vec(p, n0 + v * L, cnt),
                 c_load=lambda r, v, cnt: k.vload(c_buf, c_index(m0 + r, n0 + v * L), L, cnt),
                 c_store=lambda r, v, val, cnt: k.store(c_buf, c_index(m0 + r, n0 + v * L), val,
                                                        partial=True, count=cnt),
                 init=lambda r: init(m0 + r), first=first)

        def row_tiles(n0, ncols):
            if full_rows:
                with k.loop(n_rowtiles, "mt") as mt:
                    tiles(MR, m_lo + mt * MR, n0, ncols)
            if M % MR:
                if several_mblocks:
                    with k.if_(k.eq(m_hi, M)):
                        tiles(M % MR, full_rows, n0, ncols)
                else:
                    tiles(M % MR, full_rows, n0, ncols)

        with k.loop(n_panels, "panel") as jp:
            row_tiles(n_lo + jp * NR, None)
        if dynamic_tail:
            with k.if_(tail_cols > 0):
                row_tiles(n_lo + n_panels * NR, tail_cols)
        elif tail_cols:
            row_tiles(n_lo + n_panels * NR, k.const(tail_cols, "int64"))


def _gemm_split_k(k, dtype, bl: Blocking, M, N, K, slices, a_at, b_vec, c_index, init, finish, c_buf,
                  tasks_outer) -> None:
    """C = init + A @ B with K cut into `slices` parts: a task per (outer,
    slice) sums its part of K for all of C into its own scratch copy of C,
    then a second parallel loop, over rows, adds the copies in slice order
    into C (so the sums do not depend on the threads) and runs `finish`
    on each row while it is in cache."""
    L, MR, NR, KC = bl.lanes, bl.mr, bl.nr, bl.kc
    ks = _ceil(K, slices)
    slices = _ceil(K, ks)
    parts = k.scratch(dtype, [tasks_outer, slices, M, N], "k_parts")
    with k.loop(tasks_outer * slices, "task", parallel=True) as t:
        outer = k.div(t, slices) if tasks_outer > 1 else 0
        s = k.rem(t, slices) if tasks_outer > 1 else t
        k_lo = s * ks
        k_hi = k.min(k_lo + ks, K)
        _blocks(k, bl, M, _ceil(ks, KC), k_lo, k_hi, 0, M, False, 0, M // MR, N // NR, N % NR, False,
                lambda m, p: a_at(outer, m, p), lambda p, n, cnt: b_vec(outer, p, n, L, cnt), parts,
                lambda m, n: [outer, s, m, n], lambda m: k.zero(dtype))
    with k.loop(tasks_outer * M, "row", parallel=True) as r:
        outer = k.div(r, M) if tasks_outer > 1 else 0
        m = k.rem(r, M) if tasks_outer > 1 else r
        with k.loop(_ceil(N, L), "vec") as v:
            n = v * L
            cnt = None if N % L == 0 else k.min(N - n, L)
            acc = k.local(k.broadcast(init(outer, m), L), "c")
            with k.loop(slices, "s") as s:
                k.assign(acc, acc + k.vload(parts, [outer, s, m, n], L, cnt))
            k.store(c_buf, c_index(outer, m, n), acc, partial=True, count=cnt)
        if finish is not None:
            finish(outer, m, m + 1, 0, N)


def flat_index(buf, prefix, flat):
    """The index of `buf` (contiguous) that addresses element `flat` of the
    trailing dims after `prefix`: the innermost trailing dim of size > 1
    (its stride is 1) carries the whole offset, the others are 0 (an element
    address is the sum of index * stride over the dims of size > 1)."""
    assert tuple(buf.strides) == tuple(_contiguous(buf.shape)), f"{buf.name} is not contiguous"
    idx = list(prefix) + [0] * (buf.rank - len(prefix))
    inner = [d for d in range(len(prefix), buf.rank) if buf.shape[d] != 1]
    if inner:
        idx[inner[-1]] = flat
    elif buf.rank > len(prefix):
        idx[-1] = flat
    return idx


def _contiguous(shape):
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= max(int(d), 1)
    return tuple(reversed(strides))
