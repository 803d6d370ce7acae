"""Neural-network ops over ``[N, C, *spatial]`` data with 1 to 3 (or more)
spatial dims: ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool`` and
``resize``.

Sliding-window attributes are explicit lists, one entry per spatial axis:
``strides``, ``dilations``, and ``pads`` (all begins, then all ends, as in
ONNX). ``pad_mode`` is "explicit", or "same_upper" / "same_lower": pads that
keep ``out = ceil(in / stride)``, resolved from the input shape whenever it
is known, so a model with symbolic spatial dims infers (fresh dims) and is
resolved at specialization.

Lowerings never read outside the input: each output position loops only
over the kernel taps that land inside it (bounds computed per position).
"""
from __future__ import annotations

import itertools
import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import ShapeError, UnsupportedError
from ..shapes import is_known, unknown_dim
from .conv_fast import depthwise_2d, shifted_gemm
from .gemm import Blocking, flat_index, gemm
from .base import INJECTIVE, OPAQUE, OUT_FUSABLE, REDUCE, OpDef, register
from .npmath import NumpyMath as _NumpyMath
from .reduce import lowest

PAD_MODES = ("explicit", "same_upper", "same_lower")
INDEX = np.dtype("int64")


# ----------------------------------------------------------------- geometry
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def window_axis(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
                pad_mode: str = "explicit", ceil_mode: bool = False) -> tuple[int, int, int]:
    """Output length and (begin, end) pads of one spatial axis of a
    sliding-window op. ceil_mode's extra last window is not part of the pads."""
    span = (kernel - 1) * dilation + 1
    if pad_mode != "explicit":
        out = _ceil_div(size, stride)
        total = max(0, (out - 1) * stride + span - size)
        begin = total // 2 if pad_mode == "same_upper" else total - total // 2
        return out, begin, total - begin
    room = size + pad_begin + pad_end - span
    if room < 0:
        raise ShapeError(f"the window ({span} wide with dilation) is larger than the padded input "
                         f"({size} + {pad_begin} + {pad_end})")
    if not ceil_mode:
        return room // stride + 1, pad_begin, pad_end
    out = _ceil_div(room, stride) + 1
    if (out - 1) * stride >= size + pad_begin:   # the last window must start inside the input or left pad
        out -= 1
    return out, pad_begin, pad_end


def _check_window_attrs(x, nsp: int, strides, dilations, pads, pad_mode, kernel=None) -> None:
    if x.rank < 3:
        raise ShapeError(f"input has {x.rank} dims, expected [N, C, spatial...] (at least 3)")
    for name, v, n in (("strides", strides, nsp), ("dilations", dilations, nsp), ("pads", pads, 2 * nsp),
                       ("kernel", kernel, nsp)):
        if v is not None and len(v) != n:
            raise ShapeError(f"{name} {list(v)} should have {n} values for {nsp} spatial dims")
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations):
        raise ShapeError(f"strides {list(strides)} and dilations {list(dilations)} must be >= 1")
    if kernel is not None and any(int(k) < 1 for k in kernel):
        raise ShapeError(f"kernel {list(kernel)} must be >= 1")
    if pad_mode not in PAD_MODES:
        raise ShapeError(f"pad_mode {pad_mode!r} is not one of {', '.join(PAD_MODES)}")


def window_geometry(spatial, kernel, strides, dilations, pads, pad_mode, ceil_mode=False):
    """Output spatial dims, begin pads and end pads; a symbolic input dim
    gives a fresh symbolic output dim (and pads None)."""
    nsp = len(spatial)
    out, begin, end = [], [], []
    for j in range(nsp):
        if not (is_known(spatial[j]) and is_known(kernel[j])):
            out.append(unknown_dim())
            begin.append(None)
            end.append(None)
            continue
        o, b, e = window_axis(spatial[j], kernel[j], strides[j], dilations[j], pads[j], pads[nsp + j],
                              pad_mode, ceil_mode)
        if o < 1:
            raise ShapeError(f"spatial dim {j} of size {spatial[j]} gives an empty output")
        out.append(o)
        begin.append(b)
        end.append(e)
    return tuple(out), begin, end


def _pad_for_windows(x, out, kernel, strides, dilations, begin, fill):
    """`x` padded with `fill`: `begin` before, and after as far as the last
    window reaches."""
    widths = [(0, 0), (0, 0)]
    for j, (o, k, s, d, b) in enumerate(zip(out, kernel, strides, dilations, begin)):
        need = (o - 1) * s + (k - 1) * d + 1
        widths.append((b, max(0, need - x.shape[2 + j] - b)))
    return np.pad(x, widths, constant_values=fill)


def _windows(xp, out, kernel, strides, dilations):
    """(tap, view) per kernel tap: the view holds, for every output position,
    the padded-input element under that tap."""
    for tap in np.ndindex(*kernel):
        sl = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, o, s, d in zip(tap, out, strides, dilations))
        yield tap, xp[(slice(None), slice(None)) + sl]


# -- kernel-IR helpers
def _ceil_div_expr(k, a, d: int):
    return a if d == 1 else k.floordiv(a + (d - 1), d)


def _taps(k, o, size: int, kernel: int, stride: int, dilation: int, pad: int, n_out: int):
    """[lo, hi) of the taps t of output position `o` whose input position
    ``o*stride - pad + t*dilation`` lies in [0, size)."""
    if pad <= 0 and -pad + (n_out - 1) * stride + (kernel - 1) * dilation < size:
        return 0, kernel           # every window lies inside: static bounds
    first = o * stride - pad       # input position of tap 0
    lo = k.max(_ceil_div_expr(k, -first, dilation), 0)
    hi = k.min(_ceil_div_expr(k, size - first, dilation), kernel)
    return lo, hi


def _window_positions(o, strides, begin, t, dilations):
    """Input positions under taps `t` of the window at output position `o`."""
    return [o[j] * strides[j] - begin[j] + t[j] * dilations[j] for j in range(len(o))]


def _all(conds):
    """The conjunction of kernel-IR conditions."""
    out = conds[0]
    for cnd in conds[1:]:
        out = out & cnd
    return out


@contextmanager
def _tap_loops(k, ranges, prefix="t"):
    """Loops over the kernel taps, ``ranges`` being (lo, hi) per spatial axis."""
    with ExitStack() as stack:
        yield tuple(stack.enter_context(k.loop(hi, f"{prefix}{j}", start=lo)) for j, (lo, hi) in enumerate(ranges))


UNROLLED_TAPS = 16   # the most taps of a window (pooling, col2im) unrolled in the kernel


def _each_tap(k, ranges, prefix="t"):
    """The taps of a window, for the body of a `for`: unrolled when every
    range is static (straight-line code: loops of 2 or 3 taps cost more in
    loop control and mispredicted exits than in work), else one loop nest
    (see `_tap_loops`)."""
    if all(isinstance(lo, int) and isinstance(hi, int) for lo, hi in ranges) and \
            math.prod(hi - lo for lo, hi in ranges) <= UNROLLED_TAPS:
        yield from itertools.product(*[range(lo, hi) for lo, hi in ranges])
    else:
        with _tap_loops(k, ranges, prefix) as t:
            yield t


def _check_float(op, *vals):
    dt = vals[0].dtype
    for v in vals:
        if v is not None and v.dtype != dt:
            raise ShapeError(f"{op}: input dtypes differ ({dt.name} vs {v.dtype.name})")
    if dtypes.kind(dt) != "f":
        raise ShapeError(f"{op} expects float inputs, got {dt.name}")


# ------------------------------------------------------------------- conv
def _conv_infer(ins, strides, dilations, pads, pad_mode="explicit", group=1):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    _check_float("conv", x, w, b)
    if w.rank != x.rank:
        raise ShapeError(f"weight has {w.rank} dims {list(w.shape)}, expected {x.rank} like the input")
    nsp = x.rank - 2
    _check_window_attrs(x, nsp, strides, dilations, pads, pad_mode)
    c, m, cg = x.shape[1], w.shape[0], w.shape[1]
    if group < 1:
        raise ShapeError(f"group must be >= 1, got {group}")
    if is_known(m) and m % group:
        raise ShapeError(f"weight has {m} output channels, not divisible by group={group}")
    if is_known(c) and is_known(cg) and c != cg * group:
        raise ShapeError(f"input has {c} channels, but the weight {list(w.shape)} with group={group} "
                         f"expects {cg * group} ({cg} per group)")
    if b is not None and (b.rank != 1 or (is_known(b.shape[0]) and is_known(m) and b.shape[0] != m)):
        raise ShapeError(f"bias has shape {list(b.shape)}, expected [{m}]")
    out, _, _ = window_geometry(x.shape[2:], w.shape[2:], strides, dilations, pads, pad_mode)
    return x.dtype, (x.shape[0], m, *out)


