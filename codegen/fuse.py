"""Lower a fused group (the body of a ``fused`` node) into one kernel, by
composing its members' own definitions: scalar formulas, index remaps, and
the anchor's loop nest. Nothing here knows an op by name.

- A *pointwise* group (no anchor) is one loop nest over the shape of its
  outputs; each element is its members' formulas composed, reading the
  group's inputs at that index (broadcast, or through an index remap).
- An *anchored* group lowers its anchor (the reduce/out_fusable member) with
  the anchor's own ``lower``, with hooks on its buffers:
  - prologue: an anchor input computed inside the group is a placeholder
    buffer whose loads inline the producers' formulas at the loaded index;
  - epilogue: the anchor's final stores (``k.store`` without ``partial``,
    or the stores ``k.finish`` makes) apply the consumers' formulas to the
    stored value, reading their other inputs at the same index, and write
    the group's outputs there (through views and axis permutations, at the
    moved index).
  An anchor that accumulates in its output (partial stores) does it in the
  memory of its own result if the group outputs it, else of an epilogue
  output with the same shape and dtype at the same position, else in
  kernel scratch memory.
"""
from __future__ import annotations

from ..ir import Graph, Node, Value
from ..ir.ops import BROADCAST, ELEMWISE, VIEW
from ..ir.passes.fuse import ANCHOR, broadcast_index, push_index, reshape_index, role
from . import kir
from .builder import KernelBuilder
from .kir import Assign, Block, Buffer, Check, Const, Expr, If, Load, Loop, Store, Var, as_expr

POINTWISE_KINDS = (ELEMWISE, BROADCAST)


def _div(a, b):
    return kir.binary("div", a, b)   # indices are never negative: C division is floor division


def _rem(a, b):
    return kir.binary("rem", a, b)


