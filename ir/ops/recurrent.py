"""Recurrent layers: ``rnn``, ``gru`` and ``lstm`` with ONNX semantics:
forward, reverse and bidirectional; any activation functions; cell clip;
per-batch sequence lengths; peepholes; GRU's linear_before_reset; LSTM's
input_forget; and both layouts.

Inputs: x, w, r, b, sequence_lens, initial_h (and initial_c, p for lstm),
each None when absent. Outputs: y [seq, dirs, batch, hidden] (layout 0) or
[batch, seq, dirs, hidden] (layout 1), y_h (and y_c for lstm) [dirs, batch,
hidden] or [batch, dirs, hidden]. Steps past a batch entry's length give
zeros in y; y_h holds the state after its last step.

One kernel runs the whole layer: the time loop is in kernel IR, over a
state kept in scratch memory; each step computes every gate's
pre-activation as dot products over the input and the previous state.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from .base import OPAQUE, OpDef, register

INDEX = np.dtype("int64")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
# activation -> (uses alpha, uses beta, default alpha, default beta)
ACTIVATIONS = {
    "relu": (False, False, 0, 0), "tanh": (False, False, 0, 0), "sigmoid": (False, False, 0, 0),
    "affine": (True, True, 1.0, 0.0), "leakyrelu": (True, False, 0.01, 0), "thresholdedrelu": (True, False, 1.0, 0),
    "scaledtanh": (True, True, 1.0, 1.0), "hardsigmoid": (True, True, 0.2, 0.5), "elu": (True, False, 1.0, 0),
    "softsign": (False, False, 0, 0), "softplus": (False, False, 0, 0),
}
DEFAULT_ACTIVATIONS = {"rnn": ("tanh",), "gru": ("sigmoid", "tanh"), "lstm": ("sigmoid", "tanh", "tanh")}


def resolve_activations(kind: str, names, alphas, betas, num_dirs: int):
    """((name, alpha, beta), ...) per function per direction, consuming
    alphas and betas in order by the functions that use them."""
    per_dir = len(DEFAULT_ACTIVATIONS[kind])
    names = [n.lower() for n in names] if names else list(DEFAULT_ACTIVATIONS[kind]) * num_dirs
    if len(names) == per_dir and num_dirs == 2:
        names = names * 2
    if len(names) != per_dir * num_dirs:
        raise ShapeError(f"{kind}: {len(names)} activations given, expected {per_dir * num_dirs}")
    alphas, betas = list(alphas or []), list(betas or [])
    out = []
    for nm in names:
        if nm not in ACTIVATIONS:
            raise ShapeError(f"{kind}: unknown activation {nm!r}")
        ua, ub, da, db = ACTIVATIONS[nm]
        a = alphas.pop(0) if ua and alphas else da
        b = betas.pop(0) if ub and betas else db
        out.append((nm, float(a), float(b)))
    return tuple(out)


class _Np:
    exp, tanh, abs, log1p = staticmethod(np.exp), staticmethod(np.tanh), staticmethod(np.abs), staticmethod(np.log1p)
    max, min, select = staticmethod(np.maximum), staticmethod(np.minimum), staticmethod(np.where)
    expm1 = staticmethod(np.expm1)

    @staticmethod
    def clamp(x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    @staticmethod
    def zero(dt):
        return np.zeros((), dt)


def activate(m, fn, x, zero):
    """Activation `fn` = (name, alpha, beta) of x, numpy or kernel IR."""
    name, a, b = fn
    if name == "relu":
        return m.max(x, zero)
    if name == "tanh":
        return m.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + m.exp(-x))
    if name == "affine":
        return a * x + b
    if name == "leakyrelu":
        return m.select(x < 0.0, a * x, x)
    if name == "thresholdedrelu":
        return m.select(x > a, x, zero)
    if name == "scaledtanh":
        return a * m.tanh(b * x)
    if name == "hardsigmoid":
        return m.clamp(a * x + b, 0.0, 1.0)
    if name == "elu":
        return m.select(x < 0.0, a * m.expm1(x), x)
    if name == "softsign":
        return x / (1.0 + m.abs(x))
    if name == "softplus":   # log(1 + e^x) without overflow
        return m.max(x, zero) + m.log1p(m.exp(-m.abs(x)))
    raise ValueError(name)


# -------------------------------------------------------------- type rule
def _infer(kind):
    def infer(ins, hidden_size, direction="forward", activations=None, clip=None, layout=0,
              linear_before_reset=0, input_forget=0):
        x, w, r = ins[0], ins[1], ins[2]
        if dtypes.kind(x.dtype) != "f" or w.dtype != x.dtype or r.dtype != x.dtype:
            raise ShapeError(f"{kind}: X, W and R must be one float type, got {x.dtype.name}, {w.dtype.name}, "
                             f"{r.dtype.name}")
        if x.rank != 3 or w.rank != 3 or r.rank != 3:
            raise ShapeError(f"{kind}: X, W, R must be 3-D, got {list(x.shape)}, {list(w.shape)}, {list(r.shape)}")
        dirs = 2 if direction == "bidirectional" else 1
        g = GATES[kind]
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ShapeError(f"{kind}: unknown direction {direction!r}")
        for nm, v, shape in (("W", w, (dirs, g * hidden_size, x.shape[2])),
                             ("R", r, (dirs, g * hidden_size, hidden_size))):
            if any(isinstance(a, int) and a != e for a, e in zip(v.shape, shape)):
                raise ShapeError(f"{kind}: {nm} has shape {list(v.shape)}, expected {list(shape)}")
        seq, batch = (x.shape[0], x.shape[1]) if not layout else (x.shape[1], x.shape[0])
        y = (seq, dirs, batch, hidden_size) if not layout else (batch, seq, dirs, hidden_size)
        yh = (dirs, batch, hidden_size) if not layout else (batch, dirs, hidden_size)
        outs = [(x.dtype, y), (x.dtype, yh)]
        return outs + [(x.dtype, yh)] if kind == "lstm" else outs
    return infer


# ------------------------------------------------------- numpy reference
def _ref(kind):
    def ref(x, w, r, b=None, seq_lens=None, h0=None, c0=None, p=None, *, hidden_size, direction="forward",
            activations=None, clip=None, layout=0, linear_before_reset=0, input_forget=0):
        dt = x.dtype
        if layout:
            x = np.swapaxes(x, 0, 1)
            h0 = None if h0 is None else np.swapaxes(h0, 0, 1)
            c0 = None if c0 is None else np.swapaxes(c0, 0, 1)
        seq, batch, _ = x.shape
        hs, g = hidden_size, GATES[kind]
        dirs = 2 if direction == "bidirectional" else 1
        fns = activations or resolve_activations(kind, None, None, None, dirs)
        per = len(DEFAULT_ACTIVATIONS[kind])
        lens = np.full(batch, seq, np.int64) if seq_lens is None else seq_lens.astype(np.int64)
        y = np.zeros((seq, dirs, batch, hs), dt)
        yh = np.zeros((dirs, batch, hs), dt)
        yc = np.zeros((dirs, batch, hs), dt)
        zero = np.zeros((), dt)
        for d in range(dirs):
            reverse = direction == "reverse" or d == 1
            f = fns[d * per:(d + 1) * per]
            wb, rb = (np.zeros(g * hs, dt), np.zeros(g * hs, dt)) if b is None else (b[d, :g * hs], b[d, g * hs:])
            for bi in range(batch):
                h = np.zeros(hs, dt) if h0 is None else h0[d, bi].copy()
                c = np.zeros(hs, dt) if c0 is None else c0[d, bi].copy()
                n = int(lens[bi])
                for s in range(n):
                    t = n - 1 - s if reverse else s
                    xw = w[d] @ x[t, bi] + wb
                    hr = r[d] @ h + rb
                    pre = xw + hr
                    clipped = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)
                    if kind == "rnn":
                        h = activate(_Np, f[0], clipped(pre), zero)
                    elif kind == "gru":
                        z = activate(_Np, f[0], clipped(pre[:hs]), zero)
                        rr = activate(_Np, f[0], clipped(pre[hs:2 * hs]), zero)
                        if linear_before_reset:
                            hh = xw[2 * hs:] + rr * hr[2 * hs:]
                        else:
                            hh = xw[2 * hs:] + r[d, 2 * hs:] @ (rr * h) + rb[2 * hs:]
                        hh = activate(_Np, f[1], clipped(hh), zero)
                        h = (1 - z) * hh + z * h
                    else:
                        pi, po, pf = (np.zeros(hs, dt),) * 3 if p is None else (p[d, :hs], p[d, hs:2 * hs],
                                                                             p[d, 2 * hs:])
                        i = activate(_Np, f[0], clipped(pre[:hs] + pi * c), zero)
                        fg = 1 - i if input_forget else activate(_Np, f[0], clipped(pre[2 * hs:3 * hs] + pf * c), zero)
                        cc = activate(_Np, f[1], clipped(pre[3 * hs:]), zero)
                        c = fg * c + i * cc
                        o = activate(_Np, f[0], clipped(pre[hs:2 * hs] + po * c), zero)
                        h = o * activate(_Np, f[2], c, zero)
                    y[t, d, bi] = h
                yh[d, bi], yc[d, bi] = h, c
        if layout:
            y, yh, yc = np.transpose(y, (2, 0, 1, 3)), np.swapaxes(yh, 0, 1), np.swapaxes(yc, 0, 1)
        return (y, yh, yc) if kind == "lstm" else (y, yh)
    return ref


# ---------------------------------------------------------------- kernel
def _lower(kind):
    def lower(k, ins, outs, hidden_size, direction="forward", activations=None, clip=None, layout=0,
              linear_before_reset=0, input_forget=0):
        x, w, r = ins[0], ins[1], ins[2]
        get = (lambda i: ins[i] if len(ins) > i else None)
        b, lens, h0, c0, p = get(3), get(4), get(5), get(6), get(7)
        y, yh = outs[0], outs[1]
        yc = outs[2] if kind == "lstm" else None
        hs, g = hidden_size, GATES[kind]
        seq, batch = (x.shape[0], x.shape[1]) if not layout else (x.shape[1], x.shape[0])
        n_in = x.shape[2]
        dirs = 2 if direction == "bidirectional" else 1
        per = len(DEFAULT_ACTIVATIONS[kind])
        fns = activations or resolve_activations(kind, None, None, None, dirs)
        ct = dtypes.compute(x.dtype)
        zero = k.zero(ct)
        h = k.scratch(ct, [batch, hs], "h")
        c = k.scratch(ct, [batch, hs], "c") if kind == "lstm" else None
        pre = k.scratch(ct, [batch, g * hs], "gates")      # xW + hR (+ biases) of one step
        xw_h = k.scratch(ct, [batch, hs], "xw_h") if kind == "gru" else None

        def xi(t, bi, j):      # X[t, b, j] in either layout
            return k.load(x, [t, bi, j] if not layout else [bi, t, j])

        def state_at(buf, d, bi, j):
            return k.load(buf, [d, bi, j] if not layout else [bi, d, j])

        def clipped(v):
            return k.clamp(v, -clip, clip) if clip is not None else v

        def bias(d, row):
            """Wb + Rb of a gate row (GRU's candidate rows: Wb only; their Rb goes with h.R)."""
            if b is None:
                return zero
            rb = k.cast(k.load(b, [d, g * hs + row]), ct)
            if kind == "gru":
                rb = k.select(row < 2 * hs, rb, zero)
            return k.cast(k.load(b, [d, row]), ct) + rb

        if seq == 0 or batch == 0:
            return
        for d in range(dirs):
            reverse = direction == "reverse" or d == 1
            f = fns[d * per:(d + 1) * per]
            with k.loop(batch, "b") as bi:          # the initial state
                with k.loop(hs, "j") as j:
                    k.store(h, [bi, j], k.cast(state_at(h0, d, bi, j), ct) if h0 is not None else zero)
                    if c is not None:
                        k.store(c, [bi, j], k.cast(state_at(c0, d, bi, j), ct) if c0 is not None else zero)
            with k.loop(seq, "s") as s:
                with k.loop(batch, "b") as bi:
                    n = k.local(k.cast(k.load(lens, [bi]), INDEX) if lens is not None else k.const(seq, INDEX), "len")
                    yat = (lambda t, j: [t, d, bi, j] if not layout else [bi, t, d, j])
                    with k.if_(s < n):
                        t = k.local((n - 1) - s if reverse else s, "t")
                        # pre-activations of every gate row: x.W + h.R + biases
                        with k.loop(g * hs, "row") as row:
                            acc = k.local(bias(d, row), "acc")
                            with k.loop(n_in, "kx") as kx:
                                k.accumulate(acc, k.cast(xi(t, bi, kx), ct) * k.cast(k.load(w, [d, row, kx]), ct))
                            if kind == "gru":    # the candidate gate's x part is kept apart
                                with k.if_(row >= 2 * hs):
                                    k.store(xw_h, [bi, row - 2 * hs], acc)
                                    k.assign(acc, zero if b is None else k.cast(k.load(b, [d, g * hs + row]), ct))
                            with k.loop(hs, "kh") as kh:
                                k.accumulate(acc, k.load(h, [bi, kh]) * k.cast(k.load(r, [d, row, kh]), ct))
                            k.store(pre, [bi, row], acc)
                        _update(k, kind, f, clipped, d, bi, h, c, pre, xw_h, r, b, p, hs, g, ct,
                                linear_before_reset, input_forget, zero)
                        with k.loop(hs, "j") as j:
                            k.store(y, yat(t, j), k.cast(k.load(h, [bi, j]), y.dtype))
                    with k.else_():     # past this entry's length: zeros
                        with k.loop(hs, "j") as j:
                            k.store(y, yat(s, j), k.zero(y.dtype))
            with k.loop(batch, "b") as bi:
                with k.loop(hs, "j") as j:
                    at = [d, bi, j] if not layout else [bi, d, j]
                    k.store(yh, at, k.cast(k.load(h, [bi, j]), yh.dtype))
                    if yc is not None:
                        k.store(yc, at, k.cast(k.load(c, [bi, j]), yc.dtype))
    return lower


def _update(k, kind, f, clipped, d, bi, h, c, pre, xw_h, r, b, p, hs, g, ct, lbr, input_forget, zero):
    """The new state of one batch entry from its gate pre-activations."""
    if kind == "rnn":
        with k.loop(hs, "j") as j:
            k.store(h, [bi, j], activate(k, f[0], clipped(k.load(pre, [bi, j])), zero))
        return
    if kind == "gru":
        # z and r first (r is needed before the candidate when linear_before_reset is 0)
        with k.loop(2 * hs, "j") as j:
            k.store(pre, [bi, j], activate(k, f[0], clipped(k.load(pre, [bi, j])), zero))
        with k.loop(hs, "j") as j:
            rj = k.load(pre, [bi, hs + j])
            if lbr:   # r * (h.Rh + Rbh), as computed with the other gates
                hh = k.load(xw_h, [bi, j]) + rj * k.load(pre, [bi, 2 * hs + j])
            else:     # (r * h).Rh + Rbh
                acc = k.local(zero if b is None else k.cast(k.load(b, [d, g * hs + 2 * hs + j]), ct), "acc_h")
                with k.loop(hs, "kh") as kh:
                    k.accumulate(acc, k.load(pre, [bi, hs + kh]) * k.load(h, [bi, kh]) *
                                 k.cast(k.load(r, [d, 2 * hs + j, kh]), ct))
                hh = k.load(xw_h, [bi, j]) + acc
            k.store(xw_h, [bi, j], activate(k, f[1], clipped(hh), zero))   # the candidate, kept until h updates
        with k.loop(hs, "j") as j:
            z = k.load(pre, [bi, j])
            k.store(h, [bi, j], (1.0 - z) * k.load(xw_h, [bi, j]) + z * k.load(h, [bi, j]))
        return
    # lstm: gates i, o, f, c
    with k.loop(hs, "j") as j:
        def peep(q):
            return k.cast(k.load(p, [d, q * hs + j]), ct) if p is not None else zero
        c_prev = k.local(k.load(c, [bi, j]), "c_prev")
        i = k.local(activate(k, f[0], clipped(k.load(pre, [bi, j]) + peep(0) * c_prev), zero), "i")
        if input_forget:
            fg = 1.0 - i
        else:
            fg = activate(k, f[0], clipped(k.load(pre, [bi, 2 * hs + j]) + peep(2) * c_prev), zero)
        cc = activate(k, f[1], clipped(k.load(pre, [bi, 3 * hs + j])), zero)
        c_new = k.local(fg * c_prev + i * cc, "c_new")
        o = activate(k, f[0], clipped(k.load(pre, [bi, hs + j]) + peep(1) * c_new), zero)
        k.store(c, [bi, j], c_new)
        k.store(h, [bi, j], o * activate(k, f[2], c_new, zero))


for _kind in GATES:
    register(OpDef(_kind, OPAQUE, _infer(_kind), _ref(_kind), lower=_lower(_kind),
                   doc=f"the ONNX {_kind.upper()} layer, the time loop in one kernel"))

