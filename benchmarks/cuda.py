"""dlc's CUDA target against PyTorch on a GPU (FP32, TF32 off), written for a
machine with an NVIDIA GPU. NOT RUN YET: dlc's GPU backend was developed
without one (under numba's simulator); the numbers are pending a GPU machine.

    pip install torch onnxruntime && python benchmarks/cuda.py [--runs 20] [--out benchmarks/results/cuda.md]

What it measures, each in this one process, after warm-up runs, as medians:

1. The zoo models of benchmarks/models.py (ResNet-50, MobileNetV2, BERT-base
   encoder; seeded random weights, exported by PyTorch): dlc.compile(...,
   target="cuda") must match onnxruntime (CPU) within float32 tolerances;
   latency of dlc (inputs as PyTorch CUDA tensors, used without a copy;
   outputs left on the device) and of PyTorch eager (cuDNN, TF32 off), both
   including the device sync. ResNet-50 at batch 1 and 32 (target: dlc <=
   1.5 x PyTorch's latency at batch 32); dlc also with CUDA graphs.
2. FP32 GEMM 4096^3: a one-MatMul model against torch.matmul (cuBLAS), in
   TFLOP/s (target: dlc >= 60 % of cuBLAS).
3. The Keras MNIST CNN training step (examples/benchmark_train_step.py's
   model, batch 128): dlc's compiled step on target="cuda" (the batch copied
   in, forward, backward and Adam in place on the device, the loss copied
   out: what `fit` runs per step) against PyTorch eager's step (zero_grad,
   forward, loss, backward, step) on the GPU (target: dlc <= 1.0 x).

Writes a markdown table (stdout, and --out).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _torch():
    import torch
    if not torch.cuda.is_available():
        sys.exit("benchmarks/cuda.py needs a CUDA GPU visible to PyTorch")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    return torch


def timed(fn, runs: int, warmup: int = 3) -> float:
    """Median wall time (ms) of fn(), which must synchronize the device itself."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out)


def zoo(runs: int, rows: list) -> None:
    import onnxruntime as ort
    torch = _torch()
    import dlc
    import onnx
    from benchmarks.models import INPUT_NAMES, MODELS, randomize
    for name, batches in (("resnet50", (1, 32)), ("mobilenet_v2", (1,)), ("bert_base", (1,))):
        cls, example = MODELS[name]
        torch.manual_seed(0)
        net = randomize(cls(), 0).eval()     # the weights benchmarks/models.py's export() writes
        for batch in batches:
            args = [a.repeat(batch, *[1] * (a.dim() - 1)) for a in example()]
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, f"{name}.onnx")
                net.cpu()
                torch.onnx.export(net, tuple(args), path, input_names=INPUT_NAMES[name], output_names=["y"],
                                  opset_version=17, dynamo=False, training=torch.onnx.TrainingMode.PRESERVE,
                                  do_constant_folding=True)
                model = onnx.load(path)
                feeds = {n: a.numpy() for n, a in zip(INPUT_NAMES[name], args)}
                sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                want = sess.run(None, feeds)[0]
                gnet = net.cuda()
                for graphs in (False, True):
                    m = dlc.compile(model, target="cuda", cuda_graphs=graphs)
                    got = m.run(None, feeds)[0]
                    err = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))
                    ok = np.allclose(got, want, rtol=1e-3, atol=1e-3 * float(np.max(np.abs(want))))
                    dev = {k: torch.from_numpy(v).cuda() for k, v in feeds.items()}

                    def run_dlc():
                        m.run(None, dev, device_outputs=True)   # (reads the status word: synchronizes)
                    t_dlc = timed(run_dlc, runs)
                    targs = [a.cuda() for a in args]

                    def run_torch():
                        with torch.no_grad():
                            gnet(*targs)
                        torch.cuda.synchronize()
                    t_torch = timed(run_torch, runs)
                    rows.append((f"{name} b{batch}" + (" (CUDA graph)" if graphs else ""),
                                 f"{t_dlc:.2f} ms", f"{t_torch:.2f} ms", f"{t_dlc / t_torch:.2f}",
                                 ("<= 1.5 x" if name == "resnet50" and batch == 32 else ""),
                                 f"{'yes' if ok else 'NO'} (max rel err {err:.1e})"))


def gemm(runs: int, rows: list, n: int = 4096) -> None:
    torch = _torch()
    import dlc
    from tests.util import make_model
    from onnx import helper
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["c"])],
                       [("a", np.float32, [n, n]), ("b", np.float32, [n, n])], ["c"])
    m = dlc.compile(model, target="cuda")
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    got = m.run(None, {"a": a, "b": b}, device_outputs=True)[0]
    want = (a.double() @ b.double()).float()
    c = torch.as_tensor(got, device="cuda")
    ok = torch.allclose(c, want, rtol=1e-3, atol=1e-2)
    t_dlc = timed(lambda: m.run(None, {"a": a, "b": b}, device_outputs=True), runs)

    def mm():
        torch.matmul(a, b)
        torch.cuda.synchronize()
    t_torch = timed(mm, runs)
    flop = 2 * n ** 3
    rows.append((f"GEMM {n}^3 FP32", f"{t_dlc:.2f} ms ({flop / t_dlc / 1e9:.1f} TFLOP/s)",
                 f"{t_torch:.2f} ms ({flop / t_torch / 1e9:.1f} TFLOP/s)", f"{t_dlc / t_torch:.2f}",
                 f">= 60 % of cuBLAS: {100 * t_torch / t_dlc:.0f} %", "yes" if ok else "NO"))


def train_step(runs: int, rows: list, batch: int = 128) -> None:
    torch = _torch()
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))
    from benchmark_train_step import dlc_model, torch_model
    model = dlc_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"], target="cuda")
    rng = np.random.default_rng(0)
    x = rng.random((batch, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    net = torch_model(model.get_weights()).cuda().train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    tx = torch.tensor(x.transpose(0, 3, 1, 2)).cuda()
    ty = torch.tensor(y.argmax(1)).cuda()
    sess = model.session()
    sess.sync_to_device()
    xs = sess._as_inputs(x)
    b = sess.bound("train", sess._shapes(xs, batch))
    yb = sess._targets(y, b.feed["y"], batch)
    idx = np.arange(batch)

    def dlc_step():
        sess._train_batch(b, xs, yb, idx)   # what fit runs per step (the loss comes back: synchronizes)

    def torch_step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(tx), ty)
        loss.backward()
        opt.step()
        loss.item()
    t_dlc = timed(dlc_step, runs)
    t_torch = timed(torch_step, runs)
    rows.append((f"MNIST CNN train step b{batch}", f"{t_dlc:.2f} ms", f"{t_torch:.2f} ms", f"{t_dlc / t_torch:.2f}",
                 "<= 1.0 x", "(loss drops: see examples/)"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "cuda.md"))
    ap.add_argument("--only", default="zoo,gemm,train", help="comma-separated: zoo, gemm, train")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch = _torch()
    rows: list = []
    only = set(args.only.split(","))
    if "gemm" in only:
        gemm(args.runs, rows)
    if "zoo" in only:
        zoo(args.runs, rows)
    if "train" in only:
        train_step(args.runs, rows)
    import dlc
    lines = [f"dlc {dlc.__version__} target='cuda' vs PyTorch {torch.__version__} on "
             f"{torch.cuda.get_device_name()} (FP32, TF32 off), median of {args.runs} runs", "",
             "| workload | dlc | PyTorch | dlc / PyTorch | target | matches reference |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
