"""Render kernel IR into LLVM IR (llvmlite.ir), one function per kernel.

Names follow the kernel IR: a kernel ``relu_3`` is ``@relu_3``, its buffer
parameters keep their names, loop blocks are ``i0.cond``/``i0.body``/
``i0.end``. Buffer parameters are ``noalias`` (what lets loops vectorize
without run-time overlap checks) unless the caller says they may overlap
another parameter (an in-place update).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...ir import dtypes
from .. import kir
from . import storage, vmath
from ..kir import (Assign, Binary, Block, Broadcast, Buffer, Cast, Check, Cmp, Const, Expr, Extract, If,
                   Kernel, Load, Loop, Reduce, Select, Store, Unary, Var)

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
F32 = np.dtype("float32")
PTR = ir.PointerType()
VOID = ir.VoidType()


def value_type(dt: np.dtype, lanes: int = 1) -> ir.Type:
    """LLVM type of a value in registers (a vector of `lanes` > 1)."""
    dt = np.dtype(dt)
    if dt.kind == "b":
        t = I1
    elif dt.kind == "f":
        t = {2: ir.HalfType(), 4: ir.FloatType(), 8: ir.DoubleType()}[dt.itemsize]
    else:
        t = ir.IntType(dt.itemsize * 8)
    return ir.VectorType(t, lanes) if lanes > 1 else t


def memory_type(dt: np.dtype) -> ir.Type:
    """LLVM type of a value in memory (bool is one byte, as in numpy; the
    storage-only types are in storage.py)."""
    dt = np.dtype(dt)
    return storage.memory_type(dt) or (I8 if dt.kind == "b" else value_type(dt))


_LLVM_MATH = {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "sinh",
              "cosh", "floor", "ceil", "trunc"}
_LIBM = {"erf", "asinh", "acosh", "atanh", "log1p", "expm1"}
_FCMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


# ------------------------------------------------------- parallel loops
# A loop marked parallel whose estimated work is at least OUTLINE_WORK
# (elementary operations, see _work) is outlined into its own function and
# run through the thread pool (pool.py) in chunks of at least TASK_WORK.
OUTLINE_WORK = 500_000
TASK_WORK = 100_000
THREADS_GLOBAL = "dlc_threads"   # i32 in each module: how many threads its parallel loops may use
_EXPENSIVE = {"exp": 20, "log": 20, "tanh": 25, "erf": 30, "div": 4, "sqrt": 4, "pow": 40}


def _expr_work(e) -> int:
    if isinstance(e, (Const, Var)):
        return 0
    w = 1
    if isinstance(e, Unary):
        w = _EXPENSIVE.get(e.op, 1)
    elif isinstance(e, Binary):
        w = _EXPENSIVE.get(e.op, 1)
    w *= max(e.lanes, 1)
    for a in ("x", "a", "b", "cond", "lane", "count"):
        c = getattr(e, a, None)
        if isinstance(c, Expr):
            w += _expr_work(c)
    if isinstance(e, Load):
        w += sum(_expr_work(i) for i in e.idx)
    return w


def _trip(s: Loop) -> int:
    if isinstance(s.start, Const) and isinstance(s.stop, Const):
        return max(s.stop.value - s.start.value, 0)
    return 16   # bounds that depend on outer loops: a guess


def _work(s) -> int:
    """A static estimate of the operations a statement runs."""
    if isinstance(s, Block):
        return sum(_work(x) for x in s.stmts)
    if isinstance(s, Loop):
        return 2 + _trip(s) * (2 + _work(s.body))
    if isinstance(s, Store):
        return 1 + _expr_work(s.value) + sum(_expr_work(i) for i in s.idx)
    if isinstance(s, Assign):
        return 1 + _expr_work(s.value)
    if isinstance(s, If):
        return 1 + _expr_work(s.cond) + max(_work(s.then), _work(s.orelse) if s.orelse else 0)
    if isinstance(s, Check):
        return 1 + _expr_work(s.cond)
    return 1


def _uses(s, bufs: dict, vars_: dict, assigned: set) -> None:
    """Collect the Buffers and Vars a statement touches (insertion-ordered
    dicts) and the Vars it assigns."""
    def ex(e):
        if isinstance(e, Var):
            vars_[e] = None
        elif isinstance(e, Load):
            bufs[e.buf] = None
            for i in e.idx:
                ex(i)
        for a in ("x", "a", "b", "cond", "lane", "count"):
            c = getattr(e, a, None)
            if isinstance(c, Expr):
                ex(c)

    if isinstance(s, Block):
        for x in s.stmts:
            _uses(x, bufs, vars_, assigned)
    elif isinstance(s, Loop):
        ex(s.start)
        ex(s.stop)
        assigned.add(s.var)
        _uses(s.body, bufs, vars_, assigned)
    elif isinstance(s, Store):
        bufs[s.buf] = None
        for i in s.idx:
            ex(i)
        ex(s.value)
        if s.count is not None:
            ex(s.count)
    elif isinstance(s, Assign):
        vars_[s.var] = None
        assigned.add(s.var)
        ex(s.value)
    elif isinstance(s, If):
        ex(s.cond)
        _uses(s.then, bufs, vars_, assigned)
        if s.orelse is not None:
            _uses(s.orelse, bufs, vars_, assigned)
    elif isinstance(s, Check):
        ex(s.cond)


class _KernelRenderer:
    def __init__(self, module: ir.Module, kernel: Kernel, may_alias=frozenset(), threads: bool = True):
        self.module = module
        self.k = kernel
        self.threads = threads
        self.outlined = 0
        args = [PTR] * (len(kernel.params) + len(kernel.scratch)) + ([PTR] if kernel.messages else [])
        self.fn = ir.Function(module, ir.FunctionType(VOID, args), kernel.name)
        self.fn.linkage = "internal"
        self.fn.attributes.add("noinline")
        self.fn.attributes.add("nounwind")
        self.ptrs: dict[Buffer, ir.Value] = {}
        self.noalias: set[Buffer] = set()
        for i, (arg, buf) in enumerate(zip(self.fn.args, kernel.params + kernel.scratch)):
            arg.name = buf.name
            if i not in may_alias:
                arg.add_attribute("noalias")
                self.noalias.add(buf)
            self.ptrs[buf] = arg
        self.status = self.fn.args[-1] if kernel.messages else None
        if self.status is not None:
            self.status.name = "status"
        entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)
        self.vars: dict[Var, ir.Value] = {}        # loop indices: their phi
        self.slots: dict[Var, ir.Value] = {}       # locals: their alloca
        for v in kernel.locals:
            self.slots[v] = self.b.alloca(value_type(v.dtype, v.lanes), name=v.name + ".slot")
        self.memo: dict[int, tuple[Expr, ir.Value]] = {}

    def render(self) -> ir.Function:
        self.stmt(self.k.body)
        self.b.ret_void()
        return self.fn

    # --------------------------------------------------------- statements
    def stmt(self, s) -> None:
        self.memo = {}
        if isinstance(s, Block):
            for x in s.stmts:
                self.stmt(x)
        elif isinstance(s, Loop):
            self.loop(s)
        elif isinstance(s, Store):
            val = self.expr(s.value)
            lanes = s.value.lanes
            if s.buf.dtype.kind == "b":
                val = self.b.zext(val, ir.VectorType(I8, lanes) if lanes > 1 else I8)
            elif dtypes.is_storage_only(s.buf.dtype):
                assert lanes == 1, "vector store of a storage-only type"
                val = self.narrow(val, s.buf.dtype, s.value.dtype)
            ptr = self.address(s.buf, s.idx)
            if lanes == 1:
                self.b.store(val, ptr)
            elif s.count is None:
                self.b.store(val, ptr, align=s.buf.dtype.itemsize)
            else:
                self.call(f"llvm.masked.store.{self.type_suffix(val.type)}.p0", VOID,
                          [val, ptr, ir.Constant(I32, s.buf.dtype.itemsize), self.lane_mask(lanes, s.count)])
        elif isinstance(s, Assign):
            self.b.store(self.expr(s.value), self.slots[s.var])
        elif isinstance(s, If):
            cond = self.expr(s.cond)
            if s.orelse is not None and s.orelse.stmts:
                with self.b.if_else(cond) as (then, orelse):
                    with then:
                        self.stmt(s.then)
                    with orelse:
                        self.stmt(s.orelse)
            else:
                with self.b.if_then(cond):
                    self.stmt(s.then)
        elif isinstance(s, Check):
            ok = self.expr(s.cond)
            with self.b.if_then(self.b.not_(ok), likely=False):
                self.b.store(ir.Constant(I32, s.code + 1), self.status)
        else:
            raise TypeError(f"cannot render {type(s).__name__}")

    def loop(self, s: Loop) -> None:
        if s.parallel and self.threads and _work(s) >= OUTLINE_WORK and self._private(s):
            self.outline(s)
            return
        name = s.var.name
        start, stop = self.expr(s.start), self.expr(s.stop)
        pre = self.b.block
        cond_bb = self.fn.append_basic_block(f"{name}.cond")
        body_bb = self.fn.append_basic_block(f"{name}.body")
        end_bb = self.fn.append_basic_block(f"{name}.end")
        self.b.branch(cond_bb)
        self.b.position_at_end(cond_bb)
        i = self.b.phi(I64, name=name)
        i.add_incoming(start, pre)
        self.b.cbranch(self.b.icmp_signed("<", i, stop, name=f"{name}.more"), body_bb, end_bb)
        self.b.position_at_end(body_bb)
        self.vars[s.var] = i
        self.stmt(s.body)
        nxt = self.b.add(i, ir.Constant(I64, 1), name=f"{name}.next", flags=("nsw",))
        i.add_incoming(nxt, self.b.block)
        self.b.branch(cond_bb)
        self.b.position_at_end(end_bb)

    # ---------------------------------------------------- parallel loops
    def _private(self, s: Loop) -> bool:
        """Whether no local the loop assigns is used outside it (else its
        iterations carry a value and must stay in order on one thread)."""
        bufs, inside, assigned = {}, {}, set()
        _uses(s, bufs, inside, assigned)
        if not any(v in self.slots for v in assigned):
            return True
        outside: dict = {}
        _uses_except(self.k.body, s, outside)
        return not any(v in outside for v in assigned if v in self.slots)

    def outline(self, s: Loop) -> None:
        """Run loop `s` on the thread pool: its body becomes a function of
        (pointers, outer indices, locals, begin, end); a task function
        unpacks those from a context struct and calls it for a chunk."""
        bufs, used, assigned = {}, {}, set()
        _uses(s.body, bufs, used, assigned)
        bufs = [bf for bf in bufs if bf in self.ptrs]
        outer = [v for v in used if v in self.vars and v is not s.var]
        local = [v for v in used if v in self.slots]
        name = f"{self.k.name}.par{self.outlined}"
        self.outlined += 1
        status = [self.status] if self.status is not None else []
        types = [PTR] * (len(bufs) + len(status)) + [I64] * len(outer) + \
            [value_type(v.dtype, v.lanes) for v in local]
        body_fn = ir.Function(self.module, ir.FunctionType(VOID, types + [I64, I64]), name)
        body_fn.linkage = "internal"
        body_fn.attributes.add("noinline")
        body_fn.attributes.add("nounwind")
        child = _KernelRenderer.__new__(_KernelRenderer)
        child.module, child.k, child.threads, child.outlined, child.fn = self.module, self.k, False, 0, body_fn
        child.ptrs, child.noalias, child.vars, child.slots, child.memo = {}, set(), {}, {}, {}
        args = list(body_fn.args)
        for bf in bufs:
            a = args.pop(0)
            a.name = bf.name
            if bf in self.noalias:
                a.add_attribute("noalias")
                child.noalias.add(bf)
            child.ptrs[bf] = a
        child.status = args.pop(0) if status else None
        child.b = ir.IRBuilder(body_fn.append_basic_block("entry"))
        for v in outer:
            child.vars[v] = args.pop(0)
            child.vars[v].name = v.name
        for v in local:
            a = args.pop(0)
            child.slots[v] = child.b.alloca(a.type, name=v.name + ".slot")
            child.b.store(a, child.slots[v])
        for v in self.k.locals:   # the loop's own locals: private to each chunk
            if v not in child.slots:
                child.slots[v] = child.b.alloca(value_type(v.dtype, v.lanes), name=v.name + ".slot")
        lo, hi = Var(f"{s.var.name}.begin"), Var(f"{s.var.name}.end")
        child.vars[lo], child.vars[hi] = args
        args[0].name, args[1].name = lo.name, hi.name
        child.stmt(Loop(s.var, lo, hi, s.body, False))
        child.b.ret_void()

        # the task: unpack the context, shift the chunk by the loop's start, call the body
        ctx_t = ir.LiteralStructType(types + [I64])
        task = ir.Function(self.module, ir.FunctionType(VOID, [PTR, I64, I64]), name + ".task")
        task.linkage = "internal"
        task.attributes.add("nounwind")
        tb = ir.IRBuilder(task.append_basic_block("entry"))
        ctx, begin, end = task.args
        fields = [tb.load(tb.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, j)], inbounds=True,
                                 source_etype=ctx_t), typ=t) for j, t in enumerate(ctx_t.elements)]
        start = fields.pop()
        tb.call(body_fn, fields + [tb.add(begin, start), tb.add(end, start)])
        tb.ret_void()

        # the caller: fill the context (an alloca in the entry block), hand it to the pool
        b = self.b
        cur = b.block
        b.position_at_start(self.fn.entry_basic_block)
        ctx = b.alloca(ctx_t, name=name + ".ctx")
        b.position_at_end(cur)
        start, stop = self.expr(s.start), self.expr(s.stop)
        values = [self.ptrs[bf] for bf in bufs] + status + [self.vars[v] for v in outer] + \
            [b.load(self.slots[v], name=v.name) for v in local] + [start]
        for j, v in enumerate(values):
            at = b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, j)], inbounds=True, source_etype=ctx_t)
            # (llvmlite types this gep as a pointer to the struct and would refuse a plain store)
            st = ir.instructions.StoreInstr(b.block, v, at)
            st.align = None
            b._insert(st)
        per_iter = max(2 + _work(s.body), 1)
        grain = max(1, -(-TASK_WORK // per_iter))
        n = b.sub(stop, start, name=name + ".n")
        b.call(_pool_entry(self.module), [task, ctx, n, ir.Constant(I64, grain), b.load(_threads_global(self.module),
                                                                                          typ=I32)])

    # -------------------------------------------------------- expressions
    def address(self, buf: Buffer, idx) -> ir.Value:
        off: Expr = kir.Const(buf.offset, kir.INDEX)
        for i, st, d in zip(idx, buf.strides, buf.shape):
            if d != 1:
                off = off + i * st
        return self.b.gep(self.ptrs[buf], [self.expr(off)], inbounds=True,
                          source_etype=memory_type(buf.dtype), name=f"{buf.name}.addr")

    def expr(self, e: Expr) -> ir.Value:
        # keyed by identity; the entry keeps `e` alive so its id is not reused
        hit = self.memo.get(id(e))
        if hit is None:
            hit = self.memo[id(e)] = (e, self._expr(e))
        return hit[1]

    def _expr(self, e: Expr) -> ir.Value:
        b = self.b
        if isinstance(e, Const):
            t = value_type(e.dtype)
            return ir.Constant(t, int(e.value) if e.dtype.kind == "b" else e.value)
        if isinstance(e, Var):
            if e in self.vars:
                return self.vars[e]
            return b.load(self.slots[e], name=e.name)
        if isinstance(e, Load):
            if e.lanes > 1:
                return self.vector_load(e)
            v = b.load(self.address(e.buf, e.idx), typ=memory_type(e.buf.dtype), name=f"{e.buf.name}.v")
            if dtypes.is_storage_only(e.buf.dtype):
                return self.widen(v, e.buf.dtype)
            return b.trunc(v, I1) if e.dtype.kind == "b" else v
        if isinstance(e, Broadcast):
            x = self.expr(e.x)
            vt = ir.VectorType(x.type, e.lanes)
            if isinstance(x, ir.Constant):
                return ir.Constant(vt, [x] * e.lanes)
            one = b.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(I32, 0))
            return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                    ir.Constant(ir.VectorType(I32, e.lanes), [0] * e.lanes))
        if isinstance(e, Extract):
            return b.extract_element(self.expr(e.x), self.expr(e.lane))
        if isinstance(e, Reduce):
            return self.reduce(e.op, self.expr(e.x), e.x.dtype)
        if isinstance(e, Unary):
            return self.unary(e.op, self.expr(e.x), e.x.dtype)
        if isinstance(e, Binary):
            return self.binary(e.op, self.expr(e.a), self.expr(e.b), e.a.dtype, e.reassoc)
        if isinstance(e, Cmp):
            a, c = self.expr(e.a), self.expr(e.b)
            kind = e.a.dtype.kind
            if kind == "f":
                if e.op == "ne":
                    return b.fcmp_unordered("!=", a, c)
                return b.fcmp_ordered(_FCMP[e.op], a, c)
            if kind == "i":
                return b.icmp_signed(_FCMP[e.op], a, c)
            return b.icmp_unsigned(_FCMP[e.op], a, c)
        if isinstance(e, Select):
            return b.select(self.expr(e.cond), self.expr(e.a), self.expr(e.b))
        if isinstance(e, Cast):
            if dtypes.is_storage_only(e.to):   # round (or wrap) to the storage type, keep its compute type
                assert e.lanes == 1, "vector cast to a storage-only type"
                return self.widen(self.narrow(self.expr(e.x), e.to, e.x.dtype), e.to)
            return self.cast(self.expr(e.x), e.x.dtype, e.dtype, e.lanes)
        raise TypeError(f"cannot render {type(e).__name__}")

    def widen(self, v: ir.Value, dt: np.dtype) -> ir.Value:
        return storage.widen(self, v, dt)

    def narrow(self, v: ir.Value, dt: np.dtype, src: np.dtype = F32) -> ir.Value:
        return storage.narrow(self, v, src, dt)

    # ------------------------------------------------------------ vectors
    def lane_mask(self, lanes: int, count: Expr) -> ir.Value:
        """<lanes x i1>: lane j is on when j < count."""
        n = self.b.trunc(self.expr(count), I32) if count.dtype.itemsize == 8 else self.expr(count)
        iota = ir.Constant(ir.VectorType(I32, lanes), list(range(lanes)))
        vt = ir.VectorType(I32, lanes)
        one = self.b.insert_element(ir.Constant(vt, ir.Undefined), n, ir.Constant(I32, 0))
        splat = self.b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(vt, [0] * lanes))
        return self.b.icmp_signed("<", iota, splat)

    def vector_load(self, e: Load) -> ir.Value:
        vt = ir.VectorType(memory_type(e.dtype), e.lanes)
        ptr = self.address(e.buf, e.idx)
        if e.count is None:
            v = self.b.load(ptr, typ=vt, align=e.dtype.itemsize, name=f"{e.buf.name}.v")
        else:
            v = self.call(f"llvm.masked.load.{self.type_suffix(vt)}.p0", vt,
                          [ptr, ir.Constant(I32, e.dtype.itemsize), self.lane_mask(e.lanes, e.count),
                           ir.Constant(vt, None)])
        return self.b.trunc(v, ir.VectorType(I1, e.lanes)) if e.dtype.kind == "b" else v

    def reduce(self, op: str, x: ir.Value, dt: np.dtype) -> ir.Value:
        """Fold the lanes pairwise (upper half onto lower half), then take lane 0."""
        b, n = self.b, x.type.count
        while n > 1:
            half = n // 2
            lo = b.shuffle_vector(x, x, ir.Constant(ir.VectorType(I32, half), list(range(half))))
            hi = b.shuffle_vector(x, x, ir.Constant(ir.VectorType(I32, half), list(range(half, 2 * half))))
            folded = self.binary(op, lo, hi, dt, True)
            if n % 2:   # an odd lane left over
                last = b.extract_element(x, ir.Constant(I32, n - 1))
                first = self.binary(op, b.extract_element(folded, ir.Constant(I32, 0)), last, dt, True)
                folded = b.insert_element(folded, first, ir.Constant(I32, 0))
            x, n = folded, half
        return b.extract_element(x, ir.Constant(I32, 0))

    def scalarize(self, fn, x: ir.Value) -> ir.Value:
        """Apply the scalar function `fn` to each lane of the vector `x`."""
        out = ir.Constant(x.type, ir.Undefined)
        for j in range(x.type.count):
            lane = fn(self.b.extract_element(x, ir.Constant(I32, j)))
            out = self.b.insert_element(out, lane, ir.Constant(I32, j))
        return out

    def call(self, name: str, ret: ir.Type, args: list[ir.Value]) -> ir.Value:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, [a.type for a in args]), name)
        return self.b.call(fn, args)

    @staticmethod
    def _suffix(t: ir.Type) -> str:
        if isinstance(t, ir.VectorType):
            return f"v{t.count}{_KernelRenderer._suffix(t.element)}"
        return {"float": "f32", "double": "f64", "half": "f16"}.get(str(t), str(t))

    type_suffix = _suffix

    def unary(self, op: str, x: ir.Value, dt: np.dtype) -> ir.Value:
        b, t = self.b, x.type
        if dt.kind == "f":
            sfx = self._suffix(t)
            if op in ("exp", "log", "tanh", "erf") and vmath.available(op, t):
                return vmath.emit(self, op, x)
            if op == "neg":
                return b.fneg(x)
            if op == "abs":
                return self.call(f"llvm.fabs.{sfx}", t, [x])
            if op == "round":
                return self.call(f"llvm.roundeven.{sfx}", t, [x])
            if op == "isnan":
                return b.fcmp_unordered("uno", x, x)
            if op in _LLVM_MATH:
                return self.call(f"llvm.{op}.{sfx}", t, [x])
            if op in _LIBM:
                if isinstance(t, ir.VectorType):
                    return self.scalarize(lambda v: self.unary(op, v, dt), x)
                return self.call(op + ("f" if sfx == "f32" else ""), t, [x])
            raise TypeError(f"unary {op} on {dt}")
        if op == "neg":
            return b.neg(x)
        if op == "not":
            return b.not_(x)
        if op == "abs":
            if dt.kind == "u" or dt.kind == "b":
                return x
            return self.call(f"llvm.abs.{t}", t, [x, ir.Constant(I1, 0)])
        if op == "isnan":
            return ir.Constant(I1, 0)
        if op in ("floor", "ceil", "round", "trunc"):
            return x
        raise TypeError(f"unary {op} on {dt}")

    def binary(self, op: str, a: ir.Value, c: ir.Value, dt: np.dtype, reassoc: bool) -> ir.Value:
        b, t = self.b, a.type
        if dt.kind == "f":
            flags = ("reassoc", "nsz", "contract") if reassoc else ()
            sfx = self._suffix(t)
            if op in ("add", "sub", "mul", "div", "rem"):
                return getattr(b, {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv",
                                   "rem": "frem"}[op])(a, c, flags=flags)
            if op in ("min", "max"):
                return self.call(f"llvm.{op}imum.{sfx}", t, [a, c])
            if op == "pow":
                return self.call(f"llvm.pow.{sfx}", t, [a, c])
            raise TypeError(f"binary {op} on {dt}")
        signed = dt.kind == "i"
        if op == "add":
            return b.add(a, c)
        if op == "sub":
            return b.sub(a, c)
        if op == "mul":
            return b.mul(a, c)
        if op in ("and", "or", "xor"):
            return getattr(b, op + ("_" if op != "xor" else ""))(a, c)
        if op == "shl":
            return b.shl(a, c)
        if op == "shr":
            return b.ashr(a, c) if signed else b.lshr(a, c)
        if op in ("min", "max"):
            if dt.kind == "b":
                return b.and_(a, c) if op == "min" else b.or_(a, c)
            return self.call(f"llvm.{'s' if signed else 'u'}{op}.{t}", t, [a, c])
        if op in ("div", "rem"):
            return self.int_divide(op, a, c, signed)
        if op == "pow":
            f64 = ir.DoubleType()
            to = b.sitofp if signed else b.uitofp
            r = self.call("llvm.pow.f64", f64, [to(a, f64), to(c, f64)])
            return self.call(f"llvm.fpto{'s' if signed else 'u'}i.sat.{t}.f64", t, [r])
        raise TypeError(f"binary {op} on {dt}")

    def int_divide(self, op: str, a: ir.Value, c: ir.Value, signed: bool) -> ir.Value:
        """Division that cannot trap: x/0 is 0, and INT_MIN/-1 wraps."""
        b, t = self.b, a.type
        zero, one = ir.Constant(t, 0), ir.Constant(t, 1)
        is_zero = b.icmp_unsigned("==", c, zero)
        if signed:
            is_m1 = b.icmp_signed("==", c, ir.Constant(t, -1))
            safe = b.select(b.or_(is_zero, is_m1), one, c)
            r = b.sdiv(a, safe) if op == "div" else b.srem(a, safe)
            r = b.select(is_m1, b.neg(a) if op == "div" else zero, r)
        else:
            safe = b.select(is_zero, one, c)
            r = b.udiv(a, safe) if op == "div" else b.urem(a, safe)
        return b.select(is_zero, zero, r)

    def cast(self, x: ir.Value, src: np.dtype, dst: np.dtype, lanes: int = 1) -> ir.Value:
        b = self.b
        st, dt_ = value_type(src, lanes), value_type(dst, lanes)
        if src == dst:
            return x
        if dst.kind == "b":
            if src.kind == "f":
                return b.fcmp_unordered("!=", x, vmath._c(st, 0.0))
            return b.icmp_unsigned("!=", x, vmath._c(st, 0))
        if src.kind == "f" and dst.kind == "f":
            return b.fpext(x, dt_) if dst.itemsize > src.itemsize else b.fptrunc(x, dt_)
        if src.kind == "f":
            sat = "s" if dst.kind == "i" else "u"
            return self.call(f"llvm.fpto{sat}i.sat.{dt_}.{self._suffix(st)}", dt_, [x])
        if dst.kind == "f":
            return b.sitofp(x, dt_) if src.kind == "i" else b.uitofp(x, dt_)
        if src.kind == "b":
            return b.zext(x, dt_)
        if dst.itemsize < src.itemsize:
            return b.trunc(x, dt_)
        if dst.itemsize == src.itemsize:
            return x
        return b.sext(x, dt_) if src.kind == "i" else b.zext(x, dt_)


def _uses_except(s, skip, vars_: dict) -> None:
    """The Vars statement `s` touches outside its sub-statement `skip`."""
    if s is skip:
        return
    if isinstance(s, Block):
        for x in s.stmts:
            _uses_except(x, skip, vars_)
    elif isinstance(s, Loop):
        _uses(Block([Assign(s.var, s.start), Assign(s.var, s.stop)]), {}, vars_, set())
        _uses_except(s.body, skip, vars_)
    elif isinstance(s, If):
        _uses(Check(s.cond, 0), {}, vars_, set())
        _uses_except(s.then, skip, vars_)
        if s.orelse is not None:
            _uses_except(s.orelse, skip, vars_)
    else:
        _uses(s, {}, vars_, set())


def _pool_entry(module: ir.Module) -> ir.Function:
    from .pool import ENTRY
    fn = module.globals.get(ENTRY)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I64, I32]), ENTRY)
    return fn


def _threads_global(module: ir.Module) -> ir.GlobalVariable:
    g = module.globals.get(THREADS_GLOBAL)
    if g is None:
        g = ir.GlobalVariable(module, I32, THREADS_GLOBAL)
        g.initializer = ir.Constant(I32, 1)
    return g


def render_kernel(module: ir.Module, kernel: Kernel, may_alias=frozenset(), threads: bool = True) -> ir.Function:
    """`may_alias`: indices of params (then scratch buffers) that may share
    memory with another param; they are not marked ``noalias``. `threads`:
    run big parallel loops on the thread pool (the module's THREADS_GLOBAL
    says how many threads)."""
    return _KernelRenderer(module, kernel, may_alias, threads).render()
