"""The regularised lower incomplete gamma function P(a, x) as a primitive (what torch.special.gammainc computes),
used by Gamma.cdf: a power series below x = a + 1, Legendre's continued fraction above (Numerical Recipes 6.2),
evaluated in float64 with the array module `xp` of the inputs' device. Its derivative in x is the gamma density;
PyTorch has none in a.
"""
import numpy as np

from .._backends import special as _sp
from ..autograd.function import Op

_EPS = 1e-16
_MAX_TERMS = 100000


def _lower_series(xp, a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))."""
    term = 1.0 / a
    total = term.copy()
    denom = a.copy()
    active = xp.ones(a.shape, dtype=bool)
    for _ in range(_MAX_TERMS):
        denom = denom + 1
        term = xp.where(active, term * x / denom, term)
        total = xp.where(active, total + term, total)
        active &= xp.abs(term) > xp.abs(total) * _EPS
        if not active.any():
            break
    return total * xp.exp(a * xp.log(x) - x - _sp.lgamma(xp, a))


def _upper_fraction(xp, a, x):
    """Q(a, x) by the modified Lentz evaluation of Legendre's continued fraction."""
    tiny = 1e-300
    b = x + 1 - a
    c = xp.full(a.shape, 1 / tiny)
    d = 1 / b
    h = d.copy()
    active = xp.ones(a.shape, dtype=bool)
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        d = 1 / d
        delta = d * c
        h = xp.where(active, h * delta, h)
        active &= xp.abs(delta - 1) > _EPS
        if not active.any():
            break
    return xp.exp(a * xp.log(x) - x - _sp.lgamma(xp, a)) * h


def gammainc_array(xp, a, x):
    """P(a, x) element-wise on arrays of module xp, with ATen's edge cases (NaN outside the domain, 1 at
    x = inf, 0 at x = 0)."""
    a, x = xp.broadcast_arrays(a.astype(xp.float64), x.astype(xp.float64))
    out = xp.full(a.shape, xp.nan)
    with np.errstate(all="ignore"):           # NumPy's warnings only: a GPU raises none
        regular = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        series = regular & (x < a + 1)
        fraction = regular & ~series
        if series.any():
            out[series] = _lower_series(xp, a[series], x[series])
        if fraction.any():
            out[fraction] = 1 - _upper_fraction(xp, a[fraction], x[fraction])
        out[(a >= 0) & (x == 0) & ~((a == 0) & (x == 0))] = 0.0
        out[(a == 0) & (x > 0)] = 1.0
        out[xp.isinf(x) & (x > 0) & xp.isfinite(a) & (a >= 0)] = 1.0
        out[xp.isinf(a) & (a > 0) & xp.isfinite(x) & (x >= 0)] = 0.0
    return xp.clip(out, 0.0, 1.0)


class Gammainc(Op):
    """P(a, x): the gradient in x is the Gamma(a, 1) density; PyTorch has no derivative in a."""
    broadcasts = True
    node_name = "IgammaBackward0"

    @staticmethod
    def forward(ctx, a, x):
        ctx.save_for_backward(a, x)
        dtype = np.result_type(a.dtype, x.dtype)
        return gammainc_array(ctx.xp, a, x).astype(dtype if dtype.kind == "f" else np.float32)

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
