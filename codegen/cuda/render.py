"""Render a kernel-IR Kernel into Numba-CUDA kernels (Python source).

The same Kernel the LLVM renderer turns into a CPU function becomes one
CUDA kernel here, named like it (``fused_conv_add_relu_7``); only the
mapping onto threads differs. The body's top-level statements are split
into *phases*, each a CUDA kernel launched in order on one stream (a kernel
boundary is the only grid-wide barrier); almost every kernel is one phase:

- ``grid``: a ``parallel`` loop, collapsed with the loops nested directly
  in it while their iterations are provably independent (stores at
  distinct elements, no value carried between iterations), becomes a
  grid-stride loop: each thread runs the body for some iterations.
- ``warp``: the same, when the body holds a reduction (a loop of
  ``reassoc`` accumulations, possibly storing at distinct elements too):
  one warp per iteration; its lanes split the reduction loops and combine
  their partial results with warp shuffles (``shfl_xor_sync``).
- ``tiled``: a block annotated with a `kir.Contraction` (matmul, conv):
  blocks compute tiles of the output, staging operand tiles in shared
  memory; each thread accumulates a small register tile.
- ``direct``: a contraction too narrow to tile (depthwise conv, one output
  row): one thread per output element, a register accumulator.
- ``single``: anything else runs on one thread (the body's serial parts).
- a serial top-level loop with constant bounds around phases becomes a
  loop of launches on the host (its variable is a kernel argument).

Every buffer is a 1-D array argument of its dtype (index arithmetic as in
the LLVM renderer: offset + sum of index * stride); run-time checks write
``(call << 16) | code`` into a status word in device memory (first failure
wins) that the runtime reads once per run.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ...ir import dtypes
from ...ir.errors import UnsupportedError
from .. import kir
from ..kir import (Assign, Binary, Block, Buffer, Cast, Check, Cmp, Const, Contraction, Expr, If, Kernel,
                   Load, Loop, Scheduled, Select, Store, Unary, Var, contiguous_strides)
from .pysrc import Consts, ExprWriter, Namer, StmtWriter, np_name

WARP = 32
SHUFFLE_DTYPES = {np.dtype(t) for t in ("int32", "int64", "float32", "float64")}
_REDUCE_OPS = ("add", "mul", "min", "max")
SUPPORTED_KINDS = "biuf"


@dataclass(frozen=True)
class Tiling:
    """A tiled contraction's shape: the block computes tm x tn outputs, each
    thread an rm x rn register tile, stepping tk along the reduction."""
    tm: int
    tn: int
    tk: int
    rm: int
    rn: int

    @property
    def threads(self) -> tuple[int, int]:
        return self.tn // self.rn, self.tm // self.rm    # (x, y)


@dataclass(frozen=True)
class RenderConfig:
    """Launch shapes and thresholds. `simulator` picks small blocks and tiles:
    numba's simulator runs every CUDA thread as a Python thread."""
    simulator: bool = False
    block: int = 128          # threads per block of grid and warp phases
    warp: int = 32            # lanes that share a reduction (the hardware warp; fewer under the simulator)
    warp_min: int = 32        # a reduction this long (or longer) gets a warp per row
    tilings: tuple = (Tiling(128, 128, 8, 8, 8), Tiling(64, 64, 16, 4, 4), Tiling(32, 32, 16, 2, 2))
    tile_min: int = 16        # both tiled sides at least this long, else direct

    @staticmethod
    def for_simulator() -> "RenderConfig":
        return RenderConfig(simulator=True, block=8, warp=4, warp_min=8, tilings=(Tiling(4, 4, 4, 2, 2),),
                            tile_min=2)

    def tiling(self, m: int, n: int) -> Tiling:
        for t in self.tilings:
            if m >= t.tm and n >= t.tn:
                return t
        return self.tilings[-1]


@dataclass
class Phase:
    """One CUDA kernel of a rendered Kernel."""
    name: str
    kind: str                     # grid | warp | tiled | direct | single
    work: int                     # grid-stride iterations: items, rows (warps) or tiles
    block: tuple[int, int]        # threads per block (x, y)
    host_vars: tuple[str, ...] = ()
    lanes: int = 1                # threads per unit of work (a warp's lanes for warp phases)


