"""Reverse-mode automatic differentiation as a graph transform.

    grads = gradients(g, loss, [w1, w2])   # appends the backward nodes to g
    gg = grad(g, loss, [w1, w2])           # a new graph returning (loss, dw1, dw2)

The backward pass is ordinary IR appended after the forward nodes, so
folding, CSE, DCE, fusion and memory planning treat it like any graph (the
memory plan keeps each forward value alive until its last backward use).

The rule of each op is the ``vjp`` facet of its OpDef (ir/ops/base.py):

    vjp(d, ins, outs, gouts, **attrs) -> [cotangent or None per input]

``ins``/``outs`` are the node's inputs and outputs and ``gouts`` the
cotangents of its outputs (None for an output nothing downstream uses), all
as `Val`s; ``d`` is the `Emitter` that appends the rule's nodes: any
registered op is ``d.<op>(*inputs, **attrs)`` and Vals take ``+ - * /``,
unary minus and comparisons with Vals or Python numbers. A rule returns
None for inputs without a gradient (integer or constant-only inputs); a
returned cotangent may have any shape that broadcasts with the input's: the
driver sums it over broadcast axes (and expands it over missing ones) back
to the input's shape, so broadcasting ops need no bookkeeping.

Shapes must be static (specialize the graph first): rules build reshapes
and reductions from them. Everything here is micrograd's backward loop over
a rule table, as in JAX's autodidax and tinygrad's gradient rules.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ShapeError, UnsupportedError
from .graph import Graph, Value


class Val:
    """A Value seen by a gradient rule; arithmetic on it emits IR nodes."""
    __slots__ = ("d", "v")

    def __init__(self, d: "Emitter", v: Value):
        self.d, self.v = d, v

    shape = property(lambda self: self.v.shape)
    dtype = property(lambda self: self.v.dtype)
    rank = property(lambda self: self.v.rank)
    const = property(lambda self: self.v.const)

    def _bin(self, op, other, swap=False):
        other = self.d.lift(other, self.dtype)
        return self.d.op(op, [other, self] if swap else [self, other])

    def __add__(self, o): return self._bin("add", o)
    def __radd__(self, o): return self._bin("add", o, True)
    def __sub__(self, o): return self._bin("sub", o)
    def __rsub__(self, o): return self._bin("sub", o, True)
    def __mul__(self, o): return self._bin("mul", o)
    def __rmul__(self, o): return self._bin("mul", o, True)
    def __truediv__(self, o): return self._bin("div", o)
    def __rtruediv__(self, o): return self._bin("div", o, True)
    def __neg__(self): return self.d.op("neg", [self])
    def __lt__(self, o): return self._bin("less", o)
    def __le__(self, o): return self._bin("less_equal", o)
    def __gt__(self, o): return self._bin("greater", o)
    def __ge__(self, o): return self._bin("greater_equal", o)
    def __and__(self, o): return self._bin("and", o)
    def __or__(self, o): return self._bin("or", o)
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Val({self.v!r})"


class Emitter:
    """Appends nodes to a graph for gradient rules (and for the loss and
    optimizer builders of training, which use the same helpers)."""

    def __init__(self, g: Graph, source: str = ""):
        self.g = g
        self.source = source

    # ------------------------------------------------------------ basics
    def wrap(self, v: Value | Val | None) -> Val | None:
        if v is None or isinstance(v, Val):
            return v
        return Val(self, v)

    def lift(self, x, dtype) -> Val:
        """A Val from a Val, a Value, or a Python/numpy scalar (a constant of `dtype`)."""
        if isinstance(x, Val):
            return x
        if isinstance(x, Value):
            return Val(self, x)
        return self.const(x, dtype)

    def const(self, value, dtype=None) -> Val:
        arr = np.asarray(value, dtype=dtype)
        return Val(self, self.g.const(arr))

    def op(self, name: str, inputs: Sequence, **attrs):
        """Append op `name`; Python numbers among the inputs become constants
        of the first Val input's dtype."""
        like = next((x.dtype for x in inputs if isinstance(x, (Val, Value))), None)
        inputs = [self.const(x, like) if isinstance(x, (int, float)) and not isinstance(x, bool) and like is not None
                  else x for x in inputs]
        vals = [None if x is None else (x.v if isinstance(x, Val) else x) for x in inputs]
        out = self.g.op(name, vals, attrs, source=self.source)
        return tuple(Val(self, v) for v in out) if isinstance(out, tuple) else Val(self, out)

    def __getattr__(self, name: str):
        """``d.exp(x)``, ``d.matmul(a, b)``, ``d.reduce_sum(x, axes=(0,), keepdims=True)``:
        any registered op."""
        from .ops import REGISTRY
        if name.startswith("_") or name not in REGISTRY:
            raise AttributeError(name)
        return lambda *inputs, **attrs: self.op(name, inputs, **attrs)

    # ----------------------------------------------------------- helpers
    def where(self, cond: Val, a, b) -> Val:
        dt = a.dtype if isinstance(a, Val) else b.dtype
        return self.op("where", [cond, self.lift(a, dt), self.lift(b, dt)])

    def cast(self, x: Val, dtype) -> Val:
        dtype = np.dtype(dtype)
        return x if x.dtype == dtype else self.op("cast", [x], to=dtype)

    def reshape(self, x: Val, shape: Sequence[int]) -> Val:
        shape = tuple(int(s) for s in shape)
        if tuple(x.shape) == shape:
            return x
        return self.op("reshape", [x, self.g.const(np.array(shape, np.int64))], allowzero=1)

    def expand(self, x: Val, shape: Sequence[int]) -> Val:
        if tuple(x.shape) == tuple(shape):
            return x
        return self.op("expand", [x, self.g.const(np.array(shape, np.int64))])

    def transpose(self, x: Val, perm: Sequence[int]) -> Val:
        perm = tuple(int(p) for p in perm)
        return x if perm == tuple(range(x.rank)) else self.op("transpose", [x], perm=perm)

    def sum(self, x: Val, axes: Sequence[int], keepdims: bool = False) -> Val:
        axes = tuple(sorted(a % x.rank for a in axes))
        if not axes:
            return x
        return self.op("reduce_sum", [x], axes=axes, keepdims=keepdims)

    def mean(self, x: Val, axes: Sequence[int], keepdims: bool = False) -> Val:
        axes = tuple(sorted(a % x.rank for a in axes))
        if not axes:
            return x
        return self.op("reduce_mean", [x], axes=axes, keepdims=keepdims)

    def zeros(self, shape: Sequence[int], dtype) -> Val:
        return self.expand(self.const(0, dtype), shape)

    def ones_like(self, x: Val) -> Val:
        return self.expand(self.const(1, x.dtype), x.shape)

    def unreduce(self, g: Val, x_shape, axes, keepdims: bool) -> Val:
        """A reduction's output cotangent with the reduced axes put back as
        size 1 (it then broadcasts over the reduced input)."""
        if keepdims:
            return g
        return self.reshape(g, [1 if a in axes else s for a, s in enumerate(x_shape)])

    def fit(self, x: Val, shape: Sequence[int]) -> Val:
        """`x` summed over the axes it broadcasts along against `shape`,
        then expanded where it is smaller: a cotangent of shape `shape`."""
        shape = tuple(shape)
        if tuple(x.shape) == shape:
            return x
        lead = x.rank - len(shape)
        axes = list(range(max(lead, 0)))
        for i, s in enumerate(shape):
            j = i + lead
            if j >= 0 and x.shape[j] != s:
                if s == 1:
                    axes.append(j)
                elif x.shape[j] != 1:
                    raise ShapeError(f"cotangent of shape {list(x.shape)} does not fit an input of "
                                     f"shape {list(shape)}")
        if axes:
            x = self.sum(x, axes, keepdims=True)
        if lead > 0:
            x = self.reshape(x, x.shape[lead:])
        if x.rank < len(shape):
            x = self.reshape(x, (1,) * (len(shape) - x.rank) + tuple(x.shape))
        return self.expand(x, shape)


