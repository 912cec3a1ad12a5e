"""erf, erfc, erfinv, lgamma-free special functions in plain array code (NumPy has none of them)."""
import math

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


def _split(xp, x, small_fn, large_fn):
    work = x.astype(xp.float64) if x.dtype != xp.float64 else x
    ax = xp.abs(work)
    small = ax <= 2.5
    out = xp.empty_like(work)
    if small.any():
        out[small] = small_fn(work[small], ax[small])
    large = ~small
    if large.any():
        out[large] = large_fn(work[large], ax[large])
    return out.astype(x.dtype, copy=False)


def erf(xp, x):
    """Error function, accurate to float64 rounding."""
    x = xp.asarray(x)
    nan = xp.isnan(x)
    out = _split(xp, xp.where(nan, 0, x), lambda v, a: _erf_series(xp, v),
                 lambda v, a: xp.sign(v) * (1.0 - _erfc_cf(xp, a)))
    return xp.where(nan, x, out) if nan.any() else out


def erfc(xp, x):
    """Complementary error function, without cancellation for large x."""
    x = xp.asarray(x)
    nan = xp.isnan(x)

    def large(v, a):
        tail = _erfc_cf(xp, a)
        return xp.where(v > 0, tail, 2.0 - tail)
    out = _split(xp, xp.where(nan, 0, x), lambda v, a: 1.0 - _erf_series(xp, v), large)
    return xp.where(nan, x, out) if nan.any() else out


def erfinv(xp, y):
    """Inverse error function: a closed-form first guess refined by Newton steps on erf."""
    y = xp.asarray(y)
    work = y.astype(xp.float64)
    a = 0.147
    with xp.errstate(divide="ignore", invalid="ignore"):
        ln = xp.log1p(-work * work)
        first = 2 / (math.pi * a) + ln / 2
        x = xp.sign(work) * xp.sqrt(xp.sqrt(first * first - ln / a) - first)
        inside = xp.abs(work) < 1
        for _ in range(4):
            step = (erf(xp, xp.where(inside, x, 0)) - xp.where(inside, work, 0)) / \
                (2 / math.sqrt(math.pi) * xp.exp(-xp.where(inside, x, 0) ** 2))
            x = xp.where(inside, x - step, x)
        x = xp.where(work == 1, xp.inf, xp.where(work == -1, -xp.inf, x))
        x = xp.where(xp.abs(work) > 1, xp.nan, x)
    return x.astype(y.dtype, copy=False)
