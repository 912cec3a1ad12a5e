"""Meta backend: tensors with a shape and a dtype but no data (PyTorch's device='meta').

A meta array is a `MetaArray`: an ndarray subclass viewing a single element with all strides 0, so a
(100000, 100000) meta tensor holds one element of memory. Op code runs unchanged (it reaches arrays
only through `xp`); every NumPy call on meta arrays lands in `__array_ufunc__` or
`__array_function__`, which work out the result's shape and dtype without computing anything:

- ufuncs: the shape is the broadcast of the inputs (or the reduced shape); the dtype comes from
  calling the ufunc once on 0-d stand-ins, so NumPy's own promotion rules decide it.
- functions that only move elements (concatenate, stack, take, flip, roll, repeat, tril ...): run on
  stand-ins whose dtype has itemsize 0 (`np.dtype([])`), which NumPy shapes for free.
- functions that compute (reductions, einsum, linalg, sort ...): a small shape rule each.
- functions whose output shape depends on the values (nonzero, unique, boolean masks ...) raise
  NotImplementedError, as PyTorch does for meta tensors.

Reading data back (`.numpy()`, `.item()`, printing values) is refused by the Tensor; `to_numpy` here
refuses too.
"""
import builtins
import math
import string
import types

import numpy as np

name = "meta"
_VOID = np.dtype([])                       # itemsize 0: shape computations cost no memory


class MetaArray(np.ndarray):
    """Shape and dtype only: a zero-stride view of one element. NumPy calls on it return MetaArrays."""
    __array_priority__ = 1000.0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)

    # ndarray methods implemented in C bypass the protocols above: route them through NumPy functions.
    def copy(self, order="C"):
        return new(self.shape, self.dtype)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return new(self.shape, np.dtype(dtype))

    def ravel(self, order="C"):
        return np.ndarray.reshape(self, -1)

    def flatten(self, order="C"):
        return new((self.size,), self.dtype)

    def fill(self, value):
        pass

    def __getitem__(self, index):
        if _is_basic(index):                    # views keep zero strides: no memory
            return np.ndarray.__getitem__(self, index)
        shape = np.ndarray.__getitem__(_void(self), _index_standins(index)).shape
        return new(shape, self.dtype)

    def __setitem__(self, index, value):
        if not _is_basic(index):
            np.ndarray.__getitem__(_void(self), _index_standins(index))     # validates the index
        target = np.ndarray.__getitem__(_void(self), index) if _is_basic(index) else None
        if target is not None and _ndim(value) and np.broadcast_shapes(_shape(value), target.shape) != \
                target.shape:
            raise ValueError(f"could not broadcast input array from shape {_shape(value)} into shape "
                             f"{target.shape}")

    def __reduce__(self):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")

    def tolist(self):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return np.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return np.mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return np.prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.min(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.all(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, out=None, keepdims=False):
        return np.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return np.argmin(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None, dtype=None, out=None):
        return np.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis=None, dtype=None, out=None):
        return np.cumprod(self, axis=axis, dtype=dtype)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        return np.std(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        return np.var(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def clip(self, min=None, max=None, out=None, **kwargs):
        return np.clip(self, min, max)

    def round(self, decimals=0, out=None):
        return np.round(self, decimals)

    def sort(self, axis=-1, kind=None, order=None):
        pass                                    # in place: nothing to reorder

    def argsort(self, axis=-1, kind=None, order=None, **kwargs):
        return np.argsort(self, axis=axis)

    def nonzero(self):
        return np.nonzero(self)

    def dot(self, other, out=None):
        return np.dot(self, other)

    def take(self, indices, axis=None, out=None, mode="raise"):
        return np.take(self, indices, axis=axis)

    def repeat(self, repeats, axis=None):
        return np.repeat(self, repeats, axis=axis)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return np.ndarray.diagonal(self, offset, axis1, axis2)

    def conj(self):
        return np.conj(self)

    conjugate = conj

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return np.trace(self, offset, axis1, axis2, dtype)

    def searchsorted(self, v, side="left", sorter=None):
        return np.searchsorted(self, v, side=side)


def new(shape, dtype):
    """A meta array of `shape` and `dtype`: one element of memory whatever the shape."""
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    one = np.zeros(1, dtype=dtype)
    view = np.lib.stride_tricks.as_strided(one, shape=shape, strides=(0,) * len(shape), writeable=True)
    return view.view(MetaArray)


def is_meta(x):
    return isinstance(x, MetaArray)


def add_at(array, index, values):
    """NumPy's add.at on a meta array: there is no data to add to (the shapes were checked by the caller)."""


def _void(array):
    """A stand-in with the same shape and no memory, for shape-only computations."""
    return np.empty(_shape(array), dtype=_VOID)


def _plain(array):
    """The zero-stride data of a meta array as a plain ndarray (integer index arrays: values 0)."""
    return array.view(np.ndarray)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) and not isinstance(i, bool)
               for i in items)


