"""Single convolution layers (Conv + Relu) of the zoo models: dlc against
onnxruntime, same thread count, timed in interleaved rounds.

    python benchmarks/conv_layers.py [--threads 1] [--rounds 7] [NAME ...]

Prints each layer's median time for both, the median over rounds of the
ratio of their times in the round, and dlc's largest difference from
onnxruntime (relative to the largest output).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

# name: (x shape, output channels, kernel, group, strides, pads)
LAYERS = {
    "mnist conv2 b16": ((16, 32, 26, 26), 64, 3, 1, 1, 0),
    "resnet 3x3 56x56x64": ((1, 64, 56, 56), 64, 3, 1, 1, 1),
    "resnet 3x3 s2 56->28x128": ((1, 128, 56, 56), 128, 3, 1, 2, 1),
    "resnet 3x3 7x7x512": ((1, 512, 7, 7), 512, 3, 1, 1, 1),
    "resnet stem 7x7 s2": ((1, 3, 224, 224), 64, 7, 1, 2, 3),
    "resnet 1x1 s2 downsample": ((1, 256, 56, 56), 512, 1, 1, 2, 0),
    "mobilenet dw 112x112x96 s2": ((1, 96, 112, 112), 96, 3, 96, 2, 1),
    "mobilenet dw 56x56x144": ((1, 144, 56, 56), 144, 3, 144, 1, 1),
    "mobilenet dw 7x7x960": ((1, 960, 7, 7), 960, 3, 960, 1, 1),
}


def model(shape, m, kernel, group, stride, pad):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w = rng.standard_normal((m, shape[1] // group, kernel, kernel)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=group, strides=[stride] * 2, pads=[pad] * 4),
             helper.make_node("Relu", ["y"], ["z"])]
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), \
        rng.standard_normal(shape).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"layers (default: all): {', '.join(LAYERS)}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import onnxruntime as ort

    import dlc
    for name in args.names or LAYERS:
        mp, x = model(*LAYERS[name])
        m = dlc.compile(mp, threads=args.threads)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        s = ort.InferenceSession(mp.SerializeToString(), so, providers=["CPUExecutionProvider"])
        feeds = {"x": x}
        ref, got = s.run(None, feeds)[0], m.run(None, feeds)[0]
        err = np.abs(ref - got).max() / np.abs(ref).max()
        times = {"dlc": [], "ort": []}
        for _ in range(args.rounds):   # each round: both, a few calls each, the median call
            for who, f in (("dlc", lambda: m.run(None, feeds)), ("ort", lambda: s.run(None, feeds))):
                f()
                ts = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    f()
                    ts.append(time.perf_counter() - t0)
                times[who].append(np.median(ts))
        d, o = np.median(times["dlc"]) * 1e3, np.median(times["ort"]) * 1e3
        ratio = np.median(np.array(times["dlc"]) / np.array(times["ort"]))
        print(f"{name:28} dlc {d:8.3f} ms  onnxruntime {o:8.3f} ms  dlc/ort {ratio:5.2f}  max rel diff {err:.1e}",
              flush=True)


if __name__ == "__main__":
    main()
