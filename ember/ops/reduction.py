"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumulative ops, softmax."""
import math

import numpy as _np

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ._common import cast, nodiff, return_type
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .indexing import ScatterReduce
from .shape import Expand as _Expand

_FROM_NUMPY = _dt._FROM_NUMPY
_ndarray = _np.ndarray
_add_reduce = _np.add.reduce



def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_grad(grad, shape, dims, keepdim):
    if not keepdim and dims:
        grad = grad.reshape(_kept_shape(shape, dims))
    return grad.expand(shape)


class Sum(Op):
    node_name = "SumBackward1"                   # PyTorch's name for sum over dims (SumAll is SumBackward0)
    @staticmethod
    def forward(ctx, input, dims, keepdim, np_dtype):
        ctx.input_shape, ctx.dims, ctx.keepdim = input.shape, dims, keepdim
        return input.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)   # the method: xp.sum adds a layer

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad, ctx.input_shape, ctx.dims, ctx.keepdim), None, None, None


class SumAll(Op):
    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, input, np_dtype):
        ctx.input_shape = input.shape
        if input.__class__ is _ndarray:            # the ufunc itself: ndarray.sum adds a Python layer
            return _add_reduce(input, None, np_dtype)
        return input.sum(dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad):
        if not grad._requires_grad:                # Note [plain backward]: the expanded view itself
            return _make(ctx.backend.broadcast_to(grad._array, ctx.input_shape), grad._device), None
        # Expand.apply directly: the gradient needs no view bookkeeping and the shape is known good.
        return _Expand.apply(grad, ctx.input_shape), None


def _sum_dtype(input, dtype):
    if dtype is not None:
        return _dt.to_dtype(dtype).numpy
    if input._array.dtype.kind in "biu":
        return _dt.int64.numpy                     # integer sums accumulate in int64, as in PyTorch
    return None


