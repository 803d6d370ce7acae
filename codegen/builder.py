"""KernelBuilder: the `k` every op lowering writes kernel IR with.

    with k.loops(out.shape) as idx:
        k.store(out, idx, k.max(k.load(x, idx), 0))

Loops and ifs are context managers; expressions are built with Python
operators and the math helpers below. Loads of one-element constants become
immediates, so ``x * 0.5`` in a model costs no memory traffic.

Fusion hooks (see codegen/fuse.py): a Buffer may carry a load hook (a load
of a value computed inside a fused group inlines its producer's formula at
that index) and a store hook (the final store of a group's anchor applies
the fused epilogue). A lowering that keeps an accumulator in its output
writes it with ``store(..., partial=True)`` (never hooked) and calls
``finish`` once a region of the output is final. Without hooks all of this
is plain loads and stores, and ``finish`` emits nothing.

Schedules: ``k.target`` says what the machine has (codegen/target.py). When
``k.lanes(dtype)`` > 1 a lowering may use vectors (``vload``, vector
``store``, ``broadcast``, ``fma``, vector ``local``s) to block registers by
hand; with the GENERIC target it is 1 and lowerings stay scalar.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from . import kir
from .kir import (Assign, Binary, Block, Buffer, Check, Const, Contraction, Expr, Extract, If, Kernel, Load,
                  Loop, Reduce, Scheduled, Store, Var, as_expr)
from .target import GENERIC, Target


class KernelBuilder:
    def __init__(self, name: str, sources: Sequence[str] = (), target: Target = GENERIC):
        self.target = target
        self.kernel = Kernel(name, [], Block(), sources=list(sources))
        self._blocks: list[Block] = [self.kernel.body]
        self._names: set[str] = set()
        self._load_hooks: dict[Buffer, Callable[[list[Expr]], Expr]] = {}
        self._store_hooks: dict[Buffer, Callable[[list[Expr], Expr], None]] = {}

    # ---------------------------------------------------------- structure
    def fresh(self, hint: str) -> str:
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def emit(self, stmt: kir.Stmt) -> None:
        self._blocks[-1].stmts.append(stmt)

    @contextmanager
    def _into(self, block: Block) -> Iterator[None]:
        self._blocks.append(block)
        try:
            yield
        finally:
            self._blocks.pop()

    @contextmanager
    def loop(self, stop, name: str = "i", start=0, parallel: bool = False) -> Iterator[Expr]:
        """``for name in range(start, stop)``. A loop of one iteration is not
        emitted: the body sees the constant ``start``."""
        start, stop = as_expr(start), as_expr(stop)
        if isinstance(start, Const) and isinstance(stop, Const) and stop.value - start.value == 1:
            yield start
            return
        var = Var(self.fresh(name))
        body = Block()
        self.emit(Loop(var, start, stop, body, parallel))
        with self._into(body):
            yield var

    @contextmanager
    def loops(self, extents: Sequence, prefix: str = "i", parallel: bool = True) -> Iterator[tuple[Expr, ...]]:
        """A nest ``for i0 .. for i1 ..`` over `extents`; the outermost loop
        that really iterates is marked parallel unless ``parallel=False``."""
        with ExitStack() as stack:
            idx = []
            for d, e in enumerate(extents):
                par = parallel and not any(isinstance(i, Var) for i in idx)
                idx.append(stack.enter_context(self.loop(e, f"{prefix}{d}", parallel=par)))
            yield tuple(idx)

    @contextmanager
    def if_(self, cond: Expr) -> Iterator[None]:
        stmt = If(as_expr(cond), Block())
        self.emit(stmt)
        with self._into(stmt.then):
            yield

    @contextmanager
    def else_(self) -> Iterator[None]:
        """The else branch of the `if_` just closed in the current block."""
        last = self._blocks[-1].stmts[-1]
        assert isinstance(last, If) and last.orelse is None, "else_ must follow if_"
        last.orelse = Block()
        with self._into(last.orelse):
            yield

    # ---------------------------------------------------------- schedules
    def contraction(self, space: Sequence[int], reduce: Sequence[int], dtype,
                    init: Callable[[list[Expr]], Expr], term: Callable[[list[Expr], list[Expr]], Expr],
                    store: Callable[[list[Expr], Var], None]) -> Contraction:
        """A `kir.Contraction` annotation: ``init(s)`` and ``term(s, r)`` build
        expressions from space variables `s` and reduce variables `r` (extents
        `space` and `reduce`; an extent of 1 gives the constant 0), ``store(s,
        acc)`` emits the final store of the sum `acc` (of `dtype`) with this
        builder (so fused epilogues apply). Nothing is emitted into the kernel:
        pass the result to `scheduled`."""
        def variables(extents, prefix):
            return [Const(0, kir.INDEX) if int(e) == 1 else Var(self.fresh(f"{prefix}{d}"))
                    for d, e in enumerate(extents)]
        sv, rv = variables(space, "s"), variables(reduce, "r")
        acc = Var(self.fresh("sum"), dtype)
        init_e = as_expr(init(sv), np.dtype(dtype))
        term_e = as_expr(term(sv, rv), np.dtype(dtype))
        block = Block()
        with self._into(block):
            store(sv, acc)
        return Contraction([(v, int(e)) for v, e in zip(sv, space) if isinstance(v, Var)],
                           [(v, int(e)) for v, e in zip(rv, reduce) if isinstance(v, Var)],
                           init_e, term_e, acc, block)

    @contextmanager
    def scheduled(self, contraction: Contraction | None) -> Iterator[None]:
        """Statements emitted inside form a `kir.Scheduled` block annotated
        with `contraction` (the same computation, described for renderers
        that tile it); with None, they are emitted as they are."""
        if contraction is None:
            yield
            return
        block = Scheduled(contraction=contraction)
        self.emit(block)
        with self._into(block):
            yield

    # ------------------------------------------------------------- memory
    def load(self, buf: Buffer, idx: Sequence) -> Expr:
        hook = self._load_hooks.get(buf)
        if hook is not None:
            return hook([as_expr(i) for i in idx])
        if buf.const is not None and buf.numel == 1:
            return Const(buf.const.reshape(-1)[0], buf.dtype)
        return Load(buf, [as_expr(i) for i in idx])

    def load_broadcast(self, buf: Buffer, out_idx: Sequence[Expr]) -> Expr:
        """Load `buf` at the index of an output it broadcasts to (numpy rules)."""
        lead = len(out_idx) - buf.rank
        return self.load(buf, [Const(0, kir.INDEX) if d == 1 else out_idx[lead + i]
                               for i, d in enumerate(buf.shape)])

    def store(self, buf: Buffer, idx: Sequence, value, partial: bool = False, count=None) -> None:
        """``buf[idx] = value``. ``partial``: not the op's result yet (an
        accumulator kept in the output), so a fused epilogue must not see it.
        A vector `value` writes consecutive elements along the last axis
        (only the first `count` when given); it must be partial if `buf`
        may have an epilogue (they are scalar: run them with ``finish``)."""
        value = as_expr(value, buf.dtype)
        if value.dtype != kir.compute_dtype(buf.dtype):
            raise TypeError(f"store of {value.dtype} into {buf.name} ({buf.dtype})")
        hook = None if partial else self._store_hooks.get(buf)
        if hook is not None:
            if value.lanes > 1:
                raise TypeError(f"a vector store to {buf.name} must be partial (it has an epilogue)")
            hook([as_expr(i) for i in idx], value)
            return
        if value.lanes > 1 and buf.rank and buf.strides[-1] != 1:
            raise ValueError(f"vector store to {buf.name}: its last axis is not contiguous")
        self.emit(Store(buf, tuple(as_expr(i) for i in idx), value,
                        None if count is None or value.lanes == 1 else as_expr(count)))

    def finish(self, buf: Buffer, prefix: Sequence, extents: Sequence, start: Sequence | None = None) -> None:
        """The elements ``buf[*prefix, j...]`` (j over `extents`, from `start`
        (zeros by default)), written so far with partial stores, are final: a
        fused epilogue runs over them here, while they are hot in cache.
        Emits nothing when `buf` has none."""
        if buf not in self._store_hooks:
            return
        start = [0] * len(extents) if start is None else list(start)
        with ExitStack() as stack:
            rest = [stack.enter_context(self.loop(as_expr(s) + e, f"e{d}", start=s))
                    for d, (s, e) in enumerate(zip(start, extents))]
            idx = [as_expr(i) for i in prefix] + list(rest)
            self.store(buf, idx, Load(buf, idx))

    def has_hooks(self, buf: Buffer) -> bool:
        """Whether loads or stores of `buf` are rewritten (a fused prologue or epilogue)."""
        return buf in self._load_hooks or buf in self._store_hooks

    # ------------------------------------------------------------ vectors
    def lanes(self, dtype) -> int:
        """Lanes of one vector register of `dtype` on the target (1: none)."""
        return self.target.lanes(dtype)

    def can_vload(self, buf: Buffer) -> bool:
        """Whether `buf` may be read with vector loads (memory of a compute type,
        contiguous last axis)."""
        return buf not in self._load_hooks and kir.compute_dtype(buf.dtype) == buf.dtype and \
            (buf.rank == 0 or buf.strides[-1] == 1)

    def vload(self, buf: Buffer, idx: Sequence, lanes: int, count=None) -> Expr:
        """``buf[idx[:-1], idx[-1] : idx[-1]+lanes]`` as one vector (the first
        `count` lanes only, the rest 0, when given)."""
        if buf in self._load_hooks:
            raise TypeError(f"vector load of {buf.name}, whose loads are rewritten (a fused prologue)")
        return Load(buf, [as_expr(i) for i in idx], lanes, None if count is None else as_expr(count))

    @staticmethod
    def broadcast(x, lanes: int) -> Expr:
        return kir.broadcast(x, lanes)

    @staticmethod
    def extract(x: Expr, lane) -> Expr:
        return Extract(x, as_expr(lane))

    @staticmethod
    def reduce(op: str, x: Expr) -> Expr:
        """Fold the lanes of `x` with "add", "max" or "min"."""
        return x if x.lanes == 1 else Reduce(op, x)

    @staticmethod
    def fma(a, b, c) -> Expr:
        """``a * b + c``, which the renderer may fuse into one instruction."""
        a, b = kir._pair(a, b)
        prod = Binary("mul", a, b, reassoc=True)
        prod, c = kir._pair(prod, c)
        return Binary("add", prod, c, reassoc=True)

    def on_load(self, buf: Buffer, hook: Callable[[list[Expr]], Expr]) -> None:
        """Loads of `buf` call ``hook(idx)`` for their value instead of reading memory."""
        self._load_hooks[buf] = hook

    def on_store(self, buf: Buffer, hook: Callable[[list[Expr], Expr], None]) -> None:
        """Final (non-partial) stores to `buf` call ``hook(idx, value)`` instead."""
        self._store_hooks[buf] = hook

    def compose(self, body, ins: Sequence[Buffer], outs: Sequence[Buffer]) -> None:
        """Lower a fused group (an IR sub-graph whose inputs and outputs live in
        `ins` and `outs`) into this kernel by composing its ops' own formulas
        and loop nests; see codegen/fuse.py."""
        from .fuse import lower_group
        lower_group(self, body, list(ins), list(outs))

    def scratch(self, dtype, shape: Sequence[int], name: str = "tmp") -> Buffer:
        """Kernel-private memory, placed in the arena for the kernel's duration."""
        b = Buffer(self.fresh(name), dtype, shape)
        self.kernel.scratch.append(b)
        return b

    # ------------------------------------------------------------ scalars
    def local(self, init, name: str = "acc", dtype=None) -> Var:
        init = as_expr(init, np.dtype(dtype) if dtype is not None else None)
        var = Var(self.fresh(name), init.dtype, init.lanes)
        self.kernel.locals.append(var)
        self.emit(Assign(var, init))
        return var

    def assign(self, var: Var, value) -> None:
        self.emit(Assign(var, as_expr(value, var.dtype)))

    def accumulate(self, var: Var, value, op: str = "add") -> None:
        """``var = op(var, value)`` as a reduction the renderer may reorder."""
        self.emit(Assign(var, Binary(op, var, as_expr(value, var.dtype), reassoc=True)))

    def check(self, cond, message: str) -> None:
        """At run time, report `message` (and stop the model) if `cond` is false."""
        self.kernel.messages.append(message)
        self.emit(Check(as_expr(cond), len(self.kernel.messages) - 1))

    # -------------------------------------------------------- expressions
    @staticmethod
    def const(value, dtype) -> Const:
        return Const(value, dtype)

    @staticmethod
    def zero(dtype) -> Const:
        return Const(0, dtype)

    @staticmethod
    def one(dtype) -> Const:
        return Const(1, dtype)

    @staticmethod
    def cast(x, dtype) -> Expr:
        return kir.cast(x, dtype)

    @staticmethod
    def select(cond, a, b) -> Expr:
        return kir.select(cond, a, b)

    @staticmethod
    def max(a, b) -> Expr:
        return kir.binary("max", a, b)

    @staticmethod
    def min(a, b) -> Expr:
        return kir.binary("min", a, b)

    @staticmethod
    def pow(a, b) -> Expr:
        return kir.binary("pow", a, b)

    @staticmethod
    def rem(a, b) -> Expr:
        """Remainder with the sign of the dividend (C's fmod / %)."""
        return kir.binary("rem", a, b)

    @staticmethod
    def xor(a, b) -> Expr:
        return kir.binary("xor", a, b)

    @staticmethod
    def shl(a, b) -> Expr:
        return kir.binary("shl", a, b)

    @staticmethod
    def shr(a, b) -> Expr:
        return kir.binary("shr", a, b)

    @staticmethod
    def eq(a, b) -> Expr:
        return kir.cmp("eq", a, b)

    @staticmethod
    def ne(a, b) -> Expr:
        return kir.cmp("ne", a, b)

    @staticmethod
    def clamp(x, lo, hi) -> Expr:
        return kir.binary("min", kir.binary("max", x, lo), hi)

    @staticmethod
    def div(a, b) -> Expr:
        """C division (truncating): for index math known to be non-negative."""
        return kir.binary("div", a, b)

    @staticmethod
    def floordiv(a, b) -> Expr:
        return kir.floordiv(a, b)

    @staticmethod
    def floormod(a, b) -> Expr:
        return kir.floormod(a, b)


def _unary_helper(op: str):
    def helper(x) -> Expr:
        return kir.unary(op, x)
    helper.__name__ = op
    helper.__doc__ = f"``{op}(x)`` elementwise."
    return staticmethod(helper)


for _op in sorted(kir.UNARY_OPS):
    setattr(KernelBuilder, _op if _op != "not" else "not_", _unary_helper(_op))
