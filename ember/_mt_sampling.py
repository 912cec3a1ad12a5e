"""NumPy transforms that turn raw mt19937 words into PyTorch's CPU samples, bit for bit.

Everything here is a pure function of arrays. The facts reproduced (from PyTorch 2.13's public
headers and empirical checks against it; see tests/test_random.py):

- a float32 uniform takes the low 24 bits of one 32-bit word, a float64 uniform the low 53 bits of
  a 64-bit word made from two consecutive words (the first is the high half);
- PyTorch's CPU kernels are compiled with floating-point contraction, so every ``a * b + c`` in them
  is one fused multiply-add: we emulate FMA exactly (``fma32``/``fma64``);
- float32 normals in tensors of >= 16 elements use Box-Muller on blocks of 16 with Cephes-style
  AVX2 polynomials for log and sin/cos (the AVX2 kernel, which PyTorch selects on x86 CPUs with
  AVX2); float64 blocks use the C library's log/sin/cos. NumPy's float64 loops reproduce them on most
  builds, but where NumPy dispatches to vectorised (AVX-512) versions of log, log1p, exp or tan, those
  differ from the C library in the last bit for a few percent of inputs: ``libm`` checks once per
  function and then calls the C library's element by element (Python's math module) where needed.
"""
import math

import numpy as np

_F32, _F64 = np.float32, np.float64
_MASK53 = np.uint64((1 << 53) - 1)
TWO_PI = _TWO_PI = 2.0 * np.pi


def unit_float32(words):
    """Uniform [0, 1) float32 from 32-bit words: low 24 bits times 2**-24."""
    low = words.astype(np.uint32)
    low &= np.uint32(0xFFFFFF)
    values = low.view(np.int32).astype(_F32)     # int32 -> float32 converts fastest
    values *= _F32(2.0**-24)
    return values


def unit_float64(words64):
    """Uniform [0, 1) float64 from 64-bit words: low 53 bits times 2**-53."""
    values = (words64 & _MASK53).view(np.int64).astype(_F64)
    values *= 2.0**-53
    return values


# ---------------------------------------------------------------- exact fused multiply-add

def _round_to_odd_sum(x, y):
    """x + y in float64 rounded to odd: a later rounding to fewer bits then rounds only once."""
    s = x + y
    b = s - x
    err = (x - (s - b)) + (y - b)                # TwoSum: x + y == s + err exactly
    bits = s.view(np.int64)
    inexact_even = (err != 0) & ((bits & 1) == 0)
    if inexact_even.any():
        step = np.where(np.signbit(err) == np.signbit(s), 1, -1)
        s = np.where(inexact_even, bits + step, bits).view(_F64)
    return s


def fma32(a, b, c):
    """Correctly rounded float32 a * b + c (the product of two floats is exact in float64)."""
    p = np.multiply(a, b, dtype=_F64)
    c = np.broadcast_to(np.asarray(c, _F64), p.shape)
    return _round_to_odd_sum(p, c).astype(_F32)


def _split(a):
    t = 134217729.0 * a                          # Veltkamp: 2**27 + 1 splits 53 bits into 26 + 27
    high = t - (t - a)
    return high, a - high


def fma64(a, b, c):
    """Correctly rounded float64 a * b + c (Boldo-Melquiond: TwoProduct, TwoSum, round to odd)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, _F64), np.asarray(b, _F64), np.asarray(c, _F64))
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    p_err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = c + p
    t = s - c
    s_err = (c - (s - t)) + (p - t)
    return s + _round_to_odd_sum(s_err, p_err)


def scale_shift(values, std, mean, fused=True):
    """values * std + mean as PyTorch's kernels round it (one FMA when ``fused``)."""
    if std == 1 and mean == 0:
        return values
    if mean == 0:                                 # fma(v, s, +0) == v * s + 0 (also for -0)
        return values * values.dtype.type(std) + values.dtype.type(0)
    if std == 1:
        return values + values.dtype.type(mean)
    if not fused:
        return values * values.dtype.type(std) + values.dtype.type(mean)
    if values.dtype == _F32:
        return fma32(values, _F32(std), _F32(mean))
    return fma64(values, std, mean)


