"""Part of ember.nn.functional: normalization layers and distances (re-exported by basic.py)."""
import math
import numbers

from ... import _dtype as _dt
from ...autograd.grad_mode import no_grad
from ...ops import creation, joining, norms, views
from ...ops.normalization import BatchNormEval, ChannelAffine, normalize as _normalize
from ...ops.norms import SafeSqrt

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm", "normalize",
           "cosine_similarity", "pairwise_distance", "pdist", "cdist"]


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
    return BatchNormEval.apply(input, weight, bias, running_mean, running_var, eps=float(eps),
                               affine_shape=affine_shape)


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
    if not k:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(input.shape)}")
    return normalized_shape, tuple(range(input.ndim - k, input.ndim))


def _check_affine(normalized_shape, **params):
    for name, t in params.items():
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(normalized_shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing normalized_shape dims, then weight * x + bias."""
    normalized_shape, dims = _normalized_dims("layer_norm", input, normalized_shape)
    _check_affine(normalized_shape, weight=weight, bias=bias)
    affine_shape = (1,) * (input.ndim - len(dims)) + normalized_shape
    return _normalize(input, weight, bias, dims, affine_shape, eps, save_bias=True)[0]   # PyTorch saves the bias


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
    if weight is None and bias is None:
        return out
    return ChannelAffine.apply(out, weight, bias, affine_shape=_affine_shape(input.ndim)(c), watch=(input,))


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
    padded = joining.cat([zeros_front, sq, zeros_back], 2)
    window = padded[:, :, 0:c]                                        # mean over `size` shifted copies
    for i in range(1, size):
        window = window + padded[:, :, i:i + c]
    window = window / size
    div = (window.squeeze(1) * alpha + k) ** beta
    return input / div


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    denom = norms.vector_norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    result = input / denom
    if out is not None:
        out.copy_(result)
        return out
    return result


# --- distances ---------------------------------------------------------------------------------------

def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(||x1||, eps) * max(||x2||, eps)) along dim."""
    x1, x2 = views.broadcast_tensors(x1, x2) if x1.shape != x2.shape else (x1, x2)
    n1 = norms.vector_norm(x1, 2, dim, keepdim=True).clamp_min(eps)
    n2 = norms.vector_norm(x2, 2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    ndim = max(x1.ndim, x2.ndim)
    return norms.vector_norm(x1 - x2 + eps, p, ndim - 1 if ndim else None, keepdim=keepdim)


def pdist(input, p=2):
    """Distances between all row pairs i < j of a 2-D input, flattened."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    from ...ops.indexing import IndexWatched
    n = input.shape[0]
    rows, cols = creation.triu_indices(n, n, 1, device=input.device)
    first = IndexWatched.apply(input, (rows._array,), watch=(input,))      # PyTorch's pdist saves its input
    return norms.vector_norm(first - input[cols], p, -1)


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
        return SafeSqrt.apply(d2)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return norms.vector_norm(diff, p, -1)
