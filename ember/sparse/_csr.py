"""SparseCompressedArray: what a sparse CSR (or CSC) tensor holds where a strided tensor holds its ndarray, and
its NumPy kernels (conversions from and to strided arrays and COO storages, the invariant checks).

Note [compressed storage]: as for COO (Note [sparse storage] in _coo_array.py), a CSR tensor is an ordinary
ember.Tensor whose _array is this storage: `compressed` (nrows + 1 row offsets, PyTorch's crow_indices), `plain`
(one column per entry, col_indices), `values` (nnz, *dense shape) and the `shape`, with `kind` "csr". A CSC
tensor (ccol_indices, row_indices) is the same arrays with kind "csc": the transpose of a CSR tensor is a CSC one
over its very arrays, as in PyTorch, which is how the gradient of a CSR @ dense product reaches the dense
operand (Matmul's backward multiplies by input.mT). Two sparse dims, no batch dims; the index arrays keep
PyTorch's int32 or int64. The dense primitives run on it through the storage's protocols: @ with a strided
operand or another compressed one (products go through the COO kernels), -x, x * scalar, the zero-preserving
ufuncs (sin, abs, relu ...) on the values, t()/transpose, sum(), clone, to(dtype), copy_/zero_; anything else
raises PyTorch's error for a layout without that kernel."""
import numpy as np

from .._backends import array_module
from ._coo_array import SparseCOOArray, SparseStorage, _Flags
from . import _kernels as K

_INDEX = np.int64
_NAMES = {"csr": ("crow_indices", "col_indices", "SparseCsr"), "csc": ("ccol_indices", "row_indices", "SparseCsc")}


def unsupported_csr(op, kind="csr"):
    """PyTorch's error for an aten op the SparseCsrCPU backend has no kernel for."""
    return NotImplementedError(f"Could not run 'aten::{op}' with arguments from the '{_NAMES[kind][2]}CPU' "
                               "backend. This could be because the operator doesn't exist for this backend, or was "
                               "omitted during the selective/custom build process (if using custom build).")


def _layout_error(kind):
    return RuntimeError(f"unsupported tensor layout: {_NAMES[kind][2]}")