# ---------------------------------------------------------------- AVX2 log / sincos (float32)
# Cephes single-precision polynomials as evaluated by PyTorch's AVX2 normal kernel, every
# multiply-add fused. Each fused step is evaluated as float32(float64(a) * b + c): the product
# is exact in float64, and an exhaustive check over all 2**24 possible inputs showed that the
# double rounding this leaves never changes a result, so no round-to-odd is needed here.

_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
          -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
_COS_P = (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)
_SIN_P = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)
_DP = (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8)


def _fused_step(y, x64, c, tmp):
    """y <- float32(y * x + c) with one rounding, in place (y float32, x64 float64)."""
    np.multiply(y, x64, out=tmp)
    np.add(tmp, c, out=y, casting="same_kind")


def _horner(x64, coefficients, tmp):
    """Fused Horner evaluation of a polynomial at x64 (float64 copy of float32 values)."""
    np.multiply(x64, _F64(_F32(coefficients[0])), out=tmp)
    y = np.empty(x64.shape, dtype=_F32)
    np.add(tmp, _F64(_F32(coefficients[1])), out=y, casting="same_kind")
    for coefficient in coefficients[2:]:
        _fused_step(y, x64, _F64(_F32(coefficient)), tmp)
    return y


_SQRTHF_BITS = np.int32(0x3F3504F3)             # float32(sqrt(0.5)) as bits


def log_avx2(x):
    """Natural log of positive normal float32 values, as PyTorch's AVX2 kernel computes it."""
    bits = x.view(np.int32)
    mantissa_bits = bits & 0x007FFFFF
    mantissa_bits |= 0x3F000000                  # mantissa in [0.5, 1)
    small = mantissa_bits - _SQRTHF_BITS
    small >>= 31                                 # -1 where mantissa < sqrt(0.5), else 0
    exponent = bits >> 23
    exponent += small
    exponent -= 126
    exponent = exponent.astype(_F32)
    mantissa = mantissa_bits.view(_F32)
    small &= mantissa_bits
    x = mantissa - _F32(1)
    x += small.view(_F32)                        # x = 2m - 1 or m - 1
    z = x * x
    x64 = x.astype(_F64)
    tmp = np.empty_like(x64)
    y = _horner(x64, _LOG_P, tmp)
    y *= x
    # y * z + e * q1: the compiler fuses the first product into the add
    np.multiply(y, z, out=tmp, dtype=_F64)
    tmp += exponent * _F32(-2.12194440e-4)
    np.copyto(y, tmp, casting="same_kind")
    z *= _F32(0.5)
    y -= z
    x += y
    exponent *= _F32(0.693359375)                # exact product: fused or not gives the same
    x += exponent
    return x


