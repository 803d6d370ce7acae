"""Small ONNX models written with onnx.helper, the architectures the
foundation must compile: a LeNet-style CNN, an MLP, a ResNet-style stack of
residual blocks, a MobileNet-style depthwise block, and a transformer
encoder block. Random weights from fixed seeds."""
from __future__ import annotations

import numpy as np
from onnx import helper

from tests.util import make_model


class Builder:
    """Appends nodes and initializers; names values t0, t1, ..."""

    def __init__(self, seed: int = 0):
        self.nodes, self.inits = [], {}
        self.rng = np.random.default_rng(seed)
        self.n = 0

    def name(self, prefix="t"):
        self.n += 1
        return f"{prefix}{self.n}"

    def weight(self, *shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        scale = scale if scale is not None else 1 / np.sqrt(max(fan_in, 1))
        w = self.name("w")
        self.inits[w] = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        return w

    def const(self, value, dtype=np.int64):
        c = self.name("c")
        self.inits[c] = np.asarray(value, dtype)
        return c

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.name() for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"{op_type}_{len(self.nodes)}",
                                           **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=True):
        ins = [x, self.weight(cout, cin // group, k, k)] + ([self.weight(cout, scale=0.1)] if bias else [])
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x, c):
        scale = self.const(self.rng.uniform(0.5, 1.5, c), np.float32)
        bias = self.const(self.rng.normal(0, 0.1, c), np.float32)
        mean = self.const(self.rng.normal(0, 0.1, c), np.float32)
        var = self.const(self.rng.uniform(0.5, 1.5, c), np.float32)
        return self.op("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)

    def dense(self, x, nin, nout):
        return self.op("Gemm", [x, self.weight(nout, nin), self.weight(nout, scale=0.1)], transB=1)

    def model(self, inputs, output, opset=17):
        return make_model(self.nodes, inputs, [output], self.inits, opset)


def lenet(batch="N"):
    b = Builder(1)
    x = b.op("Relu", [b.conv("x", 1, 6, 5, pad=2)])
    x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.op("Relu", [b.conv(x, 6, 16, 5)])
    x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.op("Flatten", [x], axis=1)
    x = b.op("Relu", [b.dense(x, 16 * 5 * 5, 120)])
    x = b.op("Relu", [b.dense(x, 120, 84)])
    x = b.op("Softmax", [b.dense(x, 84, 10)], axis=1)
    return b.model([("x", np.float32, [batch, 1, 28, 28])], x), (2, 1, 28, 28)


def mlp(batch="N"):
    b = Builder(2)
    x = b.op("Reshape", ["x", b.const([-1, 784])])
    w1, b1 = b.weight(784, 128), b.weight(128, scale=0.1)
    x = b.op("Relu", [b.op("Add", [b.op("MatMul", [x, w1]), b1])])
    x = b.op("Dropout", [x])
    x = b.op("Tanh", [b.dense(x, 128, 64)])
    x = b.op("LogSoftmax", [b.dense(x, 64, 10)], axis=-1)
    return b.model([("x", np.float32, [batch, 1, 28, 28])], x, opset=13), (3, 1, 28, 28)


def resnet_blocks(batch="N"):
    b = Builder(3)
    x = b.op("Relu", [b.bn(b.conv("x", 3, 16, 3, stride=1, pad=1, bias=False), 16)])

    def block(x, cin, cout, stride):
        y = b.op("Relu", [b.bn(b.conv(x, cin, cout, 3, stride, 1, bias=False), cout)])
        y = b.bn(b.conv(y, cout, cout, 3, 1, 1, bias=False), cout)
        short = x if stride == 1 and cin == cout else b.bn(b.conv(x, cin, cout, 1, stride, bias=False), cout)
        return b.op("Relu", [b.op("Add", [y, short])])

    x = block(x, 16, 16, 1)
    x = block(x, 16, 32, 2)
    x = block(x, 32, 32, 1)
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])])
    return b.model([("x", np.float32, [batch, 3, 16, 16])], b.dense(x, 32, 10)), (2, 3, 16, 16)


def mobilenet_block(batch="N"):
    b = Builder(4)
    lo, hi = b.const(0.0, np.float32), b.const(6.0, np.float32)

    def relu6(x):
        return b.op("Clip", [x, lo, hi])

    x = relu6(b.bn(b.conv("x", 3, 16, 3, stride=2, pad=1, bias=False), 16))
    # inverted residual: expand 1x1, depthwise 3x3, project 1x1, residual add
    y = relu6(b.bn(b.conv(x, 16, 64, 1, bias=False), 64))
    y = relu6(b.bn(b.conv(y, 64, 64, 3, pad=1, group=64, bias=False), 64))
    y = b.bn(b.conv(y, 64, 16, 1, bias=False), 16)
    x = b.op("Add", [x, y])
    x = b.op("HardSwish", [b.conv(x, 16, 32, 1)])
    x = b.op("ReduceMean", [x], axes=[2, 3], keepdims=0)
    return b.model([("x", np.float32, [batch, 3, 32, 32])], b.dense(x, 32, 10), opset=14), (2, 3, 32, 32)


def transformer_encoder(batch="N", seq=12, d=32, heads=4, ff=64):
    """Pre-norm encoder block: LayerNorm, multi-head attention with
    MatMul/Softmax, residual, LayerNorm, MLP with exact (Erf) GELU."""
    b = Builder(5)
    hd = d // heads

    def layernorm(x):
        return b.op("LayerNormalization", [x, b.const(np.ones(d), np.float32), b.const(np.zeros(d), np.float32)],
                    axis=-1, epsilon=1e-5)

    def heads_first(t):   # [N, S, d] -> [N, H, S, hd]
        t = b.op("Reshape", [t, b.const([0, 0, heads, hd])])
        return b.op("Transpose", [t], perm=[0, 2, 1, 3])

    h = layernorm("x")
    q, k, v = (heads_first(b.op("Add", [b.op("MatMul", [h, b.weight(d, d)]), b.weight(d, scale=0.1)]))
               for _ in range(3))
    scores = b.op("Div", [b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])]),
                          b.const(np.sqrt(hd), np.float32)])
    att = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    att = b.op("Reshape", [b.op("Transpose", [att], perm=[0, 2, 1, 3]), b.const([0, 0, d])])
    x = b.op("Add", ["x", b.op("MatMul", [att, b.weight(d, d)])])
    h = layernorm(x)
    h = b.op("Add", [b.op("MatMul", [h, b.weight(d, ff)]), b.weight(ff, scale=0.1)])
    gelu = b.op("Mul", [b.op("Mul", [h, b.op("Add", [b.op("Erf", [b.op("Div", [h, b.const(np.sqrt(2), np.float32)])]),
                                                        b.const(1.0, np.float32)])]), b.const(0.5, np.float32)])
    x = b.op("Add", [x, b.op("MatMul", [gelu, b.weight(ff, d)])])
    return b.model([("x", np.float32, [batch, seq, d])], x), (2, seq, d)


MODELS = {"lenet": lenet, "mlp": mlp, "resnet_blocks": resnet_blocks, "mobilenet_block": mobilenet_block,
          "transformer_encoder": transformer_encoder}
