"""Sparse COO tensors: sparse_coo_tensor, the primitives only sparse tensors have (building one from indices
and values, to_dense, to_sparse, coalesce, values(), torch.sparse's mm/addmm/sum/softmax/log_softmax), their
Tensor methods (indices, values, _nnz, sparse_dim, sparse_mask ...) and spmm. What the dense primitives do
with a sparse operand (+, *, @, t(), sum, clone ...) is the storage's: Note [sparse storage] in
ember/sparse/_coo_array.py. Gradients with respect to a sparse tensor are sparse where PyTorch's are (masked
to its pattern: to_dense, sparse.mm) and strided where PyTorch's are (torch.mm)."""
import numpy as np

from .. import _dtype as _dt
from .._backends import array_module
from .._device import CPU, to_device
from .._layout import layout as _layout_type, strided
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..sparse import _kernels as K
from ..sparse._coo_array import SparseCOOArray
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .views import _as_view

_INDEX = np.int64


def _is_sparse(t):
    return t._array.__class__ is SparseCOOArray


def _strided_error(name, what="sparse coordinate tensor"):
    return RuntimeError(f"{name} expected {what} layout but got Strided")


def _cpu_backend_error(op):
    return NotImplementedError(f"Could not run 'aten::{op}' with arguments from the 'CPU' backend. This could be "
                               "because the operator doesn't exist for this backend, or was omitted during the "
                               "selective/custom build process (if using custom build).")


# --- primitives ------------------------------------------------------------------------------------------------

class SparseCooTensor(Op):
    """indices (an array) and values -> a sparse tensor; each value's gradient is the incoming gradient at
    its entry's position (repeated positions each get it, as in PyTorch)."""
    node_name = "SparseCooTensorWithDimsAndTensorsBackward0"

    @staticmethod
    def forward(ctx, indices, values, shape, coalesced):
        if ctx.needs_input_grad[1]:                   # (never on the shared no-grad ctx: it would keep them)
            ctx.indices = indices
        return SparseCOOArray(indices, values, shape, coalesced)

    @staticmethod
    def backward(ctx, grad):
        return None, SparseGather.apply(grad, ctx.indices), None, None


def _gather(input, indices):
    """The elements of a strided or sparse array at the sparse positions `indices` (sparse_dim, n): the (n,
    *dense shape) values a sparse tensor with those indices would hold."""
    if input.__class__ is SparseCOOArray:
        return K.values_at(input, indices)
    if indices.shape[0] == 0:                     # no sparse dims: every entry is the whole tensor
        return array_module(input).broadcast_to(input, (indices.shape[1],) + input.shape).copy()
    return input[tuple(indices)]


class SparseGather(Op):
    """_gather as an op: each entry's value at its position, repeated positions each reading it (the
    gradient of a sparse tensor's values). The gradient goes back to the positions, summed where they repeat."""
    @staticmethod
    def forward(ctx, input, indices):
        if ctx.needs_input_grad[0]:
            ctx.indices, ctx.shape = indices, input.shape
            ctx.sparse_input = input.__class__ is SparseCOOArray
        return _gather(input, indices)

    @staticmethod
    def backward(ctx, grad):
        out = SparseCooTensor.apply(ctx.indices, grad, ctx.shape, False)
        return (out if ctx.sparse_input else ToDense.apply(out)), None


class SparseMask(Op):
    """input (strided or sparse) at the positions `mask` (coalesced indices): PyTorch's sparse_mask, a sparse
    tensor of mask's pattern. It is also how a gradient is masked to a sparse input's pattern."""
    @staticmethod
    def forward(ctx, input, mask, shape):
        if ctx.needs_input_grad[0]:
            ctx.mask, ctx.shape = mask, shape
            ctx.sparse_input = input.__class__ is SparseCOOArray
        return SparseCOOArray(mask, _gather(input, mask), shape, True)

    @staticmethod
    def backward(ctx, grad):
        masked = SparseMask.apply(grad, ctx.mask, ctx.shape)
        return (masked if ctx.sparse_input else ToDense.apply(masked)), None, None


