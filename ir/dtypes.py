"""Element types of the IR. They are numpy dtypes; this module names them.

``float16`` and ``bfloat16`` (ml_dtypes) are *storage* types: tensors hold
them in memory, kernels compute in float32 (a load widens, a store or a cast
rounds to nearest even), and the reference interpreter does the same.
``kind`` classifies every supported dtype, ml_dtypes' included (numpy says
``"V"`` for those).
"""
import ml_dtypes
import numpy as np

from .errors import UnsupportedError

float16 = np.dtype("float16")
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

_SHORT = {
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool",
}
SUPPORTED = frozenset(np.dtype(n) if n != "bfloat16" else bfloat16 for n in _SHORT)

# storage type -> the type kernels compute in
_COMPUTE = {float16: float32, bfloat16: float32}
_KIND = {bfloat16: "f"}


def short(dt) -> str:
    """`f32`, `i64`, `bool`, ... as printed in the IR."""
    return _SHORT.get(np.dtype(dt).name, np.dtype(dt).name)


def check(dt, where: str) -> np.dtype:
    """Return `dt` as a numpy dtype, or raise naming `where` if dlc can't compute in it."""
    dt = np.dtype(dt)
    if dt not in SUPPORTED:
        raise UnsupportedError(f"{where}: dtype {dt.name} is not supported yet "
                               f"(supported: {', '.join(sorted(_SHORT))})")
    return dt


def kind(dt) -> str:
    """numpy's kind letter ("f", "i", "u", "b"), also for ml_dtypes' types."""
    dt = np.dtype(dt)
    return _KIND.get(dt, dt.kind)


def compute(dt) -> np.dtype:
    """The dtype kernels (and the reference interpreter) compute a `dt` in:
    float32 for the reduced-precision floats, `dt` itself otherwise."""
    dt = np.dtype(dt)
    return _COMPUTE.get(dt, dt)


def is_storage_only(dt) -> bool:
    return np.dtype(dt) in _COMPUTE


def widen(a):
    """`a` in its compute dtype (a numpy array or None)."""
    if a is None or not isinstance(a, np.ndarray) or a.dtype not in _COMPUTE:
        return a
    return a.astype(_COMPUTE[a.dtype])


def is_float(dt) -> bool:
    return kind(dt) == "f"


def is_int(dt) -> bool:
    return kind(dt) in "iu"


def is_signed(dt) -> bool:
    return kind(dt) in "if"


def is_bool(dt) -> bool:
    return kind(dt) == "b"


def finfo(dt):
    """np.finfo, also for bfloat16."""
    dt = np.dtype(dt)
    return ml_dtypes.finfo(dt) if dt == bfloat16 else np.finfo(dt)