def _index_standins(index):
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, MetaArray):
            if i.dtype == bool:
                raise NotImplementedError("indexing a meta tensor with a boolean mask has a data-dependent shape "
                                          "and is not supported on the meta device")
            i = _plain(i)
        out.append(i)
    return tuple(out)


def _data_dependent(func_name):
    raise NotImplementedError(f"{func_name}: the output shape depends on the tensor's values, which meta "
                              f"tensors do not have; run it on a real device")


# --- ufuncs ---------------------------------------------------------------------------------------------

def _probe(x):
    """A 0-d stand-in carrying x's dtype (Python scalars stay as they are: NumPy treats them as weak)."""
    if isinstance(x, np.ndarray):
        return np.zeros((), dtype=x.dtype)
    if isinstance(x, np.generic):
        return x
    return x


def _shape(x):
    # attribute access, not np.shape: NumPy functions on a MetaArray would come back to _function
    if isinstance(x, (np.ndarray, np.generic)):
        return x.shape
    return np.shape(x) if isinstance(x, (list, tuple)) else ()


def _ndim(x):
    return len(_shape(x))


def _wrap(result_dtypes, shape):
    if isinstance(result_dtypes, tuple):
        return tuple(new(shape, d) for d in result_dtypes)
    return new(shape, result_dtypes)


def _dtypes_of(result):
    if isinstance(result, tuple):
        return tuple(np.asarray(r).dtype for r in result)
    return np.asarray(result).dtype


def _ufunc(ufunc, method, inputs, kwargs):
    out = kwargs.pop("out", None)
    kwargs.pop("where", None)
    with np.errstate(all="ignore"):
        if method == "__call__":
            if ufunc is np.matmul:
                shape = _matmul_shape(_shape(inputs[0]), _shape(inputs[1]))
                probes = [np.zeros((1,) * max(len(_shape(x)), 1), dtype=np.asarray(x).dtype) for x in inputs[:2]]
                dtypes = _dtypes_of(ufunc(*probes, **kwargs))
            else:
                shape = np.broadcast_shapes(*[_shape(x) for x in inputs])
                dtypes = _dtypes_of(ufunc(*[_probe(x) for x in inputs], **kwargs))
        elif method in ("reduce", "accumulate"):
            array = inputs[0]
            axis = kwargs.pop("axis", 0)
            keepdims = kwargs.pop("keepdims", False)
            kwargs.pop("initial", None)
            dtypes = _dtypes_of(getattr(ufunc, method)(np.zeros((1,), dtype=array.dtype), axis=0, **kwargs))
            shape = array.shape if method == "accumulate" else _reduced_shape(array.shape, axis, keepdims)
        elif method == "at":
            np.ndarray.__getitem__(_void(inputs[0]), _index_standins(inputs[1]))   # validates the index
            return None                          # in place: nothing to write
        elif method == "outer":
            shape = _shape(inputs[0]) + _shape(inputs[1])
            dtypes = _dtypes_of(ufunc(*[_probe(x) for x in inputs], **kwargs))
        else:
            raise NotImplementedError(f"meta backend: {ufunc.__name__}.{method} is not supported")
    if out is not None:
        return out[0] if len(out) == 1 else out
    return _wrap(dtypes, shape)


def _reduced_shape(shape, axis, keepdims):
    ndim = len(shape)
    if axis is None:
        axes = tuple(range(ndim))
    else:
        axes = tuple(a % ndim if ndim else 0 for a in (axis if isinstance(axis, tuple) else (axis,)))
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _matmul_shape(a, b):
    if not a or not b:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0 (size {b2[-2]} is different "
                         f"from {a2[-1]})")
    shape = np.broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(b) == 1:
        shape = shape[:-1]
    return shape


