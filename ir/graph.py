"""The dataflow IR: a Graph of Nodes that consume and produce typed Values.

A Value has a dtype (a numpy dtype) and a shape whose dims are ints or
symbol names (str). A Value is a graph input, a constant (``.const`` holds
its numpy data), or the output of exactly one Node. ``graph.nodes`` is kept in
topological order. Values compare by identity, so they can key dicts.

Some values live on the host only (``Value.host_only``; dlc/staged.py runs
the nodes that touch them as host steps): string tensors (dtype ``str``:
numpy object arrays of Python str), sequences and optionals. For those,
``container`` says what wraps the tensor, outermost first (``("seq",)``: a
list of arrays; ``("opt",)``: an array or None; ``("opt", "seq")``), and
dtype and shape describe the tensors inside (the shape joins the items'
shapes: a dim that differs is unknown; ``None`` when even the rank is).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

from . import dtypes
from .errors import ShapeError

Dim = int | str
Shape = tuple[Dim, ...]
SEQ, OPT = "seq", "opt"


def is_static(shape: Shape) -> bool:
    return all(isinstance(d, (int, np.integer)) for d in shape)


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def shape_str(shape: Shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def type_str(dtype, shape: Shape | None, container: tuple[str, ...] = ()) -> str:
    """`f32[2,3]`; `seq(f32[?])`, `opt(seq(f32))` for containers."""
    s = dtypes.short(dtype) + ("" if shape is None else shape_str(shape))
    for c in reversed(container):
        s = f"{c}({s})"
    return s


def _shape(shape) -> Shape | None:
    return None if shape is None else tuple(d if isinstance(d, str) else int(d) for d in shape)


class Value:
    __slots__ = ("name", "dtype", "shape", "producer", "const", "container")

    def __init__(self, name: str, dtype, shape: Sequence[Dim] | None, producer: "Node | None" = None,
                 const: np.ndarray | None = None, container: tuple[str, ...] = ()):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape: Shape = _shape(shape)
        self.producer = producer
        self.const = const
        self.container = tuple(container)

    @property
    def host_only(self) -> bool:
        """A sequence, an optional or a string tensor: never in native code."""
        return bool(self.container) or self.dtype == dtypes.string

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def static(self) -> bool:
        return self.shape is not None and is_static(self.shape)

    @property
    def numel(self) -> int:
        return numel(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    @property
    def type_str(self) -> str:
        return type_str(self.dtype, self.shape, self.container)

    def __repr__(self) -> str:
        return f"{self.name}: {self.type_str}"


class Node:
    __slots__ = ("op", "inputs", "outputs", "attrs", "source")

    def __init__(self, op: str, inputs: Sequence[Value | None], attrs: dict | None = None, source: str = ""):
        self.op = op
        self.inputs: list[Value | None] = list(inputs)
        self.outputs: list[Value] = []
        self.attrs: dict = dict(attrs or {})
        self.source = source

    @property
    def opdef(self):
        from .ops import get_op
        return get_op(self.op)

    @property
    def on_host(self) -> bool:
        """Runs as a host step between compiled segments (dlc/staged.py): its
        op does, or it reads or writes a sequence, an optional or a string tensor."""
        return self.opdef.on_host or any(v is not None and v.host_only for v in self.inputs + self.outputs)

    @property
    def where(self) -> str:
        """How error messages name this node: its source if it has one."""
        return self.source or f"{self.op} node"

    def __str__(self) -> str:
        outs = ", ".join(f"{v.name}: {v.type_str}" for v in self.outputs)
        args = [v.name if v is not None else "_" for v in self.inputs]
        args += [f"{k}={_attr_str(a)}" for k, a in self.attrs.items()]
        line = f"{outs} = {self.op}({', '.join(args)})"
        return f"{line}  # {self.source}" if self.source else line

    __repr__ = __str__


def _attr_str(a) -> str:
    if isinstance(a, Graph):   # a fused node's body: its members' ops
        return "{" + "; ".join(n.op for n in a.nodes) + "}"
    if isinstance(a, np.ndarray):
        return _const_str(a)
    if isinstance(a, np.dtype):
        return dtypes.short(a)
    if isinstance(a, (list, tuple)):
        return "[" + ",".join(_attr_str(x) for x in a) + "]"
    if isinstance(a, float):
        return f"{a:g}"
    return str(a)


def _const_str(a: np.ndarray) -> str:
    if a.size <= 8:
        return np.array2string(a, separator=",", threshold=8).replace("\n", "")
    return f"<{a.size} values>"


_NAME_OK = re.compile(r"[^A-Za-z0-9_.]")


def sanitize(name: str) -> str:
    """Make a source name printable and usable as an LLVM identifier."""
    name = _NAME_OK.sub("_", name) or "v"
    return name if not name[0].isdigit() else "v" + name


class Graph:
    """A dataflow graph. Build it with `add_input`, `const` and `op`."""

    def __init__(self, name: str = "main"):
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self._used: set[str] = set()
        self._counter = 0

    # -- names -------------------------------------------------------------
    def fresh_name(self, hint: str | None = None) -> str:
        if hint:
            base = sanitize(hint)
            name, i = base, 0
            while name in self._used:
                i += 1
                name = f"{base}_{i}"
        else:
            while True:
                self._counter += 1
                name = f"t{self._counter}"
                if name not in self._used:
                    break
        self._used.add(name)
        return name

    # -- building ----------------------------------------------------------
    def add_input(self, name: str, dtype, shape: Sequence[Dim] | None, container: tuple[str, ...] = ()) -> Value:
        v = Value(self.fresh_name(name), dtype, shape, container=container)
        self.inputs.append(v)
        return v

    def const(self, data, dtype=None, name: str | None = None) -> Value:
        arr = np.array(data, dtype=dtype) if dtype is not None or not isinstance(data, np.ndarray) else data
        arr = np.require(arr, requirements="C")   # (ascontiguousarray would make 0-d arrays 1-d)
        arr.setflags(write=False)
        return Value(self.fresh_name(name or "c"), arr.dtype, arr.shape, const=arr)

    def op(self, op: str, inputs: Sequence[Value | None], attrs: dict | None = None, *,
           source: str = "", names: Sequence[str | None] | None = None):
        """Append a node, infer its output types, and return its output
        Value (or a tuple of them when the op has several outputs)."""
        node = Node(op, inputs, attrs, source)
        types = infer_node(node)
        names = list(names or [])
        for i, (dt, shape, container) in enumerate(types):
            hint = names[i] if i < len(names) else None
            node.outputs.append(Value(self.fresh_name(hint), dt, shape, producer=node, container=container))
        self.nodes.append(node)
        return node.outputs[0] if len(node.outputs) == 1 else tuple(node.outputs)

    # -- queries -----------------------------------------------------------
    def users(self) -> dict[Value, list[Node]]:
        uses: dict[Value, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v is not None:
                    uses.setdefault(v, []).append(n)
        return uses

    def constants(self) -> list[Value]:
        """Constants referenced by nodes or outputs, each once, in order of first use."""
        seen: dict[Value, None] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v is not None and v.is_const:
                    seen.setdefault(v)
        for v in self.outputs:
            if v.is_const:
                seen.setdefault(v)
        return list(seen)

    # -- editing -----------------------------------------------------------
    def replace_uses(self, old: Value, new: Value) -> None:
        for n in self.nodes:
            n.inputs = [new if v is old else v for v in n.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def remove_nodes(self, dead: Iterable[Node]) -> None:
        dead_ids = {id(n) for n in dead}
        self.nodes = [n for n in self.nodes if id(n) not in dead_ids]

    def copy(self) -> "Graph":
        """A structural copy: new Values and Nodes, constant data shared (read-only)."""
        g = Graph(self.name)
        g._used = set(self._used)
        g._counter = self._counter
        vmap: dict[Value, Value] = {}

        def cp(v: Value | None) -> Value | None:
            if v is None:
                return None
            if v not in vmap:
                vmap[v] = Value(v.name, v.dtype, v.shape, const=v.const, container=v.container)
            return vmap[v]

        g.inputs = [cp(v) for v in self.inputs]
        for n in self.nodes:
            m = Node(n.op, [cp(v) for v in n.inputs], n.attrs, n.source)
            for v in n.outputs:
                nv = cp(v)
                nv.producer = m
                m.outputs.append(nv)
            g.nodes.append(m)
        g.outputs = [cp(v) for v in self.outputs]
        return g

    # -- printing ----------------------------------------------------------
    def __str__(self) -> str:
        ins = ", ".join(repr(v) for v in self.inputs)
        outs = ", ".join(repr(v) for v in self.outputs)
        lines = [f"graph {self.name}({ins}) -> ({outs}) {{"]
        for c in self.constants():
            lines.append(f"  {c.name}: {c.type_str} = const {_const_str(c.const)}")
        lines += [f"  {n}" for n in self.nodes]
        lines.append(f"  return {', '.join(v.name for v in self.outputs)}")
        lines.append("}")
        for n in self.nodes:   # control flow's bodies (a fused node's body shows as its ops)
            if n.opdef.on_host:
                lines += [f"{k} of {n.where}: {a}" for k, a in n.attrs.items() if isinstance(a, Graph)]
        return "\n".join(lines)

    __repr__ = __str__


def infer_node(node: Node) -> list[tuple[np.dtype, Shape, tuple[str, ...]]]:
    """Run the op's type rule on the node's current inputs: (dtype, shape,
    container) per output. A rule returns (dtype, shape), or (dtype, shape,
    container) for a sequence or optional, or a list of them.

    Errors name the node, e.g. ``onnx Conv_3: weight has 3 dims, expected 4``.
    Sequences, optionals and strings reach only ops that declare they take
    them (``OpDef.sequences`` / ``strings``)."""
    opdef = node.opdef
    for i, v in enumerate(node.inputs):
        if v is not None and v.container and not opdef.sequences:
            raise ShapeError(f"{node.where}: input {i} ({v.name}) is a {v.type_str}; {node.op} takes tensors")
        if v is not None and v.dtype == dtypes.string and not opdef.strings:
            raise ShapeError(f"{node.where}: input {i} ({v.name}) is a string tensor; {node.op} does not take "
                             f"strings")
    try:
        res = opdef.infer(node.inputs, **node.attrs)
    except ShapeError as e:
        raise ShapeError(f"{node.where}: {e}") from None
    if isinstance(res, tuple) and len(res) in (2, 3) and isinstance(res[0], np.dtype):
        res = [res]
    out = [(np.dtype(t[0]), _shape(t[1]), tuple(t[2]) if len(t) == 3 else ()) for t in res]
    if not opdef.strings and any(dt == dtypes.string for dt, _, _ in out):
        raise ShapeError(f"{node.where}: {node.op} cannot produce string tensors")
    return out


def infer_shapes(g: Graph) -> Graph:
    """Re-run type inference over the whole graph in order, updating each
    output Value's dtype and shape in place (used after input shapes change)."""
    for n in g.nodes:
        types = infer_node(n)
        if len(types) != len(n.outputs):
            raise ShapeError(f"{n.where}: op produced {len(types)} outputs, node has {len(n.outputs)}")
        for v, (dt, shape, container) in zip(n.outputs, types):
            v.dtype, v.shape, v.container = dt, shape, container
    return g
