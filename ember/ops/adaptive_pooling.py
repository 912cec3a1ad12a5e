"""Adaptive and fractional pooling: windows placed from the output size rather than by a fixed stride.

Adaptive average and max pooling split each dim into PyTorch's windows [floor(i * in / out),
ceil((i + 1) * in / out)); the average is separable (a mean over equal windows, or one product with an
averaging matrix per dim) and its gradient is the adjoint map. Fractional max pooling (Graham, 2014) places
fixed-size windows at pseudo-random starts, one sequence per plane and dim. Both max poolings gather at an
argmax and send the gradient back to it. Max and average pooling over sliding windows are in pooling.py.
"""
import math

from .. import _dtype as _dt, _memory_format as _mf
from ..autograd.function import Op
from ._common import nodiff
from ._registry import export
from .pooling import _check_saved, _fmt, _lowest
from .sampling import _SCALAR_NAME

__all__ = []


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
        if nd == 1 and output_size[0] is None:    # PyTorch takes None (the input's size) for 2-D and 3-D only
            raise TypeError(f"{name}(): argument 'output_size' must be tuple of ints, but found element of type "
                            f"NoneType at pos 0")
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


def _averaging_matrix(xp, size, out, dtype):
    """(out, size) matrix (of the array module xp) whose row i averages adaptive window i."""
    starts, ends = (xp.asarray(bounds, dtype=xp.int64)[:, None] for bounds in adaptive_bounds(size, out))
    columns = xp.arange(size)
    return xp.where((columns >= starts) & (columns < ends), 1.0 / (ends - starts), 0.0).astype(dtype)


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
        matrix = _averaging_matrix(xp, size, target, array.dtype)        # (target, size)
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
        out = _adaptive_average(ctx.xp, input, sizes)
        # see Note [memory formats]; a channels-last input's layout (PyTorch has no 3-d channels-last kernel)
        return _mf.keep_format(out, input) if len(sizes) == 2 else out

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
        out = input.mean(tuple(range(input.ndim - nd, input.ndim)), keepdim=True)
        if not input._array.flags.c_contiguous:      # then lays it out channels-last: Note [memory formats]
            out._array = _mf.keep_format(out._array, input._array)
        return out
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
        if nd == 2:                                  # see Note [memory formats]; a channels-last input's layout
            output, indices = _mf.keep_format(output, input), _mf.keep_format(indices, input)
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
