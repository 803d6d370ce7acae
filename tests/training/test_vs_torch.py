"""dlc.keras models against PyTorch autograd on the same weights and batch
(reference data from make_torch_references.py): the loss, the gradient of
every trainable weight, one compiled SGD step (forward, backward and
in-place update), BatchNormalization's running statistics, and three steps
of every optimizer."""
import os

import numpy as np
import pytest

from dlc.ir import Graph
from dlc.ir.autodiff import Emitter
from dlc.compiler import Options, build
from dlc.training import optimizers as opt
from tests.training import keras_models

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def load(name):
    return np.load(os.path.join(FIXTURES, f"{name}.npz"))


def close(got, want, what, rtol=2e-4, scale=0.0):
    """Relative agreement; the absolute slack scales with `want` (or a given
    scale: the largest gradient of the model, so that float32 noise on a
    gradient that is zero in exact arithmetic passes)."""
    scale = max(float(np.abs(want).max()), scale, 1e-3)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def _model(name):
    ref = load(f"model_{name}")
    model, x, y = keras_models.build(name, seed=1234)    # other initial weights: the fixture's are loaded
    model.set_weights([ref[f"w{i}"] for i in range(len(model.weights))])
    np.testing.assert_array_equal(x, ref["x"])
    return ref, model, x, y


@pytest.mark.parametrize("name", list(keras_models.MODELS))
def test_loss_gradients_and_one_step_match_pytorch(name):
    """One compiled train step with SGD(learning_rate=1): its loss is
    PyTorch's, each weight moves by minus PyTorch's gradient, running
    statistics move as Keras moves them, and nothing else changes."""
    ref, model, x, y = _model(name)
    top = max(float(np.abs(ref[k]).max()) for k in ref.files if k.startswith("g"))
    model.compile(optimizer=opt.SGD(1.0), loss=model.loss)
    before = model.get_weights()
    close(model.train_on_batch(x, y), ref["loss"], f"{name}: loss")
    for i, (v, w0) in enumerate(zip(model.weights, before)):
        if f"g{i}" in ref:
            assert v.trainable
            close(w0 - v.numpy(), ref[f"g{i}"], f"{name}: gradient of {v.name}", scale=top)
        elif f"stat{i}" in ref:
            close(v.numpy(), ref[f"stat{i}"], f"{name}: running statistic {v.name}")
        else:
            np.testing.assert_array_equal(v.numpy(), w0)


def test_session_gradients_match_pytorch_and_update_nothing():
    ref, model, x, y = _model("batchnorm")
    before = model.get_weights()
    loss, grads = model.session().gradients(x, y)
    close(loss, ref["loss"], "loss")
    top = max(float(np.abs(ref[k]).max()) for k in ref.files if k.startswith("g"))
    for i, v in enumerate(model.weights):
        if f"g{i}" in ref:
            close(grads[v.name], ref[f"g{i}"], f"gradient of {v.name}", scale=top)
    for v, w0 in zip(model.weights, before):
        np.testing.assert_array_equal(v.numpy(), w0)


OPTIMIZERS = {
    "sgd": opt.SGD(0.1),
    "sgd_momentum": opt.SGD(0.1, momentum=0.9),
    "sgd_nesterov": opt.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": opt.Adam(0.01, beta_1=0.8, beta_2=0.99),
    "adamw": opt.AdamW(0.01, weight_decay=0.1),
    "rmsprop": opt.RMSprop(0.01, rho=0.9),
    "rmsprop_centered_momentum": opt.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    "adagrad": opt.Adagrad(0.1, initial_accumulator_value=0.1),
}


