"""CompiledModel: what `dlc.compile` returns and `dlc.load` restores.

It validates feeds against the model's signature, picks (or compiles) the
Executable for the feeds' shape signature, and makes one native call.
Symbolic dims are specialized to the shapes seen at run time; each shape
signature compiles once and is cached.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from typing import Mapping, Sequence

import numpy as np

from . import __version__
from .cache import build_cached
from .compiler import GENERIC_PASSES, Options, check_target, specialize
from .codegen.llvm import jit
from .frontends.onnx import Signature, TensorInfo, import_model, load_model
from .ir import Graph, dtypes
from .ir.errors import ArtifactError, InputError
from .ir.graph import OPT
from .ir.passes import fold_constants, remove_noops, run_passes
from .runtime.artifact import read_artifact, write_artifact
from .runtime.executable import ExecMeta, Executable
from .staged import StagedExecutable, has_host_steps, needs_staging

log = logging.getLogger("dlc")


class OnnxSource:
    """Builds the generic graph of an ONNX model, for a set of fed initializers.
    With ``fallback="reference"``, unsupported nodes become host steps."""

    def __init__(self, model, shapes: Mapping | None = None, fallback: str | None = None):
        self.model = load_model(model)
        self.shapes = dict(shapes or {})
        self.fallback = fallback

    def build(self, fed: tuple[str, ...] = ()) -> tuple[Graph, Signature]:
        return import_model(self.model, self.shapes, fed, fallback=self.fallback)

    def to_bytes(self) -> bytes:
        return self.model.SerializeToString()


Key = tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]


def _dims_str(shape) -> str:
    return "" if shape is None else "[" + ",".join(str(d) for d in shape) + "]"


def _type_str(info: TensorInfo) -> str:
    """`float32[1,3]`; `seq(float32[N])`, `opt(seq(float32))` for sequences and optionals."""
    s = f"{info.dtype.name}{_dims_str(info.shape)}"
    for c in reversed(info.container):
        s = f"{c}({s})"
    return s


class CompiledModel:
    def __init__(self, source: OnnxSource | None, signature: Signature, options: Options,
                 generic: dict[tuple[str, ...], Graph] | None = None):
        self._source = source
        self._signature = signature
        self._options = options
        self._generic = dict(generic or {})
        self._exes: dict[Key, Executable] = {}
        self._lock = threading.RLock()
        self._in_index = {info.name: i for i, info in enumerate(signature.inputs)}
        self._out_index = {info.name: i for i, info in enumerate(signature.outputs)}
        self._events: list[dict] = []
        self._fallback_warned = False

    # ------------------------------------------------------------ describe
    @property
    def inputs(self) -> list[TensorInfo]:
        return list(self._signature.inputs)

    @property
    def outputs(self) -> list[TensorInfo]:
        return list(self._signature.outputs)

    def get_inputs(self) -> list[TensorInfo]:   # onnxruntime's spelling
        return self.inputs

    def get_outputs(self) -> list[TensorInfo]:
        return self.outputs

    @property
    def target(self) -> str:
        return self._options.target

    @property
    def compiled_shapes(self) -> list[Key]:
        return list(self._exes)

    @property
    def threads(self) -> int:
        """Threads the compiled code's parallel loops use (``threads=`` of
        `compile`/`load`, else DLC_NUM_THREADS, else the cores available);
        assignable."""
        from .codegen.llvm.pool import default_threads
        return self._options.threads or default_threads()

    @threads.setter
    def threads(self, n: int | None) -> None:
        if n is not None and int(n) < 1:
            raise ValueError(f"threads must be at least 1, got {n}")
        self._options.threads = None if n is None else int(n)
        for exe in self._exes.values():
            if isinstance(exe, Executable):
                exe.threads = self._options.threads

    @property
    def compile_log(self) -> list:
        """Time spent per pass and per compile stage (PassRecords), all specializations."""
        return list(self._options.log)

    @property
    def compile_events(self) -> list[dict]:
        """One record per shape specialization this model got: its shapes, the
        reason it was needed, whether it was compiled or loaded from the
        compile cache, and the seconds it took."""
        return list(self._events)

    @property
    def name(self) -> str:
        if self._source is not None:
            return self._source.model.graph.name or "model"
        return next(iter(self._generic.values())).name if self._generic else "model"

    @property
    def fallback_nodes(self) -> list[str]:
        """ONNX nodes that run on the host through the reference fallback."""
        return [n.source.removeprefix("onnx ") for g in self._generic.values() for n in g.nodes
                if n.op == "onnx_reference"]

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}: {_type_str(i)}" for i in self.inputs)
        outs = ", ".join(f"{o.name}: {_type_str(o)}" for o in self.outputs)
        return f"<dlc.CompiledModel ({ins}) -> ({outs}), target={self.target}, {len(self._exes)} compiled shape(s)>"

    # ---------------------------------------------------------------- feeds
    def _bind(self, feeds: Mapping[str, object]) -> tuple[Key, list[np.ndarray]]:
        sig = self._signature
        for k in feeds:
            if k not in self._in_index and k not in sig.overridable:
                raise InputError(f"unknown input {k!r}; the model's inputs are: "
                                 f"{', '.join(i.name for i in sig.inputs)}")
        fed = tuple(sorted(k for k in feeds if k in sig.overridable)) if sig.overridable else ()
        infos = sig.inputs + [sig.overridable[k] for k in fed] if fed else sig.inputs
        arrays, symbols = [], {}
        for info in infos:
            if info.name not in feeds:
                raise InputError(f"missing input {info.name!r} ({_type_str(info)})")
            arrays.append(_check_input(info, feeds[info.name], symbols, info.name in fed,
                                       self._options.target == "cuda"))
        # sequences and optionals live on the host: code is never compiled for their contents
        key = (tuple(() if info.container else a.shape for info, a in zip(infos, arrays)), fed)
        return key, arrays

    # ------------------------------------------------------------------ run
    def executable(self, key: Key, reason: str | None = None) -> Executable:
        """The Executable for a shape signature, compiled (or loaded from the
        compile cache) on first use; `reason` says why, for the log."""
        exe = self._exes.get(key)
        if exe is not None:
            return exe
        with self._lock:
            if key not in self._exes:
                reason = reason or self._compile_reason(key)
                t0 = time.perf_counter()
                shapes, fed = key
                graph = specialize(self._generic_graph(fed), shapes)
                if has_host_steps(graph):   # an If condition may be known now that shapes are
                    graph = run_passes(graph, self._options.passes([fold_constants, remove_noops]))
                if needs_staging(graph):
                    self._exes[key] = StagedExecutable(graph, self._build_segment)
                    outcome = "staged (segments compile at their first run)"
                else:
                    self._exes[key], outcome = build_cached(graph, self._options)
                    self._exes[key].threads = self._options.threads
                dt = time.perf_counter() - t0
                self._events.append({"shapes": [list(s) for s in shapes], "fed": list(fed), "reason": reason,
                                     "outcome": outcome, "seconds": dt})
                log.info("dlc: %s for %s: %s in %.3f s (%s)", self.name, _key_str(self, key), outcome, dt, reason)
            return self._exes[key]

    def _build_segment(self, g: Graph):
        """Compile one native segment of a staged model (dumps go to a folder per segment)."""
        opts = self._options
        if opts.dump_dir:
            opts = dataclasses.replace(opts, dump_dir=os.path.join(opts.dump_dir, g.name))
        exe, outcome = build_cached(g, opts)
        exe.threads = opts.threads
        return exe, outcome

    def _compile_reason(self, key: Key) -> str:
        if not self._exes:
            return "first call"
        near = min(self._exes, key=lambda k: sum(a != b for s, t in zip(k[0], key[0]) for a, b in zip(s, t)))
        if near[1] != key[1]:
            return f"initializers fed: {', '.join(key[1]) or 'none'} vs {', '.join(near[1]) or 'none'}"
        return f"new shape {_key_str(self, key)} vs compiled {_key_str(self, near)}"

    def _generic_graph(self, fed: tuple[str, ...]) -> Graph:
        if fed not in self._generic:
            if self._source is None:
                raise ArtifactError("this artifact was saved without its source model, so it can only run "
                                    "the shapes it was compiled for: "
                                    + "; ".join(str([list(s) for s in k[0]]) for k in self._exes))
            g, _ = self._source.build(fed)
            self._generic[fed] = run_passes(g, self._options.passes(GENERIC_PASSES), check=self._options.check)
        return self._generic[fed]

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, object],
            run_options=None, *, device_outputs: bool = False) -> list[np.ndarray]:
        """onnxruntime's contract: a list of numpy arrays, one per requested output.

        target="cuda": feeds may be numpy arrays (copied to the GPU) or device
        arrays (anything exposing ``__cuda_array_interface__``: Numba, CuPy,
        PyTorch CUDA tensors; used without a copy); ``device_outputs=True``
        returns the outputs as numba device arrays left on the GPU."""
        if not isinstance(input_feed, dict) and not isinstance(input_feed, Mapping):
            raise InputError("run() takes the feeds as a dict {input name: array}")
        if output_names is not None:
            bad = [n for n in output_names if n not in self._out_index]
            if bad:
                raise InputError(f"unknown output {bad[0]!r}; the model's outputs are: "
                                 f"{', '.join(o.name for o in self.outputs)}")
        key, arrays = self._bind(input_feed)
        exe = self.executable(key)
        if device_outputs:
            if self.target != "cuda":
                raise InputError("device_outputs=True needs target='cuda'")
            if isinstance(exe, StagedExecutable):
                raise InputError("device_outputs=True is not available for models with data-dependent "
                                 "shapes (their host steps work on numpy arrays)")
            outs = exe.run(arrays, device_outputs=True)
        else:
            outs = exe.run(arrays)
        if not self._fallback_warned and isinstance(exe, StagedExecutable) and exe.host_report():
            self._fallback_warned = True
            log.warning("dlc: %s", exe.host_report())
        if output_names is None:
            return outs
        return [outs[self._out_index[n]] for n in output_names]

    def profile(self, input_feed: Mapping[str, object], repeat: int = 10, warmup: int = 1):
        """Time each kernel (and host step) over `repeat` runs on `input_feed`:
        a `dlc.profile.Profile` (``.table()``, ``.save_chrome_trace(path)``)."""
        from .profile import profile_model
        return profile_model(self, input_feed, repeat, warmup)

    def __call__(self, *args, **kwargs):
        """Positional (model input order) and/or keyword feeds; one output is
        returned as an array, several as a tuple."""
        if len(args) > len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} inputs, got {len(args)} positional arguments")
        feeds = {info.name: a for info, a in zip(self.inputs, args)}
        for k, v in kwargs.items():
            if k in feeds:
                raise InputError(f"input {k!r} given twice")
            feeds[k] = v
        outs = self.run(None, feeds)
        return outs[0] if len(outs) == 1 else tuple(outs)

    # ---------------------------------------------------------- artifacts
    def save(self, path, include_source: bool | None = None) -> None:
        """Write the compiled code, weights and signature to `path`. The source
        model is included (so new shapes can still compile after loading) when
        the model has symbolic dims or overridable initializers, unless
        ``include_source`` says otherwise."""
        exes = {k: e for k, e in self._exes.items() if not isinstance(e, StagedExecutable)}
        if include_source is None:   # staged models compile their segments from the source at run time
            include_source = bool(self._signature.overridable) or len(exes) < len(self._exes) or any(
                isinstance(d, str) for i in self.inputs if not i.container for d in i.shape)
        if not exes and not include_source:
            raise ArtifactError("nothing to save: no shape has been compiled yet (run the model once, "
                                "or compile with shapes=...)")
        h = jit.host()
        manifest = {
            "dlc_version": __version__,
            "host": {"triple": h.triple, "cpu": h.cpu, "features": h.features},
            "cuda_graphs": self._options.cuda_graphs,
            "target": self.target,
            "signature": _signature_json(self._signature),
            "specializations": [],
            "source": "model.onnx" if include_source and self._source is not None else None,
            "options": {"fallback": self._options.fallback,
                        "disabled_passes": sorted(self._options.disabled_passes)},
        }
        members: dict[str, bytes] = {}
        for i, (key, exe) in enumerate(exes.items()):
            shapes, fed = key
            spec = {"shapes": [list(s) for s in shapes], "fed": list(fed), "meta": exe.meta.to_json(),
                    "weights": f"spec{i}.weights"}
            if self.target == "cuda":   # kernel source and PTX (compiled for this GPU; none under the simulator)
                spec["cuda"] = f"spec{i}.cuda.json"
                members[spec["cuda"]] = json.dumps(exe.code.to_json()).encode()
            else:
                spec["object"] = f"spec{i}.o"
                members[spec["object"]] = exe.object_code
            manifest["specializations"].append(spec)
            members[f"spec{i}.weights"] = exe.weights.tobytes()
        if manifest["source"]:
            members["model.onnx"] = self._source.to_bytes()
        write_artifact(path, manifest, members)

    @classmethod
    def load(cls, path, threads: int | None = None) -> "CompiledModel":
        manifest, members = read_artifact(path)
        target = manifest.get("target")
        if target not in ("cpu", "cuda"):
            raise ArtifactError(f"{path}: compiled for target {target!r}, which this dlc cannot run")
        if target == "cuda":
            return cls._load_cuda(path, manifest, members)
        saved = jit.HostTarget(**manifest["host"])
        missing = jit.host().missing_features(saved)
        if saved.triple != jit.host().triple or missing:
            raise ArtifactError(f"{path}: compiled for {saved.triple} ({saved.cpu}); this machine is "
                                f"{jit.host().triple} ({jit.host().cpu})"
                                + (f" and lacks CPU features {', '.join(missing[:8])}" if missing else "")
                                + "; recompile the model here")
        sig = _signature_from_json(manifest["signature"])
        opts = manifest.get("options") or {}
        source = OnnxSource(members["model.onnx"], fallback=opts.get("fallback")) if manifest.get("source") else None
        model = cls(source, sig, Options(target="cpu", fallback=opts.get("fallback"),
                                         disabled_passes=opts.get("disabled_passes", ()), threads=threads))
        for spec in manifest["specializations"]:
            key = (tuple(tuple(s) for s in spec["shapes"]), tuple(spec["fed"]))
            weights = np.frombuffer(members[spec["weights"]], np.uint8)
            model._exes[key] = Executable(ExecMeta.from_json(spec["meta"]), members[spec["object"]], weights,
                                          threads=threads)
        return model


    @classmethod
    def _load_cuda(cls, path, manifest: dict, members: dict) -> "CompiledModel":
        """A CUDA artifact: its PTX is loaded as it is (no Python-to-PTX compile);
        one saved under the simulator has none: its source is compiled here."""
        from .codegen.cuda.module import CudaCode
        from .runtime.cuda import CudaExecutable
        check_target("cuda")   # no usable GPU: the doctor's diagnosis
        sig = _signature_from_json(manifest["signature"])
        opts = manifest.get("options") or {}
        source = OnnxSource(members["model.onnx"], fallback=opts.get("fallback")) if manifest.get("source") else None
        model = cls(source, sig, Options(target="cuda", fallback=opts.get("fallback"),
                                         disabled_passes=opts.get("disabled_passes", ()),
                                         cuda_graphs=bool(manifest.get("cuda_graphs"))))
        for spec in manifest["specializations"]:
            key = (tuple(tuple(s) for s in spec["shapes"]), tuple(spec["fed"]))
            weights = np.frombuffer(members[spec["weights"]], np.uint8)
            try:
                code = CudaCode.from_json(json.loads(members[spec["cuda"]]))
            except (KeyError, ValueError, TypeError) as e:
                raise ArtifactError(f"{path}: corrupt CUDA code ({e})") from None
            model._exes[key] = CudaExecutable(ExecMeta.from_json(spec["meta"]), code, weights,
                                              bool(manifest.get("cuda_graphs")))
        return model


def _key_str(m: "CompiledModel", key: Key) -> str:
    shapes, fed = key
    names = [i.name for i in m._signature.inputs] + list(fed)
    return ", ".join(f"{n}={_dims_str(s)}" for n, s in zip(names, shapes))


def _check_input(info: TensorInfo, value, symbols: dict, fed_initializer: bool, cuda: bool = False):
    what = f"{'initializer' if fed_initializer else 'input'} {info.name!r}"
    if info.container:
        return _check_container(info, info.container, value, what)
    if not isinstance(value, np.ndarray) and _on_device(value, cuda):
        return _check_device_input(info, value, symbols, what)
    return _check_tensor(info, value, symbols, what, check_shape=not fed_initializer)


def _check_container(info: TensorInfo, container: tuple, value, what: str):
    """A sequence feed is a list (or tuple) of arrays; an optional one is None or its value."""
    if not container:   # an item: its shape checked alone (symbolic dims may differ between items)
        return _check_tensor(info, value, {}, what, check_shape=info.shape is not None)
    if container[0] == OPT:
        return None if value is None else _check_container(info, container[1:], value, what)
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{what}: expected a sequence (a list of {info.dtype.name} arrays), got "
                         f"{type(value).__name__}")
    return [_check_container(info, container[1:], x, f"{what}, item {i}") for i, x in enumerate(value)]


def _check_tensor(info: TensorInfo, value, symbols: dict, what: str, check_shape: bool):
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
        raise InputError(f"{what}: expected a tensor ({info.dtype.name}), got a sequence (a {type(value).__name__} "
                         f"of arrays)")
    if info.dtype == dtypes.string:
        arr = np.asarray(value, dtype=object)
        bad = next((x for x in arr.flat if not isinstance(x, str)), None)
        if bad is not None:
            raise InputError(f"{what}: expected a string tensor, got an element of type {type(bad).__name__}")
    elif isinstance(value, np.ndarray):
        arr = value
        if arr.dtype != info.dtype:
            raise InputError(f"{what}: expected dtype {info.dtype.name}, got {arr.dtype.name}")
    else:
        try:
            arr = np.asarray(value, dtype=info.dtype)
        except (TypeError, ValueError) as e:
            raise InputError(f"{what}: cannot convert {type(value).__name__} to a {info.dtype.name} array: {e}") \
                from None
    if check_shape and arr.shape != info.shape:   # (equal: every dim fixed and matching)
        _check_shape(info, arr.shape, symbols, what)
    if not arr.flags.c_contiguous or type(arr) is not np.ndarray:
        arr = np.array(arr, order="C", subok=False)   # (ascontiguousarray would make 0-d arrays 1-d)
    return arr


def _check_shape(info: TensorInfo, shape, symbols: dict, what: str) -> None:
    """`shape` against the input's declared one: fixed dims equal, and each
    symbolic dim the same size in every input that has it (`symbols`)."""
    if len(shape) != len(info.shape):
        raise InputError(f"{what}: expected {len(info.shape)} dims {_dims_str(info.shape)}, "
                         f"got {len(shape)} dims {_dims_str(shape)}")
    for axis, (want, got) in enumerate(zip(info.shape, shape)):
        if want.__class__ is int:
            if want != got:
                raise InputError(f"{what}: dim {axis} must be {want}, got {got} "
                                 f"(expected shape {_dims_str(info.shape)}, got {_dims_str(shape)})")
        else:
            seen = symbols.setdefault(want, (got, info.name))
            if seen[0] != got:
                raise InputError(f"{what}: dim {axis} ({want!r}) is {got}, but it is {seen[0]} "
                                 f"in input {seen[1]!r}")


def _on_device(value, cuda: bool) -> bool:
    """Whether `value` is a device array: it exposes ``__cuda_array_interface__``
    (or is a simulator device array, under target='cuda')."""
    if hasattr(value, "__cuda_array_interface__"):
        if not cuda:
            raise InputError("a device array (with __cuda_array_interface__) was fed to a model compiled for "
                             "target='cpu': copy it to the host (e.g. .copy_to_host(), .get(), .cpu().numpy()) "
                             "or compile with target='cuda'")
        return True
    if cuda:
        from .codegen.cuda.jit import is_device_array
        return is_device_array(value)
    return False


def _check_device_input(info: TensorInfo, value, symbols: dict, what: str):
    """A device array feed: dtype, shape and C-contiguity checked like a host
    array's, without copying it."""
    from .codegen.cuda.jit import device_info
    dt, shape, contiguous = device_info(value)
    if dt != info.dtype:
        raise InputError(f"{what}: expected dtype {info.dtype.name}, got {dt.name} (a device array)")
    _check_shape(info, shape, symbols, what)
    if not contiguous:
        raise InputError(f"{what}: the device array is not C-contiguous; dlc uses device inputs in place, "
                         f"without a copy: make it contiguous first (e.g. cupy.ascontiguousarray, "
                         f"tensor.contiguous())")
    return value


