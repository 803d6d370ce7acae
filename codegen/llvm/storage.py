"""Storage-only element types in LLVM: how a load widens one to the type
kernels compute in, and how a store (or a cast) narrows a computed value.

- float16: LLVM ``half`` (fpext / fptrunc; from float64 through a
  round-to-odd float32, so the result is correctly rounded).
- bfloat16: the top 16 bits of a float32, rounded to nearest even.
- float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) and float4 (e2m1fn): one byte
  each in memory (as ml_dtypes holds them); computed in float32; narrowing
  rounds to nearest even with ml_dtypes' overflow rules (to inf where the
  format has one, else NaN; float4 saturates). Cast's ``saturate`` clamps
  before narrowing (see the ``cast`` op).
- float8e8m0: an exponent byte (2**(e - 127); 0xFF is NaN; no sign, no
  zero); narrowing rounds the magnitude up to a power of two and saturates
  (ONNX Cast's default round_mode "up" with saturate).
- int4/uint4/int2/uint2: one byte each holding the low bits; computed in
  int8/uint8; narrowing keeps the low bits (wraps), as ml_dtypes does.
"""
from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
from llvmlite import ir

from ...ir import dtypes

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
F32T = ir.FloatType()
F16, F32, F64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")


@dataclass(frozen=True)
class Minifloat:
    bits: int            # 8, or 4 (float4: the low nibble of a byte)
    man: int             # mantissa bits
    bias: int
    max_code: int        # largest finite magnitude code
    inf_code: int | None  # magnitude code of infinity, if the format has one
    nan_code: int | None  # magnitude code of NaN (with the sign bit kept); None: fnuz or float4
    fnuz: bool = False   # NaN is the negative-zero pattern; no -0


MINIFLOATS = {
    np.dtype(ml_dtypes.float8_e4m3fn): Minifloat(8, 3, 7, 0x7E, None, 0x7F),
    np.dtype(ml_dtypes.float8_e4m3fnuz): Minifloat(8, 3, 8, 0x7F, None, None, fnuz=True),
    np.dtype(ml_dtypes.float8_e5m2): Minifloat(8, 2, 15, 0x7B, 0x7C, 0x7E),
    np.dtype(ml_dtypes.float8_e5m2fnuz): Minifloat(8, 2, 16, 0x7F, None, None, fnuz=True),
    np.dtype(ml_dtypes.float4_e2m1fn): Minifloat(4, 1, 1, 0x7, None, None),
}
SMALL_INTS = {  # dtype -> (bits, signed)
    np.dtype(ml_dtypes.int4): (4, True), np.dtype(ml_dtypes.uint4): (4, False),
    np.dtype(ml_dtypes.int2): (2, True), np.dtype(ml_dtypes.uint2): (2, False),
}


def memory_type(dt: np.dtype) -> ir.Type | None:
    """The LLVM type a storage-only dtype has in memory (None: not one)."""
    dt = np.dtype(dt)
    if dt == F16:
        return ir.HalfType()
    if dt == dtypes.bfloat16:
        return I16
    if dt in MINIFLOATS or dt in SMALL_INTS or dt == dtypes.float8_e8m0fnu:
        return I8
    return None


def _c(t, v):
    return ir.Constant(t, v)


def widen(r, v: ir.Value, dt: np.dtype) -> ir.Value:
    """A stored value (memory type) as its compute type. `r` is the kernel
    renderer (``r.b`` its IRBuilder, ``r.call`` for intrinsics)."""
    b = r.b
    dt = np.dtype(dt)
    if dt == F16:
        return b.fpext(v, F32T)
    if dt == dtypes.bfloat16:   # bfloat16 is the top half of a float32
        return b.bitcast(b.shl(b.zext(v, I32), _c(I32, 16)), F32T)
    if dt in SMALL_INTS:
        bits, signed = SMALL_INTS[dt]
        if signed:
            return b.ashr(b.shl(v, _c(I8, 8 - bits)), _c(I8, 8 - bits))
        return b.and_(v, _c(I8, (1 << bits) - 1))
    if dt == dtypes.float8_e8m0fnu:
        c = b.zext(v, I32)
        bits = b.select(b.icmp_unsigned("==", c, _c(I32, 0)), _c(I32, 0x00400000), b.shl(c, _c(I32, 23)))
        val = b.bitcast(bits, F32T)
        return b.select(b.icmp_unsigned("==", c, _c(I32, 0xFF)), ir.Constant(F32T, float("nan")), val)
    return _decode(r, v, MINIFLOATS[dt])


