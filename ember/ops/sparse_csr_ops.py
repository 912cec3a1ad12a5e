"""Sparse compressed tensors (layouts ember.sparse_csr and ember.sparse_csc; Note [compressed storage] in
ember/sparse/_csr.py): sparse_csr_tensor, sparse_csc_tensor, sparse_compressed_tensor, to_sparse_csr/to_sparse_csc,
their crow_indices/col_indices/ccol_indices/row_indices, and the compressed cases of to_dense, to_sparse, values,
_nnz, sparse_dim and dense_dim (this module registers those Tensor methods over sparse_ops.py's, handing COO and
strided tensors on to them). Products (CSR @ dense, mm, addmm, matmul) are the dense primitives on the storage;
the gradient of the strided operand is theirs, as in PyTorch."""
import numpy as np

from .. import _dtype as _dt
from .._backends import backend_for
from .._device import CPU, to_device
from .._layout import c10_name, layout as _layout_type, sparse_coo, sparse_csc, sparse_csr, strided
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..sparse import _csr as C
from ..sparse._coo_array import SparseCOOArray
from ..sparse._csr import SparseCompressedArray
from . import sparse_ops as coo
from ._registry import export
from .sparse_ops import SparseGather

_KINDS = {sparse_csr: "csr", sparse_csc: "csc"}


def _is_compressed(t):
    return t._array.__class__ is SparseCompressedArray


def _layout_name(t):
    return c10_name(t.layout)


# --- primitives ------------------------------------------------------------------------------------------------

class SparseCompressedTensor(Op):
    """(compressed, plain) index arrays and values -> a compressed tensor; each value's gradient is the incoming
    gradient (strided, COO or compressed) at its entry's position."""
    node_name = "SparseCompressedTensorBackward0"

    @staticmethod
    def forward(ctx, compressed, plain, values, shape, kind):
        out = SparseCompressedArray(compressed, plain, values, shape, kind)
        if ctx.needs_input_grad[2]:
            ctx.indices = C.to_coo(out).indices
        return out

    @staticmethod
    def backward(ctx, grad):
        if _is_compressed(grad):
            grad = CompressedToCoo.apply(grad)
        return None, None, SparseGather.apply(grad, ctx.indices), None, None


def _with_values(a, values):
    """A compressed tensor of storage a's pattern with these values (a Tensor: differentiable)."""
    return SparseCompressedTensor.apply(a.compressed, a.plain, values, a.shape, a.kind)


class CompressedToDense(Op):
    """The strided tensor of a compressed one; the gradient is the incoming one at its entries (compressed)."""
    node_name = "ToDenseBackward0"

    @staticmethod
    def forward(ctx, input):
        if ctx.needs_input_grad[0]:
            ctx.pattern = input
        return C.to_dense(input)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.pattern
        return _with_values(a, SparseGather.apply(grad, C.to_coo(a).indices))


class CompressedToCoo(Op):
    """CSR/CSC -> COO (the same entries); the gradient goes back to the compressed layout."""
    node_name = "ToSparseBackward1"

    @staticmethod
    def forward(ctx, input):
        ctx.kind = input.kind
        return C.to_coo(input)

    @staticmethod
    def backward(ctx, grad):
        return ToCompressed.apply(grad, ctx.kind, 0)


class ToCompressed(Op):
    """A strided or COO tensor -> CSR/CSC; the gradient goes back to the input's layout."""
    node_name = "ToSparseCsrBackward0"

    @staticmethod
    def forward(ctx, input, kind, dense_dim):
        ctx.sparse_input = input.__class__ is SparseCOOArray
        if ctx.sparse_input:
            return C.from_coo(input, kind)
        return C.from_dense(input, dense_dim, kind)

    @staticmethod
    def backward(ctx, grad):
        if _is_compressed(grad):
            grad = CompressedToCoo.apply(grad)
        if not ctx.sparse_input and grad.is_sparse:
            grad = grad.to_dense()
        return grad, None, None


class ToCsc(ToCompressed):
    node_name = "ToSparseCscBackward0"


class CompressedValues(Op):
    """A compressed tensor's values; their gradient is a compressed tensor of its pattern."""
    node_name = "ValuesBackward0"

    @staticmethod
    def forward(ctx, input):
        if ctx.needs_input_grad[0]:
            ctx.pattern = input
        return input.values

    @staticmethod
    def backward(ctx, grad):
        return _with_values(ctx.pattern, grad)


# --- construction ----------------------------------------------------------------------------------------------

