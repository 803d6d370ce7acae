"""Operator fusion: partition the graph into groups that codegen emits as
one kernel each, and replace every group of two or more nodes by one
``fused`` node whose body is the group (see ir/ops/fused.py).

What the pass reads of an op is its ``kind`` (and, for injective ops,
whether they have an ``index`` remap), the number of its outputs, and shapes:

- *pointwise*: single-output elemwise/broadcast ops (scalar formulas);
- *anchor*: single-output out_fusable ops (matmul, conv) and reduce ops
  (reductions, softmax, normalize, pooling);
- *view*: reshape & co. (same elements in the same order);
- *remap*: injective ops with an ``index`` (transpose, expand, slice);
- everything else stays a kernel of its own.

Groups, formed greedily in schedule order:

1. Each anchor takes a *prologue*: the view/remap nodes (for reduce anchors
   also pointwise nodes of the shape of the anchor input they feed) whose
   results only the group uses; codegen inlines them where the anchor loads.
   Then an *epilogue*: pointwise consumers of the anchor's result (and of
   epilogue values) with the same shape, whose group-internal inputs sit at
   one position, plus views and axis permutations (transpose) of epilogue
   values (a permutation only of a value not needed outside the group, which
   would else be stored twice); codegen applies them at the anchor's final
   store, at that (possibly permuted) index. Anchors earlier in the schedule claim
   epilogues first, so a pointwise chain between two anchors is computed
   once, by the first.
2. Remaining pointwise nodes join a pointwise producer's group of the same
   output shape (the group's domain), or start one; a remap (transpose...)
   of memory that only such a node reads is read through.
3. Views with no group-internal input, or whose result only other groups
   read, are left out: outside groups they cost nothing (they alias).

Legality (asserted on the result with networkx: the group graph is a DAG):
no merge may create a cycle between groups (checked on the group graph at
every merge); anchors are never recomputed: a value made by an anchor, or by
a pointwise node, is computed in exactly one group, and stored once if
anything outside the group (or the caller: graph outputs) needs it. Only
index remaps, and the elementwise prologue of a reduce anchor, are
evaluated where they are read: a reduce op reads each input element a few
times (softmax 2-3, normalize 3, a pooling window's overlap), so that cheap
prologue is recomputed that many times instead of costing a pass over memory.

Assumes static shapes. Promises: the same outputs; every node is in one
group; group outputs are exactly the member values read outside the group.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import networkx as nx

from ..graph import Graph, Node, Value, numel
from ..ops import BROADCAST, ELEMWISE, OUT_FUSABLE, REDUCE, VIEW
from ..ops.fused import kernel_name, node_sources

POINTWISE, ANCHOR, VIEW_ROLE, REMAP, OTHER = "pointwise", "anchor", "view", "remap", "other"


def role(n: Node) -> str:
    """How fusion sees a node, from its op's kind."""
    if len(n.outputs) != 1:
        return OTHER
    kind = n.opdef.kind
    if kind in (ELEMWISE, BROADCAST):
        return POINTWISE
    if kind in (OUT_FUSABLE, REDUCE):
        return ANCHOR
    if kind == VIEW:
        return VIEW_ROLE
    if n.opdef.index is not None and _remaps(n):
        return REMAP
    return OTHER


def _remaps(n: Node) -> bool:
    """Whether `n`'s index map applies (its other inputs are suitable constants)."""
    if any(v is not None and v.const is None for v in n.inputs[1:]):
        return False
    try:
        return n.opdef.index([0] * n.outputs[0].rank, n.inputs, **n.attrs) is not None
    except Exception:
        return False


# ------------------------------------------------------------ index maps
class _Mark:
    """A placeholder index: tells where an index map sends each axis."""
    __slots__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = axis


