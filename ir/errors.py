"""Errors raised by dlc. Every one carries a message meant for the user.

They live in `dlc.ir` because the IR is the bottom layer (it imports nothing
else of dlc); `dlc` re-exports them.
"""


class DLCError(Exception):
    """Base class of every error dlc raises on purpose."""


class ModelError(DLCError):
    """The model itself is malformed, inconsistent, or cannot be parsed."""


class UnsupportedError(DLCError):
    """The model uses something dlc does not implement (op, opset, dtype)."""


class NeedsValueError(UnsupportedError):
    """A converter needs the value of an input (a Reshape target, TopK's k...)
    that is only known at run time. ``index``: that input's position."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


class ShapeError(ModelError):
    """Shapes or dtypes do not fit an op's rules."""


class InputError(DLCError):
    """Feeds given at run time do not match the model's inputs."""


class ArtifactError(DLCError):
    """A saved .dlc artifact is corrupt, truncated or incompatible."""


class ExecutionError(DLCError):
    """Generated code detected a problem while running (e.g. an index out of range)."""
