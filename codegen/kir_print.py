"""Readable text for kernel IR (`dlc inspect --stage kernels`, dumps, errors)."""
from __future__ import annotations

from .kir import (Assign, Binary, Block, Broadcast, Buffer, Cast, Check, Cmp, Const, Expr, Extract, If,
                  Kernel, Load, Loop, Reduce, Select, Store, Unary, Var)

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "rem": "%", "and": "&", "or": "|",
          "xor": "^", "shl": "<<", "shr": ">>", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "eq": "==", "ne": "!="}


def format_expr(e: Expr, names: dict | None = None) -> str:
    """`names`: {Buffer or Var: name} to print instead of their own."""
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Var):
        return _name(e, names)
    if isinstance(e, Load):
        return f"{_name(e.buf, names)}[{_index(e.idx, e.lanes, e.count, names)}]"
    if isinstance(e, Broadcast):
        return f"broadcast{e.lanes}({format_expr(e.x, names)})"
    if isinstance(e, Extract):
        return f"{format_expr(e.x, names)}.lane({format_expr(e.lane, names)})"
    if isinstance(e, Reduce):
        return f"reduce_{e.op}({format_expr(e.x, names)})"
    if isinstance(e, Unary):
        return f"{e.op}({format_expr(e.x, names)})"
    if isinstance(e, (Binary, Cmp)):
        if e.op in _INFIX:
            return f"({format_expr(e.a, names)} {_INFIX[e.op]} {format_expr(e.b, names)})"
        return f"{e.op}({format_expr(e.a, names)}, {format_expr(e.b, names)})"
    if isinstance(e, Select):
        return f"select({format_expr(e.cond, names)}, {format_expr(e.a, names)}, {format_expr(e.b, names)})"
    if isinstance(e, Cast):
        return f"{e.to.name}({format_expr(e.x, names)})"
    raise TypeError(type(e))


def _name(b: Buffer | Var, names: dict | None) -> str:
    return b.name if names is None else names.setdefault(b, f"%{len(names)}")


def _index(idx, lanes: int = 1, count=None, names: dict | None = None) -> str:
    parts = [format_expr(i, names) for i in idx]
    if lanes > 1:   # a vector: lanes consecutive elements of the last axis
        parts[-1] += f":+{lanes}" + (f" (first {format_expr(count, names)})" if count is not None else "")
    return ", ".join(parts)


def _stmt_lines(s, ind: str, k: Kernel, names: dict | None = None) -> list[str]:
    if isinstance(s, Block):
        return [ln for x in s.stmts for ln in _stmt_lines(x, ind, k, names)]
    if isinstance(s, Loop):
        kw = "parallel for" if s.parallel else "for"
        head = f"{ind}{kw} {_name(s.var, names)} in {format_expr(s.start, names)}..{format_expr(s.stop, names)}:"
        return [head] + _stmt_lines(s.body, ind + "  ", k, names)
    if isinstance(s, Store):
        return [f"{ind}{_name(s.buf, names)}[{_index(s.idx, s.value.lanes, s.count, names)}] = "
                f"{format_expr(s.value, names)}"]
    if isinstance(s, Assign):
        return [f"{ind}{_name(s.var, names)} = {format_expr(s.value, names)}"]
    if isinstance(s, If):
        out = [f"{ind}if {format_expr(s.cond, names)}:"] + _stmt_lines(s.then, ind + "  ", k, names)
        if s.orelse is not None and s.orelse.stmts:
            out += [f"{ind}else:"] + _stmt_lines(s.orelse, ind + "  ", k, names)
        return out
    if isinstance(s, Check):
        return [f"{ind}check {format_expr(s.cond, names)}  # {k.messages[s.code]}"]
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


def kernel_signature(k: Kernel) -> str:
    """The kernel's text without its name and sources, its buffers and
    variables numbered instead of named, the buffers described by layout
    (dtype, shape, strides, offset): two kernels with the same signature
    compile to the same code (they differ only in the memory they run on)."""
    bufs = k.params + k.scratch
    names = {b: f"%{i}" for i, b in enumerate(bufs)}
    lines = [f"%{i}: {b.dtype.str}{list(b.shape)} strides {list(b.strides)} offset {b.offset}"
             for i, b in enumerate(bufs)]
    lines += [f"local {_name(v, names)}: {v.dtype.name}x{v.lanes}" for v in k.locals]
    return "\n".join(lines + _stmt_lines(k.body, "", k, names))
