"""Part of ember.nn.functional: pooling and unpooling: max, average, adaptive and power-average (lp) pooling
over the spatial dims, and max_unpool, which writes pooled values back at their indices.

The pooling primitives live in ember/ops/pooling.py (sliding windows) and ember/ops/adaptive_pooling.py; what
is here handles PyTorch's arguments and composes lp pooling and unpooling from differentiable ops.
Fractional max pooling is in fractional.py.
"""
import math

from ..._memory_format import keep_format_tensor
from ...ops import creation as _creation
from ...ops.adaptive_pooling import adaptive_avg_pool, adaptive_avg_pool1d, adaptive_max_pool
from ...ops.comparison import where
from ...ops.conv import expand_arg
from ...ops.pooling import avg_pool, avg_pool1d, max_pool
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
           "max_unpool2d", "max_unpool3d"]


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
    # PyTorch's sign(out) * relu(abs(out)): out itself, but a window summing to 0 passes no gradient (not the nan
    # of pow's infinite slope at 0 times 0)
    out = where(out == 0, 0.0, out)
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
    out = zeros.scatter(-1, indices.reshape(lead + (-1,)), values).reshape(lead + size)
    # see Note [memory formats]; PyTorch's max_unpool2d keeps a channels-last layout (max_unpool3d does not)
    return keep_format_tensor(out, input) if nd == 2 else out


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
