"""Indexing: __getitem__/__setitem__, gather/scatter, index_select/index_add/index_copy, masks, nonzero."""
import numbers

import numpy as np

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast, checked_scalar, nodiff, scalar_value, to_tensor_operand
from ._registry import export, export_method
from ._shapes import wrap_dim
from .shape import SliceScatter, basic_index


# --- index parsing ----------------------------------------------------------------------------------

def _parse_index(t, index):
    """Normalise an index to a tuple; returns (index, is_basic). Tensors become backend arrays."""
    if not isinstance(index, tuple):
        if index.__class__ is list and len(index) < 32 and any(
                i is None or i is Ellipsis or isinstance(i, (list, tuple, range, slice, Tensor, np.ndarray))
                for i in index):
            # NumPy's legacy rule, which PyTorch keeps: a short list holding sequences, slices, None or
            # Ellipsis is a tuple index (x[[[0], [1]]] is x[[0], [1]])
            import warnings
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; use "
                          "x[tuple(seq)] instead of x[seq]", UserWarning, stacklevel=4)
            index = tuple(index)
        else:
            index = (index,)
    out = []
    basic = True
    for item in index:
        if isinstance(item, Tensor):
            if item._device is not t._device and item.ndim:
                raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed "
                                   f"tensor ({t._device})")
            if item.dtype.category > _dt.INT:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if item.ndim == 0 and item.dtype is not _dt.bool_ and item._device.type != "meta":
                out.append(int(item.item()))
                continue
            arr = item._array
            out.append(arr.astype(bool) if item.dtype is _dt.uint8 else arr)
            basic = False
        elif isinstance(item, (list, range, np.ndarray)):        # a sequence of indices is a long tensor
            arr = np.asarray(item)
            if arr.size == 0 and arr.dtype.kind == "f":
                arr = arr.astype(np.int64)                       # [] is an empty long index, as in PyTorch
            if arr.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(t._backend().from_numpy(arr) if t._device.type == "cuda" else arr)
            basic = False
        elif isinstance(item, bool):
            out.append(np.asarray(item))
            basic = False
        elif isinstance(item, numbers.Integral):
            out.append(int(item))
        elif item is None or item is Ellipsis or isinstance(item, slice):
            if isinstance(item, slice):
                item = slice(*(None if v is None else _slice_int(v) for v in (item.start, item.stop, item.step)))
                if item.step is not None and item.step <= 0:
                    raise ValueError("step must be greater than zero")
            out.append(item)
        elif isinstance(item, (str, bytes)):           # PyTorch tries to make an index tensor of it
            raise TypeError(f"new(): invalid data type '{type(item).__name__}'")
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                             f"valid indices (got {type(item).__name__})")
    _check_bounds(t.shape, out)
    return tuple(out), basic


def _slice_int(v):
    if isinstance(v, Tensor):
        return int(v.item())
    return int(v)


def _check_bounds(shape, index):
    """Refuse out-of-range integer indices before anything happens, naming the value and the range."""
    n_real = 0
    for i in index:
        if isinstance(i, np.ndarray) and i.dtype == bool:
            n_real += i.ndim
        elif i is not None and i is not Ellipsis:
            n_real += 1
    if n_real > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    dim = 0
    for pos, item in enumerate(index):
        if item is Ellipsis:
            rest = sum(1 if not (isinstance(i, np.ndarray) and i.dtype == bool) else i.ndim
                       for i in index[pos + 1:] if i is not None and i is not Ellipsis)
            dim = len(shape) - rest
            continue
        if item is None:
            continue
        if isinstance(item, int):
            size = shape[dim]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size {size}")
            dim += 1
        elif isinstance(item, np.ndarray):
            if item.dtype == bool:
                if item.ndim and tuple(item.shape) != tuple(shape[dim:dim + item.ndim]):
                    for k, s in enumerate(item.shape):
                        if s != shape[dim + k]:
                            raise IndexError(f"The shape of the mask {list(item.shape)} at index {k} does not "
                                             f"match the shape of the indexed tensor {list(shape)} at index "
                                             f"{dim + k}")
                dim += item.ndim
            else:
                size = shape[dim]
                if item.size:
                    lo, hi = int(item.min()), int(item.max())
                    if lo < -size or hi >= size:
                        bad = hi if hi >= size else lo
                        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
                dim += 1
        else:
            dim += 1


# --- getitem ----------------------------------------------------------------------------------------

class Index(Op):
    """Advanced indexing: a copy; the gradient accumulates at the indexed positions."""
    @staticmethod
    def forward(ctx, input, index):
        ctx.input_shape, ctx.index = input.shape, index
        ctx.save_for_backward()                    # PyTorch saves the indices: a second backward is refused
        return input[index]

    @staticmethod
    def backward(ctx, grad):
        return IndexAccumulate.apply(grad, ctx.input_shape, ctx.index), None