@export(method=True)
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over all elements or over `dim` (int or tuple)."""
    np_dtype = _sum_dtype(input, dtype)
    if dim is None and not keepdim:
        return SumAll.apply_binary(input, np_dtype)
    dims = normalize_dims(dim, input._array.ndim)
    return Sum.apply(input, dims, keepdim, np_dtype)


class Nansum(Op):
    """Sum that skips NaNs; the gradient is grad times the not-NaN mask (so an infinite grad gives NaN at
    a NaN input, as PyTorch's formula does)."""
    @staticmethod
    def forward(ctx, input, dims, keepdim, np_dtype):
        ctx.save_for_backward(input)
        ctx.dims, ctx.keepdim = dims, keepdim
        return ctx.xp.nansum(input, axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        if not ctx.keepdim:
            dims = range(input.ndim) if ctx.dims is None else ctx.dims
            grad = grad.reshape([1 if d in dims else n for d, n in enumerate(input.shape)])
        array = input._array
        mask = _make(ctx.xp.asarray(array == array, dtype=grad._array.dtype), grad._device)
        return grad * mask, None, None, None


@export(method=True)
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if input.dtype.category < _dt.FLOAT:
        return sum(input, dim, keepdim, dtype=dtype)
    dims = None if dim is None else normalize_dims(dim, input._array.ndim)
    return Nansum.apply(input, dims, keepdim, _sum_dtype(input, dtype))


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to `shape` (leading dims, then size-1 dims)."""
    gshape = grad._array.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"cannot sum shape {gshape} to {shape}")
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    for i, s in enumerate(shape):
        if s != 1 and gshape[i + lead] != s:
            raise RuntimeError(f"cannot sum shape {gshape} to {shape}")
    out = Sum.apply(grad, dims, True, None) if dims else grad
    if lead:
        out = out.reshape(shape)
    return out


class Mean(Op):
    @staticmethod
    def forward(ctx, input, dims, keepdim):
        ctx.input_shape, ctx.dims, ctx.keepdim = input.shape, dims, keepdim
        count = ctx.count = math.prod(input.shape[d] for d in dims) if dims is not None else input.size
        dtype = input.dtype
        acc = ctx.xp.float32 if dtype.itemsize < 4 and dtype.kind not in "biuc" else None  # half types: float32
        if input.__class__ is _ndarray:             # sum / n: NumPy's mean() costs several times more
            total = _add_reduce(input, dims, acc, None, keepdim)
        else:
            total = input.sum(axis=dims, keepdims=keepdim, dtype=acc)
        if count:                                   # a positive count cannot warn: skip errstate's ~1 us
            out = total / count
            return out if out.dtype == dtype else out.astype(dtype)
        with ctx.xp.errstate(invalid="ignore", divide="ignore"):
            return (total * float("nan")).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        dims = ctx.dims if ctx.dims is not None else tuple(range(len(ctx.input_shape)))
        return _expand_grad(grad, ctx.input_shape, dims, ctx.keepdim) / ctx.count, None, None


class MeanDim(Mean):
    node_name = "MeanBackward1"


@export(method=True)
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over all elements or over `dim`; needs a floating or complex dtype (as in PyTorch)."""
    if dtype is not None:
        input = cast(input, _dt.to_dtype(dtype))
    if input._array.dtype.kind not in "fc" and input.dtype.category < _dt.FLOAT:   # kind: the quick test
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_dt.scalar_type_name(input.dtype)}")
    if dim is None and not keepdim:
        return Mean.apply(input, None, False)
    return MeanDim.apply(input, normalize_dims(dim, input._array.ndim), keepdim)


@export(method=True)
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    from .pointwise import isnan, logical_not
    keep = logical_not(isnan(input))
    return nansum(input, dim, keepdim, dtype=dtype) / sum(keep, dim, keepdim).to(input.dtype)


class Prod(Op):
    @staticmethod
    def forward(ctx, input, dim, keepdim, np_dtype):
        out = ctx.xp.prod(input, axis=dim, keepdims=keepdim, dtype=np_dtype)
        ctx.save_for_backward(input, out)
        ctx.dim, ctx.keepdim = dim, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's prod_backward: grad * (result / input) when no element is 0, else the products of
        # all other elements (exclusive cumulative products); a 0-d input passes grad (its prod is itself)
        input, out = ctx.saved_tensors
        if input.ndim == 0:
            return grad, None, None, None
        dim = ctx.dim
        if dim is not None and not ctx.keepdim:
            grad, out = grad.unsqueeze(dim), out.unsqueeze(dim)
        if not (input._array == 0).any():
            return grad * (out / input), None, None, None
        if dim is None:
            flat = input.reshape(-1)
            return _prod_grad(flat, grad.reshape(1), 0).reshape(input.shape), None, None, None
        return _prod_grad(input, grad, dim), None, None, None


def _prod_grad(input, grad, dim):
    """grad times the product of all other elements along dim, from exclusive cumulative products (exact with
    zeros; the ones are made, not input * 0 + 1, which is NaN at inf)."""
    n = input.shape[dim]
    if input.numel() == 0:
        return grad.expand(input.shape)
    if n == 1:
        return grad
    from .creation import ones
    from .shape import cat, narrow
    ones_ = ones([1 if d == dim else s for d, s in enumerate(input.shape)], dtype=grad.dtype, device=grad.device)
    left = cumprod(cat([ones_, narrow(input, dim, 0, n - 1)], dim), dim)
    right = cumprod(cat([ones_, narrow(input, dim, 1, n - 1).flip(dim)], dim), dim).flip(dim)
    return grad * (left * right)


class ProdDim(Prod):
    node_name = "ProdBackward1"


@export(method=True)
def prod(input, dim=None, keepdim=False, *, dtype=None):
    np_dtype = _sum_dtype(input, dtype)
    if dim is not None:
        dim = wrap_dim(dim, input.ndim)
    return (Prod if dim is None else ProdDim).apply(input, dim, keepdim, np_dtype)


# PyTorch's CPU cumulative kernels keep their running total in a wider type (float32 in float64, the
# half types in float32, complex64 in complex128) and round each output; so does ember, to match it.
_WIDER_ACCUMULATOR = {"float32": "float64", "float16": "float32", "bfloat16": "float32", "complex64": "complex128"}


def _cumulative(method, input, dim, np_dtype):
    out_dtype = input.dtype if np_dtype is None else _np.dtype(np_dtype)
    wide = _WIDER_ACCUMULATOR.get(out_dtype.name)
    if wide is None:
        return method(axis=dim, dtype=np_dtype)
    return method(axis=dim, dtype=wide).astype(out_dtype)


class Cumsum(Op):
    @staticmethod
    def forward(ctx, input, dim, np_dtype):
        ctx.dim = dim
        return _cumulative(input.cumsum, input, dim, np_dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None, None


@export(inplace=True)
def cumsum(input, dim, *, dtype=None):
    dim = wrap_dim(dim, input.ndim)
    np_dtype = _sum_dtype(input, dtype)
    if input.ndim == 0:                              # a 0-d input is its own cumulative sum
        return input.clone() if np_dtype is None else cast(input, _dt.from_numpy(np_dtype)).clone()
    return Cumsum.apply(input, dim, np_dtype)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, input, dim, np_dtype):
        if input.ndim == 0:                       # a 0-d input is its own cumulative product
            out = input.astype(np_dtype) if np_dtype is not None else input.copy()
        else:
            out = _cumulative(input.cumprod, input, dim, np_dtype)
        ctx.dim = dim
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        dim = ctx.dim
        if input.ndim == 0 or input.shape[dim] == 1:     # out is input itself: the grad passes through
            return grad, None, None
        if not bool((input == 0).any()):
            return (grad * out).flip(dim).cumsum(dim).flip(dim) / input, None, None
        # With zeros: d out_j / d x_i = prod_{k<=j, k!=i} x_k, built per position (small inputs only).
        from .shape import stack
        n = input.shape[dim]
        grads = []
        xp = ctx.xp
        shape = [n if d == dim else 1 for d in range(input.ndim)]
        position = xp.arange(n).reshape(shape)
        is_zero = input._array == 0
        zeros_so_far = xp.cumsum(is_zero, axis=dim)
        for i in range(n):
            # input_i replaced by 1 (selected: inf * 0 would be NaN); grad_j is taken for j >= i whose product
            # has no other zero in it, and the rest selected out as PyTorch does (a NaN gradient there stays out)
            partial = cumprod(_where_array(position == i, 1.0, input), dim)
            others = zeros_so_far - xp.take(is_zero, [i], axis=dim)
            grads.append(_where_array((position >= i) & (others == 0), grad * partial, 0.0).sum(dim))
        return stack(grads, dim), None, None


@export(inplace=True)
def cumprod(input, dim, *, dtype=None):
    dim = wrap_dim(dim, input.ndim)
    np_dtype = _sum_dtype(input, dtype)
    return Cumprod.apply(input, dim, np_dtype)


class LogCumSumExp(Op):
    """A running log(exp(total) + exp(x)) along dim, as PyTorch's CPU scan (in the wider accumulator type):
    no shift by a global maximum, so tiny terms next to large ones keep their own values."""
    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, input, dim):
        ctx.dim = dim
        if input.ndim == 0 or not input.size:
            out = input.copy()
        else:
            wide = _WIDER_ACCUMULATOR.get(input.dtype.name)
            work = input.astype(wide) if wide is not None else input
            out = ctx.xp.logaddexp.accumulate(work, axis=dim).astype(input.dtype, copy=False)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula: the positive and negative parts of grad in log space, each through a reversed
        # logcumsumexp (so a NaN gradient, neither > 0 nor < 0, contributes nothing, as there)
        if grad.ndim == 0 or not grad.numel():
            return grad, None
        from .pointwise import where
        input, out = ctx.saved_tensors
        dim = ctx.dim
        lowest = _dt.finfo(grad.dtype).min
        log_abs = grad.abs().log()
        parts = []
        for keep in (grad > 0, grad < 0):
            shifted = where(keep, log_abs, lowest) - out
            parts.append((LogCumSumExp.apply(shifted.flip(dim), dim).flip(dim) + input).exp())
        return parts[0] - parts[1], None


