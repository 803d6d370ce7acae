"""Export the benchmark networks (benchmarks/models.py) and keep only their
graph structure for the tests: every initializer larger than 1 KB is
stored as external data that is then deleted, so the committed .onnx files
are small; tests/test_benchmark_models.py refills those initializers with
seeded random arrays of the recorded dims.

    pip install torch==2.13.0 && python benchmarks/export_structures.py
"""
import os
import sys
import tempfile
import warnings

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
OUT = os.path.join(os.path.dirname(HERE), "tests", "models", "structure")


def main():
    from benchmarks.models import MODELS, export
    warnings.filterwarnings("ignore")
    os.makedirs(OUT, exist_ok=True)
    for name in MODELS:
        with tempfile.TemporaryDirectory() as d:
            export(name, os.path.join(d, "full.onnx"))
            model = onnx.load(os.path.join(d, "full.onnx"))
            path = os.path.join(OUT, f"{name}.onnx")
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=f"{name}.weights.removed", size_threshold=1024)
        os.remove(os.path.join(OUT, f"{name}.weights.removed"))
        print(f"{path}: {os.path.getsize(path) // 1024} KB, {len(model.graph.node)} nodes")


if __name__ == "__main__":
    main()