@dataclass
class CudaKernel:
    """A Kernel rendered for CUDA: Python source defining one function per
    phase (plus helper device functions), the module-level constants it
    names, the dtype of each array argument (params, then scratch), and the
    launches in order: (phase index, values of the host-loop variables)."""
    name: str
    source: str
    consts: dict[str, object]
    arg_dtypes: list[np.dtype]
    phases: list[Phase]
    launches: list[tuple[int, tuple[int, ...]]]
    sources: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Content key: equal keys compile to the same code."""
        h = hashlib.sha256(self.source.encode())
        for k in sorted(self.consts):
            v = self.consts[k]
            h.update(f"{k}={v.dtype.str}:{v.tobytes().hex()}".encode())
        return h.hexdigest()


# =================================================================== analysis
def _expr_nodes(e: Expr, out: list) -> None:
    stack = [e]
    seen = set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        out.append(x)
        if isinstance(x, Load):
            stack.extend(x.idx)
        elif isinstance(x, (Unary, Cast)):
            stack.append(x.x)
        elif isinstance(x, (Binary, Cmp)):
            stack.extend((x.a, x.b))
        elif isinstance(x, Select):
            stack.extend((x.cond, x.a, x.b))


def _stmt_exprs(s) -> list[Expr]:
    if isinstance(s, Loop):
        return [s.start, s.stop]
    if isinstance(s, Store):
        return [*s.idx, s.value]
    if isinstance(s, Assign):
        return [s.value]
    if isinstance(s, (If, Check)):
        return [s.cond]
    return []


def _walk(b, out: list | None = None) -> list:
    """Every statement in `b`, recursively (blocks themselves excluded)."""
    out = [] if out is None else out
    if isinstance(b, Block):
        for s in b.stmts:
            _walk(s, out)
    else:
        out.append(b)
        if isinstance(b, Loop):
            _walk(b.body, out)
        elif isinstance(b, If):
            _walk(b.then, out)
            if b.orelse is not None:
                _walk(b.orelse, out)
    return out


def _vars_read(exprs) -> set:
    nodes: list = []
    for e in exprs:
        _expr_nodes(e, nodes)
    return {x for x in nodes if isinstance(x, Var)}


def _loads(exprs) -> list[Load]:
    nodes: list = []
    for e in exprs:
        _expr_nodes(e, nodes)
    return [x for x in nodes if isinstance(x, Load)]


def _uses_var(e: Expr, v: Var) -> bool:
    return v in _vars_read([e])


class _Analysis:
    def __init__(self, kernel: Kernel, may_alias: set):
        self.kernel = kernel
        self.locals = set(kernel.locals)
        self.may_alias = may_alias   # Buffers whose memory overlaps another argument's

    # ------------------------------------------------------------ locals
    def live_in(self, stmts, defined: set | None = None) -> set:
        """Locals the statements read before assigning them."""
        bad: set = set()
        self._live(stmts, set(defined or ()), bad, None)
        return bad

    def _live(self, stmts, defined: set, bad: set, accs: dict | None) -> None:
        for s in stmts:
            if isinstance(s, Block):
                self._live(s.stmts, defined, bad, accs)
                continue
            if isinstance(s, Assign) and accs is not None and s.var not in defined and _is_accumulation(s):
                # an accumulation into a local from outside the split loop
                op = s.value.op
                if accs.setdefault(s.var, op) != op or _uses_var(s.value.b, s.var):
                    bad.add(s.var)
                bad.update(v for v in _vars_read([s.value.b]) if v in self.locals and v not in defined)
                continue
            read = _vars_read(_stmt_exprs(s))
            bad.update(v for v in read if v in self.locals and v not in defined)
            if accs is not None:
                bad.update(v for v in read if v in accs)   # an accumulator read mid-loop
            if isinstance(s, Assign):
                if accs is not None and s.var in accs:
                    bad.add(s.var)
                defined.add(s.var)
            elif isinstance(s, Loop):
                self._live(s.body.stmts, set(defined), bad, accs)
            elif isinstance(s, If):
                self._live(s.then.stmts, set(defined), bad, accs)
                if s.orelse is not None:
                    self._live(s.orelse.stmts, set(defined), bad, accs)

    # ------------------------------------------------------------ loops
    def split(self, loop: Loop, allow_accumulate: bool) -> dict | None:
        """Whether `loop`'s iterations may run on different threads: they
        write distinct elements and carry nothing from one to the next,
        except (with `allow_accumulate`) reassociable accumulations into
        locals. Returns {accumulator: op} (empty for a plain parallel
        loop), or None when they may not."""
        accs: dict = {}
        bad: set = set()
        self._live(loop.body.stmts, set(), bad, accs if allow_accumulate else None)
        stmts = _walk(loop.body)
        assigned = {s.var for s in stmts if isinstance(s, Assign)}
        if bad & assigned:   # a value carried from one iteration to the next (invariant locals are fine)
            return None
        if accs and (not allow_accumulate or any(op not in _REDUCE_OPS for op in accs.values())):
            return None
        if any(isinstance(s, Assign) and s.var in accs and not _is_accumulation(s) for s in stmts):
            return None
        accesses: dict[Buffer, list] = {}
        stored = set()
        for s in stmts:
            if isinstance(s, Store):
                stored.add(s.buf)
                accesses.setdefault(s.buf, []).append(s.idx)
            for ld in _loads(_stmt_exprs(s)):
                accesses.setdefault(ld.buf, []).append(ld.idx)
        for buf in stored:
            if buf in self.may_alias or tuple(buf.strides) != contiguous_strides(buf.shape):
                return None
            dims = [d for d in range(buf.rank) if buf.shape[d] > 1
                    and all(idx[d] is loop.var for idx in accesses[buf])]
            if not dims:
                return None
        return accs


def _is_accumulation(s: Assign) -> bool:
    v = s.value
    return isinstance(v, Binary) and v.reassoc and v.a is s.var


def _const(e: Expr) -> int | None:
    return int(e.value) if isinstance(e, Const) else None


def _perfect_nest(loop: Loop, const_only: bool = True) -> list[Loop]:
    """`loop` and the loops nested in it as each one's only statement (with
    constant bounds), outermost first."""
    chain = [loop]
    while True:
        body = [s for s in chain[-1].body.stmts]
        if len(body) != 1 or not isinstance(body[0], Loop):
            return chain
        inner = body[0]
        if const_only and (_const(inner.start) is None or _const(inner.stop) is None):
            return chain
        chain.append(inner)


# =================================================================== renderer
def _check_dtype(kernel: Kernel, dt: np.dtype, where: str) -> None:
    """Refuse what the CUDA target cannot hold: strings and objects, and the
    storage-only types (kir) other than float16: bfloat16, float8/float4,
    int4/int2 (the CPU target supports them)."""
    if dt == np.float16 or (dtypes.kind(dt) in SUPPORTED_KINDS and not dtypes.is_storage_only(dt)
                            and dt.itemsize <= 8):
        return
    nodes = f" ({', '.join(kernel.sources)})" if kernel.sources else ""
    raise UnsupportedError(f"kernel {kernel.name}{nodes}: the CUDA target does not support dtype {dt.name}{where}; "
                           f"compile it with target='cpu'")


class _KernelRenderer:
    def __init__(self, kernel: Kernel, may_alias: set, cfg: RenderConfig):
        self.k = kernel
        self.cfg = cfg
        self.an = _Analysis(kernel, may_alias)
        self.namer = Namer()
        self.names: dict = {}
        for b in kernel.params + kernel.scratch:
            _check_dtype(kernel, b.dtype, f" (buffer {b.name})")
            self.names[b] = self.namer(b, b.name)
        self.arg_names = [self.names[b] for b in kernel.params + kernel.scratch]
        for s in _walk(kernel.body):
            if isinstance(s, Loop):
                self.names[s.var] = self.namer(s.var, s.var.name)
            for e in _stmt_exprs(s):
                nodes: list = []
                _expr_nodes(e, nodes)
                for x in nodes:
                    if isinstance(x, Var) and x not in self.names:
                        self.names[x] = self.namer(x, x.name)
                    _check_dtype(kernel, x.to if isinstance(x, Cast) else x.dtype, "")
        for v in kernel.locals:
            self.names[v] = self.namer(v, v.name)
        self.consts = Consts()
        self.ew = ExprWriter(self.names, self.consts, self.namer)
        self.sw = StmtWriter(self.ew, "_status", "_tag")
        self.functions: list[str] = []
        self.phases: list[Phase] = []
        self.launches: list[tuple[int, tuple[int, ...]]] = []

    def name_var(self, v: Var) -> str:
        if v not in self.names:
            self.names[v] = self.namer(v, v.name)
        return self.names[v]

    # ------------------------------------------------------------ plan
    def render(self) -> CudaKernel:
        groups = self.plan(self.k.body.stmts)
        if groups is None or self.flows_between_phases(groups):
            groups = [("single", self.k.body.stmts, None)]   # values flow between phases: one thread
        self.emit_groups(groups)
        src = [f"# {self.k.name}" + (f": {', '.join(self.k.sources)}" if self.k.sources else "")]
        src += self.functions
        return CudaKernel(self.k.name, "\n\n".join(src) + "\n", dict(self.consts.values),
                          [b.dtype for b in self.k.params + self.k.scratch], self.phases, self.launches,
                          list(self.k.sources), list(self.k.messages))

    def plan(self, stmts) -> list | None:
        """[(kind, statements, extra)]: consecutive serial statements form one
        'single' group; a host loop is ("host", [loop], sub-plan)."""
        groups: list = []
        serial: list = []

        def flush():
            if serial:
                groups.append(("single", list(serial), None))
                serial.clear()

        for s in stmts:
            if isinstance(s, Scheduled) and s.contraction is not None and self.contraction_ok(s.contraction):
                flush()
                groups.append(("contraction", [s], s.contraction))
            elif isinstance(s, Block):
                sub = self.plan(s.stmts)
                if sub is None:
                    return None
                if all(kind == "single" for kind, _, _ in sub):
                    serial.extend(s.stmts)
                else:
                    flush()
                    groups.extend(sub)
            elif isinstance(s, Loop) and s.parallel and _const(s.start) is not None and _const(s.stop) is not None:
                flush()
                groups.append(("loop", [s], None))
            elif isinstance(s, Loop) and _const(s.start) is not None and _const(s.stop) is not None \
                    and 0 < _const(s.stop) - _const(s.start) <= 256:
                sub = self.plan(s.body.stmts)
                if sub is not None and any(kind != "single" for kind, _, _ in sub):
                    flush()
                    groups.append(("host", [s], sub))
                else:
                    serial.append(s)
            else:
                serial.append(s)
        flush()
        return groups

    def emit_groups(self, groups) -> None:
        for kind, stmts, extra in groups:
            if kind != "host":
                idx = self.emit_group(kind, stmts, extra, ())
                if idx is not None:
                    self.launches.append((idx, ()))
                continue
            loop = stmts[0]   # a loop of launches: its body's phases, once per iteration
            made = []
            for k2, s2, e2 in extra:
                idx = self.emit_group("single" if k2 == "host" else k2, s2, e2, (loop.var,))
                if idx is not None:
                    made.append(idx)
            for val in range(_const(loop.start), _const(loop.stop)):
                self.launches.extend((p, (val,)) for p in made)

    def flows_between_phases(self, groups) -> bool:
        """Whether a phase reads a local that another phase assigned."""
        for kind, stmts, extra in groups:
            if kind == "host":
                if self.flows_between_phases(extra):
                    return True
            elif self.an.live_in(stmts):
                return True
        return False

    # ----------------------------------------------------------- phases
    def new_phase(self, kind: str, work: int, block: tuple[int, int], host: tuple, lines: list[str],
                  lanes: int = 1) -> int:
        i = len(self.phases)
        name = self.namer(("phase", i), self.k.name if i == 0 else f"{self.k.name}_p{i}")
        host_names = tuple(self.names[v] for v in host)
        args = ", ".join(self.arg_names + ["_status", "_tag"] + list(host_names))
        self.functions.append(f"def {name}({args}):\n" + "\n".join(lines))
        self.phases.append(Phase(name, kind, work, block, host_names, lanes))
        return i

    def emit_group(self, kind: str, stmts: list, extra, host: tuple) -> int | None:
        if kind == "contraction":
            return self.emit_contraction(extra, host)
        if kind == "loop":
            return self.emit_loop(stmts[0], host)
        lines = ["    if cuda.grid(1) == 0:"]
        body: list[str] = []
        for s in stmts:
            self.sw.stmt(s, "        ", body)
        lines += body or ["        pass"]
        return self.new_phase("single", 1, (1, 1), host, lines)

    def decode(self, index: str, chain: list[tuple[str, int, int]], ind: str) -> list[str]:
        """Lines binding each (name, start, extent) of `chain` (outermost
        first) from the flat `index`."""
        lines, stride = [], 1
        strides = []
        for _, _, e in reversed(chain):
            strides.append(stride)
            stride *= max(e, 1)
        strides.reverse()
        for d, ((name, start, e), st) in enumerate(zip(chain, strides)):
            q = index if st == 1 else f"{index} // {st}"
            v = q if d == 0 else f"{q} % {e}"
            lines.append(f"{ind}{name} = {v}" + (f" + {start}" if start else ""))
        return lines

    # -------------------------------------------------- parallel loops
    def emit_loop(self, loop: Loop, host: tuple) -> int | None:
        chain = [loop]
        for inner in _perfect_nest(loop)[1:]:
            if self.an.split(inner, allow_accumulate=False) != {}:
                break
            chain.append(inner)
        spec = [(self.names[lp.var], _const(lp.start), _const(lp.stop) - _const(lp.start)) for lp in chain]
        n = int(np.prod([e for _, _, e in spec], dtype=np.int64))
        if n <= 0:
            return None
        body = chain[-1].body
        warp = self.warp_plan(body)
        if warp is not None:
            w = self.cfg.warp
            lines = [f"    _lane = cuda.threadIdx.x % {w}",
                     f"    for _w in range(cuda.grid(1) // {w}, {n}, cuda.gridsize(1) // {w}):"]
            lines += self.decode("_w", spec, "        ")
            lines += self.warp_body(body, warp, "        ")
            return self.new_phase("warp", n, (max(self.cfg.block, w), 1), host, lines, lanes=w)
        lines = [f"    for _i in range(cuda.grid(1), {n}, cuda.gridsize(1)):"]
        lines += self.decode("_i", spec, "        ")
        out: list[str] = []
        self.sw.block(body, "        ", out)
        lines += out
        return self.new_phase("grid", n, (self.cfg.block, 1), host, lines)

    # ------------------------------------------------------- warp rows
    def warp_plan(self, body: Block) -> dict | None:
        """{split loop: accumulators} when the body suits a warp per
        iteration: its loops either split over lanes (some reducing), its
        other statements are scalar; None otherwise."""
        plan: dict = {}
        longest = 0
        stmts = body.stmts
        for i, s in enumerate(stmts):
            if isinstance(s, Loop):
                accs = self.an.split(s, allow_accumulate=True)
                if accs is None:
                    return None
                if any(v.dtype not in SHUFFLE_DTYPES for v in accs):
                    return None
                inner = {x.var for x in _walk(s) if isinstance(x, Assign)} - set(accs)
                later = _vars_read([e for t in stmts[i + 1:] for x in _walk(t) for e in _stmt_exprs(x)])
                if inner & later:
                    return None   # a loop-private value read after the loop
                plan[s] = accs
                if accs:
                    nest = _perfect_nest(s)
                    if _const(s.start) is not None and _const(s.stop) is not None:
                        trip = 1
                        for lp in nest:
                            trip *= _const(lp.stop) - _const(lp.start)
                    else:
                        trip = 0   # bounds known per row only (a pooling window): not worth a warp
                    longest = max(longest, trip)
            elif isinstance(s, If):
                if any(isinstance(x, Loop) for x in _walk(s)):
                    return None
            elif isinstance(s, Block):
                return None
        if longest < self.cfg.warp_min:
            return None
        return plan

    def warp_body(self, body: Block, plan: dict, ind: str) -> list[str]:
        out: list[str] = []
        ew, sw = self.ew, self.sw
        for s in body.stmts:
            if isinstance(s, Loop):
                accs = plan[s]
                saved = {}
                for v, op in accs.items():
                    name = self.names[v]
                    saved[v] = self.namer.temp("_outer")
                    out.append(f"{ind}{saved[v]} = {name}")
                    out.append(f"{ind}{name} = {ew.const(_identity(op, v.dtype), v.dtype)}")
                nest = _perfect_nest(s) if _const(s.start) is not None and _const(s.stop) is not None else [s]
                if len(nest) > 1:
                    spec = [(self.names[lp.var], _const(lp.start), _const(lp.stop) - _const(lp.start))
                            for lp in nest]
                    total = int(np.prod([e for _, _, e in spec], dtype=np.int64))
                    f = self.namer.temp("_f")
                    out.append(f"{ind}for {f} in range(_lane, {total}, {self.cfg.warp}):")
                    out += self.decode(f, spec, ind + "    ")
                    sw.block(nest[-1].body, ind + "    ", out)
                else:
                    out += [ind + ln for ln in ew.prepare([s.start, s.stop])]
                    start = ew.text(s.start)
                    out.append(f"{ind}for {self.names[s.var]} in range({'' if start == '0' else start + ' + '}_lane, "
                               f"{ew.text(s.stop)}, {self.cfg.warp}):")
                    sw.block(s.body, ind + "    ", out)
                for v, op in accs.items():
                    name = self.names[v]
                    off = self.cfg.warp
                    while off > 1:
                        off //= 2
                        out.append(f"{ind}_v = cuda.shfl_xor_sync(0xffffffff, {name}, {off})")
                        line = f"{ind}{name} = " + ew.binary(op, name, "_v", v.dtype)
                        out += [ind + ln for ln in ew.take_lines()] + [line]
                    line = f"{ind}{name} = " + ew.binary(op, saved[v], name, v.dtype)
                    out += [ind + ln for ln in ew.take_lines()] + [line]
                if any(isinstance(x, Store) for x in _walk(s)):
                    out.append(f"{ind}cuda.syncwarp()")
            else:
                stores = any(isinstance(x, Store) for x in _walk(s)) if not isinstance(s, Store) else True
                sw.store_guard = "_lane == 0"
                try:
                    sw.stmt(s, ind, out)
                finally:
                    sw.store_guard = None
                if stores:
                    out.append(f"{ind}cuda.syncwarp()")
        return out

    # ---------------------------------------------------- contractions
    def contraction_ok(self, c: Contraction) -> bool:
        if c.acc.dtype.kind != "f":
            return False
        if not (isinstance(c.term, Binary) and c.term.op == "mul"):
            return False
        if any(e <= 0 for _, e in c.space):
            return False
        if any(v in self.an.locals for v in _vars_read([c.term, c.init])):
            return False
        return True

    def _sides(self, c: Contraction):
        """(batch, m-side, n-side) space variables and the factors (a, b) of
        the term: a reads m-side and batch variables, b n-side and batch."""
        fa, fb = c.term.a, c.term.b
        space = [v for v, _ in c.space]
        ua, ub = _vars_read([fa]), _vars_read([fb])
        batch = [v for v in space if v in ua and v in ub]
        ms = [v for v in space if v in ua and v not in ub]
        ns = [v for v in space if v in ub and v not in ua]
        if len(batch) + len(ms) + len(ns) != len(space):
            return None
        # the output's innermost space variable goes along x (coalesced stores)
        if space and space[-1] in ms:
            ms, ns, fa, fb = ns, ms, fb, fa
        return batch, ms, ns, fa, fb

    def emit_contraction(self, c: Contraction, host: tuple) -> int | None:
        sides = self._sides(c)
        ext = dict(c.space)
        for v, _ in c.space + c.reduce:
            self.name_var(v)
        acc_name = self.name_var(c.acc)
        if sides is not None:
            batch, ms, ns, fa, fb = sides
            m = int(np.prod([ext[v] for v in ms], dtype=np.int64))
            n = int(np.prod([ext[v] for v in ns], dtype=np.int64))
            if ms and ns and min(m, n) >= self.cfg.tile_min:
                return self.emit_tiled(c, batch, ms, ns, fa, fb, host)
        return self.emit_direct(c, host)

    def _space_spec(self, vs, ext):
        return [(self.names[v], 0, ext[v]) for v in vs]

    def _reduce_loops(self, c: Contraction, ind: str, out: list[str]) -> str:
        for v, e in c.reduce:
            out.append(f"{ind}for {self.names[v]} in range({e}):")
            ind += "    "
        return ind

    def _store_sum(self, c: Contraction, total: str, ind: str, out: list[str]) -> None:
        out += [ind + ln for ln in self.ew.prepare([c.init])]
        init = self.ew.text(c.init)
        if isinstance(c.init, Const) and c.init.value == 0:
            out.append(f"{ind}{self.names[c.acc]} = {total}")
        else:
            line = f"{ind}{self.names[c.acc]} = " + self.ew.binary("add", init, total, c.acc.dtype)
            out += [ind + ln for ln in self.ew.take_lines()] + [line]
        self.sw.block(c.store, ind, out)

    def emit_direct(self, c: Contraction, host: tuple) -> int | None:
        ext = dict(c.space)
        spec = self._space_spec([v for v, _ in c.space], ext)
        n = int(np.prod([e for _, _, e in spec], dtype=np.int64))
        dt = c.acc.dtype
        lines = [f"    for _i in range(cuda.grid(1), {n}, cuda.gridsize(1)):"]
        lines += self.decode("_i", spec, "        ")
        zero = self.ew.const(0, dt)
        lines.append(f"        _s = {zero}")
        ind = self._reduce_loops(c, "        ", lines)
        lines += [ind + ln for ln in self.ew.prepare([c.term])]
        line = f"{ind}_s = " + self.ew.binary("add", "_s", self.ew.text(c.term), dt)
        lines += [ind + ln for ln in self.ew.take_lines()] + [line]
        self._store_sum(c, "_s", "        ", lines)
        return self.new_phase("direct", n, (self.cfg.block, 1), host, lines)

    def emit_tiled(self, c, batch, ms, ns, fa, fb, host: tuple) -> int:
        ext = dict(c.space)
        dt = c.acc.dtype
        T = np_name(dt)
        m = int(np.prod([ext[v] for v in ms], dtype=np.int64))
        n = int(np.prod([ext[v] for v in ns], dtype=np.int64))
        kk = int(np.prod([e for _, e in c.reduce], dtype=np.int64))
        nb = int(np.prod([ext[v] for v in batch], dtype=np.int64))
        t = self.cfg.tiling(m, n)
        bx, by = t.threads
        nthreads = bx * by
        tiles_m, tiles_n = -(-m // t.tm), -(-n // t.tn)
        work = nb * tiles_m * tiles_n
        zero = self.ew.const(0, dt)
        L = [f"    _sa = cuda.shared.array(({t.tk}, {t.tm}), {T})",
             f"    _sb = cuda.shared.array(({t.tk}, {t.tn}), {T})",
             "    _tx = cuda.threadIdx.x",
             "    _ty = cuda.threadIdx.y",
             f"    _tid = _ty * {bx} + _tx",
             f"    for _tile in range(cuda.blockIdx.x, {work}, cuda.gridDim.x):",
             f"        _tn = _tile % {tiles_n}",
             f"        _tm = _tile // {tiles_n} % {tiles_m}",
             f"        _tb = _tile // {tiles_n * tiles_m}",
             f"        _m0 = _tm * {t.tm}",
             f"        _n0 = _tn * {t.tn}"]
        I = "        "
        L += self.decode("_tb", self._space_spec(batch, ext), I)
        for p in range(t.rm):
            for q in range(t.rn):
                L.append(f"{I}_r{p}_{q} = {zero}")
        L.append(f"{I}for _k0 in range(0, {kk}, {t.tk}):")
        J = I + "    "
        rspec = [(self.names[v], 0, e) for v, e in c.reduce]
        # stage the a tile (t.tk x t.tm) and the b tile (t.tk x t.tn) in shared memory
        for fac, vs, size, tile, arr, base in ((fa, ms, m, t.tm, "_sa", "_m0"), (fb, ns, n, t.tn, "_sb", "_n0")):
            k_fast = self._k_fastest(fac, c)
            L.append(f"{J}for _e in range(_tid, {tile * t.tk}, {nthreads}):")
            K = J + "    "
            if k_fast:
                L += [f"{K}_kk = _e % {t.tk}", f"{K}_mm = _e // {t.tk}"]
            else:
                L += [f"{K}_mm = _e % {tile}", f"{K}_kk = _e // {tile}"]
            L += [f"{K}_gm = {base} + _mm", f"{K}_gk = _k0 + _kk"]
            L.append(f"{K}if _gm < {size} and _gk < {kk}:")
            M = K + "    "
            L += self.decode("_gm", self._space_spec(vs, ext), M)
            L += self.decode("_gk", rspec, M)
            L += [M + ln for ln in self.ew.prepare([fac])]
            L.append(f"{M}{arr}[_kk, _mm] = {self.ew.text(fac)}")
            L += [f"{K}else:", f"{K}    {arr}[_kk, _mm] = {zero}"]
        L.append(f"{J}cuda.syncthreads()")
        L.append(f"{J}for _kk in range({t.tk}):")
        K = J + "    "
        for p in range(t.rm):
            L.append(f"{K}_a{p} = _sa[_kk, _ty + {p * by}]")
        for q in range(t.rn):
            L.append(f"{K}_b{q} = _sb[_kk, _tx + {q * bx}]")
        for p in range(t.rm):
            for q in range(t.rn):
                L.append(f"{K}_r{p}_{q} = _r{p}_{q} + _a{p} * _b{q}")
        L.append(f"{J}cuda.syncthreads()")
        # each register of the tile: its output element, through the store (and fused epilogue)
        for p in range(t.rm):
            for q in range(t.rn):
                L += [f"{I}_gm = _m0 + _ty + {p * by}", f"{I}_gn = _n0 + _tx + {q * bx}",
                      f"{I}if _gm < {m} and _gn < {n}:"]
                M = I + "    "
                L += self.decode("_gm", self._space_spec(ms, ext), M)
                L += self.decode("_gn", self._space_spec(ns, ext), M)
                self._store_sum(c, f"_r{p}_{q}", M, L)
        return self.new_phase("tiled", work, (bx, by), host, L)

    def _k_fastest(self, fac: Expr, c: Contraction) -> bool:
        """Whether consecutive reduction indices are adjacent in memory for
        this factor's loads (then threads walk the tile along k)."""
        svars = {v for v, _ in c.space}
        for ld in _loads([fac]):
            last = [i for i, d in zip(ld.idx, ld.buf.shape) if d > 1]
            if last:
                return not (_vars_read([last[-1]]) & svars)
        return True


def _identity(op: str, dt: np.dtype):
    dt = np.dtype(dt)
    if op == "add":
        return 0
    if op == "mul":
        return 1
    if dt.kind == "f":
        return -np.inf if op == "max" else np.inf
    info = np.iinfo(dt)
    return info.min if op == "max" else info.max


def render_kernel(kernel: Kernel, may_alias=frozenset(), config: RenderConfig | None = None) -> CudaKernel:
    """`may_alias`: indices of params (then scratch buffers) whose memory
    overlaps another argument's (their stores are never spread over threads
    by the collapse analysis)."""
    bufs = kernel.params + kernel.scratch
    return _KernelRenderer(kernel, {bufs[i] for i in may_alias}, config or RenderConfig()).render()
