"""Indexing: t[index] (basic indices give the views of slicing.py, advanced ones a copy) and t[index] = value
(setitem, index_put), masks (masked_fill, masked_select, masked_scatter), nonzero/argwhere, take/put/take_along_dim,
and the plain writes PyTorch still allows into expanded tensors. gather, scatter and the index_* ops along one dim
are in scatter_gather.py.
"""
import numbers

import numpy as np

from .. import _dtype as _dt
from .._tensor import Tensor
from ..amp._dispatch import AUTOCAST
from ..autograd import forward_ad as _forward_ad
from ..autograd.forward_ad import _Fw
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast, checked_scalar, nodiff, to_tensor_operand
from ._registry import export, export_method
from ._shapes import wrap_dim
from .inplace import _EXPANDED_WRITES, check_setitem_overlap
from .scatter_gather import _along, _check_1d_index, _first_bad, gather
from .slicing import basic_index, slice_first_dim

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
                if item._device.type != "cpu" or t._device.type != "cuda":
                    raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed "
                                       f"tensor ({t._device})")
                item = item.to(t._device)               # PyTorch copies cpu indices to the device
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
            out.append(t._backend().xp.asarray(item))
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
        if getattr(i, "dtype", None) == "bool":          # a host or device mask spans its ndim dims
            n_real += i.ndim
        elif i is not None and i is not Ellipsis:
            n_real += 1
    if n_real > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    dim = 0
    for pos, item in enumerate(index):
        if item is Ellipsis:
            rest = sum(1 if getattr(i, "dtype", None) != "bool" else i.ndim
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
        elif hasattr(item, "ndim"):                 # a host or device index array (CuPy does not check bounds)
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
    """Advanced indexing: a copy; the gradient accumulates at the indexed positions. `watch` holds the index
    tensors (index holds their arrays), saved as PyTorch saves the indices: a second backward is refused, and
    so is one after an index tensor was modified in place."""
    @staticmethod
    def forward(ctx, input, index, watch=()):
        ctx.input_shape, ctx.index = input.shape, index
        ctx.save_for_backward(*watch)
        return input[index]

    @staticmethod
    def backward(ctx, grad):
        watch = ctx.saved_tensors                  # the version check; the gradient's graph keeps them too
        return IndexAccumulate.apply(grad, ctx.input_shape, ctx.index, watch=watch), None


class IndexWatched(Index):
    """Index for take and masked_select, whose PyTorch nodes save the input (and mask): `watch` holds those
    tensors, for the version check only."""
    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                          # noqa: B018 (the version check)
        return IndexAccumulate.apply(grad, ctx.input_shape, ctx.index), None


class IndexAccumulate(Op):
    """zeros(shape) with `grad` added at `index` (repeated indices add up)."""
    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, grad, shape, index, watch=()):
        ctx.index = index
        ctx.save_for_backward(*watch)              # the index tensors, as in Index
        out = ctx.xp.zeros(shape, dtype=grad.dtype)
        ctx.backend.add_at(out, index, grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, ctx.index, watch=ctx.saved_tensors), None, None


def getitem(t, index):
    # fast path: a single int or slice
    if index.__class__ is int and t._array.ndim:
        size = t._array.shape[0]
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {size}")
        return basic_index(t, (index,))
    if index.__class__ is slice and t._array.ndim:
        # one slice of plain ints (x[10:100], x[::2]): nothing to convert or bound-check, the node known
        start, stop, step = index.start, index.stop, index.step
        if (start is None or start.__class__ is int) and (stop is None or stop.__class__ is int) and \
                (step is None or step.__class__ is int and step > 0):
            return slice_first_dim(t, index)
    if t._array.ndim == 0 and index.__class__ is int:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                         "in C++ to convert a 0-dim tensor to a number")
    idx, basic = _parse_index(t, index)
    if basic:
        return basic_index(t, idx)
    return Index.apply(t, idx, watch=_index_tensors(index))


def _index_tensors(index):
    """The tensors of an advanced index (a 0-d integer tensor is an int): what PyTorch's nodes save."""
    items = index if isinstance(index, (tuple, list)) else (index,)
    return tuple(i for i in items if isinstance(i, Tensor) and (i._array.ndim or i.dtype is _dt.bool_))


# --- setitem / index_put ----------------------------------------------------------------------------

