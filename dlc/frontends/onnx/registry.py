"""The converter table: ONNX ``op_type`` -> {opset where a behaviour
appeared: converter}. A model at opset N uses the newest key not above N.

    @converter("Softmax", since=13)
    def softmax_v13(cx, n): ...

A converter gets the conversion context `cx` and an ONode `n`, emits IR
with ``cx.op(...)``, and returns the Value (or list of Values) of the
node's outputs. ONNX names live only here, in the frontend.
"""
from __future__ import annotations

from typing import Callable

CONVERTERS: dict[tuple[str, str], dict[int, Callable]] = {}


def converter(op_type: str, since: int = 1, domain: str = ""):
    def deco(fn: Callable) -> Callable:
        table = CONVERTERS.setdefault((domain, op_type), {})
        if since in table:
            raise ValueError(f"converter for {op_type} since opset {since} defined twice")
        table[since] = fn
        return fn
    return deco


def find_converter(op_type: str, opset: int, domain: str = "") -> Callable | None:
    table = CONVERTERS.get((domain, op_type))
    if not table:
        return None
    versions = [v for v in table if v <= opset]
    return table[max(versions)] if versions else None


def supported_ops(domain: str = "") -> list[str]:
    return sorted(op for d, op in CONVERTERS if d == domain)
