"""Piecewise-linear activation primitives: relu, threshold, hardtanh, leaky_relu, rrelu, prelu, hardsigmoid,
hardswish, hardshrink and softshrink, one fused Op each (forward on arrays, backward on Tensors); and
float_input, the dtype check every activation shares (smooth_activations.py holds the others).

Their gradients are PiecewiseGrad ops: the upstream gradient times a slope, with the zeros of the flat parts
selected (Note [selected zeros]); relu's is one of the array-level gradient Ops of
Note [activation gradients] (smooth_activations.py).

Note [in-place activations]: PyTorch's in-place elu_/selu_/celu_/leaky_relu_/rrelu_ cannot save their input
(it is overwritten), so they record a node of their own (EluBackward1, CeluBackward1, LeakyReluBackward1,
RreluWithNoiseBackward1) that saves the result and writes the gradient in terms of it; threshold_ keeps a
copy of the original input (ThresholdBackward1). The *Result ops (below; EluResult and CeluResult in
smooth_activations.py) are those nodes: apply_inplace copies their result into self and repoints the saved
result at self, so a later in-place change of self is caught by the version check, as in PyTorch. Their
result-based formulas need a non-negative slope (the sign of the result must be the sign of the input):
PyTorch refuses a negative one in backward, and so does ember (_check_result_slope).
"""
from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ..sparse._coo_array import SparseCOOArray as _SparseCOO
from ._common import opmath
from ._registry import export
from .comparison import where
from .inplace import apply_inplace
from ..amp._dispatch import AUTOCAST, autocast_run

__all__ = ["relu", "prelu", "rrelu", "rrelu_", "hardshrink", "threshold", "threshold_"]

_ONE_SIXTH_F32 = 0.1666666716337204           # float32(1/6): PyTorch's hardsigmoid slope, for float64 too


# PyTorch's CPU kernel names, which its "not implemented for" errors cite
_KERNELS = {"elu": "elu_cpu", "leaky_relu": "leaky_relu_cpu", "rrelu": "leaky_relu_cpu", "gelu": "GeluKernelImpl",
            "silu": "silu_cpu", "mish": "mish_cpu", "softplus": "softplus_cpu", "hardsigmoid": "hardsigmoid_cpu",
            "hardswish": "hardswish_cpu", "hardshrink": "hardshrink_cpu", "softshrink": "softshrink_check",
            "log_sigmoid_forward": "log_sigmoid_cpu", "threshold": "threshold_cpu"}


