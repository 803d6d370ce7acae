import atexit
import os
import shutil
import sys
import tempfile

# tests import their helpers as `tests.util`
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The compile cache goes to a directory of this test process (each xdist worker
# has its own), never to the user's ~/.cache; subprocesses inherit it.
_cache = tempfile.mkdtemp(prefix="dlc-test-cache-")
os.environ["DLC_CACHE_DIR"] = _cache
os.environ.pop("DLC_CACHE", None)
atexit.register(shutil.rmtree, _cache, True)
