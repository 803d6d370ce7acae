"""Sampling images at computed positions: ``grid_sample`` (N-D, nearest /
linear / cubic, zeros / border / reflection padding) and ``roi_align``.

Both follow the ONNX reference (PyTorch's GridSampler): grid coordinates
are normalized to [-1, 1] and mapped to pixel positions in float32; cubic
interpolation is Keys' with a = -0.75. One formula, written against a small
math interface, serves both the numpy reference and the kernel.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

F32, INDEX = np.dtype("float32"), np.dtype("int64")
GS_MODES = ("nearest", "linear", "cubic")
GS_PADDING = ("zeros", "border", "reflection")
CUBIC_A = -0.75


class _NumpyMath:
    """The KernelBuilder helpers the formulas use, on numpy arrays."""
    floor, round, select = staticmethod(np.floor), staticmethod(np.rint), staticmethod(np.where)
    trunc = staticmethod(np.trunc)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def clamp(x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    @staticmethod
    def const(v, dtype):
        return np.asarray(v, dtype)

    @staticmethod
    def eq(a, b):
        return np.equal(a, b)

    @staticmethod
    def floormod(a, b):
        return np.mod(a, b)


def _denormalize(m, v, size: int, align_corners: bool):
    if align_corners:
        return (v + 1.0) / 2.0 * float(size - 1)
    return ((v + 1.0) * float(size) - 1.0) / 2.0


def _reflect(m, x, lo: float, hi: float):
    """Reflect x into [lo, hi] by its nearest border, repeatedly (float32)."""
    rng = hi - lo
    if rng <= 0:
        return m.clamp(x, lo, hi)
    below, above = lo - x, x - hi
    dx = m.select(x < lo, below, above)
    n = m.trunc(dx / rng)
    r = dx - n * rng
    even = m.eq(m.floormod(m.cast(n, INDEX), 2), 0)
    from_lo, from_hi = lo + r, hi - r
    out_below = m.select(even, from_lo, from_hi)
    out_above = m.select(even, from_hi, from_lo)
    return m.select(x < lo, out_below, m.select(x > hi, out_above, x))


def _borders(size: int, align_corners: bool):
    return (0.0, float(size - 1)) if align_corners else (-0.5, size - 0.5)


def _cubic_coeffs(m, t):
    """Keys' cubic weights of the taps at -1, 0, 1, 2 for a fraction t in [0, 1)."""
    a = CUBIC_A
    t1, t2, t3 = t + 1.0, 1.0 - t, 2.0 - t
    c0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    c1 = ((a + 2) * t - (a + 3)) * t * t + 1.0
    c2 = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1.0
    c3 = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a
    return [c0, c1, c2, c3]


def grid_taps(m, v, size: int, mode: str, padding: str, align_corners: bool):
    """For one axis: [(index, weight or None, valid or None)] per tap, from the
    normalized grid coordinate `v` (float32). Indices are safe to read with
    (clamped); `valid` is False where zeros padding applies."""
    x = _denormalize(m, v, size, align_corners)
    lo, hi = _borders(size, align_corners)
    if mode == "nearest":
        x = m.round(x)
    if padding == "border":
        x = m.select((x < lo) | (x > hi), m.clamp(x, 0.0, float(size - 1)), x)
    elif padding == "reflection":
        x = _reflect(m, x, lo, hi)
    if mode == "nearest":
        base, offsets, weights = x, [0], [None]
    else:
        base = m.floor(x)
        t = x - base
        offsets = [0, 1] if mode == "linear" else [-1, 0, 1, 2]
        weights = [1.0 - t, t] if mode == "linear" else _cubic_coeffs(m, t)
    i0 = m.cast(base, INDEX)
    taps = []
    for off, w in zip(offsets, weights):
        i = i0 + off
        valid = None
        if padding == "zeros":
            valid = (i >= 0) & (i < size)
        elif padding == "border":
            i = m.clamp(i, 0, size - 1)
        else:
            i = m.cast(_reflect(m, m.cast(i, F32), lo, hi), INDEX)
        taps.append((m.clamp(i, 0, size - 1), w, valid))
    return taps