def float_input(name, input, complex_ok=False):
    """input, if the activation's kernel takes its dtype (floating point; complex only where complex_ok)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dtype = input.dtype
    if dtype.category < _dt.FLOAT or (not complex_ok and dtype.is_complex):
        raise NotImplementedError(f"\"{_KERNELS.get(name, name)}\" not implemented for "
                                  f"'{_dt.scalar_type_name(dtype)}'")
    return input


# --- gradients: grad * slope, zeros selected ---------------------------------------------------------

_UINT_OF_SIZE = {2: "uint16", 4: "uint32", 8: "uint64"}


def zero_where(xp, drop, values):
    """where(drop, 0, values) for floating values: their bits times ~drop keep each value bit for bit (NaN, inf,
    -0.0) or give +0.0, in one vectorized pass; np.where branches per element, ~7x slower on a random mask (relu's)."""
    dtype = values.dtype
    if values.ndim == 0 or not (dtype.kind == "f" or dtype.name == "bfloat16") or dtype.itemsize not in _UINT_OF_SIZE:
        return xp.where(drop, 0, values)
    return (values.view(_UINT_OF_SIZE[dtype.itemsize]) * ~drop).view(dtype)


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
            out = zero_where(ctx.xp, drop, out)
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


# --- relu, threshold ---------------------------------------------------------------------------------

class Relu(Op):
    @staticmethod
    def forward(ctx, input):
        out = ctx.xp.maximum(input, 0)             # keeps NaN like PyTorch; x * (x > 0) would give -0.0
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if out._array.__class__ is _SparseCOO:     # a sparse COO input: the gradient at its entries that are > 0
            from .sparse_coo_ops import map_sparse_values
            return grad * map_sparse_values(out.detach(), lambda values: (~(values <= 0)).astype(values.dtype))
        # PyTorch's threshold_backward: 0 where out <= 0, so a NaN output passes the gradient
        if not _State.grad_enabled:                # Note [plain backward]: no graph to build, arrays only
            return _make(zero_where(ctx.xp, out._array <= 0, grad._array), grad._device)
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


class ThresholdInplace(Threshold):
    """threshold_: the same formula on a copy of the original input (Note [in-place activations])."""
    node_name = "ThresholdBackward1"


def _threshold_input(input):
    if isinstance(input, Tensor) and (input.dtype is _dt.bool_ or input.dtype.is_complex):   # integers are fine
        float_input("threshold", input)
    return input


@export(method=False)
def threshold(input, threshold, value):
    """input where input > threshold, else value."""
    return Threshold.apply(_threshold_input(input), threshold=threshold, value=value)


@export(method=False)
def threshold_(input, threshold, value):
    """In-place threshold()."""
    return apply_inplace(input, lambda x: ThresholdInplace.apply(_threshold_input(x), threshold=threshold,
                                                                 value=value), "threshold_", (), {})


# --- hardtanh, leaky_relu, rrelu ---------------------------------------------------------------------

class Hardtanh(Op):
    @staticmethod
    def forward(ctx, input, min_val, max_val):
        ctx.min_val, ctx.max_val = min_val, max_val
        ctx.save_for_backward(input)
        # the method: the same clip ufunc without np.clip's dispatch layer (~1 us of a 2000-element call)
        return input.clip(min_val, max_val).astype(input.dtype, copy=False)

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
        return _leaky(ctx.xp, input, negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return LeakyReluGrad.apply(grad, x, factor=_slope(ctx.xp, x._array, ctx.negative_slope))


def _leaky(xp, input, negative_slope):
    """x where x > 0, else x * negative_slope (half precision: the product in float32, rounded once)."""
    return xp.where(input > 0, input, opmath(xp, lambda x: x * negative_slope, input))


def _slope(xp, x, negative_slope):
    """1 where x > 0, else negative_slope, in x's dtype (a float64 input keeps the exact slope)."""
    return xp.where(x > 0, 1.0, negative_slope).astype(x.dtype, copy=False)


def _check_result_slope(negative_slope, name="leakyReLu"):
    """A slope formula on the result needs the result's sign to be the input's (Note [in-place activations])."""
    if negative_slope < 0:
        fix = (" File an issue at https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
               "backward calculation with negative slope") if name == "leakyReLu" else ""
        raise RuntimeError(f"In-place {name} backward calculation is triggered with a negative slope which is not "
                           "supported. This is caused by calling in-place forward function with a negative slope, "
                           f"please call out-of-place version instead.{fix}")


class LeakyReluResult(Op):
    """leaky_relu_ (Note [in-place activations]): the slope is read off the result's sign."""
    node_name = "LeakyReluBackward1"

    @staticmethod
    def forward(ctx, input, negative_slope):
        ctx.negative_slope = negative_slope
        out = _leaky(ctx.xp, input, negative_slope)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        _check_result_slope(ctx.negative_slope)
        return LeakyReluGrad.apply(grad, result, factor=_slope(ctx.xp, result._array, ctx.negative_slope))


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
    def forward(ctx, input, noise):
        ctx.noise = noise
        ctx.save_for_backward(input)
        return (input * noise).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        # the noise, however narrow [lower, upper] is: PyTorch 2.13 no longer takes the mean slope there
        (x,) = ctx.saved_tensors
        return RreluGrad.apply(grad, x, factor=ctx.noise)


class RreluResult(Op):
    """rrelu_ (Note [in-place activations]): x * noise while training (gradient: the noise), the mean slope in
    eval (noise None; gradient: that slope on the result's sign)."""
    node_name = "RreluWithNoiseBackward1"

    @staticmethod
    def forward(ctx, input, noise, mean_slope):
        ctx.noise, ctx.mean_slope = noise, mean_slope
        if noise is None:
            out = _leaky(ctx.xp, input, mean_slope)
        else:
            out = (input * noise).astype(input.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        if ctx.noise is not None:
            return RreluGrad.apply(grad, result, factor=ctx.noise)
        _check_result_slope(ctx.mean_slope)
        return RreluGrad.apply(grad, result, factor=_slope(ctx.xp, result._array, ctx.mean_slope))


# --- hardsigmoid, hardswish, hardshrink and softshrink -----------------------------------------------

class Hardsigmoid(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return opmath(ctx.xp, lambda x: ctx.xp.clip(x / 6 + 0.5, 0, 1), input).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = x._array
        return HardsigmoidGrad.apply(grad, x, drop=~((a > -3) & (a < 3)), factor=_ONE_SIXTH_F32)


class Hardswish(Op):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return opmath(ctx.xp, lambda x: x * ctx.xp.clip(x + 3, 0, 6) / 6, input).astype(input.dtype, copy=False)

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


# --- prelu, rrelu ------------------------------------------------------------------------------------

@export(method=True)
def prelu(input, weight):
    """x where x > 0, else weight * x; weight has 1 or input.size(1) (channel) entries."""
    if "prelu" in AUTOCAST:
        return autocast_run("prelu", prelu, input, weight)
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


def _rrelu_input(input, training):
    if isinstance(input, Tensor) and (input.dtype.category < _dt.FLOAT or input.is_complex()):
        kernel = "rrelu_with_noise_out_cpu" if training else "leaky_relu_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    return float_input("rrelu", input)


@export(method=False)
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """Randomized leaky relu: a random slope in [lower, upper] per non-positive element while training."""
    input = _rrelu_input(input, training)
    if not training:                               # PyTorch's eval path: the mean slope
        return RreluWithNoise.apply(input, negative_slope=(lower + upper) / 2)
    return RreluTrain.apply(input, noise=_rrelu_noise(input, lower, upper))


@export(method=False)
def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu() (PyTorch's RreluWithNoiseBackward1)."""
    def compute(x):
        x = _rrelu_input(x, training)
        if not training:
            return RreluResult.apply(x, noise=None, mean_slope=(lower + upper) / 2)
        return RreluResult.apply(x, noise=_rrelu_noise(x, lower, upper), mean_slope=None)
    return apply_inplace(input, compute, "rrelu_", (), {})


def _rrelu_noise(input, lower, upper):
    """The training slopes: 1 where input > 0, a uniform draw in [lower, upper] elsewhere."""
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
    return noise