class _Group:
    def __init__(self, k: KernelBuilder, body: Graph, ins: list[Buffer], outs: list[Buffer]):
        self.k = k
        self.body = body
        self.mem: dict[Value, Buffer] = dict(zip(body.inputs, ins))   # values read from memory
        self.outs: dict[Value, Buffer] = dict(zip(body.outputs, outs))
        self.consts: dict[Value, Buffer] = {}

    # -------------------------------------------------------------- pull
    def pull(self, v: Value, idx: list[Expr], memo: dict) -> Expr:
        """The value of `v` at `idx`: a load of the group's inputs, or its
        producer's formula composed at that index."""
        k = self.k
        idx = [as_expr(i) for i in idx]
        if v in self.mem:
            return k.load(self.mem[v], idx)
        if v.is_const:
            if v not in self.consts:
                self.consts[v] = Buffer(k.fresh(v.name), v.dtype, v.shape, const=v.const)
            return k.load(self.consts[v], idx)
        key = (v, tuple(map(id, idx)))
        hit = memo.get(key)
        if hit is not None:
            return hit[1]
        n = v.producer
        kind = n.opdef.kind
        if kind in POINTWISE_KINDS:
            args = [None if u is None else self.pull(u, broadcast_index(idx, u.shape), memo) for u in n.inputs]
            e = k.cast(n.opdef.scalar(k, *args, **n.attrs), v.dtype)
        elif kind == VIEW:
            src = n.inputs[0]
            e = self.pull(src, reshape_index(idx, v.shape, src.shape, _div, _rem), memo)
        elif n.opdef.index is not None:
            e = self.pull(n.inputs[0], [as_expr(i) for i in n.opdef.index(idx, n.inputs, **n.attrs)], memo)
        else:
            raise AssertionError(f"{n.where}: {n.op} cannot be inlined in a fused kernel")
        memo[key] = (idx, e)   # the entry keeps idx alive, so its ids stay unique
        return e

    # --------------------------------------------------------- pointwise
    def lower_pointwise(self) -> None:
        k = self.k
        outs = self.body.outputs
        domain = outs[0].shape
        assert all(tuple(o.shape) == tuple(domain) for o in outs), "pointwise group outputs differ in shape"
        with k.loops(domain) as idx:
            memo: dict = {}
            vals = [self.pull(o, list(idx), memo) for o in outs]
            if len(vals) > 1:   # read everything before writing: an output may overwrite a dying input
                vals = [v if isinstance(v, (Var, Const)) else k.local(v, "v") for v in vals]
            for o, e in zip(outs, vals):
                k.store(self.outs[o], idx, e)

    # ---------------------------------------------------------- anchored
    def lower_anchored(self, anchor: Node) -> None:
        k = self.k
        t = anchor.outputs[0]
        epilogue = self._downstream(t)
        ins = []
        placeholders: dict[Value, Buffer] = {}
        for u in anchor.inputs:
            if u is None or u in self.mem:
                ins.append(self.mem.get(u) if u is not None else None)
            elif u.is_const:
                ins.append(Buffer(k.fresh(u.name), u.dtype, u.shape, const=u.const))
            else:
                if u not in placeholders:
                    buf = placeholders[u] = Buffer(k.fresh(u.name), u.dtype, u.shape)
                    k.on_load(buf, lambda idx, u=u: self.pull(u, idx, {}))
                ins.append(placeholders[u])
        if not epilogue:
            anchor.opdef.lower(k, ins, [self.outs[t]], **anchor.attrs)
            return
        acc = self.outs.get(t) or self._borrow(t, epilogue)
        scratch = None
        if acc is None:
            scratch = acc = k.scratch(t.dtype, t.shape, f"{t.name}_acc")
        k.on_store(acc, lambda idx, value: self._epilogue(t, acc, epilogue, idx, value))
        anchor.opdef.lower(k, ins, [acc], **anchor.attrs)
        if scratch is not None and not _uses(k.kernel.body, scratch):
            k.kernel.scratch.remove(scratch)   # the anchor never kept partial results: no memory needed

    def _downstream(self, t: Value) -> list[Node]:
        reached, out = {t}, []
        for n in self.body.nodes:
            if any(u in reached for u in n.inputs if u is not None):
                out.append(n)
                reached.update(n.outputs)
        return out

    def _borrow(self, t: Value, epilogue: list[Node]) -> Buffer | None:
        """An output's memory the anchor may accumulate in: same shape and
        dtype, reached from the anchor through pointwise members only (each
        element is then final before anything else is written there)."""
        same_pos = {t}
        for n in epilogue:
            if n.opdef.kind in POINTWISE_KINDS and any(u in same_pos for u in n.inputs):
                same_pos.add(n.outputs[0])
        for o in self.body.outputs:
            if o in same_pos and o.dtype == t.dtype and tuple(o.shape) == tuple(t.shape):
                return self.outs[o]
        return None

    def _epilogue(self, t: Value, acc: Buffer, epilogue: list[Node], idx: list[Expr], value: Expr) -> None:
        k = self.k
        if not isinstance(value, (Var, Const)):
            value = k.local(value, "r")   # read once, before any output (maybe acc itself) is written
        pos: dict[Value, list] = {t: list(idx)}
        val: dict[Value, Expr] = {t: value}
        if t in self.outs:
            k.emit(Store(self.outs[t], tuple(idx), value))
        memo: dict = {}
        for n in epilogue:
            o = n.outputs[0]
            kind = n.opdef.kind
            if kind in POINTWISE_KINDS:
                p = next(pos[u] for u in n.inputs if u in val)
                args = [None if u is None else val[u] if u in val else
                        self.pull(u, broadcast_index(p, u.shape), memo) for u in n.inputs]
                val[o], pos[o] = k.cast(n.opdef.scalar(k, *args, **n.attrs), o.dtype), p
            elif kind == VIEW:
                u = n.inputs[0]
                val[o], pos[o] = val[u], reshape_index(pos[u], u.shape, o.shape, _div, _rem)
            else:   # an axis permutation
                u = n.inputs[0]
                val[o], pos[o] = val[u], push_index(n, pos[u])
            if o in self.outs:
                k.emit(Store(self.outs[o], tuple(as_expr(i) for i in pos[o]), val[o]))


def _uses(block: Block, buf: Buffer) -> bool:
    """Whether any statement in `block` reads or writes `buf`."""
    def ex(e) -> bool:
        if isinstance(e, Load):
            return e.buf is buf or any(ex(i) for i in e.idx)
        return any(isinstance(c, Expr) and ex(c) for c in (getattr(e, a, None) for a in ("x", "a", "b", "cond")))

    def st(s) -> bool:
        if isinstance(s, Block):
            return any(st(x) for x in s.stmts)
        if isinstance(s, Loop):
            return ex(s.start) or ex(s.stop) or st(s.body)
        if isinstance(s, Store):
            return s.buf is buf or ex(s.value) or any(ex(i) for i in s.idx)
        if isinstance(s, If):
            return ex(s.cond) or st(s.then) or (s.orelse is not None and st(s.orelse))
        if isinstance(s, (Assign, Check)):
            return ex(s.value if isinstance(s, Assign) else s.cond)
        return False
    return st(block)


def lower_group(k: KernelBuilder, body: Graph, ins: list[Buffer], outs: list[Buffer]) -> None:
    """Emit the fused group `body` into kernel builder `k`; its inputs are
    in `ins` and its outputs go to `outs` (in body order)."""
    grp = _Group(k, body, ins, outs)
    anchors = [n for n in body.nodes if role(n) == ANCHOR]
    if not anchors:
        grp.lower_pointwise()
        return
    assert len(anchors) == 1, f"a fused group has {len(anchors)} anchors"
    grp.lower_anchored(anchors[0])
