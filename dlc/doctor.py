"""`dlc doctor`: what dlc runs on, and why a GPU is (not) usable.

    dlc doctor                 # versions, host CPU features, compile cache, CUDA
    python -c "import dlc.doctor as d; print(d.report())"

The CUDA part never needs CUDA to be there: each step (numba-cuda, the
driver library, a visible GPU, NVVM) is probed on its own, without
importing numba unless it is installed, and a step that fails says what is
missing and the exact fix. `require_cuda()` is the one check a CUDA target
calls: ``dlc.compile(..., target="cuda")`` without a usable GPU raises its
diagnosis; dlc never falls back to the CPU silently.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.metadata
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass, field

from .ir.errors import UnsupportedError


@dataclass
class Step:
    """One probe: ``ok`` is True, False (a problem) or None (not checked)."""
    name: str
    ok: bool | None
    detail: str
    fix: str = ""


@dataclass
class CudaStatus:
    steps: list[Step] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return all(s.ok is not False for s in self.steps) and any(s.ok for s in self.steps)

    @property
    def problems(self) -> list[Step]:
        return [s for s in self.steps if s.ok is False]

    def diagnosis(self) -> str:
        if self.usable:
            return "CUDA is usable"
        lines = ["no usable CUDA GPU:"]
        for s in self.problems:
            lines.append(f"  - {s.name}: {s.detail}" + (f"\n    fix: {s.fix}" if s.fix else ""))
        return "\n".join(lines)


# ------------------------------------------------------------- versions
def _dist_version(*names: str) -> str | None:
    for n in names:
        try:
            return importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def versions() -> list[tuple[str, str | None, str]]:
    """(package, version or None when missing, note)."""
    from . import __version__
    rows = [("python", platform.python_version(), sys.executable), ("dlc", __version__, "")]
    for mod, dists, note in (("numpy", ("numpy",), ""), ("onnx", ("onnx",), ""),
                             ("onnxruntime", ("onnxruntime", "onnxruntime-gpu"), "optional: dlc compare, tests"),
                             ("llvmlite", ("llvmlite",), ""),
                             ("numba", ("numba",), "optional: needed for target='cuda'"),
                             ("numba-cuda", ("numba-cuda", "numba_cuda"), "optional: needed for target='cuda'")):
        v = _dist_version(*dists)
        if mod == "llvmlite" and v:
            try:
                import llvmlite.binding as llvm
                note = "LLVM " + ".".join(map(str, llvm.llvm_version_info))
            except Exception as e:   # pragma: no cover
                note = f"cannot load: {e}"
        rows.append((mod, v, note))
    return rows


# ------------------------------------------------------------- host CPU
_ISA_FEATURES = ("sse2", "sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                 "avx512vnni", "avx512bf16", "avx512fp16", "amx-tile", "neon", "sve", "sve2", "fp16", "dotprod")


def host_cpu() -> dict:
    from .codegen.llvm import jit
    h = jit.host()
    have = sorted(f[1:] for f in h.features.split(",") if f.startswith("+"))
    notable = [f for f in _ISA_FEATURES if f in have]
    if "avx512f" in have:
        width = "512-bit vectors (AVX-512)"
    elif "avx2" in have:
        width = "256-bit vectors (AVX2" + (" + FMA" if "fma" in have else "") + "), no AVX-512"
    elif "avx" in have:
        width = "256-bit vectors (AVX), no AVX2"
    elif "neon" in have or h.triple.startswith(("aarch64", "arm64")):
        width = "128-bit vectors (NEON)" + (" + SVE" if "sve" in have else "")
    else:
        width = "128-bit vectors (SSE)"
    return {"triple": h.triple, "cpu": h.cpu, "vector": width, "notable": notable, "features": have}


# ----------------------------------------------------------------- CUDA
CUDA_SUCCESS = 0


def _driver_library() -> tuple[ctypes.CDLL | None, str]:
    """The CUDA driver library (libcuda), as numba-cuda would find it."""
    env = os.environ.get("NUMBA_CUDA_DRIVER")
    candidates = [env] if env else []
    if sys.platform == "win32":
        candidates += ["nvcuda.dll"]
    else:
        candidates += ["libcuda.so.1", "libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
                       "/usr/local/nvidia/lib64/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1"]
        found = ctypes.util.find_library("cuda")
        if found:
            candidates.append(found)
    errors = []
    for c in candidates:
        try:
            return ctypes.CDLL(c), c
        except OSError as e:
            errors.append(f"{c}: {e}")
    return None, ("NUMBA_CUDA_DRIVER=" + env + " cannot be loaded" if env else "libcuda.so.1 was not found")


def _cu_error(lib, code: int) -> str:
    try:
        s = ctypes.c_char_p()
        lib.cuGetErrorName(code, ctypes.byref(s))
        return f"{s.value.decode()} ({code})"
    except Exception:
        return f"error {code}"


def _probe_driver(status: CudaStatus) -> list[str]:
    """Driver and GPUs; returns the GPU names (empty when none is usable)."""
    lib, where = _driver_library()
    if lib is None:
        fix = ("install the NVIDIA driver (it provides libcuda.so.1; `nvidia-smi` should then list the GPU); "
               "in a container, start it with the NVIDIA Container Toolkit (e.g. `docker run --gpus all`); "
               "if the driver lives elsewhere, point NUMBA_CUDA_DRIVER at its libcuda.so.1")
        if os.environ.get("NUMBA_CUDA_DRIVER"):
            fix = "set NUMBA_CUDA_DRIVER to the full path of an existing libcuda.so.1, or unset it"
        status.steps.append(Step("driver", False, where, fix))
        return []
    rc = lib.cuInit(0)
    if rc != CUDA_SUCCESS:
        err = _cu_error(lib, rc)
        fix = {"CUDA_ERROR_NO_DEVICE": "no GPU is visible: check `nvidia-smi`, and CUDA_VISIBLE_DEVICES "
                                       f"(now {os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')!r})",
               "CUDA_ERROR_INSUFFICIENT_DRIVER": "the driver is older than the CUDA runtime: upgrade the NVIDIA "
                                                 "driver",
               "CUDA_ERROR_NOT_INITIALIZED": "the driver failed to initialize: check `nvidia-smi` and `dmesg`"}
        status.steps.append(Step("driver", False, f"cuInit failed: {err} (library {where})",
                                 next((v for k, v in fix.items() if err.startswith(k)),
                                      "check `nvidia-smi`; reinstall the NVIDIA driver if it fails too")))
        return []
    ver = ctypes.c_int()
    lib.cuDriverGetVersion(ctypes.byref(ver))
    status.steps.append(Step("driver", True, f"CUDA driver API {ver.value // 1000}.{ver.value % 1000 // 10} "
                                             f"({where})"))
    count = ctypes.c_int()
    lib.cuDeviceGetCount(ctypes.byref(count))
    if count.value == 0:
        status.steps.append(Step("GPU", False, "the driver sees no GPU",
                                 f"check `nvidia-smi` and CUDA_VISIBLE_DEVICES "
                                 f"(now {os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')!r})"))
        return []
    names = []
    for i in range(count.value):
        dev, name = ctypes.c_int(), ctypes.create_string_buffer(256)
        major, minor = ctypes.c_int(), ctypes.c_int()
        lib.cuDeviceGet(ctypes.byref(dev), i)
        lib.cuDeviceGetName(name, 256, dev)
        lib.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)   # COMPUTE_CAPABILITY_MAJOR
        lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)   # COMPUTE_CAPABILITY_MINOR
        names.append(f"{i}: {name.value.decode()} (compute capability {major.value}.{minor.value})")
    status.steps.append(Step("GPU", True, "; ".join(names)))
    return names


def _nvvm_candidates() -> list[str]:
    out = []
    for var in ("CUDA_HOME", "CUDA_PATH", "CONDA_PREFIX"):
        base = os.environ.get(var)
        if base:
            out += glob.glob(os.path.join(base, "nvvm", "lib64", "libnvvm.so*"))
            out += glob.glob(os.path.join(base, "lib", "libnvvm.so*"))
    for path in sys.path:   # NVIDIA's pip wheels: nvidia/cuda_nvcc/nvvm/lib64, nvidia/cu13/...
        if os.path.isdir(os.path.join(path, "nvidia")):
            out += glob.glob(os.path.join(path, "nvidia", "*", "nvvm", "lib64", "libnvvm.so*"))
            out += glob.glob(os.path.join(path, "nvidia", "*", "lib", "libnvvm.so*"))
    out += glob.glob("/usr/local/cuda*/nvvm/lib64/libnvvm.so*") + glob.glob("/usr/local/cuda*/lib*/libnvvm.so*")
    found = ctypes.util.find_library("nvvm")
    if found:
        out.append(found)
    return list(dict.fromkeys(out))


def _probe_nvvm(status: CudaStatus) -> None:
    for c in _nvvm_candidates():
        try:
            ctypes.CDLL(c)
        except OSError:
            continue
        status.steps.append(Step("NVVM", True, c))
        return
    status.steps.append(Step("NVVM", False, "libnvvm (the CUDA compiler numba-cuda generates PTX with) was not found",
                             'pip install "numba-cuda[cu12]" (or [cu13]: it brings NVIDIA\'s NVVM wheels), or '
                             "install the CUDA toolkit and set CUDA_HOME to it"))


def simulator_requested() -> bool:
    """NUMBA_ENABLE_CUDASIM=1: numba's CUDA simulator stands in for a GPU."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "").strip() == "1"


