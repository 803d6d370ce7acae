"""OpDef: everything about one IR op in one place.

    relu = OpDef("relu", kind=ELEMWISE, infer=same_as_input,
                 ref=lambda x: np.maximum(x, 0),
                 scalar=lambda k, x: k.select(x < 0, k.zero(x.dtype), x))

- ``infer(ins, **attrs)``: output (dtype, shape), or a list of them. ``ins``
  are Values (``.dtype``, ``.shape``, ``.const`` when known at compile time).
- ``ref(*arrays, **attrs)``: numpy semantics, the oracle for tests and the
  constant folder. Returns an array or a tuple of arrays.
- ``scalar(k, *exprs, **attrs)``: for elementwise ops, the formula of one
  output element in kernel IR; codegen builds the loop nest around it.
- ``lower(k, ins, outs, **attrs)``: for every other op, the loop nest itself,
  written with the KernelBuilder `k` over kernel Buffers.
- ``vjp(d, ins, outs, gouts, **attrs)``: the gradient rule (reverse mode,
  see ir/autodiff.py). Given the node's inputs and outputs and the
  cotangents of its outputs (``gouts``; None for an output nothing uses),
  all as autodiff Vals, it returns one cotangent per input (None where there
  is none), built with the Emitter ``d`` (``d.matmul(a, b)``, ``g * y``,
  ``d.where(x > 0, g, 0)``). A cotangent may have any shape that broadcasts
  with its input's; the driver sums it back to the input's shape.
- ``static_inputs``: inputs that must be compile-time constants when the op
  is lowered (a Reshape's target shape, a Slice's starts...).
- ``fold(ins, **attrs)``: for ops whose result can be known without their
  inputs' data (``shape``, ``size``): the output array(s), or None.
- ``dynamic_shape``: the output shape depends on input *values* (NonZero,
  Unique): the op has no lowering; the runtime evaluates it with ``ref``
  between natively compiled segments (see dlc/staged.py).
- ``specialize(arrays, **attrs)``: for dynamic_shape ops that can still be
  compiled once the values of some inputs are known: ``(graph, runtime)``,
  a graph computing the node for inputs like `arrays` with some of them
  turned into constants; `runtime` lists the positions of the others, in
  the order of the graph's inputs. Staged execution compiles it once per
  distinct (shapes, constant values) instead of evaluating ``ref``.
- ``host``: the op has no lowering and runs on the host between compiled
  segments although its output shapes are known (control flow: ``scan``,
  whose body runs as compiled code; see ir/ops/control.py). ``on_host`` is
  true for these and for ``dynamic_shape`` ops.
- ``sequences`` / ``strings``: the op takes sequence and optional values /
  string tensors (ir/ops/sequence.py, ir/ops/text.py, ``equal``, control
  flow); ``infer_node`` refuses them for every other op, naming the node. A
  node that touches such a value runs as a host step with ``ref``.
- ``index(out_idx, ins, **attrs)``: for injective ops that are a pure index
  remap of their first input (transpose, expand, slice, a gather of one
  constant index): the index of ``ins[0]`` that output element ``out_idx``
  copies, or None when this node is not one (its other inputs are not
  constants of the right kind). Works on ints and on kernel-IR expressions
  alike; fusion uses it to read through the op instead of materializing it.

``kind`` is what fusion reads:
elemwise (same-shape scalar formula), broadcast (scalar formula with numpy
broadcasting), injective (each output element copies one input element),
reduce (reads each input element a few times and writes each output
element once: reductions, softmax, normalize, pooling; can take an
elementwise prologue and epilogue), out_fusable (matmul/conv: reads inputs
many times, can take an elementwise epilogue), view (no data movement: the
output aliases the input), opaque.

Lowerings of reduce and out_fusable ops write their result with
``k.store``; a write that is not final yet (an accumulator kept in the
output) says ``partial=True``, and ``k.finish`` marks where a region of the
output became final, so a fused epilogue runs there (see KernelBuilder).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import UnsupportedError

ELEMWISE, BROADCAST, INJECTIVE, REDUCE = "elemwise", "broadcast", "injective", "reduce"
OUT_FUSABLE, VIEW, OPAQUE = "out_fusable", "view", "opaque"
KINDS = (ELEMWISE, BROADCAST, INJECTIVE, REDUCE, OUT_FUSABLE, VIEW, OPAQUE)


@dataclass(frozen=True)
class OpDef:
    name: str
    kind: str
    infer: Callable
    ref: Callable
    scalar: Callable | None = None
    lower: Callable | None = None
    vjp: Callable | None = None
    static_inputs: tuple[int, ...] = ()
    fold: Callable | None = None
    dynamic_shape: bool = False
    specialize: Callable | None = None
    host: bool = False
    sequences: bool = False
    strings: bool = False
    index: Callable | None = None
    doc: str = ""

    def __post_init__(self):
        assert self.kind in KINDS, self.kind

    @property
    def on_host(self) -> bool:
        """Runs as a host step between compiled segments (dlc/staged.py)."""
        return self.dynamic_shape or self.host


REGISTRY: dict[str, OpDef] = {}


def register(*ops: OpDef) -> None:
    for op in ops:
        if op.name in REGISTRY:
            raise ValueError(f"op {op.name} registered twice")
        REGISTRY[op.name] = op


def get_op(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnsupportedError(f"unknown IR op {name!r}") from None
