"""Part of ember.nn.functional: convolution, pooling, padding, resampling and sampling grids.

The windowed primitives live in ember/ops/conv.py and ember/ops/pooling.py; what is here handles
PyTorch's arguments and composes the rest (interpolation, pixel shuffle, grid sampling) from
differentiable ops, so every function has gradients of all orders.
"""
import math
import numpy as np

from ... import _dtype as _dt
from ..._tensor import Tensor
from ...ops import creation as _creation
from ...ops.comparison import where
from ...ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                         constant_pad_nd, expand_arg, fold_columns, unfold_columns)
from ...ops.pooling import adaptive_avg_pool, adaptive_avg_pool1d, adaptive_max_pool, avg_pool, avg_pool1d, max_pool
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "channel_shuffle",
           "native_channel_shuffle", "max_unpool1d", "max_unpool2d", "max_unpool3d", "unfold", "fold", "pad",
           "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "affine_grid", "grid_sample"]


# --- pooling -------------------------------------------------------------------------------------------------

def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of the last dim; with return_indices also the flat positions of the maxima."""
    return max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of the last two dims (stride defaults to kernel_size)."""
    return max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of the last three dims."""
    if "max_pool3d" in AUTOCAST and not return_indices:
        return autocast_run("max_pool3d", max_pool3d, input, kernel_size, stride, padding, dilation, ceil_mode)
    return max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of the last two dims; PyTorch's divisor rules at the borders."""
    return avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if "avg_pool3d" in AUTOCAST:
        return autocast_run("avg_pool3d", avg_pool3d, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                            divisor_override)
    return avg_pool("avg_pool3d", input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows [floor(i*in/out), ceil((i+1)*in/out)) of the last two dims."""
    return adaptive_avg_pool("adaptive_avg_pool2d", input, 2, output_size)


def adaptive_avg_pool3d(input, output_size):
    if "adaptive_avg_pool3d" in AUTOCAST:
        return autocast_run("adaptive_avg_pool3d", adaptive_avg_pool3d, input, output_size)
    return adaptive_avg_pool("adaptive_avg_pool3d", input, 3, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive windows of the last dim."""
    return adaptive_max_pool("adaptive_max_pool1d", input, 1, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows of the last two dims."""
    return adaptive_max_pool("adaptive_max_pool2d", input, 2, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    if "adaptive_max_pool3d" in AUTOCAST:
        return autocast_run("adaptive_max_pool3d", adaptive_max_pool3d, input, output_size, return_indices)
    return adaptive_max_pool("adaptive_max_pool3d", input, 3, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, nd):
    kernel = expand_arg(kernel_size, nd, "kernel_size", "lp_pool")
    pool = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[nd]
    out = pool(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    return out.mul(math.prod(kernel)).pow(1.0 / norm_type)      # the window sum of x^p, to the 1/p


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


def _max_unpool(name, input, indices, kernel_size, stride, padding, output_size, nd):
    kernel = expand_arg(kernel_size, nd, "kernel_size", name)
    stride = kernel if stride is None else expand_arg(stride, nd, "stride", name)
    pads = expand_arg(padding, nd, "padding", name)
    spatial_in = tuple(input.shape[-nd:])
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(spatial_in, stride, pads, kernel))
    if output_size is None:
        size = default
    else:
        size = tuple(int(s) for s in output_size)[-nd:]
        for s, d, st in zip(size, default, stride):
            if not d - st < s < d + st:
                raise ValueError(f"invalid output_size {list(output_size)} (dim must be between "
                                 f"{[d_ - s_ for d_, s_ in zip(default, stride)]} and "
                                 f"{[d_ + s_ for d_, s_ in zip(default, stride)]})")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{name}: expected shape of indices to be same as that of input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    lead = tuple(input.shape[:-nd])
    flat = math.prod(size)
    if indices.numel() and (int(indices.max()) >= flat or int(indices.min()) < 0):
        raise RuntimeError(f"{name}: found an invalid max index {int(indices.max())} (output volumes are of size "
                           f"{'x'.join(map(str, size))})")
    zeros = _creation.zeros(lead + (flat,), dtype=input.dtype, device=input.device)
    values = input.reshape(lead + (-1,))
    out = zeros.scatter(-1, indices.reshape(lead + (-1,)), values)
    return out.reshape(lead + size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool1d: values written back at their indices, zeros elsewhere."""
    return _max_unpool("max_unpool1d", input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: values written back at their flat per-channel indices."""
    if "max_unpool2d" in AUTOCAST:
        return autocast_run("max_unpool2d", max_unpool2d, input, indices, kernel_size, stride, padding, output_size)
    return _max_unpool("max_unpool2d", input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    if "max_unpool3d" in AUTOCAST:
        return autocast_run("max_unpool3d", max_unpool3d, input, indices, kernel_size, stride, padding, output_size)
    return _max_unpool("max_unpool3d", input, indices, kernel_size, stride, padding, output_size, 3)


# --- unfold / fold -------------------------------------------------------------------------------------------

def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C * kh * kw, L) sliding-window columns."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    kernel = expand_arg(kernel_size, 2, "kernel_size", "unfold")
    dilation = expand_arg(dilation, 2, "dilation", "unfold")
    pads = expand_arg(padding, 2, "padding", "unfold")
    stride = expand_arg(stride, 2, "stride", "unfold")
    for size, k, d, p in zip(input.shape[2:], kernel, dilation, pads):
        if size + 2 * p < d * (k - 1) + 1:
            raise RuntimeError(f"Given input with spatial size ({input.shape[2]}, {input.shape[3]}), "
                               f"kernel_size=({kernel[0]}, {kernel[1]}), dilation=({dilation[0]}, {dilation[1]}), "
                               f"padding=({pads[0]}, {pads[1]}), calculated shape of the array of sliding blocks "
                               "is non-positive")
    cols = unfold_columns(input, kernel, dilation, tuple((p, p) for p in pads), stride)     # (C*K, N*L)
    out = cols.reshape(cols.shape[0], input.shape[0], -1).transpose(0, 1).contiguous()
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C * kh * kw, L) columns summed into (N, C, *output_size); overlaps add up."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.ndim}D)")
    unbatched = input.ndim == 2
    if unbatched:
        input = input.unsqueeze(0)
    size = expand_arg(output_size, 2, "output_size", "fold")
    kernel = expand_arg(kernel_size, 2, "kernel_size", "fold")
    dilation = expand_arg(dilation, 2, "dilation", "fold")
    pads = expand_arg(padding, 2, "padding", "fold")
    stride = expand_arg(stride, 2, "stride", "fold")
    taps = math.prod(kernel)
    if input.shape[1] % taps:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={input.shape[1]} and kernel_size=({kernel[0]}, {kernel[1]})")
    blocks = [(s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in zip(size, pads, dilation, kernel, stride)]
    if blocks[0] * blocks[1] != input.shape[2]:
        raise RuntimeError(f"Given output_size=({size[0]}, {size[1]}), kernel_size=({kernel[0]}, {kernel[1]}), "
                           f"dilation=({dilation[0]}, {dilation[1]}), padding=({pads[0]}, {pads[1]}), "
                           f"stride=({stride[0]}, {stride[1]}), expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]},"
                           f" but got input.size(2)={input.shape[2]}.")
    cols = input.transpose(0, 1).reshape(input.shape[1], -1)                                 # (C*K, N*L)
    out = fold_columns(cols, size, kernel, dilation, tuple((p, p) for p in pads), stride)
    return out.squeeze(0) if unbatched else out


# --- padding -------------------------------------------------------------------------------------------------

def _pad_index(mode, size, lo, hi):
    """Source positions along one dim for reflect / replicate / circular padding."""
    positions = np.arange(-lo, size + hi)
    if mode == "reflect":
        period = 2 * (size - 1)
        positions = np.abs(positions) % period if period else np.zeros_like(positions)
        positions = np.where(positions >= size, period - positions, positions)
    elif mode == "replicate":
        positions = np.clip(positions, 0, size - 1)
    else:
        positions = positions % size
    return positions


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims; pad = (last_lo, last_hi, second_last_lo, ...). Modes: constant,
    reflect, replicate, circular."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if AUTOCAST and mode in ("reflect", "replicate"):     # PyTorch's reflection_pad1d/2d, replication_pad1d/2d/3d
        kernel = ("reflection_pad" if mode == "reflect" else "replication_pad") + f"{len(pad) // 2}d"
        if kernel in AUTOCAST:
            return autocast_run(kernel, _pad, input, pad, mode, value)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, but got {len(pad)}")
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument")
    dims = len(pad) // 2
    if input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
                                  f"(pad of length {len(pad)} needs a {dims + 1}D or {dims + 2}D input for mode "
                                  f"{mode}, got {input.ndim}D)")
    out = input
    for i in range(dims):
        lo, hi = pad[2 * i], pad[2 * i + 1]
        dim = input.ndim - 1 - i
        size = input.shape[dim]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError(f"Padding value causes wrapping around more than once (padding ({lo}, {hi}) at "
                               f"dimension {dim} of input {list(input.shape)})")
        if mode == "replicate" and size == 0 and (lo or hi):
            raise RuntimeError(f"padding size is expected to be less than the input's dimension {dim} size 0")
        if lo == 0 and hi == 0:
            continue
        index = _creation.tensor(_pad_index(mode, size, lo, hi), device=input.device)
        if out is input and mode != "circular":        # PyTorch's reflection/replication pad saves its input
            from ...ops.indexing import IndexWatched
            out = IndexWatched.apply(input, (slice(None),) * dim + (index._array,), watch=(input,))
        else:
            out = out.index_select(dim, index)
    return out if out is not input else input.clone()


_pad = pad                                           # pad() names its argument pad


# --- resampling ------------------------------------------------------------------------------------------------

_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _interp_sizes(input, size, scale_factor, nd, recompute_scale_factor):
    spatial = tuple(input.shape[-nd:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(int(s) for s in size) if isinstance(size, (list, tuple)) else (int(size),) * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(spatial)} and output size of {list(sizes)}. Please "
                             "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             "...,oK) format.")
        return sizes, (None,) * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (list, tuple)) \
        else (float(scale_factor),) * nd
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(spatial)} and scale_factor of shape {list(scales)}.")
    sizes = tuple(int(math.floor(s * f)) for s, f in zip(spatial, scales))
    return sizes, ((None,) * nd if recompute_scale_factor else scales)


def _coord_scale(in_size, out_size, scale, align_corners, real):
    """PyTorch's area_pixel_compute_scale, in the input's precision like its CPU kernels."""
    if align_corners:
        return real((in_size - 1) / (out_size - 1)) if out_size > 1 else real(0)
    if scale is not None and scale > 0:
        return real(1.0 / scale)
    return real(in_size / out_size)


def _taps(mode, in_size, out_size, scale, align_corners, real):
    """[(index array, weight array or None)] whose weighted sum along a dim resamples it."""
    dst = np.arange(out_size, dtype=real)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and out_size == in_size:
            return [(np.arange(out_size), None)]
        # nearest modes compute their source index in float32 whatever the dtype, as PyTorch does
        factor = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_size / out_size)
        offset = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
        index = np.floor((dst.astype(np.float32) + offset) * factor).astype(np.int64)
        return [(np.minimum(index, in_size - 1), None)]
    ratio = _coord_scale(in_size, out_size, scale, align_corners, real)
    if align_corners:
        src = ratio * dst
    else:
        src = ratio * (dst + real(0.5)) - real(0.5)
    if mode == "bicubic":
        base = np.floor(src)
        t = (src - base).astype(real)
        base = base.astype(np.int64)
        a = real(-0.75)                              # PyTorch's cubic convolution coefficient

        def near(x):                                 # |x| <= 1
            return ((a + 2) * x - (a + 3)) * x * x + 1

        def far(x):                                  # 1 < |x| < 2
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
        return [(np.clip(base + k - 1, 0, in_size - 1), w) for k, w in enumerate(weights)]
    src = np.maximum(src, real(0))                   # linear modes clamp negative source positions
    low = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = (src - low).astype(real)
    return [(low, 1 - frac), (high, frac)]


def _resample_dim(input, dim, taps):
    out = None
    shape = [1] * input.ndim
    shape[dim] = len(taps[0][0])
    for index, weight in taps:
        picked = input.index_select(dim, _creation.tensor(index, device=input.device))
        if weight is not None:
            picked = picked * _creation.tensor(weight.reshape(shape), dtype=input.dtype, device=input.device)
        out = picked if out is None else out + picked
    return out


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims: nearest, nearest-exact, (bi/tri)linear, bicubic or area, as PyTorch maps
    output positions onto the input (align_corners, scale_factor)."""
    if input.ndim < 3:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the "
                         f"modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                         f"(got {mode})")
    nd = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _INTERP_DIMS:
        if _INTERP_DIMS[mode] != nd:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                      f"{_INTERP_DIMS[mode] + 2}D input")
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by ember")
    sizes, scales = _interp_sizes(input, size, scale_factor, nd, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, sizes))})")
    if mode == "area":
        return adaptive_avg_pool("adaptive_avg_pool", input, nd, sizes)
    if input.dtype.category < _dt.FLOAT and mode not in ("nearest", "nearest-exact"):
        raise RuntimeError(f"\"upsample_{mode}\" not implemented for '{input.dtype.name.capitalize()}'")
    real = np.float64 if input.dtype is _dt.float64 else np.float32
    out = input
    for i, (target, scale) in enumerate(zip(sizes, scales)):
        dim = 2 + i
        taps = _taps(mode, input.shape[dim], target, scale, align_corners, real)
        if len(taps) == 1 and taps[0][1] is None and target == input.shape[dim] and \
                np.array_equal(taps[0][0], np.arange(target)):
            continue
        out = _resample_dim(out, dim, taps)
    return out if out is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    out = input.reshape(*lead, c // (r * r), r, r, h, w)
    out = out.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return out.reshape(*lead, c // (r * r), h * r, w * r)


def channel_shuffle(input, groups):
    """(N, g*k, *) -> (N, k*g, *): interleave the channels of g groups."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = tuple(input.shape[2:])
    return input.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape((n, c) + rest)


native_channel_shuffle = channel_shuffle


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} and input.size(-1)={w} are not divisible by {r}")
    n = len(lead)
    out = input.reshape(*lead, c, h // r, r, w // r, r)
    out = out.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return out.reshape(*lead, c * r * r, h // r, w // r)


# --- sampling grids ---------------------------------------------------------------------------------------------

def _base_coords(size, align_corners):
    if size <= 1:
        coords = np.zeros(max(size, 0))
    else:
        coords = np.linspace(-1.0, 1.0, size)
        if not align_corners:
            coords = coords * (size - 1) / size
    return coords


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of an affine map theta (N, 2, 3) (or (N, 3, 4))."""
    align_corners = bool(align_corners)
    size = tuple(int(s) for s in size)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {list(size)}. Got "
                             f"{list(theta.shape)}.")
        n, _, h, w = size
        xs = _base_coords(w, align_corners)
        ys = _base_coords(h, align_corners)
        base = np.stack([np.broadcast_to(xs[None, :], (h, w)), np.broadcast_to(ys[:, None], (h, w)),
                         np.ones((h, w))], -1).reshape(1, h * w, 3)
        spatial = (h, w)
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {list(size)}. Got "
                             f"{list(theta.shape)}.")
        n, _, d, h, w = size
        xs = _base_coords(w, align_corners)
        ys = _base_coords(h, align_corners)
        zs = _base_coords(d, align_corners)
        grid = np.meshgrid(zs, ys, xs, indexing="ij")
        base = np.stack([grid[2], grid[1], grid[0], np.ones((d, h, w))], -1).reshape(1, d * h * w, 4)
        spatial = (d, h, w)
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {list(size)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    if theta.shape[0] != n:
        raise ValueError(f"Expected theta batch size {theta.shape[0]} to match size[0]={n}")
    base = _creation.tensor(base, dtype=theta.dtype, device=theta.device)
    grid = base @ theta.mT                          # (N, points, ndim)
    return grid.reshape(n, *spatial, len(spatial))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    """Fold coordinates back into [low, high] by mirroring, as PyTorch's grid sampler does."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    coord = (coord - low).abs()
    flips = (coord / span).floor()
    extra = coord - flips * span
    return where(flips.remainder(2) == 0, extra + low, span - extra + low)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) locations in [-1, 1] (x, y); bilinear or nearest,
    zeros / border / reflection padding. Gradients flow to both input and grid."""
    if "grid_sampler" in AUTOCAST:
        return autocast_run("grid_sampler", grid_sample, input, grid, mode, padding_mode, align_corners)
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'" if mode != "bicubic" else
                         "grid_sample: mode='bicubic' is not supported by ember")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sample(): ember supports 4-D input (N, C, H, W) with grid (N, H_out, W_out, 2); "
                           f"got input {list(input.shape)} and grid {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    align_corners = bool(align_corners)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    x = _unnormalize(grid[..., 0], w, align_corners)
    y = _unnormalize(grid[..., 1], h, align_corners)
    if padding_mode == "border":
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
    elif padding_mode == "reflection":
        if align_corners:
            x, y = _reflect(x, 0, 2 * (w - 1)), _reflect(y, 0, 2 * (h - 1))
        else:
            x, y = _reflect(x, -1, 2 * w - 1), _reflect(y, -1, 2 * h - 1)
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
    flat = input.reshape(n, c, h * w)

    def corner(xi, yi):
        """Values at integer corners (N, C, Ho*Wo), zero where the corner is outside the input."""
        inside = ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1))
        index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        values = flat.gather(2, index)
        return values * inside.reshape(n, 1, ho * wo).to(input.dtype)

    if mode == "nearest":
        xi, yi = x.detach().round(), y.detach().round()      # round half to even, as PyTorch's nearbyint
        return _grid_sampler_saves(corner(xi, yi).reshape(n, c, ho, wo), input, grid)
    x0, y0 = x.detach().floor(), y.detach().floor()
    x1, y1 = x0 + 1, y0 + 1
    wx1, wy1 = x - x0, y - y0
    wx0, wy0 = x1 - x, y1 - y
    out = None
    for xi, yi, weight in ((x0, y0, wx0 * wy0), (x1, y0, wx1 * wy0), (x0, y1, wx0 * wy1), (x1, y1, wx1 * wy1)):
        term = corner(xi, yi) * weight.reshape(n, 1, ho * wo)
        out = term if out is None else out + term
    return _grid_sampler_saves(out.reshape(n, c, ho, wo), input, grid)


def _grid_sampler_saves(out, input, grid):
    """PyTorch's grid sampler node saves the input and the grid whichever needs a gradient (not the output)."""
    if not out.requires_grad:
        return out
    from ...ops._common import saves_for
    return saves_for(out, (input, grid), "GridSampler2DBackward0", keep_output=False)

