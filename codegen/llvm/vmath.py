"""Math functions as straight-line LLVM IR (polynomials and bit tricks), so
loops that call them still vectorize: ``llvm.exp`` and friends become
scalar libm calls, which stop LLVM's vectorizers. Each works on a scalar
or a vector of float32 (exp and tanh also of float64) and keeps IEEE
behaviour at the edges: nan in, nan out; exp(-inf) = 0, exp(+inf) = inf,
results that underflow become denormals, then 0; log(0) = -inf, log(x<0)
= nan. Accuracy (tests/test_vmath.py measures it): a few ulp.

The CUDA renderer keeps native math; only the LLVM renderer uses these.
"""
from __future__ import annotations

from llvmlite import ir

F32, F64 = ir.FloatType(), ir.DoubleType()


def _elem(t: ir.Type) -> ir.Type:
    return t.element if isinstance(t, ir.VectorType) else t


def _like(t: ir.Type, elem: ir.Type) -> ir.Type:
    return ir.VectorType(elem, t.count) if isinstance(t, ir.VectorType) else elem


def _c(t: ir.Type, v) -> ir.Constant:
    e = _elem(t)
    if isinstance(t, ir.VectorType):
        return ir.Constant(t, [ir.Constant(e, v)] * t.count)
    return ir.Constant(t, v)


class _M:
    """A few typed helpers around an IRBuilder for values of type `t`."""

    def __init__(self, r, t: ir.Type):
        self.r, self.b, self.t = r, r.b, t
        self.bits = 32 if _elem(t) == F32 else 64
        self.it = _like(t, ir.IntType(self.bits))

    def c(self, v): return _c(self.t, v)
    def ci(self, v): return _c(self.it, v)
    def add(self, a, c): return self.b.fadd(a, c)
    def sub(self, a, c): return self.b.fsub(a, c)
    def mul(self, a, c): return self.b.fmul(a, c)
    def div(self, a, c): return self.b.fdiv(a, c)
    def fma(self, a, c, d): return self.b.fadd(self.b.fmul(a, c, flags=("contract",)), d, flags=("contract",))

    def intr(self, name, *args):
        return self.r.call(f"llvm.{name}.{self.r.type_suffix(self.t)}", self.t, list(args))

    def poly(self, x, coeffs):   # Horner, highest power first
        y = self.c(coeffs[0])
        for co in coeffs[1:]:
            y = self.fma(y, x, self.c(co))
        return y

    def lt(self, a, c): return self.b.fcmp_ordered("<", a, c)
    def isnan(self, x): return self.b.fcmp_unordered("uno", x, x)
    def sel(self, cnd, a, c): return self.b.select(cnd, a, c)
    def bits_of(self, x): return self.b.bitcast(x, self.it)
    def from_bits(self, i): return self.b.bitcast(i, self.t)


def _pow2(m: _M, n_int):
    """2**n for integer n in the normal exponent range, built from its bits."""
    bias, mant = (127, 23) if m.bits == 32 else (1023, 52)
    return m.from_bits(m.b.shl(m.b.add(n_int, m.ci(bias)), m.ci(mant)))


def exp(r, x):
    m = _M(r, x.type)
    if m.bits == 32:
        lo, hi = -104.0, 88.8
    else:
        lo, hi = -746.0, 709.9
    xc = m.intr("minnum", m.intr("maxnum", x, m.c(lo)), m.c(hi))
    n = m.intr("rint", m.mul(xc, m.c(1.4426950408889634)))
    if m.bits == 32:
        g = m.fma(n, m.c(-0.693359375), xc)
        g = m.fma(n, m.c(2.12194440e-4), g)
        z = m.mul(g, g)
        y = m.poly(g, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                       1.6666665459e-1, 5.0000001201e-1])
        y = m.add(m.fma(y, z, g), m.c(1.0))
    else:   # Cephes: exp(g) = 1 + 2 g P(g^2) / (Q(g^2) - g P(g^2))
        g = m.fma(n, m.c(-6.93145751953125e-1), xc)
        g = m.fma(n, m.c(-1.42860682030941723212e-6), g)
        z = m.mul(g, g)
        px = m.mul(g, m.poly(z, [1.26177193074810590878e-4, 3.02994407707441961300e-2,
                                 9.99999999999999999910e-1]))
        q = m.poly(z, [3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
                       2.00000000000000000009e0])
        y = m.add(m.mul(m.c(2.0), m.div(px, m.sub(q, px))), m.c(1.0))
    ni = m.b.fptosi(n, m.it)
    n1 = m.b.ashr(ni, m.ci(1))             # 2**n as two factors: each stays a normal number,
    n2 = m.b.sub(ni, n1)                   # so tiny results round once, to a denormal or 0
    res = m.mul(m.mul(y, _pow2(m, n1)), _pow2(m, n2))
    return m.sel(m.isnan(x), x, res)