def _gs_infer(ins, mode="linear", padding_mode="zeros", align_corners=0):
    x, grid = ins
    if mode not in GS_MODES or padding_mode not in GS_PADDING:
        raise ShapeError(f"grid_sample: mode {mode!r} / padding {padding_mode!r} not one of "
                         f"{GS_MODES} / {GS_PADDING}")
    if dtypes.kind(x.dtype) != "f" or dtypes.kind(grid.dtype) != "f":
        raise ShapeError(f"grid_sample expects float inputs, got {x.dtype.name} and {grid.dtype.name}")
    nsp = x.rank - 2
    if nsp < 1 or grid.rank != x.rank or grid.shape[-1] != nsp or grid.shape[0] != x.shape[0]:
        raise ShapeError(f"grid_sample: grid {list(grid.shape)} does not fit input {list(x.shape)} "
                         f"(expected [N, *out, {nsp}])")
    return x.dtype, (x.shape[0], x.shape[1], *grid.shape[1:-1])


def _gs_ref(x, grid, mode="linear", padding_mode="zeros", align_corners=0):
    m = _NumpyMath
    n, c, *dims = x.shape
    out = grid.shape[1:-1]
    g = grid.astype(F32)
    ct = dtypes.compute(x.dtype)
    taps = [grid_taps(m, g[..., len(dims) - 1 - d], dims[d], mode, padding_mode, bool(align_corners))
            for d in range(len(dims))]
    y = np.zeros((n, *out, c), ct)
    nidx = np.arange(n).reshape((n,) + (1,) * len(out))
    for combo in itertools.product(*taps):
        w = np.ones((n, *out), ct)
        ok = np.ones((n, *out), bool)
        for i, wd, valid in combo:
            if wd is not None:
                w = w * wd.astype(ct)
            if valid is not None:
                ok = ok & valid
        pix = np.moveaxis(x, 1, -1)[(nidx,) + tuple(i for i, _, _ in combo)]   # [N, *out, C]
        y = y + np.where(ok[..., None], w[..., None] * pix, 0)
    return np.moveaxis(y, -1, 1).astype(x.dtype)


def _gs_lower(k, ins, outs, mode="linear", padding_mode="zeros", align_corners=0):
    x, grid = ins
    y = outs[0]
    n, c, *dims = x.shape
    nsp = len(dims)
    out = grid.shape[1:-1]
    if not y.numel:
        return
    ct = y.dtype if not dtypes.is_storage_only(y.dtype) else F32
    with k.loops([n, *out], "i") as (ni, *o):
        taps = []
        for d in range(nsp):
            v = k.local(k.cast(k.load(grid, [ni, *o, nsp - 1 - d]), F32), f"g{d}")
            axis_taps = []
            for t, (i, w, valid) in enumerate(grid_taps(k, v, dims[d], mode=mode, padding=padding_mode,
                                                        align_corners=bool(align_corners))):
                i = k.local(i, f"i{d}_{t}")
                w = k.local(k.cast(w, ct), f"w{d}_{t}") if w is not None else None
                valid = k.local(valid, f"ok{d}_{t}") if valid is not None else None
                axis_taps.append((i, w, valid))
            taps.append(axis_taps)
        with k.loop(c, "c") as ci:
            acc = None
            for combo in itertools.product(*taps):
                term = k.load(x, [ni, ci, *[i for i, _, _ in combo]])
                for _, w, _ in combo:
                    if w is not None:
                        term = term * w
                oks = [v for _, _, v in combo if v is not None]
                if oks:
                    ok = oks[0]
                    for v in oks[1:]:
                        ok = ok & v
                    term = k.select(ok, term, k.zero(term.dtype))
                acc = term if acc is None else acc + term
            k.store(y, [ni, ci, *o], acc)


register(OpDef("grid_sample", OPAQUE, _gs_infer, _gs_ref, lower=_gs_lower,
               doc="x [N, C, *S] sampled at grid [N, *out, nsp] (normalized, last axis x-first)"))


