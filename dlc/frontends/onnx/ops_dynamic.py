"""Converters: ops whose output shapes depend on data (run as host steps)."""
from __future__ import annotations

from .registry import converter


@converter("NonZero", since=9)
def nonzero(cx, n):
    return cx.op("nonzero", [n.need(0)])
