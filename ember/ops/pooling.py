"""Pooling: max and average over sliding windows (see Note [window geometry] in conv.py), adaptive pools.

Max and average pooling loop over kernel offsets only (prod(kernel) vectorised passes over strided
views of the padded input). The max forward is a running np.maximum; its backward finds which
offset won (comparing each offset's view with the saved output) and writes one strided slice per
offset.
"""
import math

from .. import _dtype as _dt
from ..autograd.function import Op
from ._common import nodiff
from ._registry import export
from .sampling import _SCALAR_NAME
from .conv import (crop_canvas, expand_arg, new_canvas, offsets, out_size, pad_canvas,
                   window_at)
from ..amp._dispatch import AUTOCAST, autocast_run

__all__ = []


def _lowest(xp, dtype):
    # ml_dtypes' bfloat16 is kind "V" (what autocast hands a pooling layer on the CPU)
    return -xp.inf if dtype.kind in "fc" or dtype.name == "bfloat16" else xp.iinfo(dtype).min


class MaxPool(Op):
    """Max over windows of the last len(kernel) dims; NaN propagates (np.maximum keeps NaN)."""
    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, dilation, return_indices=False):
        xp = ctx.xp
        ctx.geometry = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
        canvas = pad_canvas(xp, input, padding, _lowest(xp, input.dtype))
        out = out_size(canvas.shape[-len(kernel_size):], kernel_size, stride, dilation)
        best = None
        for offset in offsets(kernel_size):
            values = canvas[window_at(offset, stride, dilation, out)]
            if best is None:
                best = values.copy()
            else:
                xp.maximum(best, values, out=best)
        if return_indices:                        # PyTorch saves the input and this indices output
            which = argmax_offsets(xp, input, best, kernel_size, stride, padding, dilation)
            indices = _flat_indices(xp, which, kernel_size, stride, padding, dilation,
                                    input.shape[input.ndim - len(kernel_size):])
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(input, indices)
                ctx.which = which
            return best, indices
        if ctx.needs_input_grad[0]:
            # PyTorch saves the input and the argmax indices, not the output, so an in-place op on the
            # output (relu_) is allowed: keep a private copy of the maxima to find the indices from.
            ctx.save_for_backward(input)
            ctx.best = best.copy()
        return best

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        input = ctx.saved_tensors[0]
        which = ctx.which if "which" in ctx.__dict__ else \
            argmax_offsets(ctx.xp, input._array, ctx.best, **ctx.geometry)
        spatial = tuple(input.shape[input.ndim - len(ctx.geometry["kernel_size"]):])
        return MaxPoolScatter.apply(grad, which=which, spatial=spatial, **ctx.geometry)


class MaxPool2D(MaxPool):
    node_name = "MaxPool2DWithIndicesBackward0"


class MaxPool3D(MaxPool):
    node_name = "MaxPool3DWithIndicesBackward0"


class MaxPoolIndices(MaxPool):                    # return_indices: the indices are a second output
    non_differentiable_outputs = (1,)


class MaxPool2DIndices(MaxPoolIndices):
    node_name = "MaxPool2DWithIndicesBackward0"


class MaxPool3DIndices(MaxPoolIndices):
    node_name = "MaxPool3DWithIndicesBackward0"


def argmax_offsets(xp, input, best, kernel_size, stride, padding, dilation):
    """Which kernel offset holds each window's maximum (the first one on ties, as PyTorch picks)."""
    canvas = pad_canvas(xp, input, padding, _lowest(xp, input.dtype))
    out = best.shape[-len(kernel_size):]
    count = math.prod(kernel_size)
    which = xp.zeros(best.shape, dtype=xp.uint8 if count <= 256 else xp.int64)
    nan = best.dtype.kind == "f" and bool(xp.isnan(best).any())
    for k, offset in reversed(list(enumerate(offsets(kernel_size)))):   # later hits are overwritten
        values = canvas[window_at(offset, stride, dilation, out)]
        hit = values == best
        if nan:
            hit |= (values != values) & (best != best)
        which = xp.where(hit, which.dtype.type(k), which)
    return which


