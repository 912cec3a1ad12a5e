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


# Phi(-a) = erfc(a / sqrt 2) / 2 ~ t P(t) exp(-a^2 / 2), t = 1 / (1 + p a), a >= 0: the form of Abramowitz &
# Stegun 7.1.26, with p and the degree-5 P refitted here (minimax by linear programming, in float64, with
# P(1) = 1/2) for max(1, a) * |error| < 6.1e-8 on [0, 10], so that gelu below zero, -a * Phi(-a), is as
# accurate as Phi. Nine float32 passes for P instead of the seventeen of a degree-9 fit in an exponent, and
# exp(-a^2 / 2) is the density that gelu's gradient needs too.
_PHI_P = 0.3321
_PHI_COEFS = (-0.10953854145559064, 0.367872514366391, -0.0826019330548859, 0.20099935831615295,
              0.12326860182793259)                # of t^5 ... t^1 (Horner's order); sum 0.5: Phi(0) = 0.5 exactly


def _phi_float32(xp, x):
    """(Phi(x), exp(-x^2 / 2), a spare float32 array shaped as x) for float32 x, Phi the normal CDF:
    0.5 + copysign(0.5 - Phi(-|x|), x) with the fit above, in float32 passes in place; the sign by a bit mask
    (NumPy's copysign is a scalar loop, ~5x slower). The spare buffer can take gelu's value: in a training step
    a fresh MB-sized array comes with page faults that cost more than the pass that fills it."""
    if x.ndim == 0:                               # NumPy ufuncs turn 0-d arrays into scalars, which
        return tuple(a.reshape(()) for a in _phi_float32(xp, x.reshape(1)))   # the out= steps below cannot take
    f32 = xp.float32
    t = xp.abs(x)
    t *= f32(_PHI_P)
    t += f32(1)
    xp.reciprocal(t, out=t)
    phi = t * f32(_PHI_COEFS[0])
    for c in _PHI_COEFS[1:]:                      # Horner's rule in place: no temporaries per term
        phi += f32(c)
        phi *= t
    density = x * f32(-0.5)
    density *= x
    xp.exp(density, out=density)                  # exp(-x^2 / 2)
    phi *= density                                # Phi(-|x|)
    xp.subtract(f32(0.5), phi, out=phi)           # >= 0, its sign bit clear: x's sign bit goes in
    sign = xp.bitwise_and(x.view(xp.uint32), xp.uint32(0x80000000), out=t.view(xp.uint32))
    bits = phi.view(xp.uint32)
    bits |= sign
    phi += f32(0.5)
    return phi, density, t


# --- gelu, silu, softplus, mish, logsigmoid ----------------------------------------------------------

def _gelu_cache(xp, x, approximate, half=False):
    """tanh(inner) for the tanh formula, Phi(x) for the exact one (float32: with exp(-x^2 / 2)): what both value
    and slope need."""
    if approximate == "tanh":
        return xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
    if half:                                       # float16 (x in float32): PyTorch's vectorized erf
        return (1 + _vectorized_erf(xp, x * xp.float32(_SQRT1_2))) * xp.float32(0.5)
    if x.dtype == xp.float32:
        return _phi_float32(xp, x)[:2]
    from .._backends.special import erf            # float64: the exact series
    return 0.5 * (1 + erf(xp, x * _SQRT1_2))


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


def _gelu_slope(xp, x, approximate, cache, in_place=False):
    if approximate == "tanh":
        t = cache
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
    if cache.__class__ is tuple:                   # float32: Phi(x) + x * pdf(x), the density's exp at hand,
        phi, density = cache                       # into the cache's buffers (Gelu.forward's are its own)
        slope = xp.multiply(x, density, out=density if in_place else None)
        slope *= xp.float32(_INV_SQRT_2PI)
        slope += phi
        return slope
    if x.ndim == 0:
        return cache + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))
    slope = x * x                                  # Phi(x) + x * pdf(x), in place on one buffer
    slope *= x.dtype.type(-0.5)
    xp.exp(slope, out=slope)
    slope *= x.dtype.type(_INV_SQRT_2PI)
    slope *= x
    slope += cache
    return slope


def _opmath_input(xp, x):
    """x in float32 if it is float16 or bfloat16 (PyTorch computes activations in float32 there), else x."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


class Gelu(Op):
    @staticmethod
    def forward(ctx, input, approximate):
        x = _opmath_input(ctx.xp, input)
        half = input.dtype == ctx.xp.float16
        ctx.approximate = approximate
        ctx.save_for_backward(input)
        if x.dtype == ctx.xp.float32 and approximate != "tanh" and not half:
            # float32 exact: the value into _phi_float32's spare buffer, the slope made now in the cache's
            # buffers (one array kept for backward, not two)
            phi, density, spare = _phi_float32(ctx.xp, x)
            out = ctx.xp.multiply(x, phi, out=spare).astype(input.dtype, copy=False)
            if ctx.needs_input_grad[0]:
                ctx.cache, ctx.slope = None, _gelu_slope(ctx.xp, x, approximate, (phi, density), in_place=True)
            return out
        cache = _gelu_cache(ctx.xp, x, approximate, half)
        if ctx.needs_input_grad[0]:                    # reused by backward: erf/tanh computed once
            ctx.cache, ctx.slope = cache, None
        if half and approximate != "tanh":             # PyTorch's order: (x * 0.5) * (1 + erf(x / sqrt(2)))
            return ((x * ctx.xp.float32(0.5)) * (cache * ctx.xp.float32(2))).astype(input.dtype)
        value = 0.5 * (1 + cache) if approximate == "tanh" else cache
        return (x * value).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return GeluGrad.apply(grad, input, approximate=ctx.approximate, cache=ctx.cache, slope=ctx.slope)


class GeluGrad(Op):
    """grad * gelu'(input)."""
    node_name = "GeluBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, input, approximate, cache=None, slope=None):
        ctx.approximate = approximate
        ctx.save_for_backward(grad, input)
        if slope is None:
            x = _opmath_input(ctx.xp, input)
            if cache is None:
                cache = _gelu_cache(ctx.xp, x, approximate)
            slope = _gelu_slope(ctx.xp, x, approximate, cache, in_place=True)   # a fresh cache: its buffers
        return (grad * slope).astype(input.dtype, copy=False)

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
