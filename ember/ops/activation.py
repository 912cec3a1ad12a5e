"""Activation primitives: one fused Op per activation (forward on arrays, backward on Tensors).

Note [activation gradients]: the hot activations (relu, gelu, silu) get their gradient from a second
Op that works on arrays too, so a training step costs one array pass per direction; that gradient Op
has its own Tensor-level backward, so double backward still works.
"""
import math

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast
from ._registry import export
from .comparison import where
from .unary import _sigmoid, exp, sigmoid, tanh

__all__ = ["relu", "prelu", "rrelu", "selu", "celu", "hardshrink", "threshold"]

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_C = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ONE_SIXTH_F32 = 0.1666666716337204           # float32(1/6): PyTorch's hardsigmoid slope, for float64 too


def float_input(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype.name.capitalize()}'")
    return input


def fast_erf(xp, x):
    """erf for float32/16 (rel. error ~1e-7, Numerical Recipes' erfc fit); float64 uses the exact series."""
    if x.dtype == xp.float64:
        from ..backends.special import erf
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


# --- relu -------------------------------------------------------------------------------------------

class PiecewiseGrad(Op):
    """grad * factor, and 0 where `drop` holds: the gradient of a piecewise activation.

    Note [selected zeros]: the zeros are selected (where), never grad * 0, so a NaN or inf in the
    upstream gradient does not leak into them; PyTorch's *_backward kernels select too. `factor` is an
    array or Python number in the input's dtype (a float32 slope would round a float64 gradient). The op
    is differentiable again, in grad by itself and in input as zeros (PyTorch's formula), so a
    create_graph gradient requires grad whenever the input does. Subclasses carry PyTorch's node names.
    """
    @staticmethod
    def forward(ctx, grad, input, drop=None, factor=None):
        ctx.drop, ctx.factor = drop, factor
        ctx.save_for_backward(input)
        out = grad if factor is None else grad * factor
        if drop is not None:
            out = ctx.xp.where(drop, 0, out)
        return out.astype(grad.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        (input,) = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_grad = type(ctx)._op.apply(gg, input, drop=ctx.drop, factor=ctx.factor) if needs[0] else None
        grad_input = _make(ctx.xp.zeros_like(gg._array), gg._device) if needs[1] else None
        return grad_grad, grad_input


def _piecewise_grad(name):
    return type(name + "Grad", (PiecewiseGrad,), {"node_name": name + "BackwardBackward0"})


ThresholdGrad = _piecewise_grad("Threshold")
HardtanhGrad = _piecewise_grad("Hardtanh")
LeakyReluGrad = _piecewise_grad("LeakyRelu")
RreluGrad = _piecewise_grad("RreluWithNoise")
HardshrinkGrad = _piecewise_grad("Hardshrink")
SoftshrinkGrad = _piecewise_grad("Softshrink")


class HardsigmoidGrad(PiecewiseGrad):
    node_name = "HardsigmoidBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):                         # as in PyTorch, which has no formula for it
        raise RuntimeError("derivative for aten::hardsigmoid_backward is not implemented")


class Relu(Op):
    @staticmethod
    def forward(ctx, input):
        out = ctx.xp.maximum(input, 0)             # keeps NaN like PyTorch; x * (x > 0) would give -0.0
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # PyTorch's threshold_backward: 0 where out <= 0, so a NaN output passes the gradient
        if not _State.grad_enabled:                # Note [plain backward]: no graph to build, arrays only
            return _make(ctx.xp.where(out._array <= 0, 0, grad._array), grad._device)
        return ThresholdGrad.apply(grad, out, drop=out._array <= 0)


@export(method=True, inplace="public")
def relu(input):
    """max(input, 0)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"relu(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return Relu.apply_unary(input)


class Threshold(Op):
    @staticmethod
    def forward(ctx, input, threshold, value):
        ctx.threshold = threshold
        ctx.save_for_backward(input)
        # x <= threshold picks value (not x > threshold picking x): NaN stays NaN, as in PyTorch
        return ctx.xp.where(input <= threshold, ctx.xp.asarray(value, dtype=input.dtype), input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return ThresholdGrad.apply(grad, input, drop=input._array <= ctx.threshold)


@export(method=False, inplace="public")
def threshold(input, threshold, value):
    """input where input > threshold, else value."""
    return Threshold.apply(input, threshold=threshold, value=value)


# --- gelu / silu / mish -----------------------------------------------------------------------------

def _gelu_cache(xp, x, approximate):
    """tanh(inner) for the tanh formula, Phi(x) for the exact one: what both value and slope need."""
    if approximate == "tanh":
        return xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
    return 0.5 * (1 + fast_erf(xp, x * _SQRT1_2))


def _gelu_slope(xp, x, approximate, cache):
    if approximate == "tanh":
        t = cache
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
    return cache + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))


class Gelu(Op):
    @staticmethod
    def forward(ctx, input, approximate):
        cache = _gelu_cache(ctx.xp, input, approximate)
        ctx.approximate, ctx.cache = approximate, cache   # reused by backward: erf/tanh computed once
        ctx.save_for_backward(input)
        value = 0.5 * (1 + cache) if approximate == "tanh" else cache
        return (input * value).astype(input.dtype, copy=False)

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
        if cache is None:
            cache = _gelu_cache(ctx.xp, input, approximate)
        return (grad * _gelu_slope(ctx.xp, input, approximate, cache)).astype(input.dtype, copy=False)

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
        return input * _sigmoid(ctx.xp, input)

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
        s = _sigmoid(ctx.xp, input)
        return grad * (s * (1 + input * (1 - s)))

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
        return input * ctx.xp.tanh(_softplus_array(ctx.xp, input, 1, 20))

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
        return (xp.minimum(input, 0) - xp.log1p(xp.exp(-xp.abs(input)))).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sigmoid(-x)


# --- piecewise-linear activations -------------------------------------------------------------------

class Hardtanh(Op):
    @staticmethod
    def forward(ctx, input, min_val, max_val):
        ctx.min_val, ctx.max_val = min_val, max_val
        ctx.save_for_backward(input)
        return ctx.xp.clip(input, min_val, max_val).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = x._array
        return HardtanhGrad.apply(grad, x, drop=(a <= ctx.min_val) | (a >= ctx.max_val))


class LeakyRelu(Op):
    @staticmethod
    def forward(ctx, input, negative_slope):
        ctx.negative_slope = negative_slope
        ctx.save_for_backward(input)
        return ctx.xp.where(input > 0, input, input * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return LeakyReluGrad.apply(grad, x, factor=_slope(ctx.xp, x._array, ctx.negative_slope))


def _slope(xp, x, negative_slope):
    """1 where x > 0, else negative_slope, in x's dtype (a float64 input keeps the exact slope)."""
    return xp.where(x > 0, 1.0, negative_slope).astype(x.dtype, copy=False)


class RreluWithNoise(LeakyRelu):
    """rrelu in eval: leaky relu with the mean slope, under PyTorch's node name."""
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return RreluGrad.apply(grad, x, factor=_slope(ctx.xp, x._array, ctx.negative_slope))


class RreluTrain(Op):
    """rrelu while training: x * noise, noise drawn per non-positive element (1 elsewhere)."""
    node_name = "RreluWithNoiseBackward0"

    @staticmethod
    def forward(ctx, input, noise, mean_slope):
        ctx.noise, ctx.mean_slope = noise, mean_slope
        ctx.save_for_backward(input)
        return (input * noise).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        factor = ctx.noise if ctx.mean_slope is None else _slope(ctx.xp, x._array, ctx.mean_slope)
        return RreluGrad.apply(grad, x, factor=factor)


class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): elu, selu and celu."""
    @staticmethod
    def forward(ctx, input, alpha, scale, input_scale):
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        ctx.save_for_backward(input)
        xp = ctx.xp
        negative = xp.expm1(xp.minimum(input, 0) * input_scale) * (alpha * scale)
        return xp.where(input > 0, input * scale, negative).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        neg = exp(x.clamp(max=0) * ctx.input_scale) * (ctx.alpha * ctx.scale * ctx.input_scale)
        return grad * where(x <= 0, neg, float(ctx.scale))        # NaN input: the positive branch, as in PyTorch


class Hardsigmoid(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return ctx.xp.clip(input / 6 + 0.5, 0, 1).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = x._array
        return HardsigmoidGrad.apply(grad, x, drop=~((a > -3) & (a < 3)), factor=_ONE_SIXTH_F32)


class Hardswish(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return (input * ctx.xp.clip(input + 3, 0, 6) / 6).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # PyTorch's kernel: 0 for x <= -3 (selected: a NaN gradient stays out), x / 3 + 1/2 below 3, else 1
        slope = where(x < 3, x / 3 + 0.5, 1.0)
        return where(x <= -3, 0.0, grad * slope)


class Shrink(Op):
    """hardshrink (soft=False): x where |x| > lambd; softshrink: x moved lambd toward 0. NaN stays NaN."""
    node_name = "HardshrinkBackward0"

    @staticmethod
    def forward(ctx, input, lambd, soft):
        ctx.lambd, ctx.soft = lambd, soft
        ctx.save_for_backward(input)
        xp = ctx.xp
        if soft:                                   # PyTorch: x - lambd, x + lambd, else x * 0 (-0.0, NaN)
            out = xp.where(input > lambd, input - lambd, xp.where(input < -lambd, input + lambd, input * 0))
        else:
            out = xp.where((input >= -lambd) & (input <= lambd), 0, input)
        return out.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = x._array
        return (SoftshrinkGrad if ctx.soft else HardshrinkGrad).apply(
            grad, x, drop=(a >= -ctx.lambd) & (a <= ctx.lambd))


class Softshrink(Shrink):
    node_name = "SoftshrinkBackward0"


@export(method=True)
def hardshrink(input, lambd=0.5):
    return Shrink.apply(float_input("hardshrink", input), lambd=lambd, soft=False)


def elu_op(input, alpha=1.0, scale=1.0, input_scale=1.0):
    return Elu.apply(float_input("elu", input), alpha=float(alpha), scale=float(scale),
                     input_scale=float(input_scale))


@export(method=False, inplace="public")
def selu(input):
    return elu_op(input, SELU_ALPHA, SELU_SCALE)


@export(method=False, inplace="public")
def celu(input, alpha=1.0):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return elu_op(input, alpha, 1.0, 1.0 / alpha)


@export(method=True)
def prelu(input, weight):
    """x where x > 0, else weight * x; weight has 1 or input.size(1) (channel) entries."""
    if weight.dtype is not input.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_dt.scalar_type_name(input.dtype)} and "
                           f"{_dt.scalar_type_name(weight.dtype)}")
    if input.dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"prelu_cpu\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0] if input.ndim == 1 else 1
        if n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{n} and channel size = {channels}.")
        if input.ndim >= 2:
            weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return PreluKernel.apply(input, weight)


class PreluKernel(Op):
    """x where x > 0, else weight * x (weight already shaped to broadcast against x)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, weight):
        ctx.save_for_backward(input, weight)
        return ctx.xp.where(input > 0, input, weight * input).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        grad_input, grad_weight = PreluKernelBackward.apply(grad, x, w)
        needs = ctx.needs_input_grad
        return grad_input if needs[0] else None, grad_weight if needs[1] else None


