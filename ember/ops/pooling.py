"""Max and average pooling over sliding windows (see Note [window geometry] in conv.py); the adaptive and
fractional pools are in adaptive_pooling.py.

Max and average pooling loop over kernel offsets only (prod(kernel) vectorised passes over strided
views of the padded input). The max forward is a running np.maximum; its backward finds which
offset won (comparing each offset's view with the saved output) and writes one strided slice per
offset.
"""
import math

from .. import _dtype as _dt
from .._memory_format import keep_format
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import zeros_like_
from ._registry import export
from .conv import (crop_canvas, expand_arg, new_canvas, offsets, out_size, pad_canvas,
                   window_at)
from ..amp._dispatch import AUTOCAST, autocast_run

__all__ = []


def _lowest(xp, dtype):
    # ml_dtypes' bfloat16 is kind "V" (what autocast hands a pooling layer on the CPU)
    # (dtype.name costs ~2 us under NumPy 2.4: read only for a kind "V" dtype)
    return -xp.inf if dtype.kind in "fc" or dtype.kind == "V" and dtype.name == "bfloat16" else xp.iinfo(dtype).min


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
        best = keep_format(best, input)           # see Note [memory formats]; a channels-last input's layout
        if return_indices:                        # PyTorch saves the input and this indices output
            which = argmax_offsets(xp, input, best, kernel_size, stride, padding, dilation)
            indices = keep_format(_flat_indices(xp, which, kernel_size, stride, padding, dilation,
                                                input.shape[input.ndim - len(kernel_size):]), input)
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(input, indices)
                ctx.which = which
            return best, indices
        if ctx.needs_input_grad[0]:
            # PyTorch saves the input (version-checked only) and the argmax indices, not the output: an
            # in-place op on the output (relu_) is allowed, and a `.data` write to the input after this
            # forward does not move the gradient.
            ctx.save_for_backward(input)
            ctx.which = argmax_offsets(xp, input, best, kernel_size, stride, padding, dilation)
        return best

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        input = ctx.saved_tensors[0]
        spatial = tuple(input.shape[input.ndim - len(ctx.geometry["kernel_size"]):])
        # the input is an operand of the backward, as PyTorch's (its gradient is zero): a create_graph
        # gradient requires grad because the input does
        return _MAX_POOL_SCATTER.get(len(spatial), MaxPoolScatter).apply(grad, input, which=ctx.which,
                                                                         spatial=spatial, **ctx.geometry)


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
    """Which kernel offset holds each window's maximum: the first one on ties, and in a window with NaN the last
    NaN, as PyTorch's kernel picks (it takes a value greater than the running max, or any NaN)."""
    canvas = pad_canvas(xp, input, padding, _lowest(xp, input.dtype))
    out = best.shape[-len(kernel_size):]
    count = math.prod(kernel_size)
    which = xp.zeros(best.shape, dtype=xp.uint8 if count <= 256 else xp.int64)
    nan = best.dtype.kind == "f" and bool(xp.isnan(best).any())
    windows = list(enumerate(offsets(kernel_size)))
    for k, offset in reversed(windows):           # later hits are overwritten: the first tie stays
        hit = canvas[window_at(offset, stride, dilation, out)] == best
        # which = k where hit, in integer arithmetic (wraps exactly): np.where branches per element and is
        # ~5x slower on the random hits of a max pool
        which -= hit * (which - which.dtype.type(k))
    if nan:
        lost = best != best
        for k, offset in windows:                 # in order: the last NaN stays
            values = canvas[window_at(offset, stride, dilation, out)]
            which = xp.where(lost & (values != values), which.dtype.type(k), which)
    return which


class MaxPoolScatter(Op):
    """Each window's value added to the input position its max came from (max pooling's backward)."""
    node_name = "MaxPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, input, which, spatial, kernel_size, stride, padding, dilation):
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
        grad_grad = MaxPoolGather.apply(grad, which=ctx.which, **ctx.geometry) if ctx.needs_input_grad[0] else None
        if not ctx.needs_input_grad[1]:
            return grad_grad, None
        return grad_grad, zeros_like_(grad)          # grad has the input's shape


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
        return MaxPoolScatter.apply(grad, None, which=ctx.which, **ctx.geometry)


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
        total = xp.divide(total, divisor, out=total) if total.dtype.kind == "f" else total // divisor
        # see Note [memory formats]; a channels-last input's layout (PyTorch's avg_pool3d has no channels-last kernel)
        return keep_format(total, input) if nd == 2 else total

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


class MaxPool2DScatter(MaxPoolScatter):
    node_name = "MaxPool2DWithIndicesBackwardBackward0"


class MaxPool3DScatter(MaxPoolScatter):
    node_name = "MaxPool3DWithIndicesBackwardBackward0"


_MAX_POOL = {2: MaxPool2D, 3: MaxPool3D}
_MAX_POOL_SCATTER = {2: MaxPool2DScatter, 3: MaxPool3DScatter}
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


def max_pool(name, input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices, checked=False):
    if checked:                                    # geometry already checked and padding in (lo, hi) pairs
        kernel, pairs = kernel_size, padding
    else:
        kernel, stride, pairs, dilation, _ = pool_geometry(name, input, nd, kernel_size, stride, padding,
                                                           dilation, ceil_mode)
    if nd == 1 and (return_indices or input.device.type != "cpu" or _State.grad_enabled and input.requires_grad):
        # PyTorch's max_pool1d then is max_pool2d_with_indices over an unsqueezed input, its outputs squeezed
        # back: views (SqueezeBackward1 over MaxPool2DWithIndicesBackward0), so detach_() of them raises
        out = max_pool("max_pool2d", input.unsqueeze(-2), 2, (1,) + kernel, (1,) + stride, ((0, 0),) + pairs,
                       (1,) + dilation, False, return_indices, checked=True)
        return tuple(o.squeeze(-2) for o in out) if return_indices else out.squeeze(-2)
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


def _divisor(xp, spatial, kernel, stride, pairs, out, count_include_pad, divisor_override, dtype):
    """Per-window divisors, PyTorch's rule: the window clipped to the padded input, or to the input (made with
    the input's array module xp)."""
    if divisor_override:
        return xp.asarray(divisor_override, dtype=dtype)
    total = xp.ones((), dtype=xp.int64)
    for s, k, st, (p, _), n in zip(spatial, kernel, stride, pairs, out):
        start = xp.arange(n) * st - p
        end = xp.minimum(start + k, s + p)
        size = end - start
        if not count_include_pad:
            size = xp.minimum(end, s) - xp.maximum(start, 0)
        total = total[..., None] * size
    return total.astype(dtype)


def avg_pool(name, input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype.name.capitalize()}'")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, pairs, _, out = pool_geometry(name, input, nd, kernel_size, stride, padding, 1, ceil_mode)
    if nd == 3 and any(s < k for s, k in zip(input.shape[-3:], kernel)):    # PyTorch's avg_pool3d check
        raise RuntimeError(f"input image (T: {input.shape[-3]} H: {input.shape[-2]} W: {input.shape[-1]}) smaller "
                           f"than kernel size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    divisor = _divisor(input._backend().xp, tuple(input.shape[-nd:]), kernel, stride, pairs, out,
                       count_include_pad, divisor_override, input._array.dtype)
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
