"""Part of ember.nn.functional: activations, dropout, linear, embedding, normalization, distances.

Losses live in loss.py next to this file and are re-exported from here.
"""
import math
import numbers
import warnings

from ... import _dtype as _dt
from ..._tensor import Tensor, _make
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...ops import activation as _act
from ...ops import creation, pointwise, reduction, shape
from ...ops.activation import (Gelu, Hardsigmoid, Hardswish, Hardtanh, LeakyRelu, LogSigmoid, Mish, Shrink,
                               Silu, Softplus, prelu)
from ...ops.activation import relu as _relu
from ...ops.inplace import apply_inplace
from ...ops.normalization import normalize as _normalize
from .loss import *  # noqa: F403
from .loss import __all__ as _loss_all

__all__ = [
    # activations
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "elu", "elu_", "selu",
    "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh", "hardtanh_", "hardsigmoid",
    "hardswish", "hardshrink", "softshrink", "tanhshrink", "softplus", "softsign", "threshold", "threshold_",
    "logsigmoid", "softmax", "softmin", "log_softmax", "glu", "gumbel_softmax",
    # dropout
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    # linear, sparse
    "linear", "bilinear", "embedding", "embedding_bag", "one_hot",
    # normalization
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm", "normalize",
    # distances
    "cosine_similarity", "pairwise_distance", "pdist", "cdist",
] + list(_loss_all)

sigmoid = pointwise.sigmoid
tanh = pointwise.tanh


