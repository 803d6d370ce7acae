"""Element types of the IR. They are numpy dtypes; this module names them.

``float16``, ``bfloat16`` and ml_dtypes' float8/float4 types are *storage*
types: tensors hold them in memory, kernels compute in float32 (a load
widens, a store or a cast rounds to nearest even), and the reference
interpreter does the same. The 4- and 2-bit integers compute in int8/uint8
and wrap when stored.
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
# string tensors: numpy object arrays of Python str, on the host only (never in native code)
string = np.dtype(object)

_SHORT = {
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool",
}
SUPPORTED = frozenset(np.dtype(n) if n != "bfloat16" else bfloat16 for n in _SHORT) | {string}
_SHORT["object"] = "str"

# the 8-bit and smaller floats, and 4- and 2-bit integers (ml_dtypes; one
# byte per element in memory, as numpy arrays of them hold them)
float8_e4m3fn = np.dtype(ml_dtypes.float8_e4m3fn)
float8_e4m3fnuz = np.dtype(ml_dtypes.float8_e4m3fnuz)
float8_e5m2 = np.dtype(ml_dtypes.float8_e5m2)
float8_e5m2fnuz = np.dtype(ml_dtypes.float8_e5m2fnuz)
float4_e2m1fn = np.dtype(ml_dtypes.float4_e2m1fn)
float8_e8m0fnu = np.dtype(ml_dtypes.float8_e8m0fnu)   # a power of two (or NaN); no sign, no zero
int4, uint4 = np.dtype(ml_dtypes.int4), np.dtype(ml_dtypes.uint4)
int2, uint2 = np.dtype(ml_dtypes.int2), np.dtype(ml_dtypes.uint2)
FLOAT8 = (float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz)
_SHORT.update({"float8_e4m3fn": "f8e4m3fn", "float8_e4m3fnuz": "f8e4m3fnuz", "float8_e5m2": "f8e5m2",
               "float8_e5m2fnuz": "f8e5m2fnuz", "float4_e2m1fn": "f4e2m1", "float8_e8m0fnu": "f8e8m0", "int4": "i4", "uint4": "u4",
               "int2": "i2", "uint2": "u2"})
SUPPORTED = SUPPORTED | frozenset(FLOAT8 + (float4_e2m1fn, float8_e8m0fnu, int4, uint4, int2, uint2))

# storage type -> the type kernels compute in
_COMPUTE = {float16: float32, bfloat16: float32, float4_e2m1fn: float32, float8_e8m0fnu: float32,
            int4: np.dtype("int8"), int2: np.dtype("int8"), uint4: np.dtype("uint8"), uint2: np.dtype("uint8")}
_COMPUTE.update({d: float32 for d in FLOAT8})
_KIND = {bfloat16: "f", float4_e2m1fn: "f", float8_e8m0fnu: "f", int4: "i", int2: "i", uint4: "u", uint2: "u"}
_KIND.update({d: "f" for d in FLOAT8})


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
    """np.finfo, also for ml_dtypes' floats."""
    dt = np.dtype(dt)
    return np.finfo(dt) if dt in (float16, float32, float64) else ml_dtypes.finfo(dt)


def iinfo(dt):
    """np.iinfo, also for ml_dtypes' small integers."""
    dt = np.dtype(dt)
    return np.iinfo(dt) if dt.kind in "iu" else ml_dtypes.iinfo(dt)
