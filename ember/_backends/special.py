"""Special functions in plain array code (NumPy has none of them): erf, erfc, erfinv; lgamma, digamma,
Hurwitz zeta, polygamma; modified Bessel i0/i1 (and scaled); the normal distribution's ndtr, log_ndtr, ndtri.

Each takes `xp` (numpy or cupy) and an array; most compute in float64 and round once to the input's dtype,
so single precision results are correctly rounded or within 1 ulp. digamma, trigamma and polygamma follow
PyTorch's algorithms in its working precision instead (Note [PyTorch's psi family]).
"""
import math

import numpy as _np    # only for np.errstate: CuPy has no errstate (a GPU raises no floating-point warnings),
                       # so NumPy's context silences NumPy's warnings and leaves CuPy's work alone

_SERIES_TERMS = 48      # Taylor terms for |x| <= 2.5: enough for float64 accuracy there
_CF_DEPTH = 80          # continued-fraction depth for erfc at |x| > 2.5


def _erf_series(xp, x):
    # erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), summed from the smallest term up
    x2 = x * x
    term = x.copy()
    terms = [term]
    for n in range(1, _SERIES_TERMS):
        term = term * (-x2) / n
        terms.append(term / (2 * n + 1))
    total = xp.zeros_like(x)
    for t in reversed(terms):
        total = total + t
    return total * (2.0 / math.sqrt(math.pi))


def _erfc_cf(xp, x):
    # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) for x > 0
    k = x.copy()
    for n in range(_CF_DEPTH, 0, -1):
        k = x + (n / 2.0) / k
    return xp.exp(-x * x) / (math.sqrt(math.pi) * k)


def _split(xp, x, small_fn, large_fn, split=2.5):
    work = x.astype(xp.float64) if x.dtype != xp.float64 else x
    ax = xp.abs(work)
    small = ax <= split
    out = xp.empty_like(work)
    if small.any():
        out[small] = small_fn(work[small], ax[small])
    large = ~small
    if large.any():
        out[large] = large_fn(work[large], ax[large])
    return out.astype(x.dtype, copy=False)


# Single-precision path (float32/float16/bfloat16 inputs): two fits evaluated in float64, chosen with
# `where` (no masks, so it runs unchanged on every backend, meta included). Their coefficients are fits to
# Python's math.erf/erfc, made for ember:
#   |x| <= 1.5: erf(x) = x * P(x^2) / Q(x^2), degrees 4 and 3 (Q monic), minimax relative error < 2.2e-10:
#               15 array passes, where the degree-8 polynomial x * P(x^2) it replaces took 17 for 5x the error
#   |x| >  1.5: erfc(x) = exp(-x^2) * Q(1/x), degree 11, least-squares Chebyshev, relative error < 1.6e-9 up
#               to 10.5, where the float32 result underflows anyway
# Both are far below float32's half ulp (3e-8), so results are correctly rounded or within 1 ulp.
_SPLIT = 1.5
_ERF_SMALL_P = (275.441471661775, 19.226963821126944, 8.07873429726983, -0.17522700528471458,
                0.010415191266721519)
_ERF_SMALL_Q = (244.1036485193244, 98.40733936999167, 15.551636038921858)        # and 1 * t^3
_ERFC_LARGE = (-5.38809538860064e-07, 0.5642144924816215, -0.0004947330555853161, -0.27657675187715003,
               -0.03758789469596727, 0.578411364948832, -0.3228403361069736, -1.2207300348698624,
               2.884059624558625, -2.9708362873607523, 1.5896840787716318, -0.36024553569660495)


def _horner(coefficients, v):
    out = coefficients[-1] * v + coefficients[-2]
    for c in coefficients[-3::-1]:
        out *= v
        out += c
    return out


def _erf_small(w, t):
    """erf(w) for |w| <= 1.5 by the rational fit above, t = w * w."""
    q = t + _ERF_SMALL_Q[-1]
    for c in _ERF_SMALL_Q[-2::-1]:
        q *= t
        q += c
    p = _horner(_ERF_SMALL_P, t)
    p *= w                                           # w * p keeps erf(-0.0) == -0.0
    p /= q
    return p