def _index(indices, what):
    """An index array: int32 stays int32 (as PyTorch keeps it), anything else becomes int64."""
    if isinstance(indices, Tensor):
        if indices.layout is not strided:
            raise TypeError(f"sparse_compressed_tensor(): argument '{what}' must be a strided tensor")
        array = indices._backend().to_numpy(indices._array)
    else:
        array = np.asarray(indices)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"sparse_compressed_tensor(): {what} must be integers, got {array.dtype}")
    return np.array(array, dtype=np.int32 if array.dtype == np.int32 else np.int64)


@export(method=False)
def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *, dtype=None, layout=None,
                             device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """A CSR (layout=ember.sparse_csr) or CSC tensor from its index arrays and values. The invariants are always
    checked (PyTorch checks them only under check_invariants; unchecked they read out of bounds)."""
    from .creation import tensor
    if layout not in _KINDS:
        raise RuntimeError(f"sparse_compressed_tensor expected sparse compressed tensor layout but got "
                           f"{'Strided' if layout is strided or layout is None else layout}")
    kind = _KINDS[layout]
    device = to_device(device) if device is not None else None
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None and values.dtype is not _dt.to_dtype(dtype):
        values = values.to(_dt.to_dtype(dtype))
    if values.layout is not strided:
        raise RuntimeError(f"sparse_compressed_tensor: values must be a strided tensor, got a {values.layout} one")
    for indices, name in zip((compressed_indices, plain_indices), C._NAMES[kind]):
        if isinstance(indices, Tensor) and indices._device != values._device:
            raise RuntimeError(f"Values and {name} need to be on the same device.")
    if device is not None and device != values._device:
        values = values.to(device)
    compressed, plain = _index(compressed_indices, "compressed_indices"), _index(plain_indices, "plain_indices")
    if compressed.ndim != 1 or plain.ndim != 1:
        raise RuntimeError("sparse_compressed_tensor: ember has no batched compressed tensors (1-d index arrays only)")
    if values.ndim == 0:
        raise RuntimeError("values must have at least one dimension (nnz, *dense shape), got a 0-d tensor")
    if size is None:
        n_minor = int(plain.max()) + 1 if plain.shape[0] else 0
        major_minor = (compressed.shape[0] - 1, n_minor)
        shape = (major_minor if kind == "csr" else major_minor[::-1]) + tuple(values.shape[1:])
    else:
        shape = coo._parse_size(size)
    C.check(compressed, plain, values._array, shape, kind)      # on the host index arrays, then copied over
    if requires_grad and values.dtype.category < _dt.FLOAT:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if values._device.type != "cpu":
        backend = values._backend()
        compressed, plain = backend.from_numpy(compressed), backend.from_numpy(plain)
    out = SparseCompressedTensor.apply(compressed, plain, values, shape, kind)
    if requires_grad and not out._requires_grad:
        out.requires_grad_(True)
    return out


@export(method=False)
def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    """A CSR tensor: values (nnz, *dense shape) with column col_indices[k], row r's entries at
    crow_indices[r]:crow_indices[r + 1]."""
    return sparse_compressed_tensor(crow_indices, col_indices, values, size, dtype=dtype, layout=sparse_csr,
                                    device=device, requires_grad=requires_grad, check_invariants=check_invariants)


@export(method=False)
def sparse_csc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    """A CSC tensor: values with row row_indices[k], column c's entries at ccol_indices[c]:ccol_indices[c + 1]."""
    return sparse_compressed_tensor(ccol_indices, row_indices, values, size, dtype=dtype, layout=sparse_csc,
                                    device=device, requires_grad=requires_grad, check_invariants=check_invariants)


def empty_compressed(shape, dtype, layout, device, requires_grad):
    """zeros/empty/zeros_like in a compressed layout: no entries."""
    if layout not in _KINDS:
        raise RuntimeError(f"ember has no sparse tensors of layout {layout}")
    shape = tuple(shape)
    if len(shape) != 2:
        raise RuntimeError(f"ember's compressed sparse tensors are 2-d (no batch or dense dims), got size {shape}")
    device = to_device(device) if device is not None else CPU
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    out = _make(C.empty(shape, dtype.numpy, _KINDS[layout], xp=backend_for(device).xp), device)
    return out.requires_grad_() if requires_grad else out


def _rebuild_compressed(layout, compressed, plain, values, size, requires_grad=False, cls=Tensor, device="cpu"):
    """A compressed tensor from a checkpoint's _rebuild_sparse_tensor(sparse_csr, ...) or a pickle (Tensor's
    __reduce_ex__), every invariant checked first on the host arrays, then copied to `device` (a str)."""
    if layout not in _KINDS:
        raise RuntimeError(f"ember has no sparse tensors of layout {layout!r}"[:200])
    for part in (compressed, plain, values):
        if not isinstance(part, np.ndarray):
            raise RuntimeError("a compressed tensor's indices and values must be arrays")
    for part in (compressed, plain):
        if part.dtype not in (np.int32, np.int64):
            raise RuntimeError(f"a compressed tensor's index arrays must be int32 or int64, got {part.dtype}")
    size = tuple(size)
    if not all(type(n) is int and n >= 0 for n in size):
        raise RuntimeError(f"a sparse tensor's size must be non-negative ints, got {size}"[:300])
    C.check(compressed, plain, values, size, _KINDS[layout])
    return coo._on_device(SparseCompressedArray(compressed, plain, values, size, _KINDS[layout]), device,
                          requires_grad, cls)