class MaxPoolScatter(Op):
    """Each window's value added to the input position its max came from (max pooling's backward)."""
    node_name = "MaxPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, which, spatial, kernel_size, stride, padding, dilation):
        xp = ctx.xp
        ctx.which = which
        ctx.geometry = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
        nd = len(kernel_size)
        canvas = new_canvas(xp, grad.shape[:-nd], spatial, padding, grad.dtype)
        out = grad.shape[-nd:]
        overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel_size))
        # grad * mask is cheaper than where(mask, grad, 0) but turns inf/NaN into NaN off the argmax
        finite = grad.dtype.kind != "f" or bool(xp.isfinite(grad).all())
        zero = grad.dtype.type(0)
        for k, offset in enumerate(offsets(kernel_size)):
            target = canvas[window_at(offset, stride, dilation, out)]
            mask = which == k
            if not finite:
                target += xp.where(mask, grad, zero)
            elif overlap:
                target += grad * mask
            else:                                     # disjoint windows: write, no read-modify-write
                xp.multiply(grad, mask, out=target)
        return crop_canvas(xp, canvas, tuple(spatial), padding)

    @staticmethod
    def backward(ctx, grad):
        return MaxPoolGather.apply(grad, which=ctx.which, **ctx.geometry)


class MaxPoolGather(Op):
    """Each window's element at the remembered max position (max pooling with fixed argmax)."""
    @staticmethod
    def forward(ctx, input, which, kernel_size, stride, padding, dilation):
        xp = ctx.xp
        nd = len(kernel_size)
        ctx.which = which
        ctx.geometry = dict(spatial=input.shape[-nd:], kernel_size=kernel_size, stride=stride, padding=padding,
                            dilation=dilation)
        canvas = pad_canvas(xp, input, padding)
        out = xp.zeros(which.shape, dtype=input.dtype)
        for k, offset in enumerate(offsets(kernel_size)):
            xp.copyto(out, canvas[window_at(offset, stride, dilation, which.shape[-nd:])], where=which == k)
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaxPoolScatter.apply(grad, which=ctx.which, **ctx.geometry)


class AvgPool(Op):
    """Sum over zero-padded windows divided by a per-window divisor (an array broadcast over the output)."""
    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, divisor):
        xp = ctx.xp
        nd = len(kernel_size)
        ctx.geometry = dict(spatial=input.shape[-nd:], kernel_size=kernel_size, stride=stride, padding=padding,
                            divisor=divisor)
        ctx.save_for_backward(input)              # as PyTorch, for the version check only
        canvas = pad_canvas(xp, input, padding)
        dilation = (1,) * nd
        out = out_size(canvas.shape[-nd:], kernel_size, stride, dilation)
        total = None
        for offset in offsets(kernel_size):
            values = canvas[window_at(offset, stride, dilation, out)]
            if total is None:
                total = values.copy()
            else:
                total += values
        return xp.divide(total, divisor, out=total) if total.dtype.kind == "f" else total // divisor

    @staticmethod
    def backward(ctx, grad):
        _check_saved(ctx)
        return AvgPoolScatter.apply(grad, **ctx.geometry)


def _check_saved(ctx):
    """Unpack the saved tensors: the version check of an input the formula does not read (PyTorch saves it)."""
    return ctx.saved_tensors