def _fast(xp, x, complement):
    """erf (or erfc) of a single-precision array, computed in float64 by the fits above."""
    work = x.astype(xp.float64)
    t = work * work
    # most inputs live in the small range: skip the tail (one max pass; a NaN max takes the tail path, whose
    # `where` keeps NaN)
    needs_tail = x.size != 0 and not t.max() <= _SPLIT * _SPLIT
    if needs_tail:
        a = xp.abs(work)
        inner = xp.clip(work, -_SPLIT, _SPLIT)       # each fit sees only its range
        small = _erf_small(inner, inner * inner)
    else:
        small = _erf_small(work, t)
    if complement:
        small = 1.0 - small
    if not needs_tail:
        return small.astype(x.dtype)
    big = xp.maximum(a, _SPLIT)
    tail = xp.maximum(xp.exp(-(big * big)) * _horner(_ERFC_LARGE, 1.0 / big), 0.0)     # erfc(|x|)
    if complement:
        large = xp.where(work > 0, tail, 2.0 - tail)
    else:
        large = xp.copysign(1.0 - tail, work)
    return xp.where(a <= _SPLIT, small, large).astype(x.dtype)


def _erf_fast(xp, x):
    return _fast(xp, x, complement=False)


def _erfc_fast(xp, x):
    return _fast(xp, x, complement=True)


def erf(xp, x):
    """Error function: float64 to ~1e-13 relative (series and continued fraction), other float types
    through the fast fits above."""
    x = xp.asarray(x)
    if x.dtype != xp.float64:
        return _erf_fast(xp, x)
    nan = xp.isnan(x)
    out = _split(xp, xp.where(nan, 0, x), lambda v, a: _erf_series(xp, v),
                 lambda v, a: xp.sign(v) * (1.0 - _erfc_cf(xp, a)))
    out = xp.copysign(out, x)                      # erf is odd: keeps erf(-0.0) == -0.0
    return xp.where(nan, x, out) if nan.any() else out


def erfc(xp, x):
    """Complementary error function, without cancellation for large x."""
    x = xp.asarray(x)
    if x.dtype != xp.float64:
        return _erfc_fast(xp, x)
    nan = xp.isnan(x)

    def large(v, a):
        tail = _erfc_cf(xp, a)
        return xp.where(v > 0, tail, 2.0 - tail)
    # 1 - erf only up to 1.5, where erfc is still 0.034 (a few ulp lost); the fraction converges beyond it
    out = _split(xp, xp.where(nan, 0, x), lambda v, a: 1.0 - _erf_series(xp, v), large, split=1.5)
    return xp.where(nan, x, out) if nan.any() else out


# erfcx(x) = exp(x^2) erfc(x) in float64, by range of a = |x|:
#   a < 0.4375:  exp(a^2) (1 - erf(a)), erf by its series (erfc >= 0.53 there: no cancellation)
#   a <= 2.0625: Taylor series about the nearest centre c = k/8 (k = 4..16, |t| = |a - c| <= 1/16):
#                erfcx(c + t) = exp(t (2c + t)) (erfcx(c) - 2/sqrt(pi) sum_n>=1 (-1)^(n-1) H_(n-1)(c) t^n / n!),
#                H the Hermite polynomials; erfcx(c) by the continued fraction taken 3000 deep (converged there)
#   a > 2.0625:  the continued fraction 1 / (sqrt(pi) K(a)) of _erfc_cf without its exp(-a^2) (exact to double
#                precision at depth _CF_DEPTH from a = 2 up)
#   x < 0:       2 exp(x^2) - erfcx(-x), with x^2 split exactly (hi + lo) so exp keeps full accuracy
# Relative error a few ulp (measured against 40-digit mpmath).
_ERFCX_CENTRES = []
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erfcx_centres():
    if not _ERFCX_CENTRES:
        for k in range(4, 17):
            c = k / 8
            q = c
            for n in range(3000, 0, -1):
                q = c + (n / 2.0) / q
            _ERFCX_CENTRES.append(1.0 / (math.sqrt(math.pi) * q))
    return _ERFCX_CENTRES


