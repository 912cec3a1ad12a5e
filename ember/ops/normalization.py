"""Normalization primitive shared by batch/layer/instance/group/RMS norm: one fused Op.

Note [fused normalization]: statistics, normalisation and the affine map run in one forward pass and
the gradient comes from the closed form (d = invstd * (g - mean(g) - xhat * mean(g * xhat))), so a
norm layer is one graph node instead of ~10. Without create_graph the backward runs on arrays with
the forward's mean/invstd; with create_graph it recomputes them from the input with Tensor ops, so
double backward is exact.
"""
from .._tensor import _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State

__all__ = []


def _param_axes(affine_shape):
    return tuple(i for i, s in enumerate(affine_shape) if s == 1)


class Normalize(Op):
    """((x - mean) if center else x) * rsqrt(var + eps) over `dims`, then * weight + bias.

    Outputs (out, mean, invstd) with keepdims statistics; the statistics carry no gradient.
    weight/bias (or None) are reshaped to `affine_shape` to broadcast against x.
    """
    non_differentiable_outputs = (1, 2)

    @staticmethod
    def forward(ctx, input, weight, bias, dims, affine_shape, param_shape, eps, center):
        xp = ctx.xp
        x = input
        if x.ndim > 1 and not x.flags.c_contiguous and ctx.backend.name != "meta":
            x = xp.ascontiguousarray(x)             # PyTorch's norms make their input (so their output) contiguous
        if center:
            mean = x.mean(axis=dims, keepdims=True)
            xc = x - mean
        else:
            mean = xp.zeros((1,) * x.ndim, dtype=x.dtype)
            xc = x
        var = (xc * xc).mean(axis=dims, keepdims=True)
        invstd = (1 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        out = xc * invstd if xc is input else _imul(xc, invstd)
        if weight is not None:
            out *= weight.reshape(affine_shape)
        if bias is not None:
            out += bias.reshape(affine_shape)
        ctx.dims, ctx.affine_shape, ctx.eps, ctx.center = dims, affine_shape, eps, center
        ctx.param_shape = param_shape
        ctx.stats = (mean, invstd)
        ctx.save_for_backward(input, weight)
        return out, mean, invstd

    @staticmethod
    def backward(ctx, grad, _grad_mean=None, _grad_invstd=None):
        input, weight = ctx.saved_tensors
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
    xhat = (x - mean) * invstd if ctx.center else x * invstd
    gxh = g * weight._array.reshape(affine_shape) if weight is not None else g
    grad_input = grad_weight = grad_bias = None
    if needs[0]:
        proj = (gxh * xhat).mean(axis=dims, keepdims=True)
        gx = gxh - gxh.mean(axis=dims, keepdims=True) if ctx.center else gxh.copy()
        gx -= xhat * proj
        gx *= invstd
        grad_input = _make(gx, grad._device)
    axes = _param_axes(affine_shape)
    if weight is not None and needs[1]:
        grad_weight = _make((g * xhat).sum(axis=axes).reshape(ctx.param_shape), grad._device)
    if len(needs) > 2 and needs[2]:
        grad_bias = _make(g.sum(axis=axes).reshape(ctx.param_shape), grad._device)
    return grad_input, grad_weight, grad_bias


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
    if weight is not None and needs[1]:
        grad_weight = _sum(grad * xhat, axes).reshape(ctx.param_shape)
    if len(needs) > 2 and needs[2]:
        grad_bias = _sum(grad, axes).reshape(ctx.param_shape)
    return grad_input, grad_weight, grad_bias


def _sum(t, axes):
    return t.sum(axes) if axes else t


def normalize(input, weight, bias, dims, affine_shape, eps, center=True):
    """(out, mean, invstd) of the fused normalisation (see Normalize)."""
    dims = tuple(dims)
    affine_shape = tuple(affine_shape)
    param = weight if weight is not None else bias
    param_shape = tuple(param.shape) if param is not None else ()
    return Normalize.apply(input, weight, bias, dims=dims, affine_shape=affine_shape, param_shape=param_shape,
                           eps=float(eps), center=center)
