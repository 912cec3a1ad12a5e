"""Normalization primitive shared by batch/layer/instance/group/RMS norm: one fused Op.

Note [fused normalization]: statistics, normalisation and the affine map run in one forward pass and
the gradient comes from the closed form (d = invstd * (g - mean(g) - xhat * mean(g * xhat))), so a
norm layer is one graph node instead of ~10. Without create_graph the backward runs on arrays with
the forward's mean/invstd; with create_graph it recomputes them from the input with Tensor ops, so
double backward is exact.
"""
from .. import _memory_format as _mf
from .._tensor import _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State

__all__ = []


def _param_axes(affine_shape):
    return tuple(i for i, s in enumerate(affine_shape) if s == 1)


_EINSUM_AXES = "abcdefghijklmnopqrstuvwxyz"


def _array_sum(xp, dims, a, b=None, keepdims=False):
    """sum(a * b) (or of a) over dims. By einsum for float32/64 when each sum has at most 4096 terms (its running
    sums, unlike NumPy's pairwise ones, would lose accuracy on longer ones): no temporary for the product, and
    2-3x faster than ndarray.sum over a short last axis (layer_norm's rows)."""
    if not _einsum_fits(a, dims):
        product = a if b is None else a * b
        return product.sum(axis=dims, keepdims=keepdims)
    return _einsum_sum(xp, dims, a, b, keepdims)


def _array_mean(xp, dims, a, b=None):
    """mean(a * b) (or of a) over dims, with kept dims (see _array_sum)."""
    if not _einsum_fits(a, dims):                  # (ndarray.mean: float16 sums in float32)
        return (a if b is None else a * b).mean(axis=dims, keepdims=True)
    total = _einsum_sum(xp, dims, a, b, True)
    total /= _count(a, dims)
    return total


def _einsum_sum(xp, dims, a, b, keepdims):
    """_array_sum's einsum path (the caller checked _einsum_fits)."""
    letters = _EINSUM_AXES[:a.ndim]
    dims = tuple(d % a.ndim for d in dims)
    kept = "".join(c for i, c in enumerate(letters) if i not in dims)
    out = xp.einsum(f"{letters}->{kept}" if b is None else f"{letters},{letters}->{kept}",
                    *((a,) if b is None else (a, b)))
    if keepdims:
        out = out.reshape(tuple(1 if i in dims else s for i, s in enumerate(a.shape)))
    return out


def _count(a, dims):
    count = 1
    for d in dims:
        count *= a.shape[d]
    return count


def _einsum_fits(a, dims):
    # float32/float64 told by kind and size: dtype.name formats a string on each read (~2 us under NumPy 2.4)
    dtype = a.dtype
    return bool(dims) and dtype.kind == "f" and dtype.itemsize in (4, 8) and a.ndim <= len(_EINSUM_AXES) and \
        _count(a, dims) <= 4096


