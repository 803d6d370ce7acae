"""Train the bundled example model and export it to ONNX.

A small CNN (Conv-BN-ReLU-MaxPool x2, Dense) trained for a few seconds on
scikit-learn's 8x8 digits, exported with torch.onnx.export. Writes
examples/models/digits_cnn.onnx and examples/models/digits_test.npz (held-out
images and labels). Needs torch and scikit-learn (not dlc's dependencies);
the outputs are committed, so users never need to run this.

    pip install torch==2.13.0 scikit-learn && python examples/make_digits_model.py
"""
import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return torch.softmax(self.classifier(self.features(x)), dim=1)


def main():
    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for epoch in range(30):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            logits = model.classifier(model.features(xt[idx]))
            loss = nn.functional.cross_entropy(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    print(f"test accuracy {acc:.3f}")
    out = os.path.join(HERE, "models")
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), os.path.join(out, "digits_cnn.onnx"),
                      input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
                      opset_version=17, dynamo=False)
    np.savez(os.path.join(out, "digits_test.npz"), images=x_test, labels=y_test)
    np.save(os.path.join(out, "digits_sample.npy"), x_test[:1])


if __name__ == "__main__":
    main()
