"""Kernel-IR expressions and statements as Python source for Numba-CUDA.

Numba types the generated text, so the text spells out every dtype: each
expression evaluates to exactly its kernel-IR dtype, on the GPU (where
numba would otherwise widen ``int32 + int32`` to int64, or ``float32 *
int`` to float64) and under numba's simulator (where the same text runs as
Python on numpy scalars). Rules:

- index arithmetic (int64) is plain Python operators;
- other integer results are wrapped in their numpy type (``np.int32(a + b)``:
  wraps around like LLVM); integer division and remainder have C semantics
  (truncation; x/0 is 0, as in the CPU renderer);
- float32/float64 arithmetic is plain operators; math functions are
  ``np.float32(math.exp(x))``;
- float16, the one storage-only type (see kir) the CUDA target supports,
  exists only in memory: a load widens (``np.float32(x[i])``), a store and a
  Cast to it round (``np.float16(v)``); the others (bfloat16, float8, int4,
  ...) are refused by the renderer;
- what needs more than an operator (C division, NaN-propagating min/max,
  rounding, saturating float-to-int casts) is written inline with
  temporaries, never as device functions: numba compiles a kernel without
  device functions to PTX without a GPU (`cuda.compile_ptx`), which lets
  the tests type-check every kernel without one;
- constants other than int64 and bool are module-level numpy scalars
  (numba freezes them into the code);
- a subexpression used twice within one statement becomes a temporary.

This module only writes text; it never imports numba.
"""
from __future__ import annotations

import builtins
import keyword
import re

import numpy as np

from .. import kir
from ..kir import (Assign, Binary, Block, Buffer, Cast, Check, Cmp, Const, Expr, If, Load, Loop, Select,
                   Store, Unary, Var)

_MATH = {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "sinh", "cosh",
         "asinh", "acosh", "atanh", "erf", "log1p", "expm1"}