@export(method=True)
def logcumsumexp(input, dim):
    dim = wrap_dim(dim, input.ndim)
    if input.dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    return LogCumSumExp.apply(input, dim)


@export(method=True)
def cummax(input, dim):
    return _cum_extreme(input, _cum_dim("cummax", input, dim), True)


@export(method=True)
def cummin(input, dim):
    return _cum_extreme(input, _cum_dim("cummin", input, dim), False)


def _cum_dim(name, input, dim):
    if input.ndim == 0:                           # a 0-d input is its own running extreme, at index 0
        if dim not in (0, -1):
            raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
        return 0
    return wrap_dim(dim, input.ndim)


class Cummax(Op):
    """Running maximum and its index along dim (the last one among ties and NaNs, as PyTorch's scan).
    PyTorch saves the input and the indices; the gradient is grad scattered-added at the indices."""
    non_differentiable_outputs = (1,)

    @staticmethod
    def forward(ctx, input, dim, is_max):
        xp = ctx.xp
        a = input.reshape(1) if input.ndim == 0 else input
        acc = (xp.maximum if is_max else xp.minimum).accumulate(a, axis=dim)
        n = a.shape[dim]
        idx_shape = [1] * a.ndim
        idx_shape[dim] = n
        positions = xp.broadcast_to(xp.arange(n).reshape(idx_shape), a.shape)
        hit = a == acc
        if a.dtype.kind in "fc":
            hit |= a != a                         # a NaN takes the index (and keeps it until the next NaN)
        indices = xp.maximum.accumulate(xp.where(hit, positions, 0), axis=dim).astype(xp.int64, copy=False)
        if input.ndim == 0:
            acc, indices = acc.reshape(()), indices.reshape(())
        ctx.dim = dim
        ctx.save_for_backward(input, indices)
        return acc, indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        input, indices = ctx.saved_tensors
        if input.ndim == 0:
            return grad, None, None
        from .creation import zeros
        from .indexing import scatter_add
        zero = zeros(input.shape, dtype=grad.dtype, device=grad.device)
        return scatter_add(zero, ctx.dim, indices, grad), None, None


class Cummin(Cummax):
    pass


def _cum_extreme(input, dim, is_max):
    name = "cummax" if is_max else "cummin"
    values, indices = (Cummax if is_max else Cummin).apply(input, dim, is_max)
    return return_type(name)(values, indices)


# --- max / min --------------------------------------------------------------------------------------