# ---------------------------------------------------------------- roi_align
def _roi_infer(ins, mode="avg", output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0,
               half_pixel=1):
    x, rois, batch = ins
    if x.rank != 4 or dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"roi_align expects a float [N, C, H, W] input, got {x.type_str}")
    if rois.rank != 2 or (isinstance(rois.shape[1], int) and rois.shape[1] != 4):
        raise ShapeError(f"roi_align rois must be [num_rois, 4], got {list(rois.shape)}")
    if batch.rank != 1 or dtypes.kind(batch.dtype) not in "iu":
        raise ShapeError(f"roi_align batch_indices must be a 1-D integer tensor, got {batch.type_str}")
    if mode not in ("avg", "max"):
        raise ShapeError(f"roi_align mode {mode!r} is not avg or max")
    return x.dtype, (rois.shape[0], x.shape[1], int(output_height), int(output_width))


def _roi_geometry(m, roi, scale, ph_n, pw_n, sampling_ratio, half_pixel):
    """Per ROI: start (h, w), bin size (h, w) and samples per bin (h, w)."""
    off = 0.5 if half_pixel else 0.0
    x0, y0, x1, y1 = (r * scale - off for r in roi)
    rw, rh = x1 - x0, y1 - y0
    if not half_pixel:   # malformed ROIs become 1x1
        rw, rh = m.max(rw, 1.0), m.max(rh, 1.0)
    bh, bw = rh / float(ph_n), rw / float(pw_n)
    if sampling_ratio > 0:
        gh = gw = sampling_ratio
    else:
        gh = m.cast(m.ceil(rh / float(ph_n)), INDEX)
        gw = m.cast(m.ceil(rw / float(pw_n)), INDEX)
    return y0, x0, bh, bw, gh, gw


def _roi_sample(m, y, x, height: int, width: int):
    """Bilinear taps of one sample: [(y index, x index, weight)], weights 0
    outside the feature map (as the reference)."""
    outside = (y < -1.0) | (y > float(height)) | (x < -1.0) | (x > float(width))
    y, x = m.max(y, 0.0), m.max(x, 0.0)
    yl, xl = m.cast(y, INDEX), m.cast(x, INDEX)   # truncation: y, x >= 0
    ytop, xtop = yl >= height - 1, xl >= width - 1
    yl, xl = m.select(ytop, height - 1, yl), m.select(xtop, width - 1, xl)
    yh, xh = m.select(ytop, height - 1, yl + 1), m.select(xtop, width - 1, xl + 1)
    y, x = m.select(ytop, m.cast(yl, F32), y), m.select(xtop, m.cast(xl, F32), x)
    ly, lx = y - m.cast(yl, F32), x - m.cast(xl, F32)
    hy, hx = 1.0 - ly, 1.0 - lx
    zero = 0.0

    def w(v):
        return m.select(outside, zero, v)
    return [(yl, xl, w(hy * hx)), (yl, xh, w(hy * lx)), (yh, xl, w(ly * hx)), (yh, xh, w(ly * lx))]


class _NpRoi(_NumpyMath):
    max, ceil = staticmethod(np.maximum), staticmethod(np.ceil)


def _roi_ref(x, rois, batch, mode="avg", output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0,
             half_pixel=1):
    m = _NpRoi
    n_rois, (_, c, h, w) = rois.shape[0], x.shape
    y = np.zeros((n_rois, c, output_height, output_width), x.dtype)
    for r in range(n_rois):
        roi = [np.float32(v) for v in rois[r].astype(F32)]
        y0, x0, bh, bw, gh, gw = _roi_geometry(m, roi, np.float32(spatial_scale), output_height, output_width,
                                               sampling_ratio, half_pixel)
        gh, gw = int(gh), int(gw)
        img = x[int(batch[r])]
        for ph in range(output_height):
            for pw in range(output_width):
                vals = []
                for iy in range(gh):
                    yy = y0 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        xx = x0 + pw * bw + (ix + 0.5) * bw / gw
                        taps = _roi_sample(m, np.float32(yy), np.float32(xx), h, w)
                        terms = [wt * img[:, int(i), int(j)] for i, j, wt in taps]
                        vals.append(sum(terms) if mode == "avg" else np.maximum.reduce(terms))
                if vals:
                    y[r, :, ph, pw] = (sum(vals) / max(gh * gw, 1)) if mode == "avg" else np.maximum.reduce(vals)
    return y