def _info_json(i: TensorInfo) -> dict:
    return {"name": i.name, "dtype": i.dtype.name, "shape": None if i.shape is None else list(i.shape),
            "container": list(i.container)}


def _info_from_json(d: dict) -> TensorInfo:
    shape = d["shape"]
    return TensorInfo(d["name"], np.dtype(d["dtype"]), None if shape is None else tuple(shape),
                      tuple(d.get("container", ())))


def _signature_json(s: Signature) -> dict:
    return {"inputs": [_info_json(i) for i in s.inputs], "outputs": [_info_json(o) for o in s.outputs],
            "overridable": [_info_json(o) for o in s.overridable.values()]}


def _signature_from_json(d: dict) -> Signature:
    return Signature([_info_from_json(i) for i in d["inputs"]], [_info_from_json(o) for o in d["outputs"]],
                     {o["name"]: _info_from_json(o) for o in d["overridable"]})


def compile(model, target: str = "cpu", shapes: Mapping[str, Sequence[int]] | None = None,
            dump_dir: str | None = None, check: bool = False, fallback: str | None = None,
            cache: bool = True, disable_passes: Sequence[str] = (), kernel_timings: bool = False,
            fuse: bool = True, plan_memory: bool = True, cuda_graphs: bool = False,
            threads: int | None = None) -> CompiledModel:
    """Compile an ONNX model (a path, bytes, or an onnx.ModelProto), or a dlc.keras model.

    ``shapes`` fixes input shapes at compile time ({name: dims}). Inputs
    whose shapes are all known compile now; otherwise each new shape
    signature compiles at its first call. ``dump_dir`` receives the graph
    after each pass, the kernels, LLVM IR before and after optimization and
    assembly. ``check`` verifies the graph after every pass.
    ``fallback="reference"`` runs ONNX nodes dlc cannot compile on the host
    with the onnx package's reference implementation (logged, with their
    share of run time); off by default. ``cache`` uses the on-disk compile
    cache (dlc/cache.py). ``disable_passes`` names passes or stages to skip.
    ``kernel_timings`` attributes compile time to kernels (in `compile_log`;
    it costs an extra LLVM compile of each kernel on its own). ``fuse`` and
    ``plan_memory`` switch operator fusion and arena reuse off for comparison
    (results are the same either way). ``threads``: how many threads the
    generated code runs its parallel loops on (default: the DLC_NUM_THREADS
    environment variable, else every core this process may use); the
    ``threads`` property changes it later.

    ``target="cuda"`` renders the same kernels as Numba-CUDA kernels (see the
    README's GPU section): it needs a usable GPU, or numba's simulator asked
    for explicitly (NUMBA_ENABLE_CUDASIM=1), and raises the doctor's
    diagnosis otherwise (never a silent CPU fallback). ``cuda_graphs``
    replays the kernel launches as one CUDA graph (real GPUs; unverified).
    """
    options = Options(target=check_target(target), dump_dir=dump_dir, check=check, fallback=fallback,
                      cache=cache, disabled_passes=frozenset(disable_passes), kernel_timings=kernel_timings,
                      fuse=fuse, plan_memory=plan_memory, cuda_graphs=cuda_graphs, threads=threads)
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if hasattr(model, "to_onnx"):   # a dlc.keras model
        model = model.to_onnx()
    source = OnnxSource(model, shapes, fallback)
    graph, sig = source.build()
    graph = run_passes(graph, options.passes(GENERIC_PASSES), check=check, dump_dir=dump_dir, prefix="generic_")
    cm = CompiledModel(source, sig, options, {(): graph})
    if cm.fallback_nodes:
        log.warning("dlc: fallback='reference': %d ONNX node(s) will run on the host with the onnx reference "
                    "implementation, not compiled: %s", len(cm.fallback_nodes), ", ".join(cm.fallback_nodes))
    if all(isinstance(d, int) for i in sig.inputs if not i.container for d in i.shape):
        cm.executable((tuple(() if i.container else tuple(i.shape) for i in sig.inputs), ()),
                      "static input shapes, at compile()")
    return cm


def load(path, threads: int | None = None) -> CompiledModel:
    """Load a model saved with `CompiledModel.save`, without recompiling
    (``threads`` as in `compile`)."""
    return CompiledModel.load(path, threads)