# --- array functions ------------------------------------------------------------------------------------

_DATA_DEPENDENT = {"nonzero", "argwhere", "flatnonzero", "unique", "unique_all", "unique_counts",
                   "unique_inverse", "unique_values", "compress", "extract", "bincount", "histogram",
                   "histogram_bin_edges", "array_equal", "array_equiv", "allclose", "count_nonzero_data"}
_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "any", "all", "std", "var", "nansum",
               "nanmean", "nanmax", "nanmin", "nanprod", "median", "nanmedian", "ptp", "count_nonzero",
               "argmax", "argmin", "trace"}
_SAME_SHAPE = {"cumsum", "cumprod", "nancumsum", "nancumprod", "sort", "argsort", "nan_to_num", "round",
               "around", "real", "imag", "conj", "conjugate", "angle", "sign", "fix", "isreal", "iscomplex",
               "real_if_close", "isposinf", "isneginf", "copy", "ascontiguousarray", "asfortranarray", "diff"}
_BROADCAST = {"where", "isclose", "clip", "copysign"}


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays_in(v)]
    return []


def _function(func, args, kwargs):
    fname = func.__name__
    if fname in _DATA_DEPENDENT or (fname == "where" and len(args) + len(kwargs) == 1):
        _data_dependent(f"numpy.{fname}")
    if fname == "copyto":
        np.broadcast_shapes(_shape(args[1]), _shape(args[0]))          # validates; nothing to copy
        return None
    if fname in ("shape", "ndim", "size", "result_type", "may_share_memory", "shares_memory", "iscomplexobj",
                 "isrealobj", "broadcast_shapes"):
        return func(*[_void(a) if isinstance(a, MetaArray) else a for a in args], **kwargs) \
            if fname not in ("result_type", "iscomplexobj", "isrealobj") else \
            func(*[_plain(a) if isinstance(a, MetaArray) else a for a in args], **kwargs)
    rule = _RULES.get(fname)
    with np.errstate(all="ignore"):
        if rule is not None:
            return rule(func, *args, **kwargs)
        if fname in _REDUCTIONS:
            return _reduction(func, *args, **kwargs)
        if fname in _SAME_SHAPE:
            return _same_shape(func, *args, **kwargs)
        if fname in _BROADCAST:
            return _broadcast(func, *args, **kwargs)
        return _shape_only(func, args, kwargs)


def _to_standins(value, keep_integers):
    if isinstance(value, MetaArray):
        if keep_integers and value.dtype.kind in "iub":
            return _plain(value)
        return _void(value)
    if isinstance(value, list):
        return [_to_standins(v, keep_integers) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_standins(v, keep_integers) for v in value)
    return value


def _shape_only(func, args, kwargs):
    """Functions that only move elements: run on zero-memory stand-ins; the dtype follows the data."""
    data = _arrays_in(args[0]) if args else []
    dtype = np.result_type(*[a.dtype for a in data]) if data else None
    for keep_integers in (False, True):         # index arguments must stay integer arrays
        try:
            result = func(*_to_standins(args, keep_integers), **_to_standins(kwargs, keep_integers))
            break
        except (TypeError, ValueError, IndexError, np.exceptions.DTypePromotionError):
            if keep_integers:
                raise NotImplementedError(f"meta backend: no shape rule for numpy.{func.__name__}") from None
    if isinstance(result, (tuple, list)):
        return type(result)(_as_meta(r, dtype) for r in result)
    return _as_meta(result, dtype)


def _as_meta(result, dtype):
    if isinstance(result, np.ndarray):
        return new(result.shape, dtype if result.dtype == _VOID else result.dtype)
    return result


def _probe_like(array, ones=True):
    return np.zeros((1,) * array.ndim if ones else (), dtype=array.dtype)