def _roi_lower(k, ins, outs, mode="avg", output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0,
               half_pixel=1):
    x, rois, batch = ins
    y = outs[0]
    n_rois, c = y.shape[:2]
    _, _, h, w = x.shape
    if not y.numel:
        return
    ct = F32 if dtypes.kind(x.dtype) == "f" and x.dtype.itemsize <= 4 else dtypes.compute(x.dtype)
    with k.loop(n_rois, "r", parallel=True) as r:
        roi = [k.local(k.cast(k.load(rois, [r, j]), F32), f"roi{j}") for j in range(4)]
        b = k.cast(k.load(batch, [r]), INDEX)
        k.check((b >= 0) & (b < x.shape[0]), f"batch index out of range [0, {x.shape[0] - 1}]")
        b = k.local(k.clamp(b, 0, x.shape[0] - 1), "b")
        y0, x0, bh, bw, gh, gw = (k.local(v, nm) for v, nm in zip(
            _roi_geometry(k, roi, k.const(spatial_scale, F32), output_height, output_width, sampling_ratio,
                          half_pixel), ("y0", "x0", "bin_h", "bin_w", "grid_h", "grid_w")))
        count = k.local(k.cast(k.max(gh * gw, 1), F32), "count")
        with k.loops([c, output_height, output_width], "i", parallel=False) as (ci, ph, pw):
            acc = k.local(k.const(0.0 if mode == "avg" else -np.inf, ct), "acc")
            with k.loop(gh, "iy") as iy:
                yy = k.local(y0 + k.cast(ph, F32) * bh + (k.cast(iy, F32) + 0.5) * bh / k.cast(gh, F32), "yy")
                with k.loop(gw, "ix") as ix:
                    xx = k.local(x0 + k.cast(pw, F32) * bw + (k.cast(ix, F32) + 0.5) * bw / k.cast(gw, F32), "xx")
                    terms = [k.cast(wt, ct) * k.cast(k.load(x, [b, ci, i, j]), ct)
                             for i, j, wt in _roi_sample(k, yy, xx, h, w)]
                    if mode == "avg":
                        k.assign(acc, acc + ((terms[0] + terms[1]) + terms[2]) + terms[3])
                    else:
                        k.assign(acc, k.max(acc, k.max(k.max(terms[0], terms[1]), k.max(terms[2], terms[3]))))
            res = acc / k.cast(count, ct) if mode == "avg" else acc
            k.store(y, [r, ci, ph, pw], k.cast(res, y.dtype))


register(OpDef("roi_align", OPAQUE, _roi_infer, _roi_ref, lower=_roi_lower,
               doc="average (or max) of bilinear samples per bin of each ROI [x1, y1, x2, y2] "
                   "of the image batch_indices names"))