def _masked(grad, mask, shape):
    """grad (strided or sparse) at the positions `mask` (coalesced indices): PyTorch's grad.sparse_mask()."""
    return SparseMask.apply(grad, mask, shape)


class ToDense(Op):
    """The strided tensor of a sparse one; the gradient is masked to the input's pattern (masked_grad)."""
    @staticmethod
    def forward(ctx, input, masked=True):
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.masked = input.shape, masked
            ctx.mask = K.coalesce(input).indices if masked else None
            ctx.sparse_dim = input.indices.shape[0]
        return K.to_dense(input)

    @staticmethod
    def backward(ctx, grad):
        if ctx.masked:
            return _masked(grad, ctx.mask, ctx.shape), None
        return to_sparse(grad, ctx.sparse_dim), None


class ToSparse(Op):
    """The coalesced sparse tensor of a strided one (its non-zero elements); the gradient is strided."""
    node_name = "ToSparseBackward1"

    @staticmethod
    def forward(ctx, input, sparse_dim):
        return K.from_dense(input, sparse_dim)

    @staticmethod
    def backward(ctx, grad):
        return (ToDense.apply(grad) if _is_sparse(grad) else grad), None


class ToSparseDims(ToSparse):
    node_name = "ToSparseBackward0"               # to_sparse(sparse_dim)


class Coalesce(Op):
    """Sorted entries, repeated positions summed: the same tensor, so the gradient passes through."""
    @staticmethod
    def forward(ctx, input):
        return K.coalesce(input)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Values(Op):
    """A coalesced sparse tensor's values (a view); their gradient is a sparse tensor of its pattern."""
    @staticmethod
    def forward(ctx, input):
        if ctx.needs_input_grad[0]:
            ctx.indices, ctx.shape = input.indices, input.shape
        return input.values

    @staticmethod
    def backward(ctx, grad):
        return SparseCooTensor.apply(ctx.indices, grad, ctx.shape, True)


class SparseAddmm(Op):
    """beta * input + alpha * (mat1 @ mat2) for a sparse mat1 (input None: sparse.mm). mat1's gradient is
    masked to its pattern, as PyTorch's sparse.mm gives it."""
    @staticmethod
    def forward(ctx, input, mat1, mat2, beta, alpha):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(mat1 if needs[2] else None, mat2 if needs[1] else None)
        ctx.beta, ctx.alpha = beta, alpha
        if needs[1]:
            ctx.shape, ctx.mask = mat1.shape, K.coalesce(mat1).indices
        prod = K.matmul(mat1, mat2)
        if alpha != 1:
            prod = prod * alpha
        if input is None:
            return prod
        if beta == 0:                                 # input is ignored, NaNs and all (PyTorch's rule)
            return prod + array_module(input).zeros(input.shape, input.dtype)
        return (input * beta if beta != 1 else input) + prod

    @staticmethod
    def backward(ctx, grad):
        mat1, mat2 = ctx.saved_tensors
        needs = ctx.needs_input_grad
        alpha = ctx.alpha
        grad_input = grad_mat1 = grad_mat2 = None
        if needs[0]:
            grad_input = grad * ctx.beta if ctx.beta != 1 else grad
        if needs[1]:
            grad_mat1 = _masked(grad @ mat2.mT, ctx.mask, ctx.shape)
            grad_mat1 = grad_mat1 * alpha if alpha != 1 else grad_mat1
        if needs[2]:
            grad_mat2 = mat1.mT @ grad
            grad_mat2 = grad_mat2 * alpha if alpha != 1 else grad_mat2
        return grad_input, grad_mat1, grad_mat2, None, None


class SparseSparseMatmul(SparseAddmm):
    node_name = "SparseSparseMatmulBackward0"


