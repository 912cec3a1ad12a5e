"""Part of ember.nn.functional: convolution, unfold/fold (im2col/col2im), padding, and the pixel and channel
shuffles.

The windowed primitives live in ember/ops/conv.py; what is here handles PyTorch's arguments and composes the
rest from differentiable ops, so every function has gradients of all orders. Pooling is in pooling.py,
interpolation and grid sampling in resampling.py.
"""
import math
import numpy as np

from ..._memory_format import keep_format_tensor
from ..._tensor import Tensor, _make
from ...ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                         constant_pad_nd, expand_arg, fold_columns, unfold_columns)
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
           "fold", "pad", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]


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

def _pad_index(xp, mode, size, lo, hi):
    """Source positions along one dim for reflect / replicate / circular padding, an int64 array of xp."""
    positions = xp.arange(-lo, size + hi, dtype=np.int64)
    if mode == "reflect":
        period = 2 * (size - 1)
        positions = xp.abs(positions) % period if period else xp.zeros_like(positions)
        positions = xp.where(positions >= size, period - positions, positions)
    elif mode == "replicate":
        positions = xp.clip(positions, 0, size - 1)
    else:   # PyTorch's circular pad crops (negative pads) first, then wraps around what is left
        start, kept = max(-lo, 0), size - max(-lo, 0) - max(-hi, 0)
        positions = start + xp.arange(-max(lo, 0), kept + max(hi, 0), dtype=np.int64) % max(kept, 1)
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
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    dims = len(pad) // 2
    if input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
                                  f"(pad of length {len(pad)} needs a {dims + 1}D or {dims + 2}D input for mode "
                                  f"{mode}, got {input.ndim}D)")
    sizes = [input.shape[input.ndim - 1 - i] + pad[2 * i] + pad[2 * i + 1] for i in range(dims)]
    if mode != "circular" and (all(s < 1 for s in sizes) or min(sizes) < 0):   # (PyTorch's checks)
        raise RuntimeError(f"input {list(input.shape)} is too small. Calculated output sizes (last dim first): "
                           f"{sizes}")
    out, xp = input, input._backend().xp
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
        kept = size - max(-lo, 0) - max(-hi, 0)
        # PyTorch's circular pad crops first, then copies within its output: a pad wider than what the negative
        # pads leave overlaps its source (PyTorch refuses, or reads memory it never wrote, by layout): refused
        if mode == "circular" and (kept < 0 or lo > kept or hi > kept):
            raise RuntimeError(f"Padding ({lo}, {hi}) at dimension {dim} wraps around more than the {max(kept, 0)} "
                               f"elements its negative padding leaves of input {list(input.shape)}")
        if lo == 0 and hi == 0:
            continue
        index = _make(_pad_index(xp, mode, size, lo, hi), input.device)
        if out is input and mode != "circular":        # PyTorch's reflection/replication pad saves its input
            from ...ops.indexing import IndexWatched
            out = IndexWatched.apply(input, (slice(None),) * dim + (index._array,), watch=(input,))
        else:
            out = out.index_select(dim, index)
    if out is input:
        return input.clone()
    # see Note [memory formats]; PyTorch's reflection and replication pads keep a channels-last layout
    return out if mode == "circular" else keep_format_tensor(out, input)


_pad = pad                                           # pad() names its argument pad


# --- pixel and channel shuffles ------------------------------------------------------------------------------

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
    return keep_format_tensor(out.reshape(*lead, c // (r * r), h * r, w * r), input)   # Note [memory formats]


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
    out = input.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape((n, c) + rest)
    return keep_format_tensor(out, input)                                    # Note [memory formats]


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
    return keep_format_tensor(out.reshape(*lead, c * r * r, h // r, w // r), input)   # Note [memory formats]
