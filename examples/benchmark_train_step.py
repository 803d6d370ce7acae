"""Benchmark (not a test): one training step of the classic Keras MNIST
convnet (28x28x1 -> Conv2D(32) -> MaxPool -> Conv2D(64) -> MaxPool ->
Flatten -> Dropout -> Dense(10, softmax); Adam; categorical cross-entropy)
compiled by dlc, against the same model in PyTorch eager mode and under
torch.compile, in one process, on the same random batch.

    python examples/benchmark_train_step.py [--batches 32,128] [--rounds 15] [--threads N] [--pause S]

Each round times one step of each contender in turn (so that load on the
machine hits them alike), each step followed by an untimed pause (0.05 s):
a thread pool spins a while after its work before it sleeps (libgomp's,
under torch, up to milliseconds), and without the pause those spinning
threads would take cores from the next contender's step. The table
reports medians. dlc's step is
`model.train_on_batch` (copying the batch in, one native call for forward,
backward and the Adam update in place); PyTorch's is zero_grad, forward,
loss, backward and optimizer.step.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def dlc_model():
    from dlc import keras
    from dlc.keras import layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_model(weights):
    """The same network in PyTorch (NCHW), initialized with dlc's weights."""
    import torch
    from torch import nn
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    k1, b1, k2, b2, kd, bd = weights
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(k1.transpose(3, 2, 0, 1)))
        net[0].bias.copy_(torch.tensor(b1))
        net[3].weight.copy_(torch.tensor(k2.transpose(3, 2, 0, 1)))
        net[3].bias.copy_(torch.tensor(b2))
        net[8].weight.copy_(torch.tensor(kd.T))
        net[8].bias.copy_(torch.tensor(bd))
    return net


def torch_step(net, x, y):
    import torch
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for torch and dlc (default: each one's default, all cores for dlc)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--pause", type=float, default=0.05, help="seconds of idle time after each timed step")
    args = ap.parse_args()
    import torch

    from dlc.codegen.llvm.pool import default_threads
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["DLC_NUM_THREADS"] = str(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); dlc {default_threads()} thread(s)")
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        rng = np.random.default_rng(0)
        x = rng.random((batch, 28, 28, 1), dtype=np.float32)
        labels = rng.integers(0, 10, batch)
        y = np.eye(10, dtype=np.float32)[labels]

        model = dlc_model()
        t0 = time.perf_counter()
        model.train_on_batch(x, y)                       # compiles the step
        compile_s = time.perf_counter() - t0
        contenders = {"dlc": lambda: model.train_on_batch(x, y)}
        xt, yt = torch.tensor(x.transpose(0, 3, 1, 2).copy()), torch.tensor(labels)
        contenders["torch eager"] = torch_step(torch_model(model.get_weights()), xt, yt)
        if not args.no_compile:
            compiled = torch.compile(torch_model(model.get_weights()))
            contenders["torch.compile"] = torch_step(compiled, xt, yt)
        for fn in contenders.values():                   # warm up (torch.compile compiles here)
            for _ in range(3):
                fn()
        times = {k: [] for k in contenders}
        for _ in range(args.rounds):
            for k, fn in contenders.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
                time.sleep(args.pause)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        rows.append((batch, med, compile_s))
    print("\n| batch | dlc (ms) | torch eager (ms) | dlc / eager | torch.compile (ms) | dlc / compile "
          "| dlc compile (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for batch, med, compile_s in rows:
        tc = med.get("torch.compile")
        print(f"| {batch} | {med['dlc']:.1f} | {med['torch eager']:.1f} | {med['dlc'] / med['torch eager']:.2f} | "
              + (f"{tc:.1f} | {med['dlc'] / tc:.2f}" if tc else "- | -") + f" | {compile_s:.1f} |")


if __name__ == "__main__":
    main()