class AmaxAmin(Op):
    @staticmethod
    def forward(ctx, input, dims, keepdim, is_max):
        out = input.max(axis=dims, keepdims=keepdim) if is_max else input.min(axis=dims, keepdims=keepdim)
        ctx.save_for_backward(input, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        dims = ctx.dims if ctx.dims is not None else tuple(range(input.ndim))
        shape = input.shape
        out = _expand_grad(out, shape, dims, ctx.keepdim)
        mask = (input == out).to(grad.dtype)
        count = mask.sum(dims, keepdim=True)        # ties share the gradient evenly
        return _expand_grad(grad, shape, dims, ctx.keepdim) * mask / count, None, None, None


class Amax(AmaxAmin):
    node_name = "AmaxBackward0"


class Amin(AmaxAmin):
    node_name = "AminBackward0"


class MaxAll(AmaxAmin):
    """max() of all elements. PyTorch's gradient: grad / count on each element equal to the result (each NaN
    when the result is NaN), selected into zeros elsewhere; unlike amax, a NaN gradient stays out of them."""
    node_name = "MaxBackward1"

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        a, v = input._array, out._array
        mask = (a != a) if v != v else (a == v)
        share = grad / int(mask.sum())
        return _where_array(mask, share, 0.0), None, None, None


class MinAll(MaxAll):
    node_name = "MinBackward1"


class MedianAll(Op):
    """median() of all elements (the lower median; NaN if any, unless ignore_nan). PyTorch saves the input
    and the result; its gradient is MaxAll's: shared evenly among the elements equal to the result (the NaNs
    when it is NaN)."""
    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, input, ignore_nan):
        xp = ctx.xp
        flat = xp.sort(input.reshape(-1))                # NaN sorts last
        if not flat.shape[0]:                            # empty: NaN, still in the graph as in PyTorch
            out = xp.asarray(float("nan"), dtype=input.dtype)
        elif input.dtype.kind not in "fc":
            out = flat[(flat.shape[0] - 1) // 2]
        elif ignore_nan:                                 # all NaN: the first, NaN
            k = xp.maximum(xp.count_nonzero(flat == flat) - 1, 0) // 2
            out = flat[k]
        else:
            out = xp.where(flat[-1] != flat[-1], flat[-1], flat[(flat.shape[0] - 1) // 2])
        out = xp.asarray(out)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaxAll.backward(ctx, grad)[0], None


class NanmedianAll(MedianAll):
    node_name = "NanmedianBackward0"


class MaxDim(Op):
    node_name = "MaxBackward0"
    non_differentiable_outputs = (1,)

    @staticmethod
    def forward(ctx, input, dim, keepdim, is_max):
        xp = ctx.xp
        indices = (xp.argmax if is_max else xp.argmin)(input, axis=dim, keepdims=True)
        if input.dtype.kind == "f":
            nan = xp.isnan(input)
            if nan.any():                             # NaN propagates and its index wins, as in PyTorch
                nan_idx = xp.argmax(nan, axis=dim, keepdims=True)
                indices = xp.where(xp.take_along_axis(nan, nan_idx, axis=dim), nan_idx, indices)
        values = xp.take_along_axis(input, indices, axis=dim)
        if not keepdim:
            values = xp.squeeze(values, axis=dim)
            indices = xp.squeeze(indices, axis=dim)
        ctx.shape, ctx.dim, ctx.keepdim = input.shape, dim, keepdim
        indices = indices.astype(xp.int64, copy=False)
        ctx.save_for_backward(indices)                # the indices output: version checked, as in PyTorch
        return values, indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        (indices,) = ctx.saved_tensors
        dim = ctx.dim
        if not ctx.keepdim:
            grad = grad.unsqueeze(dim)
            indices = indices.unsqueeze(dim)
        from .indexing import scatter
        from .creation import zeros
        zero = zeros(ctx.shape, dtype=grad.dtype, device=grad.device)
        return scatter(zero, dim, indices, grad), None, None, None


class MinDim(MaxDim):
    node_name = "MinBackward0"


def _extreme(name, is_max):
    def reduce(input, dim=None, keepdim=False, *, out=None):
        if isinstance(dim, Tensor):
            from .pointwise import maximum, minimum
            return (maximum if is_max else minimum)(input, dim)
        if dim is None:
            if input._array.size == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                                   "Specify the reduction dim with the 'dim' argument.")
            return (MaxAll if is_max else MinAll).apply(input, None, False, is_max)
        dim = wrap_dim(dim, input.ndim)
        if input.ndim == 0:
            return return_type(name)(input.clone(), _make(input._backend().xp.zeros((), dtype="int64"),
                                                          input._device))
        if input.shape[dim] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        values, indices = (MaxDim if is_max else MinDim).apply(input, dim, keepdim, is_max)
        return return_type(name)(values, indices)
    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = f"{name} of all elements, or (values, indices) along dim."
    export(reduce, method=True)
    return reduce


max = _extreme("max", True)
min = _extreme("min", False)


def _amax(name, is_max):
    def reduce(input, dim=(), keepdim=False):
        shape = input._array.shape
        if input._array.size == 0 and (dim == () or dim is None):     # checked first, as PyTorch does
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        dims = normalize_dims(dim if dim != () else None, len(shape))
        for d in dims:
            if shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return (Amax if is_max else Amin).apply(input, dims, keepdim, is_max)
    reduce.__name__ = reduce.__qualname__ = name
    export(reduce, method=True)
    return reduce


amax = _amax("amax", True)
amin = _amax("amin", False)


@export(method=True)
def aminmax(input, *, dim=None, keepdim=False):
    return return_type("aminmax", ("min", "max"))(amin(input, dim if dim is not None else (), keepdim),
                                                             amax(input, dim if dim is not None else (), keepdim))


def _arg(name, is_max):
    def arg(input, dim=None, keepdim=False):
        def fn(xp, a):
            if dim is None:
                flat = a.reshape(-1)
                idx = (xp.argmax if is_max else xp.argmin)(flat)
                if flat.dtype.kind == "f" and xp.isnan(flat).any():
                    idx = xp.argmax(xp.isnan(flat))
                out = xp.asarray(idx, dtype=xp.int64)
                return out.reshape((1,) * a.ndim) if keepdim else out
            d = wrap_dim(dim, a.ndim)
            idx = (xp.argmax if is_max else xp.argmin)(a, axis=d, keepdims=keepdim)
            if a.dtype.kind == "f":
                nan = xp.isnan(a)
                if nan.any():
                    nan_idx = xp.argmax(nan, axis=d, keepdims=keepdim)
                    idx = xp.where(xp.any(nan, axis=d, keepdims=keepdim), nan_idx, idx)
            return idx.astype(xp.int64)
        if input.numel() == 0:
            if dim is None:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            d = wrap_dim(dim, input.ndim)
            if not input.ndim or input.shape[d] == 0:     # other empty dims reduce to an empty result
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        if input.ndim == 0:
            return _make(input._backend().xp.zeros((), dtype="int64"), input._device)
        return nodiff(fn, input)
    arg.__name__ = arg.__qualname__ = name
    export(arg, method=True)
    return arg


argmax = _arg("argmax", True)
argmin = _arg("argmin", False)


# --- statistics -------------------------------------------------------------------------------------

def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _var_forward(ctx, input, dims, correction, keepdim, full, root=False):
    n = math.prod(input.shape[d] for d in dims)
    ctx.dims, ctx.keepdim, ctx.divisor = dims, keepdim, _builtin_max(n - correction, 0)
    ctx.dof, ctx.full = n - correction, full
    # float32 and half types accumulate in float64: the result is then correctly rounded, like PyTorch's
    work = input.astype(ctx.xp.float64) if input.dtype.itemsize < 8 else input
    with ctx.xp.errstate(invalid="ignore", divide="ignore"):
        centered = work - work.sum(axis=dims, keepdims=True) / n if n else work
        out = (centered * centered).sum(axis=dims, keepdims=keepdim) / ctx.divisor
    if root:                                       # std: the root of the wide variance, rounded once
        out = ctx.xp.sqrt(out)
    return out.astype(input.dtype, copy=False)


def _var_backward(ctx, grad, input):
    # PyTorch's var_backward: (2 / (n - correction)) * grad * (x - mean); with no dim given and
    # n <= correction, grad * (NaN where x == mean, else +inf); with a dim, the raw n - correction
    # (a negative scale past n, although the forward clamps it at 0)
    grad = _expand_grad(grad, input.shape, ctx.dims, ctx.keepdim)
    mean = input.mean(ctx.dims, keepdim=True)
    if ctx.dof <= 0 and ctx.full:
        xp = ctx.xp
        at_mean = input._array == mean._array
        return grad * _make(xp.where(at_mean, xp.nan, xp.inf).astype(input._array.dtype), input.device)
    return grad * (2.0 / ctx.dof if ctx.dof else float("inf")) * (input - mean)


class Var(Op):
    """Variance over dims with a correction; d var / dx = 2 (x - mean) / (n - correction)."""
    @staticmethod
    def forward(ctx, input, dims, correction, keepdim, full):
        ctx.save_for_backward(input)
        return _var_forward(ctx, input, dims, correction, keepdim, full)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return _var_backward(ctx, grad, input), None, None, None, None


class Std(Op):
    """sqrt(var); the gradient is var's divided by 2 std."""
    @staticmethod
    def forward(ctx, input, dims, correction, keepdim, full):
        out = _var_forward(ctx, input, dims, correction, keepdim, full, root=True)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        # PyTorch: 0 where std == 0 (a constant slice), selected so no 0 / 0 reaches the result
        grad_var = _where_array(out._array == 0, 0.0, grad / (out * 2))
        return _var_backward(ctx, grad_var, input), None, None, None, None


def _where_array(mask, input, other):
    """where(mask, input, other) for a bool backend array `mask` (a gradient formula's selection)."""
    from .pointwise import Where
    return Where.apply(mask, input, other)


def _var_args(input, dim, unbiased, correction, name, stacklevel=4):
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"std and var only support floating point and complex dtypes, got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    dims, c = normalize_dims(dim, input.ndim), _correction(unbiased, correction)
    if math.prod(input.shape[d] for d in dims) - c <= 0:
        import warnings
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                      "factor (input numel divided by output numel).", UserWarning, stacklevel=stacklevel)
    return dims, c


@export(method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (correction=1)."""
    return _var(input, dim, unbiased, keepdim, correction, "var")


def _var(input, dim, unbiased, keepdim, correction, name, stacklevel=4):
    dims, c = _var_args(input, dim, unbiased, correction, name, stacklevel)
    if not input.is_complex():
        return Var.apply(input, dims, c, keepdim, dim is None or input.ndim == 0)
    n = math.prod(input.shape[d] for d in dims)           # complex: |x - mean|^2, composed
    centered = input - mean(input, dims, keepdim=True)
    return sum((centered * centered.conj()).real, dims, keepdim) / _builtin_max(n - c, 0)


_builtin_max = __builtins__["max"] if isinstance(__builtins__, dict) else __builtins__.max


@export(method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation, sqrt(var)."""
    return _std(input, dim, unbiased, keepdim, correction, "std")


def _std(input, dim, unbiased, keepdim, correction, name):
    if not input.is_complex():
        dims, c = _var_args(input, dim, unbiased, correction, name)
        return Std.apply(input, dims, c, keepdim, dim is None or input.ndim == 0)
    from .pointwise import sqrt
    return sqrt(_var(input, dim, unbiased, keepdim, correction, name, stacklevel=5))


@export(method=True)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    return (_var(input, dim, unbiased, keepdim, correction, "var_mean"),
            mean(input, normalize_dims(dim, input.ndim), keepdim))


@export(method=True)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    return (_std(input, dim, unbiased, keepdim, correction, "std_mean"),
            mean(input, normalize_dims(dim, input.ndim), keepdim))


class LogSumExp(Op):
    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, input, dims, keepdim):
        xp = ctx.xp
        m = xp.max(input, axis=dims, keepdims=True) if input.size else xp.zeros(
            tuple(1 if i in dims else s for i, s in enumerate(input.shape)), input.dtype)
        m = xp.where(xp.isfinite(m), m, 0)          # all -inf rows stay -inf, no NaN (NUM-2)
        with xp.errstate(divide="ignore"):
            out = xp.log(xp.sum(xp.exp(input - m), axis=dims, keepdims=True)) + m
        if not keepdim:
            out = xp.squeeze(out, axis=dims)
        # one array object for the result and the saved value (a NumPy scalar from a 0-d input, or a
        # cast, would make a separate constant, and the second derivative would miss d out / d input)
        out = xp.asarray(out).astype(input.dtype, copy=False)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        shape = input.shape
        out = _expand_grad(out, shape, ctx.dims, ctx.keepdim)
        return _expand_grad(grad, shape, ctx.dims, ctx.keepdim) * (input - out).exp(), None, None


@export(method=True)
def logsumexp(input, dim=None, keepdim=False):
    """log(sum(exp(input))) computed stably."""
    if input.dtype.category < _dt.FLOAT:
        input = cast(input, _dt.get_default_dtype())
    dims = normalize_dims(dim, input.ndim)
    return LogSumExp.apply(input, dims, keepdim)


# --- norms ------------------------------------------------------------------------------------------

@export(method=False)
def vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):
    from .pointwise import abs as abs_
    if dtype is not None:
        input = cast(input, _dt.to_dtype(dtype))
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    dims = normalize_dims(dim, input.ndim) if dim is not None else None
    if ord == 2:
        sq = input * input if not input.is_complex() else abs_(input) ** 2
        total = sum(sq, dims, keepdim) if dims is not None else (sum(sq) if not keepdim else
                                                                  sum(sq, tuple(range(input.ndim)), True))
        return Norm2.apply(total)
    if ord == float("inf"):
        return amax(abs_(input), dims if dims is not None else (), keepdim)
    if ord == float("-inf"):
        return amin(abs_(input), dims if dims is not None else (), keepdim)
    return VectorNorm.apply(input, float(ord), dims if dims else tuple(range(input.ndim)), keepdim)


