"""Top-level names PyTorch has that are another name, or a thin wrapper, of what ember already has.

- the function forms of in-place Tensor methods (`torch.sin_(x)` is `x.sin_()`), and a few other Tensor
  methods PyTorch also exports as functions (`torch.detach`, `torch.is_signed` ...);
- the ATen signatures of nn.functional ops (`torch.dropout(input, p, train)`, `torch.layer_norm`,
  `torch.embedding(weight, indices)`, losses taking `reduction` as PyTorch's int enum 0/1/2 ...);
- the `*_copy` forms of view ops (a contiguous copy of the view, with `out=`);
- small helpers: `unravel_index`, `empty_strided`, `empty_permuted`, `triangular_solve`, `cholesky_inverse`,
  the deterministic/anomaly flag functions.
Each computes with ember's own ops, so gradients come from them.
"""
import builtins

from . import _settings
from ._tensor import Tensor
from .autograd import anomaly_mode as _anomaly
from .ops import _common
from .amp._dispatch import AUTOCAST, autocast_run

# --- in-place (and other) Tensor methods PyTorch also exports as torch.<name>(tensor, ...) ---------------

TENSOR_METHOD_FUNCTIONS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_",
    "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_",
    "cosh_", "deg2rad_", "detach", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_",
    "floor_", "frac_", "gcd_", "get_device", "i0_", "index_put_", "is_signed", "lcm_", "ldexp_", "log10_",
    "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_",
    "resize_as_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_",
    "tanh_", "trunc_", "xlogy_", "zero_")

globals().update({name: getattr(Tensor, name) for name in TENSOR_METHOD_FUNCTIONS})


def _F():
    from .nn import functional
    return functional


# --- ATen signatures of nn.functional ops ---------------------------------------------------------------

# PyTorch's at::Reduction as an int: 0 none, 1 mean, 2 sum (other ints reduce nothing). Called from Python,
# torch.kl_div(input, target) & co. reduce nothing by default (reduction 0), whatever their schema says.
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(value, fn, position):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{fn}(): argument 'reduction' (position {position}) must be int, not "
                        f"{type(value).__name__}")
    return _REDUCTIONS.get(value, "none")


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def dropout(input, p, train):
    return _F().dropout(input, p, train)


def dropout_(input, p, train):
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout(input, p, train):
    return _F().alpha_dropout(input, p, train)


def alpha_dropout_(input, p, train):
    return _F().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input, p, train):
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p, train):
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input, p, train, inplace):
    from .nn._functional import basic
    basic._check_p(p)
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not train:
        return input
    noise_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)      # one draw per (sample, channel)
    return basic._dropout_with(input, p, inplace, "feature_dropout_", noise_shape)


def feature_dropout(input, p, train):
    """Zero whole channels (dim 1) of an input with at least 2 dims: what dropout1d/2d/3d run."""
    return _feature_dropout(input, p, train, False)


def feature_dropout_(input, p, train):
    return _feature_dropout(input, p, train, True)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _F().rms_norm(input, normalized_shape, weight, eps)


def bilinear(input1, input2, weight, bias=None):
    return _F().bilinear(input1, input2, weight, bias)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Rows of weight (first, as in ATen); a negative padding_idx means none."""
    return _F().embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Rescale (in place, without gradient) the rows of input that indices picks to norm at most max_norm."""
    from .nn._functional.linear import _embedding_renorm
    _embedding_renorm(input, indices, max_norm, norm_type)
    return input


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _F().binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits", 5),
        pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction(reduction, "cosine_embedding_loss", 5))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _F().hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction, "hinge_embedding_loss", 4))


def kl_div(input, target, reduction=0, *, log_target=False):
    """Pointwise KL divergence; reduction 1 is the mean over all elements (nn.functional's 'batchmean'
    advice and its warning belong to F.kl_div, not to this function)."""
    reduction = _reduction(reduction, "kl_div", 3)
    return _reduce(_F().kl_div(input, target, reduction="none", log_target=log_target), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction(reduction, "margin_ranking_loss", 5))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction(reduction, "poisson_nll_loss", 6))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction=0):
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction(reduction, "triplet_margin_loss", 8))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                         _reduction(reduction, "ctc_loss", 6), zero_infinity)


def cosine_similarity(x1, x2, dim=1, eps=1e-08):
    return _F().cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-06, keepdim=False):
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def pdist(input, p=2.0):
    return _F().pdist(input, p)


def pixel_shuffle(input, upscale_factor):
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    return _F().channel_shuffle(input, groups)


