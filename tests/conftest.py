import os
import sys

# tests import their helpers as `tests.util`
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