def cuda_status(probe_numba: bool = True) -> CudaStatus:
    """Probe everything target='cuda' needs; never raises. With
    NUMBA_ENABLE_CUDASIM=1 set explicitly, numba's simulator counts as
    usable (it runs the CUDA kernels as Python on the CPU: for tests, on
    tiny shapes) and no driver or GPU is probed."""
    st = CudaStatus()
    numba_v = _dist_version("numba")
    ncuda_v = _dist_version("numba-cuda", "numba_cuda")
    if numba_v is not None:
        st.steps.append(Step("numba", True, numba_v))
    if ncuda_v is None:
        st.steps.append(Step("numba-cuda", False, "not installed" + (" (nor numba)" if numba_v is None else "")
                             + ": dlc's CUDA backend generates kernels with numba-cuda",
                             'pip install numba-cuda  (or "numba-cuda[cu12]" / "[cu13]" to get NVVM and the '
                             'CUDA runtime libraries as wheels too)'))
    else:
        st.steps.append(Step("numba-cuda", True, ncuda_v))
    if simulator_requested():
        st.steps.append(Step("simulator", True if ncuda_v else False,
                             "NUMBA_ENABLE_CUDASIM=1: target='cuda' runs on numba's CUDA simulator (the kernels "
                             "run as Python on the CPU, for tests on tiny shapes), not on a GPU; driver and GPU "
                             "are not probed", "" if ncuda_v else "the simulator comes with numba-cuda"))
        return st
    gpus = _probe_driver(st)
    _probe_nvvm(st)
    if probe_numba and gpus and ncuda_v and not st.problems:
        try:
            from numba import cuda   # only now: importing it is slow and may print
            ok = cuda.is_available()
            st.steps.append(Step("numba.cuda", ok, "numba.cuda.is_available() is " + str(ok),
                                 "" if ok else "run `python -c 'from numba import cuda; cuda.detect()'` for "
                                               "numba's own diagnosis"))
        except Exception as e:
            st.steps.append(Step("numba.cuda", False, f"import failed: {type(e).__name__}: {e}",
                                 "reinstall: pip install --force-reinstall numba-cuda"))
    return st


