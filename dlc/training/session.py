"""Train an ONNX model: a TrainingSession compiles, per batch shape, one
native train step (forward, backward and optimizer update in place), an
eval step and a predict step, all reading the same weight arrays.

    sess = dlc.TrainingSession("model.onnx", loss="sparse_categorical_crossentropy",
                               optimizer=dlc.optimizers.Adam(1e-3), trainable=["fc.weight", "fc.bias"])
    sess.fit(x, y, epochs=3, batch_size=32)
    sess.export("trained.onnx")

or in one call: ``dlc.train("model.onnx", x, y, loss=..., optimizer=..., epochs=3, output="trained.onnx")``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import onnx

from ..compiler import Options, build, check_target
from ..frontends.onnx.importer import import_model, load_model, signature_of
from ..ir.errors import InputError, ModelError
from ..runtime import training as rt
from . import losses, metrics as metrics_mod, optimizers
from .onnx_model import (default_trainable, initializer_arrays, running_stats, training_variant, with_inputs,
                         with_weights)
from .progress import Progbar
from .step import (LR, STEP, Forward, eval_graph, grad_graph, predict_graph, rows_independent, slot_key,
                   train_graph)


class History:
    """What `fit` returns: ``history.history = {"loss": [...], "val_loss": [...], ...}``."""

    def __init__(self, params: dict):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = params

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class TrainingSession(rt.TrainingSession):
    """Weights, optimizer state and compiled steps of one ONNX model.

    ``trainable``: names of the initializers to train (default: every float
    initializer of rank >= 1 other than BatchNormalization running
    statistics, which are updated by the forward pass in training mode).
    ``output``: the model output the loss reads (default: the first).
    ``weights``: arrays to use as the state of some initializers instead of
    copies of the model's (they are then updated in place: aligned,
    C-contiguous arrays of the initializers' dtypes and shapes);
    ``feed``: more initializers to read from the state (not trained) rather
    than to compile in as constants (so they can change between steps).
    ``target``: where the compiled steps run, "cpu" or "cuda" (the weights
    and optimizer state then stay on the GPU during `fit`; the host arrays
    are brought up to date whenever a public call returns).
    """

    def __init__(self, model, loss, optimizer="adam", trainable: Sequence[str] | None = None,
                 metrics: Sequence = (), output: str | None = None, weights: Mapping[str, np.ndarray] | None = None,
                 feed: Sequence[str] = (), seed: int | None = 0, options: Options | None = None,
                 target: str = "cpu"):
        self.model = load_model(model)
        self.loss = losses.get(loss) if loss is not None else None   # None: predict only
        self.optimizer = optimizers.get(optimizer)
        self.trainable = list(default_trainable(self.model) if trainable is None else trainable)
        stats = running_stats(self.model)
        self.fed = list(dict.fromkeys(self.trainable + stats + list(feed) + list(weights or {})))
        self._infer_model = with_inputs(self.model, self.fed)
        tm = training_variant(self._infer_model)
        self._train_model, self._updates = tm.model, tm.updates
        sig = signature_of(self._infer_model)
        self.inputs = sig.inputs
        outs = [o.name for o in self.model.graph.output]
        self.output = output or outs[0]
        if self.output not in outs:
            raise ModelError(f"output {self.output!r} is not an output of the model ({', '.join(outs)})")
        self.metric_names = [m if isinstance(m, str) else m.name for m in metrics]
        self._metric_specs = list(metrics)
        self._metrics = None
        self.options = options or Options(target=check_target(target))
        self._rng = np.random.default_rng(seed)

        state = initializer_arrays(self.model, [n for n in self.fed if n not in (weights or {})])
        for name, arr in state.items():
            state[name] = rt.state_array(arr)
        for name, arr in (weights or {}).items():
            state[name] = arr
        for name in self.trainable:
            for s in self.optimizer.slots:
                state[slot_key(name, s)] = rt.state_array(self.optimizer.slot_init(s, state[name]))
        state[STEP] = rt.state_array(np.array(0, np.int64))
        state[LR] = rt.state_array(np.array(self.optimizer.lr_at(0), np.float32))
        super().__init__(state, self._compile, copy=False)

    # ------------------------------------------------------------- compile
    def _forward(self, kind: str, shapes: dict) -> Forward:
        model = self._train_model if kind in ("train", "grad") else self._infer_model
        data = {i.name: tuple(shapes[i.name]) for i in self.inputs}
        g, _ = import_model(model, data, fed_initializers=self.fed)
        by_name = dict(zip([o.name for o in model.graph.output], g.outputs))
        updates = list(self._updates) if kind == "train" else []
        g.outputs = [by_name[self.output]] + [by_name[self._updates[n]] for n in updates]
        return Forward(g, [i.name for i in self.inputs], self.fed, updates).simplify()

    def _resolve_metrics(self, pred):
        if self._metrics is None:
            self._metrics = [metrics_mod.get(m, self.loss, pred.shape) for m in self._metric_specs]
            for m, name in zip(self._metrics, self.metric_names):
                m.name = name
        return self._metrics

    def _compile(self, kind: str, shapes: dict):
        if self.loss is None and kind != "predict":
            raise ModelError("this session has no loss: it can only predict")
        fw = self._forward(kind, shapes)
        mets = self._resolve_metrics(fw.pred)
        inplace = None
        if kind == "train":
            self._rows_independent = rows_independent(fw.g, fw.g.inputs[:len(fw.batch)], fw.pred)
            g, io, inplace, _ = train_graph(fw, self.loss, mets, self.optimizer, self.trainable)
        elif kind == "grad":
            g, io = grad_graph(fw, self.loss, self.trainable)
        elif kind == "eval":
            g, io = eval_graph(fw, self.loss, mets)
        else:
            g, io = predict_graph(fw)
        _, exe = build(g, self.options, inplace)
        return exe, io

    # ----------------------------------------------------------------- data
    def _as_inputs(self, x) -> dict[str, np.ndarray]:
        if isinstance(x, Mapping):
            missing = [i.name for i in self.inputs if i.name not in x]
            if missing:
                raise InputError(f"missing input {missing[0]!r}")
            arrays = {i.name: x[i.name] for i in self.inputs}
        elif isinstance(x, (list, tuple)) and len(self.inputs) > 1:
            arrays = {i.name: a for i, a in zip(self.inputs, x)}
        else:
            if len(self.inputs) != 1:
                raise InputError(f"the model has {len(self.inputs)} inputs: give them as a dict")
            arrays = {self.inputs[0].name: x}
        out = {}
        for info in self.inputs:
            a = np.ascontiguousarray(np.asarray(arrays[info.name]), dtype=info.dtype)
            if a.ndim != len(info.shape) or any(isinstance(d, int) and d != g for d, g in zip(info.shape, a.shape)):
                want = ",".join(str(d) for d in info.shape)
                raise InputError(f"input {info.name!r}: expected shape [{want}], got {list(a.shape)}")
            out[info.name] = a
        n = {len(a) for a in out.values()}
        if len(n) != 1:
            raise InputError(f"inputs have different numbers of samples: {sorted(n)}")
        return out

    @staticmethod
    def _count(xs: dict) -> int:
        return len(next(iter(xs.values())))

    def _targets(self, y, like: np.ndarray, n: int) -> np.ndarray:
        """y as the step expects it: the dtype and per-sample shape of its buffer."""
        y = np.asarray(y)
        if len(y) != n:
            raise InputError(f"{len(y)} targets for {n} samples")
        per = like.shape[1:]
        if y.shape[1:] != per:
            if int(np.prod(y.shape[1:], dtype=np.int64)) != int(np.prod(per, dtype=np.int64)):
                raise InputError(f"targets of shape {list(y.shape)} do not fit the model's output: "
                                 f"expected [{n}, {', '.join(str(d) for d in per)}]")
            y = y.reshape((n,) + per)
        return np.ascontiguousarray(y, dtype=like.dtype)

    def _shapes(self, xs: dict, rows: int) -> dict:
        return {k: (rows,) + a.shape[1:] for k, a in xs.items()}

    # --------------------------------------------------------------- steps
    def _train_bound(self, xs, rows: int, full: int) -> tuple[rt.Bound, int]:
        """The train step for a batch of `rows` samples, and how many padding
        rows it needs: a short last batch runs through the full-size step
        with zero-weighted padding when samples are computed independently
        (no batch statistics), else through a step compiled for its size."""
        b = self.bound("train", self._shapes(xs, full))
        if rows == full or not self._rows_independent:
            return (b, 0) if rows == full else (self.bound("train", self._shapes(xs, rows)), 0)
        return b, full - rows

    def _train_batch(self, b: rt.Bound, xs, y, idx, pad: int = 0, sample_weight=None) -> dict[str, float]:
        real = len(idx)
        if pad:
            idx = np.concatenate([idx, np.repeat(idx[:1], pad)])
        for k, a in xs.items():
            np.take(a, idx, axis=0, out=b.feed[k])
        np.take(y, idx, axis=0, out=b.feed["y"])
        mask = b.feed["mask"]
        mask[:real], mask[real:] = 1, 0
        if sample_weight is None:
            b.feed["sample_weight"][...] = mask
        else:
            np.take(sample_weight, idx, axis=0, out=b.feed["sample_weight"])
            b.feed["sample_weight"][real:] = 0
        step = self.state[STEP]
        self.state[LR][...] = self.optimizer.lr_at(int(step))
        step[...] = step + 1
        self.host_changed(STEP, LR)
        b.call()
        return {k: float(v) for k, v in b.results.items()}

    def train_on_batch(self, x, y) -> dict[str, float]:
        """One compiled step on this batch: the loss and each metric (mean over the batch)."""
        xs = self._as_inputs(x)
        n = self._count(xs)
        with self.lock:
            self.sync_to_device()
            b = self.bound("train", self._shapes(xs, n))
            r = self._train_batch(b, xs, self._targets(y, b.feed["y"], n), np.arange(n))
            self.sync_to_host()
        return {k: (v if k == "loss" else v / n) for k, v in r.items()}

    def gradients(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        """The training-mode loss on this batch and its gradient with respect
        to each trainable weight; updates nothing (running statistics included)."""
        xs = self._as_inputs(x)
        n = self._count(xs)
        with self.lock:
            self.sync_to_device()
            b = self.bound("grad", self._shapes(xs, n))
            for k, a in xs.items():
                b.feed[k][...] = a
            b.feed["y"][...] = self._targets(y, b.feed["y"], n)
            b.call()
            return float(b.results["loss"]), {n: b.results[f"grad:{n}"].copy() for n in self.trainable}

    def fit(self, x, y, batch_size: int = 32, epochs: int = 1, verbose: int = 1, validation_data=None,
            validation_split: float = 0.0, shuffle: bool = True, callbacks: Sequence = (),
            initial_epoch: int = 0, sample_weight=None) -> History:
        """Keras' fit: epochs of shuffled mini-batches, a progress bar per
        epoch, validation at each epoch's end; returns a History.
        ``sample_weight`` weighs each sample's loss (Keras' sum over the batch
        size: weights do not renormalize)."""
        xs = self._as_inputs(x)
        n = self._count(xs)
        y = np.asarray(y)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float32).reshape(-1)
            if len(sample_weight) != n:
                raise InputError(f"{len(sample_weight)} sample weights for {n} samples")
        if validation_data is None and validation_split:
            cut = int(n * (1 - validation_split))
            validation_data = ({k: a[cut:] for k, a in xs.items()}, y[cut:])
            xs, y, n = {k: a[:cut] for k, a in xs.items()}, y[:cut], cut
            sample_weight = None if sample_weight is None else sample_weight[:cut]
        if n == 0:
            raise InputError("no samples to train on")
        batch_size = min(int(batch_size or 32), n)
        steps = -(-n // batch_size)
        history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size})
        yb = None
        with self.lock:
            self.sync_to_device()
        for cb in callbacks:
            getattr(cb, "on_train_begin", lambda logs=None: None)({})
        for epoch in range(initial_epoch, epochs):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            for cb in callbacks:
                getattr(cb, "on_epoch_begin", lambda e, logs=None: None)(epoch, {})
            order = self._rng.permutation(n) if shuffle else np.arange(n)
            bar = Progbar(steps, verbose)
            sums: dict[str, float] = {}
            seen = 0
            logs: dict[str, float] = {}
            for s in range(steps):
                idx = order[s * batch_size:(s + 1) * batch_size]
                with self.lock:
                    b, pad = self._train_bound(xs, len(idx), batch_size)
                    if yb is None or yb.dtype != b.feed["y"].dtype:
                        yb = self._targets(y, b.feed["y"], n)
                    r = self._train_batch(b, xs, yb, idx, pad, sample_weight)
                seen += len(idx)
                for k, v in r.items():
                    sums[k] = sums.get(k, 0.0) + (v * len(idx) if k == "loss" else v)
                logs = {k: sums[k] / seen for k in self.metric_names + ["loss"] if k in sums}
                for cb in callbacks:
                    getattr(cb, "on_batch_end", lambda i, logs=None: None)(s, dict(logs))
                bar.update(s + 1, logs)
            with self.lock:
                self.sync_to_host()   # callbacks and validation see this epoch's weights
            if validation_data is not None:
                vx, vy = validation_data[0], validation_data[1]
                val = self.evaluate(vx, vy, batch_size=batch_size)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.update(steps, logs, final=True)
            history.append(epoch, logs)
            stop = False
            for cb in callbacks:
                getattr(cb, "on_epoch_end", lambda e, logs=None: None)(epoch, dict(logs))
                stop = stop or bool(getattr(cb, "stop_training", False))
            with self.lock:
                self.sync_to_device()   # (a callback may have written weights)
            if stop:
                break
        for cb in callbacks:
            getattr(cb, "on_train_end", lambda logs=None: None)({})
        return history

    def _batches(self, n: int, batch_size: int):
        """(start, stop, row indices padded to the batch size) per batch: every
        batch has the same shape, so one executable serves them all."""
        bs = min(int(batch_size or 32), n)
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            idx = np.minimum(np.arange(start, start + bs), n - 1)
            yield start, stop, idx

    def evaluate(self, x, y, batch_size: int = 32) -> dict[str, float]:
        """The loss and metrics over the whole data (inference mode)."""
        xs = self._as_inputs(x)
        n = self._count(xs)
        sums: dict[str, float] = {}
        yb = None
        with self.lock:
            self.sync_to_device()
        for start, stop, idx in self._batches(n, batch_size):
            with self.lock:
                b = self.bound("eval", self._shapes(xs, len(idx)))
                if yb is None:
                    yb = self._targets(y, b.feed["y"], n)
                for k, a in xs.items():
                    np.take(a, idx, axis=0, out=b.feed[k])
                np.take(yb, idx, axis=0, out=b.feed["y"])
                b.call()
                for k, v in b.results.items():
                    sums[k] = sums.get(k, 0.0) + float(v[:stop - start].sum(dtype=np.float64))
        return {k: sums[k] / n for k in ["loss"] + self.metric_names}

    def predict(self, x, batch_size: int = 32) -> np.ndarray:
        """The model's output for every sample (inference mode)."""
        xs = self._as_inputs(x)
        n = self._count(xs)
        out = None
        with self.lock:
            self.sync_to_device()
        for start, stop, idx in self._batches(n, batch_size):
            with self.lock:
                b = self.bound("predict", self._shapes(xs, len(idx)))
                for k, a in xs.items():
                    np.take(a, idx, axis=0, out=b.feed[k])
                b.call()
                res = b.results["output"]
                if out is None:
                    out = np.empty((n,) + res.shape[1:], res.dtype)
                out[start:stop] = res[:stop - start]
        return out

    # -------------------------------------------------------------- export
    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The current value of every fed initializer (views of the state: copy to keep)."""
        with self.lock:
            self.sync_to_host()
        return {n: self.state[n] for n in self.fed}

    def export(self, path=None) -> onnx.ModelProto:
        """The model with its trained weights (and running statistics); written to `path` if given."""
        m = with_weights(self.model, self.weights)
        if path is not None:
            onnx.save(m, str(path))
        return m


def train(model, x, y, loss, optimizer="adam", trainable: Sequence[str] | None = None, epochs: int = 1,
          batch_size: int = 32, output: str | None = None, path=None, metrics: Sequence = (), verbose: int = 0,
          target: str = "cpu", **fit_kwargs) -> onnx.ModelProto:
    """Fine-tune an ONNX model on (x, y) and return it with the trained
    weights (also written to `path` if given). See TrainingSession."""
    sess = TrainingSession(model, loss, optimizer, trainable=trainable, metrics=metrics, output=output, target=target)
    sess.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, **fit_kwargs)
    return sess.export(path)