class SparseSum(Op):
    """Sum over dims: sparse while a sparse dim is left, else strided; the gradient of each entry is the
    incoming gradient at the position it was summed into (a sparse tensor of the input's pattern)."""
    @staticmethod
    def forward(ctx, input, dims, np_dtype):
        if ctx.needs_input_grad[0]:
            # the gradient is a tensor (one value per position): the coalesced pattern, as to_dense's is
            ctx.indices, ctx.shape, ctx.dims = K.coalesce(input).indices, input.shape, dims
            ctx.dtype = input.dtype
        return K.sum_dims(input, dims, np_dtype)

    @staticmethod
    def backward(ctx, grad):
        indices, shape, dims = ctx.indices, ctx.shape, ctx.dims
        sd, nnz = indices.shape
        kept = [d for d in range(sd) if d not in dims]
        if kept:
            values = SparseGather.apply(grad, indices[kept])
        else:                                         # a strided gradient of the dense dims left
            values = grad.unsqueeze(0).expand((nnz,) + tuple(grad.shape))
        for d in dims:
            if d >= sd:                               # a summed dense dim: every element got the same gradient
                values = values.unsqueeze(d - sd + 1)
        values = values.expand((nnz,) + tuple(shape[sd:]))
        if values.dtype is not _dt._FROM_NUMPY[ctx.dtype]:
            values = values.to(_dt._FROM_NUMPY[ctx.dtype])
        return SparseCooTensor.apply(indices, values, shape, True), None, None


class SparseSoftmax(Op):
    """Softmax over the specified elements along dim (missing ones count as -inf): the input's coalesced
    pattern with new values."""
    @staticmethod
    def forward(ctx, input, dim, log):
        c = K.coalesce(input)
        groups = _softmax_groups(c, dim) if dim < c.indices.shape[0] else None
        out = SparseCOOArray(c.indices, K.softmax_values(c, dim, groups, log), c.shape, True)
        if ctx.needs_input_grad[0]:
            ctx.dim, ctx.groups, ctx.log = dim, groups, log
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        indices, shape = out._array.indices, out._array.shape
        g = SparseGather.apply(grad, indices)
        y = Values.apply(out)
        if ctx.log:
            values = g - y.exp() * _group_sum(g, ctx.dim, ctx.groups, indices.shape[0])
        else:
            values = y * (g - _group_sum(g * y, ctx.dim, ctx.groups, indices.shape[0]))
        return SparseCooTensor.apply(indices, values, shape, True), None, None


class SparseLogSoftmax(SparseSoftmax):
    pass


def _softmax_groups(c, dim):
    """(group of each entry, number of groups): entries agreeing in every sparse dim but dim."""
    other = [d for d in range(c.indices.shape[0]) if d != dim]
    keys = K.linear(c.indices[other], [c.shape[d] for d in other])
    uniq, inverse = c.xp.unique(keys, return_inverse=True)
    return inverse.reshape(-1), uniq.shape[0]


def _group_sum(values, dim, groups, sparse_dim):
    """For each entry, the sum of `values` over its softmax group (a Tensor expression: differentiable)."""
    if groups is None:                                # a dense dim: the sum along that axis of the values
        return values.sum(dim - sparse_dim + 1, keepdim=True)
    inverse, n = groups
    index = _make(inverse.astype(_INDEX, copy=False), values.device)
    totals = values.new_zeros((n,) + tuple(values.shape[1:])).index_add(0, index, values)
    return totals[index]


# --- construction ----------------------------------------------------------------------------------------------

def _index_array(indices):
    """The caller's indices (a tensor of any device, nested lists, an array) as a new int64 host array: they
    are checked on the host once, then copied to the values' device."""
    if isinstance(indices, Tensor):
        if _is_sparse(indices):
            raise TypeError("sparse_coo_tensor(): argument 'indices' must be a strided tensor")
        array = indices._backend().to_numpy(indices._array)
    else:
        array = np.asarray(indices)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"sparse_coo_tensor(): indices must be integers, got {array.dtype}")
    # a copy: the indices are checked once, here, so a later in-place change of the caller's tensor must not
    # reach them (the values are shared, as PyTorch shares them)
    return np.array(array, dtype=_INDEX)


def _parse_size(size):
    try:
        shape = tuple(int(n.__index__()) for n in size)
    except (TypeError, AttributeError):
        raise TypeError(f"sparse_coo_tensor(): argument 'size' must be tuple of ints, not {type(size).__name__}") \
            from None
    if any(n < 0 for n in shape):
        raise RuntimeError("numel: integer multiplication overflow")
    return shape