class IndexWatched(Index):
    """Index for take and masked_select, whose PyTorch nodes save the input (and mask): `watch` holds those
    tensors, for the version check only."""
    @staticmethod
    def forward(ctx, input, index, watch):
        ctx.input_shape, ctx.index = input.shape, index
        ctx.save_for_backward(*watch)
        return input[index]

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                          # noqa: B018 (the version check)
        return IndexAccumulate.apply(grad, ctx.input_shape, ctx.index), None


class IndexAccumulate(Op):
    """zeros(shape) with `grad` added at `index` (repeated indices add up)."""
    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, grad, shape, index):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=grad.dtype)
        ctx.xp.add.at(out, index, grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, ctx.index), None, None


def getitem(t, index):
    # fast path: a single int or slice
    if index.__class__ is int and t._array.ndim:
        size = t._array.shape[0]
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {size}")
        return basic_index(t, (index,))
    if t._array.ndim == 0 and index.__class__ is int:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                         "in C++ to convert a 0-dim tensor to a number")
    idx, basic = _parse_index(t, index)
    if basic:
        return basic_index(t, idx)
    return Index.apply(t, idx)


# --- setitem / index_put ----------------------------------------------------------------------------

class IndexPut(Op):
    broadcasts = False

    @staticmethod
    def forward(ctx, input, values, index, accumulate):
        ctx.index, ctx.accumulate = index, accumulate
        ctx.values_shape = getattr(values, "shape", ())
        out = input.copy()
        try:
            if accumulate:
                ctx.xp.add.at(out, index, values)
            else:
                out[index] = values
        except ValueError:                      # NumPy's broadcast error, in PyTorch's words
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(ctx.values_shape)} cannot be "
                               f"broadcast to indexing result of shape {list(out[index].shape)}") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_input = grad
        if not ctx.accumulate and ctx.needs_input_grad[0]:
            grad_input = IndexPut.apply(grad, 0.0, ctx.index, False)
        grad_values = None
        if ctx.needs_input_grad[1]:
            from .reduction import sum_to_shape
            grad_values = sum_to_shape(Index.apply(grad, ctx.index), ctx.values_shape)
        return grad_input, grad_values, None, None


def _values_for(t, value):
    if isinstance(value, Tensor):
        if value._device is not t._device:
            raise RuntimeError(f"expected device {t._device} but got device {value._device}")
        if value.dtype is not t.dtype:
            value = cast(value, t.dtype)
        return value
    if isinstance(value, numbers.Number):
        return scalar_value(value)
    return to_tensor_operand(value, t).to(t.dtype)


_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
            "location. Please clone() the tensor before performing the operation.")


def has_internal_overlap(array):
    """Whether several elements of array share one memory location (a dim of size > 1 with stride 0: an
    expanded tensor), the case PyTorch detects."""
    return any(st == 0 and n > 1 for st, n in zip(array.strides, array.shape))


def _warn_expanded(name, example, stacklevel):
    import warnings
    warnings.warn(f"Use of {name} on expanded tensors is deprecated. Please clone() the tensor before performing "
                  f"this operation. This also applies to advanced indexing e.g. {example}", UserWarning,
                  stacklevel=stacklevel + 1)


def _check_expanded_write(target, idx, basic):
    """t[idx] = value into an expanded tensor, as PyTorch takes it: a basic index writes the region it
    selects, refused when that region itself overlaps (e[:, 0] = 1) and fine otherwise (e[0] = row writes
    the shared row); advanced indexing is index_put_, which PyTorch still runs with a deprecation warning."""
    if basic:
        region = target[idx] if Ellipsis in idx else target[idx + (Ellipsis,)]
        if has_internal_overlap(region):
            raise RuntimeError(_OVERLAP)
    elif has_internal_overlap(target):
        _warn_expanded("index_put_", "tensor[indices] = tensor", 4)     # the caller of t[...] = v


def setitem(t, index, value):
    """t[index] = value, in place (broadcasting value), with autograd history when needed."""
    idx, basic = _parse_index(t, index)
    value = _values_for(t, value)
    recording = _State.grad_enabled and (t._requires_grad or getattr(value, "_requires_grad", False))
    if not recording:
        target = t._array
        src = value._array if isinstance(value, Tensor) else value
        if 0 in target.strides and t._device.type != "meta":
            _check_expanded_write(target, idx, basic)
        try:
            target[idx] = src
        except ValueError as e:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(getattr(value, 'shape', ()))} "
                               f"cannot be broadcast to indexing result ({e})") from None
        t._bump_version()
        return
    from .inplace import apply_inplace
    apply_inplace(t, lambda self: IndexPut.apply(self, value, idx, False), "index_put_", (), {})