class VectorNorm(Op):
    """vector_norm for an ord other than 2 and +-inf: PyTorch's node saves the input and the result."""
    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, input, ord, dims, keepdim):
        a = ctx.xp.abs(input)
        if ord == 0:
            out = (a != 0).sum(axis=dims, keepdims=keepdim, dtype=a.dtype)
        elif ord == 1:
            out = a.sum(axis=dims, keepdims=keepdim)
        else:
            out = (a ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)
        out = ctx.xp.asarray(out)
        ctx.ord, ctx.dims, ctx.keepdim = ord, dims, keepdim
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        from .pointwise import sgn, where
        input, out = ctx.saved_tensors
        p, shape = ctx.ord, input.shape
        if p == 0:                                       # a count: no gradient (None, as PyTorch's undefined one)
            return None, None, None, None
        grad = _expand_grad(grad, shape, ctx.dims, ctx.keepdim)
        if p == 1:
            return grad * sgn(input), None, None, None
        # d|x|_p / dx = sgn(x) |x|^(p-1) / |x|_p^(p-1): 0 where the norm is 0 (and, for p < 1, where x is 0)
        norm = _expand_grad(out, shape, ctx.dims, ctx.keepdim)
        magnitude = input.abs()
        if p < 1:
            scaled = where(input == 0, 0.0, sgn(input) * magnitude ** (p - 1))
            return scaled * grad * norm ** (1 - p), None, None, None
        scaled = sgn(input) * magnitude ** (p - 1) if p < 2 else input * magnitude ** (p - 2)
        return scaled * where(norm == 0, 0.0, grad / norm ** (p - 1)), None, None, None