class AvgPoolScatter(Op):
    """Average pooling's backward: each window's value / divisor spread over the window."""
    node_name = "AvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, spatial, kernel_size, stride, padding, divisor):
        xp = ctx.xp
        nd = len(kernel_size)
        ctx.geometry = dict(kernel_size=kernel_size, stride=stride, padding=padding, divisor=divisor)
        share = grad / divisor
        canvas = new_canvas(xp, grad.shape[:-nd], spatial, padding, grad.dtype)
        dilation = (1,) * nd
        for offset in offsets(kernel_size):
            target = canvas[window_at(offset, stride, dilation, grad.shape[-nd:])]
            target += share
        return crop_canvas(xp, canvas, tuple(spatial), padding)

    @staticmethod
    def backward(ctx, grad):
        return AvgPool.apply(grad, **ctx.geometry)


class AvgPool2D(AvgPool):
    node_name = "AvgPool2DBackward0"


class AvgPool3D(AvgPool):
    node_name = "AvgPool3DBackward0"


_MAX_POOL = {2: MaxPool2D, 3: MaxPool3D}
_MAX_POOL_INDICES = {2: MaxPool2DIndices, 3: MaxPool3DIndices}
_AVG_POOL = {2: AvgPool2D, 3: AvgPool3D}


# --- public functions ------------------------------------------------------------------------------------