def sincos_avx2(x):
    """(sin, cos) of non-negative float32 values, as PyTorch's AVX2 kernel computes them."""
    quadrant = (x * _F32(1.27323954473516)).astype(np.int32)      # x * 4/pi, truncated
    quadrant += 1
    quadrant &= ~1
    y = quadrant.astype(_F32)
    # extended-precision x - j*pi/4; the first two products are exact in float32
    x = x + y * _F32(_DP[0])
    x += y * _F32(_DP[1])
    tmp = np.multiply(y, _F64(_F32(_DP[2])), dtype=_F64)
    tmp += x
    x = tmp.astype(_F32)
    z = x * x
    z64 = z.astype(_F64)
    cos_poly = _horner(z64, _COS_P, tmp)
    cos_poly *= z
    np.multiply(cos_poly, z64, out=tmp)
    half_z = z * _F32(0.5)
    tmp -= half_z
    np.copyto(cos_poly, tmp, casting="same_kind")
    cos_poly += _F32(1)
    sin_poly = _horner(z64, _SIN_P, tmp)
    sin_poly *= z
    np.multiply(sin_poly, x, out=tmp, dtype=_F64)
    tmp += x
    np.copyto(sin_poly, tmp, casting="same_kind")
    # select the polynomial per octant and flip signs with integer masks (np.where is slow here)
    sin_bits, cos_bits = sin_poly.view(np.int32), cos_poly.view(np.int32)
    swap = sin_bits ^ cos_bits
    swap_mask = quadrant << 30
    swap_mask >>= 31                             # -1 where quadrant & 2: the octant swaps them
    swap &= swap_mask
    sin_bits ^= swap                             # now the sine in every octant
    cos_bits ^= swap
    sin_sign = quadrant & 4                      # sign flips as integer masks on the sign bit
    sin_sign <<= 29
    sin_bits ^= sin_sign
    quadrant += 2                                # for even quadrants, (j + 2) & 4 == ~(j - 2) & 4
    quadrant &= 4
    quadrant <<= 29
    cos_bits ^= quadrant
    return sin_bits.view(_F32), cos_bits.view(_F32)


# ---------------------------------------------------------------- Box-Muller on blocks of 16

def normal_blocks(u, mean, std, out=None):
    """Box-Muller over consecutive blocks of 16 uniforms (first 8 radii, last 8 angles)."""
    blocks = u.reshape(-1, 2, 8)
    u1 = 1 - blocks[:, 0]                        # [0, 1) -> (0, 1] for the log
    u2 = blocks[:, 1]
    out = np.empty_like(blocks) if out is None else out.reshape(blocks.shape)
    if u.dtype == _F32:
        radius = np.sqrt(_F32(-2) * log_avx2(u1))
        sin, cos = sincos_avx2(_F32(_TWO_PI) * u2)
    else:
        radius = np.sqrt(-2.0 * libm("log", u1))
        theta = _TWO_PI * u2
        sin, cos = np.sin(theta), np.cos(theta)
    np.multiply(radius, cos, out=out[:, 0])
    np.multiply(radius, sin, out=out[:, 1])
    out = out.reshape(-1)
    out[...] = scale_shift(out, std, mean)
    return out


def box_muller_pairs(u):
    """Scalar-kernel Box-Muller in float64: words pair (u1 angle, u2 radius) -> (cos, sin) parts."""
    u1, u2 = u[0::2], u[1::2]
    radius = np.sqrt(-2.0 * libm("log1p", -u2))
    theta = _TWO_PI * u1
    return radius * np.cos(theta), radius * np.sin(theta)


# ---------------------------------------------------------------- the C library's float64 functions

def _log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _log1p(x):
    return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


_LIBM = {"log": _log, "log1p": _log1p, "exp": _exp, "tan": math.tan}
_PROBES = {"log": lambda u: 1.0 - u, "log1p": lambda u: -u, "exp": lambda u: 20.0 * u - 10.0,
           "tan": lambda u: np.pi * (u - 0.5)}
_NUMPY_AGREES = {}


def libm(name, x):
    """float64 `name` (log, log1p, exp, tan) of an array, rounded as the C library rounds it."""
    agrees = _NUMPY_AGREES.get(name)
    if agrees is None:
        probe = _PROBES[name](np.random.default_rng(12345).random(4096))
        fn = _LIBM[name]
        agrees = _NUMPY_AGREES[name] = bool(np.array_equal(getattr(np, name)(probe), [fn(v) for v in probe.tolist()]))
    x = np.asarray(x, dtype=np.float64)
    if agrees:
        with np.errstate(all="ignore"):
            return getattr(np, name)(x)
    return np.fromiter(map(_LIBM[name], x.ravel().tolist()), np.float64, x.size).reshape(x.shape)