_ROUNDING = {"floor", "ceil", "trunc", "round"}
_PYOP = {"add": "+", "sub": "-", "mul": "*", "and": "&", "or": "|", "xor": "^", "shl": "<<", "shr": ">>",
         "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def np_name(dt: np.dtype) -> str:
    dt = np.dtype(dt)
    return "np.bool_" if dt.kind == "b" else f"np.{dt.name}"


def identifier(name: str) -> str:
    """A Python identifier for a kernel-IR name; never starts with ``_``
    (names starting with ``_`` belong to the generated code)."""
    s = re.sub(r"\W", "_", name) or "v"
    if s[0].isdigit() or s[0] == "_":
        s = "v" + s
    if keyword.iskeyword(s) or s in ("np", "math", "cuda") or hasattr(builtins, s):
        s += "_"
    return s


class Namer:
    def __init__(self):
        self.names: dict[object, str] = {}
        self.used: set[str] = set()
        self.counter = 0

    def __call__(self, obj, hint: str) -> str:
        got = self.names.get(obj)
        if got is None:
            base = identifier(hint)
            got, i = base, 0
            while got in self.used:
                i += 1
                got = f"{base}_{i}"
            self.used.add(got)
            self.names[obj] = got
        return got

    def temp(self, prefix: str = "_t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


# -------------------------------------------------------------- constants
class Consts:
    """Module-level numpy scalars the text names (``_c3``)."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self._by_key: dict[tuple, str] = {}

    def __call__(self, value, dtype) -> str:
        dt = np.dtype(dtype)
        v = dt.type(value)
        key = (dt.str, repr(v.item()) if dt.kind != "f" else repr(float(v)), np.signbit(v) if dt.kind == "f" else 0)
        name = self._by_key.get(key)
        if name is None:
            name = self._by_key[key] = f"_c{len(self._by_key)}"
            self.values[name] = v
        return name


# ------------------------------------------------------------- expressions
def _children(e: Expr) -> tuple:
    if isinstance(e, Load):
        return e.idx
    if isinstance(e, (Unary, Cast)):
        return (e.x,)
    if isinstance(e, (Binary, Cmp)):
        return (e.a, e.b)
    if isinstance(e, Select):
        return (e.cond, e.a, e.b)
    return ()


def flat_offset(buf: Buffer, idx) -> Expr:
    off: Expr = Const(buf.offset, kir.INDEX)
    for i, st, d in zip(idx, buf.strides, buf.shape):
        if d != 1:
            off = off + kir.as_expr(i) * st
    return off


_ATOM = re.compile(r"^(-?\w+|\(-\d+\))$")


class ExprWriter:
    """Writes expressions as text. ``names`` maps Vars and Buffers to
    identifiers. Temporaries go to `lines` (emit them before the statement
    that uses the text; `prepare` starts a statement)."""

    def __init__(self, names: dict, consts: Consts, namer: Namer):
        self.names = names
        self.consts = consts
        self.namer = namer
        self._lines: list[str] = []
        self._done: dict[int, str] = {}
        self._shared: set = set()
        self._keep: list = []

    def take_lines(self) -> list[str]:
        out, self._lines = self._lines, []
        return out

    def tmp(self, text: str) -> str:
        """`text` as an atom: itself if it is a name or a literal, else a temporary."""
        if _ATOM.match(text):
            return text
        t = self.namer.temp()
        self._lines.append(f"{t} = {text}")
        return t

    # One statement's expressions: temporaries for shared subexpressions.
    def prepare(self, roots) -> list[str]:
        """Call before `text` for the expressions of one statement; returns
        the lines that define temporaries (emit them first)."""
        counts: dict[int, int] = {}
        keep = []

        def visit(e):
            n = counts.get(id(e), 0)
            counts[id(e)] = n + 1
            if n == 0:
                keep.append(e)
                for c in _children(e):
                    visit(c)
                if isinstance(e, Binary) and e.op in ("min", "max") and e.dtype.kind in "iu":
                    for c in _children(e):   # written twice in the text: a temporary
                        counts[id(c)] += 1
        for r in roots:
            if r is not None:
                visit(r)
        self._shared = {i for i, n in counts.items() if n > 1}
        self._done = {}
        self._keep = keep   # keeps ids valid
        self._lines = []
        for r in roots:
            if r is not None:
                self.text(r)
        return self.take_lines()

    def text(self, e: Expr) -> str:
        i = id(e)
        got = self._done.get(i)
        if got is not None:
            return got
        s = self._text(e)
        self._keep.append(e)   # (offsets are made here: keep them alive, their ids are keys)
        if i in self._shared and not isinstance(e, (Const, Var)):
            t = self.namer.temp()
            self._lines.append(f"{t} = {s}")
            s = t
        self._done[i] = s
        return s

    def const(self, value, dt) -> str:
        dt = np.dtype(dt)
        if dt.kind == "b":
            return "True" if value else "False"
        if dt == kir.INDEX:
            return str(int(value)) if int(value) >= 0 else f"({int(value)})"
        return self.consts(value, dt)

    def _text(self, e: Expr) -> str:
        if isinstance(e, Const):
            return self.const(e.value, e.dtype)
        if isinstance(e, Var):
            return self.names[e]
        if isinstance(e, Load):
            v = f"{self.names[e.buf]}[{self.text(flat_offset(e.buf, e.idx))}]"
            return f"np.float32({v})" if e.buf.dtype == np.float16 else v
        if isinstance(e, Unary):
            return self.unary(e.op, self.text(e.x), e.x.dtype)
        if isinstance(e, Binary):
            return self.binary(e.op, self.text(e.a), self.text(e.b), e.a.dtype)
        if isinstance(e, Cmp):
            return f"({self.text(e.a)} {_PYOP[e.op]} {self.text(e.b)})"
        if isinstance(e, Select):
            return f"({self.text(e.a)} if {self.text(e.cond)} else {self.text(e.b)})"
        if isinstance(e, Cast):
            if e.to == np.float16:   # rounded once (a float64 is not rounded to float32 first)
                x = self.text(e.x) if e.x.dtype.kind == "f" else self.cast(self.text(e.x), e.x.dtype, e.dtype)
                return f"np.float32(np.float16({x}))"
            return self.cast(self.text(e.x), e.x.dtype, e.dtype)
        raise TypeError(f"cannot render {type(e).__name__}")

    # ------------------------------------------------------------ ops
    def unary(self, op: str, x: str, dt: np.dtype) -> str:
        T = np_name(dt)
        if dt.kind == "f":
            if op == "neg":
                return f"(-{x})"
            if op == "abs":
                return f"{T}(abs({x}))"
            if op == "isnan":
                return f"({x} != {x})"
            if op in _MATH:
                return f"{T}(math.{op}({x}))"
            if op in _ROUNDING:
                return self.rounding(op, self.tmp(x), dt)
            raise TypeError(f"unary {op} on {dt}")
        if dt.kind == "b":
            if op == "not":
                return f"(not {x})"
            if op in ("abs", "floor", "ceil", "round", "trunc"):
                return x
            if op == "isnan":
                return "False"
            if op == "neg":
                return x      # -True wraps to True in one bit
            raise TypeError(f"unary {op} on bool")
        if op == "neg":
            return f"(-{x})" if dt == kir.INDEX else f"{T}(-{x})"
        if op == "abs":
            return x if dt.kind == "u" else f"{T}(abs({x}))"
        if op == "not":
            return f"{T}(~{x})"
        if op == "isnan":
            return "False"
        if op in _ROUNDING:
            return x
        raise TypeError(f"unary {op} on {dt}")

    def binary(self, op: str, a: str, b: str, dt: np.dtype) -> str:
        T = np_name(dt)
        if dt.kind == "f":
            if op in ("add", "sub", "mul"):
                return f"({a} {_PYOP[op]} {b})"
            if op == "div":   # (wrapped: the simulator divides numpy scalars by zero with a Python float result otherwise)
                return f"{T}({a} / {b})"
            if op == "rem":
                return f"{T}(math.fmod({a}, {b}))"
            if op in ("min", "max"):
                a, b = self.tmp(a), self.tmp(b)   # NaN wins, as LLVM's minimum/maximum
                return f"({a} if ({a} != {a} or {a} {'<' if op == 'min' else '>'} {b}) else {b})"
            if op == "pow":
                return f"{T}(math.pow({a}, {b}))"
            raise TypeError(f"binary {op} on {dt}")
        if dt.kind == "b":
            if op in ("and", "min", "mul"):
                return f"({a} & {b})"
            if op in ("or", "max", "add"):
                return f"({a} | {b})"
            if op in ("xor", "sub", "ne"):
                return f"({a} ^ {b})"
            raise TypeError(f"binary {op} on bool")
        index = dt == kir.INDEX
        if op in ("add", "sub", "mul", "and", "or", "xor", "shl", "shr"):
            r = f"({a} {_PYOP[op]} {b})"
            return r if index and op in ("add", "sub", "mul") else f"{T}{r}"
        if op in ("div", "rem"):
            return self.int_divide(op, a, b, dt)
        if op in ("min", "max"):
            a, b = self.tmp(a), self.tmp(b)
            return f"({a} if {a} {'<' if op == 'min' else '>'} {b} else {b})"
        if op == "pow":
            d = self.tmp(f"np.float64(math.pow(np.float64({a}), np.float64({b})))")
            return self.saturate(d, dt)
        raise TypeError(f"binary {op} on {dt}")

    def int_divide(self, op: str, a: str, b: str, dt: np.dtype) -> str:
        """C division and remainder (truncating; x/0 and x%0 are 0; INT_MIN/-1 wraps)."""
        T = np_name(dt)
        a = self.tmp(a)
        if re.fullmatch(r"\d+", b) and int(b) > 0:   # a positive constant divisor (index math)
            if op == "div":
                r = f"({a} // {b} if {a} >= 0 else -((-{a}) // {b}))"
            else:
                r = f"({a} % {b} if {a} >= 0 else -((-{a}) % {b}))"
            return r if dt == kir.INDEX else f"{T}{r}"
        b = self.tmp(b)
        safe = self.tmp(f"({b} if {b} != 0 else 1)")
        if dt.kind == "u":
            q = f"{a} // {safe}" if op == "div" else f"{a} % {safe}"
            return f"{T}(0 if {b} == 0 else {q})"
        signs = f"({a} < 0) != ({b} < 0)"
        if op == "div":
            q = self.tmp(f"{a} // {safe}")
            return (f"{T}(0 if {b} == 0 else (-{a} if {b} == -1 else "
                    f"({q} + 1 if ({a} % {safe} != 0 and {signs}) else {q})))")
        r = self.tmp(f"{a} % {safe}")
        return f"{T}(0 if ({b} == 0 or {b} == -1) else ({r} - {b} if ({r} != 0 and {signs}) else {r}))"

    def rounding(self, op: str, x: str, dt: np.dtype) -> str:
        """floor/ceil/trunc/round (half to even) without leaving the float type:
        values of magnitude 2**mantissa or more, inf and nan are integral already."""
        T = np_name(dt)
        one, zero = self.const(1, dt), self.const(0, dt)
        big = self.const(2.0 ** np.finfo(dt).nmant, dt)
        small = self.tmp(f"(abs({x}) < {big})")
        xs = self.tmp(f"({x} if {small} else {zero})")
        r = self.tmp(f"{T}(math.fmod({xs}, {one}))")
        t = self.tmp(f"{T}({xs} - {r})")
        if op == "trunc":
            v = t
        elif op == "floor":
            v = f"({T}({t} - {one}) if {r} < {zero} else {t})"
        elif op == "ceil":
            v = f"({T}({t} + {one}) if {r} > {zero} else {t})"
        else:
            half, two = self.const(0.5, dt), self.const(2, dt)
            d = self.tmp(f"abs({r})")
            away = f"({T}({t} + {one}) if {r} > {zero} else {T}({t} - {one}))"
            v = f"({away} if ({d} > {half} or ({d} == {half} and math.fmod({t}, {two}) != {zero})) else {t})"
        return f"({v} if {small} else {x})"

    def saturate(self, d: str, dt: np.dtype) -> str:
        """The float64 `d` as integer dtype `dt`: truncated, saturating, nan -> 0 (LLVM's fpto*i.sat)."""
        T = np_name(dt)
        info = np.iinfo(dt)
        lo = repr(float(info.min)) if info.min < 0 else "-1.0"
        hi = repr(float(2.0 ** (info.bits - (1 if info.min < 0 else 0))))
        return (f"({T}(0) if {d} != {d} else ({T}({int(info.min)}) if {d} <= {lo} else "
                f"({T}({int(info.max)}) if {d} >= {hi} else {T}({d}))))")

    def cast(self, x: str, src: np.dtype, dst: np.dtype) -> str:
        src, dst = np.dtype(src), np.dtype(dst)
        if src == dst:
            return x
        if dst.kind == "b":
            return f"({x} != 0)"
        if src.kind == "b":
            return f"({self.const(1, dst)} if {x} else {self.const(0, dst)})"
        if src.kind == "f" and dst.kind in "iu":
            return self.saturate(self.tmp(f"np.float64({x})"), dst)
        return f"{np_name(dst)}({x})"


# -------------------------------------------------------------- statements
class StmtWriter:
    """Writes kernel-IR statements as indented lines. ``store_guard``: a
    condition text every Store is put under (a warp's lane 0)."""

    def __init__(self, ew: ExprWriter, status: str | None, tag: str | None):
        self.ew = ew
        self.status = status
        self.tag = tag
        self.store_guard: str | None = None

    def block(self, b: Block, ind: str, out: list[str]) -> None:
        n = len(out)
        for s in b.stmts:
            self.stmt(s, ind, out)
        if len(out) == n:
            out.append(f"{ind}pass")

    def exprs(self, roots, ind: str, out: list[str]) -> None:
        out.extend(ind + ln for ln in self.ew.prepare(roots))

    def stmt(self, s, ind: str, out: list[str]) -> None:
        ew = self.ew
        if isinstance(s, Block):
            for x in s.stmts:
                self.stmt(x, ind, out)
        elif isinstance(s, Loop):
            self.exprs([s.start, s.stop], ind, out)
            v = ew.names[s.var]
            start, stop = ew.text(s.start), ew.text(s.stop)
            rng = f"range({stop})" if start == "0" else f"range({start}, {stop})"
            out.append(f"{ind}for {v} in {rng}:")
            self.block(s.body, ind + "    ", out)
        elif isinstance(s, Store):
            off = flat_offset(s.buf, s.idx)
            self.exprs([off, s.value], ind, out)
            value = ew.text(s.value)
            if s.buf.dtype == np.float16:
                value = f"np.float16({value})"
            line = f"{ew.names[s.buf]}[{ew.text(off)}] = {value}"
            if self.store_guard:
                out.append(f"{ind}if {self.store_guard}:")
                out.append(f"{ind}    {line}")
            else:
                out.append(ind + line)
        elif isinstance(s, Assign):
            self.exprs([s.value], ind, out)
            out.append(f"{ind}{ew.names[s.var]} = {ew.text(s.value)}")
        elif isinstance(s, If):
            self.exprs([s.cond], ind, out)
            out.append(f"{ind}if {ew.text(s.cond)}:")
            self.block(s.then, ind + "    ", out)
            if s.orelse is not None and s.orelse.stmts:
                out.append(f"{ind}else:")
                self.block(s.orelse, ind + "    ", out)
        elif isinstance(s, Check):
            self.exprs([s.cond], ind, out)
            out.append(f"{ind}if not {ew.text(s.cond)}:")
            out.append(f"{ind}    cuda.atomic.cas({self.status}, 0, 0, np.int32({self.tag} + {s.code + 1}))")
        else:
            raise TypeError(f"cannot render {type(s).__name__}")
