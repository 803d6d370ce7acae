"""From LLVM IR text to machine code in this process.

`compile_ir` verifies and optimizes (new pass builder, O3, loop and SLP
vectorization) for the host CPU and returns object code; `NativeCode` loads
object code into an MCJIT engine and hands out function addresses. Loading a
saved artifact goes straight to `NativeCode`: no optimization runs again.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import llvmlite.binding as llvm

from ...ir.errors import ArtifactError

_lock = threading.RLock()   # LLVM's global context is not safe to use from two threads at once


@lru_cache(maxsize=None)
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@dataclass(frozen=True)
class HostTarget:
    triple: str
    cpu: str
    features: str

    def missing_features(self, other: "HostTarget") -> list[str]:
        """Features `other` relies on that this host lacks."""
        have = {f[1:] for f in self.features.split(",") if f.startswith("+")}
        return sorted(f[1:] for f in other.features.split(",") if f.startswith("+") and f[1:] not in have)


@lru_cache(maxsize=None)
def host() -> HostTarget:
    _init()
    return HostTarget(llvm.get_process_triple(), llvm.get_host_cpu_name(),
                      llvm.get_host_cpu_features().flatten())


def _new_target_machine():
    h = host()
    target = llvm.Target.from_triple(h.triple)
    return target.create_target_machine(cpu=h.cpu, features=h.features, opt=3, reloc="pic",
                                        codemodel="small")


@dataclass
class Compiled:
    object_code: bytes
    optimized_ir: str

    def assembly(self) -> str:
        return _assembly(self.optimized_ir)


@lru_cache(maxsize=None)
def _target_machine():
    """The machine used to optimize and emit code (never given to an engine)."""
    return _new_target_machine()


def _parse(ir_text: str):
    tm = _target_machine()
    mod = llvm.parse_assembly(ir_text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    mod.verify()
    return mod, tm


def compile_ir(ir_text: str) -> Compiled:
    """Optimize `ir_text` at O3 for the host (vectorizers on, unroller off)
    and emit object code."""
    with _lock:
        _init()
        mod, tm = _parse(ir_text)
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        # LLVM's unroller fully unrolls every small constant-trip loop nest (a
        # 3x3 conv window x channels): 9x the IR and 6x the compile time on a
        # ResNet stack, for ~1.7x faster convs. Unrolling worth having belongs
        # in the kernel schedules, where it is chosen, not everywhere.
        pto.loop_unrolling = False
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        return Compiled(tm.emit_object(mod), str(mod))


def _assembly(ir_text: str) -> str:
    with _lock:
        mod, tm = _parse(ir_text)
        return tm.emit_assembly(mod)


class NativeCode:
    """Object code loaded into this process. Keep it alive as long as any
    function pointer taken from it is in use."""

    def __init__(self, object_code: bytes, link_pool: bool = True):
        if link_pool:   # parallel loops call dlc_parallel_for: resolvable before the object is linked
            from .pool import ensure_loaded
            ensure_loaded()
        with _lock:
            _init()
            tm = _new_target_machine()   # the engine takes ownership of its target machine
            empty = llvm.parse_assembly("")
            empty.triple = tm.triple
            self._engine = llvm.create_mcjit_compiler(empty, tm)
            try:
                self._engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
                self._engine.finalize_object()
            except Exception as e:  # llvmlite reports bad objects as RuntimeError
                raise ArtifactError(f"cannot load compiled code: {e}") from None

    def address(self, name: str) -> int:
        with _lock:
            addr = self._engine.get_function_address(name)
        if not addr:
            raise ArtifactError(f"compiled code has no function {name!r}")
        return addr

    def global_address(self, name: str) -> int:
        """The address of global variable `name`, or 0 when the code has none."""
        with _lock:
            return self._engine.get_global_value_address(name)