class PreluKernelBackward(Op):
    """(grad where x > 0 else weight * grad, 0 where x > 0 else x * grad): PyTorch's _prelu_kernel_backward,
    selected (a NaN gradient stays out of the other branch). Its own derivative is PyTorch's, which
    splits at x >= 0; grad_weight is in x's shape (the engine sums it to weight's)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, grad, input, weight):
        xp = ctx.xp
        positive = input > 0
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, input, weight)
        return (xp.where(positive, grad, weight * grad).astype(grad.dtype, copy=False),
                xp.where(positive, 0, input * grad).astype(grad.dtype, copy=False))

    @staticmethod
    def backward(ctx, gg_input, gg_weight):
        from .comparison import Where
        grad, x, w = ctx.saved_tensors
        nonneg = x._array >= 0
        needs = ctx.needs_input_grad
        d_grad = d_input = d_weight = None
        if needs[0]:
            if gg_input is None:
                d_grad = Where.apply(nonneg, 0.0, gg_weight * x)
            else:
                other = gg_input * w if gg_weight is None else gg_input * w + gg_weight * x
                d_grad = Where.apply(nonneg, gg_input, other)
        zeros = None
        if gg_input is None or gg_weight is None:
            zeros = _make(ctx.xp.zeros_like(x._array), x._device)
        if needs[1]:
            d_input = zeros if gg_weight is None else Where.apply(nonneg, 0.0, grad * gg_weight)
        if needs[2]:
            d_weight = zeros if gg_input is None else Where.apply(nonneg, 0.0, grad * gg_input)
        return d_grad, d_input, d_weight


@export(method=False, inplace="public")
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """Randomized leaky relu: a random slope in [lower, upper] per non-positive element while training."""
    if isinstance(input, Tensor) and input.dtype.category < _dt.FLOAT:
        kernel = "rrelu_with_noise_out_cpu" if training else "leaky_relu_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    input = float_input("rrelu", input)
    if not training:                               # PyTorch's eval path: the mean slope
        return RreluWithNoise.apply(input, negative_slope=(lower + upper) / 2)
    # PyTorch draws one double uniform per element x <= 0, in order, from bounds in the op's math type
    from .creation import empty
    xp = input._backend().xp
    a = input._array
    math_dtype = xp.float64 if a.dtype == xp.float64 else xp.float32
    bounds = [float(math_dtype(b)) for b in (lower, upper)]
    negative = a <= 0
    draws = empty((int(negative.sum()),), dtype=_dt.float64, device=input.device).uniform_(*bounds)._array
    noise = xp.ones(a.shape, dtype=a.dtype)
    noise[negative] = draws.astype(math_dtype).astype(a.dtype)
    # PyTorch's backward uses the noise, or the mean slope when the range is (almost) empty
    mean_slope = (lower + upper) / 2 if upper - lower <= 1e-6 else None
    return RreluTrain.apply(input, noise=noise, mean_slope=mean_slope)


def cast_float(input):
    return cast(input, _dt.get_default_dtype()) if input.dtype.category < _dt.FLOAT else input