def _erfcx_nonnegative(xp, a):
    small = a < 0.4375
    large = a > 2.0625
    near = xp.where(small, a, 0.0)
    out = xp.exp(near * near) * (1.0 - _erf_series(xp, near))
    far = xp.where(large, a, 3.0)
    k = far.copy()
    for n in range(_CF_DEPTH, 0, -1):
        k = far + (n / 2.0) / k
    out = xp.where(large, 1.0 / (math.sqrt(math.pi) * k), out)
    middle = ~(small | large)
    if middle.any():
        index = xp.clip(xp.rint(xp.where(middle, a, 1.0) * 8), 4, 16)
        c = index / 8
        t = xp.where(middle, a, 1.0) - c
        base = xp.asarray(_erfcx_centres())[(index - 4).astype(xp.int64)]
        h_prev, h = xp.zeros_like(c), xp.ones_like(c)           # H_(n-2), H_(n-1) at n = 1
        term = t.copy()                                         # (-1)^(n-1) t^n / n!
        total = term.copy()
        for n in range(2, 17):
            h_prev, h = h, 2 * c * h - 2 * (n - 2) * h_prev
            term = term * (-t) / n
            total = total + h * term
        out = xp.where(middle, xp.exp(t * (2 * c + t)) * (base - _TWO_OVER_SQRT_PI * total), out)
    return out


def erfcx(xp, x):
    """Scaled complementary error function exp(x^2) erfc(x): no underflow for large x (~1/(x sqrt(pi)))."""
    x, dtype = _work(xp, x)
    with _np.errstate(all="ignore"):
        a = xp.abs(x)
        out = _erfcx_nonnegative(xp, xp.where(xp.isnan(a), 0.0, a))
        negative = x < 0
        if negative.any():
            v = xp.where(negative, x, 0.0)
            split = v * 134217729.0                             # Veltkamp: v = hi + lo, each of 26 bits
            hi = split - (split - v)
            lo = v - hi
            square = v * v
            error = ((hi * hi - square) + 2 * hi * lo) + lo * lo   # v^2 = square + error exactly
            error = xp.where(xp.isfinite(error), error, 0.0)     # huge |v|: exp overflows anyway
            out = xp.where(negative, 2 * (xp.exp(square) * (1.0 + error)) - out, out)
        out = xp.where(xp.isnan(x), x, out)
    return out.astype(dtype)


def erfinv(xp, y):
    """Inverse error function: a closed-form first guess refined by Newton steps on erf."""
    y = xp.asarray(y)
    work = y.astype(xp.float64)
    a = 0.147
    with _np.errstate(divide="ignore", invalid="ignore"):
        ln = xp.log1p(-work * work)
        first = 2 / (math.pi * a) + ln / 2
        x = xp.sign(work) * xp.sqrt(xp.sqrt(first * first - ln / a) - first)
        inside = xp.abs(work) < 1
        for _ in range(4):
            step = (erf(xp, xp.where(inside, x, 0)) - xp.where(inside, work, 0)) / \
                (2 / math.sqrt(math.pi) * xp.exp(-xp.where(inside, x, 0) ** 2))
            x = xp.where(inside, x - step, x)
        x = xp.where(work == 1, xp.inf, xp.where(work == -1, -xp.inf, x))
        # outside [-1, 1]: NaN, with the sign bit set in float32 and bfloat16 as PyTorch's kernels give it
        x = xp.where(xp.abs(work) > 1, -xp.nan if y.dtype.itemsize == 4 or y.dtype.kind == "V" else xp.nan, x)
    return x.astype(y.dtype, copy=False)


