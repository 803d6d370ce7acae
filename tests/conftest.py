import atexit
import itertools
import os
import shutil
import sys
import tempfile

import pytest

# target="cuda" runs on numba's CUDA simulator (the kernels as Python, on
# the CPU) unless DLC_TEST_GPU=1, which runs it on the GPU and also runs the
# tests marked `gpu` (skipped otherwise). numba reads the variable when
# numba.cuda is first imported, so it is set before any test runs.
GPU = os.environ.get("DLC_TEST_GPU") == "1"
if not GPU:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


def pytest_collection_modifyitems(config, items):
    if GPU:
        return
    skip = pytest.mark.skip(reason="needs a real GPU (run with DLC_TEST_GPU=1)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


# tests import their helpers as `tests.util`
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The compile cache goes to a temporary directory of this test process (each
# xdist worker has its own), never to the user's ~/.cache; subprocesses
# inherit it. Each test gets a fresh subdirectory, so no test can load code
# another test compiled (e.g. one that patched an op's lowering).
_cache = tempfile.mkdtemp(prefix="dlc-test-cache-")
os.environ["DLC_CACHE_DIR"] = _cache
os.environ.pop("DLC_CACHE", None)
atexit.register(shutil.rmtree, _cache, True)
_count = itertools.count()


@pytest.fixture(autouse=True)
def _own_compile_cache():
    before = os.environ.get("DLC_CACHE_DIR")
    os.environ["DLC_CACHE_DIR"] = os.path.join(_cache, str(next(_count)))
    yield
    if before is None:
        os.environ.pop("DLC_CACHE_DIR", None)
    else:
        os.environ["DLC_CACHE_DIR"] = before
