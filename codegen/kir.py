"""Kernel IR: loop nests over buffers with index expressions.

This is what every op lowers to and what every renderer (LLVM for CPU,
Numba-CUDA for GPU) reads. It knows nothing of ONNX or of graph ops. A Kernel has Buffer
parameters and a body of statements; expressions are trees of Const, Var,
Load, Unary, Binary, Cmp, Select and Cast. All shapes and loop extents are
known when a kernel is built (symbolic dims are specialized before codegen),
though loop bounds may be any integer expression.

Index arithmetic is int64. ``bool`` is a 1-byte value in memory.

Schedule annotations say how a computation may be run without changing
what it computes; a renderer may use them or ignore them: ``Loop.parallel``
(independent iterations: the CPU renderer spreads the outermost ones over
its thread pool), ``Binary.reassoc``
(an accumulation that may be reordered: the CUDA renderer splits such
reduction loops over the lanes of a warp and combines the partial results
with warp shuffles), and ``Scheduled`` blocks carrying a ``Contraction``
(a loop nest that is a sum of products over reduction variables: the CUDA
renderer tiles it through shared memory).

Vectors (CPU schedules only; a builder for a target without them never makes
one): an expression has ``lanes`` (1: a scalar). A Load or Store of
``lanes`` > 1 reads/writes that many consecutive elements along the last
index (a buffer whose last dim has stride 1); its ``count``, when given, is
how many of them are real (a masked tail: other lanes read as 0 and are not
written). Elementwise expressions work lane by lane; ``Broadcast`` makes a
vector of one scalar, ``Extract`` takes one lane, ``Reduce`` folds the lanes.
A Var may be a vector (a register-blocked accumulator).

Storage-only types (float16, bfloat16, the float8/float4 types, 4- and 2-bit
ints) exist only in memory: a Buffer may hold them, but expressions compute
in their compute type (``dtypes.compute``: float32, or int8/uint8): a Load
widens, a Store rounds (or wraps), and so does a Cast to one (``Cast.to``).
The renderer's codecs are in llvm/storage.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..ir.dtypes import compute as compute_dtype

INDEX = np.dtype("int64")
BOOL = np.dtype("bool")

UNARY_OPS = frozenset({
    "neg", "abs", "sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "erf",
    "floor", "ceil", "round", "not", "isnan", "asin", "acos", "atan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "trunc", "log1p", "expm1",
})
BINARY_OPS = frozenset({
    "add", "sub", "mul", "div", "rem", "min", "max", "pow",
    "and", "or", "xor", "shl", "shr",
})
CMP_OPS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})


# ---------------------------------------------------------------- expressions
class Expr:
    __slots__ = ("dtype",)
    dtype: np.dtype
    lanes = 1   # vector expressions set their own

    def __add__(self, o): return binary("add", self, o)
    def __radd__(self, o): return binary("add", o, self)
    def __sub__(self, o): return binary("sub", self, o)
    def __rsub__(self, o): return binary("sub", o, self)
    def __mul__(self, o): return binary("mul", self, o)
    def __rmul__(self, o): return binary("mul", o, self)
    def __truediv__(self, o): return binary("div", self, o)
    def __rtruediv__(self, o): return binary("div", o, self)
    def __floordiv__(self, o): return floordiv(self, o)
    def __mod__(self, o): return floormod(self, o)
    def __neg__(self): return unary("neg", self)
    def __lt__(self, o): return cmp("lt", self, o)
    def __le__(self, o): return cmp("le", self, o)
    def __gt__(self, o): return cmp("gt", self, o)
    def __ge__(self, o): return cmp("ge", self, o)
    def __and__(self, o): return binary("and", self, o)
    def __or__(self, o): return binary("or", self, o)
    def __invert__(self): return unary("not", self)
    __hash__ = object.__hash__  # == is not overloaded: Exprs key dicts by identity


class Const(Expr):
    __slots__ = ("value",)

    def __init__(self, value, dtype):
        self.dtype = compute_dtype(dtype)
        self.value = self.dtype.type(value).item()


class Var(Expr):
    """A loop index or a kernel-local scalar or vector (declared with KernelBuilder.local)."""
    __slots__ = ("name", "lanes")

    def __init__(self, name: str, dtype=INDEX, lanes: int = 1):
        self.name = name
        self.dtype = compute_dtype(dtype)
        self.lanes = lanes


class Load(Expr):
    """``buf[idx]``; with ``lanes`` > 1 the elements ``idx[-1] .. idx[-1]+lanes-1``
    of the last axis (only the first ``count`` of them when count is given)."""
    __slots__ = ("buf", "idx", "lanes", "count")

    def __init__(self, buf: "Buffer", idx: Sequence[Expr], lanes: int = 1, count: "Expr | None" = None):
        if len(idx) != len(buf.shape):
            raise ValueError(f"load of {buf.name}{list(buf.shape)} with {len(idx)} indices")
        if lanes > 1 and buf.rank and buf.strides[-1] != 1:
            raise ValueError(f"vector load of {buf.name}: its last axis is not contiguous")
        if lanes > 1 and compute_dtype(buf.dtype) != buf.dtype:
            raise ValueError(f"vector load of {buf.name}: {buf.dtype} is a storage-only type")
        self.buf = buf
        self.idx = tuple(idx)
        self.dtype = compute_dtype(buf.dtype)
        self.lanes = lanes
        self.count = count


class Unary(Expr):
    __slots__ = ("op", "x", "lanes")

    def __init__(self, op: str, x: Expr):
        assert op in UNARY_OPS, op
        self.op, self.x = op, x
        self.dtype = BOOL if op == "isnan" else x.dtype
        self.lanes = x.lanes


class Binary(Expr):
    """``reassoc`` marks an accumulation the renderer may reorder (so that
    floating-point reductions vectorize)."""
    __slots__ = ("op", "a", "b", "reassoc", "lanes")

    def __init__(self, op: str, a: Expr, b: Expr, reassoc: bool = False):
        assert op in BINARY_OPS, op
        if a.dtype != b.dtype:
            raise TypeError(f"{op}: operand dtypes differ ({a.dtype} vs {b.dtype})")
        _same_lanes(op, a, b)
        self.op, self.a, self.b, self.reassoc = op, a, b, reassoc
        self.dtype = a.dtype
        self.lanes = a.lanes


class Cmp(Expr):
    __slots__ = ("op", "a", "b", "lanes")

    def __init__(self, op: str, a: Expr, b: Expr):
        assert op in CMP_OPS, op
        if a.dtype != b.dtype:
            raise TypeError(f"{op}: operand dtypes differ ({a.dtype} vs {b.dtype})")
        _same_lanes(op, a, b)
        self.op, self.a, self.b = op, a, b
        self.dtype = BOOL
        self.lanes = a.lanes


class Select(Expr):
    __slots__ = ("cond", "a", "b", "lanes")

    def __init__(self, cond: Expr, a: Expr, b: Expr):
        if a.dtype != b.dtype:
            raise TypeError(f"select: branch dtypes differ ({a.dtype} vs {b.dtype})")
        _same_lanes("select", a, b)
        if cond.lanes not in (1, a.lanes):
            raise TypeError(f"select: a condition of {cond.lanes} lanes for {a.lanes}")
        self.cond, self.a, self.b = cond, a, b
        self.dtype = a.dtype
        self.lanes = a.lanes


class Cast(Expr):
    """Conversion with C semantics: float->int truncates (saturating),
    x->bool is x != 0. ``to`` is the requested type: when it is a
    reduced-precision float the value is rounded to it (and stays float32)."""
    __slots__ = ("x", "to", "lanes")

    def __init__(self, x: Expr, dtype):
        self.x = x
        self.to = np.dtype(dtype)
        self.dtype = compute_dtype(dtype)
        self.lanes = x.lanes


class Broadcast(Expr):
    """A vector of `lanes` copies of the scalar `x`."""
    __slots__ = ("x", "lanes")

    def __init__(self, x: Expr, lanes: int):
        if x.lanes != 1:
            raise TypeError("broadcast of a vector")
        self.x, self.lanes, self.dtype = x, lanes, x.dtype


class Extract(Expr):
    """Lane `lane` (an index expression) of the vector `x`."""
    __slots__ = ("x", "lane")

    def __init__(self, x: Expr, lane: Expr):
        self.x, self.lane, self.dtype = x, lane, x.dtype


class Reduce(Expr):
    """The lanes of `x` folded with `op` ("add", "max" or "min"; any order)."""
    __slots__ = ("op", "x")

    def __init__(self, op: str, x: Expr):
        assert op in ("add", "max", "min"), op
        self.op, self.x, self.dtype = op, x, x.dtype


def _same_lanes(op: str, a: Expr, b: Expr) -> None:
    if a.lanes != b.lanes:
        raise TypeError(f"{op}: operands of {a.lanes} and {b.lanes} lanes")


# -------------------------------------------------- expression constructors
def as_expr(x, like: np.dtype | None = None) -> Expr:
    if isinstance(x, Expr):
        return x
    if like is None:
        like = BOOL if isinstance(x, bool) else INDEX if isinstance(x, (int, np.integer)) else np.dtype("float64")
    return Const(x, like)


def _pair(a, b) -> tuple[Expr, Expr]:
    if isinstance(a, Expr) and not isinstance(b, Expr):
        a, b = a, as_expr(b, a.dtype)
    elif isinstance(b, Expr) and not isinstance(a, Expr):
        a, b = as_expr(a, b.dtype), b
    else:
        a, b = as_expr(a), as_expr(b)
    if a.lanes != b.lanes:   # a scalar meets a vector: broadcast it
        if a.lanes == 1:
            a = Broadcast(a, b.lanes)
        elif b.lanes == 1:
            b = Broadcast(b, a.lanes)
    return a, b


def _wrap(v: int, dtype: np.dtype) -> int:
    """Integer arithmetic wraps around, as the generated code's does."""
    bits = 8 * dtype.itemsize
    v %= 1 << bits
    return v - (1 << bits) if dtype.kind == "i" and v >= 1 << (bits - 1) else v


