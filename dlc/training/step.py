"""Step graphs: a specialized forward graph turned into the graphs the
training session compiles.

- train: inputs are the batch, the targets, the fed weights, the optimizer
  slots, the step counter and the learning rate; it returns the loss, the
  metrics summed over the batch, and the new weights, slots and running
  statistics, each written in place over the input it replaces.
- eval: the batch, the targets and the weights -> per-sample loss and metrics.
- predict: the batch and the weights -> the model's outputs.

The graphs name their inputs and outputs with `runtime.training.StepIO`
keys: ("batch", input name), ("target", "y"), ("state", weight / slot /
counter name), ("result", name).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, Value
from ..ir.autodiff import Emitter, gradients
from ..ir.passes import eliminate_common_subexpressions, fold_constants, remove_noops, run_passes
from ..ir.passes.conv_matmul import convs_to_matmul
from ..runtime.training import StepIO
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer

STEP, LR = "step", "lr"


def slot_key(param: str, slot: str) -> str:
    return f"{param}:{slot}"


@dataclass
class Forward:
    """An imported, specialized forward graph and what the step needs to know
    about it. ``g.outputs`` is [prediction, *new running statistics]."""
    g: Graph
    batch: list[str]                 # data input names (the first len(batch) graph inputs)
    fed: list[str]                   # weights fed as inputs (the next graph inputs)
    updates: list[str] = field(default_factory=list)   # the fed weight each extra output replaces

    def simplify(self) -> "Forward":
        """Cleanup, and convolutions as im2col + matmul (see convs_to_matmul)."""
        self.g = run_passes(self.g, [fold_constants, remove_noops, eliminate_common_subexpressions,
                                     convs_to_matmul])
        return self

    @property
    def pred(self) -> Value:
        return self.g.outputs[0]

    def input_io(self) -> list[tuple[str, str]]:
        return [("batch", n) for n in self.batch] + [("state", n) for n in self.fed]


# ------------------------------------------------- row independence
_ROWWISE = {"conv", "conv_transpose", "max_pool", "avg_pool", "normalize", "cast", "copy", "dropout", "resize"}
_ALONG_AXES = {"softmax", "log_softmax"}


def rows_independent(g: Graph, batch: list[Value], out: Value) -> bool:
    """Whether each row (sample) of `out` depends only on the same row of the
    `batch` inputs, all of whose axis 0 is the batch. Then a short last batch
    can be padded with dummy rows (weighted 0 in the loss) instead of
    compiling another step; batch statistics (training BatchNormalization)
    or any op this analysis does not know make it answer False."""
    if not batch:
        return False
    n = batch[0].shape[0]
    row: set[Value] = set(batch)
    if any(v.rank == 0 or v.shape[0] != n for v in batch):
        return False

    def along0(v, axes):
        return 0 in [a % max(v.rank, 1) for a in axes]

    for node in g.nodes:
        ins = [v for v in node.inputs if v is not None]
        rows_in = [v for v in ins if v in row]
        if not rows_in:
            continue
        op, a, outs = node.op, node.attrs, node.outputs
        y = outs[0]
        if y.rank == 0 or y.shape[0] != n:
            return False
        kind = node.opdef.kind
        if kind in ("elemwise", "broadcast") or op in _ROWWISE:
            for v in ins:   # an input without rows must not be broadcast along the batch axis
                if v not in row and v.rank == y.rank and v.shape[0] != 1 and op not in _ROWWISE:
                    return False
                if v in row and (v.rank != y.rank) and op not in _ROWWISE:
                    return False
            ok = True
        elif op == "matmul":
            x, w = node.inputs
            ok = x in row and (w not in row or (x.rank > 2 and w.rank == x.rank)) and y.rank == x.rank
        elif kind == "reduce" or op in ("argmax", "argmin"):
            ok = not along0(node.inputs[0], a.get("axes", (a.get("axis", 0),)))
        elif op in _ALONG_AXES:
            ok = not along0(y, a["axes"])
        elif op in ("reshape", "flatten", "expand"):
            ok = node.inputs[0] in row and node.inputs[0].shape[0] == n
        elif op in ("squeeze", "unsqueeze"):
            ok = True   # (y.shape[0] == n was checked: axis 0 stays the batch)
        elif op == "transpose":
            ok = tuple(a.get("perm") or ())[:1] == (0,)
        elif op in ("concat", "split"):
            ok = a["axis"] % y.rank != 0 and all(v in row for v in ins)
        elif op == "slice":
            x = node.inputs[0]
            ok = x in row and x.shape[0] == y.shape[0] and not _slices_axis0(node)
        elif op == "gather":
            data, idx = node.inputs
            ok = (data in row and a.get("axis", 0) % data.rank != 0 and idx not in row) or \
                 (data not in row and idx in row and a.get("axis", 0) % data.rank == 0)
        elif op == "pad":
            pads = node.inputs[1].const
            ok = pads is not None and pads[0] == 0 and pads[len(pads) // 2] == 0 and \
                (len(node.inputs) < 4 or node.inputs[3] is None)
        elif op == "tile":
            ok = int(node.inputs[1].const[0]) == 1
        else:
            ok = False
        if not ok:
            return False
        row.update(v for v in outs if v.rank and v.shape[0] == n)
    return out in row


def _slices_axis0(node) -> bool:
    axes = node.inputs[3].const if len(node.inputs) > 3 and node.inputs[3] is not None else None
    n_axes = len(node.inputs[1].const)
    axes = list(range(n_axes)) if axes is None else [int(x) % node.inputs[0].rank for x in axes]
    return 0 in axes


def _targets(g: Graph, loss: Loss, pred: Value) -> Value:
    dt, shape = loss.target_spec(pred.shape, pred.dtype)
    return g.add_input("target", dt, shape)


def predict_graph(fw: Forward) -> tuple[Graph, StepIO]:
    g = fw.g
    g.outputs = g.outputs[:1]
    return g, StepIO(fw.input_io(), [("result", "output")])


def eval_graph(fw: Forward, loss: Loss, metrics: list[Metric]) -> tuple[Graph, StepIO]:
    g = fw.g
    pred = fw.pred
    y = _targets(g, loss, pred)
    d = Emitter(g, "loss")
    outs = [loss.per_sample(d, d.wrap(pred), d.wrap(y))]
    outs += [m.per_sample(d, d.wrap(pred), d.wrap(y)) for m in metrics]
    g.outputs = [d.cast(v, np.float32).v for v in outs]
    return g, StepIO(fw.input_io() + [("target", "y")],
                     [("result", "loss")] + [("result", m.name) for m in metrics])


def grad_graph(fw: Forward, loss: Loss, trainable: list[str]) -> tuple[Graph, StepIO]:
    """The loss of a batch (training mode) and its gradient with respect to
    each trainable weight (zeros where it does not depend on it); nothing is
    updated. For inspection and tests."""
    g = fw.g
    pred = fw.pred
    y = _targets(g, loss, pred)
    step = g.add_input(STEP, np.int64, ())
    for n in g.nodes:
        if n.op == "dropout":
            n.inputs = [n.inputs[0], step]
    d = Emitter(g, "loss")
    total = d.mean(loss.per_sample(d, d.wrap(pred), d.wrap(y)), (0,))
    by_name = dict(zip(fw.batch + fw.fed, g.inputs))
    grads = gradients(g, total.v, [by_name[n] for n in trainable], zeros=True)
    g.outputs = [total.v] + grads
    return g, StepIO(fw.input_io() + [("target", "y"), ("state", STEP)],
                     [("result", "loss")] + [("result", f"grad:{n}") for n in trainable])


def train_graph(fw: Forward, loss: Loss, metrics: list[Metric], optimizer: Optimizer, trainable: list[str],
                ) -> tuple[Graph, StepIO, dict[int, int], list[str]]:
    """The train step graph, its IO, the in-place map {output: input}, and
    the trainable weights that got an update (those the loss depends on)."""
    g = fw.g
    pred = fw.pred
    updates = list(zip(fw.updates, g.outputs[1:]))
    y = _targets(g, loss, pred)
    weights = g.add_input("sample_weight", pred.dtype, (pred.shape[0],))
    mask = g.add_input("mask", pred.dtype, (pred.shape[0],))
    step = g.add_input(STEP, np.int64, ())
    lr = g.add_input(LR, np.float32, ())
    for n in g.nodes:                   # each step draws new dropout masks
        if n.op == "dropout":
            n.inputs = [n.inputs[0], step]
    d = Emitter(g, "loss")
    w, real = d.wrap(weights), d.wrap(mask)
    per_sample = loss.per_sample(d, d.wrap(pred), d.wrap(y))
    # Keras' "sum over batch size": sum(weight * loss) / samples; padding rows
    # (mask 0, weight 0) take no part
    total = d.sum(per_sample * w, (0,)) / d.max(d.sum(real, (0,)), 1)
    results = [d.cast(total, np.float32)]
    d.source = "metrics"
    for m in metrics:
        results.append(d.cast(d.sum(m.per_sample(d, d.wrap(pred), d.wrap(y)) * real, (0,)), np.float32))

    by_name = dict(zip(fw.batch + fw.fed, g.inputs))
    wrt = [by_name[n] for n in trainable]
    grads = gradients(g, total.v, wrt)
    live = [(n, p, gr) for n, p, gr in zip(trainable, wrt, grads) if gr is not None]

    d.source = f"optimizer {optimizer.name}"
    slot_inputs = [[g.add_input(slot_key(n, s), p.dtype, p.shape) for s in optimizer.slots] for n, p, _ in live]
    new = optimizer.apply(d, [d.wrap(p) for _, p, _ in live], [d.wrap(gr) for _, _, gr in live],
                          [[d.wrap(s) for s in ss] for ss in slot_inputs], d.wrap(step), d.wrap(lr))

    inputs = fw.input_io() + [("target", "y"), ("target", "sample_weight"), ("target", "mask"), ("state", STEP),
                              ("state", LR)]
    inputs += [("state", slot_key(n, s)) for n, _, _ in live for s in optimizer.slots]
    index = {key: i for i, key in enumerate(inputs)}
    outputs = [("result", "loss")] + [("result", m.name) for m in metrics]
    values = [r.v for r in results]
    for (n, _, _), (p_new, s_new) in zip(live, new):
        outputs.append(("state", n))
        values.append(p_new.v)
        for s, v in zip(optimizer.slots, s_new):
            outputs.append(("state", slot_key(n, s)))
            values.append(v.v)
    for name, v in updates:
        outputs.append(("state", name))
        values.append(v)
    g.outputs = values
    inplace = {j: index[key] for j, key in enumerate(outputs) if key[0] == "state"}
    return g, StepIO(inputs, outputs), inplace, [n for n, _, _ in live]