# -------------------------------------------------------------- deform_conv
def _deform_infer(ins, strides, dilations, pads, group=1, offset_group=1):
    x, w, off = ins[0], ins[1], ins[2]
    if x.rank != 4 or w.rank != 4 or off.rank != 4 or dtypes.kind(x.dtype) != "f":
        raise ShapeError(f"deform_conv supports 2-D float convolutions, got {x.type_str}, {w.type_str}")
    kh, kw = w.shape[2:]
    outs = []
    for size, k_, s, d, p0, p1 in zip(x.shape[2:], (kh, kw), strides, dilations, pads[:2], pads[2:]):
        outs.append((size + p0 + p1 - ((k_ - 1) * d + 1)) // s + 1)
    if tuple(off.shape[2:]) != tuple(outs) or off.shape[1] != offset_group * kh * kw * 2:
        raise ShapeError(f"deform_conv offset {list(off.shape)} does not fit the output {outs} and "
                         f"{offset_group} offset groups of a {kh}x{kw} kernel")
    return x.dtype, (x.shape[0], w.shape[0], *outs)


def _bilinear_zero(m, h, w, height: int, width: int):
    """Bilinear taps of (h, w) with zeros outside: [(i, j, weight, valid)]."""
    h0, w0 = m.floor(h), m.floor(w)
    lh, lw = h - h0, w - w0
    i0, j0 = m.cast(h0, INDEX), m.cast(w0, INDEX)
    out = []
    for di, wi in ((0, 1.0 - lh), (1, lh)):
        for dj, wj in ((0, 1.0 - lw), (1, lw)):
            i, j = i0 + di, j0 + dj
            valid = (i >= 0) & (i < height) & (j >= 0) & (j < width)
            out.append((m.clamp(i, 0, height - 1), m.clamp(j, 0, width - 1), wi * wj, valid))
    return out


def _deform_ref(x, w, off, b=None, mask=None, *, strides, dilations, pads, group=1, offset_group=1):
    n, c, height, width = x.shape
    m_, cg, kh, kw = w.shape
    oh, ow = off.shape[2:]
    y = np.zeros((n, m_, oh, ow), np.float64)
    mg, cpo = m_ // group, c // offset_group
    oi, oj = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    for ni in range(n):
        for ci in range(c):
            og = ci // cpo
            for a in range(kh):
                for bb in range(kw):
                    t = (og * kh + a) * kw + bb
                    h = oi * strides[0] - pads[0] + a * dilations[0] + off[ni, 2 * t]
                    v = oj * strides[1] - pads[1] + bb * dilations[1] + off[ni, 2 * t + 1]
                    val = np.zeros((oh, ow))
                    for i, j, wt, ok in _bilinear_zero(_NumpyMath, h.astype(np.float64), v.astype(np.float64),
                                                       height, width):
                        val += np.where(ok, wt * x[ni, ci][i, j], 0)
                    if mask is not None:
                        val = val * mask[ni, t]
                    g = ci // cg
                    for mo in range(g * mg, (g + 1) * mg):
                        y[ni, mo] += w[mo, ci - g * cg, a, bb] * val
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y.astype(x.dtype)


def _deform_lower(k, ins, outs, strides, dilations, pads, group=1, offset_group=1):
    x, w, off = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    mask = ins[4] if len(ins) > 4 else None
    y = outs[0]
    n, c, height, width = x.shape
    m_, cg, kh, kw = w.shape
    mg, cpo = m_ // group, c // offset_group
    ct = dtypes.compute(x.dtype)
    if not y.numel:
        return
    with k.loops(y.shape, "o") as (ni, mo, oi, oj):
        acc = k.local(k.cast(k.load(b, [mo]), ct) if b is not None else k.zero(ct), "acc")
        g = k.local(k.floordiv(mo, mg), "g")
        with k.loop(cg, "ci") as cl:
            ci = k.local(g * cg + cl, "c")
            og = k.floordiv(ci, cpo)
            for a in range(kh):
                for bb in range(kw):
                    t = (og * kh + a) * kw + bb
                    h = k.cast(oi * strides[0] - pads[0] + a * dilations[0], ct) + k.load(off, [ni, t * 2, oi, oj])
                    v = k.cast(oj * strides[1] - pads[1] + bb * dilations[1], ct) + \
                        k.load(off, [ni, t * 2 + 1, oi, oj])
                    h, v = k.local(h, "h"), k.local(v, "w")
                    val = None
                    for i, j, wt, ok in _bilinear_zero(k, h, v, height, width):
                        term = k.select(ok, wt * k.load(x, [ni, ci, i, j]), k.zero(ct))
                        val = term if val is None else val + term
                    if mask is not None:
                        val = val * k.load(mask, [ni, t, oi, oj])
                    k.assign(acc, acc + k.load(w, [mo, cl, a, bb]) * val)
        k.store(y, [ni, mo, oi, oj], acc)


register(OpDef("deform_conv", OPAQUE, _deform_infer, _deform_ref, lower=_deform_lower,
               doc="2-D deformable convolution: each tap samples x (bilinear, zeros outside) at its "
                   "position plus a learned offset, optionally scaled by a mask"))