class IndexPut(Op):
    broadcasts = False

    @staticmethod
    def forward(ctx, input, values, index, accumulate, watch=()):
        ctx.index, ctx.accumulate = index, accumulate
        ctx.values_shape = getattr(values, "shape", ())
        ctx.save_for_backward(*watch)              # the index tensors, as in Index
        out = input.copy()
        try:
            if accumulate:
                ctx.backend.add_at(out, index, values)
            else:
                out[index] = values
        except (ValueError, TypeError):         # NumPy's broadcast error, in PyTorch's words
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(ctx.values_shape)} cannot be "
                               f"broadcast to indexing result of shape {list(out[index].shape)}") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        watch = ctx.saved_tensors                  # the version check; the gradients' graphs keep them too
        grad_input = grad
        if not ctx.accumulate and ctx.needs_input_grad[0]:
            grad_input = IndexPut.apply(grad, 0.0, ctx.index, False, watch=watch)
        grad_values = None
        if ctx.needs_input_grad[1]:
            from .reduction import sum_to_shape
            grad_values = sum_to_shape(Index.apply(grad, ctx.index, watch=watch), ctx.values_shape)
        return grad_input, grad_values, None, None


def _check_put_dtype(t, value, idx=None):
    """PyTorch's index_put_ does not cast its values; t[index] = value with an advanced index is index_put_,
    except a single bool mask (after the basic items) with a one-element value, which is masked_fill_."""
    if value.dtype is t.dtype:
        return
    if idx is not None and value.numel() == 1:
        adv = [i for i in idx if getattr(i, "dtype", None) is not None]
        if len(adv) == 1 and adv[0].dtype == bool:
            return
    raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                       f"{_dt.scalar_type_name(t.dtype)} for the destination and "
                       f"{_dt.scalar_type_name(value.dtype)} for the source.")


def _values_for(t, value):
    if isinstance(value, Tensor):
        if value._device is not t._device:
            raise RuntimeError(f"expected device {t._device} but got device {value._device}")
        if value.dtype is not t.dtype:
            value = cast(value, t.dtype)
        return value
    if isinstance(value, numbers.Number):
        # PyTorch's checked conversion (300 into int8, 1e300 into float32, a complex with an imaginary part into a
        # real tensor raise; a complex without one stores its real part); float16 and bfloat16 take the value as a
        # double, unchecked beyond that (1e5 stores inf)
        half = t.dtype.category == _dt.FLOAT and t.dtype.itemsize == 2
        return checked_scalar(value, _dt.float64 if half else t.dtype)
    return to_tensor_operand(value, t).to(t.dtype)


_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
            "location. Please clone() the tensor before performing the operation.")


def has_internal_overlap(array):
    """Whether several elements of array share one memory location (a dim of size > 1 with stride 0: an
    expanded tensor), the case PyTorch detects."""
    return any(st == 0 and n > 1 for st, n in zip(array.strides, array.shape)) and array.size != 0   # (0 elements)


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
    if _Fw.on and _forward_ad.has_tangent((t, value)):       # the same write on the tangents (Note [forward AD])
        _forward_ad.setitem_tangent(t, index, value)
        with _forward_ad._suspended():
            return setitem(t, index, value)
    if index is True:                              # PyTorch's t[True] = v writes t.unsqueeze(0), as t[None] = v
        index = None
    elif index is False:                           # and t[False] = v writes nothing (no check, no new version)
        return
    try:
        idx, basic = _parse_index(t, index)
    except IndexError:
        # PyTorch's index_put_ refuses an in-place write into a leaf (or a view of one) that requires grad before
        # it checks a tensor index; a basic index fails first (the select comes before the write)
        if any(isinstance(i, (Tensor, list)) or hasattr(i, "__array__")
               for i in (index if isinstance(index, tuple) else (index,))):
            from .inplace import check_inplace
            check_inplace(t, "index_put_", overlap=False)
        raise
    if not basic and isinstance(value, Tensor):    # (index_put_ does not cast; basic writes are copy_)
        _check_put_dtype(t, value, idx)
    value = _values_for(t, value)
    sequential = False
    if isinstance(value, Tensor):
        src = value._array
        if src.ndim and src.shape[0] == 1:         # PyTorch drops the value's leading size-1 dims first
            lead = next((i for i, n in enumerate(src.shape) if n != 1), src.ndim)
            value = value.reshape(src.shape[lead:])
            src = value._array
        if t._array.base is not None or src.base is not None or src is t._array:
            sequential = check_setitem_overlap(t, idx, basic, value)   # Note [overlapping operands] in inplace.py
    recording = _State.grad_enabled and (t._requires_grad or t._base is not None and t._base._requires_grad or
                                         getattr(value, "_requires_grad", False))
    if not recording:
        if sequential == "same":                   # nothing to write (PyTorch's copy_ returns at once)
            t._bump_version()
            return
        target = t._array
        src = value._array if isinstance(value, Tensor) else value
        if 0 in target.strides and t._device.type != "meta":
            _check_expanded_write(target, idx, basic)
        try:
            if sequential:
                from .._tensor import _make
                from .inplace import _sequential_write
                region = target[idx if Ellipsis in idx else idx + (Ellipsis,)]
                np.broadcast_shapes(src.shape, region.shape)
                _sequential_write(_make(region, t._device), value, None)
            else:
                target[idx] = src
        except (ValueError, TypeError):            # NumPy's broadcast error (a TypeError for a 2-d+ value and a mask)
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(getattr(value, 'shape', ()))} "
                               f"cannot be broadcast to indexing result of shape {list(target[idx].shape)}") from None
        t._bump_version()
        return
    from .inplace import apply_inplace
    writer = None
    if 0 in t._array.strides and t._device.type != "meta" and has_internal_overlap(t._array):
        _check_expanded_write(t._array, idx, basic)   # a basic index's region may not overlap itself
        src = value._array if isinstance(value, Tensor) else value
        writer = lambda: t._array.__setitem__(idx, src)     # noqa: E731  (the region only, as PyTorch writes)
    elif basic:
        # PyTorch's t[basic] = value is t[basic].copy_(value): a CopySlices node over the view (not index_put_);
        # an index of whole slices and Ellipsis only (t[...], t[()], t[:]) selects t itself: t.copy_(value)
        from .inplace import _CopyFrom, overwrite
        region = t if _selects_all(t._array.shape, idx) else basic_index(t, idx)
        if isinstance(value, Tensor) and tuple(value.shape) != tuple(region.shape):
            value = value.expand(region.shape)     # PyTorch's expand error for a value of another shape
        overwrite(region, value, _CopyFrom)
        return
    watch = _index_tensors(index)
    apply_inplace(t, lambda self: IndexPut.apply(self, value, idx, False, watch=watch), "index_put_", (), {},
                  writer)