class SparseCompressedArray(SparseStorage):
    """compressed (n + 1,) offsets, plain (nnz,) indices, values (nnz, *dense shape), shape, kind ('csr' or
    'csc'): Note [compressed storage]."""
    __slots__ = ("compressed", "plain", "values", "shape", "kind")
    base = None
    flags = _Flags()
    __hash__ = None

    def __init__(self, compressed, plain, values, shape, kind="csr"):
        self.compressed = compressed
        self.plain = plain
        self.values = values
        self.shape = tuple(shape)
        self.kind = kind

    def moved(self, source, target):
        """The storage copied from one device to another (source, target: their backends)."""
        def move(a):
            return target.from_numpy(source.to_numpy(a))
        return SparseCompressedArray(move(self.compressed), move(self.plain), move(self.values), self.shape, self.kind)

    # --- what Tensor's metadata reads (the rest: SparseStorage) -------------------------------------------
    @property
    def T(self):
        return transpose(self)

    @property
    def nnz(self):
        return self.plain.shape[0]

    def _assign(self, other):
        self.compressed, self.plain, self.values, self.shape, self.kind = other.compressed, other.plain, \
            other.values, other.shape, other.kind

    # --- the ndarray methods dense primitives call ------------------------------------------------------
    def copy(self, order="K"):
        return SparseCompressedArray(self.compressed.copy(), self.plain.copy(), self.values.copy(), self.shape,
                                     self.kind)

    def astype(self, dtype, copy=True, casting="unsafe"):
        return SparseCompressedArray(self.compressed, self.plain, self.values.astype(dtype, copy=copy), self.shape,
                                     self.kind)

    def sum(self, axis=None, dtype=None, keepdims=False, out=None):
        if axis is not None or out is not None:
            raise RuntimeError("reduction operations on CSR tensors with keepdim=False is unsupported")
        return self.xp.asarray(self.values.sum(dtype=dtype))

    def __getitem__(self, index):                 # select: a COO tensor, or a strided one at a full position
        return to_coo(self)[index]

    def __setitem__(self, index, value):          # zero_ (`array[...] = 0`): no entries left
        if index is Ellipsis and K.is_scalar(value) and value == 0:
            self._assign(empty(self.shape, self.values.dtype, self.kind, self.compressed.dtype))
            return
        raise unsupported_csr("fill_.Scalar" if index is Ellipsis else "index_put_", self.kind)

    def reshape(self, *shape, copy=None, order="C"):
        if not copy:              # View's forward (view() and reshape() alike; a NotImplementedError is a RuntimeError)
            raise unsupported_csr("view", self.kind)
        raise RuntimeError("Sparse CSR tensors do not have is_contiguous")

    def tolist(self):
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    def item(self):
        raise RuntimeError(f"a Tensor with {self.size} elements cannot be converted to Scalar")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"can't convert {_NAMES[self.kind][2]} layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported_csr(name, self.kind)

    def __bool__(self):
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"SparseCompressedArray(kind={self.kind}, shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"

    # --- operators ---------------------------------------------------------------------------------------
    def __neg__(self):
        return self._with_values(-self.values)

    def __mul__(self, other):
        if K.is_scalar(other):
            return self._with_values(self.values * other)
        return _multiply(self, other)

    __rmul__ = __mul__

    def __add__(self, other):
        return _add(self, other)

    __radd__ = __add__

    def __sub__(self, other):                    # no sparse compressed kernels for these in PyTorch
        raise _layout_error(self.kind)

    __rsub__ = __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __sub__

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def _with_values(self, values):
        return SparseCompressedArray(self.compressed, self.plain, values, self.shape, self.kind)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, casting="same_kind", **kwargs):
        handler = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if handler is None:
            raise _layout_error(self.kind)
        result = handler(*inputs)
        if out is None:
            return result
        (target,) = out                           # the in-place ops: mul_, sin_, dense.add_(csr) ...
        if isinstance(target, self.xp.ndarray) and isinstance(result, self.xp.ndarray):
            self.xp.copyto(target, result, casting="unsafe")
        else:
            _copyto(target, result)
        return target

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise unsupported_csr("index_select" if func is np.take else func.__name__, self.kind)
        return handler(*args, **kwargs)

    def take(self, indices, axis=None, out=None):
        """What CuPy's take(a, ...) calls (IndexSelect on a device storage): no compressed kernel, as on the cpu."""
        raise unsupported_csr("index_select", self.kind)


# --- kernels ---------------------------------------------------------------------------------------------------

def empty(shape, dtype, kind="csr", index_dtype=_INDEX, xp=np):
    """No entries: the offsets all 0 (xp: the array module of the device)."""
    n = shape[0] if kind == "csr" else shape[1]
    return SparseCompressedArray(xp.zeros(n + 1, index_dtype), xp.zeros(0, index_dtype),
                                 xp.zeros((0,) + tuple(shape[2:]), dtype), shape, kind)


def _expand(a):
    """The compressed dim's index of every entry (rows of a CSR storage)."""
    return K.repeat_groups(a.xp.diff(a.compressed))


def to_coo(a):
    """The COO storage of a compressed one (coalesced for CSR: its entries are in row-major order)."""
    major, minor, xp = _expand(a), a.plain.astype(_INDEX), a.xp
    if a.kind == "csr":
        return SparseCOOArray(xp.stack([major, minor]), a.values, a.shape, True)
    return SparseCOOArray(xp.stack([minor, major]), a.values, a.shape, a.nnz <= 1)