@export(method=True)
def index_put(input, indices, values, accumulate=False):
    idx, _ = _parse_index(input, tuple(indices))
    values = _values_for(input, values)
    return IndexPut.apply(input, values, idx, accumulate)


export(index_put, name="index_put", method=True, inplace=True)


# --- gather / scatter -------------------------------------------------------------------------------

def _check_index(name, input, dim, index, src=None):
    if index.dtype is not _dt.int64 and index.dtype is not _dt.int32:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {'self' if src is None else 'input'} "
                           f"tensor ({name}: index {tuple(index.shape)}, input {tuple(input.shape)})")
    if src is not None:                            # a 0-d src counts as one element along one dim
        if src.ndim == 0 and index.ndim > 1:
            raise RuntimeError(f"Index tensor must have the same number of dimensions as src tensor ({name}: index "
                               f"{tuple(index.shape)}, src ())")
        n = max(src.ndim, 1)
        if index.ndim > n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {n})")
        src = src.reshape(1) if not src.ndim else src
    for d in range(index.ndim):
        if d != dim and index.shape[d] > input.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                               f"smaller than self {list(input.shape)} apart from dimension {dim}")
        if src is not None and index.shape[d] > src.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                               f"smaller than src {list(src.shape)}")
    if index.numel():
        size = input.shape[dim] if input.ndim else 1
        bad = _first_bad(index, 0, size)               # negative indices are out of bounds here
        if bad is not None:
            raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def _full_index(xp, index, dim):
    grids = list(xp.ix_(*[xp.arange(s) for s in index.shape]))
    grids[dim] = index
    return tuple(grids)


class Gather(Op):
    @staticmethod
    def forward(ctx, input, dim, index, keep_input=True):
        ctx.input_shape, ctx.dim = input.shape, dim
        # PyTorch's gather saves the input too (version checked); sort, median(dim), mode, ... save indices only
        ctx.save_for_backward(index, input if keep_input else None)
        if index.ndim == 0 or input.ndim == 0:      # Note [0-d in gather and scatter]
            return input.reshape(-1)[index]
        return input[_full_index(ctx.xp, index, dim)]

    @staticmethod
    def backward(ctx, grad):
        index, _ = ctx.saved_tensors
        from .creation import zeros
        zero = zeros(ctx.input_shape, dtype=grad.dtype, device=grad.device)
        return scatter_add(zero, ctx.dim, index, grad), None, None


@export(method=True)
def gather(input, dim, index, *, sparse_grad=False):
    dim = wrap_dim(dim, input.ndim)
    _check_index("gather", input, dim, index)
    return Gather.apply(input, dim, index)


def gather_at_indices(input, dim, index):
    """gather (dim already wrapped, index valid) for the ops whose PyTorch node saves only their indices
    output (sort, topk, kthvalue, median(dim), mode): the input is not saved."""
    return Gather.apply(input, dim, index, keep_input=False)


def _one_d(t):
    return t.reshape(1) if isinstance(t, Tensor) and not t.ndim else t


def _scatter_target(xp, out, index, dim, src):
    """(where to write, the full index, the src block) of a scatter into `out`.

    Note [0-d in gather and scatter]: PyTorch takes a 0-d index (or self) as a 1-element vector, as in
    the tutorials' one-hot `zeros(10).scatter_(0, tensor(y), value=1)`; the write then goes through a
    flat view of `out`, and src's leading elements are used."""
    has_shape = hasattr(src, "shape")
    if index.ndim and out.ndim:
        block = src[tuple(slice(0, s) for s in index.shape)] if has_shape and src.ndim else src
        return out, _full_index(xp, index, dim), block
    flat = index.reshape(-1)
    return out.reshape(-1), (flat,), src.reshape(-1)[:flat.size] if has_shape else src