def narrow(r, v: ir.Value, src: np.dtype, dt: np.dtype) -> ir.Value:
    """A computed value of dtype `src` rounded (or wrapped) into `dt`'s memory type."""
    b = r.b
    dt, src = np.dtype(dt), np.dtype(src)
    if dt in SMALL_INTS:
        bits, _ = SMALL_INTS[dt]
        if src.kind == "f":   # truncate toward zero; NaN and +-inf become 0 (as ml_dtypes)
            finite = b.fcmp_ordered("<", r.call(f"llvm.fabs.{r._suffix(v.type)}", v.type, [v]),
                                    ir.Constant(v.type, float("inf")))
            i = r.call(f"llvm.fptosi.sat.i64.{r._suffix(v.type)}", I64, [v])
            v = b.select(finite, i, _c(I64, 0))
        elif src.kind == "b":
            v = b.zext(v, I64)
        w = v.type.width
        v = b.trunc(v, I8) if w > 8 else (b.zext(v, I8) if w < 8 else v)
        return b.and_(v, _c(I8, (1 << bits) - 1))
    if src.kind != "f":   # integers and bools go through float64 (exact below 2**53)
        v = b.uitofp(v, ir.DoubleType()) if src.kind in "ub" else b.sitofp(v, ir.DoubleType())
        src = F64
    if dt == F16:
        if src != F32:   # float64: round to odd into float32 first (no double rounding, no libcall)
            v = round_to_odd_f32(r, v)
        return b.fptrunc(v, ir.HalfType())
    if src != F32:
        v = round_to_odd_f32(r, v)
    if dt == dtypes.bfloat16:
        bits = b.bitcast(v, I32)
        lsb = b.and_(b.lshr(bits, _c(I32, 16)), _c(I32, 1))
        rounded = b.lshr(b.add(bits, b.add(_c(I32, 0x7FFF), lsb)), _c(I32, 16))
        nan = b.fcmp_unordered("uno", v, v)
        quiet = b.or_(b.lshr(bits, _c(I32, 16)), _c(I32, 0x40))
        return b.trunc(b.select(nan, quiet, rounded), I16)
    if dt == dtypes.float8_e8m0fnu:   # the float32 exponent, rounded up, saturated; sign ignored
        bits = b.bitcast(v, I32)
        e = b.and_(b.lshr(bits, _c(I32, 23)), _c(I32, 0xFF))
        frac = b.and_(bits, _c(I32, 0x7FFFFF))
        up = b.and_(b.icmp_unsigned("!=", frac, _c(I32, 0)), b.icmp_unsigned("<", e, _c(I32, 0xFE)))
        e = b.select(b.icmp_unsigned("==", e, _c(I32, 0xFF)), e, b.add(e, b.zext(up, I32)))
        exact_min = b.icmp_unsigned("==", b.and_(bits, _c(I32, 0x7FFFFFFF)), _c(I32, 0x00400000))   # 2**-127
        return b.trunc(b.select(exact_min, _c(I32, 0), e), I8)
    return _encode(r, v, MINIFLOATS[dt])


def round_to_odd_f32(r, d: ir.Value) -> ir.Value:
    """float64 -> float32 rounded to odd (truncate, then set the last bit if
    inexact): rounding that to a narrower float is then correctly rounded."""
    b = r.b
    f = b.fptrunc(d, F32T)
    back = b.fpext(f, ir.DoubleType())
    inexact = b.fcmp_ordered("!=", back, d)
    away = b.fcmp_ordered(">", r.call("llvm.fabs.f64", back.type, [back]), r.call("llvm.fabs.f64", d.type, [d]))
    bits = b.bitcast(f, I32)
    bits = b.select(b.and_(inexact, away), b.sub(bits, _c(I32, 1)), bits)
    bits = b.select(inexact, b.or_(bits, _c(I32, 1)), bits)
    return b.bitcast(bits, F32T)


def _rne_shr(b, x: ir.Value, s) -> ir.Value:
    """x >> s rounded to nearest even (s >= 1; an int or an i32 value)."""
    s = _c(I32, s) if isinstance(s, int) else s
    half_m1 = b.sub(b.shl(_c(I32, 1), b.sub(s, _c(I32, 1))), _c(I32, 1))
    odd = b.and_(b.lshr(x, s), _c(I32, 1))
    return b.lshr(b.add(x, b.add(half_m1, odd)), s)