def from_coo(c, kind="csr", index_dtype=_INDEX):
    """The compressed storage of a COO one with two sparse dims (coalesced first; CSC: sorted by column)."""
    if c.indices.shape[0] != 2:
        raise RuntimeError("sparse_coo_to_sparse_csr: conversion from Sparse to SparseCsr for input tensors with "
                           "sparse_dim()!=2 is not supported")
    c = K.coalesce(c)
    rows, cols = c.indices
    values, xp = c.values, c.xp
    if kind == "csc":
        order = xp.argsort(cols * c.shape[0] + rows)          # column-major (the positions are distinct)
        rows, cols, values = rows[order], cols[order], values[order]
        major, minor, n = cols, rows, c.shape[1]
    else:
        major, minor, n = rows, cols, c.shape[0]
    compressed = xp.zeros(n + 1, index_dtype)
    compressed[1:] = xp.cumsum(xp.bincount(major, minlength=n))
    return SparseCompressedArray(compressed, minor.astype(index_dtype), values, c.shape, kind)


def from_dense(array, dense_dim=0, kind="csr"):
    """The compressed storage of a strided array with two sparse dims and dense_dim dense ones."""
    return from_coo(K.from_dense(array, array.ndim - dense_dim), kind)


def to_dense(a):
    return K.to_dense(to_coo(a))


def transpose(a):
    """CSR <-> CSC over the same arrays (a 2-d compressed tensor's t())."""
    if len(a.shape) != 2:
        raise RuntimeError("transpose of a compressed tensor with dense dims is not supported by ember")
    return SparseCompressedArray(a.compressed, a.plain, a.values, a.shape[::-1], "csc" if a.kind == "csr" else "csr")


def matmul(x, y):
    """x @ y with a compressed operand: strided with a strided operand, CSR for two compressed ones."""
    coo = [to_coo(v) if isinstance(v, SparseCompressedArray) else v for v in (x, y)]
    out = K.matmul(*coo)
    return from_coo(out) if isinstance(out, SparseCOOArray) else out


def check(compressed, plain, values, shape, kind="csr"):
    """PyTorch's invariants of a compressed tensor (its messages under check_invariants; ember checks always: a
    bad index reads out of bounds)."""
    if values.ndim < 1 or values.shape[0] != plain.shape[0] or compressed.ndim != 1 or plain.ndim != 1:
        raise RuntimeError(f"values and {_NAMES[kind][1]} must have the same number of specified elements (nnz), "
                           f"got {values.shape[:1]} and {plain.shape[:1]}"[:300])
    if len(shape) != 2 + values.ndim - 1:
        raise RuntimeError(f"tensor dimensionality must be sum of batch, base, and dense dimensionalities (=0 + 2 + "
                           f"{values.ndim - 1}) but got {len(shape)}")
    if tuple(shape[2:]) != tuple(values.shape[1:]):
        raise RuntimeError(f"values.shape[1:] must match the dense dims of the size {list(shape)}, got "
                           f"{list(values.shape)}")
    n_major, n_minor = (shape[0], shape[1]) if kind == "csr" else (shape[1], shape[0])
    name, other, (major, minor) = _NAMES[kind][0], _NAMES[kind][1], (("row", "col") if kind == "csr" else
                                                                       ("column", "row"))
    if compressed.shape[0] != n_major + 1:
        raise RuntimeError(f"{name}.shape[-1] must be equal to the number of {major}s + 1 (={n_major + 1}), but "
                           f"got {compressed.shape[0]}")
    if int(compressed[0]) != 0:
        raise RuntimeError(f"`{name}[..., 0] == 0` is not satisfied.")
    if int(compressed[-1]) != plain.shape[0]:
        raise RuntimeError(f"`{name}[..., -1] == nnz` is not satisfied.")
    steps = array_module(compressed).diff(compressed)
    if steps.shape[0] and int(steps.min()) < 0 or int(steps.max(initial=0)) > n_minor:
        raise RuntimeError(f"`0 <= {name}[..., 1:] - {name}[..., :-1] <= n{minor}s` is not satisfied.")
    if plain.shape[0] and (int(plain.min()) < 0 or int(plain.max()) >= n_minor):
        raise RuntimeError(f"`0 <= {other} < n{minor}s` is not satisfied.")
    if plain.shape[0] > 1:
        xp = array_module(compressed)
        same_group = xp.repeat(xp.arange(n_major, dtype=_INDEX), steps)
        ordered = (plain[1:] > plain[:-1]) | (same_group[1:] != same_group[:-1])
        if not bool(ordered.all()):
            raise RuntimeError(f"`{other}[..., {name}[..., i - 1]:{name}[..., i]] for all i = 1, ..., n{major}s are "
                               f"sorted and distinct along the last dimension values` is not satisfied.")