class Normalize(Op):
    """((x - mean) if center else x) * rsqrt(var + eps) over `dims`, then * weight + bias.

    Outputs (out, mean, invstd) with keepdims statistics; the statistics carry no gradient.
    weight/bias (or None) are reshaped to `affine_shape` to broadcast against x.
    """
    non_differentiable_outputs = (1, 2)

    @staticmethod
    def forward(ctx, input, weight, bias, dims, affine_shape, param_shape, eps, center, save_bias=False,
                keep_channels_last=False):
        xp = ctx.xp
        x = input
        if x.ndim > 1 and not x.flags.c_contiguous and ctx.backend.name != "meta" and \
                not (keep_channels_last and _mf.suggest(x) is not _mf.contiguous_format):
            # PyTorch's norms make their input (so their output) contiguous; batch_norm keeps a channels-last
            # layout (Note [memory formats]): x - mean and the products below follow x's
            x = xp.ascontiguousarray(x)
        if center:
            mean = _array_mean(xp, dims, x)
            xc = x - mean
        else:
            mean = xp.zeros((1,) * x.ndim, dtype=x.dtype)
            xc = x
        var = _array_mean(xp, dims, xc, xc)
        invstd = (1 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        out = xc * invstd if xc is input else _imul(xc, invstd)
        if weight is not None:
            out *= weight.reshape(affine_shape)
        if bias is not None:
            out += bias.reshape(affine_shape)
        ctx.dims, ctx.affine_shape, ctx.eps, ctx.center = dims, affine_shape, eps, center
        ctx.param_shape = param_shape
        ctx.stats = (mean, invstd)
        ctx.has_weight = weight is not None
        needs = ctx.needs_input_grad
        if center:
            # PyTorch's native batch/layer/group norm nodes save the input and the weight (layer_norm: the bias
            # too), whichever gradients are needed
            ctx.save_for_backward(input, weight, bias if save_bias else None)
        else:
            # rms_norm, a composite in PyTorch: the input and weight for the input's gradient; for the weight's
            # alone, the normalized input (an intermediate: a private copy here)
            ctx.save_for_backward(input if needs[0] else input.copy() if len(needs) > 1 and needs[1] else None,
                                  weight if needs[0] else None, None)
        return out, mean, invstd

    @staticmethod
    def backward(ctx, grad, _grad_mean=None, _grad_invstd=None):
        input, weight, _ = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if not _State.grad_enabled:
            return _backward_arrays(ctx, grad, input, weight, needs)
        return _backward_tensors(ctx, grad, input, weight, needs)


def _imul(a, b):
    a *= b
    return a


def _backward_arrays(ctx, grad, input, weight, needs):
    dims, affine_shape = ctx.dims, ctx.affine_shape
    mean, invstd = ctx.stats
    g, x = grad._array, input._array
    xp = ctx.xp
    if ctx.center:
        xhat = x - mean
        xhat *= invstd
    else:
        xhat = x * invstd
    gxh = g * weight._array.reshape(affine_shape) if weight is not None else g
    grad_input = grad_weight = grad_bias = None
    axes = _param_axes(affine_shape)
    if ctx.has_weight and needs[1]:               # the parameters' sums first: then xhat and gxh, when they are
        grad_weight = _make(_array_sum(xp, axes, g, xhat).reshape(ctx.param_shape), grad._device)
    if len(needs) > 2 and needs[2]:               # arrays of this function's own, are free for the input's
        grad_bias = _make(_array_sum(xp, axes, g).reshape(ctx.param_shape), grad._device)
    if needs[0]:                                  # (gxh - mean(gxh) - xhat * proj) * invstd, the same roundings
        proj = _array_mean(xp, dims, gxh, xhat)   # in place or not (float32 layer_norm: 3 temporaries fewer)
        own = gxh is not g and gxh.dtype == proj.dtype
        if ctx.center:
            centered = _array_mean(xp, dims, gxh)
            gx = _isub(gxh, centered) if own and centered.dtype == gxh.dtype else gxh - centered
        else:
            gx = gxh if own else gxh.copy()
        gx -= _imul(xhat, proj) if xhat.dtype == proj.dtype else xhat * proj
        gx *= invstd
        grad_input = _make(gx, grad._device)
    return grad_input, grad_weight, grad_bias


def _isub(a, b):
    a -= b
    return a


def _backward_tensors(ctx, grad, x, weight, needs):
    dims, affine_shape = ctx.dims, ctx.affine_shape
    if ctx.center:
        xc = x - x.mean(dims, keepdim=True)
    else:
        xc = x
    invstd = ((xc * xc).mean(dims, keepdim=True) + ctx.eps).rsqrt()
    xhat = xc * invstd
    gxh = grad * weight.reshape(affine_shape) if weight is not None else grad
    grad_input = grad_weight = grad_bias = None
    if needs[0]:
        gx = gxh - gxh.mean(dims, keepdim=True) if ctx.center else gxh
        grad_input = (gx - xhat * (gxh * xhat).mean(dims, keepdim=True)) * invstd
    axes = _param_axes(affine_shape)
    if ctx.has_weight and needs[1]:
        grad_weight = _sum(grad * xhat, axes).reshape(ctx.param_shape)
    if len(needs) > 2 and needs[2]:
        grad_bias = _sum(grad, axes).reshape(ctx.param_shape)
    return grad_input, grad_weight, grad_bias


def _sum(t, axes):
    return t.sum(axes) if axes else t


def normalize(input, weight, bias, dims, affine_shape, eps, center=True, save_bias=False,
              keep_channels_last=False):
    """(out, mean, invstd) of the fused normalisation (see Normalize)."""
    dims = tuple(dims)
    affine_shape = tuple(affine_shape)
    param = weight if weight is not None else bias
    param_shape = tuple(param.shape) if param is not None else ()
    return Normalize.apply(input, weight, bias, dims=dims, affine_shape=affine_shape, param_shape=param_shape,
                           eps=float(eps), center=center, save_bias=save_bias,
                           keep_channels_last=keep_channels_last)


class ChannelAffine(Op):
    """group_norm's per-channel weight and bias on the normalized input, in one node named as PyTorch's
    group_norm node, which saves the input and the weight whichever gradients are needed: `watch` (the
    input), and the weight, are saved for the version check; the normalized input for the weight's gradient."""
    node_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, normalized, weight, bias, affine_shape, watch):
        out = normalized * weight.reshape(affine_shape) if weight is not None else normalized.copy()
        if bias is not None:
            out += bias.reshape(affine_shape)
        if not watch[0]._array.flags.c_contiguous:     # see Note [memory formats]; a channels-last input's layout
            out = _mf.keep_format(out, watch[0]._array)
        needs = ctx.needs_input_grad
        ctx.affine_shape, ctx.bias_shape = affine_shape, None if bias is None else bias.shape
        ctx.save_for_backward(normalized if len(needs) > 1 and needs[1] else None, weight, *watch)
        return out

    @staticmethod
    def backward(ctx, grad):
        normalized, weight = ctx.saved_tensors[:2]
        needs = ctx.needs_input_grad
        axes = _param_axes(ctx.affine_shape)
        grad_normalized = (grad * weight.reshape(ctx.affine_shape) if weight is not None else grad) \
            if needs[0] else None
        # (reshaped: with one channel, the sum over every other axis is 0-d)
        grad_weight = _sum(grad * normalized, axes).reshape(weight.shape) if len(needs) > 1 and needs[1] else None
        grad_bias = _sum(grad, axes).reshape(ctx.bias_shape) if len(needs) > 2 and needs[2] else None
        return grad_normalized, grad_weight, grad_bias