def permutation(n: Node) -> list[int] | None:
    """For a remap whose index map only permutes axes (transpose): for each
    input axis, the output axis it becomes. None for any other remap."""
    rank = n.outputs[0].rank
    if n.opdef.index is None or n.inputs[0].rank != rank:
        return None
    marks = [_Mark(j) for j in range(rank)]
    try:
        src = list(n.opdef.index(marks, n.inputs, **n.attrs))
    except Exception:   # arithmetic on the marks: not a pure permutation
        return None
    if len(src) != rank or not all(isinstance(s, _Mark) for s in src) or len({s.axis for s in src}) != rank:
        return None
    return [s.axis for s in src]


def push_index(n: Node, in_idx):
    """The output index of a permutation remap `n` that holds its input's element `in_idx`."""
    perm = permutation(n)
    out = [None] * len(perm)
    for a, j in enumerate(perm):
        out[j] = in_idx[a]
    return out


def reshape_index(idx, src_shape, dst_shape, div=operator.floordiv, mod=operator.mod):
    """The index into `dst_shape` of the element at `idx` of `src_shape`, for
    the same elements in the same (row-major) order, as views have them.
    Dims are matched in blocks of equal product, so a dim that stays is
    passed through and only split or merged dims cost a division."""
    out = [0] * len(dst_shape)
    if numel(src_shape) == 0:
        return out
    src = [(i, d) for i, d in zip(idx, src_shape) if d != 1]
    dst = [(j, d) for j, d in enumerate(dst_shape) if d != 1]
    a = b = 0
    while a < len(src) or b < len(dst):
        a0, b0 = a, b
        ps, pd = src[a][1], dst[b][1]
        a, b = a + 1, b + 1
        while ps != pd:
            if ps < pd:
                ps *= src[a][1]
                a += 1
            else:
                pd *= dst[b][1]
                b += 1
        block_src, block_dst = src[a0:a], dst[b0:b]
        if len(block_src) == 1 and len(block_dst) == 1:
            out[block_dst[0][0]] = block_src[0][0]
            continue
        lin = 0
        for i, d in block_src:
            lin = lin * d + i
        stride = pd
        for k, (j, d) in enumerate(block_dst):
            stride //= d
            q = lin if stride == 1 else div(lin, stride)
            out[j] = q if k == 0 else mod(q, d)
    return out


def broadcast_index(idx, shape):
    """The index of an operand of `shape` at output index `idx` (numpy broadcasting)."""
    lead = len(idx) - len(shape)
    return [0 if d == 1 else idx[lead + i] for i, d in enumerate(shape)]


# ---------------------------------------------------------------- groups
@dataclass(eq=False)
class _Group:
    gid: int
    nodes: set = field(default_factory=set)
    anchor: Node | None = None
    domain: tuple | None = None                  # pointwise groups: the shape of their members
    chain: dict = field(default_factory=dict)    # epilogue value -> the remap nodes between it and the anchor


