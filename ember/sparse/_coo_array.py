"""SparseCOOArray: what a sparse COO tensor holds where a strided tensor holds its ndarray.

Note [sparse storage]: ember's sparse tensor is an ordinary ember.Tensor (PyTorch's is a torch.Tensor) whose
_array is a SparseCOOArray: `indices`, an int64 (sparse_dim, nnz) array, `values`, a (nnz, *dense shape)
array, the `shape`, and whether the entries are `coalesced` (sorted row-major, no position twice). Tensor's
layout and is_sparse look at the _array's class; nothing on the strided path tests for sparse tensors.
The storage answers what Tensor's metadata reads of an array (shape, ndim, dtype, size, flags, base), so
shape/dtype/numel/requires_grad/detach work unchanged, and it implements NumPy's protocols (operators,
__array_ufunc__, __array_function__, a few ndarray methods) for what PyTorch does with sparse COO tensors:
the dense primitives run unchanged on it and record PyTorch's grad_fn, as PyTorch's one aten op dispatches
on the layout. So Add/Sub/Mul/Div/Neg give AddBackward0..., Matmul gives MmBackward0 (sparse @ dense, dense
@ sparse, sparse @ sparse), Transpose/Permute/t/Unsqueeze are views, Sum, Clone and ToCopy copy, select
(s[i]) keeps the sparse layout, and in-place writes go through np.copyto. The zero-preserving unary ops (abs,
sin, sqrt, floor, relu's maximum(x, 0) ...) run on the coalesced values, as PyTorch's coalesce first: their
ufuncs here, composite forwards through _kernels.zero_preserving; Cat/Stack's concatenate/stack and
IndexSelect's take have kernels in _coo_select.py, so they record CatBackward0 & co. Whatever else a dense op asks of
it raises PyTorch's error for an op the SparseCPU backend lacks (NotImplementedError "Could not run
'aten::<op>' with arguments from the 'SparseCPU' backend"), or PyTorch's own message (reshape, expand,
numpy), never a silently wrong answer. The ops only sparse tensors have (construction, to_dense, coalesce,
values, sparse.mm/addmm/sum/softmax) are primitives in ember/ops/sparse_ops.py; the NumPy kernels are in
ember/sparse/_kernels.py. The storage's arrays live on its tensor's device (NumPy's on the cpu, CuPy's on cuda,
`xp` naming their module): the kernels compute with that module; the protocols are NumPy's (__array_ufunc__,
__array_function__) plus the ndarray methods CuPy's functions call on their argument (take, sum, copy ...).
Where ember answers and PyTorch refuses: `sparse + dense` is the strided sum (PyTorch accepts only dense +
sparse; the autograd engine adds a sparse and a strided gradient with this same operator), and sum/mean
reduce whatever the dense primitive reduces. stride() is a contiguous tensor's (PyTorch: zeros).
"""
import math

import numpy as np

from .._backends import array_module


def unsupported(op):
    """PyTorch's error for an aten op the SparseCPU backend has no kernel for."""
    return NotImplementedError(f"Could not run 'aten::{op}' with arguments from the 'SparseCPU' backend. This could "
                               "be because the operator doesn't exist for this backend, or was omitted during the "
                               "selective/custom build process (if using custom build).")


class _NoView(NotImplementedError, TypeError):
    """view() on a sparse tensor: NotImplementedError as in PyTorch, and a TypeError to NumPy-style callers
    that ask whether an array can be viewed with another shape (reshape() then copies, see reshape below)."""


NO_STORAGE = "Cannot access data pointer of Tensor that doesn't have storage"
# NumPy's names of the ufuncs and functions dense ops call, as PyTorch names the aten op that refuses
_ATEN = {"negative": "neg", "subtract": "sub", "multiply": "mul", "divide": "div.Tensor", "equal": "eq.Tensor",
         "not_equal": "ne.Tensor", "less": "lt.Tensor", "less_equal": "le.Tensor", "greater": "gt.Tensor",
         "greater_equal": "ge.Tensor", "absolute": "abs", "power": "pow", "reshape": "view", "squeeze": "as_strided",
         "concatenate": "cat", "stack": "stack", "where": "where.self", "maximum": "maximum", "minimum": "minimum",
         "clip": "clamp", "mean": "mean.dim", "max": "max", "min": "min", "amax": "amax", "amin": "amin",
         "copy": "clone", "empty_like": "empty_like", "round": "round.decimals", "ascontiguousarray": "contiguous",
         "flip": "flip", "roll": "roll", "repeat": "repeat", "tile": "repeat", "cumsum": "cumsum",
         "isnan": "isnan", "isfinite": "isfinite", "logical_not": "logical_not", "invert": "bitwise_not"}


