"""Reductions over all elements or over dims: sum (and sum_to_shape, the engine's un-broadcasting), mean,
prod, max / min / amax / amin / argmax / argmin, logsumexp, all / any / count_nonzero, index_reduce."""
import math

import numpy as _np

from .._backends import cpu as _cpu, errstate
from .. import _backends, _dtype as _dt
from .._memory_format import reduced
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast, nodiff, return_type
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .comparison import _select, isnan, logical_not, maximum, minimum
from .scatter_gather import ScatterReduce
from .views import Expand as _Expand
from ..amp._dispatch import AUTOCAST, autocast_run

_ndarray = _np.ndarray
_STRIDED = _backends.STRIDED              # cpu and cuda array classes (Note [memory formats])
_add_reduce = _cpu.add_reduce
_max_reduce, _min_reduce = _cpu.maximum_reduce, _cpu.minimum_reduce
_ARRAY_OUT = _cpu.REDUCE_TO_ARRAY         # NumPy >= 2.3: out=... makes a full reduction return a 0-d array

# --- sum, mean, prod --------------------------------------------------------------------------------

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
        if input.__class__ is _ndarray:            # the ufunc itself: ndarray.sum adds a Python layer
            out = _add_reduce(input, dims, np_dtype, None, keepdim)
        else:
            out = input.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)    # the method: xp.sum adds a layer
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            out = reduced(out, ctx.xp)
        return out

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad, ctx.input_shape, ctx.dims, ctx.keepdim), None, None, None


class SumAll(Op):
    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, input, np_dtype):
        ctx.input_shape = input.shape
        if input.__class__ is _ndarray:            # the ufunc itself: ndarray.sum adds a Python layer
            return _add_reduce(input, None, np_dtype, out=...) if _ARRAY_OUT else _add_reduce(input, None, np_dtype)
        return input.sum(dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad):
        if not grad._requires_grad:                # Note [plain backward]: the expanded view itself
            return _make(ctx.backend.broadcast_to(grad._array, ctx.input_shape), grad._device), None
        # Expand.apply directly: the gradient needs no view bookkeeping and the shape is known good.
        return _Expand.apply(grad, ctx.input_shape), None


_INT64 = _dt.int64.numpy


def _sum_dtype(input, dtype):
    if dtype is not None:
        return _dt.to_dtype(dtype).numpy
    if input._array.dtype.kind in "biu":
        return _INT64                              # integer sums accumulate in int64, as in PyTorch
    return None