def native_channel_shuffle(input, groups):
    return _F().native_channel_shuffle(input, groups)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """(values, indices) of max_pool1d; an empty stride means the kernel size."""
    return _F().max_pool1d(input, kernel_size, stride if stride not in ((), []) else None, padding, dilation,
                           ceil_mode, return_indices=True)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """conv{1,2,3}d, or conv_transpose{1,2,3}d when transposed, by the weight's number of spatial dims."""
    F, n = _F(), weight.ndim - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
                           f"{list(input.shape)}")
    if transposed:
        return getattr(F, f"conv_transpose{n}d")(input, weight, bias, stride, padding, output_padding, groups,
                                                 dilation)
    return getattr(F, f"conv{n}d")(input, weight, bias, stride, padding, dilation, groups)


def affine_grid_generator(theta, size, align_corners):
    return _F().affine_grid(theta, size, align_corners=align_corners)


_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDING = ("zeros", "border", "reflection")


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """grid_sample with ATen's int enums: mode 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros,
    1 border, 2 reflection."""
    return _F().grid_sample(input, grid, _GRID_MODES[interpolation_mode], _GRID_PADDING[padding_mode],
                            align_corners)


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 4:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 5:
        raise RuntimeError(f"grid_sampler(): expected 5D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


# --- *_copy: a contiguous copy of a view op's result ------------------------------------------------------

def _copied(view, out):
    from .ops.creation import contiguous_format
    result = view.clone(memory_format=contiguous_format)
    return result if out is None else _common._out(result, out)


def _copied_list(views, out):
    results = [_copied(v, None) for v in views]
    if out is None:
        return results
    for target, result in zip(out, results):
        _common._out(result, target)
    return None


def alias_copy(input, *, out=None):
    return _copied(input, out)


def detach_copy(input, *, out=None):
    return _copied(input.detach(), out)


def as_strided_copy(input, size, stride, storage_offset=None, *, out=None):
    return _copied(input.as_strided(size, stride, storage_offset), out)


def diagonal_copy(input, offset=0, dim1=0, dim2=1, *, out=None):
    return _copied(input.diagonal(offset, dim1, dim2), out)


def expand_copy(input, size, *, implicit=False, out=None):
    return _copied(input.expand(size), out)


def permute_copy(input, dims, *, out=None):
    return _copied(input.permute(dims), out)


def select_copy(input, dim, index, *, out=None):
    return _copied(input.select(dim, index), out)


def slice_copy(input, dim=0, start=None, end=None, step=1, *, out=None):
    index = [builtins.slice(None)] * input.ndim
    index[dim] = builtins.slice(start, end, step)
    return _copied(input[tuple(index)], out)


def split_copy(input, split_size, dim=0, *, out=None):
    return _copied_list(input.split(split_size, dim), out)


def split_with_sizes_copy(input, split_sizes, dim=0, *, out=None):
    return _copied_list(input.split(list(split_sizes), dim), out)


def squeeze_copy(input, dim=None, *, out=None):
    return _copied(input.squeeze() if dim is None else input.squeeze(dim), out)


def t_copy(input, *, out=None):
    return _copied(input.t(), out)


def transpose_copy(input, dim0, dim1, *, out=None):
    return _copied(input.transpose(dim0, dim1), out)


def unbind_copy(input, dim=0, *, out=None):
    return _copied_list(input.unbind(dim), out)


def unfold_copy(input, dimension, size, step, *, out=None):
    return _copied(input.unfold(dimension, size, step), out)


def unsqueeze_copy(input, dim, *, out=None):
    return _copied(input.unsqueeze(dim), out)


def view_as_complex_copy(input, *, out=None):
    from .ops.views import view_as_complex
    return _copied(view_as_complex(input), out)


def view_as_real_copy(input, *, out=None):
    from .ops.views import view_as_real
    return _copied(view_as_real(input), out)


def view_copy(input, size, *, out=None):
    """view(size), or view(dtype) when size is a dtype, copied."""
    return _copied(input.view(size), out)


# --- other thin wrappers --------------------------------------------------------------------------------

def fill(input, value, *, out=None):
    """A new tensor like input holding value everywhere (the gradient reaches a tensor value, not input)."""
    result = input.clone().fill_(value)
    return result if out is None else _common._out(result, out)


def conj_physical(input, *, out=None):
    """The complex conjugate, computed now (not a lazy view); a real input is returned as it is."""
    from .ops.unary import conj
    if not input.is_complex():
        return input if out is None else _common._out(input.clone(), out)
    return _copied(conj(input), out)


def conj_physical_(input):
    if input.is_complex():
        from .ops.unary import conj
        input.copy_(conj(input))
    return input


def frobenius_norm(input, dim, keepdim=False, *, out=None):
    from .linalg import vector_norm
    return _common._out(vector_norm(input, 2, dim, keepdim), out)


def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """Sum of singular values over the last two dims (or over `dim`, a pair)."""
    from .linalg import matrix_norm
    if isinstance(dim, bool):                      # nuclear_norm(input, keepdim) positionally
        dim, keepdim = None, dim
    if dim is None and input.ndim != 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have 2 dimensions.")
    return _common._out(matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim), out)


