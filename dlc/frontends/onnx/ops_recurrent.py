"""Converters: RNN, GRU, LSTM (ir/ops/recurrent.py)."""
from __future__ import annotations

from ...ir.errors import ShapeError
from ...ir.ops.recurrent import resolve_activations
from .registry import converter


def _recurrent(kind):
    def convert(cx, n):
        direction = n.attr("direction", "forward")
        dirs = 2 if direction == "bidirectional" else 1
        try:
            given = n.attr("activations") if "activations" in n.proto_attrs else None   # (RNN's schema default
            acts = resolve_activations(kind, given, n.attr("activation_alpha"),            # names both directions)
                                       n.attr("activation_beta"), dirs)
        except ShapeError as e:
            raise n.error(str(e)) from None
        hidden = n.attr("hidden_size")
        if hidden is None:
            r = n.need(2)
            hidden = r.shape[-1]
        count = 8 if kind == "lstm" else 6
        ins = [n.input(i) for i in range(count)]
        if ins[4] is not None:      # sequence_lens: as int64
            ins[4] = cx.cast(ins[4], "int64")
        clip = n.attr("clip")
        attrs = dict(hidden_size=int(hidden), direction=direction, activations=acts,
                     clip=None if clip is None else float(clip), layout=int(n.attr("layout", 0)))
        if kind == "gru":
            attrs["linear_before_reset"] = int(n.attr("linear_before_reset", 0))
        if kind == "lstm":
            attrs["input_forget"] = int(n.attr("input_forget", 0))
        return list(cx.op(kind, ins, **attrs))
    return convert


converter("RNN", since=7)(_recurrent("rnn"))
converter("GRU", since=7)(_recurrent("gru"))
converter("LSTM", since=7)(_recurrent("lstm"))
