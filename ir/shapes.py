"""Shape arithmetic shared by the ops' type rules. Dims are ints or symbol
names; a rule that cannot tell a dim before specialization makes a fresh
symbol (``?3``) that specialization later resolves to a number."""
from __future__ import annotations

import itertools
from typing import Sequence

from .errors import ShapeError
from .graph import Dim, Shape

_fresh = itertools.count(1)


def unknown_dim() -> str:
    return f"?{next(_fresh)}"


def is_known(d: Dim) -> bool:
    return isinstance(d, int)


def broadcast(*shapes: Shape) -> Shape:
    """numpy/ONNX multidirectional broadcasting, with symbolic dims."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        ints = {d for d in dims if isinstance(d, int) and d != 1}
        syms = {d for d in dims if isinstance(d, str)}
        if len(ints) > 1:
            raise ShapeError(f"cannot broadcast shapes {' and '.join(_fmt(s) for s in shapes)}")
        if ints:
            out.append(ints.pop())
        elif len(syms) == 1:
            out.append(syms.pop())
        elif syms:
            out.append(unknown_dim())
        else:
            out.append(1)
    return tuple(out)


def _fmt(s: Shape) -> str:
    return "[" + ",".join(str(d) for d in s) + "]"


def axis(a: int, rank: int, name: str = "axis") -> int:
    """Normalize a possibly negative axis, checking its range."""
    a = int(a)
    if not -rank <= a < max(rank, 1):
        raise ShapeError(f"{name} {a} is out of range for rank {rank}")
    return a % rank if rank else 0


def axes(a: Sequence[int], rank: int, name: str = "axes") -> tuple[int, ...]:
    out = tuple(axis(x, rank, name) for x in a)
    if len(set(out)) != len(out):
        raise ShapeError(f"{name} {list(a)} repeats an axis")
    return out


def mul_dims(dims: Sequence[Dim]) -> Dim:
    """Product of dims; symbolic if any is."""
    n = 1
    for d in dims:
        if not isinstance(d, int):
            return unknown_dim()
        n *= d
    return n


def expect_rank(shape: Shape, what: str, *ranks: int) -> None:
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"{what} has {len(shape)} dims, expected {want}")


def join_shapes(a: Shape | None, b: Shape | None) -> Shape | None:
    """A shape both fit: dims that differ become unknown; None if the ranks
    differ or one is unknown (a sequence's items, ir/graph.py)."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else unknown_dim() for x, y in zip(a, b))