def _float(v: Value | None) -> bool:
    return v is not None and v.dtype.kind == "f"


def _check_static(g: Graph) -> None:
    for n in g.nodes:
        for v in n.outputs:
            if not v.static:
                raise ShapeError(f"autodiff needs static shapes: {n.where} has output {v.name} of shape "
                                 f"{list(v.shape)} (specialize the graph first)")


def gradients(g: Graph, loss: Value, wrt: Sequence[Value], seed: Value | None = None,
              zeros: bool = False) -> list[Value | None]:
    """Append to `g` the nodes computing d(loss)/d(w) for each w in `wrt`
    (graph inputs or values of `g`), seeded with `seed` (ones if None), and
    return them in order. A w the loss does not depend on gets None, or a
    zero tensor with ``zeros=True``. Promises: the forward nodes are
    untouched; the new nodes follow them in topological order."""
    _check_static(g)
    wrt = list(wrt)
    for w in wrt:
        if not _float(w):
            raise ShapeError(f"cannot differentiate with respect to {w!r}: not a float value")
    # values that depend on some w through float values
    depends: set[Value] = set(wrt)
    for n in g.nodes:
        if any(v in depends for v in n.inputs if v is not None):
            depends.update(v for v in n.outputs if _float(v))
    # nodes the loss depends on
    needed: set[Value] = {loss}
    for n in reversed(g.nodes):
        if any(v in needed for v in n.outputs):
            needed.update(v for v in n.inputs if v is not None)

    forward = list(g.nodes)
    d = Emitter(g)
    ct: dict[Value, Val] = {loss: d.wrap(seed) if seed is not None else d.ones_like(d.wrap(loss))}

    for n in reversed(forward):
        gouts = [ct.get(v) for v in n.outputs]
        if all(c is None for c in gouts):
            continue
        want = [v is not None and v in depends and v in needed and _float(v) for v in n.inputs]
        if not any(want):
            continue
        rule = n.opdef.vjp
        if rule is None:
            raise UnsupportedError(f"{n.where}: op {n.op} has no gradient rule, so the loss cannot be "
                                   f"differentiated through it")
        d.source = f"grad {n.where}"
        res = rule(d, [d.wrap(v) for v in n.inputs], [d.wrap(v) for v in n.outputs], gouts, **n.attrs)
        if len(res) != len(n.inputs):
            raise AssertionError(f"vjp of {n.op} returned {len(res)} cotangents for {len(n.inputs)} inputs")
        for v, w, c in zip(n.inputs, want, res):
            if not w or c is None:
                continue
            c = d.fit(d.cast(c, v.dtype), v.shape)
            ct[v] = ct[v] + c if v in ct else c
    d.source = "grad"
    out = []
    for w in wrt:
        c = ct.get(w)
        if c is None and zeros:
            c = d.zeros(w.shape, w.dtype)
        out.append(None if c is None else c.v)
    return out


def grad(g: Graph, loss: Value, wrt: Sequence[Value]) -> Graph:
    """A copy of `g` extended with the backward pass, whose outputs are
    ``(loss, d loss/d w for w in wrt)`` (zeros where the loss does not depend
    on w). `loss` and `wrt` are Values of `g` (matched by name in the copy)."""
    h = g.copy()
    by_name = {v.name: v for v in h.inputs}
    by_name.update({v.name: v for n in h.nodes for v in n.outputs})
    by_name.update({v.name: v for v in h.constants()})
    try:
        hl, hw = by_name[loss.name], [by_name[w.name] for w in wrt]
    except KeyError as e:
        raise ShapeError(f"grad: {e.args[0]} is not a value of the graph") from None
    grads = gradients(h, hl, hw, zeros=True)
    h.outputs = [hl, *grads]
    return h


__all__ = ["Val", "Emitter", "gradients", "grad"]
