"""The compile cache: compiled code on disk, content-addressed, on by default.

Every specialization dlc compiles (a whole model for one shape signature, or
one native segment of a staged model) is stored under a key that is the
SHA-256 of everything that decides the generated code:

- the specialized graph: ops, attributes, value types and shapes, node
  sources, and the bytes of every constant (weights);
- the compile options that change code (target, disabled passes);
- dlc's version and a fingerprint of its own source files (so an edited
  checkout never loads code an older dlc generated), the artifact format
  version, llvmlite's and LLVM's versions;
- the host: target triple, CPU name and CPU features LLVM sees.

A warm start finds the entry and loads its object code: no graph pass after
specialization, no lowering, no LLVM. There is no minimum compile time:
every compile is stored. An entry is one file in the `.dlc` container format
(runtime/artifact.py), whose members carry SHA-256 checksums: a corrupt or
truncated entry is detected on read, logged, rebuilt and overwritten; it is
never loaded. Writes go to a temporary file renamed into place, so
concurrent processes never see half an entry.

Where: ``$DLC_CACHE_DIR``, else ``$XDG_CACHE_HOME/dlc``, else
``~/.cache/dlc``. ``DLC_CACHE=0`` (or ``compile(..., cache=False)``)
turns it off. ``dlc cache info|clear`` shows and empties it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .ir import Graph
from .ir.errors import ArtifactError, DLCError
from .runtime.artifact import FORMAT_VERSION, read_artifact, write_artifact
from .runtime.executable import ExecMeta, Executable

log = logging.getLogger("dlc")

ENV_DIR = "DLC_CACHE_DIR"
ENV_SWITCH = "DLC_CACHE"
LAYOUT = "v1"          # the directory layout below the cache root
SUFFIX = ".dlcc"


def cache_dir() -> Path:
    """The cache root: $DLC_CACHE_DIR, $XDG_CACHE_HOME/dlc or ~/.cache/dlc."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlc"


def enabled_by_env() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "off", "false", "no")