# --- gamma family ------------------------------------------------------------------------------------
# Notes on the methods (accuracy measured against PyTorch and a 30-digit reference):
#   lgamma: x >= 12 Stirling's series (8 terms); [1.5, 2.5) and [0.5, 1.5) the Taylor series of lgamma
#           about 2 and 1 (coefficients from zeta(k), computed below), so the zeros at 1 and 2 keep full
#           relative accuracy; [2.5, 12) shifts down by the recurrence, (0, 0.5) up; x < 0 reflects.
#           Relative error < 4e-16 for x > 0; for x < 0 near the zeros of lgamma only absolute accuracy.
#   digamma: recurrence up to x >= 10, then the asymptotic series; x < 0 reflects (pi cot(pi x)).
#           Absolute error ~1e-16 near its root 1.4616 (as PyTorch's), relative 1e-15 elsewhere.
#   zeta(s, q): Euler-Maclaurin summation with 12 Bernoulli terms after summing directly up to q + k >= 10 + s.
# The Bernoulli numbers B_2, B_4, ..., B_26 as exact (numerator, denominator) pairs; integer true division
# rounds each coefficient below correctly.
_B2K = ((1, 6), (-1, 30), (1, 42), (-1, 30), (5, 66), (-691, 2730), (7, 6), (-3617, 510), (43867, 798),
        (-174611, 330), (854513, 138), (-236364091, 2730), (8553103, 6))
_EM = [n / (d * math.factorial(2 * k + 2)) for k, (n, d) in enumerate(_B2K[:12])]   # B_2j / (2j)!
_STIRLING = [n / (d * (2 * k + 2) * (2 * k + 1)) for k, (n, d) in enumerate(_B2K[:8])]
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)
_EULER = 0.57721566490153286061


def _work(xp, x):
    """float64 working copy of x (any real dtype) and the dtype to round back to."""
    x = xp.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("complex input")
    return x.astype(xp.float64), x.dtype


def _poly(xp, coefficients, v):
    out = xp.zeros_like(v) + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * v + c
    return out


def zeta(xp, s, q):
    """Hurwitz zeta: sum over k >= 0 of (q + k)^-s. Edge values follow PyTorch (s = 1: inf, s < 1: nan,
    q a non-positive integer: inf, q < 0 with s not an integer: nan)."""
    s, q = xp.broadcast_arrays(xp.asarray(s, dtype=xp.float64), xp.asarray(q, dtype=xp.float64))
    with _np.errstate(all="ignore"):
        bad = ~(xp.isfinite(s) & xp.isfinite(q)) | (s <= 1)
        s_ = xp.where(bad, 2.0, s)
        q_ = xp.where(bad, 1.0, q)
        pole = (q_ <= 0) & (q_ == xp.floor(q_))
        q_ = xp.where(pole, 1.0, q_)
        total = xp.zeros_like(s_)
        a = q_.copy()
        target = 10.0 + xp.minimum(s_, 1e4)         # far enough out for the Euler-Maclaurin tail
        done = xp.zeros(s_.shape, dtype=bool)       # the tail is below rounding: stop summing
        active = a < target
        while active.any():
            term = a ** -s_
            total = xp.where(active, total + term, total)
            a = xp.where(active, a + 1, a)
            done |= active & (xp.abs(a ** (1 - s_) / (s_ - 1)) <= 1e-18 * xp.abs(total))
            active = (a < target) & ~done
        power = a ** -s_
        factor = s_ / a                               # rising factorial (s)_(2j-1) / a^(2j-1)
        tail = a / (s_ - 1) + 0.5
        for j, c in enumerate(_EM, start=1):
            tail = tail + c * factor
            factor = factor * (s_ + 2 * j - 1) * (s_ + 2 * j) / (a * a)
        out = total + xp.where(done, 0.0, power * tail)
        out = xp.where(pole, xp.inf, out)
        out = xp.where((q < 0) & (s != xp.floor(s)) & ~pole, xp.nan, out)
        out = xp.where(s == 1, xp.inf, xp.where(s < 1, xp.nan, out))
        # s = inf: PyTorch gives inf for q < 1, 1 at q = 1 and nan beyond; q = -inf gives inf
        out = xp.where(xp.isinf(s) & (s > 0), xp.where(q < 1, xp.inf, xp.where(q == 1, 1.0, xp.nan)), out)
        out = xp.where(xp.isnan(s) | xp.isnan(q) | (q == xp.inf), xp.nan, xp.where(q == -xp.inf, xp.inf, out))
    return out