class _Partition:
    """Nodes in groups, and the graph of groups, kept acyclic."""

    def __init__(self, g: Graph):
        self.g = g
        self.index = {n: i for i, n in enumerate(g.nodes)}
        self.users = g.users()
        self.outputs = set(g.outputs)
        self.group: dict[Node, _Group] = {}
        self.succ: dict[int, set[int]] = {}
        self.pred: dict[int, set[int]] = {}
        self.groups: dict[int, _Group] = {}
        for i, n in enumerate(g.nodes):
            grp = _Group(i, {n})
            self.group[n] = grp
            self.groups[i] = grp
            self.succ[i], self.pred[i] = set(), set()
        for n in g.nodes:
            for v in n.inputs:
                p = self.producer(v)
                if p is not None:
                    self._edge(self.group[p].gid, self.group[n].gid)

    def producer(self, v: Value | None) -> Node | None:
        if v is None or v.producer is None or v.producer not in self.index:
            return None
        return v.producer

    def _edge(self, a: int, b: int) -> None:
        if a != b:
            self.succ[a].add(b)
            self.pred[b].add(a)

    def alone(self, n: Node) -> bool:
        return len(self.group[n].nodes) == 1

    def inside(self, grp: _Group, v: Value | None) -> bool:
        p = self.producer(v)
        return p is not None and p in grp.nodes

    def _reaches(self, start: set[int], target: int) -> bool:
        seen, todo = set(start), list(start)
        while todo:
            x = todo.pop()
            if x == target:
                return True
            for y in self.succ[x]:
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        return False

    def merge(self, a: _Group, b: _Group) -> bool:
        """Merge group b into a unless that would make a cycle of groups
        (a path between them through a third group)."""
        if self._reaches(self.succ[a.gid] - {b.gid}, b.gid) or self._reaches(self.succ[b.gid] - {a.gid}, a.gid):
            return False
        for n in b.nodes:
            self.group[n] = a
        a.nodes |= b.nodes
        a.chain.update(b.chain)
        for s in self.succ.pop(b.gid):
            self.pred[s].discard(b.gid)
            self._edge(a.gid, s)
        for p in self.pred.pop(b.gid):
            self.succ[p].discard(b.gid)
            self._edge(p, a.gid)
        self.succ[a.gid].discard(a.gid)
        self.pred[a.gid].discard(a.gid)
        del self.groups[b.gid]
        return True

    def add(self, grp: _Group, n: Node) -> bool:
        return self.merge(grp, self.group[n])

    def used_outside(self, grp: _Group, v: Value) -> bool:
        return v in self.outputs or any(u not in grp.nodes for u in self.users.get(v, ()))


def _data_input(n: Node) -> Value:
    return n.inputs[0]


def _grow_prologue(part: _Partition, grp: _Group) -> None:
    anchor = grp.anchor
    pointwise_ok = anchor.opdef.kind == REDUCE
    # (value, shape the anchor reads it as, or None once read through a
    # remap that repeats elements: no pointwise work may sit above that)
    todo = [(u, u.shape) for u in anchor.inputs if u is not None]
    while todo:
        u, root = todo.pop()
        p = part.producer(u)
        if p is None or not part.alone(p) or part.used_outside(grp, u):
            continue
        r = role(p)
        if r == POINTWISE and pointwise_ok and root is not None and tuple(u.shape) == tuple(root):
            nxt = [(w, w.shape if tuple(w.shape) == tuple(u.shape) else None) for w in p.inputs if w is not None]
        elif r == VIEW_ROLE:
            nxt = [(_data_input(p), _data_input(p).shape if root is not None else None)]
        elif r == REMAP:
            x = _data_input(p)
            nxt = [(x, x.shape if root is not None and permutation(p) is not None else None)]
        else:
            continue
        if part.add(grp, p):
            todo.extend(nxt)


def _grow_epilogue(part: _Partition, grp: _Group) -> None:
    t = grp.anchor.outputs[0]
    grp.chain[t] = ()
    todo = [t]
    while todo:
        v = todo.pop(0)
        for c in part.users.get(v, ()):
            if c in grp.nodes or not part.alone(c):
                continue
            r = role(c)
            out = c.outputs[0]
            if r == POINTWISE:
                internal = [u for u in c.inputs if part.inside(grp, u)]
                if any(u not in grp.chain for u in internal):
                    continue   # a prologue value or the anchor's input: not at an output position
                if len({grp.chain[u] for u in internal}) != 1 or tuple(out.shape) != tuple(v.shape):
                    continue
                chain = grp.chain[v]
            elif (r == VIEW_ROLE or (r == REMAP and permutation(c) is not None)) and c.inputs[0] is v:
                if r == REMAP and (v in part.outputs or any(u is not c and u not in grp.nodes
                                                            for u in part.users.get(v, ()))):
                    continue   # v is stored anyway: its consumers read it through the permutation
                chain = grp.chain[v] + (c,)
            else:
                continue
            if part.add(grp, c):
                grp.chain[out] = chain
                todo.append(out)


