"""Element types of the IR. They are numpy dtypes; this module names them."""
import numpy as np

from .errors import UnsupportedError

_SHORT = {
    "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool",
}
SUPPORTED = frozenset(np.dtype(n) for n in _SHORT)

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")


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


def is_float(dt) -> bool:
    return np.dtype(dt).kind == "f"


def is_int(dt) -> bool:
    return np.dtype(dt).kind in "iu"


def is_signed(dt) -> bool:
    return np.dtype(dt).kind in "if"


def is_bool(dt) -> bool:
    return np.dtype(dt).kind == "b"
