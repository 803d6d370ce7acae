"""Models: the functional `Model(inputs, outputs)` and `Sequential`, with
Keras' compile / fit / evaluate / predict / summary, weight saving, and
ONNX export.

A model is compiled by dlc, not interpreted: its layers emit one ONNX
graph (`to_onnx`), and a `dlc.TrainingSession` compiles that graph into a
native train step (forward, backward and optimizer update in one call),
an eval step and a predict step per batch shape, all reading and updating
the layers' weight arrays in place. The trainable weights are fixed when
you call `compile` (as in Keras: change `layer.trainable`, then compile
again).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import onnx

from ..ir.errors import InputError, ModelError
from ..training import losses as losses_mod
from ..training import optimizers as optimizers_mod
from ..training.session import History, TrainingSession
from . import initializers
from .backend import Builder, Sym
from .layers import InputLayer, KerasTensor, Layer, Variable, _dims, unique_name


def _flatten(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Model(Layer):
    """A functional model: ``Model(inputs=Input(...), outputs=tensor)``.
    Models are layers too: call one on a tensor to nest it."""

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs):
        super().__init__(name=name or unique_name("functional" if inputs is not None else "model"), **kwargs)
        self.inputs: list[KerasTensor] = []
        self.outputs: list[KerasTensor] = []
        self._session: TrainingSession | None = None
        self._compile_args: dict | None = None
        if inputs is not None:
            self._set_graph(_flatten(inputs), _flatten(outputs))

    @property
    def trainable(self) -> bool:
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """As in Keras, setting a model's trainable flag sets every layer's."""
        self._trainable = bool(value)
        if self.__dict__.get("outputs") or self.__dict__.get("_layers"):
            for layer in self.layers:
                layer.trainable = bool(value)

    # ---------------------------------------------------------- structure
    def _set_graph(self, inputs: list[KerasTensor], outputs: list[KerasTensor]) -> None:
        if len(outputs) != 1:
            raise ModelError("dlc.keras models have exactly one output")
        self.inputs, self.outputs = inputs, outputs
        self.built = True
        self.output_shape = outputs[0].shape
        self._session = None
        self._order()   # validates the graph

    def _order(self) -> list[KerasTensor]:
        """Tensors in topological order from the inputs to the output."""
        seen, order = set(), []

        def visit(t: KerasTensor):
            if id(t) in seen:
                return
            seen.add(id(t))
            if t.layer is None or isinstance(t.layer, InputLayer):
                if not any(t is i for i in self.inputs):
                    raise ModelError(f"{self.name}: the output depends on an input ({t.name}) not among the "
                                     f"model's inputs")
                return
            for i in t.inputs:
                visit(i)
            order.append(t)
        for o in self.outputs:
            visit(o)
        return order

    @property
    def layers(self) -> list[Layer]:
        out = []
        for t in self._order():
            if t.layer not in out:
                out.append(t.layer)
        return out

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ModelError(f"no layer named {name!r}")

    @property
    def weights(self) -> list[Variable]:
        out, seen = [], set()
        for layer in self.layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if not v.trainable]

    def count_params(self) -> int:
        return int(sum(v.value.size for v in self.weights))

    def compute_output_shape(self, input_shape):
        return self.outputs[0].shape

    def build(self, input_shape) -> None:
        self.built = True

    def emit(self, b: Builder, ins: list[Sym]) -> Sym:
        if len(ins) != len(self.inputs):
            raise ModelError(f"{self.name} takes {len(self.inputs)} inputs, got {len(ins)}")
        env = {id(t): s for t, s in zip(self.inputs, ins)}
        for t in self._order():
            env[id(t)] = t.layer.emit(b, [env[id(i)] for i in t.inputs])
        return env[id(self.outputs[0])]

    def _ensure_built(self, x=None) -> None:
        if not self.built or not self.outputs:
            raise ModelError(f"{self.name} is not built yet")

    def __call__(self, inputs, *args, training=None, **kwargs):
        xs = _flatten(inputs)
        if all(isinstance(x, KerasTensor) for x in xs):
            self._ensure_built()
            for x, i in zip(xs, self.inputs):
                if tuple(x.shape[1:]) != tuple(i.shape[1:]):
                    raise ModelError(f"{self.name} expects inputs of shape {i.shape}, got {x.shape}")
            out = KerasTensor(self.outputs[0].shape, self.outputs[0].dtype, self, xs)
            return out
        return self.predict(inputs, verbose=0)

    # ------------------------------------------------------------- export
    def to_onnx(self) -> onnx.ModelProto:
        """The model as an ONNX graph (opset 17) with its current weights:
        channels-last inputs and outputs, a symbolic batch dim."""
        self._ensure_built()
        b = Builder(self.name)
        syms = []
        for t in self.inputs:
            b.add_input(t.name, t.dtype, t.shape)
            syms.append(Sym(t.name, t.shape, t.dtype))
        out = b.keras_layout(self.emit(b, syms), "output")
        last = self.outputs[0].layer.name if self.outputs[0].layer is not None else "output"
        name = b.node("Identity", [out.name], last)
        b.add_output(Sym(name, out.shape, out.dtype))
        return b.model()

    def export(self, filepath, format: str = "onnx") -> None:
        """Write the model to `filepath` as ONNX (it runs in onnxruntime and
        compiles with ``dlc compile``)."""
        if format != "onnx":
            raise ModelError(f"export format {format!r} is not supported (only 'onnx')")
        onnx.save(self.to_onnx(), os.fspath(filepath))

    def save(self, filepath) -> None:
        """``.onnx``: export the model; anything else: save the weights (npz)."""
        if os.fspath(filepath).endswith(".onnx"):
            self.export(filepath)
        else:
            self.save_weights(filepath)

    def save_weights(self, filepath) -> None:
        """All weights, in order, in a numpy .npz archive."""
        path = os.fspath(filepath)
        with open(path, "wb") as f:   # (np.savez would append .npz to other names)
            np.savez(f, **{f"w{i:04d}": v.value for i, v in enumerate(self.weights)},
                     __names__=np.array([v.name for v in self.weights]))

    def load_weights(self, filepath) -> None:
        """Load weights saved by `save_weights` into a model of the same architecture."""
        with np.load(os.fspath(filepath)) as data:
            arrays = [data[f"w{i:04d}"] for i in range(len(data.files) - 1)]
        mine = self.weights
        if len(arrays) != len(mine):
            raise ModelError(f"{filepath}: holds {len(arrays)} weight arrays, {self.name} has {len(mine)}")
        for v, a in zip(mine, arrays):
            v.assign(a)

    # ------------------------------------------------------------ summary
    def summary(self, print_fn=print) -> None:
        self._ensure_built()
        rows = []
        for t in self._order():
            layer = t.layer
            rows.append((f"{layer.name} ({type(layer).__name__})", _dims(t.shape), f"{layer.count_params():,}"))
        widths = [max(33, max(len(r[0]) for r in rows) + 2), max(25, max(len(r[1]) for r in rows) + 2), 12]
        line = "=" * sum(widths)

        def fmt(cols):
            return "".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))
        total = self.count_params()
        trainable = int(sum(v.value.size for v in self.trainable_weights))
        out = [f'Model: "{self.name}"', "_" * sum(widths), fmt(("Layer (type)", "Output Shape", "Param #")), line]
        for i, r in enumerate(rows):
            out.append(fmt(r))
            out.append(line if i == len(rows) - 1 else "_" * sum(widths))
        out += [f"Total params: {total:,} ({_bytes(total * 4)})",
                f"Trainable params: {trainable:,} ({_bytes(trainable * 4)})",
                f"Non-trainable params: {total - trainable:,} ({_bytes((total - trainable) * 4)})"]
        for s in out:
            print_fn(s)

    # ------------------------------------------------------------ training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly=None,
                jit_compile=None, target: str = "cpu", **kwargs) -> None:
        """Configure training: an optimizer (name or instance), a loss (name
        or instance) and metrics (names such as 'accuracy', 'mae').
        ``target`` (dlc's): where the compiled steps run, "cpu" or "cuda"."""
        if loss_weights is not None:
            raise ModelError("loss_weights is not supported (one output, one loss)")
        if kwargs:
            raise TypeError(f"compile: unknown arguments {', '.join(sorted(kwargs))}")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss) if loss is not None else None
        self._compile_args = {"metrics": list(metrics or []), "target": target}
        self._session = None
        if self.built and self.outputs:
            self._trainable_at_compile = [v.name for v in self.trainable_weights]
        else:
            self._trainable_at_compile = None

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m if isinstance(m, str) else m.name for m in (self._compile_args or {}).get("metrics", [])]

    def _build_for(self, x) -> None:
        """Models whose input shape was not given are built from the first data."""
        self._ensure_built()

    def session(self) -> TrainingSession:
        """The TrainingSession that runs this model (made on first use)."""
        if self._session is None:
            self._ensure_built()
            compiled = self._compile_args is not None
            trainable = (self._trainable_at_compile if compiled and self._trainable_at_compile is not None
                         else [v.name for v in self.trainable_weights]) if compiled else []
            self._session = TrainingSession(
                self.to_onnx(), self.loss if compiled else None,
                self.optimizer if compiled else optimizers_mod.SGD(),
                trainable=trainable, metrics=self._compile_args["metrics"] if compiled else (),
                weights={v.name: v.value for v in self.weights},
                seed=int(initializers._rng.integers(1 << 31)),
                target=self._compile_args.get("target", "cpu") if compiled else "cpu")
        return self._session

    def _need_compiled(self, what: str) -> None:
        if self._compile_args is None or self.loss is None:
            raise ModelError(f"call compile(optimizer=..., loss=...) before {what}()")

    def fit(self, x=None, y=None, batch_size=None, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, steps_per_epoch=None, **kwargs) -> History:
        if class_weight is not None or steps_per_epoch is not None or kwargs:
            raise ModelError("fit: class_weight, steps_per_epoch and generators are not supported")
        if y is None:
            raise InputError("fit needs targets y")
        self._build_for(x)
        self._need_compiled("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        if validation_data is not None:
            validation_data = (validation_data[0], validation_data[1])
        history = self.session().fit(x, y, batch_size=batch_size or 32, epochs=epochs, verbose=verbose,
                                     validation_data=validation_data, validation_split=validation_split,
                                     shuffle=shuffle, callbacks=callbacks or (), initial_epoch=initial_epoch,
                                     sample_weight=sample_weight)
        history.model = self
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict: bool = False, **kwargs):
        """The loss (and metrics) over the data: a float, a list [loss, *metrics], or a dict."""
        self._build_for(x)
        self._need_compiled("evaluate")
        logs = self.session().evaluate(x, y, batch_size=batch_size or 32)
        if verbose not in (0, "auto") and verbose:
            from ..training.progress import format_logs
            print(format_logs(logs))
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", **kwargs) -> np.ndarray:
        self._build_for(x)
        return self.session().predict(x, batch_size=batch_size or 32)

    def train_on_batch(self, x, y, return_dict: bool = False):
        """One compiled train step on this batch; returns its loss (and metrics)."""
        self._build_for(x)
        self._need_compiled("train_on_batch")
        logs = self.session().train_on_batch(x, y)
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y, return_dict: bool = False):
        return self.evaluate(x, y, batch_size=len(np.asarray(x if not isinstance(x, dict) else
                                                                next(iter(x.values())))),
                             verbose=0, return_dict=return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        return self.predict(x, batch_size=len(np.asarray(x if not isinstance(x, dict) else next(iter(x.values())))))


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


class Sequential(Model):
    """A linear stack of layers. Give the input shape with an `Input` first,
    or ``input_shape=`` on the first layer; otherwise the model is built
    from the first data it sees."""

    def __init__(self, layers: Sequence | None = None, name: str | None = None, **kwargs):
        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self._layers: list[Layer] = []
        self._input: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        if isinstance(layer, KerasTensor):
            if self._layers or self._input is not None:
                raise ModelError("an Input can only come first in a Sequential model")
            self._input = layer
            return
        if isinstance(layer, InputLayer):
            self.add(layer.output)
            return
        if not isinstance(layer, Layer):
            raise ModelError(f"Sequential.add expects a layer, got {type(layer).__name__}")
        self._layers.append(layer)
        self._rebuild()

    def pop(self) -> Layer:
        layer = self._layers.pop()
        self._rebuild()
        return layer

    def _input_spec(self):
        if self._input is not None:
            return self._input
        first = self._layers[0] if self._layers else None
        spec = getattr(first, "input_spec_shape", None)
        if spec is None and isinstance(first, Model) and first.inputs:
            spec = first.inputs[0].shape[1:]
        if spec is None:
            return None
        self._input = InputLayer(shape=spec, dtype=getattr(first, "input_dtype", "float32")).output
        return self._input

    def _rebuild(self) -> None:
        x = self._input_spec()
        self.built = False
        self.outputs = []
        self._session = None
        if x is None or not self._layers:
            return
        inp = x
        for layer in self._layers:
            x = layer(x)
        self._set_graph([inp], [x])

    def _build_for(self, x) -> None:
        if self.built and self.outputs:
            return
        if x is None:
            raise ModelError(f"{self.name} has no input shape yet: give input_shape= to its first layer, "
                             f"start it with an Input, or fit/predict it on data first")
        arr = np.asarray(x)
        dtype = "int64" if arr.dtype.kind in "iu" else "float32"
        self._input = InputLayer(shape=arr.shape[1:], dtype=dtype).output
        self._rebuild()
        if self._compile_args is not None:
            self._trainable_at_compile = [v.name for v in self.trainable_weights]

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _ensure_built(self, x=None) -> None:
        if not (self.built and self.outputs):
            raise ModelError(f"{self.name} is not built yet: give input_shape= to its first layer, start it "
                             f"with an Input, or fit/predict it on data first")
