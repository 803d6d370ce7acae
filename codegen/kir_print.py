"""Readable text for kernel IR (`dlc inspect --stage kernels`, dumps, errors)."""
from __future__ import annotations

from .kir import (Assign, Binary, Block, Broadcast, Buffer, Cast, Check, Cmp, Const, Expr, Extract, If,
                  Kernel, Load, Loop, Reduce, Select, Store, Unary, Var)

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "rem": "%", "and": "&", "or": "|",
          "xor": "^", "shl": "<<", "shr": ">>", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "eq": "==", "ne": "!="}


def format_expr(e: Expr) -> str:
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Load):
        return f"{e.buf.name}[{_index(e.idx, e.lanes, e.count)}]"
    if isinstance(e, Broadcast):
        return f"broadcast{e.lanes}({format_expr(e.x)})"
    if isinstance(e, Extract):
        return f"{format_expr(e.x)}.lane({format_expr(e.lane)})"
    if isinstance(e, Reduce):
        return f"reduce_{e.op}({format_expr(e.x)})"
    if isinstance(e, Unary):
        return f"{e.op}({format_expr(e.x)})"
    if isinstance(e, (Binary, Cmp)):
        if e.op in _INFIX:
            return f"({format_expr(e.a)} {_INFIX[e.op]} {format_expr(e.b)})"
        return f"{e.op}({format_expr(e.a)}, {format_expr(e.b)})"
    if isinstance(e, Select):
        return f"select({format_expr(e.cond)}, {format_expr(e.a)}, {format_expr(e.b)})"
    if isinstance(e, Cast):
        return f"{e.to.name}({format_expr(e.x)})"
    raise TypeError(type(e))


def _index(idx, lanes: int = 1, count=None) -> str:
    parts = [format_expr(i) for i in idx]
    if lanes > 1:   # a vector: lanes consecutive elements of the last axis
        parts[-1] += f":+{lanes}" + (f" (first {format_expr(count)})" if count is not None else "")
    return ", ".join(parts)


def _stmt_lines(s, ind: str, k: Kernel) -> list[str]:
    if isinstance(s, Block):
        return [ln for x in s.stmts for ln in _stmt_lines(x, ind, k)]
    if isinstance(s, Loop):
        kw = "parallel for" if s.parallel else "for"
        head = f"{ind}{kw} {s.var.name} in {format_expr(s.start)}..{format_expr(s.stop)}:"
        return [head] + _stmt_lines(s.body, ind + "  ", k)
    if isinstance(s, Store):
        return [f"{ind}{s.buf.name}[{_index(s.idx, s.value.lanes, s.count)}] = {format_expr(s.value)}"]
    if isinstance(s, Assign):
        return [f"{ind}{s.var.name} = {format_expr(s.value)}"]
    if isinstance(s, If):
        out = [f"{ind}if {format_expr(s.cond)}:"] + _stmt_lines(s.then, ind + "  ", k)
        if s.orelse is not None and s.orelse.stmts:
            out += [f"{ind}else:"] + _stmt_lines(s.orelse, ind + "  ", k)
        return out
    if isinstance(s, Check):
        return [f"{ind}check {format_expr(s.cond)}  # {k.messages[s.code]}"]
    raise TypeError(type(s))


def _buf(b: Buffer) -> str:
    return f"{b.name}: {b.dtype.name}{list(b.shape)}"


def format_kernel(k: Kernel) -> str:
    lines = [f"kernel {k.name}({', '.join(_buf(b) for b in k.params)}):"]
    if k.sources:
        lines.append(f"  # {', '.join(k.sources)}")
    for b in k.scratch:
        lines.append(f"  scratch {_buf(b)}")
    for v in k.locals:
        lines.append(f"  local {v.name}: {v.dtype.name}" + (f"x{v.lanes}" if v.lanes > 1 else ""))
    lines += _stmt_lines(k.body, "  ", k)
    return "\n".join(lines)
