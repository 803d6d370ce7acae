"""Indexing ops: element-wise and N-D gathers and scatters, one-hot, and
triangular masks.

Indices may be negative (counted from the end); an index out of range stops
the model with an error naming the node (a run-time check), and reads are
clamped so that a bad index never touches memory outside the tensor.
Scatters copy the data, then apply the updates in order (so with repeated
indices the last update wins, or all combine under a ``reduction``).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..shapes import axis as norm_axis
from .base import INJECTIVE, OPAQUE, OpDef, register

INDEX = np.dtype("int64")
REDUCTIONS = ("none", "add", "mul", "max", "min")


def _check_indices(v, op):
    if v.dtype not in (np.dtype("int32"), np.dtype("int64")):
        raise ShapeError(f"{op} indices must be int32 or int64, got {v.dtype.name}")


def _index(k, indices, at, size: int, what: str):
    """An index read from `indices` at `at`, made non-negative and checked
    against `size`; returns it clamped into range (safe to read with)."""
    j = k.cast(k.load(indices, at), INDEX)
    j = k.select(j < 0, j + size, j)
    k.check((j >= 0) & (j < size), f"index out of range: {what} must be in [{-size}, {size - 1}]")
    return k.clamp(j, 0, max(size - 1, 0))


def _np_index(j, size):
    j = np.asarray(j, np.int64)
    j = np.where(j < 0, j + size, j)
    if np.any((j < 0) | (j >= size)):
        raise IndexError(f"index out of range for an axis of size {size}")
    return j


def _combine(k, reduction, old, new):
    if reduction == "add":
        return old + new
    if reduction == "mul":
        return old * new
    if reduction == "max":
        return k.max(old, new)
    if reduction == "min":
        return k.min(old, new)
    return new


_NP_COMBINE = {"none": lambda a, b: b, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _copy(k, src, dst):
    if dst.numel:
        with k.loops(dst.shape) as idx:
            k.store(dst, idx, k.load(src, idx))


# ---------------------------------------------------------- gather_elements
def _gather_elements_infer(ins, axis=0):
    data, indices = ins
    _check_indices(indices, "gather_elements")
    if data.rank != indices.rank or data.rank == 0:
        raise ShapeError(f"gather_elements: data {list(data.shape)} and indices {list(indices.shape)} "
                         f"must have the same rank (>= 1)")
    norm_axis(axis, data.rank)
    return data.dtype, indices.shape


def _gather_elements_ref(data, indices, axis=0):
    a = norm_axis(axis, data.ndim)
    return np.take_along_axis(data, _np_index(indices, data.shape[a]), axis=a)


def _gather_elements_lower(k, ins, outs, axis=0):
    data, indices = ins
    out = outs[0]
    a = norm_axis(axis, data.rank)
    if not out.numel:
        return
    with k.loops(out.shape) as idx:
        j = _index(k, indices, idx, data.shape[a], f"indices on axis {a}")
        src = list(idx)
        src[a] = j
        if data.numel:
            k.store(out, idx, k.load(data, src))


# --------------------------------------------------------- scatter_elements
def _scatter_elements_infer(ins, axis=0, reduction="none"):
    data, indices, updates = ins
    _check_indices(indices, "scatter_elements")
    if reduction not in REDUCTIONS:
        raise ShapeError(f"scatter_elements reduction {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    if updates.dtype != data.dtype:
        raise ShapeError(f"scatter_elements: updates are {updates.dtype.name}, data is {data.dtype.name}")
    if not data.rank == indices.rank == updates.rank or tuple(indices.shape) != tuple(updates.shape):
        raise ShapeError(f"scatter_elements: data {list(data.shape)}, indices {list(indices.shape)} and "
                         f"updates {list(updates.shape)} must have one rank; indices and updates one shape")
    norm_axis(axis, data.rank)
    return data.dtype, data.shape


def _scatter_elements_ref(data, indices, updates, axis=0, reduction="none"):
    a = norm_axis(axis, data.ndim)
    out = data.copy()
    f = _NP_COMBINE[reduction]
    idx = _np_index(indices, data.shape[a])
    for u in np.ndindex(indices.shape):
        o = list(u)
        o[a] = idx[u]
        out[tuple(o)] = f(out[tuple(o)], updates[u])
    return out


def _scatter_elements_lower(k, ins, outs, axis=0, reduction="none"):
    data, indices, updates = ins
    out = outs[0]
    a = norm_axis(axis, data.rank)
    _copy(k, data, out)
    if not updates.numel:
        return
    with k.loops(updates.shape, parallel=False) as idx:   # in order: repeated indices
        j = _index(k, indices, idx, data.shape[a], f"indices on axis {a}")
        dst = list(idx)
        dst[a] = j
        k.store(out, dst, _combine(k, reduction, k.load(out, dst), k.load(updates, idx)))


# ----------------------------------------------------------------- gather_nd
def _gather_nd_infer(ins, batch_dims=0):
    data, indices = ins
    _check_indices(indices, "gather_nd")
    if indices.rank < 1 or not isinstance(indices.shape[-1], int):
        raise ShapeError("gather_nd indices need rank >= 1 and a known last dim")
    kk = indices.shape[-1]
    if batch_dims + kk > data.rank:
        raise ShapeError(f"gather_nd: batch_dims {batch_dims} + index length {kk} exceeds the data rank "
                         f"{data.rank}")
    return data.dtype, tuple(indices.shape[:-1]) + tuple(data.shape[batch_dims + kk:])


def _gather_nd_ref(data, indices, batch_dims=0):
    kk = indices.shape[-1]
    bshape = data.shape[:batch_dims]
    out = np.empty(tuple(indices.shape[:-1]) + data.shape[batch_dims + kk:], data.dtype)
    for i in np.ndindex(indices.shape[:-1]):
        b = i[:batch_dims]
        where = tuple(_np_index(indices[i][t], data.shape[batch_dims + t]) for t in range(kk))
        out[i] = data[b + where]
    del bshape
    return out


def _gather_nd_lower(k, ins, outs, batch_dims=0):
    data, indices = ins
    out = outs[0]
    kk = indices.shape[-1]
    r = indices.rank - 1
    if not out.numel:
        return
    with k.loops(out.shape) as idx:
        at = list(idx[:r])
        src = list(idx[:batch_dims])
        for t in range(kk):
            src.append(_index(k, indices, at + [t], data.shape[batch_dims + t], f"index component {t}"))
        src += list(idx[r:])
        if data.numel:
            k.store(out, idx, k.load(data, src))


# ---------------------------------------------------------------- scatter_nd
def _scatter_nd_infer(ins, reduction="none"):
    data, indices, updates = ins
    _check_indices(indices, "scatter_nd")
    if reduction not in REDUCTIONS:
        raise ShapeError(f"scatter_nd reduction {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    if updates.dtype != data.dtype:
        raise ShapeError(f"scatter_nd: updates are {updates.dtype.name}, data is {data.dtype.name}")
    if indices.rank < 1 or not isinstance(indices.shape[-1], int) or indices.shape[-1] > data.rank:
        raise ShapeError(f"scatter_nd: indices {list(indices.shape)} do not fit data {list(data.shape)}")
    want = tuple(indices.shape[:-1]) + tuple(data.shape[indices.shape[-1]:])
    if len(want) != updates.rank or any(isinstance(a, int) and isinstance(b, int) and a != b
                                        for a, b in zip(want, updates.shape)):
        raise ShapeError(f"scatter_nd: updates have shape {list(updates.shape)}, expected {list(want)}")
    return data.dtype, data.shape


def _scatter_nd_ref(data, indices, updates, reduction="none"):
    out = data.copy()
    f = _NP_COMBINE[reduction]
    kk = indices.shape[-1]
    for i in np.ndindex(indices.shape[:-1]):
        where = tuple(int(_np_index(indices[i][t], data.shape[t])) for t in range(kk))
        out[where] = f(out[where], updates[i])
    return out


def _scatter_nd_lower(k, ins, outs, reduction="none"):
    data, indices, updates = ins
    out = outs[0]
    kk = indices.shape[-1]
    r = indices.rank - 1
    _copy(k, data, out)
    if not updates.numel:
        return
    with k.loops(indices.shape[:-1], "u", parallel=False) as ui:
        where = [k.local(_index(k, indices, list(ui) + [t], data.shape[t], f"index component {t}"), f"j{t}")
                 for t in range(kk)]
        with k.loops(data.shape[kk:], "s", parallel=False) as si:
            dst = where + list(si)
            k.store(out, dst, _combine(k, reduction, k.load(out, dst), k.load(updates, list(ui) + list(si))))


register(
    OpDef("gather_elements", INJECTIVE, _gather_elements_infer, _gather_elements_ref, lower=_gather_elements_lower,
          doc="out[i] = data[i with axis replaced by indices[i]]"),
    OpDef("scatter_elements", OPAQUE, _scatter_elements_infer, _scatter_elements_ref,
          lower=_scatter_elements_lower,
          doc="a copy of data with updates written (or combined) at indices along axis, in order"),
    OpDef("gather_nd", INJECTIVE, _gather_nd_infer, _gather_nd_ref, lower=_gather_nd_lower,
          doc="slices of data addressed by the last dim of indices, after batch_dims shared dims"),
    OpDef("scatter_nd", OPAQUE, _scatter_nd_infer, _scatter_nd_ref, lower=_scatter_nd_lower,
          doc="a copy of data with update slices written (or combined) at N-D indices, in order"),
)


# ------------------------------------------------------------------ one_hot
def _one_hot_infer(ins, axis=-1, depth=None):
    indices, values = ins
    if dtypes.kind(indices.dtype) not in "iuf":
        raise ShapeError(f"one_hot indices must be numeric, got {indices.dtype.name}")
    if values.static and values.numel != 2:
        raise ShapeError(f"one_hot values must hold 2 elements [off, on], got shape {list(values.shape)}")
    rank = indices.rank + 1
    a = norm_axis(axis, rank)
    shape = list(indices.shape)
    shape.insert(a, int(depth))
    return values.dtype, tuple(shape)


def _one_hot_ref(indices, values, axis=-1, depth=None):
    rank = indices.ndim + 1
    a = norm_axis(axis, rank)
    idx = np.asarray(indices).astype(np.int64)   # float indices truncate
    idx = np.where(idx < 0, idx + depth, idx)
    ar = np.arange(depth).reshape([-1 if d == a else 1 for d in range(rank)])
    hot = np.expand_dims(idx, a) == ar
    off, on = np.asarray(values).reshape(-1)[:2]
    return np.where(hot, on, off).astype(values.dtype)


def _one_hot_lower(k, ins, outs, axis=-1, depth=None):
    indices, values = ins
    out = outs[0]
    a = norm_axis(axis, out.rank)
    if not out.numel:
        return
    with k.loops(out.shape) as idx:
        j = k.cast(k.load(indices, list(idx[:a]) + list(idx[a + 1:])), INDEX)
        j = k.select(j < 0, j + depth, j)
        hot = k.eq(j, idx[a])
        k.store(out, idx, k.select(hot, k.load(values, [1]), k.load(values, [0])))


register(OpDef("one_hot", OPAQUE, _one_hot_infer, _one_hot_ref, lower=_one_hot_lower,
               doc="values[1] where the index along `axis` equals indices (negative ones count from "
                   "depth), values[0] elsewhere; out-of-range indices give an all-off row"))


# -------------------------------------------------------------------- trilu
def _trilu_infer(ins, upper=1):
    x = ins[0]
    if x.rank < 2:
        raise ShapeError(f"trilu needs rank >= 2, got {list(x.shape)}")
    if len(ins) > 1 and ins[1] is not None and ins[1].static and ins[1].numel != 1:
        raise ShapeError("trilu k must be a scalar")
    return x.dtype, x.shape


def _trilu_ref(x, k=None, upper=1):
    kk = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    return (np.triu(x, kk) if upper else np.tril(x, kk)).astype(x.dtype)


def _trilu_lower(k, ins, outs, upper=1):
    x = ins[0]
    kb = ins[1] if len(ins) > 1 else None
    out = outs[0]
    if not out.numel:
        return
    diag = k.zero(INDEX) if kb is None else k.cast(k.load(kb, [0] * kb.rank), INDEX)
    with k.loops(out.shape) as idx:
        i, j = idx[-2], idx[-1]
        keep = (j - i >= diag) if upper else (j - i <= diag)
        k.store(out, idx, k.select(keep, k.load(x, idx), k.zero(x.dtype)))


register(OpDef("trilu", OPAQUE, _trilu_infer, _trilu_ref, lower=_trilu_lower,
               doc="the upper (or lower) triangle of the last two dims from diagonal k (a run-time "
                   "scalar input, optional); zeros elsewhere"))


# ---------------------------------------------------------------- eye_like
def _eye_infer(ins, dtype, k=0):
    x = ins[0]
    if x.rank != 2:
        raise ShapeError(f"eye_like needs a 2-D input, got {list(x.shape)}")
    return dtypes.check(dtype, "eye_like"), x.shape


def _eye_fold(ins, dtype, k=0):
    x = ins[0]
    if not x.static:
        return None
    return np.eye(*x.shape, k=int(k), dtype=dtype)


def _eye_lower(k, ins, outs, dtype, k_diag=0):
    out = outs[0]
    if out.numel:
        with k.loops(out.shape) as (i, j):
            k.store(out, [i, j], k.cast(k.eq(j - i, k_diag), out.dtype))


register(OpDef("eye_like", OPAQUE, _eye_infer, lambda x, dtype, k=0: np.eye(*x.shape, k=int(k), dtype=dtype),
               lower=lambda kb, ins, outs, dtype, k=0: _eye_lower(kb, ins, outs, dtype, int(k)),
               fold=_eye_fold, doc="ones on diagonal k of a matrix shaped like the input (its data unused)"))


# --------------------------------------------------------- reverse_sequence
def _rev_seq_infer(ins, batch_axis=1, time_axis=0):
    x, lens = ins
    if x.rank < 2 or {batch_axis, time_axis} - {0, 1} or batch_axis == time_axis:
        raise ShapeError(f"reverse_sequence: batch_axis {batch_axis} and time_axis {time_axis} must be "
                         f"0 and 1 of an input of rank >= 2")
    if lens.rank != 1 or dtypes.kind(lens.dtype) not in "iu":
        raise ShapeError(f"reverse_sequence sequence_lens must be a 1-D integer tensor, got {lens.type_str}")
    return x.dtype, x.shape


def _rev_seq_ref(x, lens, batch_axis=1, time_axis=0):
    y = x.copy()
    for b in range(x.shape[batch_axis]):
        n = int(lens[b])
        if not 0 <= n <= x.shape[time_axis]:
            raise IndexError(f"sequence length {n} out of range")
        sl = [slice(None)] * x.ndim
        sl[batch_axis], sl[time_axis] = b, slice(0, n)
        y[tuple(sl)] = np.flip(x[tuple(sl)], axis=0)
    return y


def _rev_seq_lower(k, ins, outs, batch_axis=1, time_axis=0):
    x, lens = ins
    out = outs[0]
    t_max = x.shape[time_axis]
    if not out.numel:
        return
    with k.loops(out.shape) as idx:
        n = k.cast(k.load(lens, [idx[batch_axis]]), INDEX)
        k.check((n >= 0) & (n <= t_max), f"sequence length out of range [0, {t_max}]")
        t = idx[time_axis]
        src = list(idx)
        src[time_axis] = k.clamp(k.select(t < n, n - 1 - t, t), 0, t_max - 1)
        k.store(out, idx, k.load(x, src))


register(OpDef("reverse_sequence", INJECTIVE, _rev_seq_infer, _rev_seq_ref, lower=_rev_seq_lower,
               doc="each batch entry's first sequence_lens[b] steps along time_axis reversed"))


# ----------------------------------------------------------- tensor_scatter
def _ts_infer(ins, axis=-2, mode="linear"):
    cache, update = ins[0], ins[1]
    a = norm_axis(axis, cache.rank)
    if update.rank != cache.rank or update.dtype != cache.dtype or any(
            isinstance(c, int) and isinstance(u, int) and (c != u if d != a else u > c)
            for d, (c, u) in enumerate(zip(cache.shape, update.shape))):
        raise ShapeError(f"tensor_scatter: update {update.type_str} does not fit cache {cache.type_str} "
                         f"along axis {a}")
    if mode not in ("linear", "circular"):
        raise ShapeError(f"tensor_scatter mode {mode!r} is not linear or circular")
    return cache.dtype, cache.shape


def _ts_ref(cache, update, write=None, axis=-2, mode="linear"):
    a = norm_axis(axis, cache.ndim)
    out = cache.copy()
    size = cache.shape[a]
    write = np.zeros(cache.shape[0], np.int64) if write is None else write
    for pre in np.ndindex(cache.shape[:a]):
        for s in range(update.shape[a]):
            j = int(write[pre[0]]) + s
            j = j % size if mode == "circular" else j
            if not 0 <= j < size:
                raise IndexError("tensor_scatter write position out of range")
            out[pre + (j,)] = update[pre + (s,)]
    return out


def _ts_lower(k, ins, outs, axis=-2, mode="linear"):
    cache, update = ins[0], ins[1]
    write = ins[2] if len(ins) > 2 else None
    out = outs[0]
    a = norm_axis(axis, cache.rank)
    size = cache.shape[a]
    _copy(k, cache, out)
    if not update.numel:
        return
    with k.loops(update.shape) as idx:
        j = idx[a] + (k.cast(k.load(write, [idx[0]]), INDEX) if write is not None else 0)
        if mode == "circular":
            j = k.floormod(j, size)
        k.check((j >= 0) & (j < size), f"write position out of range [0, {size - 1}]")
        dst = list(idx)
        dst[a] = k.clamp(j, 0, size - 1)
        k.store(out, dst, k.load(update, idx))


register(OpDef("tensor_scatter", OPAQUE, _ts_infer, _ts_ref, lower=_ts_lower,
               doc="a KV-cache update: update written into a copy of the cache along axis from "
                   "write_indices[batch] (optional; circular mode wraps)"))
