"""The regularised incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x) as primitives: torch.igamma and
torch.igammac (torch.special.gammainc and gammaincc, Tensor.igamma[_] and igammac[_]); Gamma.cdf uses P. A power
series below x = a + 1, Legendre's continued fraction above (Numerical Recipes 6.2), evaluated in float64 with the
array module `xp` of the inputs' device; each function takes its own side directly (Q from the fraction, P from
the series), the other side as 1 minus it, so neither loses its small values to cancellation. The derivative in x
is the gamma density (negated for Q); PyTorch has none in a.
"""
import numpy as np

from .. import _dtype as _dt
from .._backends import errstate, special as _sp
from .._tensor import Tensor
from ..autograd.function import Op
from ._common import _out, promote
from ._registry import export

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


def _regions(xp, a, x):
    """(a, x) broadcast in float64, the NaN-filled output, and the masks of the series and fraction regions."""
    a, x = xp.broadcast_arrays(a.astype(xp.float64), x.astype(xp.float64))
    regular = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    series = regular & (x < a + 1)
    return a, x, xp.full(a.shape, xp.nan), series, regular & ~series


def gammainc_array(xp, a, x):
    """P(a, x) element-wise on arrays of module xp, with ATen's edge cases (NaN outside the domain and at (0, 0)
    and (inf, inf), 1 for a = 0 < x and at x = inf, 0 at x = 0 and for a = inf)."""
    with errstate(all="ignore"):
        a, x, out, series, fraction = _regions(xp, a, x)
        if series.any():
            out[series] = _lower_series(xp, a[series], x[series])
        if fraction.any():
            out[fraction] = 1 - _upper_fraction(xp, a[fraction], x[fraction])
        out[(a >= 0) & (x == 0) & ~((a == 0) & (x == 0))] = 0.0
        out[(a == 0) & (x > 0)] = 1.0
        out[xp.isinf(x) & (x > 0) & xp.isfinite(a) & (a >= 0)] = 1.0
        out[xp.isinf(a) & (a > 0) & xp.isfinite(x) & (x >= 0)] = 0.0
    return xp.clip(out, 0.0, 1.0)


def gammaincc_array(xp, a, x):
    """Q(a, x) = 1 - P(a, x) element-wise, the fraction's side taken directly; ATen's edge cases (P's, mirrored)."""
    with errstate(all="ignore"):
        a, x, out, series, fraction = _regions(xp, a, x)
        if series.any():
            out[series] = 1 - _lower_series(xp, a[series], x[series])
        if fraction.any():
            out[fraction] = _upper_fraction(xp, a[fraction], x[fraction])
        out[(a >= 0) & (x == 0) & ~((a == 0) & (x == 0))] = 1.0
        out[(a == 0) & (x > 0)] = 0.0
        out[xp.isinf(x) & (x > 0) & xp.isfinite(a) & (a >= 0)] = 0.0
        out[xp.isinf(a) & (a > 0) & xp.isfinite(x) & (x >= 0)] = 1.0
    return xp.clip(out, 0.0, 1.0)


class Gammainc(Op):
    """P(a, x): the gradient in x is the Gamma(a, 1) density; PyTorch has none in a."""
    broadcasts = True
    node_name = "IgammaBackward0"
    _array_fn, _sign, _name = staticmethod(gammainc_array), 1, "igamma"

    @classmethod
    def forward(cls, ctx, a, x):
        ctx.save_for_backward(a, x)
        dtype = np.result_type(a.dtype, x.dtype)
        dtype = dtype if dtype.kind == "f" else np.dtype(np.float32)
        if ctx.backend.name == "meta":                 # shape and dtype only: the regions below read values
            return ctx.xp.empty(np.broadcast_shapes(a.shape, x.shape), dtype=dtype)
        return cls._array_fn(ctx.xp, a, x).astype(dtype)

    @classmethod
    def backward(cls, ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{cls._name}: input' is not implemented.")
        from .special_functions import lgamma
        from .unary import exp, log
        density = exp((a - 1) * log(x) - x - lgamma(a))
        return None, grad * density if cls._sign > 0 else -grad * density


class Gammaincc(Gammainc):
    """Q(a, x): the gradient in x is minus the Gamma(a, 1) density."""
    node_name = "IgammacBackward0"
    _array_fn, _sign, _name = staticmethod(gammaincc_array), -1, "igammac"


def gammainc(a, x):
    """The regularised lower incomplete gamma function of tensors a and x."""
    return Gammainc.apply(a, x)


def _incomplete(op, name, input, other, out):
    for position, (arg, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                            f"{type(value).__name__}")
    a, x, dtype = promote(name, input, other)
    if dtype.category != _dt.FLOAT:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_dt.scalar_type_name(dtype)}\'')
    return _out(op.apply(a, x), out)


@export(inplace=True)
def igamma(input, other, *, out=None):
    """The regularised lower incomplete gamma function P(input, other) (torch.special.gammainc)."""
    return _incomplete(Gammainc, "igamma", input, other, out)


@export(inplace=True)
def igammac(input, other, *, out=None):
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P (torch.special.gammaincc)."""
    return _incomplete(Gammaincc, "igammac", input, other, out)
