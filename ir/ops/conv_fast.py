"""Convolution schedules for targets with vectors, chosen by `nn._conv_lower`:

- `depthwise_2d`: one input channel per output channel (MobileNet's 3x3
  layers). A GEMM would have one row; instead each output row is computed
  a vector of columns at a time, ``acc += w[tap] * x[row, cols + tap]`` over
  the taps, from a zero-padded copy of the input plane split into `stride`
  column phases, so that every tap's read is one contiguous vector load
  (no bounds checks, no gathers, any stride and dilation).
- `shifted_gemm`: several input channels per group (any kernel other than
  a plain 1x1). Without im2col: over the input zero-padded and laid out
  flat (row length P), output position o lies at n = o_h * P + o_w, and
  tap t reads the input at n + off(t) for every n, so B[(c, t), n] =
  xpad[c, n + off(t)] is a contiguous row that the GEMM reads in place
  (or from column panels packed per block of output rows, when the input
  does not stay in L2).
  With a stride s the input is first split into the s phases per axis the
  taps read (xpad[u * s + phase]), which makes the same true for each tap's
  phase plane. The GEMM also computes the P - OW columns between two
  output rows (wasted work, ~(kw - 1) / (s * P) of it), so C goes to
  scratch and the final copy into y drops them (and runs the fused
  epilogue). The weights are the GEMM's A, read in place.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager

import numpy as np

from .gemm import Blocking, flat_index, gemm

SLOTS = 32            # depthwise: scratch planes, one per parallel task
SHIFT_BYTES = 4 << 20   # shifted_gemm: at most this much scratch (C, packed B) per GEMM (whole output rows)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def depthwise_2d(k, x, w, b, y, size, kernel, out, strides, dilations, begin, group):
    """y[n, oc] for 2-D convolutions whose groups have one input channel."""
    n = x.shape[0]
    mg = w.shape[0] // group
    (H, W), (KH, KW), (OH, OW) = size, kernel, out
    (sh, sw), (dh, dw) = strides, dilations
    L = k.lanes(y.dtype)
    rows = (OH - 1) * sh + (KH - 1) * dh + 1          # padded input rows read
    cols = OW + (KW - 1) * dw // sw                  # columns per phase read
    planes = n * group
    slots = min(planes, SLOTS)
    per = _ceil(planes, slots)
    xp = k.scratch(x.dtype, [slots, sw, rows, cols], "xpad")
    zero = k.zero(x.dtype)
    with k.loop(slots, "slot", parallel=True) as s:
        # the padding stays zero: each plane overwrites only the interior
        with k.loop(sw, "ph") as ph, k.loop(rows, "u") as u, k.loop(cols, "v") as v:
            k.store(xp, [s, ph, u, v], zero)
        with k.loop(per, "pl") as pl:
            plane = s * per + pl
            with k.if_(plane < planes):
                ni, g = (k.div(plane, group), k.rem(plane, group)) if group > 1 else (plane, 0)
                _fill_phases(k, x, xp, s, ni, g, H, W, rows, cols, sw, begin)
                with k.loop(mg, "mi") as mi:
                    oc = g * mg + mi
                    bias = k.local(k.broadcast(k.load(b, [oc]) if b is not None else k.zero(y.dtype), L), "bias")
                    taps = [(ty, tx, k.local(k.broadcast(k.load(w, [oc, 0, ty, tx]), L), "w"))
                            for ty in range(KH) for tx in range(KW)]
                    with k.loop(OH, "oy") as oy:
                        def vec(ox, count):
                            acc = bias
                            for ty, tx, wv in taps:
                                src = k.vload(xp, [s, tx * dw % sw, oy * sh + ty * dh, ox + tx * dw // sw], L, count)
                                acc = k.fma(wv, src, acc)
                            k.store(y, [ni, oc, oy, ox], acc, partial=True, count=count)
                        with k.loop(OW // L, "ov") as ov:
                            vec(ov * L, None)
                        if OW % L:
                            vec(OW // L * L, k.const(OW % L, "int64"))
                        k.finish(y, [ni, oc, oy], [OW])


def _fill_phases(k, x, xp, s, ni, g, H, W, rows, cols, sw, begin):
    """xp[s, ph, u, v] = x[ni, g, u - pad_h, v * sw + ph - pad_w] where that lies
    inside x (the rest of xp is already zero)."""
    pad_h, pad_w = begin
    for ph in range(sw):
        v_lo = max(0, _ceil(pad_w - ph, sw))
        v_hi = min(cols, (W - 1 + pad_w - ph) // sw + 1)
        if v_hi > v_lo:
            with k.loop(min(H, rows - pad_h), "r") as r, k.loop(v_hi, "v", start=v_lo) as v:
                k.store(xp, [s, ph, r + pad_h, v], k.load(x, [ni, g, r, v * sw + ph - pad_w]))


def shifted_gemm(k, x, w, b, y, size, kernel, out, strides, dilations, begin, group):
    """y for convolutions with more than one input channel per group, any
    rank, stride, dilation and (non-negative) padding."""
    n = x.shape[0]
    m, cg = w.shape[:2]
    mg = m // group
    nsp = len(out)
    # per axis: the input phases the taps read (tap t reads phase t*d % s, shifted by t*d // s)
    phases = [sorted({t * d % st for t in range(kt)}) for kt, d, st in zip(kernel, dilations, strides)]
    padded = [o + (kt - 1) * d // st for o, kt, d, st in zip(out, kernel, dilations, strides)]
    pstride = [int(np.prod(padded[j + 1:], dtype=np.int64)) for j in range(nsp)]
    plane = int(np.prod(padded, dtype=np.int64))
    nph = int(np.prod([len(ph) for ph in phases], dtype=np.int64))
    taps = int(np.prod(kernel, dtype=np.int64))
    kk = cg * taps
    copy = nph > 1 or any(st > 1 for st in strides) or list(padded) != list(size) or any(begin) \
        or not k.can_vload(x)
    bl = Blocking.for_target(k, y.dtype)
    # B packed into column panels [panel, K, NR] when the input it is read from does not stay in
    # L2 (read in place, a tile's KC x NR sliver of B is KC rows of scattered, unaligned memory:
    # more cache lines than L1 holds, refetched from further out); measured on the zoo's layers:
    # faster for ResNet's 56x56 and 28x28 ones, slower for MNIST's 26x26x32 and 7x7x512.
    # Panels must start at the GEMM's column chunks, which they do unless those are whole rows
    # (3 or more dims).
    pack = nsp <= 2 and cg * nph * plane * x.dtype.itemsize > k.target.l2 // 2
    # whole output rows (steps of the outermost axis) per GEMM, so scratch stays small
    row_cols = pstride[0]
    fit = max(1, SHIFT_BYTES // max((mg + (kk if pack else 0)) * row_cols * y.dtype.itemsize, 1))
    rows = max(d for d in range(1, out[0] + 1) if out[0] % d == 0 and d <= fit)
    span = sum((o - 1) * st for o, st in zip(out[1:], pstride[1:])) + 1   # columns of one output row
    ncols = (rows - 1) * row_cols + span
    L, NR = bl.lanes, bl.nr
    panels = _ceil(ncols, NR)
    bp = k.scratch(x.dtype, [panels, kk, NR], "b_panels") if pack else None
    ld = rows * row_cols + (bl.nr if (rows * row_cols * y.dtype.itemsize) % 4096 == 0 else 0)
    cbuf = k.scratch(y.dtype, [mg, ld], "c")
    # off[c * taps + t]: where B's row (input channel c, tap t) starts in the input of a group
    # (or in its padded phase planes): the tap's phase plane, shifted by t * d // s per axis
    off = k.scratch(np.dtype("int64"), [kk], "off")
    for ti, t in enumerate(np.ndindex(*kernel)):
        phase, shift = 0, 0
        for j in range(nsp):
            phase = phase * len(phases[j]) + phases[j].index(t[j] * dilations[j] % strides[j])
            shift += t[j] * dilations[j] // strides[j] * pstride[j]
        with k.loop(cg, "c") as c:
            k.store(off, [c * taps + ti], c * (nph * plane) + (phase * plane + shift))
    src = k.scratch(x.dtype, [cg, nph * plane], "xpad") if copy else x
    if copy:   # the padding stays zero: each image overwrites only the interior
        with k.loop(cg, "c", parallel=True) as c, k.loop(nph * plane, "u") as u:
            k.store(src, [c, u], k.zero(x.dtype))
    with k.loop(n * group, "img") as ig:
        ni, g = (k.div(ig, group), k.rem(ig, group)) if group > 1 else (ig, 0)
        if copy:
            _fill_phase_planes(k, x, src, ni, g * cg, cg, size, begin, strides, phases, padded, pstride)

        def b_at(q, j):   # the index of B[q, j] in src
            return flat_index(src, [] if copy else [ni, g * cg], k.load(off, [q]) + j)

        with k.loop(out[0] // rows, "rb") as rb:
            r0 = rb * rows
            base = r0 * row_cols
            if pack:
                def pack_panel(jp, last):
                    with k.loop(kk, "pq") as q:
                        for v in range(NR // L):
                            j = jp * NR + v * L
                            cnt = k.max(k.min(ncols - j, L), 0) if last else None
                            k.store(bp, [jp, q, v * L], k.vload(src, b_at(q, base + j), L, cnt))
                with k.loop(ncols // NR, "pj", parallel=True) as jp:
                    pack_panel(jp, False)
                if ncols % NR:
                    pack_panel(ncols // NR, True)

            def b_vec(o, q, j, lanes, cnt):
                if not pack:
                    return k.vload(src, b_at(q, base + j), lanes, cnt)
                jp = k.div(j, NR)   # j starts a vector inside a panel
                return k.vload(bp, [jp, q, j - jp * NR], lanes)

            def finish(o, m_lo, m_hi, n_lo, n_hi):
                # C -> y, dropping the columns between output rows; the epilogue runs in the store
                with k.loop(m_hi, "fm", start=m_lo) as mi, \
                        k.loop(k.div(n_hi - 1, row_cols) + 1, "fr", start=k.div(n_lo, row_cols)) as r:
                    idx = [ni, g * mg + mi, r0 + r]
                    if nsp == 2:   # tasks may split a row: its columns in [n_lo, n_hi)
                        lo, hi = k.max(n_lo - r * row_cols, 0), k.min(n_hi - r * row_cols, out[1])
                        with k.loop(hi, "fo", start=lo) as ox:
                            k.store(y, idx + [ox], k.load(cbuf, [mi, r * row_cols + ox]))
                    else:
                        with _loops(k, out[1:], "fo") as rest:
                            at = r * row_cols + sum(o_j * st for o_j, st in zip(rest, pstride[1:]))
                            k.store(y, idx + list(rest), k.load(cbuf, [mi, at]))

            gemm(k, y.dtype, mg, ncols, kk,
                 a_at=lambda o, mi, q: k.load(w, flat_index(w, [g * mg + mi], q)),
                 b_vec=b_vec,
                 c_index=lambda o, mi, j: [mi, j],
                 init=lambda o, mi: k.load(b, [g * mg + mi]) if b is not None else k.zero(y.dtype),
                 finish=finish, c_buf=cbuf, chunk_cols=None if nsp <= 2 else _chunk(bl, mg, ncols, row_cols))


def _fill_phase_planes(k, x, src, ni, c0, cg, size, begin, strides, phases, padded, pstride):
    """src[c, phase, u...] = x[ni, c0 + c, u * stride + phase - begin] (per axis)
    where that lies inside x and u inside the plane; the rest stays zero."""
    plane = int(np.prod(padded, dtype=np.int64))
    nsp = len(size)
    combos = np.ndindex(*[len(ph) for ph in phases])
    with k.loop(cg, "c", parallel=True) as c:
        for at, combo in enumerate(combos):
            ranges = []   # per axis, the plane positions u whose input lies inside
            for j in range(nsp):
                ph, st = phases[j][combo[j]], strides[j]
                lo = max(0, _ceil(begin[j] - ph, st))
                hi = min(padded[j], (size[j] - 1 + begin[j] - ph) // st + 1)
                ranges.append((lo, hi, ph))
            if any(hi <= lo for lo, hi, _ in ranges):
                continue
            with _loops(k, [(lo, hi) for lo, hi, _ in ranges], "u") as u:
                pos = [u_j * strides[j] + ph - begin[j] for j, (u_j, (_, _, ph)) in enumerate(zip(u, ranges))]
                k.store(src, [c, at * plane + sum(u_j * st for u_j, st in zip(u, pstride))],
                        k.load(x, [ni, c0 + c, *pos]))


def _chunk(bl, mg, ncols, row_cols):
    """Columns per GEMM task for 3 or more spatial dims: whole rows, about 8
    tasks in all."""
    want = max(1, _ceil(8, _ceil(mg, bl.mc)))
    return min(ncols, max(1, _ceil(max(bl.nr, _ceil(ncols, want)), row_cols)) * row_cols)


@contextmanager
def _loops(k, extents, prefix):
    """Nested loops over `extents`, each a stop or a (start, stop) pair (none: an empty index)."""
    with ExitStack() as stack:
        yield [stack.enter_context(k.loop(e[1], f"{prefix}{j}", start=e[0]) if isinstance(e, tuple)
                                   else k.loop(e, f"{prefix}{j}")) for j, e in enumerate(extents)]