def _check_tensor(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _maybe_inplace(input, inplace, name, fn, *args, **kwargs):
    """fn(input, ...) out of place, or written into input (PyTorch's inplace=True)."""
    if inplace:
        return apply_inplace(input, fn, name, args, kwargs)
    return fn(input, *args, **kwargs)


# --- activations -------------------------------------------------------------------------------------

def relu_(input):
    return apply_inplace(input, relu, "relu_", (), {})


def relu(input, inplace=False):
    """max(input, 0)."""
    return relu_(input) if inplace else _relu(input)


def _hardtanh(input, min_val, max_val):
    return Hardtanh.apply(_act.float_input("hardtanh", input), min_val=min_val, max_val=max_val)


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
    return LeakyRelu.apply(_act.float_input("leaky_relu", input), negative_slope=negative_slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where positive, negative_slope * input elsewhere."""
    return _maybe_inplace(input, inplace, "leaky_relu_", _leaky_relu, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky relu with a random slope in [lower, upper] while training, their mean in eval."""
    return _maybe_inplace(input, inplace, "rrelu_", _act.rrelu, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def elu(input, alpha=1.0, inplace=False):
    """input where positive, alpha * (exp(input) - 1) elsewhere."""
    return _maybe_inplace(input, inplace, "elu_", _act.elu_op, alpha)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with the self-normalising constants."""
    return _maybe_inplace(input, inplace, "selu_", _act.selu)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _maybe_inplace(input, inplace, "celu_", _act.celu, alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    """x * Phi(x); approximate='tanh' uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh. (got {approximate!r})")
    return Gelu.apply(_act.float_input("gelu", input), approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _maybe_inplace(input, inplace, "silu_", lambda x: Silu.apply(_act.float_input("silu", x)))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, "mish_", lambda x: Mish.apply(_act.float_input("mish", x)))


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _maybe_inplace(input, inplace, "hardsigmoid_",
                          lambda x: Hardsigmoid.apply(_act.float_input("hardsigmoid", x)))


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    return _maybe_inplace(input, inplace, "hardswish_",
                          lambda x: Hardswish.apply(_act.float_input("hardswish", x)))


hardshrink = _act.hardshrink


def softshrink(input, lambd=0.5):
    """x moved lambd toward 0, and 0 inside [-lambd, lambd]."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Shrink.apply(_act.float_input("softshrink", input), lambd=lambd, soft=True)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold; never overflows."""
    return Softplus.apply(_act.float_input("softplus", input), beta=beta, threshold=threshold)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value."""
    return _maybe_inplace(input, inplace, "threshold_", _act.threshold, threshold, value)


def threshold_(input, threshold, value):
    return apply_inplace(input, _act.threshold, "threshold_", (threshold, value), {})


def logsigmoid(input):
    """log(sigmoid(x)) computed without overflow."""
    return LogSigmoid.apply(_act.float_input("log_sigmoid_forward", input))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim."""
    if dim is None:
        dim = _implicit_dim("softmax", input.ndim)
    return reduction.softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if dim is None:
        dim = _implicit_dim("softmin", input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return reduction.softmax(-input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input.ndim)
    return reduction.log_softmax(input, dim, dtype)


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
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau; hard=True returns one-hot samples with soft gradients."""
    with no_grad():
        gumbels = -creation.empty_like(logits).exponential_().log()
    y_soft = reduction.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# --- dropout -----------------------------------------------------------------------------------------

def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(input, shape, p):
    """Keep-mask scaled by 1/(1-p) (PyTorch draws bernoulli_(1 - p) on an empty tensor, then divides)."""
    noise = creation.empty(shape, dtype=input.dtype, device=input.device)
    noise.bernoulli_(1 - p)
    noise._array /= (1 - p)
    return noise


def _dropout_with(input, p, inplace, name, noise_shape, alpha=False):
    if p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return _maybe_inplace(input, inplace, name, lambda x: x * 0)
    if alpha:
        noise = creation.empty(noise_shape, dtype=input.dtype, device=input.device).bernoulli_(1 - p)
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
    return _dropout_with(input, p, inplace, "dropout_", tuple(input.shape))


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
    return _dropout_with(input, p, inplace, "alpha_dropout_", tuple(input.shape), alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels."""
    _check_p(p)
    if not training:
        return input
    return _dropout_with(input, p, inplace, "feature_alpha_dropout_", _feature_shape(input, input.ndim),
                         alpha=True)


# --- linear ------------------------------------------------------------------------------------------

class Linear(Op):
    """input @ weight.T + bias in one node (one GEMM each way, no transpose or broadcast-add nodes)."""
    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias):
        out = input @ weight.T
        if bias is not None:
            out += bias
        ctx.save_for_backward(input, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_input = grad_weight = grad_bias = None
        if needs[0]:
            grad_input = grad @ weight
        if needs[1] or (len(needs) > 2 and needs[2]):
            g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
            if needs[1]:
                x2 = input.reshape(-1, input.shape[-1]) if input.ndim != 2 else input
                grad_weight = g2.mT @ x2
            if needs[2]:
                grad_bias = g2.sum(0)
        return grad_input, grad_weight, grad_bias


def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    if input.ndim == 0 or weight.ndim not in (1, 2):
        return _linear_general(input, weight, bias)
    in_features = weight.shape[-1]
    if input.shape[-1] != in_features:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{in_features}x{weight.shape[0] if weight.ndim == 2 else 1}) (linear: input "
                           f"{tuple(input.shape)} and weight {tuple(weight.shape)}: expected input[..., "
                           f"{in_features}] for in_features={in_features}, got {input.shape[-1]})")
    if weight.ndim == 1 or input.dtype is not weight.dtype or (bias is not None and (
            bias.dtype is not input.dtype or bias.ndim > 1)):
        return _linear_general(input, weight, bias)
    return Linear.apply(input, weight, bias)


def _linear_general(input, weight, bias):
    out = input.matmul(weight.t() if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {tuple(input1.shape[:-1])} and "
                           f"{tuple(input2.shape[:-1])}")
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input sizes {tuple(input1.shape)} and {tuple(input2.shape)} do not match "
                           f"weight {tuple(weight.shape)}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    # (B, I) @ (I, O*J) -> (B, O, J), then contract J with x2: two GEMM-shaped ops
    out_features, i, j = weight.shape
    tmp = x1.matmul(weight.permute(1, 0, 2).reshape(i, out_features * j)).reshape(-1, out_features, j)
    out = (tmp * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(tuple(lead) + (out_features,))


# --- embedding ---------------------------------------------------------------------------------------

class Embedding(Op):
    """weight[indices]; the gradient scatter-adds rows (padding_idx rows get none)."""
    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.num_weights = weight.shape[0]
        ctx.indices, ctx.padding_idx, ctx.scale = indices, padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        return EmbeddingGrad.apply(grad, indices=ctx.indices, num_weights=ctx.num_weights,
                                   padding_idx=ctx.padding_idx, scale=ctx.scale), None


class EmbeddingGrad(Op):
    """Rows of grad summed into a (num_weights, dim) table by index."""
    node_name = "EmbeddingDenseBackward0"

    @staticmethod
    def forward(ctx, grad, indices, num_weights, padding_idx, scale):
        xp = ctx.xp
        ctx.indices = indices
        flat = indices.reshape(-1)
        rows = grad.reshape(-1, grad.shape[-1])
        if scale:
            counts = xp.bincount(flat, minlength=num_weights)
            rows = rows / counts[flat][:, None]
        if padding_idx is not None:
            keep = flat != padding_idx
            flat, rows = flat[keep], rows[keep]
        out = xp.zeros((num_weights, grad.shape[-1]), dtype=grad.dtype)
        if flat.size:
            # sort + reduceat: much faster than add.at for large index arrays
            order = xp.argsort(flat, kind="stable")
            sorted_idx = flat[order]
            starts = xp.flatnonzero(xp.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1])))
            out[sorted_idx[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Embedding.apply(gg, indices=ctx.indices, padding_idx=None, scale_grad_by_freq=False)


def _check_indices(input, num_rows, what="embedding"):
    if input.dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for {what})")
    a = input._array
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < -num_rows or hi >= num_rows or lo < 0:
            bad = hi if hi >= num_rows else lo
            raise IndexError(f"index out of range in self ({what}: index {bad} is out of range for {what} with "
                             f"{num_rows} rows, valid indices are 0..{num_rows - 1})")


def _padding_idx(padding_idx, num_rows):
    if padding_idx is None:
        return None
    if padding_idx > 0 and padding_idx >= num_rows:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if padding_idx < 0:
        if padding_idx < -num_rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num_rows
    return padding_idx


def _embedding_renorm(weight, input, max_norm, norm_type):
    """Scale the referenced rows of weight (in place) so their norm is at most max_norm."""
    xp = weight._backend().xp
    with no_grad():
        rows = xp.unique(input._array.reshape(-1))
        sub = weight._array[rows]
        norms = xp.linalg.norm(sub.astype(xp.float64), ord=norm_type, axis=1) if norm_type != 2 else \
            xp.sqrt((sub.astype(xp.float64) ** 2).sum(1))
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(sub.dtype)
            weight._array[rows[over]] = sub[over] * scale[:, None]
            weight._bump_version()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer tensor input."""
    num_rows = weight.shape[0]
    padding_idx = _padding_idx(padding_idx, num_rows)
    _check_indices(input, num_rows)
    if max_norm is not None:
        _embedding_renorm(weight, input, max_norm, norm_type)
    return Embedding.apply(weight, input._array, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sum, mean or max of embedding rows per bag (bags are rows of a 2-D input or offsets into a 1-D one)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    num_rows = weight.shape[0]
    padding_idx = _padding_idx(padding_idx, num_rows)
    xp = weight._backend().xp
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type " + type(offsets).__name__)
        bags, length = input.shape
        flat = input.reshape(-1)
        bag_of = xp.repeat(xp.arange(bags), length)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._array.astype(xp.int64)
        flat = input
        n = input.shape[0]
        if include_last_offset:
            bags = starts.shape[0] - 1
            starts = starts[:-1]
        else:
            bags = starts.shape[0]
        bag_of = xp.searchsorted(starts, xp.arange(n), side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    _check_indices(flat, num_rows, "embedding_bag")
    if max_norm is not None:
        _embedding_renorm(weight, flat, max_norm, norm_type)
    keep = xp.ones(flat.shape[0], dtype=bool) if padding_idx is None else flat._array != padding_idx
    rows = embedding(flat, weight, scale_grad_by_freq=scale_grad_by_freq)
    dim = weight.shape[1]
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    if padding_idx is not None:
        rows = rows * _make(keep[:, None].astype(rows._array.dtype), rows.device)
    bag_index = _make(xp.asarray(bag_of, dtype=xp.int64), weight.device)
    if mode == "max":
        fill = creation.full((bags, dim), -math.inf, dtype=weight.dtype, device=weight.device)
        expanded = bag_index.unsqueeze(1).expand(-1, dim)
        out = fill.scatter_reduce(0, expanded, rows, "amax", include_self=True)
        counts = xp.bincount(bag_of[keep], minlength=bags)
        return out.masked_fill(_make((counts == 0)[:, None], weight.device), 0.0)
    out = creation.zeros((bags, dim), dtype=weight.dtype, device=weight.device).index_add(0, bag_index, rows)
    if mode == "mean":
        counts = xp.bincount(bag_of[keep], minlength=bags).astype(weight._array.dtype)
        out = out / _make(xp.maximum(counts, 1)[:, None], weight.device)
    return out


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a trailing class dimension."""
    if tensor.dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._array
    xp = tensor._backend().xp
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size and (a.min() < 0):
        raise RuntimeError("Class values must be non-negative.")
    if a.size and a.max() >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes (got class {int(a.max())} with "
                           f"num_classes={num_classes}).")
    out = (a[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _make(out, tensor.device)


# --- normalization -----------------------------------------------------------------------------------

def _affine_shape(ndim, channel_dim=1):
    def shape(c):
        s = [1] * ndim
        s[channel_dim] = c
        return tuple(s)
    return shape


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize over every dim but 1 with batch statistics (training) or running ones (eval)."""
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"batch_norm: {name} should contain {channels} elements (input has {channels} "
                               f"channels at dim 1, input shape {tuple(input.shape)}) but got {t.numel()}")
    affine_shape = _affine_shape(input.ndim)(channels)
    if training:
        count = input.numel() // channels
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        dims = (0,) + tuple(range(2, input.ndim))
        out, mean, invstd = _normalize(input, weight, bias, dims, affine_shape, eps)
        if running_mean is not None or running_var is not None:
            var = (1.0 / (invstd._array.astype("float64") ** 2) - eps) * (count / (count - 1))
            _update_running(running_mean, running_var, mean._array.reshape(-1), var.reshape(-1), momentum)
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    # eval: one per-channel scale and shift, then a single multiply-add over the input
    with no_grad():
        inv = (running_var + eps).rsqrt()
        mean = running_mean
    scale = inv if weight is None else weight * inv
    shift = -mean * scale if bias is None else bias - mean * scale
    return input * scale.reshape(affine_shape).to(input.dtype) + shift.reshape(affine_shape).to(input.dtype)


def _update_running(running_mean, running_var, mean_a, var_a, momentum):
    """running = (1 - momentum) * running + momentum * batch statistic (arrays; variance unbiased), in place."""
    m = momentum
    with no_grad():
        if running_mean is not None:
            ra = running_mean._array
            ra *= (1 - m)
            ra += (m * mean_a).astype(ra.dtype)
            running_mean._bump_version()
        if running_var is not None:
            rv = running_var._array
            rv *= (1 - m)
            rv += (m * var_a).astype(rv.dtype)
            running_var._bump_version()


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) over its spatial dims."""
    if input.ndim < 3:
        raise ValueError(f"expected 3D or more input (got {input.ndim}D input)")
    channels = input.shape[1]
    affine_shape = _affine_shape(input.ndim)(channels)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, input.ndim))
    out, mean, invstd = _normalize(input, weight, bias, dims, affine_shape, eps)
    if running_mean is not None or running_var is not None:
        count = math.prod(input.shape[2:])
        var = (1.0 / (invstd._array.astype("float64") ** 2) - eps) * (count / max(count - 1, 1))
        _update_running(running_mean, running_var, mean._array.mean(axis=0).reshape(-1),
                        var.mean(axis=0).reshape(-1), momentum)
    return out


def _normalized_dims(name, input, normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{input.shape} ({name}: the trailing dims of input {tuple(input.shape)} must equal "
                           f"{normalized_shape})")
    return normalized_shape, tuple(range(input.ndim - k, input.ndim))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing normalized_shape dims, then weight * x + bias."""
    normalized_shape, dims = _normalized_dims("layer_norm", input, normalized_shape)
    affine_shape = (1,) * (input.ndim - len(dims)) + normalized_shape
    return _normalize(input, weight, bias, dims, affine_shape, eps)[0]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight."""
    normalized_shape, dims = _normalized_dims("rms_norm", input, normalized_shape)
    if eps is None:
        eps = _dt.finfo(input.dtype).eps
    affine_shape = (1,) * (input.ndim - len(dims)) + normalized_shape
    return _normalize(input, weight, None, dims, affine_shape, eps, center=False)[0]


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each group of channels (with its spatial dims) per sample, then per-channel affine."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {input.shape} and num_groups={num_groups}")
    grouped = input.reshape(n, num_groups, -1)
    out = _normalize(grouped, None, None, (2,), (1, num_groups, 1), eps)[0].reshape(input.shape)
    affine_shape = _affine_shape(input.ndim)(c)
    if weight is not None:
        out = out * weight.reshape(affine_shape)
    if bias is not None:
        out = out + bias.reshape(affine_shape)
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha/size * sum of x^2 over `size` neighbouring channels)^beta."""
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    sq = (input * input).unsqueeze(1)                                 # (N, 1, C, *)
    pad_front, pad_back = size // 2, (size - 1) // 2
    n, c = input.shape[0], input.shape[1]
    rest = tuple(input.shape[2:])
    zeros_front = creation.zeros((n, 1, pad_front) + rest, dtype=input.dtype, device=input.device)
    zeros_back = creation.zeros((n, 1, pad_back) + rest, dtype=input.dtype, device=input.device)
    padded = shape.cat([zeros_front, sq, zeros_back], 2)
    window = padded[:, :, 0:c]                                        # mean over `size` shifted copies
    for i in range(1, size):
        window = window + padded[:, :, i:i + c]
    window = window / size
    div = (window.squeeze(1) * alpha + k) ** beta
    return input / div


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    denom = reduction.vector_norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    result = input / denom
    if out is not None:
        out.copy_(result)
        return out
    return result


# --- distances ---------------------------------------------------------------------------------------

def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(||x1||, eps) * max(||x2||, eps)) along dim."""
    x1, x2 = shape.broadcast_tensors(x1, x2) if x1.shape != x2.shape else (x1, x2)
    n1 = reduction.vector_norm(x1, 2, dim, keepdim=True).clamp_min(eps)
    n2 = reduction.vector_norm(x2, 2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    ndim = max(x1.ndim, x2.ndim)
    return reduction.vector_norm(x1 - x2 + eps, p, ndim - 1 if ndim else None, keepdim=keepdim)


def pdist(input, p=2):
    """Distances between all row pairs i < j of a 2-D input, flattened."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    rows, cols = creation.triu_indices(n, n, 1, device=input.device)
    return reduction.vector_norm(input[rows] - input[cols], p, -1)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances between every row of x1 and every row of x2 (batched over leading dims)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: "
                           f"{x2.shape[-1]}")
    r1, r2 = x1.shape[-2], x2.shape[-2]
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (r1 > 25 or r2 > 25)))
    if use_mm:
        sq1 = (x1 * x1).sum(-1, keepdim=True)
        sq2 = (x2 * x2).sum(-1, keepdim=True)
        d2 = (sq1 - 2 * x1.matmul(x2.mT) + sq2.mT).clamp_min(0)
        return _SafeSqrt.apply(d2)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return reduction.vector_norm(diff, p, -1)


class _SafeSqrt(Op):
    """sqrt with gradient 0 at 0 (distances between identical points)."""
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, input):
        out = ctx.xp.sqrt(input)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return pointwise.where(out == 0, 0.0, grad / (out * 2).clamp_min(1e-30))