def _reduction(func, a, axis=None, *args, **kwargs):
    keepdims = kwargs.get("keepdims", False)
    kwargs.pop("out", None)
    if isinstance(a, (list, tuple)):
        a = new(_shape(a), np.result_type(*_arrays_in(a)) if _arrays_in(a) else np.asarray(a).dtype)
    probe = np.zeros((1,) * max(a.ndim, 1), dtype=a.dtype)
    probe_axis = None if axis is None else (tuple(range(len(axis))) if isinstance(axis, tuple) else 0)
    if func.__name__ == "trace":
        return new(a.shape[2:], func(np.zeros((1, 1) + a.shape[2:], dtype=a.dtype)).dtype)
    result = func(probe, probe_axis, *args, **kwargs) if axis is not None else func(probe, *args, **kwargs)
    shape = _reduced_shape(a.shape, axis, keepdims)
    return new(shape, np.asarray(result).dtype)


def _same_shape(func, a, *args, **kwargs):
    probe = np.zeros((1,) * max(_ndim(a), 1), dtype=a.dtype)
    extra = [_probe_like(x) if isinstance(x, MetaArray) else x for x in args]
    kw = {k: (_probe_like(v) if isinstance(v, MetaArray) else v) for k, v in kwargs.items() if k != "out"}
    result = func(probe, *extra, **kw)
    shape = a.shape
    if func.__name__ == "diff":
        axis = kwargs.get("axis", -1)
        n = args[0] if args else kwargs.get("n", 1)
        shape = list(a.shape)
        shape[axis] = builtins.max(shape[axis] - n, 0)
        shape = tuple(shape)
    if func.__name__ == "cumsum" and kwargs.get("axis", args[0] if args else None) is None:
        shape = (a.size,)
    if isinstance(result, tuple):
        return tuple(new(shape, np.asarray(r).dtype) for r in result)
    return new(shape, np.asarray(result).dtype)