def _fmt(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def pool_geometry(name, input, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked kernel/stride/dilation tuples, (lo, hi) padding pairs and the output size."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got "
                           f"input of size: {_fmt(input.shape)}")
    kernel = expand_arg(kernel_size, nd, "kernel_size", name)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        expand_arg(stride, nd, "stride", name)
    pads = expand_arg(padding, nd, "padding", name)
    dilation = expand_arg(dilation, nd, "dilation", name)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got {list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{name}: stride must be greater than zero, but got {list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{name}: dilation must be greater than zero, but got {list(dilation)}")
    for p, k, d in zip(pads, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    spatial = tuple(input.shape[-nd:])
    out = []
    for s, k, st, p, d in zip(spatial, kernel, stride, pads, dilation):
        span = s + 2 * p - d * (k - 1) - 1
        n = (span + (st - 1 if ceil_mode else 0)) // st + 1
        if ceil_mode and (n - 1) * st >= s + p:           # the last window must start inside the input
            n -= 1
        if n <= 0:
            raise RuntimeError(f"{name}: Given input size: ({'x'.join(map(str, input.shape[-nd - 1:]))}). "
                               f"Calculated output size: ({'x'.join(map(str, input.shape[-nd - 1:-nd]))}x"
                               f"{'x'.join(str(max(n, 0)) for _ in range(1))}). Output size is too small")
        out.append(n)
    # hi padding makes the canvas exactly as long as the windows need (negative: tail unused).
    pairs = tuple((p, (n - 1) * st + d * (k - 1) + 1 - s - p)
                  for s, k, st, p, d, n in zip(spatial, kernel, stride, pads, dilation, out))
    return kernel, stride, pairs, dilation, tuple(out)


def _flat_indices(xp, which, kernel, stride, pairs, dilation, spatial):
    """Flat input positions (per channel) of each window's maximum, as PyTorch's return_indices gives."""
    nd = len(kernel)
    out = which.shape[-nd:]
    taps = xp.unravel_index(which.astype(xp.int64), kernel)
    flat = 0
    for i in range(nd):
        shape = [1] * nd
        shape[i] = out[i]
        start = (xp.arange(out[i], dtype=xp.int64) * stride[i] - pairs[i][0]).reshape(shape)
        flat = flat * spatial[i] + start + taps[i] * dilation[i]
    return flat


def max_pool(name, input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    kernel, stride, pairs, dilation, _ = pool_geometry(name, input, nd, kernel_size, stride, padding, dilation,
                                                       ceil_mode)
    if not return_indices:
        return _MAX_POOL.get(nd, MaxPool).apply(input, kernel_size=kernel, stride=stride, padding=pairs,
                                                dilation=dilation)
    return tuple(_MAX_POOL_INDICES.get(nd, MaxPoolIndices).apply(
        input, kernel_size=kernel, stride=stride, padding=pairs, dilation=dilation, return_indices=True))


@export(method=False)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(method=False)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(method=False)
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if "max_pool3d" in AUTOCAST and not return_indices:
        return autocast_run("max_pool3d", max_pool3d, input, kernel_size, stride, padding, dilation, ceil_mode)
    return max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _divisor(spatial, kernel, stride, pairs, out, count_include_pad, divisor_override, dtype):
    """Per-window divisors, PyTorch's rule: the window clipped to the padded input, or to the input."""
    import numpy as np
    if divisor_override:
        return np.asarray(divisor_override, dtype=dtype)
    total = np.ones((), dtype=np.int64)
    for s, k, st, (p, _), n in zip(spatial, kernel, stride, pairs, out):
        start = np.arange(n) * st - p
        end = np.minimum(start + k, s + p)
        size = end - start
        if not count_include_pad:
            size = np.minimum(end, s) - np.maximum(start, 0)
        total = total[..., None] * size
    return total.astype(dtype)


def avg_pool(name, input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype.name.capitalize()}'")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, pairs, _, out = pool_geometry(name, input, nd, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _divisor(tuple(input.shape[-nd:]), kernel, stride, pairs, out, count_include_pad, divisor_override,
                       input._array.dtype)
    divisor = input._backend().asarray(divisor)
    return _AVG_POOL.get(nd, AvgPool).apply(input, kernel_size=kernel, stride=stride, padding=pairs,
                                            divisor=divisor)


@export(method=False)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@export(method=False, public=False)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)


@export(method=False, public=False)
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return avg_pool("avg_pool3d", input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)


# --- adaptive pooling: windows [floor(i * in / out), ceil((i + 1) * in / out)) ------------------------------

def adaptive_bounds(size, out):
    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _adaptive_output_size(name, input, nd, output_size):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {_fmt(input.shape)}")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{name}: output_size must have {nd} elements, got {list(output_size)}")
        sizes = tuple(input.shape[-nd + i] if o is None else int(o) for i, o in enumerate(output_size))
    else:
        sizes = (int(output_size),) * nd
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{name}: output_size must be non-negative, got {list(sizes)}")
    for i, s in enumerate(input.shape[-nd:]):
        if s == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                               f"input has sizes {_fmt(input.shape)} with dimension {input.ndim - nd + i} being "
                               "empty")
    return sizes


def _averaging_matrix(size, out, dtype):
    """(out, size) NumPy matrix whose row i averages adaptive window i."""
    import numpy as np
    starts, ends = adaptive_bounds(size, out)
    matrix = np.zeros((out, size), dtype=dtype)
    for i, (a, b) in enumerate(zip(starts, ends)):   # out rows: a loop over output positions of one dim
        matrix[i, a:b] = 1.0 / (b - a)
    return matrix


def _adaptive_average(xp, array, sizes, adjoint=False):
    """Adaptive averaging, separable: along each pooled dim in turn, a mean over equal windows (a reshape) or
    one product with the (size, target) averaging matrix (a single BLAS call). With adjoint, the transposed
    map from pooled `array` back to input size `sizes` (the gradient), dims in reverse order."""
    nd = len(sizes)
    out = array
    for i in (reversed(range(nd)) if adjoint else range(nd)):
        dim = array.ndim - nd + i
        size, target = (sizes[i], array.shape[dim]) if adjoint else (array.shape[dim], sizes[i])
        if size == target:
            continue
        shape = out.shape
        if size % target == 0:                       # equal windows (one window when target is 1)
            width = size // target
            if adjoint:
                out = xp.repeat(out, width, axis=dim) / width
            else:
                out = out.reshape(shape[:dim] + (target, width) + shape[dim + 1:]).mean(dim + 1)
            continue
        matrix = xp.asarray(_averaging_matrix(size, target, array.dtype))        # (target, size)
        moved = xp.moveaxis(out, dim, -1)
        lead = moved.shape[:-1]
        if adjoint:
            out = xp.moveaxis((moved.reshape(-1, target) @ matrix).reshape(lead + (size,)), -1, dim)
        else:
            out = xp.moveaxis((moved.reshape(-1, size) @ matrix.T).reshape(lead + (target,)), -1, dim)
    out = out.astype(array.dtype, copy=False)
    return xp.ascontiguousarray(out) if out is not array else out.copy()


class AdaptiveAvgPool(Op):
    """Average over adaptive windows. PyTorch's node saves the input (the version check only here); the
    gradient is the adjoint map (AdaptiveAvgPoolAdjoint), whose own gradient is this op again."""
    node_name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, input, sizes):
        ctx.save_for_backward(input)
        ctx.spatial = input.shape[input.ndim - len(sizes):]
        return _adaptive_average(ctx.xp, input, sizes)

    @staticmethod
    def backward(ctx, grad):
        _check_saved(ctx)
        return AdaptiveAvgPoolAdjoint.apply(grad, sizes=tuple(ctx.spatial))