@export(method=False)
def sparse_coo_tensor(indices, values=None, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with values (nnz, *dense shape) at indices (sparse_dim, nnz), or sparse_coo_tensor(size)
    with no entries. The indices are always checked against size (PyTorch checks them only under
    check_invariants; unchecked they read out of bounds); an is_coalesced=True claim is checked under
    check_invariants, as in PyTorch."""
    from .creation import tensor
    from .sparse_coo_ops import _empty
    device = to_device(device) if device is not None else None
    if values is None and size is None:              # sparse_coo_tensor(size): an empty sparse tensor
        shape = _parse_size(indices)
        return _empty(shape, dtype, device, requires_grad, len(shape))
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None and values.dtype is not _dt.to_dtype(dtype):
        values = values.to(_dt.to_dtype(dtype))
    if _is_sparse(values) or values.layout is not strided:
        raise RuntimeError(f"sparse_coo_tensor: values must be a strided tensor, got a {values.layout} one")
    if isinstance(indices, Tensor) and indices._device != values._device:
        raise RuntimeError(f"device of indices ({_device_index(indices._device)}) must match device of values "
                           f"({_device_index(values._device)})")
    if device is not None and device != values._device:
        values = values.to(device)
    index = _index_array(indices)
    if index.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(index.shape)}")
    if values.ndim == 0:
        raise RuntimeError("values must have at least one dimension (nnz, *dense shape), got a 0-d tensor")
    sparse_dim, nnz = index.shape
    if values.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from "
                           f"values: {values.shape[0]}")
    dense_shape = tuple(values.shape[1:])
    if size is None:
        if nnz and int(index.min()) < 0:
            K.check_indices(index, (0,) * sparse_dim)
        shape = tuple(int(n) + 1 for n in index.max(axis=1)) if nnz else (0,) * sparse_dim
        shape += dense_shape
    else:
        shape = _parse_size(size)
        if len(shape) != sparse_dim + len(dense_shape):
            raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(shape)}, "
                               f"sparse_dim = {sparse_dim}, dense_dim = {len(dense_shape)}")
        if shape[sparse_dim:] != dense_shape:
            raise RuntimeError(f"values has incorrect size, expected {[nnz, *shape[sparse_dim:]]}, got "
                               f"{list(values.shape)}")
    K.check_indices(index, shape)
    checking = check_invariants if check_invariants is not None else _invariants_enabled()
    coalesced = nnz <= 1 or bool(is_coalesced)
    if is_coalesced and checking and nnz > 1:
        keys = K.linear(index, shape[:sparse_dim])
        if not bool(np.all(keys[1:] > keys[:-1])):
            raise RuntimeError("cannot set is_coalesced to true if indices correspond to uncoalesced COO tensor")
    if values._device is not CPU:
        index = values._backend().from_numpy(index)
    out = SparseCooTensor.apply(index, values, shape, coalesced)
    if requires_grad and not out._requires_grad:
        out.requires_grad_(True)
    return out


def _device_index(device):
    """PyTorch's number of a device in its messages: -1 for the cpu."""
    return -1 if device.type == "cpu" else (device.index or 0)


def _rebuild_sparse(indices, values, shape, coalesced, requires_grad, cls, device="cpu"):
    """What Tensor.__reduce_ex__ pickles a sparse tensor as (plain pickling: copy, multiprocessing): host arrays,
    checked, then copied to the device (a str) the tensor was on."""
    K.check_arrays(indices, values, shape)
    return _on_device(SparseCOOArray(indices, values, tuple(shape), bool(coalesced)), device, requires_grad, cls)


def _on_device(storage, device, requires_grad, cls):
    """A tensor over a host sparse storage, its arrays copied to `device` first (a str, as pickled)."""
    target = to_device(device)
    if target.type != "cpu":
        from .._backends import backend_for
        storage = storage.moved(backend_for(CPU), backend_for(target))
    out = _make(storage, target if target.type != "cpu" else CPU, cls=cls)
    return out.requires_grad_() if requires_grad else out


def _invariants_enabled():
    from ..sparse import check_sparse_tensor_invariants
    return check_sparse_tensor_invariants.is_enabled()


# --- Tensor methods --------------------------------------------------------------------------------------------

def to_dense(input, dtype=None, *, masked_grad=None):
    """The strided tensor of a sparse one (a strided tensor itself)."""
    if not _is_sparse(input):
        return input
    if dtype is not None:
        raise RuntimeError("dtype argument is not supported by sparse_to_dense")
    return ToDense.apply(input, masked_grad is not False)


def to_sparse(input, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """The sparse COO tensor of a strided one: an entry per position of the first sparse_dim dims (all by
    default) where the rest is not all zeros."""
    if layout is not None and not isinstance(layout, _layout_type):
        raise TypeError(f"to_sparse(): argument 'layout' must be torch.layout, not {type(layout).__name__}")
    if layout is strided:
        return to_dense(input)
    if blocksize is not None:
        raise RuntimeError("to_sparse: blocksize is only used for the BSR/BSC layouts, which ember does not have")
    if _is_sparse(input):
        if sparse_dim is not None and sparse_dim != input._array.indices.shape[0]:
            raise RuntimeError("to_sparse: conversion from Sparse to Sparse with sparse_dim argument !=self.sparse_dim() "
                               "is not supported")
        return input
    ndim = input.ndim
    if dense_dim is not None:
        sparse_dim = ndim - dense_dim
    op = ToSparse if sparse_dim is None else ToSparseDims
    sparse_dim = ndim if sparse_dim is None else int(sparse_dim)
    if ndim and sparse_dim == 0:
        raise RuntimeError("dense_to_sparse: sparse_dim argument must be in >0 when self.dim()>0")
    if not 0 <= sparse_dim <= ndim:
        raise RuntimeError(f"dense_to_sparse: sparse_dim argument must be in [0,{ndim}] range, but {sparse_dim} is "
                           "given")
    return op.apply(input, sparse_dim)


def to_sparse_coo(input):
    return to_sparse(input)


def coalesce(input):
    """The tensor with its entries sorted and repeated positions summed (itself when already so)."""
    if not _is_sparse(input):
        raise _strided_error("coalesce")
    return input if input._array.coalesced else Coalesce.apply(input)


def is_coalesced(input):
    if not _is_sparse(input):
        raise _strided_error("is_coalesced")
    return input._array.coalesced


def indices(input):
    """A coalesced sparse tensor's indices (sparse_dim, nnz), int64, sharing its memory."""
    if not _is_sparse(input):
        raise _strided_error("indices")
    if not input._array.coalesced:
        raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
    return _make(input._array.indices, input._device)


def values(input):
    """A coalesced sparse tensor's values (nnz, *dense shape): a differentiable view."""
    if not _is_sparse(input):
        raise _strided_error("values", "sparse tensor")
    if not input._array.coalesced:
        raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
    return _as_view(Values.apply(input), input, lambda b: b.values())


def _indices(input):
    """The indices as stored (coalesced or not), sharing memory."""
    if not _is_sparse(input):
        raise _cpu_backend_error("_indices")
    return _make(input._array.indices, input._device)


def _values(input):
    """The values as stored (coalesced or not), sharing memory, without history."""
    if not _is_sparse(input):
        raise _cpu_backend_error("_values")
    return _make(input._array.values, input._device)


def _nnz(input):
    if not _is_sparse(input):
        raise _cpu_backend_error("_nnz")
    return int(input._array.indices.shape[1])


def sparse_dim(input):
    return int(input._array.indices.shape[0]) if _is_sparse(input) else 0


def dense_dim(input):
    return int(input._array.values.ndim - 1) if _is_sparse(input) else input.ndim


def sparse_mask(input, mask):
    """input's elements at mask's (coalesced) positions, as a sparse tensor of mask's pattern."""
    if not _is_sparse(mask):
        raise _cpu_backend_error("sparse_mask")
    if tuple(input.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(input.shape)} but "
                           f"mask has size {list(mask.shape)}")
    return _masked(input, K.coalesce(mask._array).indices, tuple(mask.shape))


for _fn in (to_dense, to_sparse, to_sparse_coo, coalesce, is_coalesced, indices, values, _indices, _values, _nnz,
            sparse_dim, dense_dim, sparse_mask):
    export(_fn, public=False)
del _fn


# --- torch.sparse and spmm -------------------------------------------------------------------------------------

def _check_matrices(name, mat1, mat2):
    for t in (mat1, mat2):
        if t.ndim != 2:
            raise RuntimeError(f"{name}: matrices expected, got {t.ndim}D tensor")
    if mat1.dtype is not mat2.dtype:
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(mat1.dtype)} but found "
                           f"{_dt.scalar_type_name(mat2.dtype)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"{name}: Argument #3 (dense): Expected dim 0 size {mat1.shape[1]}, got {mat2.shape[0]}")