class Scatter(Op):
    @staticmethod
    def forward(ctx, input, dim, index, src):
        ctx.dim, ctx.src_shape = dim, getattr(src, "shape", ())
        ctx.save_for_backward(index)
        out = input.copy()
        target, full, block = _scatter_target(ctx.xp, out, index, dim, src)
        target[full] = block
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_input = Scatter.apply(grad, ctx.dim, index, 0.0) if ctx.needs_input_grad[0] else None
        grad_src = _pad_to(gather(grad, ctx.dim, index), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return grad_input, None, None, grad_src


class ScatterAdd(Op):
    @staticmethod
    def forward(ctx, input, dim, index, src):
        ctx.dim, ctx.src_shape = dim, src.shape
        ctx.save_for_backward(index)
        out = input.copy()
        target, full, block = _scatter_target(ctx.xp, out, index, dim, src)
        ctx.xp.add.at(target, full, block)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_src = _pad_to(gather(grad, ctx.dim, index), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return grad, None, None, grad_src


def _pad_to(grad, shape):
    """grad (the shape of an index) zero-padded to `shape` (a src that extends past the index)."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    if not grad.ndim:                              # a 0-d index used src's first element
        grad = grad.reshape((1,) * len(shape))
    return SliceScatter.apply(grad, tuple(shape), tuple(slice(0, s) for s in grad.shape))


@export(inplace=True)
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """Write src (or value) into a copy of input at index along dim."""
    dim = wrap_dim(dim, input.ndim)
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    source = src if src is not None else value
    if reduce is not None:
        mode = {"add": "sum", "multiply": "prod"}.get(reduce)
        if mode is None:
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        if not isinstance(source, Tensor):
            from .creation import full
            source = full(index.shape, source, dtype=input.dtype, device=input.device)
        return scatter_reduce(input, dim, index, source, mode)
    if isinstance(source, Tensor):
        _check_index("scatter", input, dim, index, source)
        source = cast(source, input.dtype)
    else:
        _check_index("scatter", input, dim, index)
        source = checked_scalar(source, input.dtype)
    return (Scatter if isinstance(source, Tensor) else ScatterValue).apply(input, dim, index, source)


class ScatterValue(Scatter):
    node_name = "ScatterBackward1"


@export(inplace=True)
def scatter_add(input, dim, index, src):
    dim = wrap_dim(dim, input.ndim)
    _check_index("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, dim, index, cast(src, input.dtype))


class ScatterReduce(Op):
    @staticmethod
    def forward(ctx, input, dim, index, src, reduce, include_self):
        xp = ctx.xp
        full = _full_index(xp, index, dim)
        given = src                                  # saved as given (version checked), as PyTorch does
        src = src[tuple(slice(0, s) for s in index.shape)]
        out = input.copy()
        if reduce in ("sum", "mean"):
            if not include_self:
                out[full] = 0
            xp.add.at(out, full, src)
            if reduce == "mean":
                count = xp.zeros(out.shape, dtype=out.dtype if out.dtype.kind == "f" else xp.float64)
                if include_self:
                    count += 1
                xp.add.at(count, full, 1)
                count = xp.maximum(count, 1)
                out = out / count if out.dtype.kind == "f" else xp.floor_divide(out, count).astype(out.dtype)
                ctx.count = count
        elif reduce == "prod":
            if not include_self:
                out[full] = 1
            xp.multiply.at(out, full, src)
        elif reduce in ("amax", "amin"):
            if not include_self:
                fill = xp.finfo(out.dtype).min if reduce == "amax" else xp.finfo(out.dtype).max \
                    if out.dtype.kind == "f" else (xp.iinfo(out.dtype).min if reduce == "amax" else
                                                   xp.iinfo(out.dtype).max)
                if out.dtype.kind == "f":
                    fill = -xp.inf if reduce == "amax" else xp.inf
                out[full] = fill
            (xp.maximum if reduce == "amax" else xp.minimum).at(out, full, src)
        else:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
        ctx.dim, ctx.reduce, ctx.include_self = dim, reduce, include_self
        ctx.save_for_backward(input, index, given, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's scatter_reduce_backward (index_reduce's is the same with index_select / index_add)
        from .pointwise import Where
        input, index, src, out = ctx.saved_tensors
        dim, reduce, include_self = ctx.dim, ctx.reduce, ctx.include_self
        src = src[tuple(slice(0, s) for s in index.shape)]
        if reduce == "sum":
            grad_self, grad_src = grad, gather(grad, dim, index)
        elif reduce == "mean":
            count = _make(ctx.count, grad.device).to(grad.dtype)
            grad_self = grad / count
            grad_src = gather(grad, dim, index) / gather(count, dim, index)
        elif reduce == "prod":
            # exclusive products: a 0 in self or a single 0 among a position's src is replaced by 1
            grad_self = grad_src = None
            if ctx.needs_input_grad[0]:
                masked_self = Where.apply(input._array == 0, 1.0, input)
                grad_self = grad * ScatterReduce.apply(masked_self, dim, index, src, "prod", include_self) / \
                    masked_self
            if ctx.needs_input_grad[3]:
                src_zero = src._array == 0
                zeros_per_slot = ctx.xp.zeros(out.shape, dtype=ctx.xp.int64)
                ctx.xp.add.at(zeros_per_slot, _full_index(ctx.xp, index._array, dim), src_zero)
                single = src_zero & (ctx.xp.take_along_axis(zeros_per_slot, index._array, dim) == 1)
                by_masked_src = ScatterReduce.apply(input, dim, index, Where.apply(single, 1.0, src), "prod",
                                                    include_self)
                grad_src = Where.apply(single, gather(grad * by_masked_src, dim, index),
                                       gather(grad * out, dim, index) / Where.apply(src_zero, 1.0, src))
        else:
            # amax / amin: shared evenly among the elements equal to the result; self's ties count even
            # when include_self=False, and the masks multiply (a NaN result gives NaN), as in PyTorch
            self_is = cast(input == out, grad.dtype)
            src_is = cast(src == gather(out, dim, index), grad.dtype)
            shared = grad / scatter_add(self_is, dim, index, src_is)
            grad_self, grad_src = self_is * shared, src_is * gather(shared, dim, index)
        if not include_self and grad_self is not None:    # selected: self's scattered-to slots get exactly 0
            touched = ctx.xp.zeros(out.shape, dtype=bool)
            touched[_full_index(ctx.xp, index._array, dim)] = True
            grad_self = Where.apply(touched, 0.0, grad_self)
        return grad_self, None, None, grad_src, None, None


@export(inplace=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    dim = wrap_dim(dim, input.ndim)
    _check_index("scatter_reduce", input, dim, index, src)
    if not index.ndim or not input.ndim:            # Note [0-d in gather and scatter]
        return scatter_reduce(_one_d(input), dim, _one_d(index), _one_d(src), reduce,
                              include_self=include_self).reshape(input.shape)
    if tuple(src.shape) != tuple(index.shape):          # only src's leading index-shaped block is used
        src = src[tuple(slice(0, s) for s in index.shape)]
    return ScatterReduce.apply(input, dim, index, cast(src, input.dtype), reduce, include_self)


# --- index_* ----------------------------------------------------------------------------------------
# Note [index op checks]: index_select/add/copy/fill/reduce each check their index with PyTorch's own
# messages and exception types, which differ from op to op (index_fill allows negative indices, the
# others do not; an out-of-range index_select along dim 1 and index_add along the first or last dim of
# a matrix or more raise RuntimeError from PyTorch's kernels, IndexError otherwise).

def _first_bad(index, low, size):
    """The first element of index (in order) outside [low, size), or None."""
    if not index.numel():
        return None
    a = index._array
    lo, hi = int(a.min()), int(a.max())
    if lo >= low and hi < size:
        return None
    flat = index._backend().to_numpy(a).reshape(-1)
    return int(flat[(flat < low) | (flat >= size)][0])


def _check_1d_index(name, input, dim, index, source=None):
    """PyTorch's checks of the index of an index_<name> op (Note [index op checks]); with source, that
    source's shape and dtype are checked (by _check_index_source) before the index's range."""
    int32_or_64 = index.dtype is _dt.int64 or index.dtype is _dt.int32
    type_name = _dt.scalar_type_name(index.dtype)
    if name == "index_select":
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        if not int32_or_64:
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    elif name == "index_copy":
        if index.ndim > 1:
            raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
        if index.dtype is not _dt.int64:
            raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got {type_name}")
    elif name == "index_fill":
        if index.dtype is not _dt.int64:
            raise IndexError("index_fill_(): Expected dtype int64 for index.")
        if index.ndim > 1:
            raise RuntimeError("Index has to be a vector/scalar")
    else:                                          # index_add, index_reduce
        if not int32_or_64:
            raise RuntimeError(f"{name}_(): Expected dtype int32/int64 for index but got: {type_name}")
        if index.ndim > 1:
            raise IndexError(f"{name}_(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
                             f"{type_name} and size: {list(index.shape)}")
    size = input.shape[dim] if input.ndim else 1
    if name == "index_select" and input.ndim == 0 and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)")
    if source is not None:
        _check_index_source(name, input, dim, index, source)
    bad = _first_bad(index, -size if name == "index_fill" else 0, size)
    if bad is None:
        return
    if name == "index_select" and dim == 1 and input.ndim >= 2:
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={size}")
    if name == "index_add" and input.ndim > 1 and dim in (0, input.ndim - 1):
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    if name == "index_copy":
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {dim} with size {size}")
    if name == "index_fill":
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    raise IndexError(f"index out of range in self ({name}: index {bad} is out of range for dimension {dim} with size "
                     f"{size})")


def _check_index_source(name, input, dim, index, source):
    """index_add/index_copy: source holds one slice of input per index (PyTorch's checks and messages)."""
    if source.dtype is not input.dtype:
        if name == "index_add":
            raise RuntimeError(f"index_add_(): self ({_dt.scalar_type_name(input.dtype)}) and source "
                               f"({_dt.scalar_type_name(source.dtype)}) must have the same scalar type")
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_dt.scalar_type_name(input.dtype)} and (source) {_dt.scalar_type_name(source.dtype)}")
    n = index.numel()
    if name == "index_copy":
        if source.ndim == 0 and n != 1:
            raise IndexError(f"index_copy_(): When source is scalar, index should have one element (got {n})")
        if source.ndim and input.ndim and source.ndim != input.ndim:
            raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality "
                             f"must match. Source dimensionality ({source.ndim}), destination dimensionality "
                             f"({input.ndim})")
        if source.ndim and input.ndim and n != source.shape[dim]:
            raise IndexError(f"index_copy_(): Number of indices ({n}) should be equal to source.size(dim) "
                             f"({source.shape[dim]})")
        slices_match = (source.ndim <= 1 and input.ndim <= 1) if not (source.ndim and input.ndim) else \
            all(source.shape[d] == input.shape[d] for d in range(input.ndim) if d != dim)
        if not slices_match:
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes (self "
                               f"{list(input.shape)}, source {list(source.shape)}, dim {dim}).")
        return
    if source.ndim == 0 and input.ndim == 0:
        if n != 1:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        return
    if source.ndim == input.ndim and n != source.shape[dim]:
        raise RuntimeError(f"index_add_(): Number of indices ({n}) should be equal to source.size(dim): "
                           f"({source.shape[dim]}), for dim: {dim}")
    if source.ndim != input.ndim or any(source.shape[d] != input.shape[d] for d in range(input.ndim) if d != dim):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(input.shape)} source.shape = {list(source.shape)}")


