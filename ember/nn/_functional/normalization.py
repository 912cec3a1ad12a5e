"""Part of ember.nn.functional: normalization layers and distances (re-exported by basic.py)."""
import math
import numbers

from ... import _dtype as _dt
from ...amp._dispatch import AUTOCAST, autocast_run
from ...autograd.grad_mode import no_grad
from ...ops import creation, joining, norms, views
from ...ops.normalization import BatchNormEval, ChannelAffine, normalize as _normalize

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm", "normalize",
           "cosine_similarity", "pairwise_distance", "pdist"]


# --- normalization -----------------------------------------------------------------------------------

def _param_dtypes(input, *params):
    """PyTorch's CPU rule for normalization parameters (weight, bias, running_mean, running_var, in that order)
    of another dtype than the input. The first one given decides: of the input's dtype, every other must match
    ("expected scalar type"); else a mixed-dtype call, allowed only for a float16/bfloat16 input with float32
    parameters (computed in float32, returned in the input's dtype). Returns whether the call is mixed."""
    given = [p for p in params if p is not None]
    if not given or given[0].dtype is input.dtype:
        for p in given:
            if p.dtype is not input.dtype:
                raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                                   f"{_dt.scalar_type_name(p.dtype)}")
        return False
    if any(p.dtype is not _dt.float32 for p in given):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if input.dtype not in (_dt.float16, _dt.bfloat16):
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return True


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
    _param_dtypes(input, weight, bias, running_mean, running_var)
    affine_shape = _affine_shape(input.ndim)(channels)
    if training:
        count = input.numel() // channels
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        dims = (0,) + tuple(range(2, input.ndim))
        out, mean, invstd = _normalize(input, weight, bias, dims, affine_shape, eps, keep_channels_last=True)
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
    if use_input_stats:     # PyTorch's check (a 2-D input has one spatial element: it fails too)
        if math.prod(input.shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    elif input.ndim < 2:    # (with running statistics a 2-D input is (N, C), as PyTorch takes it)
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    _param_dtypes(input, weight, bias, running_mean, running_var)
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
    if "layer_norm" in AUTOCAST:
        return autocast_run("layer_norm", layer_norm, input, normalized_shape, weight, bias, eps)
    _param_dtypes(input, weight, bias)                 # (PyTorch checks the dtypes before the shapes)
    normalized_shape, dims = _normalized_dims("layer_norm", input, normalized_shape)
    _check_affine(normalized_shape, weight=weight, bias=bias)
    affine_shape = (1,) * (input.ndim - len(dims)) + normalized_shape
    return _normalize(input, weight, bias, dims, affine_shape, eps, save_bias=True)[0]   # PyTorch saves the bias


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight."""
    if "rms_norm" in AUTOCAST:
        return autocast_run("rms_norm", rms_norm, input, normalized_shape, weight, eps)
    normalized_shape, dims = _normalized_dims("rms_norm", input, normalized_shape)
    if eps is None:
        eps = _dt.finfo(input.dtype).eps
    affine_shape = (1,) * (input.ndim - len(dims)) + normalized_shape
    return _normalize(input, weight, None, dims, affine_shape, eps, center=False)[0]


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each group of channels (with its spatial dims) per sample, then per-channel affine."""
    if "group_norm" in AUTOCAST:
        return autocast_run("group_norm", group_norm, input, num_groups, weight, bias, eps)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if (n * c // num_groups) * math.prod(input.shape[2:]) == 1:   # PyTorch's _verify_batch_size (not dim 1)
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // num_groups, num_groups] + list(input.shape[2:])}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {input.shape} and num_groups={num_groups}")
    if _param_dtypes(input, weight, bias):           # float16/bfloat16 with float32 parameters: in float32
        return group_norm(input.float(), num_groups, weight, bias, eps).to(input.dtype)
    grouped = input.reshape(n, num_groups, -1)
    out = _normalize(grouped, None, None, (2,), (1, num_groups, 1), eps)[0].reshape(input.shape)
    if weight is None and bias is None and input._array.flags.c_contiguous:
        return out                                # (a channels-last input's layout: ChannelAffine keeps it)
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
    if "cosine_similarity" in AUTOCAST:
        return autocast_run("cosine_similarity", cosine_similarity, x1, x2, dim, eps)
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
    if "pdist" in AUTOCAST:
        return autocast_run("pdist", pdist, input, p)
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input.dtype.category != _dt.FLOAT:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if input.dtype in (_dt.float16, _dt.bfloat16):
        raise NotImplementedError(f"\"pdist\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    from ...ops.indexing import IndexWatched
    n = input.shape[0]
    rows, cols = creation.triu_indices(n, n, 1, device=input.device)
    first = IndexWatched.apply(input, (rows._array,), watch=(input,))      # PyTorch's pdist saves its input
    diff = first - input[cols]
    out = norms.vector_norm(diff, p, -1)
    if p == 0 and diff.requires_grad:   # a count, but PyTorch's pdist node gives the input a zero gradient
        from ...ops.comparison import where
        out = where(creation.ones(out.shape, dtype=_dt.bool_, device=input.device), out, diff.sum(-1))
    return out

