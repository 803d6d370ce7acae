"""Shape and data-movement ops: views (reshape, flatten, squeeze,
unsqueeze), index remaps (transpose, expand, ...) and shape queries
(shape, size), which constant folding resolves once shapes are known."""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import ShapeError, UnsupportedError
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


def _flatten_axis(axis, rank):
    """Flatten's axis is in [-rank, rank]; a negative one counts from rank."""
    if not -rank <= axis <= rank:
        raise ShapeError(f"flatten axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _flatten_infer(ins, axis=1):
    x = ins[0]
    a = _flatten_axis(axis, x.rank)
    return x.dtype, (mul_dims(x.shape[:a]), mul_dims(x.shape[a:]))


def _flatten_ref(x, axis=1):
    a = _flatten_axis(axis, x.ndim)
    return x.reshape(int(np.prod(x.shape[:a], dtype=np.int64)), int(np.prod(x.shape[a:], dtype=np.int64)))


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


def _view_vjp(d, ins, outs, gouts, **_):
    """A view's cotangent is the output's, seen with the input's shape."""
    return [d.reshape(gouts[0], ins[0].shape)] + [None] * (len(ins) - 1)


register(
    OpDef("reshape", VIEW, _reshape_infer, _reshape_ref, static_inputs=(1,), vjp=_view_vjp),
    OpDef("flatten", VIEW, _flatten_infer, _flatten_ref, vjp=_view_vjp),
    OpDef("squeeze", VIEW, _squeeze_infer,
          lambda x, axes=None: x.reshape([d for i, d in enumerate(x.shape) if i not in squeeze_axes(x.shape, axes)]),
          vjp=_view_vjp),
    OpDef("unsqueeze", VIEW, lambda ins, axes: (ins[0].dtype, unsqueeze_shape(ins[0].shape, axes)),
          lambda x, axes: x.reshape(unsqueeze_shape(x.shape, axes)), vjp=_view_vjp),
)


# ----------------------------------------------------------------- bitcast
def _bitcast_infer(ins, to):
    x, to = ins[0], np.dtype(to)
    if x.dtype.itemsize != to.itemsize:
        raise ShapeError(f"bitcast from {x.dtype.name} to {to.name}: the sizes differ "
                         f"({x.dtype.itemsize} and {to.itemsize} bytes)")
    return to, x.shape


register(OpDef("bitcast", VIEW, _bitcast_infer, lambda x, to: x.view(to),
               doc="the same bytes seen as another dtype of the same size (a view)"))


# -------------------------------------------------------------- transpose
def _perm(rank, perm):
    p = tuple(range(rank))[::-1] if perm is None else tuple(int(a) for a in perm)
    if sorted(p) != list(range(rank)):
        raise ShapeError(f"perm {list(p)} is not a permutation of {rank} axes")
    return p


def _transpose_index(idx, ins, perm=None):
    src = [None] * len(idx)
    for j, a in enumerate(_perm(len(idx), perm)):
        src[a] = idx[j]
    return src


def _transpose_lower(k, ins, outs, perm=None):
    x, out = ins[0], outs[0]
    with k.loops(out.shape) as idx:
        k.store(out, idx, k.load(x, _transpose_index(idx, ins, perm)))


register(OpDef(
    "transpose", INJECTIVE,
    lambda ins, perm=None: (ins[0].dtype, tuple(ins[0].shape[a] for a in _perm(ins[0].rank, perm))),
    lambda x, perm=None: np.transpose(x, _perm(x.ndim, perm)).copy(),
    lower=_transpose_lower, index=_transpose_index,
    vjp=lambda d, ins, outs, gouts, perm=None: [d.transpose(gouts[0], np.argsort(_perm(ins[0].rank, perm)))]))


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


def _expand_index(idx, ins):
    x = ins[0]
    lead = len(idx) - x.rank
    return [0 if d == 1 else idx[lead + i] for i, d in enumerate(x.shape)]


def _expand_lower(k, ins, outs):
    x, out = ins[0], outs[0]
    with k.loops(out.shape) as idx:
        k.store(out, idx, k.load(x, _expand_index(idx, ins)))


register(OpDef("expand", INJECTIVE, _expand_infer,
               lambda x, shape: np.broadcast_to(x, broadcast(x.shape, tuple(int(d) for d in shape))).copy(),
               lower=_expand_lower, static_inputs=(1,), index=_expand_index,
               vjp=lambda d, ins, outs, gouts: [gouts[0], None]))   # the driver sums it back to x


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


# ------------------------------------------------------------------ concat
def _concat_infer(ins, axis):
    if not ins or any(x is None for x in ins):
        raise ShapeError("concat needs at least one input, and none may be missing")
    first = ins[0]
    a = norm_axis(axis, first.rank)
    out = list(first.shape)
    for x in ins[1:]:
        if x.dtype != first.dtype:
            raise ShapeError(f"concat: input dtypes differ ({first.dtype.name} vs {x.dtype.name})")
        if x.rank != first.rank:
            raise ShapeError(f"concat: inputs have {first.rank} and {x.rank} dims")
        for d, (o, s) in enumerate(zip(out, x.shape)):
            if d == a:
                out[d] = o + s if isinstance(o, int) and isinstance(s, int) else unknown_dim()
            elif isinstance(o, int) and isinstance(s, int) and o != s:
                raise ShapeError(f"concat on axis {a}: shapes {list(first.shape)} and {list(x.shape)} "
                                 f"differ on axis {d}")
            elif isinstance(o, str) and isinstance(s, int):
                out[d] = s
    return first.dtype, tuple(out)


def _concat_lower(k, ins, outs, axis):
    out = outs[0]
    a = norm_axis(axis, out.rank)
    offset = 0
    for x in ins:
        if x.numel:
            with k.loops(x.shape) as idx:
                dst = list(idx)
                dst[a] = idx[a] + offset
                k.store(out, dst, k.load(x, idx))
        offset += x.shape[a]


def _concat_vjp(d, ins, outs, gouts, axis):
    a = norm_axis(axis, outs[0].rank)
    sizes = tuple(x.shape[a] for x in ins)
    if len(ins) == 1:
        return [gouts[0]]
    parts = d.split(gouts[0], axis=a, split=sizes, num_outputs=len(ins), uneven=True)
    return list(parts)


register(OpDef("concat", INJECTIVE, _concat_infer,
               lambda *xs, axis: np.concatenate(xs, axis=axis), lower=_concat_lower, vjp=_concat_vjp))


# ------------------------------------------------------------------- split
def split_sizes(dim, split=None, num_outputs=None, uneven=True):
    """Sizes of the parts: `split` if given, else `num_outputs` parts of
    ceil(dim / n), the last one smaller (ONNX 18+) unless `uneven` is off."""
    if split is not None:
        split = [int(s) for s in split]
        if any(s < 0 for s in split) or (isinstance(dim, int) and sum(split) != dim):
            raise ShapeError(f"split sizes {split} do not add up to the axis size {dim}")
        return split
    n = int(num_outputs)
    if not isinstance(dim, int):
        return [unknown_dim() for _ in range(n)]
    if not uneven and dim % n:
        raise ShapeError(f"cannot split an axis of size {dim} into {n} equal parts")
    chunk = -(-dim // n)
    last = dim - chunk * (n - 1)
    if last < 0:
        raise ShapeError(f"cannot split an axis of size {dim} into {n} parts")
    return [chunk] * (n - 1) + [last]


def _split_infer(ins, axis, split=None, num_outputs=None, uneven=True):
    x = ins[0]
    a = norm_axis(axis, x.rank)
    return [(x.dtype, x.shape[:a] + (s,) + x.shape[a + 1:])
            for s in split_sizes(x.shape[a], split, num_outputs, uneven)]


def _split_ref(x, axis, split=None, num_outputs=None, uneven=True):
    sizes = split_sizes(x.shape[axis], split, num_outputs, uneven)
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _split_lower(k, ins, outs, axis, **_):
    x = ins[0]
    a = norm_axis(axis, x.rank)
    offset = 0
    for out in outs:
        if out.numel:
            with k.loops(out.shape) as idx:
                src = list(idx)
                src[a] = idx[a] + offset
                k.store(out, idx, k.load(x, src))
        offset += out.shape[a]


def _split_vjp(d, ins, outs, gouts, axis, **_):
    parts = [g if g is not None else d.zeros(y.shape, y.dtype) for g, y in zip(gouts, outs)]
    return [d.concat(*parts, axis=norm_axis(axis, ins[0].rank)) if len(parts) > 1 else parts[0]]


register(OpDef("split", OPAQUE, _split_infer, _split_ref, lower=_split_lower, vjp=_split_vjp,
               doc="several outputs: one kernel writes them all"))


# ------------------------------------------------------------------- slice
def _ints(v):
    """A static input's values as ints; None if absent."""
    return None if v is None else [int(x) for x in np.asarray(v).reshape(-1)]


def slice_ranges(shape, starts, ends, axes=None, steps=None):
    """Per axis (start, step, length) of an ONNX Slice. Starts and ends are
    clamped as ONNX says (numpy's rule, except that a negative step clamps
    the start into [0, dim-1]); INT64_MAX/INT64_MIN mean "to the end"."""
    starts, ends = _ints(starts), _ints(ends)
    axes = list(range(len(starts))) if axes is None else _ints(axes)
    steps = [1] * len(starts) if steps is None else _ints(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError(f"slice: starts, ends, axes and steps have different lengths "
                         f"({len(starts)}, {len(ends)}, {len(axes)}, {len(steps)})")
    out = [(0, 1, d) for d in shape]
    for a, s, e, st in zip(norm_axes(axes, len(shape)), starts, ends, steps):
        d = shape[a]
        if st == 0:
            raise ShapeError("slice step cannot be 0")
        if not isinstance(d, int):
            out[a] = (None, st, unknown_dim())
            continue
        s, e = s + d if s < 0 else s, e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
            n = max(0, -(-(e - s) // st))
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            n = max(0, -(-(s - e) // -st))
        out[a] = (s, st, n)
    return out


def _slice_infer(ins, **_):
    x, starts, ends, axes, steps = (list(ins) + [None] * 5)[:5]
    if any(v is not None and v.const is None for v in (starts, ends, axes, steps)):
        return x.dtype, tuple(unknown_dim() for _ in x.shape)
    ranges = slice_ranges(x.shape, starts.const, ends.const, axes and axes.const, steps and steps.const)
    return x.dtype, tuple(n for _, _, n in ranges)


def _slice_ref(x, starts, ends, axes=None, steps=None):
    ranges = slice_ranges(x.shape, starts, ends, axes, steps)
    return x[np.ix_(*[s + st * np.arange(n) for s, st, n in ranges])]


def _slice_index(idx, ins):
    x, starts, ends, axes, steps = (list(ins) + [None] * 5)[:5]
    ranges = slice_ranges(x.shape, starts.const, ends.const, axes and axes.const, steps and steps.const)
    return [s + i * st for i, (s, st, _) in zip(idx, ranges)]


def _slice_lower(k, ins, outs):
    x, out = ins[0], outs[0]
    with k.loops(out.shape) as idx:
        k.store(out, idx, k.load(x, _slice_index(idx, ins)))


def _slice_vjp(d, ins, outs, gouts):
    return [d.slice_grad(gouts[0], *ins[1:], shape=list(ins[0].shape))] + [None] * (len(ins) - 1)


register(OpDef("slice", INJECTIVE, _slice_infer, _slice_ref, lower=_slice_lower, static_inputs=(1, 2, 3, 4),
               index=_slice_index, vjp=_slice_vjp,
               doc="inputs: x, starts, ends, axes (optional), steps (optional)"))


# -------------------------------------------------------------- slice_grad
def _slice_grad_infer(ins, shape):
    g, starts, ends, axes, steps = (list(ins) + [None] * 5)[:5]
    if all(v is None or v.const is not None for v in (starts, ends, axes, steps)):
        ranges = slice_ranges(tuple(shape), starts.const, ends.const, axes and axes.const, steps and steps.const)
        want = tuple(n for _, _, n in ranges)
        if g.static and tuple(g.shape) != want:
            raise ShapeError(f"slice_grad: gradient {list(g.shape)} does not match the slice {list(want)}")
    return g.dtype, tuple(shape)


def _slice_grad_ref(g, starts, ends, axes=None, steps=None, *, shape):
    ranges = slice_ranges(tuple(shape), starts, ends, axes, steps)
    out = np.zeros(shape, g.dtype)
    out[np.ix_(*[s + st * np.arange(n) for s, st, n in ranges])] = g
    return out


def _slice_grad_lower(k, ins, outs, shape):
    g, starts, ends, axes, steps = (list(ins) + [None] * 5)[:5]
    out = outs[0]
    ranges = slice_ranges(tuple(shape), starts.const, ends.const, axes and axes.const, steps and steps.const)
    with k.loops(out.shape) as idx:
        if any(n == 0 for _, _, n in ranges):
            k.store(out, idx, k.zero(out.dtype))
            return
        src, inside = [], None
        for i, (s, st, n), d in zip(idx, ranges, shape):
            if (s, st, n) == (0, 1, d):
                src.append(i)
                continue
            j = i - s
            q = j if st == 1 else k.floordiv(j, st)
            ok = (q >= 0) & (q < n)
            if st != 1:
                ok = ok & k.eq(k.floormod(j, st), 0)
            inside = ok if inside is None else inside & ok
            src.append(k.clamp(q, 0, n - 1))
        v = k.load(g, src)
        k.store(out, idx, v if inside is None else k.select(inside, v, k.zero(out.dtype)))


register(OpDef("slice_grad", INJECTIVE, _slice_grad_infer, _slice_grad_ref, lower=_slice_grad_lower,
               static_inputs=(1, 2, 3, 4),
               doc="the gradient of slice: g placed into zeros of `shape`; inputs g, starts, ends, axes, steps"))


# ------------------------------------------------------------------ gather
def _gather_infer(ins, axis=0):
    data, indices = ins
    if indices.dtype not in (np.dtype("int32"), np.dtype("int64")):
        raise ShapeError(f"gather indices must be int32 or int64, got {indices.dtype.name}")
    a = norm_axis(axis, data.rank)
    return data.dtype, data.shape[:a] + indices.shape + data.shape[a + 1:]


def _gather_ref(data, indices, axis=0):
    return np.take(data, indices, axis=axis)   # IndexError when out of range


def _gather_lower(k, ins, outs, axis=0):
    data, indices = ins
    out = outs[0]
    a, r = norm_axis(axis, data.rank), indices.rank
    d = data.shape[a]
    with k.loops(out.shape) as idx:
        j = k.cast(k.load(indices, idx[a:a + r]), np.int64)
        j = k.select(j < 0, j + d, j)
        k.check((j >= 0) & (j < d), f"index out of range: indices must be in [{-d}, {d - 1}] "
                                    f"for axis {a} of size {d}")
        if d == 0:    # nothing may be read; the check above already failed
            k.store(out, idx, k.zero(out.dtype))
        else:         # clamped, so a bad index never reads out of bounds
            src = list(idx[:a]) + [k.clamp(j, 0, d - 1)] + list(idx[a + r:])
            k.store(out, idx, k.load(data, src))


def _gather_index(idx, ins, axis=0):
    """One constant index (a `select`): a remap; any other gather: None."""
    data, indices = ins
    if indices.const is None or indices.rank != 0:
        return None
    a, d = norm_axis(axis, data.rank), data.shape[norm_axis(axis, data.rank)]
    j = int(indices.const)
    j = j + d if j < 0 else j
    return list(idx[:a]) + [j] + list(idx[a:]) if 0 <= j < d else None


def _gather_vjp(d, ins, outs, gouts, axis=0):
    data, indices = ins
    a = norm_axis(axis, data.rank)
    return [d.gather_grad(gouts[0], indices, axis=a, size=data.shape[a]), None]


register(OpDef("gather", INJECTIVE, _gather_infer, _gather_ref, lower=_gather_lower, vjp=_gather_vjp,
               index=_gather_index,
               doc="indices may be negative; out-of-range ones stop the model with an error"))


# ------------------------------------------------------------- gather_grad
def _gather_grad_infer(ins, axis, size):
    g, indices = ins
    if indices.dtype not in (np.dtype("int32"), np.dtype("int64")):
        raise ShapeError(f"gather_grad indices must be int32 or int64, got {indices.dtype.name}")
    if g.rank < axis + indices.rank:
        raise ShapeError(f"gather_grad: gradient {list(g.shape)} is too small for indices {list(indices.shape)}")
    return g.dtype, tuple(g.shape[:axis]) + (size,) + tuple(g.shape[axis + indices.rank:])


def _gather_grad_ref(g, indices, *, axis, size):
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + indices.ndim:], g.dtype)
    idx = np.where(indices < 0, indices + size, indices).reshape(-1)
    np.add.at(out, (slice(None),) * axis + (idx,), g.reshape(g.shape[:axis] + (-1,) + g.shape[axis + indices.ndim:]))
    return out


def _gather_grad_lower(k, ins, outs, axis, size):
    """Zero the output, then add each gathered row's gradient at its index;
    repeated indices accumulate, so the loops over indices run in order."""
    g, indices = ins
    out = outs[0]
    a, r = axis, indices.rank
    with k.loops(out.shape) as idx:
        k.store(out, idx, k.zero(out.dtype))
    if size == 0:
        return
    with k.loops(g.shape[:a], "i") as lead:
        with k.loops(g.shape[a:], "j", parallel=False) as rest:
            j = k.cast(k.load(indices, rest[:r]), np.int64)
            j = k.clamp(k.select(j < 0, j + size, j), 0, size - 1)
            at = list(lead) + [j] + list(rest[r:])
            k.store(out, at, k.load(out, at) + k.load(g, list(lead) + list(rest)))


register(OpDef("gather_grad", OPAQUE, _gather_grad_infer, _gather_grad_ref, lower=_gather_grad_lower,
               doc="the gradient of gather (a scatter-add): g, indices -> zeros of the data's shape "
                   "with g added at the indices along `axis` (of length `size`)"))


# -------------------------------------------------------------------- tile
def _tile_infer(ins):
    x, repeats = ins
    if repeats.rank != 1 or repeats.shape[0] != x.rank:
        raise ShapeError(f"tile repeats must be a 1-D tensor of {x.rank} values, got shape {list(repeats.shape)}")
    if repeats.const is None:
        return x.dtype, tuple(unknown_dim() for _ in x.shape)
    reps = _ints(repeats.const)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile repeats {reps} must not be negative")
    return x.dtype, tuple(d * r if isinstance(d, int) else (d if r == 1 else unknown_dim())
                          for d, r in zip(x.shape, reps))


def _tile_lower(k, ins, outs):
    x, out = ins[0], outs[0]
    with k.loops(out.shape) as idx:
        src = [i if d == o else (0 if d == 1 else k.rem(i, d)) for i, d, o in zip(idx, x.shape, out.shape)]
        k.store(out, idx, k.load(x, src))


def _tile_vjp(d, ins, outs, gouts):
    """Each output axis is (repeat, dim) row-major: sum the repeats away."""
    x, reps = ins[0], _ints(ins[1].const)
    split = [v for r, dim in zip(reps, x.shape) for v in (r, dim)]
    g = d.reshape(gouts[0], split)
    return [d.reshape(d.sum(g, range(0, 2 * x.rank, 2)), x.shape), None]


register(OpDef("tile", INJECTIVE, _tile_infer, lambda x, repeats: np.tile(x, _ints(repeats)),
               lower=_tile_lower, static_inputs=(1,), vjp=_tile_vjp))


# --------------------------------------------------------------------- pad
PAD_MODES = ("constant", "reflect", "edge", "wrap")


def pad_amounts(rank, pads, axes=None):
    """ONNX pads [b0, b1, .., e0, e1, ..] over `axes` -> (begin, end) per axis."""
    pads = _ints(pads)
    axes = list(range(rank)) if axes is None else _ints(axes)
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"pad: {len(pads)} pads for {len(axes)} axes (expected {2 * len(axes)})")
    out = [(0, 0)] * rank
    for j, a in enumerate(norm_axes(axes, rank)):
        out[a] = (pads[j], pads[j + len(axes)])
    return out


def _pad_plan(shape, pads, axes, mode):
    """Per axis (crop_begin, kept, pad_begin, out_dim): negative pads crop the
    input first, then the kept part is padded (as onnxruntime does)."""
    if mode not in PAD_MODES:
        raise ShapeError(f"pad mode {mode!r} is not one of {', '.join(PAD_MODES)}")
    plan = []
    for d, (b, e) in zip(shape, pad_amounts(len(shape), pads, axes)):
        if not isinstance(d, int):
            plan.append((None, None, None, d if b == e == 0 else unknown_dim()))
            continue
        crop_b, crop_e = max(-b, 0), max(-e, 0)
        kept = d - crop_b - crop_e
        if kept < 0:
            raise ShapeError(f"pads ({b}, {e}) crop more than the axis size {d}")
        if kept == 0 and (b > 0 or e > 0) and mode != "constant":
            raise ShapeError(f"cannot pad an empty axis in {mode} mode")
        if mode == "reflect" and max(b, e) >= kept > 0:   # as onnxruntime (numpy would reflect again)
            raise ShapeError(f"reflect pads ({b}, {e}) must be smaller than the axis size {kept}")
        plan.append((crop_b, kept, max(b, 0), kept + max(b, 0) + max(e, 0)))
    return plan


def _pad_infer(ins, mode="constant"):
    x, pads, value, axes = (list(ins) + [None] * 4)[:4]
    if value is not None and value.dtype != x.dtype:
        raise ShapeError(f"pad value is {value.dtype.name}, data is {x.dtype.name}")
    if value is not None and value.static and value.numel != 1:
        raise ShapeError(f"pad value must be one element, got shape {list(value.shape)}")
    if pads.const is None or (axes is not None and axes.const is None):
        return x.dtype, tuple(unknown_dim() for _ in x.shape)
    return x.dtype, tuple(p[3] for p in _pad_plan(x.shape, pads.const, axes and axes.const, mode))


def _pad_ref(x, pads, value=None, axes=None, mode="constant"):
    plan = _pad_plan(x.shape, pads, axes, mode)
    x = x[tuple(slice(cb, cb + kept) for cb, kept, _, _ in plan)]
    widths = [(pb, o - kept - pb) for _, kept, pb, o in plan]
    if mode == "constant":
        v = x.dtype.type(0) if value is None else np.asarray(value).reshape(-1)[0]
        return np.pad(x, widths, mode="constant", constant_values=v)
    return np.pad(x, widths, mode=mode)


def _pad_source(k, i, kept, mode):
    """Index into the kept part of an axis for output position `i` (already
    shifted by the begin pad), per mode; constant mode just clamps."""
    if mode == "wrap":
        return k.floormod(i, kept)
    if mode == "reflect" and kept > 1:
        period = 2 * (kept - 1)
        r = k.floormod(i, period)
        return k.select(r >= kept, period - r, r)
    return k.clamp(i, 0, kept - 1)


def _pad_lower(k, ins, outs, mode="constant"):
    x, pads, value, axes = (list(ins) + [None] * 4)[:4]
    out = outs[0]
    plan = _pad_plan(x.shape, pads.const, axes and axes.const, mode)
    fill = k.zero(x.dtype) if value is None else k.load(value, [0] * value.rank)
    empty = any(kept == 0 for _, kept, _, _ in plan)
    with k.loops(out.shape) as idx:
        if empty:        # nothing to read: every element is padding
            k.store(out, idx, fill)
        else:
            src, inside = [], None
            for i, (crop_b, kept, pad_b, o) in zip(idx, plan):
                j = i - pad_b
                if o > kept:      # this axis has padding: map (or test) the index
                    if mode == "constant":
                        ok = (j >= 0) & (j < kept)
                        inside = ok if inside is None else inside & ok
                    j = _pad_source(k, j, kept, mode)
                src.append(j + crop_b)
            v = k.load(x, src)    # always in bounds: padding positions read a clamped index
            k.store(out, idx, v if inside is None else k.select(inside, v, fill))


def _pad_vjp(d, ins, outs, gouts, mode="constant"):
    """Constant padding: the kept part of g, re-padded with zeros where the
    pads cropped the input."""
    x, pads, value, axes = (list(ins) + [None] * 4)[:4]
    if mode != "constant":
        raise UnsupportedError(f"pad in {mode} mode has no gradient rule yet (constant mode has)")
    plan = _pad_plan(x.shape, pads.const, axes and axes.const, mode)
    kept = d.slice(gouts[0], d.const(np.array([p for _, _, p, _ in plan], np.int64)),
                   d.const(np.array([p + n for _, n, p, _ in plan], np.int64)), None, None)
    crops = [cb for cb, _, _, _ in plan] + [dim - cb - n for (cb, n, _, _), dim in zip(plan, x.shape)]
    if any(crops):
        kept = d.pad(kept, d.const(np.array(crops, np.int64)), None, None, mode="constant")
    gv = d.sum(gouts[0], range(x.rank)) - d.sum(kept, range(x.rank)) if value is not None else None
    return [kept, None, gv, None][:len(ins)]


register(OpDef("pad", INJECTIVE, _pad_infer, _pad_ref, lower=_pad_lower, static_inputs=(1, 3), vjp=_pad_vjp,
               doc="inputs: x, pads, value (optional, may be computed), axes (optional)"))


# ------------------------------------------------------------------- range
def range_length(start, limit, delta) -> int:
    start, limit, delta = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    if delta == 0:
        raise ShapeError("range delta cannot be 0")
    if start.dtype.kind in "iu":
        return max(0, -(-(int(limit) - int(start)) // int(delta)))
    return max(0, int(np.ceil(float(limit - start) / float(delta))))


def _range_infer(ins):
    start, limit, delta = ins
    if not start.dtype == limit.dtype == delta.dtype:
        raise ShapeError("range: start, limit and delta must have one dtype")
    if any(v.numel != 1 for v in ins if v.static):
        raise ShapeError("range: start, limit and delta must be scalars")
    if any(v.const is None for v in ins):
        return start.dtype, (unknown_dim(),)
    return start.dtype, (range_length(start.const, limit.const, delta.const),)


def _range_ref(start, limit, delta):
    n = range_length(start, limit, delta)
    return (start.reshape(()) + np.arange(n).astype(start.dtype) * delta.reshape(())).astype(start.dtype)


def _range_lower(k, ins, outs):
    start, _, delta = ins
    out = outs[0]
    with k.loops(out.shape) as (i,):
        first, step = k.load(start, [0] * start.rank), k.load(delta, [0] * delta.rank)
        k.store(out, [i], first + k.cast(i, out.dtype) * step)


register(OpDef("range", OPAQUE, _range_infer, _range_ref, lower=_range_lower, static_inputs=(0, 1, 2),
               doc="usually folded: its length must be known at compile time"))