def _along(dim, index):
    return (slice(None),) * dim + (index,)


class IndexSelect(Op):
    @staticmethod
    def forward(ctx, input, dim, index):
        ctx.input_shape, ctx.dim = input.shape, dim
        ctx.save_for_backward(index)
        if input.ndim == 0:
            return input.copy()
        return ctx.xp.take(input, index.reshape(-1), axis=dim)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        from .creation import zeros
        zero = zeros(ctx.input_shape, dtype=grad.dtype, device=grad.device)
        if len(ctx.input_shape) == 0:
            return grad, None, None
        return index_add(zero, ctx.dim, index.reshape(-1), grad), None, None


@export(method=True)
def index_select(input, dim, index):
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_select", input, dim, index)
    return IndexSelect.apply(input, dim, index)


class IndexAdd(Op):
    @staticmethod
    def forward(ctx, input, dim, index, source, alpha):
        xp = ctx.xp
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index, source if ctx.needs_input_grad[3] else None)    # as PyTorch
        out = input.copy()
        target = out.reshape(1) if out.ndim == 0 else out     # a 0-d self is one slot (PyTorch's reading)
        xp.add.at(target, _along(dim, index), source * alpha if alpha != 1 else source)
        return out

    @staticmethod
    def backward(ctx, grad):
        index, _ = ctx.saved_tensors
        grad_source = index_select(grad, ctx.dim, index) if ctx.needs_input_grad[3] else None
        if grad_source is not None and ctx.alpha != 1:
            grad_source = grad_source * ctx.alpha
        return grad, None, None, grad_source, None