class Norm2(Op):
    """sqrt of a sum of squares, with gradient 0 at 0 (NUM-4) instead of inf*0 = NaN; multiplied by the grad
    there, as PyTorch's (a NaN grad at a zero norm leaks)."""
    node_name = "NormBackward1"

    @staticmethod
    def forward(ctx, total):
        out = ctx.xp.sqrt(total)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        from .pointwise import where
        safe = where(out == 0, 1.0, out)
        return where(out == 0, grad * 0, grad / (safe * 2))


@export(method=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector or Frobenius norm (p: number, 'fro', inf)."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise RuntimeError("norm: p='nuc' needs a matrix norm; use ember.linalg.matrix_norm")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# --- counting and logic ---------------------------------------------------------------------------

@export(method=True)
def all(input, dim=None, keepdim=False):
    def fn(xp, a):
        out = xp.all(a, axis=normalize_dims(dim, a.ndim) if dim is not None else None, keepdims=keepdim)
        return out if input.dtype is not _dt.uint8 else out.astype(xp.uint8)
    return nodiff(fn, input)


@export(method=True)
def any(input, dim=None, keepdim=False):
    def fn(xp, a):
        out = xp.any(a, axis=normalize_dims(dim, a.ndim) if dim is not None else None, keepdims=keepdim)
        return out if input.dtype is not _dt.uint8 else out.astype(xp.uint8)
    return nodiff(fn, input)


@export(method=True)
def count_nonzero(input, dim=None):
    return nodiff(lambda xp, a: xp.asarray(xp.count_nonzero(
        a, axis=normalize_dims(dim, a.ndim) if dim is not None else None), dtype=xp.int64), input)


# --- median / mode ---------------------------------------------------------------------------------

@export(method=True)
def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch does not average the two middle values); NaN wins if present."""
    if dim is None:
        if input._array.size == 0 and input.dtype.category < _dt.FLOAT:
            return _make(input._backend().xp.asarray(float("nan"), dtype=input._array.dtype), input._device)
        return MedianAll.apply(input, False)
    return _median_along(input, dim, keepdim, ignore_nan=False)


@export(method=True)
def nanmedian(input, dim=None, keepdim=False):
    """median() that skips NaN (NaN only where a whole slice is NaN)."""
    if dim is None:
        if input._array.size == 0 and input.dtype.category < _dt.FLOAT:
            return _make(input._backend().xp.asarray(float("nan"), dtype=input._array.dtype), input._device)
        return NanmedianAll.apply(input, True)
    return _median_along(input, dim, keepdim, ignore_nan=True)


def _median_along(input, dim, keepdim, ignore_nan):
    # Written without reading values on the host, so it also runs on the meta device.
    from .indexing import gather, gather_at_indices
    from .pointwise import where
    from .sorting import sort
    dim = wrap_dim(dim, input.ndim)
    result = return_type("nanmedian" if ignore_nan else "median")
    if input.ndim == 0:
        return result(input.clone(), _make(input._backend().xp.zeros((), dtype="int64"), input._device))
    if input.shape[dim] == 0:
        raise IndexError(f"median(): Expected reduction dim {dim} to have non-zero size.")
    _, indices = sort(input, dim)                      # NaN sorts last
    floating = input.dtype.category >= _dt.FLOAT
    if ignore_nan and floating:
        counts = sum(input.isnan().logical_not(), dim, keepdim=True)
        idx = gather(indices, dim, ((counts - 1).clamp(min=0)) // 2)
    else:
        idx = indices.narrow(dim, (input.shape[dim] - 1) // 2, 1)
        if floating:
            nan = input.isnan()
            idx = where(nan.any(dim, keepdim=True), nan.to(_dt.int64).argmax(dim, keepdim=True), idx)
    values = gather_at_indices(input, dim, idx)
    if not keepdim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    return result(values, idx)


@export(method=True)
def mode(input, dim=-1, keepdim=False):
    """Most frequent value along dim (smallest on ties) and an index where it occurs (the last one)."""
    dim = wrap_dim(dim, input.ndim)

    def fn(xp, a):
        moved = xp.moveaxis(a, dim, -1)
        flat = moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)
        vals = xp.empty(flat.shape[0], dtype=a.dtype)
        idxs = xp.empty(flat.shape[0], dtype=xp.int64)
        for r in range(flat.shape[0]):
            row = flat[r]
            uniq, counts = xp.unique(row, return_counts=True)
            v = uniq[xp.argmax(counts)]
            vals[r] = v
            idxs[r] = xp.nonzero(row == v)[0][-1]
        shape = moved.shape[:-1]
        vals, idxs = vals.reshape(shape), idxs.reshape(shape)
        if keepdim:
            vals, idxs = xp.expand_dims(vals, dim), xp.expand_dims(idxs, dim)
        return vals, idxs
    values, indices = nodiff(fn, input)
    if input._requires_grad:
        from .indexing import gather_at_indices
        idx = indices if keepdim else indices.unsqueeze(dim)
        values = gather_at_indices(input, dim, idx)
        values = values if keepdim else values.squeeze(dim)
    return return_type("mode")(values, indices)


# --- softmax family ---------------------------------------------------------------------------------

class Softmax(Op):
    @staticmethod
    def forward(ctx, input, dim):
        xp = ctx.xp
        ctx.dim = dim
        if not input.size:
            out = input.copy()
        else:                                       # in place on one buffer: shift, exp, normalise
            out = input - input.max(axis=dim, keepdims=True)
            xp.exp(out, out=out)
            out /= out.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # out * (grad - sum(grad * out)), rounded as PyTorch's kernel rounds it: a constant upstream
        # gradient then gives exact zeros
        return out * (grad - (grad * out).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Op):
    @staticmethod
    def forward(ctx, input, dim):
        xp = ctx.xp
        ctx.dim = dim
        if not input.size:
            out = input.copy()
        else:
            out = input - input.max(axis=dim, keepdims=True)
            out -= xp.log(xp.exp(out).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - out.exp() * grad.sum(ctx.dim, keepdim=True), None


def _softmax_input(input, dim, dtype, name):
    if dtype is not None:
        input = cast(input, _dt.to_dtype(dtype))
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                           f"'{_dt.scalar_type_name(input.dtype)}'")
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1      # PyTorch's legacy implicit-dim choice
    return input, wrap_dim(dim, input.ndim)


@export(method=True)
def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """exp(x) / sum(exp(x)) along dim, shifted by the max so it never overflows."""
    input, dim = _softmax_input(input, dim, dtype, "softmax")
    if input.ndim == 0:
        return Softmax.apply(input.reshape(1), 0).reshape(())
    return Softmax.apply(input, dim)


@export(method=True)
def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """x - logsumexp(x) along dim, computed stably."""
    input, dim = _softmax_input(input, dim, dtype, "log_softmax")
    if input.ndim == 0:
        return LogSoftmax.apply(input.reshape(1), 0).reshape(())
    return LogSoftmax.apply(input, dim)


@export(method=True, public=False)
def sum_to_size(input, *size):
    """input summed down to `size`, a shape that expands to input's shape."""
    from ._shapes import parse_shape
    size, shape = parse_shape(size), tuple(input.shape)
    lead = len(shape) - len(size)
    if lead < 0 or _builtin_any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if size == shape:
        return input
    out = sum_to_shape(input, size)
    return cast(out, _dt.int64) if input.dtype.category < _dt.FLOAT else out      # integer sums are int64


