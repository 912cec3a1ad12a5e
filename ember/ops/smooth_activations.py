"""Smooth activation primitives: gelu, silu, mish, softplus, logsigmoid and the elu family (elu, selu, celu
and their in-place forms), one fused Op each (forward on arrays, backward on Tensors). The piecewise-linear
ones (relu, leaky_relu, hardtanh ...) are in piecewise_activations.py.

Note [activation gradients]: the hot activations (relu, gelu, silu) get their gradient from a second
Op that works on arrays too, so a training step costs one array pass per direction; that gradient Op
has its own Tensor-level backward, so double backward still works.

The in-place elu_, selu_ and celu_ record nodes that save their result (EluResult, CeluResult):
Note [in-place activations] in piecewise_activations.py.
"""
import math

import numpy as _np

from .._tensor import _make
from ..autograd.function import Op
from ._common import opmath
from ._registry import export
from .comparison import where
from .inplace import apply_inplace
from .piecewise_activations import _check_result_slope, float_input
from .unary import _sigmoid, exp, sigmoid, tanh

__all__ = ["selu", "selu_", "celu", "celu_"]

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_C = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def fast_erf(xp, x):
    """erf for float32/16 (rel. error ~1e-7, Numerical Recipes' erfc fit); float64 uses the exact series."""
    if x.dtype == xp.float64:
        from .._backends.special import erf
        return erf(xp, x)
    if x.ndim == 0:                               # NumPy ufuncs turn 0-d arrays into scalars, which
        return fast_erf(xp, x.reshape(1)).reshape(())   # the in-place out= steps below cannot take
    z = xp.abs(x)
    t = z * 0.5
    t += 1
    xp.reciprocal(t, out=t)
    p = t * _ERFC_COEFS[0]
    for c in _ERFC_COEFS[1:]:                     # Horner's rule in place: no temporaries per term
        p += c
        p *= t
    p += -1.26551223
    z *= z
    p -= z
    xp.exp(p, out=p)
    p *= t                                        # erfc(|x|)
    xp.subtract(1, p, out=p)
    return xp.copysign(p, x, out=p).astype(x.dtype, copy=False)


_ERFC_COEFS = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
               0.37409196, 1.00002368)


# --- gelu, silu, softplus, mish, logsigmoid ----------------------------------------------------------

def _gelu_cache(xp, x, approximate, half=False):
    """tanh(inner) for the tanh formula, Phi(x) for the exact one: what both value and slope need."""
    if approximate == "tanh":
        return xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
    if half:                                       # float16 (x in float32): PyTorch's vectorized erf
        return (1 + _vectorized_erf(xp, x * xp.float32(_SQRT1_2))) * xp.float32(0.5)
    return 0.5 * (1 + fast_erf(xp, x * _SQRT1_2))


def _fma32(xp, a, b, c):
    """a * b + c rounded once to float32 (the float64 product of two float32 is exact)."""
    return (xp.asarray(a, xp.float64) * b + c).astype(xp.float32)


def _vectorized_erf(xp, x):
    """PyTorch's Vectorized<float>::erf, which its float16 gelu takes: Abramowitz & Stegun 7.1.26 with fused
    multiply-adds, sign(x) (1 - t P(t) exp(-x^2)), t = 1 / (1 + p |x|); max. error 1.5e-7. Emulated step by step,
    so that a float16 gelu rounds as PyTorch's does (in its tail, 1 + erf cancels to a few float32 ulps)."""
    f32 = xp.float32
    t = f32(1) / _fma32(xp, f32(0.3275911), xp.abs(x), f32(1))
    r = _fma32(xp, f32(1.061405429), t, f32(-1.453152027))
    for c in (1.421413741, -0.284496736, 0.254829592):
        r = _fma32(xp, r, t, f32(c))
    scaled = -xp.exp(-(x * x)) * t
    return xp.copysign(_fma32(xp, scaled, r, f32(1)), x)


def _gelu_slope(xp, x, approximate, cache):
    if approximate == "tanh":
        t = cache
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
    return cache + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))