# Taylor coefficients of lgamma about 1 and 2: (-1)^k zeta(k) / k and (-1)^k (zeta(k) - 1) / k, with zeta(k) - 1
# summed directly as zeta(k, 2) so that it keeps full relative accuracy.

def _lgamma_coefficients():
    import numpy
    k = numpy.arange(2, 60, dtype=numpy.float64)
    zeta_minus_one = zeta(numpy, k, 2.0)
    sign = (-1.0) ** k
    about_one = [0.0, -_EULER] + list(sign * (zeta_minus_one + 1) / k)
    about_two = [0.0, 1 - _EULER] + list((sign * zeta_minus_one / k)[:30])
    return about_one, about_two


_LGAMMA_ABOUT_1, _LGAMMA_ABOUT_2 = _lgamma_coefficients()


def _sinpi(xp, x):
    """sin(pi x) with the argument reduced exactly first (so it is 0 at integers, accurate near them)."""
    n = xp.round(x)
    r = x - n
    return xp.sin(math.pi * r) * xp.where(xp.fmod(n, 2) == 0, 1.0, -1.0)


def _lgamma_positive(xp, x):
    """lgamma for x > 0 (finite)."""
    small = x < 0.5
    shift = xp.where(small, -xp.log(xp.where(small, x, 1.0)), 0.0)
    x = xp.where(small, x + 1, x)
    # reduce [2.5, 12) to [1.5, 2.5), collecting the product of the steps
    product = xp.ones_like(x)
    t = x.copy()
    for _ in range(10):
        step = (t >= 2.5) & (t < 12)
        t = xp.where(step, t - 1, t)
        product = xp.where(step, product * t, product)
    near_one = _poly(xp, _LGAMMA_ABOUT_1, t - 1)
    near_two = _poly(xp, _LGAMMA_ABOUT_2, t - 2)
    big = xp.maximum(x, 12.0)
    inv = 1.0 / big
    stirling = big * (xp.log(big) - 1) - 0.5 * xp.log(big) + _HALF_LOG_2PI + \
        _poly(xp, _STIRLING, inv * inv) * inv
    out = xp.where(t < 1.5, near_one, near_two) + xp.log(product)
    return xp.where(x >= 12, stirling, out) + shift


def lgamma(xp, x):
    """log |Gamma(x)|: inf at the poles (non-positive integers) and at +-inf."""
    x, dtype = _work(xp, x)
    with _np.errstate(all="ignore"):
        finite = xp.isfinite(x)
        positive = finite & (x > 0)
        pos = _lgamma_positive(xp, xp.where(positive, x, 1.0))
        negative = finite & (x <= 0)
        xn = xp.where(negative, x, -0.5)
        reflected = _LOG_PI - xp.log(xp.abs(_sinpi(xp, xn))) - _lgamma_positive(xp, 1 - xn)
        out = xp.where(positive, pos, xp.where(negative, reflected, xp.abs(x)))
        out = xp.where(negative & (xn == xp.floor(xn)), xp.inf, out)
    return out.astype(dtype)


# Note [PyTorch's psi family]: digamma, trigamma (polygamma(1, x)) and polygamma(n >= 2) follow PyTorch's CPU
# algorithms step by step, in its working precision (float64 for double; float32 for float and the half types,
# except digamma's reflection term, which PyTorch computes in double), so that results agree to a few ulps
# where PyTorch is itself inexact: its trigamma series is good to ~1e-11 relative, and near the poles its
# reflection terms carry the rounding of pi * x (the large finite trigamma at a non-positive integer, the
# gradient of digamma there, comes from sin(pi * x) != 0).
_PSI_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
          -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
          8.33333333333333333333E-2)                  # digamma's asymptotic series in 1/x^2, leading term first