@export(inplace=True)
def index_add(input, dim, index, source, *, alpha=1):
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_add", input, dim, index, source)
    return IndexAdd.apply(input, dim, index, source, alpha)


class IndexCopy(Op):
    @staticmethod
    def forward(ctx, input, dim, index, source):
        ctx.dim = dim
        ctx.save_for_backward(index, source if ctx.needs_input_grad[3] else None)    # as PyTorch
        ctx.source_shape = getattr(source, "shape", ())
        out = input.copy()
        target = out.reshape(1) if out.ndim == 0 else out
        target[_along(dim, index)] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        index, _ = ctx.saved_tensors
        grad_input = IndexCopy.apply(grad, ctx.dim, index, 0.0) if ctx.needs_input_grad[0] else None
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = index_select(grad, ctx.dim, index)
            if tuple(grad_source.shape) != ctx.source_shape:
                grad_source = grad_source.reshape(ctx.source_shape)
        return grad_input, None, None, grad_source


@export(inplace=True)
def index_copy(input, dim, index, source):
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_copy", input, dim, index, source)
    return IndexCopy.apply(input, dim, index, source)


class IndexFill(Op):
    @staticmethod
    def forward(ctx, input, dim, index, value):
        ctx.dim = dim
        ctx.save_for_backward(index)
        out = input.copy()
        target = out.reshape(1) if out.ndim == 0 else out
        target[_along(dim, index)] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_input = IndexFill.apply(grad, ctx.dim, index, 0.0) if ctx.needs_input_grad[0] else None
        return grad_input, None, None, None


