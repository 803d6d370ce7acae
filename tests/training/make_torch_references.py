"""Regenerate the PyTorch reference data the training tests compare with
(tests must not need torch, so its results are committed as .npz files):

    python tests/training/make_torch_references.py

- fixtures/model_<name>.npz: for each model of keras_models.py, its weights
  (Keras layouts), a batch, and PyTorch's loss and gradient of every
  trainable weight, computed in float64 by autograd on the same function
  written with torch.nn.functional (NCHW convolutions, weights transposed
  from Keras' layouts), with Keras' loss formulas.
- fixtures/optimizers.npz: three steps of each torch.optim optimizer from
  the same parameter and gradients.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.training import keras_models  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(HERE, "fixtures")


# ------------------------------------------------ Keras semantics in torch
def same_pads(size, k, s, d=1):
    span = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return total // 2, total - total // 2


def conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """x NHWC, kernel (kh, kw, cin, cout) as Keras."""
    x = x.permute(0, 3, 1, 2)
    if padding == "same":
        (ht, hb), (wl, wr) = (same_pads(x.shape[2 + j], kernel.shape[j], strides[j]) for j in range(2))
        x = F.pad(x, (wl, wr, ht, hb))
    y = F.conv2d(x, kernel.permute(3, 2, 0, 1), bias, stride=strides)
    return y.permute(0, 2, 3, 1)


def conv2d_transpose(x, kernel, bias, strides, padding):
    """Keras' Conv2DTranspose: kernel (kh, kw, filters, cin); output size and
    crop as keras' deconv_output_length / TF's conv2d_transpose."""
    n, h, w, _ = x.shape
    full = F.conv_transpose2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), None, stride=strides)
    sizes, begins = [], []
    for size, k, s in ((h, kernel.shape[0], strides[0]), (w, kernel.shape[1], strides[1])):
        if padding == "valid":
            sizes.append(size * s + max(k - s, 0))
            begins.append(0)
        else:
            sizes.append(size * s)
            begins.append(max(k - s, 0) // 2)
    out = torch.zeros(n, full.shape[1], max(sizes[0] + begins[0], full.shape[2]),
                      max(sizes[1] + begins[1], full.shape[3]))
    out[:, :, :full.shape[2], :full.shape[3]] = full
    out = out[:, :, begins[0]:begins[0] + sizes[0], begins[1]:begins[1] + sizes[1]]
    return (out + bias.reshape(1, -1, 1, 1)).permute(0, 2, 3, 1)


def pool(x, k, kind):
    x = x.permute(0, 3, 1, 2)
    y = F.max_pool2d(x, k) if kind == "max" else F.avg_pool2d(x, k)
    return y.permute(0, 2, 3, 1)


def batchnorm_train(x, gamma, beta, eps=1e-3):
    axes = tuple(range(x.dim() - 1))
    mean = x.mean(axes)
    var = x.var(axes, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta, mean, var


def simple_rnn(x, k, r, b, seq=False):
    h, hs = None, []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + b + (h @ r if h is not None else 0)
        h = torch.tanh(z)
        hs.append(h)
    return torch.stack(hs, 1) if seq else h


def lstm(x, k, r, b, seq=False):
    u = r.shape[0]
    h = c = None
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + b + (h @ r if h is not None else 0)
        i, f, g, o = (z[:, j * u:(j + 1) * u] for j in range(4))
        c_new = torch.sigmoid(i) * torch.tanh(g)
        c = c_new if c is None else torch.sigmoid(f) * c + c_new
        h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs, 1) if seq else h


def gru(x, k, r, b, seq=False):
    """reset_after=True; b is (2, 3u): input and recurrent biases."""
    u = r.shape[0]
    h = None
    hs = []
    for t in range(x.shape[1]):
        xz = x[:, t] @ k + b[0]
        rz = (h @ r if h is not None else 0) + b[1]
        z = torch.sigmoid(xz[:, :u] + rz[..., :u])
        rr = torch.sigmoid(xz[:, u:2 * u] + rz[..., u:2 * u])
        hh = torch.tanh(xz[:, 2 * u:] + rr * rz[..., 2 * u:])
        h = (1 - z) * hh if h is None else z * h + (1 - z) * hh
        hs.append(h)
    return torch.stack(hs, 1) if seq else h


LOSSES = {
    "sparse_categorical_crossentropy": lambda z, y: -F.log_softmax(z, -1).gather(1, y.long()[:, None]).mean(),
    "categorical_crossentropy": lambda z, y: -(y * F.log_softmax(z, -1)).sum(-1).mean(),
    "binary_crossentropy": lambda z, y: F.binary_cross_entropy_with_logits(z, y),
    "mean_squared_error": lambda p, y: ((p - y) ** 2).mean(),
    "mean_absolute_error": lambda p, y: (p - y).abs().mean(),
    "hinge": lambda p, y: torch.clamp(1 - (2 * y - 1) * p, min=0).mean(),
}


def forward(name, w, x):
    """The model's output before its last activation when the loss reads
    logits (softmax / sigmoid outputs), else its output."""
    if name == "mlp":
        h = torch.relu(x @ w[0] + w[1])
        h = torch.tanh(h @ w[2] + w[3])
        return h @ w[4] + w[5], {}
    if name == "mlp_hinge":
        return torch.sigmoid(x @ w[0] + w[1]) @ w[2] + w[3], {}
    if name == "cnn":
        h = torch.relu(conv2d(x, w[0], w[1], padding="same"))
        h = pool(h, 2, "max")
        h = F.elu(conv2d(h, w[2], w[3], strides=(1, 2), padding="same"))
        h = pool(h, (2, 1), "avg")
        return h.reshape(h.shape[0], -1) @ w[4] + w[5], {}
    if name == "batchnorm":
        h = conv2d(x, w[0], w[1])
        h, m1, v1 = batchnorm_train(h, w[2], w[3])
        h = torch.relu(h).mean((1, 2))
        h = h @ w[6] + w[7]
        h, m2, v2 = batchnorm_train(h, w[8], w[9])
        stats = {4: 0.99 * w[4] + 0.01 * m1, 5: 0.99 * w[5] + 0.01 * v1,
                 10: 0.9 * w[10] + 0.1 * m2, 11: 0.9 * w[11] + 0.1 * v2}
        return h @ w[12] + w[13], stats
    if name == "rnn":
        h = simple_rnn(x, w[0], w[1], w[2], seq=True)
        h = lstm(h, w[3], w[4], w[5])
        return h @ w[6] + w[7], {}
    if name == "gru":
        h = gru(x, w[0], w[1], w[2], seq=True)
        h = gru(h, w[3], w[4], w[5])
        return h @ w[6] + w[7], {}
    if name == "embedding":
        h = w[0][x.long()]
        h = lstm(h, w[1], w[2], w[3])
        return h @ w[4] + w[5], {}
    if name == "generator":
        h = conv2d_transpose(x, w[0], w[1], (2, 2), "same")
        h = F.leaky_relu(h, 0.2)
        h = torch.tanh(conv2d_transpose(h, w[2], w[3], (1, 1), "valid"))
        return h.reshape(h.shape[0], -1), {}
    if name == "logits":
        return F.gelu(x @ w[0] + w[1]) @ w[2] + w[3], {}
    raise KeyError(name)


def loss_name(loss) -> str:
    return loss if isinstance(loss, str) else loss.name


def model_reference(name):
    model, x, y = keras_models.build(name)
    weights = [v.numpy() for v in model.weights]
    trainable = [i for i, v in enumerate(model.weights) if v.trainable]
    w = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in weights]
    xt = torch.tensor(x) if x.dtype.kind in "iu" else torch.tensor(x.astype(np.float64))
    out, stats = forward(name, w, xt)
    lname = loss_name(model.loss)
    loss = LOSSES[lname](out, torch.tensor(np.asarray(y, np.float64)))
    loss.backward()
    data = {"x": x, "y": y, "loss": loss.item()}
    for i, a in enumerate(weights):
        data[f"w{i}"] = a
    for i in trainable:
        data[f"g{i}"] = w[i].grad.numpy()
    for i, s in stats.items():
        data[f"stat{i}"] = s.detach().numpy()
    np.savez(os.path.join(OUT, f"model_{name}.npz"), **data)
    print(f"{name}: loss {loss.item():.6f}, {len(trainable)} gradients")


# ------------------------------------------------------------ optimizers
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-7),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
    "rmsprop_centered_momentum": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=1e-7, momentum=0.5,
                                                               centered=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-7),
}


def optimizer_references():
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 4))
    grads = rng.normal(size=(3, 3, 4))
    data = {"p0": p0, "grads": grads}
    for name, make in OPTIMIZERS.items():
        p = torch.tensor(p0, requires_grad=True)
        opt = make([p])
        steps = []
        for g in grads:
            opt.zero_grad()
            p.grad = torch.tensor(g)
            opt.step()
            steps.append(p.detach().numpy().copy())
        data[name] = np.stack(steps)
    np.savez(os.path.join(OUT, "optimizers.npz"), **data)
    print(f"optimizers: {', '.join(OPTIMIZERS)}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name in keras_models.MODELS:
        model_reference(name)
    optimizer_references()
