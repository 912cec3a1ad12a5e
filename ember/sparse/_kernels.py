"""NumPy kernels of sparse COO tensors: coalesce, to_dense/from_dense, transposes, unsqueeze, sums, the
elementwise sums and products, and the matrix products (sparse @ dense, dense @ sparse, sparse @ sparse).
Each takes and returns SparseCOOArray storages (ember/sparse/_coo_array.py) and ndarrays; none writes into
an array it did not allocate (a storage's arrays may be shared with views, values() aliases and the caller)."""
import weakref

import numpy as np

from .._backends import array_module
from ._coo_array import SparseCOOArray

_INDEX = np.int64


def check_indices(indices, shape):
    """PyTorch's invariants of COO indices (ember checks them always: a bad index reads or writes out of bounds)."""
    if not indices.shape[1]:
        return
    for d in range(indices.shape[0]):
        low, high = int(indices[d].min()), int(indices[d].max())
        if low < 0:
            raise RuntimeError(f"found negative index {low} for dim {d}")
        if high >= shape[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {shape[d]} but found index "
                               f"{high}")


def check_arrays(indices, values, shape):
    """Every invariant of a storage built from outside data (a checkpoint, a pickle), before any kernel runs."""
    if not (isinstance(indices, np.ndarray) and isinstance(values, np.ndarray)):   # host arrays, as loaded
        raise RuntimeError("a sparse tensor's indices and values must be arrays")
    if indices.dtype != _INDEX or indices.ndim != 2:
        raise RuntimeError(f"indices must be an int64 sparse_dim x nnz array, got {indices.dtype} of shape "
                           f"{list(indices.shape)}")
    shape = tuple(shape)
    if not all(type(n) is int and n >= 0 for n in shape):
        raise RuntimeError(f"a sparse tensor's size must be non-negative ints, got {shape}"[:300])
    sparse_dim, nnz = indices.shape
    if values.ndim < 1 or values.shape[0] != nnz or tuple(values.shape[1:]) != shape[sparse_dim:] or \
            len(shape) != sparse_dim + values.ndim - 1:
        raise RuntimeError(f"a sparse tensor of size {list(shape)} with indices of shape {list(indices.shape)} cannot "
                           f"hold values of shape {list(values.shape)}")
    check_indices(indices, shape)


def linear(indices, dims):
    """Row-major positions of the entries over the sparse dims `dims` (indices are in bounds)."""
    xp = array_module(indices)
    if indices.shape[0] == 0 or indices.shape[1] == 0:
        return xp.zeros(indices.shape[1], _INDEX)
    return xp.ravel_multi_index(tuple(indices), tuple(dims))


