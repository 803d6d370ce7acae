"""Ops dlc converts through their ONNX function bodies, against onnxruntime
(or the onnx reference where onnxruntime lacks a kernel): Attention,
RotaryEmbedding, Swish, MeanVarianceNormalization, the losses,
DynamicQuantizeLinear, the window functions; float16 bodies run in float32."""
from __future__ import annotations

import numpy as np
import pytest

from tests.util import check_op, rand


@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("heads", [(4, 4), (4, 2)])       # multi-head and grouped-query
def test_attention_4d(causal, heads):
    hq, hkv = heads
    q, k, v = rand(2, hq, 5, 8), rand(2, hkv, 7, 8, seed=1), rand(2, hkv, 7, 6, seed=2)
    check_op("Attention", {"q": q, "k": k, "v": v}, {"is_causal": causal}, opset=23, rtol=1e-4, atol=1e-5)


def test_attention_3d_with_mask_and_past():
    ins = {"q": rand(2, 3, 16), "k": rand(2, 3, 8, seed=1), "v": rand(2, 3, 8, seed=2),
           "mask": rand(3, 5, seed=3) > 0, "pk": rand(2, 2, 2, 4, seed=4), "pv": rand(2, 2, 2, 4, seed=5)}
    check_op("Attention", ins, {"q_num_heads": 4, "kv_num_heads": 2}, n_outputs=3, opset=23,
             rtol=1e-4, atol=1e-5)


def test_attention_float16_computes_in_float32():
    q, k, v = (rand(1, 2, 4, 8, seed=s).astype(np.float16) for s in range(3))
    check_op("Attention", {"q": q, "k": k, "v": v}, {"softcap": 3.0}, opset=23, rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_embedding(interleaved):
    x = rand(2, 3, 5, 8)                                        # [batch, heads, seq, head]
    cos, sin = rand(10, 4, seed=1), rand(10, 4, seed=2)
    pos = np.array([[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]], np.int64)
    check_op("RotaryEmbedding", {"x": x, "cos": cos, "sin": sin, "pos": pos}, {"interleaved": interleaved},
             opset=23, rtol=1e-5, atol=1e-6)


def test_swish_and_mvn():
    check_op("Swish", {"x": rand(3, 4)}, {"alpha": 1.5}, opset=24, reference="onnx")
    check_op("MeanVarianceNormalization", {"x": rand(2, 3, 4, 2)}, {"axes": [0, 2]}, opset=13)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses(reduction):
    scores, labels = rand(4, 5, 3), np.array([[0, 4, 2], [1, 1, 3], [4, 0, 0], [2, 3, 1]], np.int64)
    check_op("NegativeLogLikelihoodLoss", {"x": scores, "t": labels}, {"reduction": reduction}, opset=13,
             rtol=1e-5, atol=1e-6)
    check_op("SoftmaxCrossEntropyLoss", {"x": scores, "t": labels, "w": rand(5, seed=1, low=0.5, high=1.5)},
             {"reduction": reduction, "ignore_index": 3}, opset=13, rtol=1e-5, atol=1e-6)


def test_hann_window_with_a_constant_size():
    check_op("HannWindow", {"n": np.array(10, np.int64)}, constants=["n"], opset=17)