class IndexFillTensor(IndexFill):
    """index_fill with a 0-d tensor value: the value's gradient sums grad over the filled positions."""
    node_name = "IndexFillBackward1"

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_input = IndexFill.apply(grad, ctx.dim, index, 0.0) if ctx.needs_input_grad[0] else None
        grad_value = None
        if ctx.needs_input_grad[3]:
            size = grad.shape[ctx.dim] if grad.ndim else 1
            xp = index._backend().xp
            positions = _make(xp.unique(index._array.reshape(-1) % size), index.device)   # each position once
            grad_value = index_select(grad, ctx.dim, positions).sum()
        return grad_input, None, None, grad_value


IndexFill.node_name = "IndexFillBackward0"


@export(inplace=True)
def index_fill(input, dim, index, value):
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        return IndexFillTensor.apply(input, dim, index, cast(value, input.dtype))
    return IndexFill.apply(input, dim, index, checked_scalar(value, input.dtype))


# --- masks ------------------------------------------------------------------------------------------

class MaskedFill(Op):
    """input with value where mask is True; mask broadcasts (the result has the broadcast shape)."""
    broadcasts = True
    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, input, mask, value):
        ctx.save_for_backward(mask)
        out = ctx.xp.where(mask, value, input)
        if out.ndim > 1 and not out.flags.c_contiguous and ctx.backend.name != "meta":
            out = ctx.xp.ascontiguousarray(out)    # PyTorch fills a contiguous clone of input
        return out

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        from .pointwise import where
        return where(mask, 0.0, grad), None, None


class MaskedFillTensor(MaskedFill):
    """masked_fill with a 0-d tensor value: the value's gradient sums grad where mask is True."""
    node_name = "MaskedFillBackward1"

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        from .pointwise import where
        grad_input = where(mask, 0.0, grad) if ctx.needs_input_grad[0] else None
        grad_value = where(mask, grad, 0.0).sum() if ctx.needs_input_grad[2] else None
        return grad_input, None, grad_value


@export(inplace=True)
def masked_fill(input, mask, value):
    """Replace elements where mask is True by value (mask broadcasts with input)."""
    if mask.dtype is not _dt.bool_:
        from .sampling import _CPP_NAME
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_CPP_NAME.get(mask.dtype.name, mask.dtype.name)}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        return MaskedFillTensor.apply(input, mask, cast(value, input.dtype))
    value = input._backend().xp.asarray(checked_scalar(value, input.dtype), dtype=input._array.dtype)
    return MaskedFill.apply(input, mask, value)


@export(method=True)
def masked_select(input, mask):
    if mask.dtype is not _dt.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}")
    from .shape import broadcast_tensors
    a, m = broadcast_tensors(input, mask)
    return IndexWatched.apply(a, (m._array,), watch=(input, mask))


class MaskedScatter(IndexPut):
    node_name = "MaskedScatterBackward0"


