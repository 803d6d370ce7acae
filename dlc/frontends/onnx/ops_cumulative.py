"""Converters: CumSum, CumProd."""
from __future__ import annotations

import numpy as np

from .registry import converter


def _cumulative(ir_op):
    def convert(cx, n):
        x, axis = n.need(0), n.need(1)
        attrs = dict(exclusive=int(n.attr("exclusive", 0)), reverse=int(n.attr("reverse", 0)))
        if axis.const is not None:   # the usual case: a linear scan along a known axis
            a = int(np.asarray(axis.const).reshape(-1)[0])
            if not -x.rank <= a < x.rank:
                raise n.error(f"axis {a} is out of range for rank {x.rank}")
            return cx.op(ir_op, [x], axis=a % x.rank, **attrs)
        return cx.op(ir_op, [x, axis], **attrs)
    return convert


converter("CumSum", since=11)(_cumulative("cumsum"))
converter("CumProd", since=26)(_cumulative("cumprod"))
