"""Reads and writes along one dim at given indices: gather, scatter/scatter_add/scatter_reduce, and
index_select/index_add/index_copy/index_fill with PyTorch's index checks for each.
"""
from .. import _dtype as _dt
from .._backends import STRIDED as _STRIDED
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..sparse._coo_array import SparseCOOArray as _SparseCOO, SparseStorage
from ._common import cast, checked_scalar
from ._registry import export
from ._shapes import wrap_dim
from .slicing import SliceScatter
from ..amp._dispatch import AUTOCAST, autocast_run

# --- gather / scatter -------------------------------------------------------------------------------

def _check_index(name, input, dim, index, src=None):
    if index.dtype is not _dt.int64 and index.dtype is not _dt.int32:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {'self' if src is None else 'input'} "
                           f"tensor ({name}: index {tuple(index.shape)}, input {tuple(input.shape)})")
    if src is not None:                            # a 0-d src counts as one element along one dim
        if src.dtype is not input.dtype:           # PyTorch's scatter family does not cast src
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
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
    def forward(ctx, input, dim, index, keep_input=True, squeeze=False):
        ctx.input_shape, ctx.dim, ctx.squeeze = input.shape, dim, squeeze
        # PyTorch's gather saves the input too (version checked); sort, median(dim), mode, ... save indices only
        ctx.save_for_backward(index, input if keep_input else None)
        if squeeze:                                 # index and result lack dim (keepdim=False)
            return ctx.xp.squeeze(input[_full_index(ctx.xp, ctx.xp.expand_dims(index, dim), dim)], axis=dim)
        if index.ndim == 0 or input.ndim == 0:      # Note [0-d in gather and scatter]
            return input.reshape(-1)[index]
        out = input[_full_index(ctx.xp, index, dim)]
        # PyTorch's gather result is contiguous whatever the index's layout (NumPy's follows a transposed index)
        return ctx.xp.ascontiguousarray(out) if out.__class__ in _STRIDED and not out.flags.c_contiguous else out

    @staticmethod
    def backward(ctx, grad):
        index, _ = ctx.saved_tensors
        from .creation import zeros
        zero = zeros(ctx.input_shape, dtype=grad.dtype, device=grad.device)
        if ctx.squeeze:
            grad, index = grad.unsqueeze(ctx.dim), index.unsqueeze(ctx.dim)
        return scatter_add(zero, ctx.dim, index, grad), None, None


@export(method=True)
def gather(input, dim, index, *, sparse_grad=False):
    dim = wrap_dim(dim, input.ndim)
    _check_index("gather", input, dim, index)
    return Gather.apply(input, dim, index)


def _selection(node_name):
    return type(node_name, (Gather,), {"node_name": node_name, "__module__": __name__})


# the nodes of the ops that select values along a dim, each saving only its indices output (freed by backward)
_SELECTIONS = {name: _selection(name) for name in (
    "SortBackward0", "TopkBackward0", "KthvalueBackward0", "MedianBackward1", "NanmedianBackward1",
    "ModeBackward0", "MaxBackward0", "MinBackward0")}


def gather_at_indices(input, dim, index, node, squeeze=False):
    """The values of input at index along dim (wrapped; index valid, with input's ndim), for the ops whose
    PyTorch node (`node`, its grad_fn name) saves only their indices output: sort, topk, kthvalue, median(dim),
    mode, and max/min(dim) of a 0-d tensor. squeeze (keepdim=False): index and result lack dim (the result made
    by the node, no view of a kept-dim one, as PyTorch's). The input is not saved."""
    if squeeze and not input.ndim:
        squeeze = False
    return _SELECTIONS[node].apply(input, dim, index, keep_input=False, squeeze=squeeze)


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
        ctx.backend.add_at(target, full, block)
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
        return scatter_reduce(input, dim, index, source, mode, _op=ScatterReduceArg)
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
    if "scatter_add" in AUTOCAST:
        return autocast_run("scatter_add", scatter_add, input, dim, index, src)
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
            ctx.backend.add_at(out, full, src)
            if reduce == "mean":
                count = xp.zeros(out.shape, dtype=out.dtype if out.dtype.kind == "f" else xp.float64)
                if include_self:
                    count += 1
                ctx.backend.add_at(count, full, 1)
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
        from .comparison import Where
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
                ctx.backend.add_at(zeros_per_slot, _full_index(ctx.xp, index._array, dim), src_zero)
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


class ScatterReduceArg(ScatterReduce):
    """scatter(..., reduce=): PyTorch records it without a derivative."""
    node_name = "NotImplemented"

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::scatter is not implemented")


@export(inplace=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, _op=ScatterReduce):
    dim = wrap_dim(dim, input.ndim)
    _check_index("scatter_reduce", input, dim, index, src)
    if not index.ndim or not input.ndim:            # Note [0-d in gather and scatter]
        return scatter_reduce(_one_d(input), dim, _one_d(index), _one_d(src), reduce,
                              include_self=include_self, _op=_op).reshape(input.shape)
    if tuple(src.shape) != tuple(index.shape):          # only src's leading index-shaped block is used
        src = src[tuple(slice(0, s) for s in index.shape)]
    return _op.apply(input, dim, index, cast(src, input.dtype), reduce, include_self)


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
    if name == "index_select" and not size and input.ndim > 1:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
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
    if source.ndim and dim >= source.ndim:
        raise RuntimeError(f"index_add_(): Indexing dim {dim} is out of bounds of the source tensor with dim "
                           f"{source.ndim}")
    if source.ndim and n != source.shape[dim]:
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
    if input._array.__class__ is _SparseCOO:       # PyTorch's sparse kernel checks differently
        from .sparse_coo_ops import index_select as sparse_index_select
        return sparse_index_select(input, dim, index)
    dim = wrap_dim(dim, input.ndim)
    _check_1d_index("index_select", input, dim, index)
    return IndexSelect.apply(input, dim, index)


class IndexAdd(Op):
    @staticmethod
    def forward(ctx, input, dim, index, source, alpha):
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index, source if ctx.needs_input_grad[3] else None)    # as PyTorch
        out = input.copy()
        target = out.reshape(1) if out.ndim == 0 else out     # a 0-d self is one slot (PyTorch's reading)
        if index.ndim == 0:                        # a 0-d index is one element: source keeps that dim
            index = index.reshape(1)
        values = source * alpha if alpha != 1 else source
        if isinstance(values, SparseStorage):      # the storage refuses it, with PyTorch's NotImplementedError
            ctx.xp.add.at(target, _along(dim, index), values)
        else:
            ctx.backend.add_at(target, _along(dim, index), values)
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
    if "index_copy" in AUTOCAST:
        return autocast_run("index_copy", index_copy, input, dim, index, source)
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
            # each position once, as PyTorch's formula: index_select of the unique indices, so a negative index
            # (which index_fill takes) is refused here as index_select refuses it
            positions = _make(index._backend().xp.unique(index._array.reshape(-1)), index.device)
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
