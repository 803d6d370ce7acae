"""Sequences and optionals (ONNX Sequence*, SplitToSequence,
ConcatFromSequence, Optional*): host-only values (see ir/graph.py).

A sequence is a Python list of arrays, an optional an array (or list) or
None. Every op here runs as a host step with its numpy reference; the
tensors taken out of a sequence flow into natively compiled segments, which
specialize to the shapes they receive. (SequenceMap, whose body is compiled,
is control flow: ir/ops/control.py.)

Type rules: a sequence Value's dtype and shape describe its elements; the
shape joins theirs (a dim that differs is unknown, ``None`` when the rank
can differ or is not known yet, as after ``sequence_empty``).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import OPT, SEQ
from ..shapes import join_shapes, unknown_dim
from .base import OPAQUE, OpDef, register

INT64, BOOL = np.dtype("int64"), np.dtype("bool")


def _seq(v, what="input 0"):
    if v.container != (SEQ,):
        raise ShapeError(f"{what} ({v.name}) must be a sequence of tensors, got {v.type_str}")
    return v


def _tensor(v, what):
    if v.container:
        raise ShapeError(f"{what} ({v.name}) must be a tensor, got {v.type_str}")
    return v


def _position(pos, n: int, end: int) -> int:
    """A position in [-n, end - 1] (ONNX's negative positions count from the back)."""
    p = int(np.asarray(pos).reshape(-1)[0])
    if not -n <= p < end:
        raise IndexError(f"position {p} is out of range for a sequence of {n} tensors")
    return p % n if p < 0 else p


def _infer_construct(ins):
    xs = [_tensor(x, f"input {i}") for i, x in enumerate(ins)]
    if len({x.dtype for x in xs}) != 1:
        raise ShapeError(f"the tensors have different dtypes {sorted({x.dtype.name for x in xs})}")
    shape = xs[0].shape
    for x in xs[1:]:
        shape = join_shapes(shape, x.shape)
    return xs[0].dtype, shape, (SEQ,)


def _infer_insert(ins):
    seq, x = _seq(ins[0]), _tensor(ins[1], "input 1")
    if x.dtype != seq.dtype:
        raise ShapeError(f"cannot insert a {x.dtype.name} tensor into a sequence of {seq.dtype.name}")
    # an unknown element rank (an empty sequence's) takes the inserted tensor's
    return seq.dtype, x.shape if seq.shape is None else join_shapes(seq.shape, x.shape), (SEQ,)


def _insert_ref(seq, x, pos=None):
    out = list(seq)
    out.insert(len(out) if pos is None else _position(pos, len(out), len(out) + 1), x)
    return out


def _erase_ref(seq, pos=None):
    out = list(seq)
    del out[len(out) - 1 if pos is None else _position(pos, len(out), len(out))]
    return out


def _infer_at(ins):
    seq = _seq(ins[0])
    if seq.shape is None:
        raise ShapeError(f"the rank of the tensors in sequence {seq.name} is not known when the graph is built")
    return seq.dtype, seq.shape


def _infer_length(ins):
    _seq(ins[0])
    return INT64, ()


def _infer_split(ins, axis=0, keepdims=1):
    x, split = _tensor(ins[0], "input 0"), ins[1] if len(ins) > 1 else None
    if not -x.rank <= axis < x.rank:
        raise ShapeError(f"axis {axis} is out of range for rank {x.rank}")
    axis %= x.rank
    if split is None and not keepdims:
        return x.dtype, x.shape[:axis] + x.shape[axis + 1:], (SEQ,)
    size = 1 if split is None else unknown_dim()
    return x.dtype, x.shape[:axis] + (size,) + x.shape[axis + 1:], (SEQ,)


def _split_ref(x, split=None, axis=0, keepdims=1):
    n = x.shape[axis]
    if split is None:
        parts = np.split(x, n, axis=axis) if n else []
        return [np.squeeze(p, axis) if not keepdims else p for p in parts]
    split = np.asarray(split, np.int64)
    if split.ndim == 0:   # chunks of this size, the last one smaller
        sizes = [int(split)] * (n // int(split)) + ([n % int(split)] if n % int(split) else [])
    else:
        sizes = [int(s) for s in split]
    if sum(sizes) != n:
        raise ValueError(f"split sizes {sizes} do not add up to the axis length {n}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def _infer_concat(ins, axis=0, new_axis=0):
    seq = _seq(ins[0])
    if seq.shape is None:
        raise ShapeError(f"the rank of the tensors in sequence {seq.name} is not known when the graph is built")
    rank = len(seq.shape) + bool(new_axis)
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    rest = seq.shape if new_axis else seq.shape[:axis] + seq.shape[axis + 1:]
    return seq.dtype, rest[:axis] + (unknown_dim(),) + rest[axis:]


def _concat_ref(seq, axis=0, new_axis=0):
    if not seq:
        raise ValueError("the sequence is empty")
    return np.stack(seq, axis=axis) if new_axis else np.concatenate(seq, axis=axis)


def _infer_optional(ins, dtype=None, shape=None, container=()):
    if ins and ins[0] is not None:
        x = ins[0]
        return x.dtype, x.shape, (OPT,) + x.container
    return np.dtype(dtype), shape, (OPT,) + tuple(container)


def _infer_get(ins):
    x = ins[0]
    if x.container[:1] != (OPT,):
        raise ShapeError(f"input 0 ({x.name}) must be an optional, got {x.type_str}")
    return x.dtype, x.shape, x.container[1:]


def _get_ref(x):
    if x is None:
        raise ValueError("the optional is empty")
    return x


register(
    OpDef("sequence_construct", OPAQUE, _infer_construct, lambda *xs: list(xs), host=True, sequences=True,
          strings=True, doc="a sequence of the input tensors (ONNX SequenceConstruct)"),
    OpDef("sequence_empty", OPAQUE, lambda ins, dtype: (np.dtype(dtype), None, (SEQ,)), lambda dtype: [],
          host=True, sequences=True, strings=True, doc="an empty sequence of `dtype` tensors (ONNX SequenceEmpty)"),
    OpDef("sequence_insert", OPAQUE, _infer_insert, _insert_ref, host=True, sequences=True, strings=True,
          doc="the sequence with a tensor inserted at a position (default: at the end) (ONNX SequenceInsert)"),
    OpDef("sequence_erase", OPAQUE, lambda ins: (_seq(ins[0]).dtype, ins[0].shape, (SEQ,)), _erase_ref,
          host=True, sequences=True, strings=True,
          doc="the sequence without the tensor at a position (default: the last) (ONNX SequenceErase)"),
    OpDef("sequence_at", OPAQUE, _infer_at, lambda seq, pos: seq[_position(pos, len(seq), len(seq))],
          host=True, sequences=True, strings=True, doc="the tensor at a position (ONNX SequenceAt)"),
    OpDef("sequence_length", OPAQUE, _infer_length,
          lambda seq: np.array(len(seq), INT64), host=True, sequences=True, strings=True,
          doc="the number of tensors in a sequence (ONNX SequenceLength)"),
    OpDef("split_to_sequence", OPAQUE, _infer_split, _split_ref, host=True, sequences=True, strings=True,
          doc="x split along `axis` into a sequence: into chunks of a scalar split's size, or of the sizes "
              "of a 1-D split, or into slices of 1 (squeezed unless keepdims) (ONNX SplitToSequence)"),
    OpDef("concat_from_sequence", OPAQUE, _infer_concat, _concat_ref, host=True, sequences=True, strings=True,
          doc="the tensors of a sequence concatenated along `axis`, or stacked along a new axis "
              "(ONNX ConcatFromSequence)"),
    OpDef("optional", OPAQUE, _infer_optional, lambda x=None, **_: x, host=True, sequences=True, strings=True,
          doc="an optional holding the input, or an empty optional of the given type (ONNX Optional)"),
    OpDef("optional_has_element", OPAQUE, lambda ins: (BOOL, ()),
          lambda x=None: np.array(x is not None), host=True, sequences=True, strings=True,
          doc="whether an optional holds a value (a missing input: false) (ONNX OptionalHasElement)"),
    OpDef("optional_get_element", OPAQUE, _infer_get, _get_ref, host=True, sequences=True, strings=True,
          doc="the value an optional holds; an error if it is empty (ONNX OptionalGetElement)"),
)