@export(inplace=True)
def masked_scatter(input, mask, source):
    """Copy source's leading elements, in order, into the positions where mask (broadcast) is True."""
    if mask.dtype is not _dt.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{_dt.scalar_type_name(mask.dtype)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{_dt.scalar_type_name(input.dtype)} and {_dt.scalar_type_name(source.dtype)}")
    from .shape import broadcast_tensors
    a, m = broadcast_tensors(input, mask)
    n = int(m._array.sum())
    if source.numel() < n:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return MaskedScatter.apply(a, source.reshape(-1)[:n], (m._array,), False)


@export(method=True)
def nonzero(input, *, as_tuple=False):
    if as_tuple:
        if input.ndim == 0:
            return (nodiff(lambda xp, a: xp.nonzero(a.reshape(1))[0].astype(xp.int64), input),)
        return nodiff(lambda xp, a: tuple(i.astype(xp.int64) for i in xp.nonzero(a)), input)
    return nodiff(lambda xp, a: xp.argwhere(a).astype(xp.int64), input)


@export(method=True)
def argwhere(input):
    return nonzero(input)


@export(method=True)
def take(input, index):
    if index.dtype is not _dt.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {_dt.scalar_type_name(index.dtype)}")
    size = input.numel()
    if index.numel():
        lo, hi = int(index._array.min()), int(index._array.max())
        if lo < -size or hi >= size:
            raise IndexError(f"out of range: tried to access index {hi if hi >= size else lo} on a tensor of "
                             f"{size} elements.")
    return IndexWatched.apply(input.reshape(-1), (index._array,), watch=(input, index))


class Put(Op):
    """input with source written at flat (row-major) positions index; accumulate adds instead."""
    @staticmethod
    def forward(ctx, input, index, source, accumulate):
        xp = ctx.xp
        ctx.accumulate = accumulate
        ctx.save_for_backward(index, source if ctx.needs_input_grad[2] else None)    # as PyTorch
        out = input.copy(order="K")
        where = xp.unravel_index(index.reshape(-1) % max(out.size, 1), out.shape)
        if accumulate:
            xp.add.at(out, where, source.reshape(-1))
        else:
            out[where] = source.reshape(-1)
        return out

    @staticmethod
    def backward(ctx, grad):
        index, _ = ctx.saved_tensors
        grad_input = grad
        if not ctx.accumulate and ctx.needs_input_grad[0]:
            from .creation import zeros
            grad_input = Put.apply(grad, index, zeros(index.shape, dtype=grad.dtype, device=grad.device), False)
        return grad_input, None, take(grad, index) if ctx.needs_input_grad[2] else None, None


@export(inplace=True)
def put(input, index, source, accumulate=False):
    """input with source's elements written at the flat (row-major) positions in index."""
    if index.dtype is not _dt.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {_dt.scalar_type_name(index.dtype)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{_dt.scalar_type_name(input.dtype)} and source.dtype = {_dt.scalar_type_name(source.dtype)}")
    if source.numel() != index.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    size = input.numel()
    bad = _first_bad(index, -size, size)
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {size} elements.")
    return Put.apply(input, index, source.reshape(index.shape), bool(accumulate))


@export(method=True)
def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices.reshape(-1))
    dim = wrap_dim(dim, input.ndim)
    from .shape import broadcast_to
    shape = list(input.shape)
    shape[dim] = indices.shape[dim]
    ishape = list(indices.shape)
    ishape[dim] = input.shape[dim]
    from ._shapes import broadcast_shapes
    target = list(broadcast_shapes(tuple(shape), tuple(indices.shape)))
    in_target = list(target)
    in_target[dim] = input.shape[dim]
    return gather(broadcast_to(input, in_target), dim, broadcast_to(indices, target))


# --- in-place writes into expanded tensors ------------------------------------------------------------
# Note [writes into expanded tensors]: PyTorch refuses most in-place ops on a tensor whose elements share
# memory (ops/inplace.py's check_overlap), but masked_fill_, index_put_ (advanced-index assignment) and
# index_fill_ still run there, with a deprecation warning, writing the selected positions only (so the
# shared memory takes the last value written). Outside autograd recording, ember does the same.

def _plain_write(self, *values):
    """Whether an in-place op on self is a plain write PyTorch allows on self-overlapping memory."""
    array = self._array
    if 0 not in array.strides or self._device.type == "meta" or not has_internal_overlap(array):
        return False
    return not (_State.grad_enabled and (self._requires_grad or any(getattr(v, "_requires_grad", False)
                                                                    for v in values) or
                                         (self._base is not None and self._base._requires_grad)))


def _expanded_inplace(name, default, write):
    def inplace(self, *args, **kwargs):
        if not _plain_write(self, *args, *kwargs.values()):
            return default(self, *args, **kwargs)
        _warn_expanded(name, "tensor[mask] = scalar" if name != "index_put_" else "tensor[indices] = tensor", 2)
        write(self, *args, **kwargs)
        self._bump_version()
        return self
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = default.__doc__
    export_method(inplace, name)
    return inplace


def _masked_fill_write(self, mask, value):
    result = masked_fill(self, mask, value)          # PyTorch's checks; the result shape must be self's
    if result.shape != self.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    np.copyto(self._array, result._array, where=np.broadcast_to(mask._array, self._array.shape))


def _index_put_write(self, indices, values, accumulate=False):
    idx, _ = _parse_index(self, tuple(indices))
    values = _values_for(self, values)
    src = values._array if isinstance(values, Tensor) else values
    if accumulate:
        np.add.at(self._array, idx, src)
    else:
        self._array[idx] = src


def _index_fill_write(self, dim, index, value):
    dim = wrap_dim(dim, self.ndim)
    _check_1d_index("index_fill", self, dim, index)
    if isinstance(value, Tensor):
        value = value.item()
    self._array[_along(dim, index._array)] = checked_scalar(value, self.dtype)


masked_fill_ = _expanded_inplace("masked_fill_", Tensor.masked_fill_, _masked_fill_write)
index_put_ = _expanded_inplace("index_put_", Tensor.index_put_, _index_put_write)
index_fill_ = _expanded_inplace("index_fill_", Tensor.index_fill_, _index_fill_write)