def require_cuda() -> CudaStatus:
    """The check every CUDA code path calls first: raises UnsupportedError
    with the diagnosis (what is missing and the fix) unless a GPU is usable."""
    st = cuda_status()
    if not st.usable:
        raise UnsupportedError("target 'cuda' needs a usable NVIDIA GPU; dlc does not fall back to the CPU "
                               "silently (use target='cpu' for that).\n" + st.diagnosis()
                               + "\n(`dlc doctor` shows the whole report)")
    return st


# --------------------------------------------------------------- report
def report() -> str:
    lines = ["versions"]
    for name, v, note in versions():
        shown = v if v is not None else "not installed"
        lines.append(f"  {name:<12} {shown:<14} {note}".rstrip())
    cpu = host_cpu()
    lines += ["host CPU (as LLVM sees it)",
              f"  target       {cpu['triple']}, cpu {cpu['cpu']}",
              f"  vectors      {cpu['vector']}",
              f"  ISA          {' '.join(cpu['notable']) or '-'}",
              f"  features     {len(cpu['features'])} enabled (dlc compiles for all of them)"]
    from .cache import CompileCache, enabled_by_env
    c = CompileCache()
    entries = c.entries()
    lines += ["compile cache",
              f"  directory    {c.root}" + ("" if enabled_by_env() else "  (off: DLC_CACHE=0)"),
              f"  entries      {len(entries)}, {sum(e.size for e in entries) / 2**20:.1f} MiB"]
    st = cuda_status()
    lines.append("CUDA (target='cuda')")
    for s in st.steps:
        mark = {True: "ok", False: "MISSING", None: "-"}[s.ok]
        lines.append(f"  {s.name:<12} {mark:<8} {s.detail}")
        if s.fix:
            lines.append(f"  {'':<12} {'fix:':<8} {s.fix}")
    sim = any(s.name == "simulator" and s.ok for s in st.steps)
    lines.append("  => " + ("usable through numba's simulator (no GPU: tests only)" if st.usable and sim else
                            "usable" if st.usable else f"not usable ({len(st.problems)} problem(s) above); "
                                                       "target='cpu' works"))
    return "\n".join(lines)
