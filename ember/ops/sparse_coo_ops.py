"""Sparse COO tensors beyond construction and products (sparse_ops.py): index_select, narrow_copy and bmm of a
sparse tensor (their public functions in scatter_gather.py, slicing.py and products.py hand a sparse input over
to these), the sparse layouts of zeros/empty/zeros_like/empty_like/new_zeros/new_empty, and map_sparse_values,
which the gradients of relu and log1p of a sparse input use. cat, stack, unbind and the zero-preserving unary
ops (sin, abs, sqrt, floor ...) are the dense primitives running on the storage (Note [sparse storage] in
ember/sparse/_coo_array.py)."""
import numpy as np

from .. import _dtype as _dt
from .._backends import backend_for
from .._device import CPU, to_device
from .._layout import sparse_coo, strided
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..sparse import _coo_select as S, _kernels as K
from ..sparse._coo_array import SparseCOOArray, unsupported
from .sparse_ops import SparseCooTensor, values

_INDEX = np.int64


def map_sparse_values(x, fn):
    """A sparse tensor of x's coalesced pattern with values fn(values) (fn on arrays), no history: the factor
    a gradient formula multiplies by (relu's mask, log1p's 1 / (x + 1))."""
    c = K.coalesce(x._array)
    return _make(SparseCOOArray(c.indices, fn(c.values), c.shape, True), x._device)


# --- index_select, narrow_copy ---------------------------------------------------------------------------------

def index_select(input, dim, index):
    """torch.index_select of a sparse tensor: PyTorch's sparse checks (an int64 1-d strided index; negative
    entries count from the end), then the IndexSelect primitive, whose forward is the storage's take()."""
    from .scatter_gather import IndexSelect
    from ._shapes import wrap_dim
    dim = wrap_dim(dim, input.ndim)
    if not isinstance(index, Tensor) or index.is_sparse or index.ndim != 1 or index.dtype is not _dt.int64:
        raise IndexError("index_select() argument index must be 1-D strided (non-sparse) long-tensor.")
    size = input.shape[dim]
    array = index._array
    if array.shape[0]:
        low, high = int(array.min()), int(array.max())
        bad = low if low < -size else high if high >= size else None
        if bad is not None:
            raise IndexError(f"index_select(): index contains {bad} that is out of range for tensor of size "
                             f"{list(input.shape)} at dimension {dim}")
    return IndexSelect.apply(input, dim, index)


class SparseNarrowCopy(Op):
    """narrow_copy of a sparse tensor: the entries in the range, shifted to start at 0. The gradient is ember's
    (PyTorch's backward of a sparse narrow_copy has no kernel, as_strided): the incoming one placed back at the
    range, sparse for a sparse gradient."""
    node_name = "NarrowCopyBackward0"

    @staticmethod
    def forward(ctx, input, dim, start, length):
        ctx.shape, ctx.dim, ctx.start, ctx.sparse_dim = input.shape, dim, start, input.indices.shape[0]
        return S.narrow(input, dim, start, length)

    @staticmethod
    def backward(ctx, grad):
        dim, start = ctx.dim, ctx.start
        if not grad.is_sparse:                    # strided: zeros around it
            return _pad(grad, dim, start, ctx.shape[dim]), None, None, None
        g = grad.coalesce()
        indices = g._array.indices.copy()
        vals = values(g)
        if dim < ctx.sparse_dim:
            indices[dim] += start
        else:
            vals = _pad(vals, dim - ctx.sparse_dim + 1, start, ctx.shape[dim])
        return SparseCooTensor.apply(indices, vals, ctx.shape, True), None, None, None


def _pad(t, axis, start, size):
    """t padded with zeros along axis to `size`, t's slice beginning at start (differentiable)."""
    from ..nn.functional import pad
    return pad(t, [0, 0] * (t.ndim - 1 - axis) + [start, size - start - t.shape[axis]])


