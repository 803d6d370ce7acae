"""dlc: a deep-learning model compiler.

    import dlc
    m = dlc.compile("model.onnx")            # or an onnx.ModelProto
    outs = m.run(None, {"x": x})             # onnxruntime-style
    y = m(x)                                 # positional call
    m.save("model.dlc"); m2 = dlc.load("model.dlc")
"""
__version__ = "0.1.0"

from .ir.errors import (ArtifactError, DLCError, ExecutionError, InputError, ModelError,  # noqa: E402
                        ShapeError, UnsupportedError)
from .model import CompiledModel, compile, load  # noqa: E402
from .training import TrainingSession, train  # noqa: E402
from .training import losses, optimizers  # noqa: E402,F401

__all__ = ["compile", "load", "CompiledModel", "train", "TrainingSession", "DLCError", "ModelError",
           "UnsupportedError", "ShapeError", "InputError", "ArtifactError", "ExecutionError", "__version__"]