def _opmath_input(xp, x):
    """x in float32 if it is float16 or bfloat16 (PyTorch computes activations in float32 there), else x."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


class Gelu(Op):
    @staticmethod
    def forward(ctx, input, approximate):
        x = _opmath_input(ctx.xp, input)
        half = input.dtype == ctx.xp.float16
        cache = _gelu_cache(ctx.xp, x, approximate, half)
        ctx.approximate, ctx.cache = approximate, cache   # reused by backward: erf/tanh computed once
        ctx.save_for_backward(input)
        if half and approximate != "tanh":             # PyTorch's order: (x * 0.5) * (1 + erf(x / sqrt(2)))
            return ((x * ctx.xp.float32(0.5)) * (cache * ctx.xp.float32(2))).astype(input.dtype)
        value = 0.5 * (1 + cache) if approximate == "tanh" else cache
        return (x * value).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return GeluGrad.apply(grad, input, approximate=ctx.approximate, cache=ctx.cache)


class GeluGrad(Op):
    """grad * gelu'(input)."""
    node_name = "GeluBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, input, approximate, cache=None):
        ctx.approximate = approximate
        ctx.save_for_backward(grad, input)
        x = _opmath_input(ctx.xp, input)
        if cache is None:
            cache = _gelu_cache(ctx.xp, x, approximate)
        return (grad * _gelu_slope(ctx.xp, x, approximate, cache)).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        grad, x = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_grad = GeluGrad.apply(gg, x, approximate=ctx.approximate) if needs[0] else None
        grad_x = None
        if needs[1]:
            if ctx.approximate == "tanh":
                k = _SQRT_2_OVER_PI
                u = k * (x + _GELU_C * x ** 3)
                du = k * (1 + 3 * _GELU_C * x * x)
                t = tanh(u)
                sech2 = 1 - t * t
                second = sech2 * du + 0.5 * x * sech2 * (-2 * t * du * du + 6 * k * _GELU_C * x)
            else:
                second = exp(x * x * -0.5) * _INV_SQRT_2PI * (2 - x * x)
            grad_x = gg * grad * second
        return grad_grad, grad_x


