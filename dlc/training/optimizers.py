"""Optimizers as IR: each appends to the step graph the nodes that turn a
parameter, its gradient and its slots (momentum, moments...) into their new
values; the compiled step writes them in place over the old ones.

Hyperparameter names and defaults are Keras'. The update formulas are
PyTorch's (and the papers'): epsilon is added outside the square root
(Keras adds it inside for RMSprop and Adagrad and rescales it in Adam), and
SGD's momentum buffer accumulates gradients, not steps (the same updates as
Keras' while the learning rate is constant). ``weight_decay`` is decoupled,
as in Keras: ``p -= lr * weight_decay * p`` before the update (AdamW is
Adam with a default weight decay). Gradient clipping as Keras has it:
``clipvalue`` (per element), ``clipnorm`` (per parameter) and
``global_clipnorm`` (all gradients together), applied in that order.

The learning rate is a float, or a schedule: any callable taking the
number of steps done so far (0 for the first step) and returning the rate
(see `ExponentialDecay`, `CosineDecay`). It is evaluated in Python before
each step and fed to the step as a scalar, so changing it never recompiles.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..ir.autodiff import Emitter, Val
from ..ir.errors import ModelError


class Optimizer:
    slots: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, name: str | None = None):
        if clipnorm is not None and global_clipnorm is not None:
            raise ModelError("give at most one of clipnorm and global_clipnorm")
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()

    # ----------------------------------------------------------- schedule
    def lr_at(self, iterations: int) -> float:
        """The learning rate of the step after `iterations` steps."""
        lr = self.learning_rate
        return float(lr(iterations) if callable(lr) else lr)

    # -------------------------------------------------------------- state
    def slot_init(self, slot: str, param: np.ndarray) -> np.ndarray:
        return np.zeros_like(param)

    # -------------------------------------------------------------- graph
    def apply(self, d: Emitter, params: list[Val], grads: list[Val], slots: list[list[Val]], step: Val,
              lr: Val) -> list[tuple[Val, list[Val]]]:
        """New values of each parameter and of its slots. `step` is the int64
        number of this step (1 for the first), `lr` its learning rate."""
        grads = self.clip(d, grads)
        t = d.cast(step, np.float32)
        out = []
        for p, g, s in zip(params, grads, slots):
            lr_p = d.cast(lr, p.dtype)
            if self.weight_decay:
                p = p * (1 - lr_p * self.weight_decay)
            out.append(self.update(d, p, g, s, d.cast(t, p.dtype), lr_p))
        return out

    def clip(self, d: Emitter, grads: list[Val]) -> list[Val]:
        if self.clipvalue is not None:
            grads = [d.min(d.max(g, -self.clipvalue), self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            grads = [g * (self.clipnorm / d.max(_norm(d, [g]), self.clipnorm)) for g in grads]
        if self.global_clipnorm is not None:
            scale = self.global_clipnorm / d.max(_norm(d, grads), self.global_clipnorm)
            grads = [g * d.cast(scale, g.dtype) for g in grads]
        return grads

    def update(self, d: Emitter, p: Val, g: Val, slots: list[Val], t: Val, lr: Val) -> tuple[Val, list[Val]]:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name" and v is not None)
        return f"{type(self).__name__}({args})"


def _norm(d: Emitter, grads: list[Val]) -> Val:
    total = None
    for g in grads:
        s = d.reduce_sum_square(g, axes=tuple(range(g.rank)), keepdims=False)
        total = s if total is None else total + d.cast(s, total.dtype)
    return d.sqrt(total)


class SGD(Optimizer):
    """p -= lr * g; with momentum: b = momentum * b + g, p -= lr * b
    (Nesterov: p -= lr * (g + momentum * b))."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.momentum, self.nesterov = momentum, nesterov
        self.slots = ("momentum",) if momentum else ()

    def update(self, d, p, g, slots, t, lr):
        if not self.momentum:
            return p - lr * g, []
        b = slots[0] * self.momentum + g
        step = g + b * self.momentum if self.nesterov else b
        return p - lr * step, [b]


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)."""
    slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update(self, d, p, g, slots, t, lr):
        m = slots[0] * self.beta_1 + g * (1 - self.beta_1)
        v = slots[1] * self.beta_2 + g * g * (1 - self.beta_2)
        step_size = lr / (1 - d.pow(d.const(self.beta_1, p.dtype), t))
        inv_bc2 = 1 / d.sqrt(1 - d.pow(d.const(self.beta_2, p.dtype), t))
        return p - step_size * m / (d.sqrt(v) * inv_bc2 + self.epsilon), [m, v]


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as Keras)."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, **kw):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, weight_decay=weight_decay,
                         **kw)


class RMSprop(Optimizer):
    """v = rho v + (1-rho) g^2; p -= lr * g / (sqrt(v) + epsilon); `centered`
    subtracts the squared mean gradient from v; `momentum` accumulates the
    steps."""

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self.slots = ("velocity",) + (("average_gradient",) if centered else ()) + (("momentum",) if momentum else ())

    def update(self, d, p, g, slots, t, lr):
        it = iter(slots)
        v = next(it) * self.rho + g * g * (1 - self.rho)
        new = [v]
        if self.centered:
            avg = next(it) * self.rho + g * (1 - self.rho)
            new.append(avg)
            denom = d.sqrt(v - avg * avg) + self.epsilon
        else:
            denom = d.sqrt(v) + self.epsilon
        if self.momentum:
            buf = next(it) * self.momentum + g / denom
            new.append(buf)
            return p - lr * buf, new
        return p - lr * g / denom, new


class Adagrad(Optimizer):
    """acc += g^2; p -= lr * g / (sqrt(acc) + epsilon)."""
    slots = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def slot_init(self, slot, param):
        return np.full_like(param, self.initial_accumulator_value)

    def update(self, d, p, g, slots, t, lr):
        acc = slots[0] + g * g
        return p - lr * g / (d.sqrt(acc) + self.epsilon), [acc]


# ------------------------------------------------------------ schedules
class ExponentialDecay:
    """initial_learning_rate * decay_rate ** (step / decay_steps) (floored with staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False):
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class CosineDecay:
    """Cosine decay from initial_learning_rate to alpha * initial over decay_steps."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0):
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha

    def __call__(self, step: int) -> float:
        frac = min(step, self.decay_steps) / self.decay_steps
        return self.initial_learning_rate * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * frac)) + self.alpha)


_NAMES: dict[str, Callable[[], Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
}


def get(opt) -> Optimizer:
    """An Optimizer from an Optimizer or a Keras name ('adam', 'sgd', ...)."""
    if isinstance(opt, Optimizer):
        return opt
    if isinstance(opt, str) and opt.lower() in _NAMES:
        return _NAMES[opt.lower()]()
    raise ModelError(f"unknown optimizer {opt!r}; known: {', '.join(_NAMES)}")