_builtin_any = __builtins__["any"] if isinstance(__builtins__, dict) else __builtins__.any


# --- differences and integrals ---------------------------------------------------------------------------

@export(method=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (logical xor for bool), after joining prepend/append."""
    from .shape import cat
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = wrap_dim(dim, input.ndim)
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for d in range(input.ndim):
            if d != dim and extra.shape[d] != input.shape[d]:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({d}) = {input.shape[d]}, "
                                   f"but got tensor.size({d}) = {extra.shape[d]}")
        parts.append(extra)
    out = cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        size = out.shape[dim]
        if size == 0:
            break
        after, before = out.narrow(dim, 1, size - 1), out.narrow(dim, 0, size - 1)
        out = after != before if out.dtype is _dt.bool_ else after - before
    return out


def _trapezoid_parts(name, y, x, dx, dim):
    """(y floated, dim, sum of neighbours y[i] + y[i+1], spacing: a scalar or x's differences)."""
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if x is not None and dx is not None:
        raise TypeError(f"{name}(): pass either x or dx, not both")
    dim = wrap_dim(dim, y.ndim)
    if y.dtype.category < _dt.FLOAT:
        y = cast(y, _dt.get_default_dtype())
    n = y.shape[dim]
    pairs = y.narrow(dim, 0, _builtin_max(n - 1, 0)) + y.narrow(dim, 1 if n else 0, _builtin_max(n - 1, 0))
    if x is None:
        return pairs, (1 if dx is None else dx) * 0.5
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = x.reshape([-1 if d == dim else 1 for d in range(y.ndim)])
        return pairs, diff(x, dim=dim) * 0.5
    return pairs, diff(x, dim=dim - y.ndim) * 0.5


@export(method=False, aliases=("trapz",))
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim, with sample points x or a constant spacing dx (default 1)."""
    pairs, spacing = _trapezoid_parts("trapezoid", y, x, dx, dim)
    return sum(pairs * spacing, wrap_dim(dim, y.ndim))


@export(method=False)
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along dim (one element shorter than y there)."""
    pairs, spacing = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    return cumsum(pairs * spacing, wrap_dim(dim, y.ndim))


# --- covariance, correlation, quantiles, histograms ------------------------------------------------------

def _check_weights(name, weights, n, integral):
    kind = "integral" if integral else "floating point"
    if weights.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                           f"{weights.ndim} dimensions")
    if weights.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the input "
                           f"but got {weights.numel()} != {n}")
    if (weights.dtype.category == _dt.INT) != integral or weights.dtype is _dt.bool_:
        raise RuntimeError(f"cov(): expected {name} to have {kind} dtype but got {name} with "
                           f"{_dt.scalar_type_name(weights.dtype)} dtype")
    if bool((weights < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


@export(method=True)
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) over the columns (observations), optionally weighted."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    n = x.shape[1]
    if x.dtype.category < _dt.FLOAT:
        x = cast(x, _dt.get_default_dtype())
    weights = None
    if fweights is not None:
        _check_weights("fweights", fweights, n, True)
        weights = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, n, False)
        x = cast(x, _dt.promote_types(x.dtype, aweights.dtype))
        weights = aweights if weights is None else weights * aweights
    if weights is None:
        avg, norm = mean(x, 1, keepdim=True), n - correction
        if norm <= 0:
            _dof_warning()
            norm = 0
    else:
        weights = cast(weights, x.dtype)
        w_sum = sum(weights)
        avg = sum(x * weights, 1, keepdim=True) / w_sum
        norm = w_sum - correction * (1 if aweights is None else sum(weights * aweights) / w_sum)
        if bool(norm <= 0):
            _dof_warning()
            norm = norm.clamp(min=0)
    centered = x - avg
    product = (centered if weights is None else centered * weights) @ centered.mT.conj()
    return (product / norm).squeeze()


def _dof_warning():
    import warnings
    warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                  "observations.", UserWarning, stacklevel=3)


