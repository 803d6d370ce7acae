"""The generated CUDA source against the real numba-cuda compiler (typing and
lowering for a compute capability: no GPU or CUDA toolkit needed), in a
subprocess without the simulator the rest of the tests run under."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba.cuda")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_kernel_types_and_lowers_with_numba_cuda():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    out = subprocess.run([sys.executable, "-m", "tests.cuda_typecheck"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
    assert "ok resnet_blocks" in out.stdout and "ok transformer_encoder" in out.stdout