_PSI_10 = 2.25175258906672110764                       # digamma(10)


def _psi_work(xp, x):
    """x in PyTorch's working dtype for the psi family (float64, or float32), and the dtype to round back to."""
    x = xp.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("complex input")
    work = xp.float64 if x.dtype == xp.float64 else xp.float32
    return x.astype(work), x.dtype


def _digamma_nonnegative(xp, x):
    """digamma for x >= 0 (or nan) in x's dtype: the recurrence up to 10, then the asymptotic series."""
    dtype = x.dtype.type
    one = dtype(1)
    result = xp.zeros_like(x)
    for _ in range(10):                              # psi(x) = psi(x + 1) - 1/x until x >= 10
        step = x < 10
        result = xp.where(step, result - one / x, result)
        x = xp.where(step, x + one, x)
    z = one / (x * x)
    series = xp.full_like(x, _PSI_A[0])
    for c in _PSI_A[1:]:
        series = series * z + dtype(c)
    y = xp.where(x < 1e17, z * series, dtype(0))
    return xp.where(x == 10, result + dtype(_PSI_10), result + xp.log(x) - dtype(0.5) / x - y)


def digamma(xp, x):
    """psi(x) = d/dx lgamma(x): -inf at +0, +inf at -0, nan at negative integers and -inf (as PyTorch).
    Note [PyTorch's psi family]."""
    x, dtype = _psi_work(xp, x)
    with _np.errstate(all="ignore"):
        negative = x < 0
        integer = x == xp.trunc(x)
        # psi(x) = psi(1 - x) - pi / tan(pi r), r the fractional part of x (tan(pi r) is the more accurate)
        r = x.astype(xp.float64) - xp.trunc(x).astype(xp.float64)
        reflection = (math.pi / xp.tan(math.pi * xp.where(negative & ~integer, r, 0.5))).astype(x.dtype)
        out = _digamma_nonnegative(xp, xp.where(negative, 1 - x, x))
        out = xp.where(negative, xp.where(integer, xp.nan, out - reflection), out)
        out = xp.where(x == 0, xp.where(xp.signbit(x), xp.inf, -xp.inf), out)
    return out.astype(dtype)


def trigamma(xp, x):
    """polygamma(1, x): reflected below 1/2, six recurrence steps, then an asymptotic series (PyTorch's
    algorithm, Note [PyTorch's psi family]); large but finite at the non-positive integers."""
    x, dtype = _psi_work(xp, x)
    t = x.dtype.type
    one = t(1)
    with _np.errstate(all="ignore"):
        small = x < 0.5
        sin_pi_x = xp.sin(t(math.pi) * x)
        result = xp.where(small, -((t(math.pi) * t(math.pi)) / (sin_pi_x * sin_pi_x)), t(0))
        x = xp.where(small, one - x, x)
        for _ in range(6):
            result = result + one / (x * x)
            x = x + one
        ixx = one / (x * x)
        result = result + (one + one / (t(2) * x) + ixx * (t(1. / 6) - ixx * (t(1. / 30) - ixx * t(1. / 42)))) / x
        out = xp.where(small, -result, result)
    return out.astype(dtype)


# Coefficients of the Euler-Maclaurin tail in Cephes' zeta, as PyTorch's zeta uses them: (2k)! / B_2k
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)
_MACHEP = 1.11022302462515654042E-16


