"""Graph passes. Each is `def name(g: Graph) -> Graph`."""
from .cleanup import eliminate_common_subexpressions, eliminate_dead_code
from .fold import fold_constants
from .fuse import describe_kernels, fuse_operators, partition
from .memory import MemoryPlan, format_plan, pack, pack_naive, plan_memory, value_intervals
from .outputs import materialize_outputs
from .patterns import fold_batch_norm, recognize_layer_norm
from .pipeline import PassRecord, run_passes
from .rewrite import rewrite
from .simplify import remove_noops

__all__ = ["eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants", "remove_noops",
           "materialize_outputs", "rewrite", "run_passes", "PassRecord", "MemoryPlan", "pack", "pack_naive",
           "plan_memory", "format_plan", "value_intervals", "fold_batch_norm", "recognize_layer_norm",
           "fuse_operators", "partition", "describe_kernels"]