def _grow_pointwise(part: _Partition, n: Node) -> None:
    grp = part.group[n]
    out = n.outputs[0]
    grp.domain = tuple(out.shape)
    for u in n.inputs:
        p = part.producer(u)
        if p is None or p in grp.nodes:
            continue
        other = part.group[p]
        if other.anchor is not None or other.domain != grp.domain or tuple(u.shape) != grp.domain:
            continue
        if part.merge(other, grp):
            grp = other
    for u in n.inputs:   # read a transpose/slice/expand of memory through its index map
        chain = _remap_chain(part, grp, u)
        for p in chain:
            if not part.add(grp, p):
                break


def _remap_chain(part: _Partition, grp: _Group, u: Value) -> list[Node]:
    """The views and remaps (at least one remap) that produce `u` from memory
    outside `grp`, each read only by the next (the last by `grp`)."""
    chain: list[Node] = []
    readers = set(grp.nodes)
    while True:
        p = part.producer(u)
        if p is None or role(p) not in (REMAP, VIEW_ROLE) or not part.alone(p) or u in part.outputs \
                or any(c not in readers for c in part.users.get(u, ())):
            break
        chain.append(p)
        readers = {p}
        u = _data_input(p)
    while chain and role(chain[-1]) == VIEW_ROLE:   # views of memory are free where they are
        chain.pop()
    if not chain or part.inside(grp, _data_input(chain[-1])):
        return []
    return chain


def _trim_views(part: _Partition, grp: _Group) -> None:
    """Views whose input comes from outside, or whose result only other
    groups read, cost nothing outside the group: leave them there."""
    changed = True
    while changed:
        changed = False
        for n in list(grp.nodes):
            if role(n) != VIEW_ROLE or n is grp.anchor or len(grp.nodes) == 1:
                continue
            out = n.outputs[0]
            leaf_in = not part.inside(grp, _data_input(n))
            leaf_out = not any(u in grp.nodes for u in part.users.get(out, ()))
            if leaf_in or leaf_out:
                grp.nodes.discard(n)
                grp.chain.pop(out, None)
                gid = max(part.groups) + 1
                alone = _Group(gid, {n})
                part.groups[gid] = alone
                part.group[n] = alone
                changed = True


def partition(g: Graph) -> list[list[Node]]:
    """The fusion groups of `g`, each a list of nodes in schedule order, the
    groups in an order that respects their dependencies."""
    part = _Partition(g)
    for n in g.nodes:
        if role(n) == ANCHOR and part.alone(n):
            grp = part.group[n]
            grp.anchor = n
            _grow_prologue(part, grp)
            _grow_epilogue(part, grp)
    for n in g.nodes:
        if role(n) == POINTWISE and part.alone(n) and part.group[n].anchor is None:
            _grow_pointwise(part, n)
    for grp in list(part.groups.values()):
        _trim_views(part, grp)
    return _order(part)


def _order(part: _Partition) -> list[list[Node]]:
    """Groups in dependency order (ties: earliest first member first). The
    group graph is rebuilt from scratch here and must be acyclic."""
    unique = {id(grp): grp for grp in part.group.values()}
    groups = {gid: sorted(grp.nodes, key=part.index.get) for gid, grp in unique.items()}
    first = {gid: part.index[nodes[0]] for gid, nodes in groups.items()}
    dag = nx.DiGraph()
    dag.add_nodes_from(groups)
    for n in part.g.nodes:
        for v in n.inputs:
            p = part.producer(v)
            if p is not None and part.group[p] is not part.group[n]:
                dag.add_edge(id(part.group[p]), id(part.group[n]))
    if not nx.is_directed_acyclic_graph(dag):
        raise AssertionError("fusion made a cycle of groups: " + str(nx.find_cycle(dag)))
    return [groups[gid] for gid in nx.lexicographical_topological_sort(dag, key=first.get)]


# ------------------------------------------------------------ rewriting
def _fused_name(members: list[Node]) -> str:
    anchors = [m.op for m in members if role(m) == ANCHOR]
    ops = anchors + [m.op for m in members if role(m) != ANCHOR and role(m) != VIEW_ROLE]
    return "fused_" + "_".join(list(dict.fromkeys(ops))[:4] or ["view"])