# --- conversions and accessors (Tensor methods over sparse_ops.py's) -----------------------------------------------

def to_sparse_csr(input, dense_dim=None):
    """The CSR tensor of a strided (two sparse dims, dense_dim dense ones), COO or CSC tensor."""
    return _to_compressed(input, "csr", dense_dim)


def to_sparse_csc(input, dense_dim=None):
    return _to_compressed(input, "csc", dense_dim)


def _to_compressed(input, kind, dense_dim):
    a = input._array
    if a.__class__ is SparseCompressedArray:
        if a.kind == kind:
            return input
        input = CompressedToCoo.apply(input)
        a = input._array
    dense_dim = int(dense_dim or 0)
    sparse = input.ndim - (dense_dim if a.__class__ is not SparseCOOArray else a.values.ndim - 1)
    if sparse != 2:
        raise RuntimeError(f"to_sparse_{kind}: ember's compressed tensors have exactly 2 sparse dims (no batch dims), "
                           f"got a {input.ndim}-d tensor with {input.ndim - sparse} dense dims")
    return (ToCompressed if kind == "csr" else ToCsc).apply(input, kind, dense_dim)


def crow_indices(input):
    return _index_tensor(input, "csr", "crow_indices", "compressed")


def col_indices(input):
    return _index_tensor(input, "csr", "col_indices", "plain")


def ccol_indices(input):
    return _index_tensor(input, "csc", "ccol_indices", "compressed")


def row_indices(input):
    return _index_tensor(input, "csc", "row_indices", "plain")


def _index_tensor(input, kind, name, part):
    a = input._array
    if a.__class__ is not SparseCompressedArray or a.kind != kind:
        which = "row" if kind == "csr" else "column"
        raise RuntimeError(f"{name} expected sparse {which} compressed tensor layout but got {_layout_name(input)}")
    return _make(getattr(a, part), input._device)


def to_dense(input, dtype=None, *, masked_grad=None):
    if not _is_compressed(input):
        return coo.to_dense(input, dtype, masked_grad=masked_grad)
    if dtype is not None:
        raise RuntimeError(f"dtype argument is not supported by sparse_{input._array.kind}_to_dense")
    return CompressedToDense.apply(input)


def to_sparse(input, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    if layout is not None and isinstance(layout, _layout_type) and layout in _KINDS:
        if blocksize is not None:
            raise RuntimeError("to_sparse: blocksize is only used for the BSR/BSC layouts, which ember does not have")
        return _to_compressed(input, _KINDS[layout], dense_dim)
    if _is_compressed(input) and layout is strided:
        return to_dense(input)
    if _is_compressed(input) and layout in (None, sparse_coo):
        if sparse_dim is not None and sparse_dim != 2:
            raise RuntimeError(f"sparse_compressed_to_sparse: conversion from {_layout_name(input)} to Sparse with "
                               f"sparse_dim argument !=2 is not supported")
        return CompressedToCoo.apply(input)
    return coo.to_sparse(input, sparse_dim, layout=layout, blocksize=blocksize, dense_dim=dense_dim)


def to_sparse_coo(input):
    return to_sparse(input)


def values(input):
    if _is_compressed(input):
        return CompressedValues.apply(input)
    return coo.values(input)


def _nnz(input):
    return int(input._array.nnz) if _is_compressed(input) else coo._nnz(input)


def sparse_dim(input):
    return 2 if _is_compressed(input) else coo.sparse_dim(input)


def dense_dim(input):
    return int(input._array.values.ndim - 1) if _is_compressed(input) else coo.dense_dim(input)


def _coo_only(name, fn):
    """indices/coalesce/is_coalesced: a compressed tensor is refused naming its layout, as in PyTorch."""
    def method(input, *args, **kwargs):
        if _is_compressed(input):
            raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got {_layout_name(input)}")
        return fn(input, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = fn.__doc__
    return method


for _fn in (to_sparse_csr, to_sparse_csc, crow_indices, col_indices, ccol_indices, row_indices, to_dense, to_sparse,
            to_sparse_coo, values, _nnz, sparse_dim, dense_dim, _coo_only("indices", coo.indices),
            _coo_only("coalesce", coo.coalesce), _coo_only("is_coalesced", coo.is_coalesced)):
    export(_fn, public=False)
del _fn
