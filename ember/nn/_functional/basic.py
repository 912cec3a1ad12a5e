"""Part of ember.nn.functional: activations and dropout.

The rest of the non-spatial functional API lives next to this file (linear.py, normalization.py,
loss.py) and is re-exported from here, since nn/functional.py star-imports this module.
"""
import math
import warnings

from ... import _dtype as _dt
from ..._tensor import Tensor
from ...amp._dispatch import AUTOCAST, autocast_run
from ...autograd.grad_mode import no_grad
from ...ops import creation, softmax_family, unary
from ...ops import piecewise_activations as _piecewise
from ...ops import smooth_activations as _smooth
from ...ops.piecewise_activations import (Hardsigmoid, Hardswish, Hardtanh, LeakyRelu, LeakyReluResult, Softshrink,
                                          float_input, prelu)
from ...ops.piecewise_activations import relu as _relu
from ...ops.smooth_activations import Gelu, LogSigmoid, Mish, Silu, Softplus
from ...ops.inplace import apply_inplace
from .linear import *  # noqa: F403
from .linear import __all__ as _linear_all
from .loss import *  # noqa: F403
from .loss import __all__ as _loss_all
from .normalization import *  # noqa: F403
from .normalization import __all__ as _norm_all

__all__ = [
    # activations
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "elu", "elu_", "selu",
    "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh", "hardtanh_", "hardsigmoid",
    "hardswish", "hardshrink", "softshrink", "tanhshrink", "softplus", "softsign", "threshold", "threshold_",
    "logsigmoid", "softmax", "softmin", "log_softmax", "glu", "gumbel_softmax",
    # dropout
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
] + list(_linear_all) + list(_norm_all) + list(_loss_all)

sigmoid = unary.sigmoid
tanh = unary.tanh


def _maybe_inplace(input, inplace, name, fn, *args, **kwargs):
    """fn(input, ...) out of place, or written into input (PyTorch's inplace=True) for the activations whose
    in-place form PyTorch records with the out-of-place node on a copy of the input (HardtanhBackward0,
    SiluBackward0 ...); elu, selu, celu, leaky_relu, rrelu and threshold have nodes of their own
    (Note [in-place activations] in ember/ops/piecewise_activations.py)."""
    if inplace:
        # the op may save its input for backward: let it save a copy, since input is about to be overwritten
        return apply_inplace(input, lambda x, *a, **k: fn(x.clone() if x.requires_grad else x, *a, **k), name,
                             args, kwargs)
    return fn(input, *args, **kwargs)


# --- activations -------------------------------------------------------------------------------------

def relu_(input):
    return apply_inplace(input, relu, "relu_", (), {})


def relu(input, inplace=False):
    """max(input, 0)."""
    return relu_(input) if inplace else _relu(input)