def narrow_copy(input, dim, start, length):
    """torch.narrow_copy of a sparse tensor, with PyTorch's sparse checks (a negative dim or start is refused)."""
    ndim = input.ndim
    if not 0 <= dim < ndim:
        raise RuntimeError(f"Dimension {dim} out of range. Expecting 0 <= dim < {ndim}.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    size = input.shape[dim]
    if start < 0 or start + length > size:
        raise RuntimeError(f"Invalid range to narrow. range(start, start+length) must be a subset of range(0, {size}).")
    return SparseNarrowCopy.apply(input, int(dim), int(start), int(length))


# --- bmm -------------------------------------------------------------------------------------------------------

class SparseBmm(Op):
    """bmm of a sparse (b, n, k) tensor (three sparse dims) and a strided (b, k, m) one: strided. The sparse
    operand's gradient is strided (grad @ mat2^T), as PyTorch's BmmBackward0 gives it; mat2's is input^T @ grad."""
    node_name = "BmmBackward0"

    @staticmethod
    def forward(ctx, input, mat2):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(input if needs[1] else None, mat2 if needs[0] else None)
        return S.bmm(input, mat2)

    @staticmethod
    def backward(ctx, grad):
        input, mat2 = ctx.saved_tensors
        return (grad @ mat2.mT if mat2 is not None else None,
                SparseBmm.apply(input.transpose(1, 2), grad) if input is not None else None)


def bmm(input, mat2):
    """torch.bmm with a sparse operand, with PyTorch's bmm_sparse checks (mat2 must be strided)."""
    if mat2.is_sparse or not input.is_sparse:
        raise RuntimeError("bmm_sparse: Tensor 'mat2' must be dense")
    a = input._array
    if a.indices.shape[0] != 3:
        raise RuntimeError(f"bmm_sparse: Tensor 'self' must have 3 sparse dims, but has {a.indices.shape[0]}")
    if a.values.ndim != 1:
        raise RuntimeError(f"bmm_sparse: Tensor 'self' must have 0 dense dims, but has {a.values.ndim - 1}")
    if mat2.ndim != 3:
        raise RuntimeError(f"bmm_sparse: Tensor 'mat2' must have 3 dims, but has {mat2.ndim}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError("bmm_sparse: 'self.size(0)' and 'mat2.size(0)' must match")
    if input.shape[2] != mat2.shape[1]:
        raise RuntimeError("bmm_sparse: 'self.size(2)' and 'mat2.size(1)' must match")
    if input.dtype is not mat2.dtype:
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                           f"{_dt.scalar_type_name(mat2.dtype)}")
    return SparseBmm.apply(input, mat2)


# --- creation in the sparse layouts ----------------------------------------------------------------------------

def _check_layout(name, layout):
    from .._layout import layout as layout_type
    if not isinstance(layout, layout_type):
        raise TypeError(f"{name}(): argument 'layout' must be torch.layout, not {type(layout).__name__}")


def _empty(shape, dtype, device, requires_grad, sparse_dim=None):
    """A sparse COO tensor with no entries (sparse_dim: all dims by default)."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device = to_device(device) if device is not None else CPU
    xp = backend_for(device).xp
    shape = tuple(shape)
    sd = len(shape) if sparse_dim is None else sparse_dim
    values = xp.zeros((0,) + shape[sd:], dtype.numpy)
    out = _make(SparseCOOArray(xp.zeros((sd, 0), _INDEX), values, shape, True), device)
    return out.requires_grad_() if requires_grad else out


def factory(name, shape, filled, dtype, layout, device, requires_grad):
    """zeros/empty and (filled) ones/full in a layout other than strided (None for strided: the caller's own)."""
    _check_layout(name, layout)
    if layout is strided:
        return None
    if filled:
        raise RuntimeError("full(...) is not implemented for sparse layout")
    if layout is sparse_coo:
        return _empty(shape, dtype, device, requires_grad)
    from .sparse_csr_ops import empty_compressed
    return empty_compressed(shape, dtype, layout, device, requires_grad)


def like(name, input, filled, dtype, layout, device, requires_grad):
    """zeros_like/empty_like and (filled) ones_like/full_like of a sparse input or in a sparse layout, as
    PyTorch: no entries, the input's sparse and dense dims; a fill other than 0 has no sparse kernel. None when
    the result is strided (the caller's own)."""
    if layout is None:
        layout = input.layout
    else:
        _check_layout(name, layout)
    if layout is strided:
        return None
    if layout is sparse_coo and not input.is_sparse and name != "zeros_like":
        raise unsupported("empty_strided")
    if filled:
        raise unsupported("fill_.Scalar")
    dtype = dtype if dtype is not None else input.dtype
    device = device if device is not None else input._device
    if layout is sparse_coo:
        sparse_dim = input._array.indices.shape[0] if input.is_sparse else None
        return _empty(input.shape, dtype, device, requires_grad, sparse_dim)
    from .sparse_csr_ops import empty_compressed
    return empty_compressed(input.shape, dtype, layout, device, requires_grad)


def new_empty(self, size, dtype, device, requires_grad):
    """Tensor.new_zeros/new_empty of a sparse tensor: a sparse tensor with no entries, all dims sparse."""
    from ._shapes import parse_shape
    return _empty(parse_shape(size), dtype if dtype is not None else self.dtype,
                  device if device is not None else self._device, requires_grad)
