"""Export the PyTorch test models to ONNX (random weights, fixed seeds).

The .onnx files are committed, so the tests need neither torch nor this
script; rerun it to regenerate them:

    pip install torch==2.13.0 onnxscript && python tests/models/export_torch.py

Each architecture is exported twice: by the TorchScript exporter
(dynamo=False, opset 17, a symbolic batch dim: it writes the
Shape->Gather->Concat->Reshape chains) and by the torch.export-based exporter
(the default since PyTorch 2.9, opset 18).
"""
import os
import warnings

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 4 * 4, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
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


class ResNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 32, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.block(x) if self.use_res else self.block(x)


class MobileNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            InvertedResidual(16, 16, 1, 1), InvertedResidual(16, 24, 2, 4), InvertedResidual(24, 24, 1, 4),
            nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64), nn.Hardswish())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(32, 64)
        self.layers = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, activation="gelu", batch_first=True), 2,
            enable_nested_tensor=False)
        self.norm = nn.LayerNorm(64)

    def forward(self, x):
        return self.norm(self.layers(self.embed(x)))


def randomize_bn(model):
    """Give BatchNorm layers non-trivial running statistics."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


MODELS = {
    "lenet": (LeNet, (2, 1, 28, 28)),
    "mlp": (mlp, (2, 1, 28, 28)),
    "resnet_small": (ResNetSmall, (2, 3, 32, 32)),
    "mobilenet_small": (MobileNetSmall, (2, 3, 32, 32)),
    "encoder": (Encoder, (2, 16, 32)),
}


class LoopCell(nn.Module):
    """A recurrent cell run `steps` times (a run-time input), halving the
    state when it grows: TorchScript's exporter writes an ONNX Loop whose
    body holds an If."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x, steps: torch.Tensor):
        h = torch.zeros_like(x)
        for _ in range(int(steps)):
            h = torch.tanh(self.lin(x) + h)
            if bool(h.sum() > 2.0):
                h = h * 0.5
        return h


def export_loop_cell():
    torch.manual_seed(0)
    model = torch.jit.script(LoopCell().eval())
    path = os.path.join(HERE, "control", "loop_cell_torchscript.onnx")
    torch.onnx.export(model, (torch.randn(2, 8), torch.tensor(3)), path,
                      input_names=["x", "steps"], output_names=["h"], opset_version=17, dynamo=False)
    print("exported loop_cell")


def main():
    warnings.filterwarnings("ignore")
    for name, (make, shape) in MODELS.items():
        torch.manual_seed(0)
        model = randomize_bn(make()).eval()
        x = torch.randn(*shape)
        torch.onnx.export(model, (x,), os.path.join(HERE, f"{name}_torchscript.onnx"), input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          opset_version=17, dynamo=False)
        torch.onnx.export(model, (x,), os.path.join(HERE, f"{name}_dynamo.onnx"), input_names=["x"],
                          output_names=["y"], opset_version=18, dynamo=True, external_data=False)
        print("exported", name)
    export_loop_cell()   # TorchScript only: torch.export does not take data-dependent loops


if __name__ == "__main__":
    main()