def triangular_solve(input, A, upper=True, transpose=False, unitriangular=False):
    """(solution X of A X = input (or A^T X = input), a copy of A); deprecated in PyTorch (UserWarning)."""
    if "triangular_solve" in AUTOCAST:
        return autocast_run("triangular_solve", triangular_solve, input, A, upper, transpose, unitriangular)
    import warnings
    from .ops.solvers import TriangularSolve, _check_triangular
    warnings.warn("torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will be "
                  "removed in a future PyTorch release.\ntorch.linalg.solve_triangular has its arguments reversed "
                  "and does not return a copy of one of the inputs.\nX = torch.triangular_solve(B, A).solution\n"
                  "should be replaced with\nX = torch.linalg.solve_triangular(A, B).", UserWarning, stacklevel=2)
    _check_triangular(A.mT if transpose else A, input, True)
    solution, coefficient = TriangularSolve.apply(input, A, upper=bool(upper), transpose=bool(transpose),
                                                  unitriangular=bool(unitriangular))
    return _common.return_type("triangular_solve", ("solution", "cloned_coefficient"))(solution, coefficient)


def cholesky_inverse(input, upper=False, *, out=None):
    """The inverse of A from its Cholesky factor: (L L^H)^-1, or (U^H U)^-1 when upper."""
    if "cholesky_inverse" in AUTOCAST and out is None:
        return autocast_run("cholesky_inverse", cholesky_inverse, input, upper)
    from .ops.creation import eye
    from .ops.solvers import cholesky_solve
    if input.ndim < 2:
        raise RuntimeError("cholesky_inverse: The input tensor input must have at least 2 dimensions.")
    identity = eye(input.shape[-1], dtype=input.dtype, device=input.device).expand(input.shape)
    return _common._out(cholesky_solve(identity, input, upper), out)


def unravel_index(indices, shape):
    """The coordinates (one int64 tensor per dim of `shape`) of flat indices into a tensor of that shape."""
    from ._dtype import int64
    from .ops.creation import tensor
    if not isinstance(indices, Tensor) or indices.is_complex() or indices.is_floating_point() \
            or indices.dtype.name == "bool":
        dtype = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise TypeError(f"expected 'indices' to be integer dtype, but got {dtype}")
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    elif not isinstance(shape, (tuple, list)):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    for d in shape:
        if not isinstance(d, int):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(d)}")
    if any(d < 0 for d in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    strides, step = [], 1
    for d in reversed(shape):                      # row-major: the last dim varies fastest
        strides.append(step)
        step *= d
    strides = tensor(strides[::-1], dtype=int64, device=indices.device)
    coords = indices.unsqueeze(-1).floor_divide(strides) % tensor(list(shape), dtype=int64, device=indices.device)
    return coords.unbind(-1)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised (zero-filled in ember) tensor of `size` laid out with `stride` over its own storage."""
    from .ops.creation import empty
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    extent = 1 + builtins.sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    base = empty(extent, dtype=dtype, device=device)
    result = base.as_strided(size, stride)
    result = result.detach()
    return result.requires_grad_() if requires_grad else result


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialised tensor of `size` whose dims lie in memory in the order physical_layout gives."""
    from .ops.creation import empty
    size, order = tuple(size), tuple(physical_layout)
    if sorted(order) != list(builtins.range(len(size))):
        raise RuntimeError(f"Dimension out of range or repeated in physical_layout {list(order)}")
    inverse = [order.index(d) for d in builtins.range(len(size))]
    result = empty([size[d] for d in order], dtype=dtype, device=device).permute(inverse).detach()
    return result.requires_grad_() if requires_grad else result


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off for good (what the context managers do on entry)."""
    _anomaly.set_detect_anomaly(enabled, check_nan)


is_anomaly_enabled = _anomaly.is_anomaly_enabled
is_anomaly_check_nan_enabled = _anomaly.is_anomaly_check_nan_enabled


def set_deterministic_debug_mode(debug_mode):
    """use_deterministic_algorithms by level: "default"/0 off, "warn"/1 warn only, "error"/2 on."""
    if not isinstance(debug_mode, (int, str)):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if isinstance(debug_mode, str):
        levels = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in levels:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = levels[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    _settings.use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    """0 (off), 1 (warn only) or 2 (error): the level use_deterministic_algorithms set."""
    if not _settings.are_deterministic_algorithms_enabled():
        return 0
    return 1 if _settings.is_deterministic_algorithms_warn_only_enabled() else 2


def is_storage(obj):
    """True for a storage object (ember.UntypedStorage)."""
    from .storage import UntypedStorage
    return type(obj) is UntypedStorage


_DEFINED_HERE = [name for name, value in globals().items()
                 if callable(value) and not name.startswith("_") and getattr(value, "__module__", None) == __name__]
__all__ = list(TENSOR_METHOD_FUNCTIONS)           # what ember/__init__.py re-exports
__all__.extend(_DEFINED_HERE)
__all__.extend(["is_anomaly_enabled", "is_anomaly_check_nan_enabled"])