def sparse_mm(mat1, mat2, reduce=None):
    """torch.sparse.mm: sparse @ strided (strided), sparse @ sparse (sparse), strided @ sparse (strided); the
    gradient of a sparse mat1 is masked to its pattern."""
    if reduce is not None:
        raise RuntimeError(f"sparse.mm: ember has no reduce= (here {reduce!r}) for its CSR tensors (sum: omit it)")
    if not _is_sparse(mat1):
        from .products import mm
        return mm(mat1, mat2)
    _check_matrices("addmm", mat1, mat2)
    op = SparseSparseMatmul if _is_sparse(mat2) else SparseAddmm
    return op.apply(None, mat1, mat2, 1, 1)


def sparse_addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """torch.sparse.addmm: beta * mat + alpha * (mat1 @ mat2) for a sparse mat1 and strided mat and mat2."""
    if not _is_sparse(mat1):
        from .products import addmm
        return addmm(mat, mat1, mat2, beta=beta, alpha=alpha)
    _check_matrices("addmm", mat1, mat2)
    if _is_sparse(mat) or _is_sparse(mat2):
        raise RuntimeError("sparse.addmm: mat and mat2 must be strided tensors")
    mat = mat.expand(mat1.shape[0], mat2.shape[1])
    return SparseAddmm.apply(mat, mat1, mat2, beta, alpha)