def _cephes_zeta(xp, s, q):
    """Hurwitz zeta(s, q) for an integer s >= 2 and float q, by PyTorch's (Cephes') algorithm: the direct sum
    until the terms fall below rounding or q + k > 9, then the Euler-Maclaurin tail; inf at the non-positive
    integers, nan at nan."""
    pole = (q <= 0) & (q == xp.floor(q))
    dead = pole | (q != q)
    a = xp.where(dead, 1.0, q).astype(q.dtype)
    acc = a ** -s
    b = xp.zeros_like(a)
    finished = dead.copy()
    i = 0
    while True:                                   # the direct sum
        going = ~finished & ((i < 9) | (a <= 9.0))
        if not going.any():
            break
        i += 1
        a = xp.where(going, a + 1.0, a)
        b = xp.where(going, a ** -s, b)
        acc = xp.where(going, acc + b, acc)
        finished |= going & (-_MACHEP * acc < b) & (b < _MACHEP * acc)
    w = a
    tail = ~finished
    acc = xp.where(tail, acc + b * w / (s - 1) - 0.5 * b, acc)
    factor = xp.ones_like(a)
    k = 0.0
    for c in _ZETA_A:
        factor = factor * (s + k)
        b = b / w
        term = factor * b / c
        acc = xp.where(tail, acc + term, acc)
        tail &= ~(xp.abs(term / acc) < _MACHEP)
        k += 1.0
        factor = factor * (s + k)
        b = b / w
        k += 1.0
    return xp.where(pole, xp.inf, xp.where(q != q, xp.nan, acc))


def polygamma(xp, n, x):
    """n-th derivative of digamma: trigamma for n = 1, (-1)^(n+1) n! zeta(n + 1, x) for n >= 2, the zeta
    computed as PyTorch does (in float64 for float64 and float32 inputs, in float32 for the half types) and
    rounded to the input's precision before the product."""
    if n == 0:
        return digamma(xp, x)
    if n == 1:
        return trigamma(xp, x)
    x = xp.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("complex input")
    dtype = x.dtype
    with _np.errstate(all="ignore"):
        work = xp.float64 if dtype.itemsize >= 4 else xp.float32
        z = _cephes_zeta(xp, float(n + 1), x.astype(work)).astype(dtype).astype(xp.float64)
        out = ((-1.0) ** (n + 1) * math.exp(math.lgamma(n + 1.0))) * z
    return out.astype(dtype)


# --- modified Bessel functions of order 0 and 1 -------------------------------------------------------
# |x| <= 20: the power series sum (x^2/4)^k / (k! (k + nu)!) (positive terms, 60 of them); beyond: the
# asymptotic series e^x / sqrt(2 pi x) * sum b_k / x^k, whose terms shrink until k ~ 2x, cut at 34 terms.
# Relative error < 1e-15 over the whole range (measured against a 30-digit reference).
_BESSEL_SPLIT = 20.0


def _series_coefficients(nu, count=60):
    return [1.0 / (math.factorial(k) * math.factorial(k + nu)) for k in range(count)]


def _asymptotic_coefficients(nu, count=34):
    out = [1.0]
    for k in range(1, count):
        out.append(out[-1] * ((2 * k - 1) ** 2 - 4 * nu * nu) / (8 * k))
    return out


_I_SERIES = {0: _series_coefficients(0), 1: _series_coefficients(1)}
_I_ASYMPTOTIC = {0: _asymptotic_coefficients(0), 1: _asymptotic_coefficients(1)}


def _bessel_i(xp, x, nu, scaled):
    x, dtype = _work(xp, x)
    with _np.errstate(all="ignore"):
        a = xp.abs(x)
        inner = xp.minimum(a, _BESSEL_SPLIT)
        series = _poly(xp, _I_SERIES[nu], inner * inner / 4) * (inner / 2) ** nu
        if scaled:
            series = series * xp.exp(-inner)
        outer = xp.maximum(a, _BESSEL_SPLIT)
        asymptotic = _poly(xp, _I_ASYMPTOTIC[nu], 1 / outer) / xp.sqrt(2 * math.pi * outer)
        if not scaled:
            # e^x / sqrt(..) in two halves so that it overflows only where the result does
            half = xp.exp(outer / 2)
            asymptotic = asymptotic * half * half
        out = xp.where(a <= _BESSEL_SPLIT, series, asymptotic)
        if scaled:
            out = xp.where(xp.isinf(a), 0.0, out)
        else:
            out = xp.where(xp.isinf(a), xp.nan, out)  # PyTorch: i0(+-inf) and i1(+-inf) are nan
        out = xp.where(xp.isnan(x), x, out)
        if nu == 1:
            out = xp.copysign(out, x)                # odd
    return out.astype(dtype)


