"""Convolution schedules for targets with vectors, chosen by `nn._conv_lower`:

- `depthwise_2d`: one input channel per output channel (MobileNet's 3x3
  layers). A GEMM would have one row; instead each output row is computed
  a vector of columns at a time, ``acc += w[tap] * x[row, cols + tap]`` over
  the taps, from a zero-padded copy of the input plane split into `stride`
  column phases, so that every tap's read is one contiguous vector load
  (no bounds checks, no gathers, any stride and dilation).
- `shifted_gemm`: stride 1, several taps. Without im2col: over the
  zero-padded input laid out flat (row length P), output position o lies
  at n = o_h * P + o_w, and tap t reads the input at n + off(t) for every
  n, so B[(c, t), n] = xpad[c, n + off(t)] is a contiguous row and the GEMM
  reads it in place. The GEMM also computes the P - OW columns between two
  output rows (wasted work, ~(kw-1)/P of it), so C goes to scratch and the
  final copy into y drops them (and runs the fused epilogue).
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager

import numpy as np

from .gemm import Blocking, flat_index, gemm

SLOTS = 32            # depthwise: scratch planes, one per parallel task
SHIFT_C_BYTES = 4 << 20   # shifted_gemm: at most this much C scratch per GEMM (whole output rows)


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
    ph_, pw = begin
    for ph in range(sw):
        v_lo = max(0, _ceil(pw - ph, sw))
        v_hi = min(cols, (W - 1 + pw - ph) // sw + 1)
        if v_hi > v_lo:
            with k.loop(min(H, rows - ph_), "r") as r, k.loop(v_hi, "v", start=v_lo) as v:
                k.store(xp, [s, ph, r + ph_, v], k.load(x, [ni, g, r, v * sw + ph - pw]))


def shifted_gemm(k, x, w, b, y, size, kernel, out, dilations, begin, group):
    """y for stride-1 convolutions with more than one tap, any rank."""
    n = x.shape[0]
    m, cg = w.shape[:2]
    mg = m // group
    nsp = len(out)
    padded = [o + (kt - 1) * d for o, kt, d in zip(out, kernel, dilations)]
    pstride = [int(np.prod(padded[j + 1:], dtype=np.int64)) for j in range(nsp)]
    plane = int(np.prod(padded, dtype=np.int64))
    taps = int(np.prod(kernel, dtype=np.int64))
    kk = cg * taps
    copy = list(padded) != list(size) or any(begin) or not k.can_vload(x)
    bl = Blocking.for_target(k, y.dtype)
    # whole output rows (steps of the outermost axis) per GEMM, so C scratch stays small
    row_cols = pstride[0]
    fit = max(1, SHIFT_C_BYTES // max(mg * row_cols * y.dtype.itemsize, 1))
    rows = max(d for d in range(1, out[0] + 1) if out[0] % d == 0 and d <= fit)
    span = sum((o - 1) * st for o, st in zip(out[1:], pstride[1:])) + 1   # columns of one output row
    ncols = (rows - 1) * row_cols + span
    ld = rows * row_cols + (bl.nr if (rows * row_cols * y.dtype.itemsize) % 4096 == 0 else 0)
    cbuf = k.scratch(y.dtype, [mg, ld], "c")
    # off[q]: where B's row q = (channel, taps) starts in the (padded) input of a group
    off = k.scratch(np.dtype("int64"), [kk], "off")
    with k.loop(kk, "q") as q:
        c, rest, o = k.div(q, taps) if taps > 1 else q, k.rem(q, taps) if taps > 1 else 0, 0
        for j in range(nsp):
            step = int(np.prod(kernel[j + 1:], dtype=np.int64))
            t = k.div(rest, step) if step > 1 else rest
            rest = k.rem(rest, step) if step > 1 else 0
            o = o + t * (dilations[j] * pstride[j])
        k.store(off, [q], c * plane + o)
    src = k.scratch(x.dtype, [cg, plane], "xpad") if copy else x
    if copy:   # the padding stays zero: each image overwrites only the interior
        with k.loop(cg, "c", parallel=True) as c, k.loop(plane, "u") as u:
            k.store(src, [c, u], k.zero(x.dtype))
    with k.loop(n * group, "img") as ig:
        ni, g = (k.div(ig, group), k.rem(ig, group)) if group > 1 else (ig, 0)
        if copy:
            with k.loop(cg, "c", parallel=True) as c, \
                    _loops(k, [min(sz, p - bg) for sz, p, bg in zip(size, padded, begin)], "i") as pos:
                at = sum((p + bg) * st for p, bg, st in zip(pos, begin, pstride))
                k.store(src, [c, at], k.load(x, [ni, g * cg + c, *pos]))

        def b_at(q, j):   # the index of B[q, j] in src
            return flat_index(src, [] if copy else [ni, g * cg], k.load(off, [q]) + j)

        with k.loop(out[0] // rows, "rb") as rb:
            r0 = rb * rows
            base = r0 * row_cols

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
                 b_vec=lambda o, q, j, lanes, cnt: k.vload(src, b_at(q, base + j), lanes, cnt),
                 c_index=lambda o, mi, j: [mi, j],
                 init=lambda o, mi: k.load(b, [g * mg + mi]) if b is not None else k.zero(y.dtype),
                 finish=finish, c_buf=cbuf, chunk_cols=None if nsp <= 2 else _chunk(bl, mg, ncols, row_cols))


def _chunk(bl, mg, ncols, row_cols):
    """Columns per GEMM task for 3 or more spatial dims: whole rows, about 8
    tasks in all."""
    want = max(1, _ceil(8, _ceil(mg, bl.mc)))
    return min(ncols, max(1, _ceil(max(bl.nr, _ceil(ncols, want)), row_cols)) * row_cols)


@contextmanager
def _loops(k, extents, prefix):
    """Nested loops over `extents` (none: an empty index)."""
    with ExitStack() as stack:
        yield [stack.enter_context(k.loop(e, f"{prefix}{j}")) for j, e in enumerate(extents)]
