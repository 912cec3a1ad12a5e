"""Ops that move or repeat elements into a new tensor (copies, not views): flip/fliplr/flipud, roll, rot90,
repeat/tile/repeat_interleave, and tril/triu.
"""
from .._tensor import Tensor
from ..autograd.function import Op
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .views import _shape_arg


class Flip(Op):
    @staticmethod
    def forward(ctx, input, dims):
        ctx.dims = dims
        if input.flags.c_contiguous:
            return ctx.xp.flip(input, axis=dims).copy()
        from .creation import empty_array_like     # PyTorch's flip keeps the input's memory layout
        out = empty_array_like(input, input.dtype, ctx.xp)
        out[...] = ctx.xp.flip(input, axis=dims)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims), None


@export(method=True)
def flip(input, *dims):
    dims = _shape_arg(dims) if dims else ()
    dims = normalize_dims(list(dims), input.ndim) if dims else ()
    if not dims:
        return input.clone()
    return Flip.apply(input, dims)


@export(method=True)
def fliplr(input):
    return flip(input, 1)


@export(method=True)
def flipud(input):
    return flip(input, 0)


class Roll(Op):
    @staticmethod
    def forward(ctx, input, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        out = ctx.xp.roll(input, shifts, axis=dims)
        return out if out.flags.c_contiguous else ctx.xp.ascontiguousarray(out)      # as PyTorch's roll

    @staticmethod
    def backward(ctx, grad):
        shifts = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(grad, shifts, ctx.dims), None, None


@export(method=True)
def roll(input, shifts, dims=None):
    if dims is None:
        return Roll.apply(input.flatten(), shifts if isinstance(shifts, int) else tuple(shifts), 0) \
            .reshape(input.shape)
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else tuple(dims)
    shifts = tuple(shifts)
    dims = tuple(wrap_dim(d, input.ndim) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, dims)


class Repeat(Op):
    """x.repeat(*sizes): always a new contiguous tensor, as PyTorch's (an expand + reshape would hand back a view
    of x, or one with stride 0, whenever the reshape can avoid a copy). The output seen as (r0, s0, r1, s1, ...)
    is x broadcast over the r axes; the gradient sums them back."""
    @staticmethod
    def forward(ctx, input, sizes):
        shape = (1,) * (len(sizes) - input.ndim) + input.shape
        ctx.input_shape = input.shape
        ctx.split = tuple(n for r, s in zip(sizes, shape) for n in (r, s))
        out = ctx.xp.empty(tuple(r * s for r, s in zip(sizes, shape)), dtype=input.dtype)
        out.reshape(ctx.split)[...] = input.reshape(tuple(n for s in shape for n in (1, s)))
        return out

    @staticmethod
    def backward(ctx, grad):
        summed = grad.reshape(ctx.split).sum(tuple(range(0, len(ctx.split), 2))) if ctx.split else grad
        return summed.reshape(ctx.input_shape), None


@export(public=False)                  # a Tensor method only, as in PyTorch
def repeat(input, *sizes, repeats=None):
    if not sizes and repeats is None:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    sizes = tuple(_shape_arg(sizes, "repeat", "repeats", repeats))
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    if any(r < 0 for r in sizes):       # refused only where the output size comes out negative, as PyTorch
        shape = [r * s for r, s in zip(sizes, (1,) * (len(sizes) - input.ndim) + tuple(input.shape))]
        if any(n < 0 for n in shape):
            raise RuntimeError(f"Trying to create tensor with negative dimension {next(n for n in shape if n < 0)}"
                               f": {shape}")
        sizes = tuple(max(r, 0) for r in sizes)
    return Repeat.apply(input, sizes)


@export(method=True)
def tile(input, *sizes, dims=None):
    """input repeated `dims` times along its dims (ember.tile(x, dims); Tensor.tile(*dims) too)."""
    if dims is None:
        dims = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)) else sizes
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


@export(method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    from .creation import tensor
    from .scatter_gather import index_select
    if repeats is None:                         # repeat_interleave(repeats_tensor): indices form
        counts = input
        return nodiff_repeat(counts)
    if dim is None:
        input = input.flatten()
        dim = 0
    dim = wrap_dim(dim, input.ndim)
    n = input.shape[dim]
    if isinstance(repeats, int):
        # As PyTorch: an expanded copy, not an index_select (whose node would save the index, so that a second
        # backward through it is refused where PyTorch's graph saves no tensor).
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
        shape = tuple(input.shape)
        size = shape[:dim] + (n * repeats,) + shape[dim + 1:]
        if output_size is not None and output_size != n * repeats:
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * repeats} but got "
                               f"{output_size}")
        expanded = input.unsqueeze(dim + 1).expand(shape[:dim + 1] + (repeats,) + shape[dim + 1:])
        return expanded.contiguous().view(size)   # (a CloneBackward0 node, as PyTorch's clone of it)
    else:
        reps = repeats if isinstance(repeats, Tensor) else tensor(repeats)
        if reps.numel() == 1:
            reps = reps.reshape(1).expand(n)
        if reps.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{reps.shape[0]} and input.size({dim}) = {n}")
        idx = nodiff_repeat(reps)
    return index_select(input, dim, idx)


def nodiff_repeat(counts):
    from ._common import nodiff
    return nodiff(lambda xp, c: xp.repeat(xp.arange(c.shape[0]), c).astype(xp.int64), counts)


class Tril(Op):
    @staticmethod
    def forward(ctx, input, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (ctx.xp.triu if upper else ctx.xp.tril)(input, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return Tril.apply(grad, ctx.diagonal, ctx.upper), None, None


class Triu(Tril):
    node_name = "TriuBackward0"


@export(inplace=True)
def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal, False)


@export(inplace=True)
def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal, True)


class Rot90(Op):
    @staticmethod
    def forward(ctx, input, k, dims):
        ctx.k, ctx.dims = k, dims
        return ctx.xp.rot90(input, k, axes=dims).copy()      # a copy, as in PyTorch

    @staticmethod
    def backward(ctx, grad):
        return Rot90.apply(grad, -ctx.k % 4, ctx.dims), None, None


@export(method=True)
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by k quarter turns in the plane of dims, from dims[0] towards dims[1]."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = wrap_dim(dims[0], input.ndim), wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    return Rot90.apply(input, k % 4, (d0, d1))