class AdaptiveAvgPool3D(AdaptiveAvgPool):
    node_name = "AdaptiveAvgPool3DBackward0"


class AdaptiveAvgPoolAdjoint(Op):
    node_name = "AdaptiveAvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, sizes):
        ctx.pooled = grad.shape[grad.ndim - len(sizes):]
        return _adaptive_average(ctx.xp, grad, sizes, adjoint=True)

    @staticmethod
    def backward(ctx, grad):
        return AdaptiveAvgPool.apply(grad, sizes=tuple(ctx.pooled))


def adaptive_avg_pool(name, input, nd, output_size):
    sizes = _adaptive_output_size(name, input, nd, output_size)
    if all(t == 1 for t in sizes):                   # PyTorch takes the mean here (a node saving nothing)
        return input.mean(tuple(range(input.ndim - nd, input.ndim)), keepdim=True)
    if input.dtype.category < _dt.FLOAT:
        kernel = "adaptive_avg_pool3d_cpu" if nd == 3 else "adaptive_avg_pool2d"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    return (AdaptiveAvgPool3D if nd == 3 else AdaptiveAvgPool).apply(input, sizes=sizes)


@export(method=False)
def adaptive_avg_pool1d(input, output_size):
    return adaptive_avg_pool("adaptive_avg_pool1d", input, 1, output_size)


def _adaptive_max_indices(xp, array, sizes):
    """Flat per-channel input positions of each adaptive window's maximum (windows padded with -inf)."""
    nd = len(sizes)
    spatial = array.shape[-nd:]
    index_arrays, valid = [], []
    for i, (size, out) in enumerate(zip(spatial, sizes)):
        starts, ends = adaptive_bounds(size, out)
        width = max(b - a for a, b in zip(starts, ends))
        starts_array = xp.asarray(starts)[:, None]
        taps = starts_array + xp.arange(width)[None, :]
        valid.append(taps < xp.asarray(ends)[:, None])
        index_arrays.append(xp.minimum(taps, size - 1))
    # gather (..., out0, w0, out1, w1, ...) with fancy indexing: one vectorised pass
    lead = array.ndim - nd
    grids = []
    mask = True
    for i in range(nd):
        shape = [1] * (2 * nd)
        shape[2 * i: 2 * i + 2] = index_arrays[i].shape
        grids.append(index_arrays[i].reshape(shape))
        mask = mask & valid[i].reshape(shape)
    windows = array[(Ellipsis,) + tuple(grids)]
    windows = xp.where(mask, windows, _lowest(xp, array.dtype))
    order = tuple(range(lead)) + tuple(lead + 2 * i for i in range(nd)) + tuple(lead + 2 * i + 1 for i in range(nd))
    windows = windows.transpose(order)
    flat_windows = windows.reshape(windows.shape[:lead + nd] + (-1,))
    nan = xp.isnan(flat_windows) if flat_windows.dtype.kind == "f" else None
    best = xp.argmax(flat_windows, axis=-1)
    if nan is not None and nan.any():                  # NaN wins, as in PyTorch's max
        has_nan = nan.any(-1)
        best = xp.where(has_nan, xp.argmax(nan, axis=-1), best)
    widths = tuple(a.shape[1] for a in index_arrays)
    taps = xp.unravel_index(best, widths)
    flat = 0
    for i in range(nd):
        shape = [1] * nd
        shape[i] = sizes[i]
        start = xp.asarray(adaptive_bounds(spatial[i], sizes[i])[0]).reshape(shape)
        flat = flat * spatial[i] + start + taps[i]
    return flat