class Silu(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return opmath(ctx.xp, lambda x: x * _sigmoid(ctx.xp, x), input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return SiluGrad.apply(grad, input)


class SiluGrad(Op):
    """grad * silu'(input) = grad * s * (1 + x * (1 - s)), s = sigmoid(x)."""
    node_name = "SiluBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, input):
        ctx.save_for_backward(grad, input)

        def slope(x, g):
            s = _sigmoid(ctx.xp, x)
            return g * (s * (1 + x * (1 - s)))
        return opmath(ctx.xp, slope, input, grad)

    @staticmethod
    def backward(ctx, gg):
        grad, x = ctx.saved_tensors
        grad_grad = SiluGrad.apply(gg, x) if ctx.needs_input_grad[0] else None
        grad_x = None
        if ctx.needs_input_grad[1]:
            s = sigmoid(x)
            ds = s * (1 - s)
            grad_x = gg * grad * (ds * 2 + x * ds * (1 - s * 2))
        return grad_grad, grad_x


def _softplus_array(xp, x, beta, threshold):
    if x.dtype.itemsize == 2 and x.dtype.kind in "fV":     # (opmath)
        return _softplus_array(xp, x.astype(xp.float32), beta, threshold).astype(x.dtype)
    bx = x * beta if beta != 1 else x
    # logaddexp(0, bx) never overflows; above threshold PyTorch returns x itself
    soft = xp.logaddexp(0, bx) / beta if beta != 1 else xp.logaddexp(0, bx)
    return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)


class Softplus(Op):
    @staticmethod
    def forward(ctx, input, beta, threshold):
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(input)
        return _softplus_array(ctx.xp, input, beta, threshold)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        bx = x * ctx.beta
        return grad * where(bx > ctx.threshold, 1.0, sigmoid(bx))


class Mish(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return opmath(ctx.xp, lambda x: x * ctx.xp.tanh(_softplus_array(ctx.xp, x, 1, 20)), input)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        t = tanh(Softplus.apply(x, beta=1, threshold=20))
        return grad * (t + x * (1 - t * t) * sigmoid(x))


class LogSigmoid(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        xp = ctx.xp
        return opmath(xp, lambda x: xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))), input).astype(input.dtype,
                                                                                                   copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sigmoid(-x)


# --- the elu family: elu, selu, celu -----------------------------------------------------------------

def _elu(xp, input, alpha, scale, input_scale):
    if input.dtype.itemsize == 2 and input.dtype.kind in "fV":     # (opmath)
        return _elu(xp, input.astype(xp.float32), alpha, scale, input_scale).astype(input.dtype)
    negative = xp.expm1(xp.minimum(input, 0) * input_scale) * (alpha * scale)
    return xp.where(input > 0, input * scale, negative).astype(input.dtype, copy=False)


class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): elu, selu and celu."""
    @staticmethod
    def forward(ctx, input, alpha, scale, input_scale, grad_input_scale=None):
        ctx.alpha, ctx.scale = alpha, scale
        ctx.input_scale = input_scale if grad_input_scale is None else grad_input_scale
        ctx.save_for_backward(input)
        return _elu(ctx.xp, input, alpha, scale, input_scale)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        coef = ctx.alpha * ctx.scale * ctx.input_scale
        neg = exp(x.clamp(max=0) * ctx.input_scale) * coef        # clamped: no inf (and NaN gradient) above 0
        # coef at 0, but constant there: PyTorch's second derivative is 0 at x == 0; NaN takes the positive branch
        a = x._array
        constant = _make(ctx.xp.where(a <= 0, coef, ctx.scale).astype(a.dtype, copy=False), x.device)
        return grad * where(x < 0, neg, constant)


class Celu(Elu):
    node_name = "CeluBackward0"


class EluResult(Op):
    """elu_ and selu_ (Note [in-place activations]): with r the result, the slope is input_scale * (r + alpha *
    scale) where r <= 0 (alpha * scale * input_scale * exp(x * input_scale) there), else scale."""
    node_name = "EluBackward1"

    @staticmethod
    def forward(ctx, input, alpha, scale, input_scale, grad_input_scale=None):
        ctx.alpha, ctx.scale = alpha, scale
        ctx.input_scale = input_scale if grad_input_scale is None else grad_input_scale
        out = _elu(ctx.xp, input, alpha, scale, input_scale)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        _check_result_slope(ctx.alpha, "elu")
        r = result._array
        coef = ctx.alpha * ctx.scale * ctx.input_scale
        # the slope where r <= 0 (coef at r == 0), scale elsewhere (NaN too); only where r < 0 does it depend
        # on r, so PyTorch's second derivative is 0 at x == 0
        constant = _make(ctx.xp.where(r <= 0, coef, ctx.scale).astype(r.dtype, copy=False), result.device)
        return grad * where(result < 0, (result + ctx.alpha * ctx.scale) * ctx.input_scale, constant)


class CeluResult(EluResult):
    node_name = "CeluBackward1"


def elu_op(input, alpha=1.0, scale=1.0, input_scale=1.0, op=Elu, grad_input_scale=None):
    return op.apply(float_input("elu", input), alpha=float(alpha), scale=float(scale),
                    input_scale=float(input_scale), grad_input_scale=grad_input_scale)


def elu_inplace(input, name, alpha=1.0, scale=1.0, input_scale=1.0, op=EluResult, grad_input_scale=None):
    """elu_, selu_, celu_: computed by `op`, which saves the result, and written into input."""
    return apply_inplace(input, lambda x: elu_op(x, alpha, scale, input_scale, op, grad_input_scale), name, (),
                         {})


@export(method=False)
def selu(input):
    return elu_op(input, SELU_ALPHA, SELU_SCALE)


@export(method=False)
def selu_(input):
    """In-place selu() (PyTorch's EluBackward1)."""
    return elu_inplace(input, "selu_", SELU_ALPHA, SELU_SCALE)


def _celu_grad_input_scale(alpha):
    """PyTorch's celu computes with 1 / alpha, but its backward (CeluBackward0/1) with 1 / float32(alpha)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return 1.0 / float(_np.float32(alpha))


@export(method=False)
def celu(input, alpha=1.0):
    grad_input_scale = _celu_grad_input_scale(alpha)
    return elu_op(input, alpha, 1.0, 1.0 / alpha, Celu, grad_input_scale)


@export(method=False)
def celu_(input, alpha=1.0):
    """In-place celu() (PyTorch's CeluBackward1)."""
    grad_input_scale = _celu_grad_input_scale(alpha)
    return elu_inplace(input, "celu_", alpha, 1.0, 1.0 / alpha, CeluResult, grad_input_scale)