class _Flags:
    """What Tensor and the autograd engine read of ndarray.flags: never contiguous, writable (in place)."""
    __slots__ = ()
    c_contiguous = False
    f_contiguous = False
    writeable = True


class SparseStorage:
    """What a sparse storage (COO here, CSR/CSC in _csr.py) shows the dense machinery: the Tensor metadata read
    from `shape` and the `values` array."""
    __slots__ = ()
    __array_priority__ = 1000                     # above CuPy's ndarray: its operators defer to ours

    @property
    def xp(self):
        """The array module of the storage's arrays: NumPy on the cpu, the device's (CuPy) on cuda."""
        return array_module(self.values)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def itemsize(self):
        return self.values.dtype.itemsize

    @property
    def strides(self):
        # A contiguous tensor's: no two elements share memory, so the in-place checks (ops/inplace.py) let
        # PyTorch's in-place sparse ops (mul_, add_, zero_, copy_) through. Tensor.is_contiguous says False.
        strides, step = [], self.values.dtype.itemsize
        for n in reversed(self.shape):
            strides.append(step)
            step *= max(n, 1)
        return tuple(reversed(strides))


class SparseCOOArray(SparseStorage):
    """indices (sparse_dim, nnz) int64, values (nnz, *dense shape), shape, coalesced: Note [sparse storage].
    `origin` is set on the result of a zero-preserving unary op of an uncoalesced storage (_kernels.map_values):
    (a weak reference to that storage, the op's name), so that writing it back in place is refused as PyTorch
    refuses it ("sin_ requires coalesced input")."""
    __slots__ = ("indices", "values", "shape", "coalesced", "origin", "__weakref__")
    base = None                                   # never a view of an ndarray (Tensor.storage_offset is 0)
    flags = _Flags()
    __hash__ = None

    def __init__(self, indices, values, shape, coalesced=False):
        self.indices = indices
        self.values = values
        self.shape = tuple(shape)
        self.coalesced = coalesced
        self.origin = None

    # --- what Tensor's metadata reads (the rest: SparseStorage) -------------------------------------------
    @property
    def T(self):
        """TOp's forward (Tensor.t()): the transpose of a sparse matrix, a vector as it is."""
        if len(self.shape) < 2:
            return self
        if self.values.ndim > 1:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
                               f"{self.indices.shape[0]} sparse and {self.values.ndim - 1} dense dimensions")
        return _k.transpose(self, 0, 1)

    def _assign(self, other):
        """Become `other` (an in-place op's result): the tensors holding this storage see the change."""
        self.indices, self.values, self.shape, self.coalesced = other.indices, other.values, other.shape, \
            other.coalesced

    def moved(self, source, target):
        """The storage copied from one device to another (source, target: their backends)."""
        return SparseCOOArray(target.from_numpy(source.to_numpy(self.indices)),
                              target.from_numpy(source.to_numpy(self.values)), self.shape, self.coalesced)

    # --- the ndarray methods dense primitives call ------------------------------------------------------
    def copy(self, order="K"):
        return SparseCOOArray(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    def astype(self, dtype, copy=True, casting="unsafe"):
        return SparseCOOArray(self.indices, self.values.astype(dtype, copy=copy), self.shape, self.coalesced)

    def take(self, indices, axis=None, out=None):
        """index_select along axis: what CuPy's take(a, ...) calls on a device storage (np.take dispatches to
        _take through __array_function__)."""
        if out is not None:
            raise unsupported("index_select.out")
        return _take(self, indices, axis)

    def sum(self, axis=None, dtype=None, keepdims=False, out=None):
        if out is not None:
            raise unsupported("sum.IntList_out")
        if axis is None:
            total = _k.total(self, dtype)
            return total.reshape((1,) * len(self.shape)) if keepdims else total
        dims = sorted(d % max(len(self.shape), 1) for d in (axis if isinstance(axis, tuple) else (axis,)))
        return _k.sum_dims(self, dims, dtype, keepdims)

    def __getitem__(self, index):
        """Basic indexing with ints and full slices (PyTorch's select on a sparse tensor keeps it sparse; a
        position in every sparse dim gives a strided result); narrowing slices and tensor indices are refused."""
        index = index if isinstance(index, tuple) else (index,)
        if Ellipsis in index:
            at = index.index(Ellipsis)
            index = index[:at] + (slice(None),) * (len(self.shape) - len(index) + 1) + index[at + 1:]
        picks = {}
        for dim, item in enumerate(index):
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                picks[dim] = int(item) % self.shape[dim]
            elif isinstance(item, slice) and item == slice(None):
                continue
            elif isinstance(item, slice):
                raise unsupported("as_strided")
            elif item is None:
                raise unsupported("unsqueeze via indexing with None")
            else:
                raise unsupported("index.Tensor")
        return _select(self, picks)

    def __setitem__(self, index, value):
        # zero_ writes `array[...] = 0`: a sparse tensor drops its entries (PyTorch's zero_); fill_ is refused
        if index is Ellipsis and _k.is_scalar(value) and value == 0:
            sd = self.indices.shape[0]
            self._assign(SparseCOOArray(self.xp.zeros((sd, 0), np.int64), self.values[:0].copy(), self.shape, True))
            return
        raise unsupported("fill_.Scalar" if index is Ellipsis else "index_put_")

    def reshape(self, *shape, copy=None, order="C"):
        if not copy:           # View's forward (view() and reshape() alike: PyTorch's reshape error is a RuntimeError)
            raise _NoView(str(unsupported("view")))
        raise RuntimeError("reshape is not implemented for sparse tensors")

    def view(self, *args, **kwargs):
        raise unsupported("view")

    def tolist(self):
        raise RuntimeError(NO_STORAGE)

    def item(self):
        raise RuntimeError(NO_STORAGE)

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError(NO_STORAGE)

    def __getattr__(self, name):
        # any other ndarray method a dense op calls: the op has no sparse kernel
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(_ATEN.get(name, name))

    # --- operators ---------------------------------------------------------------------------------------
    def __add__(self, other):
        return _k.add(self, other)

    def __radd__(self, other):
        return _k.add(other, self)

    def __iadd__(self, other):
        result = _k.add(self, other)
        if isinstance(result, SparseCOOArray):
            self._assign(result)
            return self
        return result            # + a strided array: the holder becomes strided (a .grad with mixed layouts)

    def __sub__(self, other):
        return _k.add(self, _k.negative(other))

    def __rsub__(self, other):
        return _k.add(other, _k.negative(self))

    def __mul__(self, other):
        return _k.multiply(self, other)

    __rmul__ = __mul__

    def __imul__(self, other):
        self._assign(_k.multiply(self, other))
        return self

    def __truediv__(self, other):
        return _k.divide(self, other)

    def __itruediv__(self, other):
        self._assign(_k.divide(self, other))
        return self

    def __rtruediv__(self, other):
        raise unsupported("reciprocal")

    def __pow__(self, other):                    # a scalar exponent is PowScalar's (_kernels.power)
        raise unsupported("pow.Tensor_Tensor")

    def __rpow__(self, other):
        raise unsupported("pow.Scalar")

    def __neg__(self):
        return _k.negative(self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return _k.matmul(self, other)

    def __rmatmul__(self, other):
        return _k.matmul(other, self)

    def __eq__(self, other):
        raise unsupported("eq.Tensor")

    def __ne__(self, other):
        raise unsupported("ne.Tensor")

    def __lt__(self, other):
        raise unsupported("lt.Tensor")

    def __le__(self, other):
        raise unsupported("le.Tensor")

    def __gt__(self, other):
        raise unsupported("gt.Tensor")

    def __ge__(self, other):
        raise unsupported("ge.Tensor")

    def __bool__(self):
        raise RuntimeError(NO_STORAGE)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        raise unsupported("unbind.int")

    def __repr__(self):
        return (f"SparseCOOArray(shape={self.shape}, sparse_dim={self.indices.shape[0]}, nnz={self.indices.shape[1]}, "
                f"dtype={self.values.dtype}, coalesced={self.coalesced})")

    # --- NumPy's protocols ---------------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, casting="same_kind", **kwargs):
        handler = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if handler is None:
            raise unsupported(_ATEN.get(ufunc.__name__, ufunc.__name__))
        result = handler(*inputs)
        if out is None:
            return result
        (target,) = out                               # the in-place ops: add_, mul_ ... (ops/inplace.py)
        if isinstance(target, SparseCOOArray) and isinstance(result, SparseCOOArray):
            target._assign(result if result.dtype == target.dtype else result.astype(target.dtype))
        elif result.__class__ is not SparseCOOArray and isinstance(target, array_module(result).ndarray):
            array_module(result).copyto(target, result, casting="unsafe")   # dense += sparse (a .grad accumulating)
        else:
            raise _copy_error(target, result)
        return target

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise unsupported(_ATEN.get(func.__name__, func.__name__))
        return handler(*args, **kwargs)


def _select(a, picks):
    """a with the dims in `picks` (dim -> index) selected away."""
    if not picks:
        return SparseCOOArray(a.indices, a.values, a.shape, a.coalesced)
    sd = a.indices.shape[0]
    xp = a.xp
    keep = xp.ones(a.indices.shape[1], bool)
    for dim, i in picks.items():
        if dim < sd:
            keep &= a.indices[dim] == i
    values = a.values[keep]
    dense = tuple(picks.get(d, slice(None)) for d in range(sd, len(a.shape)))
    if dense:
        values = values[(slice(None),) + dense]
    shape = [n for d, n in enumerate(a.shape) if d not in picks]
    kept = [d for d in range(sd) if d not in picks]
    if not kept:                                  # every sparse dim picked: the strided sum of what is there
        return xp.asarray(values.sum(axis=0)) if values.shape[0] else xp.zeros(shape, values.dtype)
    return SparseCOOArray(a.indices[kept][:, keep], values, shape, values.shape[0] <= 1)   # PyTorch's flag


def _copy_error(dst, src):
    from .._dtype import _FROM_NUMPY
    from .._legacy_tensors import TYPE_NAMES

    def name(x):
        kind = "sparse." if isinstance(x, SparseCOOArray) else ""
        dtype = x.dtype if hasattr(x, "dtype") else np.result_type(x)     # a Python scalar: NumPy's type of it
        return f"torch.{kind}{TYPE_NAMES[_FROM_NUMPY[np.dtype(dtype)].name]}"
    return RuntimeError(f"copy_() between dense and sparse Tensors is not implemented! Found self type = {name(dst)} "
                        f"and src type = {name(src)}")


def _copyto(dst, src, casting="same_kind", where=True):
    """Tensor.copy_ and in-place results (ops/inplace.py): sparse into sparse only, as in PyTorch."""
    if not (isinstance(dst, SparseCOOArray) and isinstance(src, SparseCOOArray)):
        raise _copy_error(dst, src)
    if dst.shape != src.shape:
        raise RuntimeError(f"copy_: a sparse tensor of size {list(src.shape)} cannot be copied into one of size "
                           f"{list(dst.shape)}")
    if src.origin is not None and src.origin[0]() is dst:     # sin_() & co of an uncoalesced tensor
        raise RuntimeError(f"{src.origin[1]}_ requires coalesced input")
    dst._assign(SparseCOOArray(src.indices.copy(), src.values.astype(dst.values.dtype), src.shape, src.coalesced))


def _expand(*args, **kwargs):
    raise RuntimeError("expand is unsupported for Sparse tensors")


def _wrapped(a, dim):
    return dim % max(len(a.shape), 1)


def _divide(x, y):
    if not isinstance(x, SparseCOOArray):
        raise unsupported("div.Tensor")
    return _k.divide(x, y)


def _multiply(x, y):
    return _k.multiply(x, y) if isinstance(x, SparseCOOArray) else _k.multiply(y, x)


def _maximum(x, y):
    """relu's maximum(x, 0): zero-preserving; a maximum with anything else has no sparse kernel, as in PyTorch."""
    if isinstance(x, SparseCOOArray) and _k.is_scalar(y) and y == 0:
        return _k.map_values(x, lambda values: x.xp.maximum(values, y), "relu")
    raise unsupported("maximum")


def _take(a, index, axis=None, **kwargs):
    """IndexSelect's forward (index_select along axis); take() of the flattened tensor has no sparse kernel."""
    if axis is None:
        raise unsupported("take")
    return _joins.index_select(a, _wrapped(a, axis), a.xp.where(index < 0, index + a.shape[axis], index))


def _zero_preserving(ufunc, name):
    return lambda x: _k.map_values(x, ufunc, name)


# PyTorch's unary ops with f(0) == 0 that have a sparse COO kernel, by the NumPy ufunc their dense forward calls
# (composite forwards use _kernels.zero_preserving instead); anything else stays refused (exp, cos, log ...)
_ZERO_PRESERVING = {np.absolute: "abs", np.sin: "sin", np.sinh: "sinh", np.tan: "tan", np.tanh: "tanh",
                    np.arcsin: "asin", np.arcsinh: "asinh", np.arctan: "atan", np.arctanh: "atanh", np.sqrt: "sqrt",
                    np.expm1: "expm1", np.log1p: "log1p", np.floor: "floor", np.ceil: "ceil", np.trunc: "trunc",
                    np.signbit: "signbit"}

def _floor_divide(x, y):
    """x // y for a scalar y (div(rounding_mode='floor')): zero-preserving, on the coalesced values as PyTorch."""
    if isinstance(x, SparseCOOArray) and _k.is_scalar(y):
        return _k.map_values(x, lambda values: x.xp.floor_divide(values, y), "floor_divide")
    raise unsupported("floor_divide")


_UFUNCS = {
    np.maximum: _maximum,
    np.floor_divide: _floor_divide,
    np.conjugate: lambda x: SparseCOOArray(x.indices, x.values.conj(), x.shape, x.coalesced),
    **{ufunc: _zero_preserving(ufunc, name) for ufunc, name in _ZERO_PRESERVING.items()},
    np.add: lambda x, y: _k.add(x, y),
    np.subtract: lambda x, y: _k.add(x, _k.negative(y)),
    np.multiply: _multiply,
    np.divide: _divide,
    np.negative: lambda x: _k.negative(x),
    np.positive: lambda x: x,
    np.matmul: lambda x, y: _k.matmul(x, y),
}
_FUNCTIONS = {
    np.swapaxes: lambda a, d0, d1: _k.transpose(a, *sorted((_wrapped(a, d0), _wrapped(a, d1)))),
    np.transpose: lambda a, axes=None: _k.permute(a, tuple(range(a.ndim - 1, -1, -1)) if axes is None else
                                                 tuple(_wrapped(a, d) for d in axes)),
    np.expand_dims: lambda a, axis: _k.unsqueeze(a, axis % (a.ndim + 1)),
    np.sum: lambda a, axis=None, dtype=None, out=None, keepdims=False, **kwargs: a.sum(axis, dtype, keepdims, out),
    np.copyto: _copyto,
    np.vdot: lambda x, y: _k.vdot(x, y),
    np.broadcast_to: _expand,
    np.may_share_memory: lambda a, b, max_work=None: False,      # a sparse op never writes into shared arrays
    np.shares_memory: lambda a, b, max_work=None: False,
    np.zeros_like: lambda a, dtype=None, **kwargs: _k.empty_like(a, dtype),   # a gradient that is exactly zero
    np.concatenate: lambda arrays, axis=0, **kwargs: _joins.concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0, **kwargs: _joins.stack(arrays, axis),
    np.take: _take,
}

# the kernels build SparseCOOArray results: imported once it exists
from . import _coo_select as _joins, _kernels as _k  # noqa: E402
