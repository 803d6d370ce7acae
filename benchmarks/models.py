"""The three benchmark networks, defined here in PyTorch (torchvision and
transformers are not dependencies): ResNet-50 and MobileNetV2 as torchvision
defines them, and a BERT-base encoder (12 layers, d=768, 12 heads, FFN 3072)
written like Hugging Face's BertLayer. Only benchmarks/ scripts import this
(they need torch); the tests use the exported graph structures in
tests/models/structure/.
"""
import math

import torch
from torch import nn


# ------------------------------------------------------------- ResNet-50
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(blocks):
                layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
        self.layers = nn.Sequential(*layers)
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(self.layers(x)), 1))


# ----------------------------------------------------------- MobileNetV2
def conv_bn(cin, cout, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + ([nn.ReLU6(inplace=True)] if act else [])


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = conv_bn(cin, hidden, 1, 1) if expand != 1 else []
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden) + conv_bn(hidden, cout, 1, 1, act=False)
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        layers, cin = conv_bn(3, 32, 3, 2), 32
        for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                           (6, 160, 3, 2), (6, 320, 1, 1)):
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += conv_bn(cin, 1280, 1, 1)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------ BERT-base
class BertLayerNorm(nn.Module):
    """TF-style layer norm as the original BERT code writes it (it exports as
    ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div at any opset)."""

    def __init__(self, d, eps=1e-12):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d)), eps

    def forward(self, x):
        u = x.mean(-1, keepdim=True)
        s = (x - u).pow(2).mean(-1, keepdim=True)
        return self.weight * ((x - u) / torch.sqrt(s + self.eps)) + self.bias


class BertLayer(nn.Module):
    def __init__(self, d=768, heads=12, ffn=3072):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_out, self.attn_norm = nn.Linear(d, d), BertLayerNorm(d)
        self.intermediate, self.output, self.out_norm = nn.Linear(d, ffn), nn.Linear(ffn, d), BertLayerNorm(d)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.dh).permute(0, 2, 1, 3)

    def forward(self, h, mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask
        ctx = torch.softmax(scores, -1) @ v
        b, _, s, _ = ctx.shape
        ctx = ctx.permute(0, 2, 1, 3).contiguous().view(b, s, self.heads * self.dh)
        h = self.attn_norm(self.attn_out(ctx) + h)
        f = self.intermediate(h)
        f = f * 0.5 * (1.0 + torch.erf(f / math.sqrt(2.0)))     # GELU, as BERT writes it
        return self.out_norm(self.output(f) + h)


class BertEncoder(nn.Module):
    def __init__(self, layers=12, d=768, heads=12, ffn=3072):
        super().__init__()
        self.layers = nn.ModuleList(BertLayer(d, heads, ffn) for _ in range(layers))

    def forward(self, x, attention_mask):
        mask = (1.0 - attention_mask[:, None, None, :]) * -10000.0    # [B, 1, 1, S], added to the scores
        for layer in self.layers:
            x = layer(x, mask)
        return x


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics and layer-norm parameters (the
    defaults are identities, which would hide folding mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            if isinstance(m, BertLayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


# name -> (constructor, example inputs)
MODELS = {
    "resnet50": (ResNet50, lambda: (torch.randn(1, 3, 224, 224),)),
    "mobilenet_v2": (MobileNetV2, lambda: (torch.randn(1, 3, 224, 224),)),
    "bert_base": (BertEncoder, lambda: (torch.randn(1, 128, 768), torch.ones(1, 128))),
}
INPUT_NAMES = {"resnet50": ["x"], "mobilenet_v2": ["x"], "bert_base": ["x", "attention_mask"]}


def export(name: str, path: str, seed: int = 0) -> None:
    """Export with PyTorch's TorchScript exporter (opset 17). Batch norm is
    kept as BatchNormalization nodes (``training=PRESERVE`` on the eval-mode
    model): by default the exporter folds it into the convs itself, and
    folding it is dlc's job here."""
    torch.manual_seed(seed)
    make, example = MODELS[name]
    model = randomize(make(), seed).eval()
    torch.onnx.export(model, example(), path, input_names=INPUT_NAMES[name], output_names=["y"],
                      opset_version=17, dynamo=False, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=True)
