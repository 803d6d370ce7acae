"""`dlc doctor` and the CUDA diagnosis: never crashes without numba, a driver
or a GPU; says what is missing and the fix; target='cuda' never falls back
to the CPU silently."""
import importlib.metadata

import pytest

import dlc
from dlc import doctor
from tests.test_cli import dlc_cmd


def installed(name):
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def test_report_lists_versions_cpu_cache_and_cuda():
    text = doctor.report()
    for word in ("python", "numpy", "onnx", "llvmlite", "LLVM", "numba", "numba-cuda", "host CPU", "vectors",
                 "compile cache", "CUDA (target='cuda')"):
        assert word in text, word
    cpu = doctor.host_cpu()
    assert cpu["triple"] and cpu["cpu"] and cpu["features"]


@pytest.mark.skipif(installed("numba-cuda"), reason="numba-cuda is installed here")
def test_missing_numba_cuda_is_diagnosed_with_the_fix(no_simulator):
    st = doctor.cuda_status()
    step = next(s for s in st.steps if s.name == "numba-cuda")
    assert step.ok is False and "pip install numba-cuda" in step.fix
    assert not st.usable and "pip install numba-cuda" in st.diagnosis()


def test_missing_driver(monkeypatch, no_simulator):
    monkeypatch.setattr(doctor, "_driver_library", lambda: (None, "libcuda.so.1 was not found"))
    st = doctor.cuda_status()
    step = next(s for s in st.steps if s.name == "driver")
    assert step.ok is False and "install the NVIDIA driver" in step.fix and "NUMBA_CUDA_DRIVER" in step.fix
    assert not st.usable


def test_bad_driver_path(monkeypatch, tmp_path, no_simulator):
    monkeypatch.setenv("NUMBA_CUDA_DRIVER", str(tmp_path / "libcuda.so.1"))
    st = doctor.cuda_status()
    step = next(s for s in st.steps if s.name == "driver")
    assert step.ok is False and "NUMBA_CUDA_DRIVER" in step.detail and "NUMBA_CUDA_DRIVER" in step.fix


@pytest.fixture
def no_simulator(monkeypatch):
    """The test session turns numba's CUDA simulator on (tests/conftest.py); these tests want it off."""
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)


@pytest.mark.skipif(not installed("numba-cuda"), reason="numba-cuda is not installed")
def test_simulator_counts_only_when_asked_for(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    st = doctor.cuda_status(probe_numba=False)
    step = next(s for s in st.steps if s.name == "simulator")
    assert st.usable and step.ok and "not on a GPU" in step.detail
    assert "simulator" in doctor.report()
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM")
    st = doctor.cuda_status(probe_numba=False)
    assert not any(s.name == "simulator" for s in st.steps)


def test_cuda_target_raises_the_diagnosis(monkeypatch):
    bad = doctor.CudaStatus([doctor.Step("driver", False, "libcuda.so.1 was not found", "install the NVIDIA driver")])
    monkeypatch.setattr(doctor, "cuda_status", lambda probe_numba=True: bad)
    with pytest.raises(dlc.UnsupportedError, match="(?s)does not fall back to the CPU.*driver: libcuda.so.1 "
                                                    "was not found.*fix: install the NVIDIA driver"):
        dlc.compile("model.onnx", target="cuda")


def test_cuda_target_here_never_runs_on_the_cpu(no_simulator):
    if doctor.cuda_status().usable:
        pytest.skip("this machine has a usable GPU")
    with pytest.raises(dlc.UnsupportedError, match="cuda"):
        dlc.compile("model.onnx", target="cuda")


def test_doctor_command():
    out = dlc_cmd("doctor")
    assert out.returncode == 0, out.stderr
    assert "versions" in out.stdout and "CUDA (target='cuda')" in out.stdout and "=>" in out.stdout
