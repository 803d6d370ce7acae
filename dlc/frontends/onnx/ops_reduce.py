"""Converters: the Reduce* family."""
from __future__ import annotations

from .registry import converter

# op type -> (IR op, the opset where `axes` moved from an attribute to an input)
_REDUCE = {
    "ReduceSum": ("reduce_sum", 13), "ReduceMean": ("reduce_mean", 18), "ReduceMax": ("reduce_max", 18),
    "ReduceMin": ("reduce_min", 18), "ReduceProd": ("reduce_prod", 18), "ReduceL1": ("reduce_l1", 18),
    "ReduceL2": ("reduce_l2", 18), "ReduceLogSum": ("reduce_log_sum", 18),
    "ReduceLogSumExp": ("reduce_log_sum_exp", 18), "ReduceSumSquare": ("reduce_sum_square", 18),
}


def reduce_axes(n, rank: int, axes_input_since: int) -> tuple[int, ...] | None:
    """The normalized axes of a Reduce node; None means "reduce nothing"
    (empty axes with noop_with_empty_axes=1)."""
    axes = n.ints(1, what="axes") if n.opset >= axes_input_since else n.attr("axes")
    if not axes:
        return None if n.attr("noop_with_empty_axes", 0) else tuple(range(rank))
    out = sorted({int(a) % rank if rank else 0 for a in axes})
    for a in axes:
        if not -rank <= int(a) < max(rank, 1):
            raise n.error(f"axis {a} is out of range for rank {rank}")
    return tuple(out)


def _reduce(ir_op, since):
    def convert(cx, n):
        x = n.need(0)
        axes = reduce_axes(n, x.rank, since)
        return cx.op(ir_op, [x], axes=axes if axes is not None else (), keepdims=bool(n.attr("keepdims", 1)))
    return convert


for _t, (_op, _since) in _REDUCE.items():
    converter(_t)(_reduce(_op, _since))