def i0(xp, x):
    """Modified Bessel function of the first kind, order 0."""
    return _bessel_i(xp, x, 0, False)


def i0e(xp, x):
    """exp(-|x|) i0(x)."""
    return _bessel_i(xp, x, 0, True)


def i1(xp, x):
    """Modified Bessel function of the first kind, order 1."""
    return _bessel_i(xp, x, 1, False)


def i1e(xp, x):
    """exp(-|x|) i1(x)."""
    return _bessel_i(xp, x, 1, True)


# --- the standard normal distribution ---------------------------------------------------------------
_SQRT_HALF = math.sqrt(0.5)


def ndtr(xp, x):
    """P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2."""
    x, dtype = _work(xp, x)
    return (0.5 * erfc(xp, -x * _SQRT_HALF)).astype(dtype)


def _log_ndtr64(xp, x):
    with _np.errstate(all="ignore"):
        z = -x * _SQRT_HALF
        # far in the lower tail erfc underflows: log erfc(z) = -z^2 - log(sqrt(pi) K(z)), K the continued fraction
        zt = xp.maximum(z, 3.0)
        k = zt.copy()
        for n in range(_CF_DEPTH, 0, -1):
            k = zt + (n / 2.0) / k
        lower = -zt * zt - xp.log(2 * math.sqrt(math.pi) * k)
        middle = xp.log(0.5 * erfc(xp, z))
        upper = xp.log1p(-0.5 * erfc(xp, -z))        # x > 0: log(1 - small) without cancellation
        out = xp.where(z > 3.0, lower, xp.where(x > 0, upper, middle))
        return xp.where(x == -xp.inf, -xp.inf, out)


def log_ndtr(xp, x):
    """log ndtr(x), accurate in both tails (no underflow for very negative x)."""
    x, dtype = _work(xp, x)
    return _log_ndtr64(xp, x).astype(dtype)


def ndtri(xp, p):
    """The standard normal quantile (inverse of ndtr): -inf at 0, inf at 1, nan outside [0, 1].

    Central part (|p - 1/2| <= 1/4): sqrt 2 erfinv(2p - 1), where 2p - 1 is exact. Tails: Newton's method on
    log ndtr(x) = log q with q = min(p, 1 - p) (exact there), started from the asymptotic
    x^2 ~ -2 log q - log(-4 pi log q); log ndtr is concave, so the iteration converges monotonically.
    Relative error < 1e-15."""
    p, dtype = _work(xp, p)
    with _np.errstate(all="ignore"):
        central = xp.abs(p - 0.5) <= 0.25
        mid = math.sqrt(2) * erfinv(xp, xp.where(central, 2 * p - 1, 0.0))
        q = xp.where(central | ~((p > 0) & (p < 1)), 0.1, xp.minimum(p, 1 - p))
        log_q = xp.log(q)
        t = -2 * log_q
        x = -xp.sqrt(xp.maximum(t - xp.log(2 * math.pi * t), 0.25))
        for _ in range(6):
            f = _log_ndtr64(xp, x) - log_q
            # derivative of log ndtr: phi(x) / ndtr(x) = exp(-x^2/2 - log ndtr(x)) / sqrt(2 pi)
            slope = xp.exp(-0.5 * x * x - _log_ndtr64(xp, x)) / math.sqrt(2 * math.pi)
            x = x - f / slope
        tail = xp.where(p > 0.5, -x, x)
        out = xp.where(central, mid, tail)
        out = xp.where(p == 0, -xp.inf, xp.where(p == 1, xp.inf, out))
        out = xp.where((p < 0) | (p > 1) | xp.isnan(p), xp.nan, out)
    return out.astype(dtype)
