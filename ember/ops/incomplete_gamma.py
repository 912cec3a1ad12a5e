"""The regularised lower incomplete gamma function P(a, x) as a primitive (what torch.special.gammainc computes),
used by Gamma.cdf: a power series below x = a + 1, Legendre's continued fraction above (Numerical Recipes 6.2),
evaluated in float64. Its derivative in x is the gamma density; PyTorch has none in a.
"""
import math

import numpy as np

from ..autograd.function import Op

_EPS = 1e-16
_MAX_TERMS = 100000


def _lgamma(a):
    return np.vectorize(math.lgamma, otypes=[np.float64])(a) if a.size else a.copy()


def _lower_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))."""
    term = 1.0 / a
    total = term.copy()
    denom = a.copy()
    active = np.ones(a.shape, dtype=bool)
    for _ in range(_MAX_TERMS):
        denom = denom + 1
        term = np.where(active, term * x / denom, term)
        total = np.where(active, total + term, total)
        active &= np.abs(term) > np.abs(total) * _EPS
        if not active.any():
            break
    return total * np.exp(a * np.log(x) - x - _lgamma(a))


def _upper_fraction(a, x):
    """Q(a, x) by the modified Lentz evaluation of Legendre's continued fraction."""
    tiny = 1e-300
    b = x + 1 - a
    c = np.full(a.shape, 1 / tiny)
    d = 1 / b
    h = d.copy()
    active = np.ones(a.shape, dtype=bool)
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1 / d
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1) > _EPS
        if not active.any():
            break
    return np.exp(a * np.log(x) - x - _lgamma(a)) * h


def gammainc_array(a, x):
    """P(a, x) element-wise, with ATen's edge cases (NaN outside the domain, 1 at x = inf, 0 at x = 0)."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.full(a.shape, np.nan)
    with np.errstate(all="ignore"):
        regular = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
        series = regular & (x < a + 1)
        fraction = regular & ~series
        if series.any():
            out[series] = _lower_series(a[series], x[series])
        if fraction.any():
            out[fraction] = 1 - _upper_fraction(a[fraction], x[fraction])
        out[(a >= 0) & (x == 0) & ~((a == 0) & (x == 0))] = 0.0
        out[(a == 0) & (x > 0)] = 1.0
        out[np.isinf(x) & (x > 0) & np.isfinite(a) & (a >= 0)] = 1.0
        out[np.isinf(a) & (a > 0) & np.isfinite(x) & (x >= 0)] = 0.0
    return np.clip(out, 0.0, 1.0)


class Gammainc(Op):
    """P(a, x): the gradient in x is the Gamma(a, 1) density; PyTorch has no derivative in a."""
    broadcasts = True
    node_name = "IgammaBackward0"

    @staticmethod
    def forward(ctx, a, x):
        ctx.save_for_backward(a, x)
        dtype = np.result_type(a, x)
        return gammainc_array(a, x).astype(dtype if dtype.kind == "f" else np.float32)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise RuntimeError("derivative for aten::igamma is not implemented")
        from .special_functions import lgamma
        from .unary import exp, log
        return None, grad * exp((a - 1) * log(x) - x - lgamma(a))


def gammainc(a, x):
    """The regularised lower incomplete gamma function of tensors a and x."""
    return Gammainc.apply(a, x)