class AdaptiveMaxPool(Op):
    """Maximum over adaptive windows, and its flat (per channel) input position. PyTorch's node saves the input
    and the indices output; the gradient is added at the indices."""
    node_name = "AdaptiveMaxPool2DBackward0"
    non_differentiable_outputs = (1,)

    @staticmethod
    def forward(ctx, input, sizes):
        xp = ctx.xp
        nd = len(sizes)
        lead = input.shape[:input.ndim - nd]
        indices = _adaptive_max_indices(xp, input, sizes).astype(xp.int64, copy=False)
        flat = input.reshape(lead + (-1,))
        output = xp.take_along_axis(flat, indices.reshape(lead + (-1,)), axis=-1).reshape(lead + tuple(sizes))
        ctx.nd = nd
        ctx.save_for_backward(input, indices)
        return output, indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        from .creation import zeros
        from .scatter_gather import scatter_add
        input, indices = ctx.saved_tensors
        shape = tuple(input.shape)
        lead = shape[:len(shape) - ctx.nd]
        flat = zeros(lead + (math.prod(shape[len(lead):]),), dtype=grad.dtype, device=grad.device)
        flat = scatter_add(flat, -1, indices.reshape(lead + (-1,)), grad.reshape(lead + (-1,)))
        return flat.reshape(shape)


class AdaptiveMaxPool3D(AdaptiveMaxPool):
    node_name = "AdaptiveMaxPool3DBackward0"


def adaptive_max_pool(name, input, nd, output_size, return_indices):
    sizes = _adaptive_output_size(name, input, nd, output_size)
    output, indices = (AdaptiveMaxPool3D if nd == 3 else AdaptiveMaxPool).apply(input, sizes=sizes)
    return (output, indices) if return_indices else output


@export(method=False)
def adaptive_max_pool1d(input, output_size):
    """torch.adaptive_max_pool1d: (values, indices), unlike F.adaptive_max_pool1d."""
    return adaptive_max_pool("adaptive_max_pool1d", input, 1, output_size, True)


# --- fractional max pooling (Graham, 2014): pseudo-random windows, one sequence per plane and dim -------------

def fractional_starts(xp, samples, in_size, out_size, kernel):
    """Window starts (*samples.shape, out_size) along one dim of size in_size.

    With a = (in_size - kernel) / (out_size - 1), window i starts at int((i + u) * a) - int(u * a) for the
    plane's sample u, and the last window ends flush with the input. The products are rounded in the
    samples' dtype and truncated towards zero, as PyTorch's CPU kernel does, so a float32 input gets
    float32 windows (float64 arithmetic would move some of them by one).
    """
    real = samples.dtype.type
    starts = xp.empty(samples.shape + (out_size,), dtype=xp.int64)
    if out_size > 1:
        alpha = real(in_size - kernel) / real(out_size - 1)
        u = samples[..., None]
        steps = (xp.arange(out_size - 1, dtype=samples.dtype) + u) * alpha
        starts[..., :-1] = steps.astype(xp.int64) - (u * alpha).astype(xp.int64)
    if out_size > 0:
        starts[..., -1] = in_size - kernel
    return starts