# ------------------------------------------------------------------ the key
@lru_cache(maxsize=None)
def source_fingerprint() -> str:
    """SHA-256 over dlc's own Python sources (dlc, dlc.ir, dlc.codegen,
    dlc.runtime): a changed compiler never reuses code the old one made."""
    from . import codegen, ir, runtime
    h = hashlib.sha256()
    for pkg in (sys.modules[__package__], ir, codegen, runtime):
        root = Path(pkg.__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def toolchain() -> dict:
    import llvmlite
    import llvmlite.binding as llvm

    from . import __version__
    from .codegen.llvm import jit
    h = jit.host()
    return {"dlc": __version__, "dlc_source": source_fingerprint()[:16], "artifact_format": FORMAT_VERSION,
            "llvmlite": llvmlite.__version__, "llvm": ".".join(map(str, llvm.llvm_version_info)),
            "triple": h.triple, "cpu": h.cpu, "features": h.features}


def _attr_token(a) -> str:
    if isinstance(a, np.ndarray):
        return f"nd({a.dtype.str},{a.shape},{hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()})"
    if isinstance(a, np.dtype):
        return f"dt({a.str})"
    if isinstance(a, (list, tuple)):
        return "[" + ",".join(_attr_token(x) for x in a) + "]"
    if isinstance(a, dict):
        return "{" + ",".join(f"{k}:{_attr_token(v)}" for k, v in sorted(a.items())) + "}"
    if isinstance(a, (bytes, bytearray)):
        return f"b({hashlib.sha256(a).hexdigest()})"
    return f"{type(a).__name__}({a!r})"


def graph_digest(g: Graph) -> str:
    """SHA-256 of a graph's content: structure, types, attributes, sources
    and constant bytes (names of values matter too: they name LLVM values)."""
    h = hashlib.sha256()
    ids: dict = {}

    def ref(v) -> str:
        if v is None:
            return "_"
        if v not in ids:
            ids[v] = len(ids)
            if v.is_const:
                h.update(f"const %{ids[v]} {v.name} {v.dtype.str} {v.shape} ".encode())
                h.update(hashlib.sha256(np.ascontiguousarray(v.const).tobytes()).digest())
        return f"%{ids[v]}"

    h.update(f"graph {g.name}\n".encode())
    for v in g.inputs:
        h.update(f"in {ref(v)} {v.name} {v.dtype.str} {v.shape}\n".encode())
    for n in g.nodes:
        args = ",".join(ref(v) for v in n.inputs)
        attrs = ",".join(f"{k}={_attr_token(a)}" for k, a in sorted(n.attrs.items()))
        outs = ",".join(f"{ref(v)}:{v.name}:{v.dtype.str}:{v.shape}" for v in n.outputs)
        h.update(f"{outs} = {n.op}({args}; {attrs}) # {n.source}\n".encode())
    h.update(("out " + ",".join(ref(v) for v in g.outputs)).encode())
    return h.hexdigest()


def cache_key(g: Graph, options) -> str:
    parts = {"graph": graph_digest(g), "options": options.cache_key(), "toolchain": toolchain()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- the store
@dataclass
class Entry:
    path: Path
    size: int
    mtime: float
    graph: str = "?"
    shapes: str = ""


class CorruptEntry(DLCError):
    pass


class CompileCache:
    """A directory of entries ``<root>/v1/<key[:2]>/<key>.dlcc``."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.root / LAYOUT / key[:2] / (key + SUFFIX)

    def get(self, key: str, cuda_graphs: bool = False) -> Executable | None:
        """The cached Executable (a CudaExecutable for target="cuda" entries),
        or None when there is no entry. Raises CorruptEntry (never returns bad
        code) when the entry cannot be trusted."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            manifest, members = read_artifact(path)
            if manifest.get("kind") != "cache-entry" or manifest.get("key") != key:
                raise ArtifactError("it is not the entry for this key")
            weights = np.frombuffer(members["weights"], np.uint8)
            meta = ExecMeta.from_json(manifest["meta"])
            if manifest.get("target") == "cuda":
                from .codegen.cuda.module import CudaCode
                from .runtime.cuda import CudaExecutable
                code = CudaCode.from_json(json.loads(members["cuda.json"]))
                return CudaExecutable(meta, code, weights, cuda_graphs)
            return Executable(meta, members["code.o"], weights)
        except (ArtifactError, KeyError, TypeError, ValueError) as e:
            raise CorruptEntry(str(e).replace(str(path) + ": ", "")) from None

    def put(self, key: str, exe: Executable, graph: Graph, seconds: float) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            manifest = {"kind": "cache-entry", "key": key, "meta": exe.meta.to_json(), "graph": graph.name,
                        "shapes": [list(v.shape) for v in graph.inputs], "compile_seconds": round(seconds, 4),
                        "created": time.time(), "target": getattr(exe, "target", "cpu")}
            if manifest["target"] == "cuda":   # kernel source, and PTX when compiled for a GPU
                code = {"cuda.json": json.dumps(exe.code.to_json()).encode()}
            else:
                code = {"code.o": exe.object_code}
            write_artifact(path, manifest, {**code, "weights": exe.weights.tobytes()})
        except OSError as e:   # a read-only or full disk must not break compiling
            log.warning("dlc: cannot write the compile cache entry %s: %s", path, e)

    def entries(self) -> list[Entry]:
        out = []
        base = self.root / LAYOUT
        if not base.is_dir():
            return out
        for path in sorted(base.glob("*/*" + SUFFIX)):
            st = path.stat()
            e = Entry(path, st.st_size, st.st_mtime)
            try:
                manifest, _ = _peek_manifest(path)
                e.graph = manifest.get("graph", "?")
                e.shapes = " ".join("[" + ",".join(map(str, s)) + "]" for s in manifest.get("shapes", []))
            except Exception:
                e.graph = "(unreadable)"
            out.append(e)
        return out

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        n = len(self.entries())
        base = self.root / LAYOUT
        if base.is_dir():
            shutil.rmtree(base)
        return n

    def info(self) -> str:
        entries = self.entries()
        total = sum(e.size for e in entries)
        lines = [f"compile cache: {self.root}" + ("" if enabled_by_env() else f"  (disabled: {ENV_SWITCH}=0)"),
                 f"entries: {len(entries)}, {_size(total)}"]
        for e in sorted(entries, key=lambda e: -e.mtime)[:20]:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime))
            lines.append(f"  {e.path.stem[:12]}  {_size(e.size):>9}  {when}  {e.graph} {e.shapes}".rstrip())
        if len(entries) > 20:
            lines.append(f"  ... and {len(entries) - 20} more")
        return "\n".join(lines)


def _peek_manifest(path: Path) -> tuple[dict, None]:
    import zipfile
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("dlc.json")), None


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ------------------------------------------------------------- the door
def build_cached(graph: Graph, options) -> tuple[Executable, str]:
    """Compile `graph` (static input shapes) through the cache. Returns the
    Executable and what happened: "cached" (loaded, no LLVM), "compiled",
    "rebuilt (corrupt cache entry)", or "compiled (cache off)".

    A build that dumps (``dump_dir``) or measures per-kernel compile time
    always compiles (there would be nothing to dump or time), and stores."""
    from .compiler import build
    use = options.cache and enabled_by_env()
    if not use:
        return build(graph, options)[1], "compiled (cache off)"
    cache = CompileCache()
    key = cache_key(graph, options)
    outcome = "compiled"
    if not (options.dump_dir or options.kernel_timings):
        try:
            exe = cache.get(key, options.cuda_graphs)
        except CorruptEntry as e:
            log.warning("dlc: compile cache entry %s is corrupt (%s); rebuilding it", cache.path(key), e)
            outcome = "rebuilt (corrupt cache entry)"
        else:
            if exe is not None:
                return exe, "cached"
    t0 = time.perf_counter()
    exe = build(graph, options)[1]
    cache.put(key, exe, graph, time.perf_counter() - t0)
    return exe, outcome