def _encode(r, v: ir.Value, f: Minifloat) -> ir.Value:
    """float32 -> minifloat code (an i8), rounding to nearest even."""
    b = r.b
    bits = b.bitcast(v, I32)
    sign = b.lshr(bits, _c(I32, 31))
    a = b.and_(bits, _c(I32, 0x7FFFFFFF))
    is_nan = b.icmp_unsigned(">", a, _c(I32, 0x7F800000))
    # normal results: rebias the float32 exponent, drop mantissa bits with rounding
    rebias = (127 - f.bias) << 23
    normal = _rne_shr(b, b.sub(a, _c(I32, rebias)), 23 - f.man)
    # subnormal results: the significand with its hidden bit, shifted by how far below normal
    e32 = b.lshr(a, _c(I32, 23))
    sig = b.or_(b.and_(a, _c(I32, 0x7FFFFF)), _c(I32, 0x800000))
    s = b.sub(_c(I32, 151 - f.bias - f.man), e32)
    sub = b.select(b.icmp_signed(">", s, _c(I32, 25)), _c(I32, 0), _rne_shr(b, sig, b.select(
        b.icmp_signed(">", s, _c(I32, 25)), _c(I32, 25), s)))
    sub = b.select(b.icmp_unsigned("==", e32, _c(I32, 0)), _c(I32, 0), sub)
    code = b.select(b.icmp_unsigned(">=", a, _c(I32, (128 - f.bias) << 23)), normal, sub)
    over = b.icmp_unsigned(">", code, _c(I32, f.max_code))
    overflow = f.inf_code if f.inf_code is not None else (f.nan_code if f.nan_code is not None else
                                                          (0x80 if f.fnuz else f.max_code))
    code = b.select(over, _c(I32, overflow), code)
    top = f.bits - 1
    if f.fnuz:   # NaN and overflow are 0x80; zero has no sign
        nan_or_over = b.or_(is_nan, b.and_(over, _c(I1, int(overflow == 0x80))))
        signed = b.select(b.icmp_unsigned("==", code, _c(I32, 0)), code, b.or_(code, b.shl(sign, _c(I32, top))))
        out = b.select(nan_or_over, _c(I32, 0x80), signed)
    else:
        nan_mag = f.nan_code if f.nan_code is not None else 0   # float4: NaN becomes -0, as ml_dtypes
        nan_sign = sign if f.nan_code is not None else _c(I32, 1)
        mag = b.select(is_nan, _c(I32, nan_mag), code)
        out = b.or_(mag, b.shl(b.select(is_nan, nan_sign, sign), _c(I32, top)))
    return b.trunc(out, I8)


def _decode(r, v: ir.Value, f: Minifloat) -> ir.Value:
    """minifloat code (an i8) -> float32."""
    b = r.b
    c = b.zext(v, I32)
    top = f.bits - 1
    c = b.and_(c, _c(I32, (1 << f.bits) - 1))
    sign = b.and_(b.lshr(c, _c(I32, top)), _c(I32, 1))
    mag = b.and_(c, _c(I32, (1 << top) - 1))
    exp = b.lshr(mag, _c(I32, f.man))
    man = b.and_(mag, _c(I32, (1 << f.man) - 1))
    normal = b.bitcast(b.or_(b.shl(b.add(exp, _c(I32, 127 - f.bias)), _c(I32, 23)),
                             b.shl(man, _c(I32, 23 - f.man))), F32T)
    sub = b.fmul(b.uitofp(man, F32T), ir.Constant(F32T, float(2.0 ** (1 - f.bias - f.man))))
    val = b.select(b.icmp_unsigned("==", exp, _c(I32, 0)), sub, normal)
    nan = ir.Constant(F32T, float("nan"))
    if f.fnuz:
        is_nan = b.icmp_unsigned("==", c, _c(I32, 0x80))
    elif f.inf_code is not None:   # e5m2: exponent all ones
        special = b.icmp_unsigned(">=", mag, _c(I32, f.inf_code))
        is_inf = b.icmp_unsigned("==", mag, _c(I32, f.inf_code))
        val = b.select(special, b.select(is_inf, ir.Constant(F32T, float("inf")), nan), val)
        is_nan = _c(I1, 0)
    elif f.nan_code is not None:
        is_nan = b.icmp_unsigned("==", mag, _c(I32, f.nan_code))
    else:
        is_nan = _c(I1, 0)
    val = b.select(is_nan, nan, val)
    return b.select(b.icmp_unsigned("==", sign, _c(I32, 1)), b.fneg(val), val)