def _conv_ref(x, w, b=None, *, strides, dilations, pads, pad_mode="explicit", group=1):
    n, c = x.shape[:2]
    m, cg, *kernel = w.shape
    out, begin, _ = window_geometry(x.shape[2:], kernel, strides, dilations, pads, pad_mode)
    xp = _pad_for_windows(x, out, kernel, strides, dilations, begin, 0)
    y = np.zeros((n, group, m // group, *out), x.dtype)
    for tap, win in _windows(xp, out, kernel, strides, dilations):
        wt = w[(slice(None), slice(None)) + tap].reshape(group, m // group, cg)
        y += np.einsum("ngc...,gmc->ngm...", win.reshape(n, group, cg, *out), wt)
    y = y.reshape(n, m, *out)
    if b is not None:
        y += b.reshape(m, *[1] * len(out))
    return y


def _conv_1x1(k, x, w, b, y, out, group):
    """A 1x1 convolution with stride 1 and no padding: per image and group
    the GEMM y[m, o] = bias[m] + sum_c w[m, c] * x[c, o] (ir/ops/gemm.py),
    reading x and writing y in place."""
    n = x.shape[0]
    m, cg = w.shape[:2]
    mg = m // group
    nsp = int(np.prod(out, dtype=np.int64))
    inner = int(np.prod(out[1:], dtype=np.int64))   # positions per step of the outermost output axis
    bl = Blocking.for_target(k, y.dtype)
    # columns per task: whole steps of the outer output axis, ~8 tasks in all
    want = max(1, -(-8 // (n * group * -(-mg // bl.mc))))
    chunk = min(max(1, -(-max(bl.nr, -(-nsp // want)) // inner)) * inner, nsp)

    def split(o):   # task outer index -> (image, group)
        return (k.div(o, group), k.rem(o, group)) if group > 1 else (o, 0)

    def finish(o, m_lo, m_hi, n_lo, n_hi):
        ni, g = split(o)
        o0 = k.div(n_lo, inner)
        with k.loop(m_hi, "fm", start=m_lo) as mi:
            k.finish(y, [ni, g * mg + mi], [k.div(n_hi, inner) - o0, *out[1:]], start=[o0] + [0] * (len(out) - 1))

    gemm(k, y.dtype, mg, nsp, cg,
         a_at=lambda o, mi, c: k.load(w, flat_index(w, [split(o)[1] * mg + mi], c)),
         b_vec=lambda o, c, j, lanes, cnt: k.vload(x, flat_index(x, [split(o)[0], split(o)[1] * cg + c], j),
                                                   lanes, cnt),
         c_index=lambda o, mi, j: flat_index(y, [split(o)[0], split(o)[1] * mg + mi], j),
         init=lambda o, mi: k.load(b, [split(o)[1] * mg + mi]) if b is not None else k.zero(y.dtype),
         finish=finish, c_buf=y, chunk_cols=chunk, tasks_outer=n * group)


def _conv_lower(k, ins, outs, strides, dilations, pads, pad_mode="explicit", group=1):
    """Per output row: y[..., :] = bias, then for each input channel and tap
    y[..., ow] += x[..., ow*stride + offset] * w[tap] over the ow whose input
    lies inside, so the innermost loop runs along contiguous rows. On a
    target with vectors (and pads not negative): a 2-D convolution with one
    input channel per group is vectorized along rows; one with more is a
    GEMM: in place for 1x1 (_conv_1x1), else over shifted rows of the
    (padded, split into stride phases) input (conv_fast.py)."""
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = outs[0]
    n, _, *size = x.shape
    m, cg, *kernel = w.shape
    mg = m // group
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode)
    if k.lanes(y.dtype) > 1 and len(out) >= 1 and not k.has_hooks(w) and \
            (b is None or not k.has_hooks(b)) and y.numel > 0 and all(bg >= 0 for bg in begin):
        if cg == 1 and len(out) == 2:
            depthwise_2d(k, x, w, b, y, size, kernel, out, strides, dilations, begin, group)
            return
        if cg > 1 and all(kt == 1 for kt in kernel) and all(st == 1 for st in strides) and not any(begin) \
                and list(out) == list(size) and k.can_vload(x):
            _conv_1x1(k, x, w, b, y, out, group)
            return
        if cg > 1:
            shifted_gemm(k, x, w, b, y, size, kernel, out, strides, dilations, begin, group)
            return
    s, d, p, wl, ol = strides[-1], dilations[-1], begin[-1], size[-1], out[-1]
    with k.loops([n, group, mg, *out[:-1]], "i") as (ni, g, mi, *o):
        oc = g * mg + mi
        with k.loop(ol, "ow") as ow:
            k.store(y, [ni, oc, *o, ow], k.load(b, [oc]) if b is not None else k.zero(y.dtype), partial=True)
        ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                  for j in range(len(size) - 1)]
        with k.loop(cg, "c") as c:
            with _tap_loops(k, ranges) as t:
                pos = _window_positions(o, strides, begin, t, dilations)
                with k.loop(kernel[-1], f"t{len(size) - 1}") as tl:
                    shift = tl * d - p     # input column of output column 0
                    lo = k.max(_ceil_div_expr(k, -shift, s), 0)
                    hi = k.min(_ceil_div_expr(k, wl - shift, s), ol)
                    wv = k.local(k.load(w, [oc, c, *t, tl]), "w_tap")
                    with k.loop(hi, "ow", start=lo) as ow:
                        at = [ni, oc, *o, ow]
                        k.store(y, at, k.load(y, at) + k.load(x, [ni, g * cg + c, *pos, ow * s + shift]) * wv,
                                partial=True)
        k.finish(y, [ni, oc, *o], [ol])   # the output row is final: a fused epilogue runs over it


def _conv_contraction(k, ins, outs, strides, dilations, pads, pad_mode="explicit", group=1):
    """The convolution as a `kir.Contraction` (a schedule annotation: the
    CUDA renderer tiles it as an implicit GEMM through shared memory): over
    (n, group, channel in group, *output position), the sum over (input
    channel, *taps) of x (0 in the padding; the load clamped in bounds) times w."""
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = outs[0]
    n, _, *size = x.shape
    m, cg, *kernel = w.shape
    mg = m // group
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode)

    def term(s, r):
        ni, g, mi, *o = s
        c, *t = r
        pos = _window_positions(o, strides, begin, t, dilations)
        inside = [(p >= 0) & (p < size[j]) for j, p in enumerate(pos)
                  if not (begin[j] <= 0 and -begin[j] + (out[j] - 1) * strides[j] + (kernel[j] - 1) * dilations[j]
                          < size[j])]   # axes whose windows may reach into the padding
        xv = k.load(x, [ni, g * cg + c, *[k.clamp(p, 0, size[j] - 1) for j, p in enumerate(pos)]])
        if inside:
            xv = k.select(_all(inside), xv, k.zero(x.dtype))
        return xv * k.load(w, [g * mg + mi, c, *t])

    return k.contraction(
        [n, group, mg, *out], [cg, *kernel], y.dtype,
        init=lambda s: k.load(b, [s[1] * mg + s[2]]) if b is not None else k.zero(y.dtype),
        term=term,
        store=lambda s, acc: k.store(y, [s[0], s[1] * mg + s[2], *s[3:]], acc))


def _conv_lower_scheduled(k, ins, outs, **attrs):
    with k.scheduled(_conv_contraction(k, ins, outs, **attrs)):
        _conv_lower(k, ins, outs, **attrs)


def _conv_vjp(d, ins, outs, gouts, strides, dilations, pads, pad_mode="explicit", group=1):
    """dx: the transposed convolution of g with the same window, sized back
    to x; dw: conv_grad_weight; db: g summed over all but the channels."""
    x, w = ins[0], ins[1]
    g = gouts[0]
    size, kernel, out = x.shape[2:], w.shape[2:], g.shape[2:]
    _, begin, end = window_geometry(size, kernel, strides, dilations, pads, pad_mode)
    t_end, t_opad = [], []
    for j in range(len(size)):
        # the rows of x past the last window: covered by the end pad, or by output_padding
        rest = size[j] + begin[j] + end[j] - ((kernel[j] - 1) * dilations[j] + 1) - (out[j] - 1) * strides[j]
        t_end.append(max(end[j] - rest, 0))
        t_opad.append(max(rest - end[j], 0))
    dx = d.conv_transpose(g, w, strides=list(strides), dilations=list(dilations), pads=list(begin) + t_end,
                          output_padding=t_opad, output_shape=None, group=group)
    dw = d.conv_grad_weight(x, g, kernel=list(kernel), strides=list(strides), dilations=list(dilations),
                            pads=list(begin) + list(end), group=group)
    db = d.sum(g, [0] + list(range(2, g.rank))) if len(ins) > 2 and ins[2] is not None else None
    return [dx, dw, db][:len(ins)]


register(OpDef("conv", OUT_FUSABLE, _conv_infer, _conv_ref, lower=_conv_lower_scheduled, vjp=_conv_vjp,
               doc="grouped N-D convolution (cross-correlation); x [N,C,*S], w [M,C/group,*K], bias [M]"))


# ------------------------------------------------------ conv_grad_weight
def _conv_grad_weight_infer(ins, kernel, strides, dilations, pads, group=1):
    x, gy = ins
    _check_float("conv_grad_weight", x, gy)
    if gy.rank != x.rank:
        raise ShapeError(f"conv_grad_weight: gradient has {gy.rank} dims, the input {x.rank}")
    _check_window_attrs(x, x.rank - 2, strides, dilations, pads, "explicit", kernel)
    out, _, _ = window_geometry(x.shape[2:], kernel, strides, dilations, pads, "explicit")
    if tuple(out) != tuple(gy.shape[2:]) and all(is_known(o) for o in list(out) + list(gy.shape[2:])):
        raise ShapeError(f"conv_grad_weight: gradient {list(gy.shape)} does not match the window's "
                         f"output {list(out)}")
    c = x.shape[1]
    return x.dtype, (gy.shape[1], c // group if is_known(c) else unknown_dim(), *kernel)


def _conv_grad_weight_ref(x, gy, *, kernel, strides, dilations, pads, group=1):
    n, c = x.shape[:2]
    m, out = gy.shape[1], gy.shape[2:]
    _, begin, _ = window_geometry(x.shape[2:], kernel, strides, dilations, pads, "explicit")
    xp = _pad_for_windows(x, out, kernel, strides, dilations, begin, 0)
    cg, mg = c // group, m // group
    dw = np.zeros((m, cg, *kernel), x.dtype)
    gyg = gy.reshape(n, group, mg, -1)
    for tap, win in _windows(xp, out, kernel, strides, dilations):
        dw[(slice(None), slice(None)) + tap] = np.einsum(
            "ngmo,ngco->gmc", gyg, win.reshape(n, group, cg, -1)).reshape(m, cg)
    return dw


def _conv_grad_weight_lower(k, ins, outs, kernel, strides, dilations, pads, group=1):
    """Per weight element: the sum over the batch and the output positions
    whose input lies inside; the innermost loop runs along output rows."""
    x, gy = ins
    dw = outs[0]
    n, c, *size = x.shape
    m, out = gy.shape[1], gy.shape[2:]
    cg, mg = c // group, m // group
    _, begin, _ = window_geometry(size, kernel, strides, dilations, pads, "explicit")
    lead = len(size) - 1
    s, dl, p, wl, ol = strides[-1], dilations[-1], begin[-1], size[-1], out[-1]
    with k.loops([m, cg, *kernel], "i") as (oc, ci, *t):
        xc = k.floordiv(oc, mg) * cg + ci if group > 1 else ci
        acc = k.local(k.zero(dw.dtype), "acc")
        ranges = []   # output positions o whose input o*stride - pad + t*dilation lies inside
        for j in range(lead):
            first = begin[j] - t[j] * dilations[j]
            ranges.append((k.max(_ceil_div_expr(k, first, strides[j]), 0),
                           k.min(_ceil_div_expr(k, first + size[j], strides[j]), out[j])))
        with k.loop(n, "n") as ni:
            with _tap_loops(k, ranges, "o") as o:
                pos = [o[j] * strides[j] - begin[j] + t[j] * dilations[j] for j in range(lead)]
                shift = t[-1] * dl - p
                lo = k.max(_ceil_div_expr(k, -shift, s), 0)
                hi = k.min(_ceil_div_expr(k, wl - shift, s), ol)
                with k.loop(hi, "ow", start=lo) as ow:
                    k.accumulate(acc, k.load(gy, [ni, oc, *o, ow]) * k.load(x, [ni, xc, *pos, ow * s + shift]))
        k.store(dw, [oc, ci, *t], acc)


register(OpDef("conv_grad_weight", OPAQUE, _conv_grad_weight_infer, _conv_grad_weight_ref,
               lower=_conv_grad_weight_lower,
               doc="the weight gradient of conv: x [N,C,*S], gy [N,M,*O] -> [M,C/group,*kernel]; "
                   "explicit pads"))


# ------------------------------------------------------ im2col / col2im
def _im2col_geometry(shape, kernel, strides, dilations, pads):
    out, begin, _ = window_geometry(shape[2:], kernel, strides, dilations, pads, "explicit")
    rows = shape[0] * int(np.prod(out, dtype=np.int64)) if all(is_known(d) for d in (shape[0], *out)) \
        else unknown_dim()
    cols = shape[1] * int(np.prod(kernel, dtype=np.int64)) if is_known(shape[1]) else unknown_dim()
    return out, begin, rows, cols


def _im2col_infer(ins, kernel, strides, dilations, pads):
    x = ins[0]
    _check_float("im2col", x)
    _check_window_attrs(x, x.rank - 2, strides, dilations, pads, "explicit", kernel)
    _, _, rows, cols = _im2col_geometry(x.shape, kernel, strides, dilations, pads)
    return x.dtype, (rows, cols)


def _im2col_ref(x, *, kernel, strides, dilations, pads):
    n, c = x.shape[:2]
    out, begin, rows, cols = _im2col_geometry(x.shape, kernel, strides, dilations, pads)
    xp = _pad_for_windows(x, out, kernel, strides, dilations, begin, 0)
    res = np.empty((n, *out, c, int(np.prod(kernel, dtype=np.int64))), x.dtype)
    for t, (_, win) in enumerate(_windows(xp, out, kernel, strides, dilations)):
        res[..., t] = np.moveaxis(win, 1, -1)
    return res.reshape(rows, cols)


def _flat(idx, dims):
    out = 0
    for i, d in zip(idx, dims):
        out = out * d + i
    return out


def _im2col_lower(k, ins, outs, kernel, strides, dilations, pads):
    """Row (n, o...) holds, for each channel and tap, the input under it (0 in the pads)."""
    x, cols = ins[0], outs[0]
    n, c, *size = x.shape
    out, begin, _, _ = _im2col_geometry(x.shape, kernel, strides, dilations, pads)
    taps = int(np.prod(kernel, dtype=np.int64))
    padded = any(pads)
    with k.loops([n, *out], "i") as (ni, *o):
        row = _flat([ni, *o], [n, *out])
        with k.loop(c, "c") as ci:
            with k.loops(kernel, "t", parallel=False) as t:
                pos = _window_positions(o, strides, begin, t, dilations)
                col = ci * taps + _flat(t, kernel)
                if padded:   # clamped reads, zeros stored for taps in the pads
                    inside = _all([(p >= 0) & (p < d) for p, d in zip(pos, size)])
                    v = k.load(x, [ni, ci, *[k.clamp(p, 0, d - 1) for p, d in zip(pos, size)]])
                    k.store(cols, [row, col], k.select(inside, v, k.zero(x.dtype)))
                else:
                    k.store(cols, [row, col], k.load(x, [ni, ci, *pos]))


def _col2im_infer(ins, shape, kernel, strides, dilations, pads):
    cols = ins[0]
    _check_float("col2im", cols)
    _, _, rows, ncols = _im2col_geometry(tuple(shape), kernel, strides, dilations, pads)
    if cols.static and (cols.shape[0], cols.shape[1]) != (rows, ncols):
        raise ShapeError(f"col2im: columns {list(cols.shape)} do not match [{rows}, {ncols}] for {list(shape)}")
    return cols.dtype, tuple(shape)


def _col2im_ref(cols, *, shape, kernel, strides, dilations, pads):
    n, c, *size = shape
    out, begin, _, _ = _im2col_geometry(tuple(shape), kernel, strides, dilations, pads)
    parts = cols.reshape(n, *out, c, -1)
    xp = _pad_for_windows(np.zeros(shape, cols.dtype), out, kernel, strides, dilations, begin, 0)
    for t, (_, win) in enumerate(_windows(xp, out, kernel, strides, dilations)):
        win += np.moveaxis(parts[..., t], -1, 1)
    return xp[(slice(None), slice(None)) + tuple(slice(b, b + s) for b, s in zip(begin, size))].copy()


def _col2im_lower(k, ins, outs, shape, kernel, strides, dilations, pads):
    """Per sample: zero x, then add each column entry at the input position
    of its tap (taps in the pads are skipped)."""
    cols, x = ins[0], outs[0]
    n, c, *size = shape
    out, begin, _, _ = _im2col_geometry(tuple(shape), kernel, strides, dilations, pads)
    taps = int(np.prod(kernel, dtype=np.int64))
    with k.loops([n], "i") as (ni,):
        with k.loops([c, *size], "z", parallel=False) as z:
            k.store(x, [ni, *z], k.zero(x.dtype))
        with k.loops(out, "o", parallel=False) as o:
            row = _flat([ni, *o], [n, *out])
            ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                      for j in range(len(size))]
            with k.loop(c, "c") as ci:
                for t in _each_tap(k, ranges):
                    at = [ni, ci, *_window_positions(o, strides, begin, t, dilations)]
                    k.store(x, at, k.load(x, at) + k.load(cols, [row, ci * taps + _flat(t, kernel)]))


register(
    OpDef("im2col", INJECTIVE, _im2col_infer, _im2col_ref, lower=_im2col_lower,
          vjp=lambda d, ins, outs, gouts, **a: [d.col2im(gouts[0], shape=list(ins[0].shape), **a)],
          doc="sliding windows as rows: x [N,C,*S] -> [N*prod(O), C*prod(kernel)] (explicit pads, zeros there); "
              "conv is im2col @ w.reshape(M, -1)^T"),
    OpDef("col2im", OPAQUE, _col2im_infer, _col2im_ref, lower=_col2im_lower,
          vjp=lambda d, ins, outs, gouts, shape, **a: [d.im2col(gouts[0], **a)],
          doc="the adjoint of im2col: each column entry added back at its input position"),
)


# --------------------------------------------------------- conv_transpose
def transpose_axis(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
                   output_padding: int, pad_mode: str, out_size: int | None) -> tuple[int, int]:
    """Output length and begin pad of one spatial axis of a transposed conv.
    A given `out_size` (or a same_* mode, whose out_size is size*stride, or
    less where that would need negative pads, as in onnxruntime) decides
    the pads; same_upper puts the smaller half first."""
    full = stride * (size - 1) + output_padding + (kernel - 1) * dilation + 1
    if out_size is None and pad_mode != "explicit":
        out_size = min(size * stride, full)
    if out_size is None:
        return full - pad_begin - pad_end, pad_begin
    total = max(0, full - out_size)
    return out_size, total // 2 if pad_mode == "same_upper" else total - total // 2


def _transpose_geometry(spatial, kernel, strides, dilations, pads, pad_mode, output_padding, output_shape):
    nsp = len(spatial)
    out, begin = [], []
    for j in range(nsp):
        given = output_shape[j] if output_shape is not None else None
        if not (is_known(spatial[j]) and is_known(kernel[j])):
            out.append(given if given is not None else unknown_dim())
            begin.append(None)
            continue
        o, b = transpose_axis(spatial[j], kernel[j], strides[j], dilations[j], pads[j], pads[nsp + j],
                              output_padding[j], pad_mode, given)
        if o < 1:
            raise ShapeError(f"spatial dim {j} of size {spatial[j]} gives an empty output")
        out.append(o)
        begin.append(b)
    return tuple(out), begin


def _conv_transpose_infer(ins, strides, dilations, pads, output_padding, output_shape=None,
                          pad_mode="explicit", group=1):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    _check_float("conv_transpose", x, w, b)
    if w.rank != x.rank:
        raise ShapeError(f"weight has {w.rank} dims {list(w.shape)}, expected {x.rank} like the input")
    nsp = x.rank - 2
    _check_window_attrs(x, nsp, strides, dilations, pads, pad_mode)
    for name, v in (("output_padding", output_padding), ("output_shape", output_shape)):
        if v is not None and len(v) != nsp:
            raise ShapeError(f"{name} {list(v)} should have {nsp} values for {nsp} spatial dims")
    if group < 1:
        raise ShapeError(f"group must be >= 1, got {group}")
    c = x.shape[1]
    if is_known(c) and c % group:
        raise ShapeError(f"input has {c} channels, not divisible by group={group}")
    if is_known(c) and is_known(w.shape[0]) and w.shape[0] != c:
        raise ShapeError(f"input has {c} channels, but the weight {list(w.shape)} expects {w.shape[0]}")
    m = w.shape[1] * group if is_known(w.shape[1]) else unknown_dim()
    if b is not None and (b.rank != 1 or (is_known(b.shape[0]) and is_known(m) and b.shape[0] != m)):
        raise ShapeError(f"bias has shape {list(b.shape)}, expected [{m}]")
    out, _ = _transpose_geometry(x.shape[2:], w.shape[2:], strides, dilations, pads, pad_mode,
                                 output_padding, output_shape)
    return x.dtype, (x.shape[0], m, *out)


def _conv_transpose_ref(x, w, b=None, *, strides, dilations, pads, output_padding, output_shape=None,
                        pad_mode="explicit", group=1):
    n, c, *size = x.shape
    _, mg, *kernel = w.shape
    cg = c // group
    out, begin = _transpose_geometry(size, kernel, strides, dilations, pads, pad_mode, output_padding,
                                     output_shape)
    # scatter every tap into a buffer indexed by "full" position + shift, then crop
    shift = [max(0, -bg) for bg in begin]
    length = [max((s - 1) * st + (kk - 1) * d + 1, bg + o) + sh
              for s, st, kk, d, bg, o, sh in zip(size, strides, kernel, dilations, begin, out, shift)]
    buf = np.zeros((n, group, mg, *length), x.dtype)
    xg = x.reshape(n, group, cg, *size)
    for tap in np.ndindex(*kernel):
        wt = w[(slice(None), slice(None)) + tap].reshape(group, cg, mg)
        sl = tuple(slice(sh + t * d, sh + t * d + (s - 1) * st + 1, st)
                   for t, d, s, st, sh in zip(tap, dilations, size, strides, shift))
        buf[(slice(None),) * 3 + sl] += np.einsum("ngc...,gcm->ngm...", xg, wt)
    crop = tuple(slice(bg + sh, bg + sh + o) for bg, sh, o in zip(begin, shift, out))
    y = buf[(slice(None),) * 3 + crop].reshape(n, group * mg, *out)
    if b is not None:
        y = y + b.reshape(-1, *[1] * len(out))
    return y


def _conv_transpose_lower(k, ins, outs, strides, dilations, pads, output_padding, output_shape=None,
                          pad_mode="explicit", group=1):
    """Gathers along the leading spatial axes (output position o takes tap t
    from input (o + pad - t*dilation) / stride when that divides), and
    scatters along the last one: per tap, y[..., i*stride + offset] += x[..., i]
    * w[tap] over the input row, so the innermost loop reads contiguously."""
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = outs[0]
    n, c, *size = x.shape
    _, mg, *kernel = w.shape
    cg = c // group
    out, begin = _transpose_geometry(size, kernel, strides, dilations, pads, pad_mode, output_padding,
                                     output_shape)
    lead = len(size) - 1
    s, d, p, wl, ol = strides[-1], dilations[-1], begin[-1], size[-1], out[-1]
    with k.loops([n, group, mg, *out[:-1]], "i") as (ni, g, mi, *o):
        oc = g * mg + mi
        with k.loop(ol, "ow") as ow:
            k.store(y, [ni, oc, *o, ow], k.load(b, [oc]) if b is not None else k.zero(y.dtype), partial=True)
        ranges = []   # taps whose q = o + pad - t*dilation lies in [0, (size-1)*stride]
        for j in range(lead):
            q0 = o[j] + begin[j]
            lo = k.max(_ceil_div_expr(k, q0 - (size[j] - 1) * strides[j], dilations[j]), 0)
            hi = k.min(k.floordiv(q0, dilations[j]) + 1, kernel[j])
            ranges.append((lo, hi))
        with k.loop(cg, "c") as ci:
            with _tap_loops(k, ranges) as t:
                q = [o[j] + begin[j] - t[j] * dilations[j] for j in range(lead)]
                on_grid = [k.eq(k.rem(q[j], strides[j]), 0) for j in range(lead) if strides[j] > 1]
                with ExitStack() as stack:
                    if on_grid:
                        stack.enter_context(k.if_(_all(on_grid)))
                    pos = [q[j] / strides[j] if strides[j] > 1 else q[j] for j in range(lead)]  # q >= 0 here
                    with k.loop(kernel[-1], f"t{lead}") as tl:
                        shift = tl * d - p     # output column of input column 0
                        lo = k.max(_ceil_div_expr(k, -shift, s), 0)
                        hi = k.min(_ceil_div_expr(k, ol - shift, s), wl)
                        wv = k.local(k.load(w, [g * cg + ci, mi, *t, tl]), "w_tap")
                        with k.loop(hi, "iw", start=lo) as iw:
                            at = [ni, oc, *o, iw * s + shift]
                            k.store(y, at, k.load(y, at) + k.load(x, [ni, g * cg + ci, *pos, iw]) * wv,
                                    partial=True)
        k.finish(y, [ni, oc, *o], [ol])   # the output row is final: a fused epilogue runs over it


def _conv_transpose_vjp(d, ins, outs, gouts, strides, dilations, pads, output_padding, output_shape=None,
                        pad_mode="explicit", group=1):
    """dx: the convolution of g with the same window (its output is x's
    size); dw: conv_grad_weight with the roles of x and g swapped."""
    x, w = ins[0], ins[1]
    g = gouts[0]
    size, kernel, out = x.shape[2:], w.shape[2:], g.shape[2:]
    _, begin = _transpose_geometry(size, kernel, strides, dilations, pads, pad_mode, output_padding,
                                   output_shape)
    end = []
    for j in range(len(size)):
        e = (size[j] - 1) * strides[j] + (kernel[j] - 1) * dilations[j] + 1 - begin[j] - out[j]
        if e <= -strides[j]:
            raise UnsupportedError(f"conv_transpose gradient: output dim {j} ({out[j]}) extends past every "
                                   f"window by a stride or more")
        end.append(max(e, 0))
    attrs = dict(strides=list(strides), dilations=list(dilations), pads=list(begin) + end, group=group)
    dx = d.conv(g, w, **attrs)
    dw = d.conv_grad_weight(g, x, kernel=list(kernel), **attrs)
    db = d.sum(g, [0] + list(range(2, g.rank))) if len(ins) > 2 and ins[2] is not None else None
    return [dx, dw, db][:len(ins)]


register(OpDef("conv_transpose", OUT_FUSABLE, _conv_transpose_infer, _conv_transpose_ref,
               lower=_conv_transpose_lower, vjp=_conv_transpose_vjp,
               doc="grouped N-D transposed convolution; x [N,C,*S], w [C,M/group,*K], bias [M]"))


# ---------------------------------------------------------------- pooling
def _pool_shape(x, kernel, strides, dilations, pads, pad_mode, ceil_mode):
    _check_window_attrs(x, x.rank - 2, strides, dilations, pads, pad_mode, kernel)
    out, _, _ = window_geometry(x.shape[2:], kernel, strides, dilations, pads, pad_mode, ceil_mode)
    return (x.shape[0], x.shape[1], *out)


def _max_pool_infer(ins, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                    storage_order=0, indices=False):
    x = ins[0]
    if dtypes.kind(x.dtype) not in "fiu":
        raise ShapeError(f"max_pool expects a numeric input, got {x.dtype.name}")
    shape = _pool_shape(x, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    return [(x.dtype, shape), (INDEX, shape)] if indices else (x.dtype, shape)


def _avg_pool_infer(ins, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                    count_include_pad=False):
    x = ins[0]
    _check_float("avg_pool", x)
    return x.dtype, _pool_shape(x, kernel, strides, dilations, pads, pad_mode, ceil_mode)


def _flat_index(n, c, pos, channels, size, storage_order):
    """Index of an input element in the flattened input; the spatial dims
    row-major (storage_order 0) or column-major (1). Works on ints, numpy
    arrays and kernel-IR expressions alike."""
    spatial = 0
    dims = list(zip(pos, size))
    for p, s in (dims if storage_order == 0 else dims[::-1]):
        spatial = spatial * s + p
    return (n * channels + c) * int(np.prod(size)) + spatial


def _max_pool_ref(x, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                  storage_order=0, indices=False):
    n, c, *size = x.shape
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    xp = _pad_for_windows(x, out, kernel, strides, dilations, begin, 0)
    inside = _pad_for_windows(np.ones((1, 1, *size), bool), out, kernel, strides, dilations, begin, False)
    best = np.full((n, c, *out), lowest(x.dtype), x.dtype)
    arg = np.zeros((n, c, *out), INDEX)
    seen = np.zeros((1, 1, *out), bool)
    lead = [1] * len(out)
    ni, ci = np.arange(n).reshape(n, 1, *lead), np.arange(c).reshape(1, c, *lead)
    views = zip(_windows(xp, out, kernel, strides, dilations), _windows(inside, out, kernel, strides, dilations))
    for (tap, win), (_, ok) in views:
        take = ok & (~seen | (win > best))    # the first tap inside, then strictly greater: first max wins
        best = np.where(take, win, best)
        if indices:
            pos = np.meshgrid(*[np.arange(o) * s - b + t * d for o, s, b, t, d in
                                zip(out, strides, begin, tap, dilations)], indexing="ij")
            arg = np.where(take, _flat_index(ni, ci, [p[None, None] for p in pos], c, size, storage_order), arg)
        seen = seen | ok
    return (best, arg) if indices else best


def _avg_pool_ref(x, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                  count_include_pad=False):
    size = x.shape[2:]
    out, begin, end = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    xp = _pad_for_windows(x, out, kernel, strides, dilations, begin, 0)
    # the divisor counts the taps on the input, or on the input and its declared pads
    counted = np.ones((1, 1, *size), x.dtype)
    if count_include_pad:
        counted = np.pad(counted, [(0, 0), (0, 0)] + list(zip(begin, end)), constant_values=1)
    cp = _pad_for_windows(counted, out, kernel, strides, dilations, [0] * len(size) if count_include_pad else begin, 0)
    total = sum(win for _, win in _windows(xp, out, kernel, strides, dilations))
    count = sum(win for _, win in _windows(cp, out, kernel, strides, dilations))
    return total / np.maximum(count, 1)


def _max_pool_lower(k, ins, outs, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                    storage_order=0, indices=False):
    x, y = ins[0], outs[0]
    n, c, *size = x.shape
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    with k.loops([n, c, *out], "i") as (ni, ci, *o):
        ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                  for j in range(len(size))]
        acc = k.local(k.const(lowest(x.dtype), x.dtype), "max")
        if indices:   # starts at the first tap inside, so a window of lowest values still points at it
            first = _window_positions(o, strides, begin, [lo for lo, _ in ranges], dilations)
            arg = k.local(_flat_index(ni, ci, first, c, size, storage_order), "arg", INDEX)
        for t in _each_tap(k, ranges):
            pos = _window_positions(o, strides, begin, t, dilations)
            v = k.load(x, [ni, ci, *pos])
            if indices:
                with k.if_(v > acc):
                    k.assign(acc, v)
                    k.assign(arg, _flat_index(ni, ci, pos, c, size, storage_order))
            else:
                k.accumulate(acc, v, "max")
        k.store(y, [ni, ci, *o], acc)
        if indices:
            k.store(outs[1], [ni, ci, *o], arg)


def _avg_pool_lower(k, ins, outs, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                    count_include_pad=False):
    x, y = ins[0], outs[0]
    n, c, *size = x.shape
    nsp = len(size)
    out, begin, end = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    with k.loops([n, c, *out], "i") as (ni, ci, *o):
        ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                  for j in range(nsp)]
        acc = k.local(k.zero(x.dtype), "acc")
        with _tap_loops(k, ranges) as t:
            k.accumulate(acc, k.load(x, [ni, ci, *_window_positions(o, strides, begin, t, dilations)]))
        if count_include_pad:   # the taps on the input and its declared pads (not ceil_mode's overhang)
            ranges = [_taps(k, o[j], size[j] + begin[j] + end[j], kernel[j], strides[j], dilations[j], 0, out[j])
                      for j in range(nsp)]
        count = 1
        for lo, hi in ranges:
            count = count * k.max(k.cast(hi, INDEX) - lo, 1)
        k.store(y, [ni, ci, *o], acc / k.cast(count, x.dtype))


def _max_pool_vjp(d, ins, outs, gouts, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                  storage_order=0, indices=False):
    return [d.max_pool_grad(ins[0], gouts[0], kernel=kernel, strides=strides, dilations=dilations, pads=pads,
                            pad_mode=pad_mode, ceil_mode=ceil_mode)]


def _avg_pool_vjp(d, ins, outs, gouts, **attrs):
    return [d.avg_pool_grad(gouts[0], shape=list(ins[0].shape), **attrs)]


register(
    OpDef("max_pool", REDUCE, _max_pool_infer, _max_pool_ref, lower=_max_pool_lower, vjp=_max_pool_vjp,
          doc="N-D max pooling; with indices=True a second output holds each max's flat input index"),
    OpDef("avg_pool", REDUCE, _avg_pool_infer, _avg_pool_ref, lower=_avg_pool_lower, vjp=_avg_pool_vjp,
          doc="N-D average pooling; count_include_pad counts the declared pads in the divisor"),
)


# -------------------------------------------------------- pooling backward
def _max_pool_grad_infer(ins, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False):
    x, gy = ins
    _check_float("max_pool_grad", x, gy)
    shape = _pool_shape(x, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    if tuple(shape) != tuple(gy.shape) and x.static and gy.static:
        raise ShapeError(f"max_pool_grad: gradient {list(gy.shape)} does not match the pooled shape {list(shape)}")
    return x.dtype, x.shape


def _max_pool_grad_ref(x, gy, *, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False):
    _, arg = _max_pool_ref(x, kernel, strides, dilations, pads, pad_mode, ceil_mode, indices=True)
    dx = np.zeros(x.size, x.dtype)
    np.add.at(dx, arg.reshape(-1), gy.reshape(-1))
    return dx.reshape(x.shape)


def _max_pool_grad_lower(k, ins, outs, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False):
    """Per (n, c) plane, in a scratch plane of the sample's task: zero it,
    add each window's gradient at the window's (first) maximum, found again
    as the forward pass did, then copy the plane to dx with final stores, so
    that a fused epilogue (relu's gradient) runs on it in one vectorized
    pass. (Done in place in dx, LLVM turns ``dx = where(mask, dx, 0)`` into
    masked stores, which are slow on AMD CPUs.)"""
    x, gy = ins
    dx = outs[0]
    n, c, *size = x.shape
    out, begin, _ = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    plane = k.scratch(dx.dtype, [n, *size], "plane")   # one per sample: the parallel loop runs over samples
    with k.loops([n], "i") as (ni,):
        with k.loop(c, "c") as ci:
            with k.loops(size, "z", parallel=False) as z:
                k.store(plane, [ni, *z], k.zero(dx.dtype))
            with k.loops(out, "o", parallel=False) as o:
                ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                          for j in range(len(size))]
                best = k.local(k.const(lowest(x.dtype), x.dtype), "max")
                first = _window_positions(o, strides, begin, [lo for lo, _ in ranges], dilations)
                arg = [k.local(first[j], f"arg{j}", INDEX) for j in range(len(size))]
                with _tap_loops(k, ranges) as t:
                    pos = _window_positions(o, strides, begin, t, dilations)
                    v = k.local(k.load(x, [ni, ci, *pos]), "v")
                    with k.if_(v > best):
                        k.assign(best, v)
                        for a, q in zip(arg, pos):
                            k.assign(a, q)
                at = [ni, *arg]
                k.store(plane, at, k.load(plane, at) + k.load(gy, [ni, ci, *o]))
            with k.loops(size, "z", parallel=False) as z:
                k.store(dx, [ni, ci, *z], k.load(plane, [ni, *z]))


def _avg_pool_grad_infer(ins, shape, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                         count_include_pad=False):
    gy = ins[0]
    _check_float("avg_pool_grad", gy)
    return gy.dtype, tuple(shape)


def _avg_pool_grad_ref(gy, *, shape, kernel, strides, dilations, pads, pad_mode="explicit", ceil_mode=False,
                       count_include_pad=False):
    size = tuple(shape[2:])
    out, begin, end = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    counted = np.ones((1, 1, *size), gy.dtype)
    if count_include_pad:
        counted = np.pad(counted, [(0, 0), (0, 0)] + list(zip(begin, end)), constant_values=1)
    cp = _pad_for_windows(counted, out, kernel, strides, dilations, [0] * len(size) if count_include_pad else begin, 0)
    count = sum(win for _, win in _windows(cp, out, kernel, strides, dilations))
    share = gy / np.maximum(count, 1)
    xp = _pad_for_windows(np.zeros(shape, gy.dtype), out, kernel, strides, dilations, begin, 0)
    for _, win in _windows(xp, out, kernel, strides, dilations):
        win += share
    return xp[(slice(None), slice(None)) + tuple(slice(b, b + s) for b, s in zip(begin, size))].copy()


def _avg_pool_grad_lower(k, ins, outs, shape, kernel, strides, dilations, pads, pad_mode="explicit",
                         ceil_mode=False, count_include_pad=False):
    """Per (n, c) plane: zero dx, then spread each window's gradient over
    the taps inside, divided as the forward pass divided."""
    gy, dx = ins[0], outs[0]
    n, c, *size = shape
    nsp = len(size)
    out, begin, end = window_geometry(size, kernel, strides, dilations, pads, pad_mode, ceil_mode)
    with k.loops([n, c], "i") as (ni, ci):
        with k.loops(size, "z", parallel=False) as z:
            k.store(dx, [ni, ci, *z], k.zero(dx.dtype))
        with k.loops(out, "o", parallel=False) as o:
            ranges = [_taps(k, o[j], size[j], kernel[j], strides[j], dilations[j], begin[j], out[j])
                      for j in range(nsp)]
            counted = ranges
            if count_include_pad:
                counted = [_taps(k, o[j], size[j] + begin[j] + end[j], kernel[j], strides[j], dilations[j], 0,
                                 out[j]) for j in range(nsp)]
            count = 1
            for lo, hi in counted:
                count = count * k.max(k.cast(hi, INDEX) - lo, 1)
            share = k.local(k.load(gy, [ni, ci, *o]) / k.cast(count, gy.dtype), "share")
            with _tap_loops(k, ranges) as t:
                at = [ni, ci, *_window_positions(o, strides, begin, t, dilations)]
                k.store(dx, at, k.load(dx, at) + share)


register(
    OpDef("max_pool_grad", OUT_FUSABLE, _max_pool_grad_infer, _max_pool_grad_ref, lower=_max_pool_grad_lower,
          doc="the input gradient of max_pool: x, gy -> dx (each window's gradient goes to its first max)"),
    OpDef("avg_pool_grad", OPAQUE, _avg_pool_grad_infer, _avg_pool_grad_ref, lower=_avg_pool_grad_lower,
          doc="the input gradient of avg_pool: gy -> dx of shape `shape`"),
)


# ----------------------------------------------------------------- resize
# Source coordinates are computed in float32 in the same order of operations
# as onnxruntime, so nearest-neighbour picks agree exactly; one formula
# serves both the numpy reference and the kernel (see _NumpyMath).
F32, F64 = np.dtype("float32"), np.dtype("float64")
COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
               "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")
RESIZE_MODES = ("nearest", "linear", "cubic")
ASPECT_POLICIES = ("stretch", "not_larger", "not_smaller")


@dataclass(frozen=True)
class _Axis:
    """One axis of a resize: input and output length and the float32 scale."""
    size: int
    out: int
    scale: np.float32

    @property
    def identity(self) -> bool:   # onnxruntime copies an axis of scale 1 without transforming it
        return self.scale == 1


def resize_plan(shape, scales, sizes, axes=None, policy="stretch"):
    """Output shape and per-axis float32 scales, as onnxruntime computes
    them: from `scales`, out = trunc(scale * in); from `sizes`, scale = out / in
    (one scale for all `axes` under a keep-aspect-ratio policy, and then
    out = round(scale * in)). Symbolic input dims give fresh output dims."""
    rank = len(shape)
    axes = tuple(range(rank)) if axes is None else tuple(axes)
    vals = scales if scales is not None else sizes
    if len(vals) != len(axes):
        raise ShapeError(f"resize {'scales' if scales is not None else 'sizes'} {list(vals)} should have "
                         f"{len(axes)} values (one per resized axis)")
    out, sc = list(shape), [np.float32(1)] * rank
    if scales is not None:
        for a, s in zip(axes, scales):
            if not s > 0:
                raise ShapeError(f"resize scales must be positive, got {list(scales)}")
            sc[a] = np.float32(s)
            out[a] = int(sc[a] * np.float32(shape[a])) if is_known(shape[a]) else \
                (shape[a] if sc[a] == 1 else unknown_dim())
        return tuple(out), sc
    for a, s in zip(axes, sizes):
        if int(s) < 0:
            raise ShapeError(f"resize sizes must be >= 0, got {list(sizes)}")
        out[a] = int(s)
        if is_known(shape[a]):
            sc[a] = np.float32(out[a]) / np.float32(shape[a]) if shape[a] else np.float32(1)
    if policy != "stretch":
        if not all(is_known(shape[a]) for a in axes):
            return tuple(unknown_dim() if a in axes else d for a, d in enumerate(shape)), sc
        pick = min if policy == "not_larger" else max
        s = pick(sc[a] for a in axes)
        for a in axes:
            sc[a] = s
            out[a] = int(math.floor(float(s * np.float32(shape[a])) + 0.5))   # C round: halves go up
    return tuple(out), sc


def _source_coord(m, o, ax: _Axis, coord: str):
    """Float32 source coordinate of output index `o` along one axis."""
    s, size, out = ax.scale, ax.size, ax.out
    f = m.cast(o, F32)
    if coord == "asymmetric":
        return f / s
    if coord == "tf_half_pixel_for_nn":
        return (f + 0.5) / s
    if coord == "align_corners":
        return f * 0.0 if out == 1 else f * np.float32(size - 1) / np.float32(out - 1)
    if coord == "pytorch_half_pixel":
        return f * 0.0 if out <= 1 else (f + 0.5) / s - 0.5
    if coord == "half_pixel_symmetric":   # onnxruntime mixes float and double here; so do we
        adjustment = np.float32(out) / (s * np.float32(size))
        offset = np.float32(size) / np.float32(2) * (np.float32(1) - adjustment)
        return m.cast(float(offset) + (m.cast(o, F64) + 0.5) / float(s) - 0.5, F32)
    return (f + 0.5) / s - 0.5   # half_pixel


def _nearest_index(m, x, ax: _Axis, nearest: str):
    fl = m.floor(x)
    if nearest == "simple":     # Resize-10 / Upsample: ceil when shrinking, else truncate
        r = m.ceil(x) if ax.scale < 1 else x
    elif nearest == "floor":
        r = fl
    elif nearest == "ceil":
        r = m.ceil(x)
    else:   # x - floor(x) is exact in float32; ties go down (prefer_floor) or up (prefer_ceil)
        up = (x - fl > 0.5) if nearest == "round_prefer_floor" else (x - fl >= 0.5)
        r = m.select(up, fl + 1.0, fl)
    return m.clamp(m.cast(r, INDEX), 0, ax.size - 1)


def _linear_taps(m, x, ax: _Axis):
    """The two source indices and the weight of the second one."""
    xc = m.clamp(x, 0.0, float(ax.size - 1))
    i1 = m.min(m.cast(xc, INDEX), ax.size - 1)
    i2 = m.min(i1 + 1, ax.size - 1)
    return i1, i2, xc - m.cast(i1, F32)


def _cubic_taps(m, x, ax: _Axis, a: float, exclude_outside: bool):
    """The four taps floor(x)-1 .. floor(x)+2 (clamped to the axis) and Keys'
    cubic weights with coefficient `a`; with `exclude_outside`, taps outside
    the axis weigh 0 and the others are renormalized (as onnxruntime)."""
    fl = m.floor(x)
    s = x - fl
    i0 = m.cast(fl, INDEX)
    t = [s + 1.0, s, 1.0 - s, 2.0 - s]
    w = [((a * t[0] - 5 * a) * t[0] + 8 * a) * t[0] - 4 * a,
         ((a + 2) * t[1] - (a + 3)) * t[1] * t[1] + 1.0,
         ((a + 2) * t[2] - (a + 3)) * t[2] * t[2] + 1.0,
         ((a * t[3] - 5 * a) * t[3] + 8 * a) * t[3] - 4 * a]
    idx = [i0 + (j - 1) for j in range(4)]
    if exclude_outside:
        w = [m.select((i >= 0) & (i < ax.size), wj, wj * 0.0) for i, wj in zip(idx, w)]
        total = w[0] + w[1] + w[2] + w[3]
        w = [wj / total for wj in w]
    return [(m.clamp(i, 0, ax.size - 1), wj) for i, wj in zip(idx, w)]


def _resize_args(x_shape, scales, sizes, axes, policy):
    scales = None if scales is None or np.size(scales) == 0 else [float(s) for s in np.reshape(scales, -1)]
    sizes = None if sizes is None or np.size(sizes) == 0 else [int(s) for s in np.reshape(sizes, -1)]
    if scales is None and sizes is None:
        raise ShapeError("resize needs scales or sizes")
    out, sc = resize_plan(x_shape, scales, sizes, axes, policy)
    if tuple(out) == tuple(x_shape):   # as onnxruntime: a resize to the same shape is a copy
        sc = [np.float32(1)] * len(sc)
    return [_Axis(int(d), int(o), s) for d, o, s in zip(x_shape, out, sc)]


def _resize_infer(ins, mode="nearest", coord="half_pixel", nearest="round_prefer_floor", axes=None,
                  policy="stretch", cubic_a=-0.75, exclude_outside=0):
    x = ins[0]
    scales = ins[1] if len(ins) > 1 else None
    sizes = ins[2] if len(ins) > 2 else None
    for name, v, choices in (("mode", mode, RESIZE_MODES), ("coord", coord, COORD_MODES),
                             ("nearest", nearest, NEAREST_MODES), ("policy", policy, ASPECT_POLICIES)):
        if v not in choices:
            raise ShapeError(f"resize {name} {v!r} is not one of {', '.join(choices)}")
    if mode in ("linear", "cubic"):
        _check_float(f"resize ({mode})", x)
    if x.rank == 0:
        raise ShapeError("resize needs an input of rank >= 1")
    if axes is not None and (sorted(set(axes)) != sorted(axes) or any(not 0 <= a < x.rank for a in axes)):
        raise ShapeError(f"resize axes {list(axes)} must be distinct and normalized for rank {x.rank}")
    given = [v for v in (scales, sizes) if v is not None]
    if len(given) != 1:
        raise ShapeError("resize takes exactly one of scales and sizes")
    v = given[0]
    what, kinds = ("scales", "f") if scales is not None else ("sizes", "iu")
    if v.rank != 1 or v.dtype.kind not in kinds:
        raise ShapeError(f"resize {what} must be a 1-D {'float' if kinds == 'f' else 'integer'} tensor, "
                         f"got {v.dtype.name}{list(v.shape)}")
    if v.const is None:   # computed at run time: known once folded at specialization
        return x.dtype, tuple(unknown_dim() if axes is None or a in axes else d for a, d in enumerate(x.shape))
    out, _ = resize_plan(x.shape, None if sizes is not None else [float(s) for s in v.const.reshape(-1)],
                         None if sizes is None else [int(s) for s in v.const.reshape(-1)], axes, policy)
    return x.dtype, out


def _resize_ref(x, scales=None, sizes=None, *, mode="nearest", coord="half_pixel", nearest="round_prefer_floor",
                axes=None, policy="stretch", cubic_a=-0.75, exclude_outside=0):
    m = _NumpyMath
    plan = _resize_args(x.shape, scales, sizes, axes, policy)
    taps = []   # per axis: [(indices, weights or None)]
    for ax in plan:
        o = np.arange(ax.out)
        if ax.identity:
            taps.append([(o, None)])
        elif mode == "nearest":
            idx = _nearest_index(m, _source_coord(m, o, ax, coord), ax, nearest)
            taps.append([(np.broadcast_to(idx, o.shape), None)])
        elif mode == "cubic":
            taps.append([(np.broadcast_to(i, o.shape), np.broadcast_to(w, o.shape)) for i, w in
                         _cubic_taps(m, _source_coord(m, o, ax, coord), ax, cubic_a, bool(exclude_outside))])
        else:
            i1, i2, lam = _linear_taps(m, _source_coord(m, o, ax, coord), ax)
            taps.append([(np.broadcast_to(i1, o.shape), 1 - lam), (np.broadcast_to(i2, o.shape), lam)])
    y = np.zeros([ax.out for ax in plan], x.dtype)
    for combo in itertools.product(*taps):
        w = np.ones([1] * x.ndim, F32)
        for d, (_, wd) in enumerate(combo):
            if wd is not None:
                w = w * np.broadcast_to(wd, (plan[d].out,)).reshape([-1 if e == d else 1 for e in range(x.ndim)])
        v = x[np.ix_(*[i for i, _ in combo])]
        y = y + (v if mode == "nearest" else w.astype(x.dtype) * v)
    return y


def _resize_lower(k, ins, outs, mode="nearest", coord="half_pixel", nearest="round_prefer_floor", axes=None,
                  policy="stretch", cubic_a=-0.75, exclude_outside=0):
    x, y = ins[0], outs[0]
    scales = ins[1].const if len(ins) > 1 and ins[1] is not None else None
    sizes = ins[2].const if len(ins) > 2 and ins[2] is not None else None
    plan = _resize_args(x.shape, scales, sizes, axes, policy)
    with ExitStack() as stack:
        idx, taps = [], []
        for d, ax in enumerate(plan):
            # an axis's source index and weight depend only on its own output index:
            # computed once per iteration of its loop
            par = ax.out > 1 and all(a.out == 1 for a in plan[:d])   # the outermost loop that iterates
            o = stack.enter_context(k.loop(ax.out, f"i{d}", parallel=par))
            idx.append(o)
            if ax.identity:
                taps.append([(o, None)])
            elif mode == "nearest":
                taps.append([(k.local(_nearest_index(k, _source_coord(k, o, ax, coord), ax, nearest), f"src{d}"),
                              None)])
            elif mode == "cubic":
                taps.append([(k.local(i, f"i{d}_{j}"), k.local(w, f"w{d}_{j}")) for j, (i, w) in enumerate(
                    _cubic_taps(k, _source_coord(k, o, ax, coord), ax, cubic_a, bool(exclude_outside)))])
            else:
                i1, i2, lam = _linear_taps(k, _source_coord(k, o, ax, coord), ax)
                i1, i2, lam = k.local(i1, f"lo{d}"), k.local(i2, f"hi{d}"), k.local(lam, f"w{d}")
                taps.append([(i1, 1.0 - lam), (i2, lam)])
        if mode == "nearest":
            k.store(y, idx, k.load(x, [t[0][0] for t in taps]))
            return
        acc = None
        for combo in itertools.product(*taps):
            w = None
            for _, wd in combo:
                if wd is not None:
                    w = wd if w is None else w * wd
            term = k.load(x, [i for i, _ in combo])
            term = term if w is None else k.cast(w, x.dtype) * term
            acc = term if acc is None else acc + term
        k.store(y, idx, acc)


register(OpDef("resize", OPAQUE, _resize_infer, _resize_ref, lower=_resize_lower, static_inputs=(1, 2),
               doc="nearest / linear / cubic resize of any axes; inputs x, scales (float32) or sizes (int64)"))


# -------------------------------------------- resize as per-axis matrices
def _aa_linear(ratio, scale):
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    args = (np.arange(start, start + 2 - 2 * start) - ratio) * scale
    c = np.clip(1 - np.abs(args), 0, 1)
    return c / c.sum()


def _aa_cubic(ratio, scale, a):
    scale = min(scale, 1.0)

    def coeff(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        if x < 2:
            return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
        return 0.0
    start = int(np.floor(-2 / scale) + 1)
    c = np.array([coeff(scale * (i - ratio)) for i in range(start, 2 - start)])
    return c / c.sum()


def _plain_coeffs(ratio, mode, a):
    if mode == "linear":
        return np.array([1 - ratio, ratio])
    r = ratio
    return np.array([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                     ((a + 2) * r - (a + 3)) * r * r + 1,
                     ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                     ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a])


def resize_matrix(size: int, out: int, scale: float, mode: str, coord: str, roi=(0.0, 1.0), antialias=False,
                  cubic_a=-0.75, exclude_outside=False):
    """One axis of a linear or cubic resize as a matrix W [out, size] and the
    rows that take the extrapolation value instead (tf_crop_and_resize
    outside the input): the ONNX reference's arithmetic, in float64, with
    edge padding. Antialiasing widens the filter by 1/scale when shrinking."""
    w = np.zeros((out, size))
    extrapolate = np.zeros(out, bool)
    for x in range(out):
        if coord == "align_corners":
            xo = 0.0 if out == 1 else x * (size - 1) / (out - 1)
        elif coord == "asymmetric":
            xo = x / scale
        elif coord == "tf_crop_and_resize":
            xo = (roi[1] - roi[0]) * (size - 1) / 2 if out == 1 else x * (roi[1] - roi[0]) * (size - 1) / (out - 1)
            xo += roi[0] * (size - 1)
            if xo < 0 or xo > size - 1:
                extrapolate[x] = True
                continue
        elif coord == "pytorch_half_pixel":
            xo = -0.5 if out == 1 else (x + 0.5) / scale - 0.5
        elif coord == "half_pixel_symmetric":
            offset = size / 2 * (1 - out / (scale * size))
            xo = offset + (x + 0.5) / scale - 0.5
        else:
            xo = (x + 0.5) / scale - 0.5
        base = int(np.floor(xo))
        ratio = 1.0 if float(xo).is_integer() else xo - base
        if antialias:
            c = _aa_linear(ratio, scale) if mode == "linear" else _aa_cubic(ratio, scale, cubic_a)
        else:
            c = _plain_coeffs(ratio, mode, cubic_a)
        # the len(c) nearest indices to xo in the edge-padded axis, ties to the lower (the reference's)
        k = len(c)
        pad = -(-k // 2)
        xp = xo + pad
        near = sorted(sorted(range(size + 2 * pad), key=lambda i: (abs(xp - i), i))[:k])
        idx = np.array(near) - pad
        if exclude_outside:
            c = np.where((idx < 0) | (idx >= size), 0.0, c)
            c = c / c.sum()
        for i, ci in zip(np.clip(idx, 0, size - 1), c):
            w[x, i] += ci
    return w, extrapolate
