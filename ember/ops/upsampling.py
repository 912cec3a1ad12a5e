"""The one-node primitives of nn.functional's resampling (ember/nn/_functional/resampling.py): interpolate's
upsampling (PyTorch's upsample_* kernels, named per mode and dims) and affine_grid's generator. Each keeps
index and weight arrays, no tensors, so backward runs through it twice, and its backward is written with
differentiable ops."""
from .._memory_format import keep_format
from .._tensor import _make
from ..autograd.function import Op

__all__ = []


class _Upsample(Op):
    """interpolate's resampling, one node (PyTorch's upsample_* kernels): `plan` holds, per resampled dim in
    order, (dim, taps) of _taps; each dim is the weighted sum of index_selects along it (the same float
    operations, in the same order, as composing index_select, mul and add). The node keeps the plan's arrays,
    no tensors; its backward scatters the gradient back with index_add, dim by dim in reverse, so it has
    gradients itself."""
    @staticmethod
    def forward(ctx, input, plan):
        ctx.plan, ctx.in_sizes = plan, input.shape
        xp = ctx.xp
        out = input
        for dim, taps in plan:
            shape = [1] * out.ndim
            shape[dim] = len(taps[0][0])
            acc = None
            for index, weight in taps:
                picked = xp.take(out, index, axis=dim)
                if weight is not None:                 # in place: the same roundings, no new arrays
                    picked *= weight.reshape(shape).astype(input.dtype, copy=False)
                if acc is None:
                    acc = picked
                else:
                    acc += picked
            out = picked = acc                         # (drops the last tap's array before the next dim)
        if out is input:                            # every dim kept its size: a copy, laid out as PyTorch's
            out = input.copy()
        # see Note [memory formats]; PyTorch's upsampling kernels keep a channels-last layout
        return keep_format(out, input)

    @staticmethod
    def backward(ctx, grad):
        device = grad.device
        dtype = grad._array.dtype
        for dim, taps in reversed(ctx.plan):
            shape = list(grad.shape)
            shape[dim] = ctx.in_sizes[dim]
            acc = grad.new_zeros(shape)
            weight_shape = [1] * grad.ndim
            weight_shape[dim] = grad.shape[dim]
            for index, weight in taps:
                term = grad
                if weight is not None:
                    term = grad * _make(weight.reshape(weight_shape).astype(dtype, copy=False), device)
                acc = acc.index_add(dim, _make(index, device), term)
            grad = acc
        return grad


def _upsample_op(mode, nd):
    """The _Upsample subclass whose node has PyTorch's name for mode in nd spatial dims."""
    key = (mode, nd)
    cls = _UPSAMPLE.get(key)
    if cls is None:
        name = {"nearest": "Nearest", "nearest-exact": "NearestExact"}.get(mode, mode.capitalize())
        node_name = f"Upsample{name}{nd}DBackward0"
        cls = _UPSAMPLE[key] = type(node_name[:-len("Backward0")], (_Upsample,),
                                    {"node_name": node_name, "__module__": __name__})
    return cls


_UPSAMPLE = {}


class AffineGridGenerator(Op):
    """affine_grid's one node: the grid is base (1, points, ndim + 1) @ theta.mT, reshaped to (N, *spatial,
    ndim); the node keeps the base array, no tensors, and its backward (grad.mT @ base) has gradients itself."""
    @staticmethod
    def forward(ctx, theta, base, spatial):
        ctx.base = base
        grid = base @ theta.swapaxes(-1, -2)           # (N, points, ndim)
        if grid.dtype != theta.dtype:                  # ml_dtypes' bfloat16 matmul answers in float32
            grid = grid.astype(theta.dtype)
        return grid.reshape(theta.shape[0], *spatial, len(spatial))

    @staticmethod
    def backward(ctx, grad):
        base = _make(ctx.base.astype(grad._array.dtype, copy=False), grad.device)
        n, k = grad.shape[0], grad.shape[-1]
        return grad.reshape(n, -1, k).mT @ base
