"""Shape and data-movement ops: views (reshape, flatten, squeeze,
unsqueeze), index remaps (transpose, expand, ...) and shape queries
(shape, size), which constant folding resolves once shapes are known."""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import ShapeError
from ..shapes import axes as norm_axes
from ..shapes import axis as norm_axis
from ..shapes import broadcast, mul_dims, unknown_dim
from .base import INJECTIVE, OPAQUE, VIEW, OpDef, register


# ------------------------------------------------------------------ views
def reshape_target(in_shape, target, allowzero=0):
    """ONNX Reshape: 0 copies the input dim (unless allowzero), -1 is inferred."""
    out = []
    for i, t in enumerate(int(t) for t in target):
        if t == 0 and not allowzero:
            if i >= len(in_shape):
                raise ShapeError(f"reshape target {list(target)} copies dim {i}, but the input has {len(in_shape)}")
            out.append(in_shape[i])
        elif t < -1:
            raise ShapeError(f"invalid reshape target {list(target)}")
        else:
            out.append(t)
    if out.count(-1) > 1:
        raise ShapeError(f"reshape target {list(target)} has more than one -1")
    if -1 in out:
        i = out.index(-1)
        rest = out[:i] + out[i + 1:]
        # cancel symbolic dims present on both sides, then divide what is left
        sym_in = Counter(d for d in in_shape if isinstance(d, str))
        sym_out = Counter(d for d in rest if isinstance(d, str))
        if sym_out - sym_in or sym_in - sym_out:
            out[i] = unknown_dim()
        else:
            num = int(np.prod([d for d in in_shape if isinstance(d, int)], dtype=np.int64))
            den = int(np.prod([d for d in rest if isinstance(d, int)], dtype=np.int64))
            if den == 0 or num % den:
                raise ShapeError(f"cannot reshape {list(in_shape)} to {list(target)}")
            out[i] = num // den
    elif all(isinstance(d, int) for d in list(in_shape) + out) and \
            np.prod(in_shape, dtype=np.int64) != np.prod(out, dtype=np.int64):
        raise ShapeError(f"cannot reshape {list(in_shape)} ({int(np.prod(in_shape))} elements) "
                         f"to {list(target)}")
    return tuple(out)


def _reshape_infer(ins, allowzero=0):
    x, shape = ins
    if shape.rank != 1 or not isinstance(shape.shape[0], int):
        raise ShapeError("reshape target must be a 1-D tensor of known length")
    if shape.const is None:
        return x.dtype, tuple(unknown_dim() for _ in range(shape.shape[0]))
    return x.dtype, reshape_target(x.shape, shape.const, allowzero)


def _reshape_ref(x, shape, allowzero=0):
    return x.reshape(reshape_target(x.shape, shape, allowzero))


def _flatten_infer(ins, axis=1):
    x = ins[0]
    a = norm_axis(axis, x.rank + 1)
    return x.dtype, (mul_dims(x.shape[:a]), mul_dims(x.shape[a:]))


def _flatten_ref(x, axis=1):
    a = axis % (x.ndim + 1) if x.ndim else 0
    return x.reshape(int(np.prod(x.shape[:a], dtype=np.int64)), -1) if x.size else \
        x.reshape(int(np.prod(x.shape[:a], dtype=np.int64)), int(np.prod(x.shape[a:], dtype=np.int64)))


def squeeze_axes(shape, axes):
    if axes is None:
        return tuple(i for i, d in enumerate(shape) if d == 1)
    ax = norm_axes(axes, len(shape))
    for a in ax:
        if isinstance(shape[a], int) and shape[a] != 1:
            raise ShapeError(f"cannot squeeze axis {a} of size {shape[a]}")
    return ax


def _squeeze_infer(ins, axes=None):
    x = ins[0]
    ax = squeeze_axes(x.shape, axes)
    return x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in ax)


def unsqueeze_shape(shape, axes):
    rank = len(shape) + len(axes)
    ax = norm_axes(axes, rank)
    it = iter(shape)
    return tuple(1 if i in ax else next(it) for i in range(rank))


