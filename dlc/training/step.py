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
        self.g = run_passes(self.g, [fold_constants, remove_noops, eliminate_common_subexpressions])
        return self

    @property
    def pred(self) -> Value:
        return self.g.outputs[0]

    def input_io(self) -> list[tuple[str, str]]:
        return [("batch", n) for n in self.batch] + [("state", n) for n in self.fed]


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
    step = g.add_input(STEP, np.int64, ())
    lr = g.add_input(LR, np.float32, ())
    for n in g.nodes:                   # each step draws new dropout masks
        if n.op == "dropout":
            n.inputs = [n.inputs[0], step]
    d = Emitter(g, "loss")
    per_sample = loss.per_sample(d, d.wrap(pred), d.wrap(y))
    total = d.mean(per_sample, (0,))
    results = [d.cast(total, np.float32)]
    d.source = "metrics"
    for m in metrics:
        results.append(d.cast(d.sum(m.per_sample(d, d.wrap(pred), d.wrap(y)), (0,)), np.float32))

    by_name = dict(zip(fw.batch + fw.fed, g.inputs))
    wrt = [by_name[n] for n in trainable]
    grads = gradients(g, total.v, wrt)
    live = [(n, p, gr) for n, p, gr in zip(trainable, wrt, grads) if gr is not None]

    d.source = f"optimizer {optimizer.name}"
    slot_inputs = [[g.add_input(slot_key(n, s), p.dtype, p.shape) for s in optimizer.slots] for n, p, _ in live]
    new = optimizer.apply(d, [d.wrap(p) for _, p, _ in live], [d.wrap(gr) for _, _, gr in live],
                          [[d.wrap(s) for s in ss] for ss in slot_inputs], d.wrap(step), d.wrap(lr))

    inputs = fw.input_io() + [("target", "y"), ("state", STEP), ("state", LR)]
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