def is_const(e: Expr, value=None) -> bool:
    return isinstance(e, Const) and (value is None or e.value == value)


def binary(op: str, a, b, reassoc: bool = False) -> Expr:
    a, b = _pair(a, b)
    if a.dtype.kind in "iu" and op in ("add", "sub", "mul"):  # fold index arithmetic
        if isinstance(a, Const) and isinstance(b, Const):
            v = {"add": a.value + b.value, "sub": a.value - b.value, "mul": a.value * b.value}[op]
            return Const(_wrap(v, a.dtype), a.dtype)
        if op == "add" and is_const(a, 0):
            return b
        if op in ("add", "sub") and is_const(b, 0):
            return a
        if op == "mul" and (is_const(a, 0) or is_const(b, 1)):
            return a
        if op == "mul" and (is_const(b, 0) or is_const(a, 1)):
            return b
    return Binary(op, a, b, reassoc)


def unary(op: str, x) -> Expr:
    return Unary(op, as_expr(x))


def cmp(op: str, a, b) -> Expr:
    a, b = _pair(a, b)
    return Cmp(op, a, b)


def select(cond, a, b) -> Expr:
    a, b = _pair(a, b)
    cond = as_expr(cond, BOOL)
    if cond.lanes > a.lanes:
        a, b = Broadcast(a, cond.lanes), Broadcast(b, cond.lanes)
    return Select(cond, a, b)