register(
    OpDef("reshape", VIEW, _reshape_infer, _reshape_ref, static_inputs=(1,)),
    OpDef("flatten", VIEW, _flatten_infer, _flatten_ref),
    OpDef("squeeze", VIEW, _squeeze_infer,
          lambda x, axes=None: x.reshape([d for i, d in enumerate(x.shape) if i not in squeeze_axes(x.shape, axes)])),
    OpDef("unsqueeze", VIEW, lambda ins, axes: (ins[0].dtype, unsqueeze_shape(ins[0].shape, axes)),
          lambda x, axes: x.reshape(unsqueeze_shape(x.shape, axes))),
)


# -------------------------------------------------------------- transpose
def _perm(rank, perm):
    p = tuple(range(rank))[::-1] if perm is None else tuple(int(a) for a in perm)
    if sorted(p) != list(range(rank)):
        raise ShapeError(f"perm {list(p)} is not a permutation of {rank} axes")
    return p


def _transpose_lower(k, ins, outs, perm=None):
    x, out = ins[0], outs[0]
    p = _perm(x.rank, perm)
    with k.loops(out.shape) as idx:
        src = [None] * x.rank
        for j, a in enumerate(p):
            src[a] = idx[j]
        k.store(out, idx, k.load(x, src))


register(OpDef(
    "transpose", INJECTIVE,
    lambda ins, perm=None: (ins[0].dtype, tuple(ins[0].shape[a] for a in _perm(ins[0].rank, perm))),
    lambda x, perm=None: np.ascontiguousarray(np.transpose(x, _perm(x.ndim, perm))),
    lower=_transpose_lower))


# ----------------------------------------------------------------- expand
def _expand_infer(ins):
    x, shape = ins
    if shape.rank != 1 or not isinstance(shape.shape[0], int):
        raise ShapeError("expand shape must be a 1-D tensor of known length")
    if shape.const is None:
        target = tuple(unknown_dim() for _ in range(shape.shape[0]))
        rank = max(x.rank, len(target))
        return x.dtype, tuple(unknown_dim() for _ in range(rank))
    return x.dtype, broadcast(x.shape, tuple(int(d) for d in shape.const))


def _expand_lower(k, ins, outs):
    x, out = ins[0], outs[0]
    with k.loops(out.shape) as idx:
        k.store(out, idx, k.load_broadcast(x, idx))


register(OpDef("expand", INJECTIVE, _expand_infer,
               lambda x, shape: np.broadcast_to(x, broadcast(x.shape, tuple(int(d) for d in shape))).copy(),
               lower=_expand_lower, static_inputs=(1,)))


# ---------------------------------------------------------- shape queries
def _shape_slice(rank, start, end):
    return slice(*slice(start, end).indices(rank)[:2])


def _shape_infer(ins, start=0, end=None):
    s = _shape_slice(ins[0].rank, start, end)
    return np.dtype("int64"), (len(range(ins[0].rank)[s]),)


def _shape_fold(ins, start=0, end=None):
    x = ins[0]
    dims = x.shape[_shape_slice(x.rank, start, end)]
    return np.array(dims, np.int64) if all(isinstance(d, int) for d in dims) else None


def _const_lower(fold):
    """Lowering for ops folding always resolves; used only when folding is off."""
    def lower(k, ins, outs, **attrs):
        value = fold(ins, **attrs)   # Buffers have .shape and .rank, like Values
        out = outs[0]
        flat = np.asarray(value).reshape(-1)
        for i, v in enumerate(flat):
            k.store(out, np.unravel_index(i, out.shape) if out.shape else (), k.const(v, out.dtype))
    return lower


register(
    OpDef("shape", OPAQUE, _shape_infer,
          lambda x, start=0, end=None: np.array(x.shape[_shape_slice(x.ndim, start, end)], np.int64),
          fold=_shape_fold, lower=_const_lower(_shape_fold)),
    OpDef("size", OPAQUE, lambda ins: (np.dtype("int64"), ()),
          lambda x: np.array(x.size, np.int64),
          fold=lambda ins: np.array(int(np.prod(ins[0].shape)), np.int64) if all(
              isinstance(d, int) for d in ins[0].shape) else None,
          lower=_const_lower(lambda ins: np.array(int(np.prod(ins[0].shape)), np.int64))),
)
