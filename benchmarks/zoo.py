"""Build the benchmark zoo: eight models defined in PyTorch with fixed seeds
(random weights), exported to ONNX with a symbolic batch dim.

    pip install torch==2.13.0 && python benchmarks/zoo.py [--out benchmarks/zoo] [--models a,b]

For each model it writes ``NAME.onnx`` and ``NAME.torch.json``, which tells
`dlc bench` how to rebuild the same PyTorch model (this module's `build`,
same seed, so the same weights) to time PyTorch eager on it.

| name | what |
|---|---|
| mnist_cnn | PyTorch's MNIST example: conv 32, conv 64, max-pool, FC 9216->128->10 (1x28x28) |
| mlp | 784 -> 512 -> 512 -> 10, ReLU |
| lstm3 | 3-layer LSTM, 64 inputs, 256 hidden, 64 time steps, last state -> FC 10 |
| resnet18 | torchvision's ResNet-18 (3x224x224) |
| resnet50 | torchvision's ResNet-50 (benchmarks/models.py) |
| mobilenet_v2 | torchvision's MobileNetV2 (benchmarks/models.py) |
| bert_base | BERT-base encoder, 12 layers, sequence 128, attention mask (benchmarks/models.py) |
| gpt2_blocks | GPT-2 small's 12 transformer blocks (d 768, 12 heads, pre-norm, causal, tanh GELU), sequence 128 |

Batch norm is exported folded (the exporter's default, as users export
models); layer norm of GPT-2 as LayerNormalization.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.models import BertEncoder, MobileNetV2, ResNet50, randomize  # noqa: E402


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = torch.flatten(nn.functional.max_pool2d(x, 2), 1)
        return torch.log_softmax(self.fc2(torch.relu(self.fc1(x))), 1)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def forward(self, x):
        return self.net(x)


class LSTM3(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(64, 256, num_layers=3, batch_first=True)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = nn.functional.adaptive_avg_pool2d(self.layers(x), 1)
        return self.fc(torch.flatten(x, 1))


class GPT2Block(nn.Module):
    def __init__(self, d=768, heads=12, seq=128):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.triu(torch.full((seq, seq), -1e4), 1))

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, -1)
        q, k, v = (t.view(b, s, self.heads, self.dh).transpose(1, 2) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + self.mask[:s, :s], -1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, s, d))
        return x + self.out(nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT2Blocks(nn.Module):
    def __init__(self, layers=12):
        super().__init__()
        self.blocks = nn.Sequential(*[GPT2Block() for _ in range(layers)])
        self.ln = nn.LayerNorm(768)

    def forward(self, x):
        return self.ln(self.blocks(x))


# name -> (constructor, input names, example input shapes at batch 1)
ZOO = {
    "mnist_cnn": (MnistCNN, ["x"], [(1, 1, 28, 28)]),
    "mlp": (MLP, ["x"], [(1, 784)]),
    "lstm3": (LSTM3, ["x"], [(1, 64, 64)]),
    "resnet18": (ResNet18, ["x"], [(1, 3, 224, 224)]),
    "resnet50": (ResNet50, ["x"], [(1, 3, 224, 224)]),
    "mobilenet_v2": (MobileNetV2, ["x"], [(1, 3, 224, 224)]),
    "bert_base": (BertEncoder, ["x", "attention_mask"], [(1, 128, 768), (1, 128)]),
    "gpt2_blocks": (GPT2Blocks, ["x"], [(1, 128, 768)]),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """The zoo model `name` with its seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    make = ZOO[name][0]
    return randomize(make(), seed).eval()


def example_inputs(name: str, batch: int = 1, seed: int = 0) -> list:
    """Seeded example inputs (numpy float32) at `batch`."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for iname, shape in zip(ZOO[name][1], ZOO[name][2]):
        shape = (batch,) + tuple(shape[1:])
        if iname == "attention_mask":   # the last 16 positions are padding
            a = np.ones(shape, np.float32)
            a[:, -16:] = 0
        else:
            a = rng.standard_normal(shape).astype(np.float32)
        out.append(a)
    return out


def export(name: str, out_dir: str, seed: int = 0) -> str:
    model = build(name, seed)
    names = ZOO[name][1]
    example = tuple(torch.from_numpy(a) for a in example_inputs(name, 1, seed))
    path = os.path.join(out_dir, f"{name}.onnx")
    axes = {n: {0: "batch"} for n in names + ["y"]}
    torch.onnx.export(model, example, path, input_names=names, output_names=["y"], dynamic_axes=axes,
                      opset_version=17, dynamo=False, do_constant_folding=True)
    with open(os.path.join(out_dir, f"{name}.torch.json"), "w") as f:
        json.dump({"builder": "benchmarks.zoo:build", "name": name, "seed": seed,
                   "root": os.path.dirname(HERE)}, f, indent=1)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "zoo"))
    ap.add_argument("--models", default=",".join(ZOO))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.models.split(","):
        print(export(name, args.out, args.seed), flush=True)


if __name__ == "__main__":
    main()