def _broadcast(func, *args, **kwargs):
    arrays = [x for x in list(args) + list(kwargs.values()) if isinstance(x, np.ndarray) or np.isscalar(x)]
    shape = np.broadcast_shapes(*[_shape(x) for x in arrays])
    probes = [_probe(x) if isinstance(x, np.ndarray) else x for x in args]
    kw = {k: (_probe(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items() if k != "out"}
    return new(shape, np.asarray(func(*probes, **kw)).dtype)


def _einsum(func, *operands, **kwargs):
    equation, arrays = operands[0], operands[1:]
    if not isinstance(equation, str):
        raise NotImplementedError("meta backend: einsum needs a subscripts string")
    equation = equation.replace(" ", "")
    lhs, _, out = equation.partition("->")
    terms = lhs.split(",")
    if "..." in equation:
        raise NotImplementedError("meta backend: einsum with '...' (ember normalizes it before this call)")
    sizes = {}
    for term, array in zip(terms, arrays):
        if len(term) != _ndim(array):
            raise ValueError("einstein sum subscripts string contains too many subscripts for operand")
        for c, s in zip(term, _shape(array)):
            if sizes.setdefault(c, s) != s and s != 1 and sizes[c] != 1:
                raise ValueError(f"operands could not be broadcast together with remapped shapes: {c} is "
                                 f"{sizes[c]} and {s}")
            sizes[c] = builtins.max(sizes[c], s) if 1 in (sizes[c], s) else s
    if not _ and "->" not in equation:
        counts = {c: lhs.count(c) for c in set(lhs) if c in string.ascii_letters}
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    probes = [np.zeros((1,) * _ndim(a), dtype=np.asarray(a).dtype) for a in arrays]
    dtype = np.asarray(np.einsum(equation, *probes)).dtype
    return new(tuple(sizes[c] for c in out), dtype)


def _dot(func, a, b, out=None):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _ufunc(np.multiply, "__call__", (a, b), {})
    if _ndim(b) == 1:
        shape = _shape(a)[:-1]
        if _shape(a)[-1] != _shape(b)[0]:
            raise ValueError(f"shapes {_shape(a)} and {_shape(b)} not aligned")
    else:
        if _shape(a)[-1] != _shape(b)[-2]:
            raise ValueError(f"shapes {_shape(a)} and {_shape(b)} not aligned")
        shape = _shape(a)[:-1] + _shape(b)[:-2] + _shape(b)[-1:]
    return new(shape, np.result_type(np.asarray(a).dtype, np.asarray(b).dtype))


def _searchsorted(func, a, v, side="left", sorter=None):
    return new(_shape(v), np.intp)


def _take_along_axis(func, arr, indices, axis=-1):
    if axis is None:
        return new(_shape(indices), arr.dtype)
    shape = list(np.broadcast_shapes(*[tuple(1 if i == axis % arr.ndim else s for i, s in enumerate(x))
                                       for x in (arr.shape, _shape(indices))]))
    shape[axis] = _shape(indices)[axis]
    return new(tuple(shape), arr.dtype)


def _put_along_axis(func, arr, indices, values, axis):
    return None


def _linalg(func, a, *args, **kwargs):
    fname = func.__name__
    shape = a.shape
    if shape[-1] != shape[-2] and fname in ("inv", "det", "slogdet", "solve"):
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    probe = np.eye(2, dtype=a.dtype).reshape((1,) * (a.ndim - 2) + (2, 2)) if a.ndim >= 2 else np.ones(2, a.dtype)
    if fname == "solve":
        b = args[0] if args else kwargs["b"]
        bprobe = np.ones((1,) * (_ndim(b) - 2) + (2, _shape(b)[-1]) if _ndim(b) >= 2 else (2,), dtype=b.dtype)
        dtype = np.asarray(func(probe, bprobe)).dtype
        batch = np.broadcast_shapes(shape[:-2], _shape(b)[:-2]) if _ndim(b) >= 2 else shape[:-2]
        return new(batch + _shape(b)[-2:] if _ndim(b) >= 2 else _shape(b), dtype)
    result = func(probe, *args, **kwargs)
    if fname in ("det",):
        return new(shape[:-2], np.asarray(result).dtype)
    if fname == "slogdet":
        return tuple(new(shape[:-2], np.asarray(r).dtype) for r in result)
    if fname == "pinv":
        return new(shape[:-2] + (shape[-1], shape[-2]), np.asarray(result).dtype)
    return new(shape, np.asarray(result).dtype)


def _decomposition(func, a, *args, **kwargs):
    """svd, qr, eigh, eigvalsh, cholesky: shapes from the matrix sizes, dtypes from a 2x2 probe."""
    fname = func.__name__
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    probe = func(np.eye(2, dtype=a.dtype), *args, **kwargs)
    parts = probe if isinstance(probe, tuple) else (probe,)
    if fname == "svd":
        full = kwargs.get("full_matrices", args[0] if args else True)
        if not kwargs.get("compute_uv", True):
            shapes = [(k,)]
        else:
            shapes = [(m, m if full else k), (k,), (n if full else k, n)]
    elif fname == "qr":
        mode = kwargs.get("mode", args[0] if args else "reduced")
        shapes = {"complete": [(m, m), (m, n)], "r": [(k, n)]}.get(mode, [(m, k), (k, n)])
    elif fname == "eigh":
        shapes = [(n,), (n, n)]
    elif fname == "eigvalsh":
        shapes = [(n,)]
    else:                                          # cholesky
        shapes = [(n, n)]
    out = tuple(new(batch + shape, np.asarray(p).dtype) for shape, p in zip(shapes, parts))
    return out if isinstance(probe, tuple) else out[0]


def _fft(func, a, s=None, axes=None, norm=None, out=None):
    """fftn, ifftn, rfftn, irfftn: the sizes s gives (else the input's), rfftn's last axis halved; the dtype
    from a 2-point probe."""
    shape = list(a.shape)
    axes = tuple(range(a.ndim)) if axes is None else tuple(axes)
    for axis, n in zip(axes, s or ()):
        shape[axis] = n
    if func.__name__ == "rfftn" and axes:
        shape[axes[-1]] = shape[axes[-1]] // 2 + 1
    probe = func(np.ones(2, a.dtype), s=(2,), axes=(0,))
    return new(tuple(shape), probe.dtype)


def _cross(func, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    dtype = np.result_type(a.dtype, b.dtype)
    return new(np.broadcast_shapes(_shape(a), _shape(b)), dtype)


def _isin(func, element, test_elements, *args, **kwargs):
    return new(_shape(element), np.dtype(bool))


def _diagonal(func, a, offset=0, axis1=0, axis2=1):
    return np.ndarray.diagonal(a, offset, axis1, axis2)


_RULES = {"einsum": _einsum, "dot": _dot, "vdot": _dot, "inner": _dot, "searchsorted": _searchsorted,
          "take_along_axis": _take_along_axis, "put_along_axis": _put_along_axis, "inv": _linalg, "det": _linalg,
          "slogdet": _linalg, "solve": _linalg, "pinv": _linalg, "diagonal": _diagonal, "svd": _decomposition,
          "qr": _decomposition, "eigh": _decomposition, "eigvalsh": _decomposition, "cholesky": _decomposition,
          "cross": _cross, "isin": _isin, "fftn": _fft, "ifftn": _fft, "rfftn": _fft, "irfftn": _fft}


# --- the array module op code sees as `xp` -----------------------------------------------------------------

def _dtype_or_default(dtype, default=np.float64):
    return np.dtype(dtype) if dtype is not None else np.dtype(default)


def _asarray(data, dtype=None, copy=None, **kwargs):
    if isinstance(data, MetaArray):
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.astype(dtype)
    if isinstance(data, np.ndarray) or np.isscalar(data) or isinstance(data, (list, tuple)):
        host = np.asarray(data, dtype=dtype)       # small host data (scalars, index lists) is cheap
        return new(host.shape, host.dtype)
    return new(_shape(data), _dtype_or_default(dtype))


def _creation(fill):
    def create(shape, *args, dtype=None, **kwargs):
        if fill == "full" and args:
            value, args = args[0], args[1:]
            dtype = dtype if dtype is not None else np.asarray(value).dtype
        if args:
            dtype = args[0]
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return new(shape, _dtype_or_default(dtype))
    return create


def _like(fill):
    def create(a, *args, dtype=None, shape=None, **kwargs):
        if fill == "full" and args:
            args = args[1:]
        if args:
            dtype = args[0]
        return new(_shape(a) if shape is None else shape, dtype if dtype is not None else np.asarray(a).dtype
                   if not isinstance(a, MetaArray) else a.dtype)
    return create


def _arange(start, stop=None, step=1, dtype=None, **kwargs):
    if stop is None:
        start, stop = 0, start
    length = builtins.max(0, math.ceil((stop - start) / step))
    return new((length,), np.dtype(dtype) if dtype is not None else np.result_type(start, stop, step))


def _eye(n, m=None, k=0, dtype=float, **kwargs):
    return new((n, m if m is not None else n), np.dtype(dtype))


class _MetaNumPy(types.ModuleType):
    """NumPy's namespace, with constructors that make meta arrays."""

    def __getattr__(self, attr):
        return getattr(np, attr)


xp = _MetaNumPy("ember._backends.meta.xp")
xp.ndarray = MetaArray
xp.asarray = xp.array = xp.asanyarray = _asarray
xp.zeros = _creation("zeros")
xp.ones = _creation("ones")
xp.empty = _creation("empty")
xp.full = _creation("full")
xp.zeros_like = _like("zeros")
xp.ones_like = _like("ones")
xp.empty_like = _like("empty")
xp.full_like = _like("full")
xp.arange = _arange
xp.eye = _eye
xp.ascontiguousarray = lambda x, dtype=None, **kwargs: new(x.shape, np.dtype(dtype) if dtype else x.dtype)
xp.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
    # Windows of no data are a new meta array: real strides over the single element would point outside it.
    as_strided=lambda x, shape=None, strides=None, **kwargs: new(tuple(shape), x.dtype)))
xp.linalg = types.SimpleNamespace(**{k: getattr(np.linalg, k) for k in dir(np.linalg) if not k.startswith("_")})


# --- the backend interface ----------------------------------------------------------------------------

def asarray(data, dtype=None):
    return _asarray(data, dtype)


def to_numpy(array):
    raise NotImplementedError("Cannot copy out of meta tensor; no data!")


def from_numpy(array):
    """A meta array with the shape and dtype of a host array (its values are dropped)."""
    return new(_shape(array), np.asarray(array).dtype if not isinstance(array, np.ndarray) else array.dtype)


def empty_like_shape(shape, dtype):
    return new(shape, dtype)


def scratch(shape, dtype, slot=0):
    """A temporary for one op call (the cpu backend reuses its memory, Note [scratch buffers]); a new array here."""
    return new(shape, dtype)


def broadcast_to(array, shape):
    return xp.broadcast_to(array, shape)


def matmul(a, b, out=None):
    """a @ b: its shape and dtype (`out`, a meta array too, holds nothing to write; the result is returned)."""
    return a @ b