@export(method=True)
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over all elements or over `dim` (int or tuple)."""
    if "sum" in AUTOCAST:
        return autocast_run("sum", sum, input, dim, keepdim, dtype=dtype)
    if dtype is None:                              # _sum_dtype inlined: the usual call
        np_dtype = _INT64 if input._array.dtype.kind in "biu" else None
    else:
        np_dtype = _dt.to_dtype(dtype).numpy
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
        out = ctx.xp.nansum(input, axis=dims, keepdims=keepdim, dtype=np_dtype)
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            out = reduced(out, ctx.xp)
        return out

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


class Mean(Op):
    @staticmethod
    def forward(ctx, input, dims, keepdim):
        ctx.input_shape, ctx.dims, ctx.keepdim = input.shape, dims, keepdim
        if dims is None:
            count = input.size
        elif len(dims) == 1:                        # one dim: no generator for math.prod (~0.4 us)
            count = input.shape[dims[0]]
        else:
            count = math.prod(input.shape[d] for d in dims)
        ctx.count = count
        dtype = input.dtype
        acc = ctx.xp.float32 if dtype.itemsize < 4 and dtype.kind not in "biuc" else None  # half types: float32
        if input.__class__ is _ndarray:             # sum / n: NumPy's mean() costs several times more
            total = _add_reduce(input, dims, acc, None, keepdim)
        else:
            total = input.sum(axis=dims, keepdims=keepdim, dtype=acc)
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            total = reduced(total, ctx.xp)
        if count:                                   # a positive count cannot warn: skip errstate's ~1 us
            out = total / count
            return out if out.dtype == dtype else out.astype(dtype)
        with errstate(invalid="ignore", divide="ignore"):
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
    keep = logical_not(isnan(input))
    return nansum(input, dim, keepdim, dtype=dtype) / sum(keep, dim, keepdim).to(input.dtype)


class Prod(Op):
    @staticmethod
    def forward(ctx, input, dim, keepdim, np_dtype):
        out = ctx.xp.prod(input, axis=dim, keepdims=keepdim, dtype=np_dtype)
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            out = reduced(out, ctx.xp)
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
        zeros = int((input._array == 0).sum())
        if not zeros:
            return grad * (out / input), None, None, None
        if dim is None:
            if zeros > 1 and not _State.grad_enabled:   # as PyTorch: zeros, whatever grad is (inf: not nan)
                return _make(ctx.xp.zeros_like(input._array), input._device), None, None, None
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
    from .joining import cat
    from .scan import cumprod
    from .slicing import narrow
    ones_ = ones([1 if d == dim else s for d, s in enumerate(input.shape)], dtype=grad.dtype, device=grad.device)
    left = cumprod(cat([ones_, narrow(input, dim, 0, n - 1)], dim), dim)
    right = cumprod(cat([ones_, narrow(input, dim, 1, n - 1).flip(dim)], dim), dim).flip(dim)
    return grad * (left * right)


class ProdDim(Prod):
    node_name = "ProdBackward1"


@export(method=True)
def prod(input, dim=None, keepdim=False, *, dtype=None):
    if "prod" in AUTOCAST:
        return autocast_run("prod", prod, input, dim, keepdim, dtype=dtype)
    np_dtype = _sum_dtype(input, dtype)
    if dim is not None:
        dim = wrap_dim(dim, input.ndim)
    return (Prod if dim is None else ProdDim).apply(input, dim, keepdim, np_dtype)


# --- max / min --------------------------------------------------------------------------------------

class AmaxAmin(Op):
    @staticmethod
    def forward(ctx, input, dims, keepdim, is_max):
        if input.__class__ is _ndarray:            # the ufunc itself: ndarray.max adds a Python layer
            out = (_max_reduce if is_max else _min_reduce)(input, dims, None, None, keepdim)
        else:
            out = input.max(axis=dims, keepdims=keepdim) if is_max else input.min(axis=dims, keepdims=keepdim)
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            out = reduced(out, ctx.xp)
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
    def forward(ctx, input, is_max):
        # called by apply_binary (Note [apply fast path]); a 0-d result has no layout to make contiguous
        if input.__class__ is _ndarray:            # the ufunc itself: ndarray.max adds a Python layer
            reduce = _max_reduce if is_max else _min_reduce
            out = reduce(input, None, out=...) if _ARRAY_OUT else reduce(input, None)
        else:
            out = input.max() if is_max else input.min()
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        a, v = input._array, out._array
        mask = (a != a) if v != v else (a == v)
        share = grad / int(mask.sum())
        return _select(mask, share, 0.0), None


class MinAll(MaxAll):
    node_name = "MinBackward1"


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
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            values, indices = reduced(values, xp), reduced(indices, xp)
        ctx.save_for_backward(indices)                # the indices output: version checked, as in PyTorch
        return values, indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        (indices,) = ctx.saved_tensors
        dim = ctx.dim
        if not ctx.keepdim:
            grad = grad.unsqueeze(dim)
            indices = indices.unsqueeze(dim)
        from .scatter_gather import scatter
        from .creation import zeros
        zero = zeros(ctx.shape, dtype=grad.dtype, device=grad.device)
        return scatter(zero, dim, indices, grad), None, None, None


class MinDim(MaxDim):
    node_name = "MinBackward0"


def _extreme(name, is_max):
    all_op = MaxAll if is_max else MinAll

    def reduce(input, dim=None, keepdim=False, *, out=None):
        if out is not None:
            return _extreme_out(name, reduce, input, dim, keepdim, out)
        if dim is None:
            if input._array.size == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                                   "Specify the reduction dim with the 'dim' argument.")
            return all_op.apply_binary(input, is_max)
        if isinstance(dim, Tensor):
            return (maximum if is_max else minimum)(input, dim)
        dim = wrap_dim(dim, input.ndim)
        if input.ndim == 0:                       # its own max, at 0: PyTorch's node saves the indices
            from .scatter_gather import gather_at_indices
            idx = _make(input._backend().xp.zeros((), dtype="int64"), input._device)
            return return_type(name)(gather_at_indices(input, 0, idx, "MaxBackward0" if is_max else "MinBackward0"),
                                     idx)
        if input.shape[dim] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        values, indices = (MaxDim if is_max else MinDim).apply(input, dim, keepdim, is_max)
        return return_type(name)(values, indices)
    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = f"{name} of all elements, or (values, indices) along dim."
    export(reduce, method=True)
    return reduce


def _extreme_out(name, reduce, input, dim, keepdim, out):
    """max/min with out=: one Tensor for the whole-tensor and the elementwise forms, a (values, indices) pair
    for a dim (returned as PyTorch's <name>_out named tuple); anything else is refused as PyTorch refuses it."""
    from ._common import _out
    along_dim = dim is not None and not isinstance(dim, Tensor)
    if along_dim != isinstance(out, (tuple, list)) or along_dim and len(out) != 2:
        form = "(Tensor, int, out=" if along_dim else "(Tensor, out=" if dim is None else "(Tensor, Tensor, out="
        raise TypeError(f"{name}() received an invalid combination of arguments - got {form}"
                        f"{type(out).__name__}): out= takes a Tensor, or a (values, indices) pair when dim is given")
    result = reduce(input, dim, keepdim)
    if not along_dim:
        return _out(result, out)
    return return_type(name + "_out")(_out(result[0], out[0]), _out(result[1], out[1]))


max = _extreme("max", True)
min = _extreme("min", False)


def _amax(name, is_max):
    op = Amax if is_max else Amin

    def reduce(input, dim=(), keepdim=False):
        array = input._array
        shape = array.shape
        if array.size:                            # no dim of size 0 to refuse
            return op.apply(input, normalize_dims(dim if dim != () else None, len(shape)), keepdim, is_max)
        if dim == () or dim is None:              # checked first, as PyTorch does
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        dims = normalize_dims(dim if dim != () else None, len(shape))
        for d in dims:
            if shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return op.apply(input, dims, keepdim, is_max)
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
    method = _ndarray.argmax if is_max else _ndarray.argmin

    def arg(input, dim=None, keepdim=False):
        a = input._array
        if a.dtype == _np.bool_:
            raise RuntimeError(f"{name}(): does not support bool input")
        if a.__class__ is _ndarray and a.ndim and a.size:
            # NumPy's own kernels already answer as PyTorch does with NaNs (the first NaN's index; NumPy's
            # tests check it), so no NaN pass: the other backends take fn below.
            if dim is None:
                out = _cpu.int64_array(method(a.reshape(-1)))
                return _make(out.reshape((1,) * a.ndim) if keepdim else out, input._device)
            out = method(a, wrap_dim(dim, a.ndim), None, keepdims=keepdim)    # a NumPy scalar from a 1-d input
            return _make(out.astype(_np.int64, copy=False) if out.__class__ is _ndarray else _cpu.int64_array(out),
                         input._device)

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


# --- logsumexp --------------------------------------------------------------------------------------

class LogSumExp(Op):
    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, input, dims, keepdim):
        xp = ctx.xp
        # the array methods, not xp.max / xp.sum: NumPy's module functions add a Python layer (~1.5 us each)
        if input.size:
            m = input.max(axis=dims, keepdims=True)
            finite = xp.isfinite(m)
        else:
            m = xp.zeros(tuple(1 if i in dims else s for i, s in enumerate(input.shape)), input.dtype)
            finite = None
        if finite is not None and finite.all():     # each max finite: no log(0), so no errstate (~1 us)
            out = xp.log(xp.exp(input - m).sum(axis=dims, keepdims=True)) + m
        else:
            if finite is not None:
                m = xp.where(finite, m, 0)          # all -inf rows stay -inf, no NaN (NUM-2)
            with errstate(divide="ignore"):
                out = xp.log(xp.exp(input - m).sum(axis=dims, keepdims=True)) + m
        if not keepdim:
            out = out.squeeze(axis=dims)
        # one array object for the result and the saved value (a NumPy scalar from a 0-d input, or a
        # cast, would make a separate constant, and the second derivative would miss d out / d input)
        out = xp.asarray(out).astype(input.dtype, copy=False)
        if not input.flags.c_contiguous:              # see Note [memory formats]; PyTorch's is contiguous
            out = reduced(out, xp)
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
    if "logsumexp" in AUTOCAST:
        return autocast_run("logsumexp", logsumexp, input, dim, keepdim)
    if input.dtype.category < _dt.FLOAT:
        input = cast(input, _dt.get_default_dtype())
    dims = normalize_dims(dim, input.ndim)
    return LogSumExp.apply(input, dims, keepdim)


