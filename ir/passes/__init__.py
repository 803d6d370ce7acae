"""Graph passes. Each is `def name(g: Graph) -> Graph`."""
from .cleanup import eliminate_common_subexpressions, eliminate_dead_code
from .fold import fold_constants
from .memory import MemoryPlan, pack, value_intervals
from .outputs import materialize_outputs
from .pipeline import PassRecord, run_passes
from .rewrite import rewrite
from .simplify import remove_noops

__all__ = ["eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants", "remove_noops",
           "materialize_outputs", "rewrite", "run_passes", "PassRecord", "MemoryPlan", "pack",
           "value_intervals"]