def _body_const(v: Value, members: list[Node]) -> bool:
    """A constant that stays inside the body (no kernel argument): one
    element (an immediate) or read only as a static input (a reshape target)."""
    if v.numel == 1:
        return True
    uses = [(m, i) for m in members for i, u in enumerate(m.inputs) if u is v]
    return all(i in m.opdef.static_inputs for m, i in uses)


def make_fused(g: Graph, members: list[Node], users: dict) -> Node:
    """Replace `members` (in schedule order) by one ``fused`` node appended
    to ``g.nodes``; the caller puts it in place."""
    inside = set(members)
    produced = {v for m in members for v in m.outputs}
    outside_outputs = set(g.outputs)
    ext: dict[Value, None] = {}
    for m in members:
        for v in m.inputs:
            if v is not None and v not in produced:
                ext.setdefault(v)
    body = Graph(_fused_name(members))
    mirror: dict[Value, Value] = {}
    for v in ext:
        if v.is_const and _body_const(v, members):
            continue
        mirror[v] = Value(v.name, v.dtype, v.shape, const=v.const)
        body.inputs.append(mirror[v])
    for m in members:
        m.inputs = [mirror.get(v, v) if v is not None else None for v in m.inputs]
    body.nodes = list(members)
    body.outputs = [v for m in members for v in m.outputs
                    if v in outside_outputs or any(u not in inside for u in users.get(v, ()))]
    body._used = {v.name for v in body.inputs} | {v.name for m in members for v in m.outputs}
    node = Node("fused", [v for v in ext if v in mirror], {"body": body, "name": body.name},
                source=" + ".join(node_sources_of(members)))
    for v in body.outputs:
        node.outputs.append(Value(v.name, v.dtype, v.shape, producer=node))
    return node


def node_sources_of(members: list[Node]) -> list[str]:
    return list(dict.fromkeys(s for m in members for s in node_sources(m)))


def fuse_operators(g: Graph) -> Graph:
    """Partition `g` into fusion groups (see the module docstring) and
    replace each group of two or more nodes by a ``fused`` node. Assumes
    static shapes and outputs made by real nodes (materialize_outputs).
    Promises: same outputs; one kernel per node afterwards; nodes in an
    order that respects dependencies."""
    groups = partition(g)
    users = g.users()
    new_nodes: list[Node] = []
    replace: dict[Value, Value] = {}
    for members in groups:
        for m in members:
            m.inputs = [replace.get(v, v) if v is not None else None for v in m.inputs]
        if len(members) == 1:
            new_nodes.append(members[0])
            continue
        node = make_fused(g, members, users)
        for old, new in zip(node.attrs["body"].outputs, node.outputs):
            replace[old] = new
        new_nodes.append(node)
    g.nodes = new_nodes
    g.outputs = [replace.get(v, v) for v in g.outputs]
    return g


# ------------------------------------------------------------ reporting
def describe_kernels(g: Graph) -> str:
    """One block per kernel: its name, and each member op with its source
    ONNX node(s); views (which are no kernel) are listed as such."""
    lines = []
    kernels = 0
    for i, n in enumerate(g.nodes):
        if n.opdef.kind == VIEW:
            lines.append(f"(view)  {n.outputs[0].name}: {n.outputs[0].type_str} = {n.op}({n.inputs[0].name})"
                         + (f"  # {n.source}" if n.source else ""))
            continue
        kernels += 1
        outs = ", ".join(f"{v.name}: {v.type_str}" for v in n.outputs)
        members = n.attrs["body"].nodes if n.op == "fused" else [n]
        lines.append(f"kernel {kernel_name(n, i)} -> {outs}")
        for m in members:
            src = ", ".join(node_sources(m)) or "-"
            lines.append(f"    {m.op:<14} {src}")
    lines.append(f"# {kernels} kernels for {len(g.nodes)} nodes")
    return "\n".join(lines)