# --- all, any, count_nonzero ------------------------------------------------------------------------

@export(method=True)
def all(input, dim=None, keepdim=False):
    def fn(xp, a):
        out = xp.all(a, axis=normalize_dims(dim, a.ndim) if dim is not None else None, keepdims=keepdim)
        out = out if a.__class__ not in _STRIDED or a.flags.c_contiguous else reduced(out, xp)   # Note [memory formats]
        return out if input.dtype is not _dt.uint8 else out.astype(xp.uint8)
    return nodiff(fn, input)


@export(method=True)
def any(input, dim=None, keepdim=False):
    def fn(xp, a):
        out = xp.any(a, axis=normalize_dims(dim, a.ndim) if dim is not None else None, keepdims=keepdim)
        out = out if a.__class__ not in _STRIDED or a.flags.c_contiguous else reduced(out, xp)   # Note [memory formats]
        return out if input.dtype is not _dt.uint8 else out.astype(xp.uint8)
    return nodiff(fn, input)


@export(method=True)
def count_nonzero(input, dim=None):
    return nodiff(lambda xp, a: xp.asarray(xp.count_nonzero(
        a, axis=normalize_dims(dim, a.ndim) if dim is not None else None), dtype=xp.int64), input)


# --- index_reduce -----------------------------------------------------------------------------------

class IndexReduce(ScatterReduce):
    node_name = "IndexReduceBackward0"


@export(inplace=True)
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce (prod, mean, amax or amin) the slices of source into input at index along dim."""
    from .scatter_gather import _check_1d_index
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