def _hardtanh(input, min_val, max_val):
    """PyTorch's hardtanh clamps integers too; it refuses bool, complex, and negative limits for uint8."""
    if not isinstance(input, Tensor):
        float_input("hardtanh", input)             # the TypeError
    if input.dtype is _dt.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if input.dtype.is_complex:
        raise NotImplementedError("clamp is not supported for complex types")
    if input.dtype is _dt.uint8 and (min_val < 0 or max_val < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, "hardtanh_", _hardtanh, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(input, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def _leaky_relu(input, negative_slope):
    return LeakyRelu.apply(float_input("leaky_relu", input), negative_slope=negative_slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where positive, negative_slope * input elsewhere."""
    return leaky_relu_(input, negative_slope) if inplace else _leaky_relu(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return apply_inplace(input, lambda x: LeakyReluResult.apply(float_input("leaky_relu", x),
                                                                negative_slope=negative_slope), "leaky_relu_", (), {})


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky relu with a random slope in [lower, upper] while training, their mean in eval."""
    return (_piecewise.rrelu_ if inplace else _piecewise.rrelu)(input, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _piecewise.rrelu_(input, lower, upper, training)


def elu(input, alpha=1.0, inplace=False):
    """input where positive, alpha * (exp(input) - 1) elsewhere."""
    return elu_(input, alpha) if inplace else _smooth.elu_op(input, alpha)


def elu_(input, alpha=1.0):
    return _smooth.elu_inplace(input, "elu_", alpha)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with the self-normalising constants."""
    return (_smooth.selu_ if inplace else _smooth.selu)(input)


def selu_(input):
    return _smooth.selu_(input)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return (_smooth.celu_ if inplace else _smooth.celu)(input, alpha)


def celu_(input, alpha=1.0):
    return _smooth.celu_(input, alpha)


def gelu(input, approximate="none"):
    """x * Phi(x); approximate='tanh' uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh. (got {approximate!r})")
    return Gelu.apply(float_input("gelu", input), approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _maybe_inplace(input, inplace, "silu_", lambda x: Silu.apply(float_input("silu", x, complex_ok=True)))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, "mish_", lambda x: Mish.apply(float_input("mish", x)))


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _maybe_inplace(input, inplace, "hardsigmoid_",
                          lambda x: Hardsigmoid.apply(float_input("hardsigmoid", x)))


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    return _maybe_inplace(input, inplace, "hardswish_",
                          lambda x: Hardswish.apply(float_input("hardswish", x)))


hardshrink = _piecewise.hardshrink


def softshrink(input, lambd=0.5):
    """x moved lambd toward 0, and 0 inside [-lambd, lambd]."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Softshrink.apply(float_input("softshrink", input), lambd=lambd, soft=True)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold; never overflows."""
    if "softplus" in AUTOCAST:
        return autocast_run("softplus", softplus, input, beta, threshold)
    return Softplus.apply(float_input("softplus", input), beta=beta, threshold=threshold)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value."""
    return (_piecewise.threshold_ if inplace else _piecewise.threshold)(input, threshold, value)


def threshold_(input, threshold, value):
    return _piecewise.threshold_(input, threshold, value)


def logsigmoid(input):
    """log(sigmoid(x)) computed without overflow."""
    return LogSigmoid.apply(float_input("log_sigmoid_forward", input))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim."""
    if dim is None:
        dim = _implicit_dim("softmax", input.ndim)
    return softmax_family.softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if dim is None:
        dim = _implicit_dim("softmin", input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return softmax_family.softmax(-input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input.ndim)
    return softmax_family.log_softmax(input, dim, dtype)


def _implicit_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of input along dim."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {size}")
    half = size // 2
    a, b = input.narrow(dim, 0, half), input.narrow(dim, half, half)     # single-output views, not chunk's:
    return a * b.sigmoid()                         # an in-place change of input is then a version error


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau; hard=True returns one-hot samples with soft gradients."""
    with no_grad():
        gumbels = -creation.empty_like(logits).exponential_().log()
    y_soft = softmax_family.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# --- dropout -----------------------------------------------------------------------------------------

def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _empty_noise(input, shape):
    """PyTorch's noise tensor: empty_like(input) for elementwise dropout, so a non-contiguous input's mask
    is drawn in its memory order (bernoulli_ fills in memory order); a new contiguous tensor of the
    feature shape for feature dropout."""
    if shape is None:
        return creation.empty_like(input)
    return creation.empty(shape, dtype=input.dtype, device=input.device)


def _noise(input, shape, p):
    """Keep-mask scaled by 1/(1-p) (PyTorch draws bernoulli_(1 - p) on an empty tensor, then divides)."""
    noise = _empty_noise(input, shape)
    noise.bernoulli_(1 - p)
    noise._array /= (1 - p)
    return noise


def _dropout_with(input, p, inplace, name, noise_shape, alpha=False):
    """noise_shape None: elementwise (a mask shaped and laid out like input)."""
    if p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return _maybe_inplace(input, inplace, name, lambda x: x * 0)
    if alpha:
        noise = _empty_noise(input, noise_shape).bernoulli_(1 - p)
        a_const = 1.7580993408473766                       # -selu_alpha * selu_scale
        a = 1.0 / math.sqrt((a_const * a_const * p + 1) * (1 - p))
        shift = (noise - 1) * (a_const * a) + a_const * a * p
        noise = noise * a
        return _maybe_inplace(input, inplace, name, lambda x: x * noise + shift)
    noise = _noise(input, noise_shape, p)
    return _maybe_inplace(input, inplace, name, lambda x: x * noise)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    _check_p(p)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "dropout_", None)


def _feature_shape(input, batched_ndim):
    shape = tuple(input.shape)
    lead = 2 if input.ndim == batched_ndim else 1
    return shape[:lead] + (1,) * (len(shape) - lead)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if not training:
        return input
    return _dropout_with(input, p, inplace, "dropout1d_", _feature_shape(input, 3))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs."""
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and silence this warning, "
                      "please use dropout instead. Note that dropout2d exists to provide channel-wise dropout on "
                      "inputs with 2 spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "dropout2d_", _feature_shape(input, input.ndim))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _check_p(p)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "dropout3d_", _feature_shape(input, 5))


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "alpha_dropout_", None, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels."""
    _check_p(p)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "feature_alpha_dropout_", _feature_shape(input, input.ndim),
                         alpha=True)