def repeat_groups(counts):
    """repeat(arange(len(counts)), counts): the group of each of sum(counts) positions. On a device through
    searchsorted over the running totals: CuPy before 14 refuses an array as repeat's counts."""
    xp = array_module(counts)
    if xp is np:                                  # the host: repeat itself
        return xp.repeat(xp.arange(counts.shape[0], dtype=_INDEX), counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if counts.shape[0] else 0
    return xp.searchsorted(ends, xp.arange(total, dtype=_INDEX), side="right").astype(_INDEX, copy=False)


def _run_starts(sorted_keys):
    """Where each run of equal keys starts in a sorted key array."""
    xp = array_module(sorted_keys)
    first = xp.empty(sorted_keys.shape[0], bool)
    first[:1] = True
    xp.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return xp.flatnonzero(first)


def _sum_runs(values, starts):
    """The sums of the runs of rows beginning at `starts`, in values' dtype (bool: any, as PyTorch adds bools)."""
    xp = array_module(values)
    if values.dtype == bool:
        return xp.logical_or.reduceat(values, starts, axis=0)
    return xp.add.reduceat(values, starts, axis=0, dtype=values.dtype)     # (int8 would widen)


def coalesce(a):
    """Entries sorted row-major, repeated positions summed (PyTorch's coalesce); `a` itself if already so."""
    if a.coalesced:
        return a
    if a.indices.shape[1] < 2:
        return SparseCOOArray(a.indices, a.values, a.shape, True)
    keys = linear(a.indices, a.shape[:a.indices.shape[0]])
    order = a.xp.argsort(keys, kind="stable")
    starts = _run_starts(keys[order])
    values = a.values[order]
    if starts.shape[0] != values.shape[0]:
        values = _sum_runs(values, starts)
    return SparseCOOArray(a.indices[:, order[starts]], values, a.shape, True)


def segment_sum(keys, data, n):
    """(n, *data.shape[1:]) zeros with row k the sum of the rows of data whose key is k."""
    xp = array_module(data)
    out = xp.zeros((n,) + data.shape[1:], data.dtype)
    if keys.shape[0]:
        if not bool(xp.all(keys[1:] >= keys[:-1])):
            order = xp.argsort(keys, kind="stable")
            keys, data = keys[order], data[order]
        starts = _run_starts(keys)
        out[keys[starts]] = _sum_runs(data, starts)
    return out


def to_dense(a):
    """The strided array a sparse storage stands for (repeated entries add up)."""
    xp = a.xp
    if a.indices.shape[0] == 0:                   # no sparse dims: every entry is the whole (dense) tensor
        return a.values.sum(axis=0) if a.values.shape[0] else xp.zeros(a.shape, a.values.dtype)
    out = xp.zeros(a.shape, a.values.dtype)
    if a.indices.shape[1]:
        where = tuple(a.indices)
        if a.coalesced:
            out[where] = a.values
        else:
            xp.add.at(out, where, a.values)
    return out


def from_dense(array, sparse_dim):
    """The coalesced sparse storage of a strided array: an entry for each position of the first sparse_dim
    dims where the rest of the array is not all zeros (NaN counts as non-zero, as in PyTorch)."""
    xp = array_module(array)
    if sparse_dim == 0:
        n = int(bool(xp.any(array != 0)))
        values = array.reshape((1,) + array.shape)[:n].copy()
        return SparseCOOArray(xp.zeros((0, n), _INDEX), values, array.shape, True)
    nonzero = array != 0
    if sparse_dim < array.ndim:
        nonzero = nonzero.any(axis=tuple(range(sparse_dim, array.ndim)))
    where = xp.nonzero(nonzero)
    indices = xp.stack(where).astype(_INDEX, copy=False)
    return SparseCOOArray(indices, array[where], array.shape, True)


def values_at(a, indices):
    """The values of sparse storage `a` at the positions `indices` (sparse_dim, n), zeros where `a` has no
    entry: (n, *dense shape)."""
    c = coalesce(a)
    dims = c.shape[:c.indices.shape[0]]
    keys, wanted = linear(c.indices, dims), linear(indices, dims)
    xp = c.xp
    out = xp.zeros((indices.shape[1],) + c.values.shape[1:], c.values.dtype)
    if keys.shape[0] and wanted.shape[0]:
        pos = xp.minimum(xp.searchsorted(keys, wanted), keys.shape[0] - 1)
        found = keys[pos] == wanted
        out[found] = c.values[pos[found]]
    return out


# --- reshaping -----------------------------------------------------------------------------------------------

def transpose(a, d0, d1):
    """Swap two sparse dims (PyTorch transposes sparse dims only)."""
    sd = a.indices.shape[0]
    if d0 == d1:
        return SparseCOOArray(a.indices, a.values, a.shape, a.coalesced)
    if d0 >= sd or d1 >= sd:
        raise RuntimeError(f"sparse transpose: transposed dimensions must be sparse Got sparse_dim: {sd}, d0: {d0}, "
                           f"d1: {d1}")
    order = list(range(sd))
    order[d0], order[d1] = d1, d0
    shape = list(a.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return SparseCOOArray(a.indices[order], a.values, shape, False)


def permute(a, dims):
    """Reorder the dims: sparse dims among themselves, dense dims among themselves."""
    sd = a.indices.shape[0]
    if sorted(dims[:sd]) != list(range(sd)):
        raise RuntimeError("permute(sparse_coo): transpositions between sparse and dense dimensions are not "
                           "allowed.Only transpositions within sparse and dense dimensions are supported.")
    values = a.values.transpose((0,) + tuple(d - sd + 1 for d in dims[sd:])) if a.values.ndim > 1 else a.values
    in_order = list(dims[:sd]) == list(range(sd))
    return SparseCOOArray(a.indices[list(dims[:sd])], values, [a.shape[d] for d in dims], a.coalesced and in_order)


def unsqueeze(a, dim):
    """A new size-1 dim at `dim`: a sparse one (index 0) up to sparse_dim, else a dense one."""
    sd = a.indices.shape[0]
    shape = a.shape[:dim] + (1,) + a.shape[dim:]
    if dim <= sd:
        indices = a.xp.concatenate([a.indices[:dim], a.xp.zeros((1, a.indices.shape[1]), _INDEX), a.indices[dim:]])
        return SparseCOOArray(indices, a.values, shape, a.coalesced)
    return SparseCOOArray(a.indices, a.xp.expand_dims(a.values, dim - sd + 1), shape, a.coalesced)


# --- reductions ----------------------------------------------------------------------------------------------

def total(a, dtype=None):
    """The sum of all elements, a 0-d array (repeated entries count, as they add up in to_dense)."""
    return a.xp.asarray(a.values.sum(dtype=dtype))


def sum_dims(a, dims, dtype=None, keepdim=False):
    """Sum over `dims` (sorted, non-negative): sparse while a sparse dim is left (or keepdim), else dense."""
    sd = a.indices.shape[0]
    values = a.values if dtype is None else a.values.astype(dtype, copy=False)
    dense_axes = tuple(d - sd + 1 for d in dims if d >= sd)
    if dense_axes:
        values = values.sum(axis=dense_axes, keepdims=keepdim)
    summed = [d for d in dims if d < sd]
    shape = [1 if d in dims else n for d, n in enumerate(a.shape)] if keepdim else \
        [n for d, n in enumerate(a.shape) if d not in dims]
    if not summed:
        return SparseCOOArray(a.indices, values if dense_axes or dtype is None else values.copy(), shape,
                              a.coalesced)
    if keepdim:
        indices = a.indices.copy()
        indices[summed] = 0
        return coalesce(SparseCOOArray(indices, values, shape))
    kept = [d for d in range(sd) if d not in summed]
    if not kept:
        return a.xp.asarray(values.sum(axis=0))
    return coalesce(SparseCOOArray(a.indices[kept], values, shape))


def softmax_values(c, dim, groups, log):
    """The values of (log_)softmax along dim of a coalesced storage: over the entries of each group
    ((group of each entry, count), for a sparse dim) or along the values' axis (a dense dim)."""
    values, xp = c.values, c.xp
    if not values.shape[0]:
        return values.copy()
    if groups is None:
        axis = dim - c.indices.shape[0] + 1
        shifted = values - values.max(axis=axis, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=axis, keepdims=True)
    else:
        inverse, n = groups
        top = xp.full((n,) + values.shape[1:], -np.inf, values.dtype)
        xp.maximum.at(top, inverse, values)
        shifted = values - top[inverse]
        exp = xp.exp(shifted)
        total = xp.zeros_like(top)
        xp.add.at(total, inverse, exp)
        total = total[inverse]
    return shifted - xp.log(total) if log else exp / total


# --- elementwise ---------------------------------------------------------------------------------------------

def is_scalar(x):
    """A Python or NumPy scalar, or a 0-d array of any device."""
    return isinstance(x, (int, float, complex, np.generic)) or \
        (x.__class__ is not SparseCOOArray and getattr(x, "ndim", None) == 0)


def _check_same_layout(name, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(f"{name}: expected sizes of 'self' and 'other' to match, but {list(a.shape)} != "
                           f"{list(b.shape)}")
    if a.indices.shape[0] != b.indices.shape[0]:
        raise RuntimeError(f"{name}: expected 'self' and 'other' to have same sparse dimensions, but got "
                           f"{a.indices.shape[0]} != {b.indices.shape[0]}")


def add(x, y):
    """x + y for a sparse storage and a sparse storage (sparse, coalesced) or a strided array (strided).
    A scalar operand is refused, as PyTorch refuses add(sparse, dense) for it."""
    if isinstance(x, SparseCOOArray) and isinstance(y, SparseCOOArray):
        _check_same_layout("add", x, y)
        dtype, xp = np.result_type(x.values.dtype, y.values.dtype), x.xp
        values = xp.concatenate([x.values.astype(dtype, copy=False), y.values.astype(dtype, copy=False)])
        return coalesce(SparseCOOArray(xp.concatenate([x.indices, y.indices], axis=1), values, x.shape))
    sparse, dense = (x, y) if isinstance(x, SparseCOOArray) else (y, x)
    xp = sparse.xp
    if is_scalar(dense) or not isinstance(dense, xp.ndarray):
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    if np.broadcast_shapes(dense.shape, sparse.shape) != tuple(sparse.shape):
        raise RuntimeError(f"add: expected sizes of 'self' and 'other' to match, but {list(dense.shape)} != "
                           f"{list(sparse.shape)}")
    out = xp.array(xp.broadcast_to(dense, sparse.shape), dtype=np.result_type(dense.dtype, sparse.values.dtype))
    add_into(out, sparse)
    return out


def add_into(out, a):
    """out += a, in place, for a strided out of a's shape."""
    if not a.indices.shape[1]:
        return
    if a.indices.shape[0]:
        a.xp.add.at(out, tuple(a.indices), a.values)
    else:                                         # no sparse dims: each entry adds to the whole tensor
        out += a.values.sum(axis=0)


def negative(x):
    if isinstance(x, SparseCOOArray):
        return SparseCOOArray(x.indices, -x.values, x.shape, x.coalesced)
    return -x


def multiply(a, b):
    """a * b for a sparse storage a and a scalar (same pattern), a strided array broadcast to a's shape (a's
    pattern) or a sparse storage (the positions both have)."""
    if is_scalar(b):
        return SparseCOOArray(a.indices, a.values * b, a.shape, a.coalesced)
    if isinstance(b, SparseCOOArray):
        _check_same_layout("mul", a, b)
        a, b = coalesce(a), coalesce(b)
        dims = a.shape[:a.indices.shape[0]]
        ka, kb = linear(a.indices, dims), linear(b.indices, dims)      # each sorted, without repeats
        ia = a.xp.flatnonzero(a.xp.isin(ka, kb))
        ib = a.xp.searchsorted(kb, ka[ia])
        return SparseCOOArray(a.indices[:, ia], a.values[ia] * b.values[ib], a.shape, True)
    if not isinstance(b, a.xp.ndarray):
        raise TypeError(f"mul: unsupported operand {type(b).__name__} for a sparse tensor")
    if np.broadcast_shapes(a.shape, b.shape) != tuple(a.shape):
        raise RuntimeError(f"mul: the dense operand of shape {list(b.shape)} does not broadcast to the sparse "
                           f"operand's shape {list(a.shape)}")
    factors = a.xp.broadcast_to(b, a.shape)[tuple(a.indices)]
    return SparseCOOArray(a.indices, a.values * factors, a.shape, a.coalesced)


def map_values(a, fn, name):
    """fn (elementwise, fn(0) == 0) of a sparse storage: applied to its coalesced values, as PyTorch's
    zero-preserving unary ops (sin, abs, sqrt, floor ...) coalesce first. A result made from an uncoalesced
    storage records it (SparseCOOArray.origin), so that the in-place form, which PyTorch refuses on an
    uncoalesced tensor, is refused when the result is written back into it."""
    c = coalesce(a)
    out = SparseCOOArray(c.indices, fn(c.values), c.shape, True)
    if not a.coalesced:
        out.origin = (weakref.ref(a), name)
    return out


def power(a, exponent, fn):
    """a ** exponent (fn: the dense power of an array) for a non-zero scalar exponent; 0 would fill every position."""
    if exponent == 0:
        raise RuntimeError("pow: cannot raise to zeroth power on sparse tensor; it would make the result tensor dense")
    return map_values(a, fn, "pow")


def zero_preserving(name):
    """Decorate forward(xp, x, *args), an elementwise function with forward(0) == 0 written for arrays: on a
    sparse storage it runs on the coalesced values (map_values). For the composite forwards (sign, frac,
    nan_to_num ...): a plain NumPy ufunc reaches the storage's __array_ufunc__, which does the same."""
    def decorate(forward):
        def run(xp, x, *args):
            if x.__class__ is SparseCOOArray:
                return map_values(x, lambda values: forward(xp, values, *args), name)
            return forward(xp, x, *args)
        run.__name__, run.__doc__ = forward.__name__, forward.__doc__
        return run
    return decorate


def empty_like(a, dtype=None):
    """No entries, a's shape and sparse dims (PyTorch's zeros_like/empty_like of a sparse tensor)."""
    sd = a.indices.shape[0]
    xp = a.xp
    values = xp.zeros((0,) + a.values.shape[1:], a.values.dtype if dtype is None else dtype)
    return SparseCOOArray(xp.zeros((sd, 0), _INDEX), values, a.shape, True)


def divide(a, b):
    """a / b for a sparse storage a and a scalar or 0-d divisor (PyTorch allows no other)."""
    if not is_scalar(b):
        raise RuntimeError(f"Sparse division requires a scalar or zero-dim dense tensor divisor (got shape "
                           f"{list(b.shape)} for divisor)")
    return SparseCOOArray(a.indices, a.values / b, a.shape, a.coalesced)


# --- matrix products -----------------------------------------------------------------------------------------

def _check_matrix(a):
    if a.ndim != 2:
        raise RuntimeError(f"sparse matrix product: expected 2-D operands, got a {a.ndim}-D one")
    if isinstance(a, SparseCOOArray) and a.indices.shape[0] != 2:
        raise RuntimeError(f"sparse matrix product: expected a sparse matrix with 2 sparse and 0 dense dimensions, "
                           f"got {a.indices.shape[0]} sparse and {a.values.ndim - 1} dense dimensions")


def matmul(x, y):
    """x @ y for 2-D operands, at least one a sparse storage: strided unless both are sparse."""
    _check_matrix(x)
    _check_matrix(y)
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({x.shape[0]}x{x.shape[1]} and "
                           f"{y.shape[0]}x{y.shape[1]})")
    if isinstance(x, SparseCOOArray) and isinstance(y, SparseCOOArray):
        return _sparse_sparse(x, y)
    if isinstance(x, SparseCOOArray):
        rows, cols = x.indices
        return segment_sum(rows, x.values[:, None] * y[cols], x.shape[0])      # row i: sum of v * y[col]
    rows, cols = y.indices
    # x @ y = (y.T @ x.T).T: column j of the result sums v * x[:, row] over y's entries in column j
    return y.xp.ascontiguousarray(segment_sum(cols, y.values[:, None] * x[:, rows].T, y.shape[1]).T)


def _sparse_sparse(a, b):
    """Sparse @ sparse: every entry (i, k) of a meets b's entries in row k (b coalesced: rows sorted)."""
    a, b = coalesce(a), coalesce(b)
    (a_rows, a_cols), (b_rows, b_cols), xp = a.indices, b.indices, a.xp
    start = xp.searchsorted(b_rows, a_cols, "left")
    counts = xp.searchsorted(b_rows, a_cols, "right") - start
    a_pos = repeat_groups(counts)
    b_pos = start[a_pos] + xp.arange(a_pos.shape[0]) - (xp.cumsum(counts) - counts)[a_pos]
    indices = xp.stack([a_rows[a_pos], b_cols[b_pos]]).astype(_INDEX, copy=False)
    return coalesce(SparseCOOArray(indices, a.values[a_pos] * b.values[b_pos], (a.shape[0], b.shape[1])))


def vdot(x, y):
    """Sum of conj(x) * y over all elements (the gradient of a scalar factor, ops/arithmetic.py _times)."""
    x = to_dense(x) if isinstance(x, SparseCOOArray) else x
    y = to_dense(y) if isinstance(y, SparseCOOArray) else y
    xp = array_module(x)
    return xp.asarray(xp.vdot(x, y))