def log(r, x):
    """float32 natural log (Cephes logf)."""
    m = _M(r, x.type)
    assert m.bits == 32
    tiny = m.lt(x, m.c(1.1754943508222875e-38))      # denormals: scale into the normal range
    xs = m.sel(tiny, m.mul(x, m.c(8388608.0)), x)
    bits = m.bits_of(xs)
    e = m.b.sub(m.b.lshr(bits, m.ci(23)), m.ci(126))
    e = m.b.sub(e, m.b.select(tiny, m.ci(23), m.ci(0)))
    mant = m.from_bits(m.b.or_(m.b.and_(bits, m.ci(0x807FFFFF)), m.ci(0x3F000000)))   # in [0.5, 1)
    small = m.lt(mant, m.c(0.707106781186547524))
    e = m.b.sub(e, m.b.select(small, m.ci(1), m.ci(0)))
    f = m.sub(m.add(mant, m.sel(small, mant, m.c(0.0))), m.c(1.0))
    ef = m.b.sitofp(e, m.t)
    z = m.mul(f, f)
    y = m.poly(f, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                   -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1])
    y = m.mul(m.mul(y, f), z)
    y = m.fma(ef, m.c(-2.12194440e-4), y)
    y = m.fma(z, m.c(-0.5), y)
    res = m.fma(ef, m.c(0.693359375), m.add(f, y))
    inf = float("inf")
    res = m.sel(m.b.fcmp_ordered("==", x, m.c(inf)), x, res)
    res = m.sel(m.b.fcmp_ordered("==", x, m.c(0.0)), m.c(-inf), res)
    return m.sel(m.b.fcmp_unordered("<", x, m.c(0.0)), m.c(float("nan")), res)   # x < 0 or nan


def tanh(r, x):
    m = _M(r, x.type)
    ax = m.intr("fabs", x)
    z = m.mul(x, x)
    if m.bits == 32:   # Cephes tanhf
        small = m.fma(m.mul(m.poly(z, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                                      1.33314422036e-1, -3.33332819422e-1]), z), x, x)
    else:              # Cephes tanh: x + x z P(z)/Q(z)
        p = m.poly(z, [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3])
        q = m.poly(z, [1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3])
        small = m.fma(m.mul(x, z), m.div(p, q), x)
    big = m.sub(m.c(1.0), m.div(m.c(2.0), m.add(exp(r, m.add(ax, ax)), m.c(1.0))))
    big = m.intr("copysign", big, x)
    return m.sel(m.lt(ax, m.c(0.625)), small, big)


_ERF_SERIES = [(-1) ** n / (__import__("math").factorial(n) * (2 * n + 1)) for n in range(7)]
_NR_ERFC = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
            0.37409196, 1.00002368, -1.26551223]


def erf(r, x):
    """float32 erf: its Taylor series below 0.5, else 1 - erfc from Numerical
    Recipes' erfcc (fractional error < 1.2e-7)."""
    m = _M(r, x.type)
    assert m.bits == 32
    two_over_sqrt_pi = 1.1283791670955126
    z = m.mul(x, x)
    small = m.mul(m.mul(x, m.c(two_over_sqrt_pi)), m.poly(z, _ERF_SERIES[::-1]))
    ax = m.intr("fabs", x)
    t = m.div(m.c(1.0), m.fma(ax, m.c(0.5), m.c(1.0)))
    arg = m.sub(m.poly(t, _NR_ERFC), z)
    erfc = m.mul(t, exp(r, arg))
    big = m.intr("copysign", m.sub(m.c(1.0), erfc), x)
    return m.sel(m.lt(ax, m.c(0.5)), small, big)


FUNCS = {"exp": (exp, (32, 64)), "log": (log, (32,)), "tanh": (tanh, (32, 64)), "erf": (erf, (32,))}


def available(op: str, t: ir.Type) -> bool:
    f = FUNCS.get(op)
    return f is not None and _elem(t) in (F32, F64) and (32 if _elem(t) == F32 else 64) in f[1]


def emit(r, op: str, x):
    return FUNCS[op][0](r, x)