def _copyto(dst, src, casting="same_kind", where=True):
    """copy_ and in-place results into a compressed storage: from one of the same layout and shape."""
    if not (isinstance(dst, SparseCompressedArray) and isinstance(src, SparseCompressedArray)) or \
            dst.kind != src.kind or dst.shape != src.shape:
        raise RuntimeError("copy_: ember copies a compressed sparse tensor only into one of the same layout and size")
    dst._assign(SparseCompressedArray(src.compressed.copy(), src.plain.copy(), src.values.astype(dst.values.dtype),
                                      src.shape, src.kind))


def _no_strides(*args, **kwargs):
    raise RuntimeError("Sparse CSR tensors do not have strides")


def _maximum(x, y):
    if isinstance(x, SparseCompressedArray) and K.is_scalar(y) and y == 0:      # relu
        return x._with_values(x.xp.maximum(x.values, y))
    raise _layout_error(x.kind if isinstance(x, SparseCompressedArray) else y.kind)


def _add(x, y):
    """x + y with a compressed operand: compressed for two of them, strided with a strided one of the same size
    (PyTorch's rule: no broadcasting, no scalars)."""
    if isinstance(x, SparseCompressedArray) and isinstance(y, SparseCompressedArray):
        return from_coo(K.add(to_coo(x), to_coo(y)), x.kind, x.compressed.dtype)
    dense, sparse = (x, y) if isinstance(y, SparseCompressedArray) else (y, x)
    if not isinstance(dense, sparse.xp.ndarray) or dense.shape != sparse.shape:
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                           f"{list(np.shape(dense))} while other has size {list(sparse.shape)} (FYI: op2-sparse "
                           "addition does not currently support broadcasting)")
    return K.add(dense, to_coo(sparse))


def _multiply(x, y):
    """x * y with a compressed x (or y): a scalar, a strided tensor of its size or another compressed one; the
    result is compressed, of the entries both have."""
    if not isinstance(x, SparseCompressedArray):
        x, y = y, x
    if K.is_scalar(y):
        return x * y
    if isinstance(y, x.xp.ndarray) and y.shape != x.shape:
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(y.shape)} but mask "
                           f"has size {list(x.shape)}")
    other = to_coo(y) if isinstance(y, SparseCompressedArray) else y
    return from_coo(K.multiply(to_coo(x), other), x.kind, x.compressed.dtype)


def _values_ufunc(ufunc):
    return lambda x: x._with_values(ufunc(x.values))


# the zero-preserving unary ufuncs PyTorch runs on a compressed tensor's values
_UFUNCS = {np.maximum: _maximum, np.multiply: _multiply, np.add: _add, np.negative: lambda x: -x,
           np.positive: lambda x: x,
           np.matmul: matmul,
           **{u: _values_ufunc(u) for u in (np.absolute, np.sin, np.sinh, np.tan, np.tanh, np.arcsin, np.arcsinh,
                                            np.arctan, np.arctanh, np.expm1, np.floor, np.ceil, np.trunc,
                                            np.signbit, np.conjugate)}}
_FUNCTIONS = {
    np.swapaxes: lambda a, d0, d1: transpose(a) if d0 % 2 != d1 % 2 else a,
    np.transpose: lambda a, axes=None: transpose(a) if axes is None or list(axes) == [1, 0] else a,
    np.sum: lambda a, axis=None, dtype=None, out=None, keepdims=False, **kwargs: a.sum(axis, dtype, keepdims, out),
    np.copyto: _copyto,
    np.zeros_like: lambda a, dtype=None, **kwargs: empty(a.shape, a.values.dtype if dtype is None else dtype,
                                                         a.kind, a.compressed.dtype),
    np.may_share_memory: lambda a, b, max_work=None: False,
    np.shares_memory: lambda a, b, max_work=None: False,
    np.expand_dims: _no_strides,
    np.broadcast_to: _no_strides,
}