def optimizer_step_graph(o: opt.Optimizer, shape, dtype=np.float32):
    """new (param, *slots) from (param, grad, *slots, step, lr), compiled."""
    g = Graph("step")
    p = g.add_input("p", dtype, shape)
    gr = g.add_input("g", dtype, shape)
    slots = [g.add_input(s, dtype, shape) for s in o.slots]
    step = g.add_input("step", np.int64, ())
    lr = g.add_input("lr", np.float32, ())
    d = Emitter(g)
    [(new_p, new_slots)] = o.apply(d, [d.wrap(p)], [d.wrap(gr)], [[d.wrap(s) for s in slots]], d.wrap(step),
                                   d.wrap(lr))
    g.outputs = [new_p.v] + [s.v for s in new_slots]
    _, exe = build(g, Options(check=True))
    return exe


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_pytorch(name):
    ref = load("optimizers")
    o = OPTIMIZERS[name]
    p = ref["p0"].astype(np.float32)
    exe = optimizer_step_graph(o, p.shape)
    slots = [o.slot_init(s, p).astype(np.float32) for s in o.slots]
    for t, (grad, want) in enumerate(zip(ref["grads"], ref[name]), 1):
        p, *slots = exe.run([p, grad.astype(np.float32), *slots, np.array(t, np.int64),
                             np.array(o.lr_at(t - 1), np.float32)])
        close(p, want, f"{name}: step {t}", rtol=1e-5)


def _steps(o, p, grads):
    exe = optimizer_step_graph(o, p.shape)
    slots = [o.slot_init(s, p).astype(np.float32) for s in o.slots]
    for t, g in enumerate(grads, 1):
        p, *slots = exe.run([p, g.astype(np.float32), *slots, np.array(t, np.int64),
                             np.array(o.lr_at(t - 1), np.float32)])
    return p


def test_clipping_weight_decay_and_schedules_follow_keras():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(3, 4)).astype(np.float32)
    g = rng.normal(size=(3, 4)).astype(np.float32) * 5
    norm = np.linalg.norm(g)
    got = _steps(opt.SGD(0.1, clipnorm=1.0), p, [g])
    np.testing.assert_allclose(got, p - 0.1 * g / norm, rtol=1e-5)
    got = _steps(opt.SGD(0.1, clipvalue=0.5), p, [g])
    np.testing.assert_allclose(got, p - 0.1 * np.clip(g, -0.5, 0.5), rtol=1e-5)
    got = _steps(opt.SGD(0.1, global_clipnorm=2.0), p, [g])       # one parameter: its norm is the global one
    np.testing.assert_allclose(got, p - 0.1 * g * 2.0 / norm, rtol=1e-5)
    got = _steps(opt.SGD(0.1, weight_decay=0.2), p, [g])          # decoupled, as Keras
    np.testing.assert_allclose(got, p * (1 - 0.1 * 0.2) - 0.1 * g, rtol=1e-5)
    sched = opt.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    assert [round(sched(s), 6) for s in range(4)] == [0.1, round(0.1 * 0.5 ** 0.5, 6), 0.05,
                                                      round(0.1 * 0.5 ** 1.5, 6)]
    got = _steps(opt.SGD(sched), p, [g, g, g])
    np.testing.assert_allclose(got, p - sum(sched(s) for s in range(3)) * g, rtol=1e-5)
    cos = opt.CosineDecay(1.0, decay_steps=4, alpha=0.1)
    assert cos(0) == 1.0 and abs(cos(4) - 0.1) < 1e-12 and abs(cos(2) - 0.55) < 1e-12


def test_global_clipnorm_spans_every_gradient():
    from dlc import keras
    from dlc.keras import layers
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    x, y = np.ones((4, 3), np.float32), np.full((4, 2), 10.0, np.float32)
    m.compile(optimizer=opt.SGD(1.0), loss="mse")
    _, grads = m.session().gradients(x, y)
    total = np.sqrt(sum(float((gr ** 2).sum()) for gr in grads.values()))
    before = m.get_weights()
    m.compile(optimizer=opt.SGD(1.0, global_clipnorm=1.0), loss="mse")
    m.train_on_batch(x, y)
    for v, w0 in zip(m.weights, before):
        np.testing.assert_allclose(w0 - v.numpy(), grads[v.name] / total, rtol=1e-5, atol=1e-7)