def sparse_sum(input, dim=None, dtype=None):
    """torch.sparse.sum: over all elements (a 0-d strided tensor) or over dim (sparse while a sparse dim is
    left, else strided)."""
    if not _is_sparse(input):
        raise _strided_error("coalesce") if dim is None else _cpu_backend_error("_indices")
    if dim is None:
        return input.sum(dtype=dtype) if dtype is not None else input.sum()
    dims = normalize_dims(dim if isinstance(dim, (list, tuple)) else (dim,), input.ndim)
    np_dtype = _dt.to_dtype(dtype).numpy if dtype is not None else None
    return SparseSum.apply(input, dims, np_dtype)


def _softmax(name, op, input, dim, dtype):
    if not _is_sparse(input):
        raise _cpu_backend_error(f"_sparse_{name}")
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    if input.dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    return op.apply(input, wrap_dim(dim, input.ndim), name == "log_softmax")


def sparse_softmax(input, dim, *, dtype=None):
    """torch.sparse.softmax: softmax along dim over the specified elements only (the rest count as -inf)."""
    return _softmax("softmax", SparseSoftmax, input, dim, dtype)


def sparse_log_softmax(input, dim, *, dtype=None):
    """torch.sparse.log_softmax: log of sparse.softmax, computed stably."""
    return _softmax("log_softmax", SparseLogSoftmax, input, dim, dtype)


# ember.sparse.<name> (ember/sparse/__init__.py hands these out on first use)
for _name, _fn in (("mm", sparse_mm), ("addmm", sparse_addmm), ("sum", sparse_sum), ("softmax", sparse_softmax),
                   ("log_softmax", sparse_log_softmax)):
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__module__ = "ember.sparse"
del _name, _fn


@export(method=False)
def spmm(input, mat2):
    """torch.spmm: mm, for a sparse or strided input."""
    from .products import mm
    return mm(input, mat2)