@export(method=True)
def corrcoef(input):
    """Pearson correlation coefficients of the rows, clamped to [-1, 1] (complex inputs are not clamped)."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    from .pointwise import sqrt
    std = sqrt(c.diagonal().real)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c if c.is_complex() else c.clamp(-1, 1)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    from .indexing import gather
    from .sorting import sort
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype is not input.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if bool(((q < 0) | (q > 1)).any()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
    elif not 0 <= q <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if dim is None:
        x = input.reshape(-1)
        kept = (1,) * input.ndim
    else:
        d = wrap_dim(dim, input.ndim)
        x = input.movedim(d, -1) if input.ndim else input.reshape(1)
        kept = tuple(1 if i == d else s for i, s in enumerate(input.shape))
    values = sort(x, -1).values                  # NaN sorts last
    q_many = isinstance(q, Tensor) and q.ndim == 1

    def positions(xp, v, qs):
        # rank q * (count - 1) among the sorted values, as scale * q + offset; NaN-only (nanquantile) or
        # NaN-holding (quantile) slices point at their last value, a NaN
        n = v.shape[-1]
        nan = xp.isnan(v)
        count = (n - nan.sum(-1, keepdims=True)) if ignore_nan else xp.full(v.shape[:-1] + (1,), n)
        last = (count == 0) if ignore_nan else nan[..., -1:]
        scale = xp.where(last, 0, count - 1).astype(v.dtype)
        offset = xp.where(last, n - 1, 0).astype(v.dtype)
        qs = xp.asarray(qs, dtype=v.dtype).reshape((-1,) + (1,) * v.ndim if q_many else ())
        ranks = qs * scale + offset
        if interpolation == "nearest":
            ranks = xp.round(ranks)              # half to even, as PyTorch's round()
        return xp.floor(ranks).astype(xp.int64), xp.ceil(ranks).astype(xp.int64), scale, offset
    lo, hi, scale, offset = nodiff(positions, values, q._array if isinstance(q, Tensor) else q)
    if q_many:
        values = values.unsqueeze(0).expand((q.shape[0],) + tuple(values.shape))
    if interpolation in ("lower", "nearest"):
        out = gather(values, -1, lo)
    elif interpolation == "higher":
        out = gather(values, -1, hi)
    else:
        # the weight is differentiable in q, as in PyTorch
        weight = 0.5 if interpolation == "midpoint" else \
            (q.reshape((-1,) + (1,) * x.ndim) if q_many else q) * scale + offset - cast(lo, input.dtype)
        below = gather(values, -1, lo)
        out = below + weight * (gather(values, -1, hi) - below)
    out = out.squeeze(-1)
    lead = tuple(out.shape[:1]) if q_many else ()
    if keepdim:
        return out.reshape(lead + kept)
    return out if dim is None or input.ndim else out.reshape(lead)


@export(method=True)
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles (q a number or 1-D tensor) over all elements or along dim; NaN if any is NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


@export(method=True)
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile() that ignores NaN (NaN only where a whole slice is NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


@export(method=True)
def histogram(input, bins, *, range=None, weight=None, density=False):
    """Counts (or weights, or a density) in equal-width bins or between given edges; (hist, bin_edges)."""
    name = _dt.scalar_type_name(input.dtype)
    if input.dtype.category != _dt.FLOAT:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{name}'")
    for other in (bins, weight):
        if isinstance(other, Tensor) and other.dtype is not input.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins/weight tensors should have the same "
                               f"dtype, but got input with dtype {name} and {_dt.scalar_type_name(other.dtype)}")
    if isinstance(bins, int) and bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if range is not None and range[0] > range[1]:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {range[0]} max {range[1]} "
                           f"for dimension 0")
    if weight is not None and weight.shape != input.shape:
        raise RuntimeError(f"torch.histogramdd: weight should have the shape of input, but got input with shape "
                           f"{list(input.shape)} and weight with shape {list(weight.shape)}")

    def fn(xp, a, edges, w):
        hist, edges = xp.histogram(a.reshape(-1), edges, range, weights=None if w is None else w.reshape(-1),
                                   density=density)
        return hist.astype(a.dtype), edges.astype(a.dtype)
    hist, edges = nodiff(fn, input, bins, weight)
    return return_type("histogram", ("hist", "bin_edges"))(hist, edges)


class Renorm(Op):
    """input * factor, where factor = maxnorm / (norm + 1e-7) for slices whose p-norm is above maxnorm, else 1."""
    @staticmethod
    def forward(ctx, input, p, dims, maxnorm):
        ctx.args = (p, dims, maxnorm)
        ctx.save_for_backward(input)
        norm = _p_norm(ctx.xp, input, p, dims)
        factor = ctx.xp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)       # PyTorch's 1e-7 guard
        return (input * factor).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        from .pointwise import where
        (input,) = ctx.saved_tensors
        p, dims, maxnorm = ctx.args
        norm = vector_norm(input, p, dims, keepdim=True)
        active = norm > maxnorm
        safe = where(active, norm, 1.0)               # both branches of where stay finite
        factor = where(active, maxnorm / (safe + 1e-7), 1.0)
        if p == float("inf"):                         # d max|x| / dx: shared evenly between ties
            top = (input.abs() == norm).to(input.dtype)
            d_norm = input.sign() * top / top.sum(dims, keepdim=True)
        else:
            d_norm = input.abs().pow(p - 1) * input.sign() / safe.pow(p - 1)
        d_factor = where(active, -maxnorm / (safe + 1e-7) ** 2, 0.0)
        return grad * factor + (grad * input).sum(dims, keepdim=True) * d_factor * d_norm, None, None, None


def _p_norm(xp, a, p, dims):
    a = xp.abs(a)
    if p == float("inf"):
        return a.max(axis=dims, keepdims=True)
    return (a ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)


@export(inplace=True)
def renorm(input, p, dim, maxnorm):
    """Each slice along dim whose p-norm exceeds maxnorm, rescaled to norm maxnorm."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    dim = wrap_dim(dim, input.ndim)
    return Renorm.apply(input, float(p), tuple(d for d in range(input.ndim) if d != dim), float(maxnorm))


class IndexReduce(ScatterReduce):
    node_name = "IndexReduceBackward0"


@export(inplace=True)
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce (prod, mean, amax or amin) the slices of source into input at index along dim."""
    from .indexing import _check_1d_index
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
                           f"{reduce}.")
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_reduce", input, dim, index)
    if source.ndim != input.ndim or index.numel() != source.shape[dim] or _builtin_any(
            source.shape[d] != input.shape[d] for d in range(input.ndim) if d != dim):
        raise RuntimeError(f"index_reduce_(): Source/destination tensor must have same slice shapes "
                           f"(self {list(input.shape)}, source {list(source.shape)}, index {index.numel()})")
    index = index.reshape([-1 if d == dim else 1 for d in range(source.ndim)]).expand(source.shape)
    return IndexReduce.apply(input, dim, index, cast(source, input.dtype), reduce, include_self)