def _fractional_max_indices(xp, array, samples, kernel, sizes):
    """Flat per-plane input positions of each fractional window's maximum: the first maximum, or the last
    NaN when a window holds one (PyTorch's `val > max || isnan(val)` scan in row-major order)."""
    nd = len(kernel)
    planes = array.shape[:-nd]
    spatial = array.shape[-nd:]
    samples = samples[:planes[0]] if len(planes) == 2 else samples[0]       # (N, C, nd) or (C, nd)
    # PyTorch's sample order: (w, h) for 2-d pooling, (t, h, w) for 3-d
    which = (1, 0) if nd == 2 else tuple(range(nd))
    count = math.prod(planes)
    flat_array = array.reshape((count,) + spatial)
    starts, grids = [], []
    for i in range(nd):
        start = fractional_starts(xp, samples[..., which[i]], spatial[i], sizes[i], kernel[i])
        start = start.reshape(count, sizes[i])
        starts.append(start)
        shape = [count] + [1] * (2 * nd)
        shape[1 + 2 * i: 3 + 2 * i] = sizes[i], kernel[i]
        grids.append((start[:, :, None] + xp.arange(kernel[i])).reshape(shape))
    plane = xp.arange(count).reshape((count,) + (1,) * (2 * nd))
    windows = flat_array[(plane,) + tuple(grids)]                           # (P, o0, k0, o1, k1, ...)
    order = (0,) + tuple(1 + 2 * i for i in range(nd)) + tuple(2 + 2 * i for i in range(nd))
    windows = windows.transpose(order).reshape((count,) + tuple(sizes) + (math.prod(kernel),))
    best = xp.argmax(windows, axis=-1)
    if windows.dtype.kind == "f":
        nan = xp.isnan(windows)
        if nan.any():
            last_nan = windows.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
            best = xp.where(nan.any(-1), last_nan, best)
    taps = xp.unravel_index(best, kernel)
    flat = 0
    for i in range(nd):
        shape = [count] + [1] * nd
        shape[1 + i] = sizes[i]
        flat = flat * spatial[i] + starts[i].reshape(shape) + taps[i]
    return flat.reshape(planes + tuple(sizes))


def fractional_max_pool(name, input, nd, kernel, sizes, samples, return_indices):
    """Max over the windows fractional_starts places: PyTorch's kernel checks, then a gather at the argmax
    (its backward sends each gradient to the argmax, like max pooling's)."""
    label = f"{name}()" if nd == 2 else f"{name}_out()"
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{label}: Expected {nd + 1}D or {nd + 2}D tensor, but got: {_fmt(input.shape)}")
    lead = input.ndim - nd
    for dim in range(input.ndim - nd - 1, input.ndim):
        if input.shape[dim] == 0:
            raise RuntimeError(f"{label}: Expected input to have non-zero size for non-batch dimensions, but got"
                               f"{_fmt(input.shape)} with dimension {dim} being empty.")
    spatial = tuple(input.shape[-nd:])
    # 3-d pooling asks for one spare position per dim (a strict inequality in PyTorch's check)
    spare = 1 if nd == 3 else 0
    for label_dim, size, k, out in zip(("time", "height", "width")[3 - nd:], spatial, kernel, sizes):
        if out + k - 1 + spare > size:
            raise RuntimeError(f"{label}: pool {label_dim} {k} too large relative to input {label_dim} {size}")
    if any(s < 0 for s in sizes):
        shape = tuple(input.shape[:lead]) + tuple(sizes)
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {_fmt(shape)}")
    if samples.dtype is not input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    batch = input.shape[0] if lead == 2 else 1
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != input.shape[lead - 1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got {samples.shape[2]}.")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{name}_out_frame\" not implemented for '{_SCALAR_NAME[input.dtype.name]}'")
    indices = nodiff(lambda xp, a, s: _fractional_max_indices(xp, a, s, kernel, sizes), input, samples)
    output = input.flatten(lead).gather(-1, indices.flatten(lead)).reshape(indices.shape)
    return (output, indices) if return_indices else output