def _selects_all(shape, idx):
    """Whether a basic index (ints, slices, None, Ellipsis) is only Ellipsis and slices that each take a whole
    dim as written (start None or 0, stop None or at least the size, step None or 1): PyTorch's indexing then
    hands back the tensor itself, no view."""
    before = idx
    after = ()
    for pos, item in enumerate(idx):
        if item is Ellipsis:
            before, after = idx[:pos], idx[pos + 1:]
            if Ellipsis in after:
                return False
            break
    if len(before) + len(after) > len(shape):
        return False
    dims = list(zip(before, shape)) + list(zip(after, shape[len(shape) - len(after):]))
    return all(item.__class__ is slice and not item.start and item.step in (None, 1) and
               (item.stop is None or item.stop >= size) for item, size in dims)


@export(method=True)
def index_put(input, indices, values, accumulate=False):
    if "index_put" in AUTOCAST:
        from ..amp._dispatch import autocast_run
        return autocast_run("index_put", index_put, input, indices, values, accumulate)
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' (position 2) must be Tensor, not {type(values).__name__}")
    idx, _ = _parse_index(input, tuple(indices))
    _check_put_dtype(input, values, idx)
    values = _values_for(input, values)
    return IndexPut.apply(input, values, idx, accumulate, watch=_index_tensors(tuple(indices)))


export(index_put, name="index_put", method=True, inplace=True)


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
        from .comparison import where
        return where(mask, 0.0, grad), None, None


class MaskedFillTensor(MaskedFill):
    """masked_fill with a 0-d tensor value: the value's gradient sums grad where mask is True."""
    node_name = "MaskedFillBackward1"

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        from .comparison import where
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
    from .views import broadcast_tensors
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
    from .views import broadcast_tensors
    a, m = broadcast_tensors(input, mask)
    n = int(m._array.sum())
    if source.numel() < n:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return MaskedScatter.apply(a, source.reshape(-1)[:n], (m._array,), False, watch=(mask,))


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
        target = out.reshape(1) if out.ndim == 0 else out          # a 0-d tensor is one slot (a view of out)
        where = xp.unravel_index(index.reshape(-1) % max(out.size, 1), target.shape)
        if accumulate:
            ctx.backend.add_at(target, where, source.reshape(-1))
        else:
            target[where] = source.reshape(-1)
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
    from .views import broadcast_to
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
    xp = self._backend().xp
    xp.copyto(self._array, result._array, where=xp.broadcast_to(mask._array, self._array.shape))


def _index_put_write(self, indices, values, accumulate=False):
    idx, _ = _parse_index(self, tuple(indices))
    values = _values_for(self, values)
    src = values._array if isinstance(values, Tensor) else values
    if accumulate:
        self._backend().add_at(self._array, idx, src)
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
# the same writes when the op is recorded (ops/inplace.py apply_inplace)
_EXPANDED_WRITES.update(masked_fill_=_masked_fill_write, index_put_=_index_put_write, index_fill_=_index_fill_write)