def broadcast(x, lanes: int) -> Expr:
    x = as_expr(x)
    return x if lanes == 1 or x.lanes == lanes else Broadcast(x, lanes)


def cast(x, dtype) -> Expr:
    x = as_expr(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if isinstance(x, Const) and dtype.kind in "iuf" and x.dtype.kind in "iu" and compute_dtype(dtype) == dtype:
        return Const(x.value, dtype)
    return Cast(x, dtype)


def floordiv(a, b) -> Expr:
    """Integer division rounding toward -inf (index math with possibly negative values)."""
    a, b = _pair(a, b)
    if is_const(b, 1):
        return a
    q = binary("div", a, b)
    if a.dtype.kind == "u":
        return q
    r = binary("rem", a, b)
    fix = Cmp("ne", r, Const(0, r.dtype)) & Cmp("ne", Cmp("lt", r, Const(0, r.dtype)), Cmp("lt", b, Const(0, b.dtype)))
    return Select(fix, q - 1, q)


def floormod(a, b) -> Expr:
    """Remainder with the sign of the divisor (Python's %)."""
    a, b = _pair(a, b)
    r = binary("rem", a, b)
    if a.dtype.kind == "u":
        return r
    fix = Cmp("ne", r, Const(0, r.dtype)) & Cmp("ne", Cmp("lt", r, Const(0, r.dtype)), Cmp("lt", b, Const(0, b.dtype)))
    return Select(fix, r + b, r)


# ------------------------------------------------------------------ buffers
class Buffer:
    """A kernel parameter: typed memory seen with a shape and element strides.

    ``const`` holds the data when the buffer is a compile-time constant (a
    lowering may read it, e.g. a Slice's starts). Several Buffers may view the
    same storage (a Reshape's output views its input)."""
    __slots__ = ("name", "dtype", "shape", "strides", "offset", "const")

    def __init__(self, name: str, dtype, shape: Sequence[int], strides: Sequence[int] | None = None,
                 offset: int = 0, const: np.ndarray | None = None):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.strides = tuple(strides) if strides is not None else contiguous_strides(self.shape)
        self.offset = offset
        self.const = const

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"{self.name}: {self.dtype.name}{list(self.shape)}"


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= max(int(d), 1)
    return tuple(reversed(strides))


# --------------------------------------------------------------- statements
class Stmt:
    __slots__ = ()


@dataclass(eq=False)
class Block(Stmt):
    stmts: list[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class Loop(Stmt):
    """``for var in range(start, stop)``; ``parallel`` marks iterations as
    independent (a renderer may spread them over threads or GPU blocks)."""
    var: Var
    start: Expr
    stop: Expr
    body: Block
    parallel: bool = False


@dataclass(eq=False)
class Store(Stmt):
    buf: Buffer
    idx: tuple[Expr, ...]
    value: Expr          # a vector stores its lanes along the last index
    count: Expr | None = None   # a vector store of only the first `count` lanes


@dataclass(eq=False)
class Assign(Stmt):
    var: Var
    value: Expr


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: Block
    orelse: Block | None = None


@dataclass(eq=False)
class Check(Stmt):
    """If ``cond`` is false at run time, the kernel reports error ``code``
    (an index into Kernel.messages) and the entry function stops after it."""
    cond: Expr
    code: int


@dataclass(eq=False)
class Contraction:
    """A schedule annotation (generic: nothing here names an op): for every
    point of ``space`` (loop variables with their extents),

        acc = init; for every point of ``reduce``: acc += term; then run ``store``

    where ``init`` reads only space variables, ``term`` reads space and
    reduce variables and is a product of two factors (one per operand),
    and ``store`` reads the sum through the placeholder variable ``acc``
    (the op's final store, with any fused epilogue). The variables are not
    bound by any loop of the kernel body: they exist only here. Loads in
    ``init`` and ``term`` must stay in bounds for every point (clamp and
    select rather than branch), since a tiled renderer evaluates them
    eagerly and in any order."""
    space: list[tuple[Var, int]]
    reduce: list[tuple[Var, int]]
    init: Expr
    term: Expr
    acc: Var
    store: Block


@dataclass(eq=False)
class Scheduled(Block):
    """A block of statements with a schedule annotation that describes the
    same computation (``contraction``). Renderers that do not use the
    annotation render the statements, like any Block."""
    contraction: Contraction | None = None


@dataclass(eq=False)
class Kernel:
    name: str
    params: list[Buffer]
    body: Block
    locals: list[Var] = field(default_factory=list)
    scratch: list[Buffer] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        from .kir_print import format_kernel
        return format_kernel(self)