class BatchNormEval(Op):
    """batch_norm with running statistics: x * scale + shift per channel (scale = weight / sqrt(var + eps),
    shift = bias - mean * scale). One node, as PyTorch's, saving the input, weight and running statistics
    whichever gradients are needed."""
    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, affine_shape):
        xp = ctx.xp
        inv = 1 / xp.sqrt(running_var + eps)
        scale = weight * inv if weight is not None else inv
        shift = -running_mean * scale if bias is None else bias - running_mean * scale
        ctx.eps, ctx.affine_shape, ctx.bias_shape = eps, affine_shape, None if bias is None else bias.shape
        ctx.save_for_backward(input, weight, running_mean, running_var)
        return input * scale.reshape(affine_shape).astype(input.dtype, copy=False) + \
            shift.reshape(affine_shape).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        input, weight, mean, var = ctx.saved_tensors
        needs = ctx.needs_input_grad
        shape, axes = ctx.affine_shape, _param_axes(ctx.affine_shape)
        inv = (var + ctx.eps).rsqrt().to(grad.dtype).reshape(shape)
        grad_input = grad * (weight.reshape(shape).to(grad.dtype) * inv if weight is not None else inv) \
            if needs[0] else None
        grad_weight = _sum(grad * ((input - mean.reshape(shape).to(input.dtype)) * inv), axes).reshape(
            weight.shape) if weight is not None and needs[1] else None
        grad_bias = _sum(grad, axes).reshape(ctx.bias_shape) if len(needs) > 2 and needs[2] else None
        return grad_input, grad_weight, grad_bias, None, None
