"""NumPy kernels that pick and join parts of sparse COO storages: cat and stack, index_select, narrow_copy and the
batched product bmm (sparse @ strided, 3-d). Each takes and returns SparseCOOArray storages (and ndarrays) and
writes into no array it did not allocate; the checks PyTorch's sparse kernels make on their operands come first,
with PyTorch's messages."""
import itertools

import numpy as np

from ._coo_array import SparseCOOArray
from ._kernels import repeat_groups, segment_sum, unsqueeze

_INDEX = np.int64


def _cpu_backend_error(op):
    return NotImplementedError(f"Could not run 'aten::{op}' with arguments from the 'CPU' backend. This could be "
                               "because the operator doesn't exist for this backend, or was omitted during the "
                               "selective/custom build process (if using custom build).")


def _check_joinable(arrays):
    """PyTorch's checks of cat's operands: all sparse (a dense first operand fails as PyTorch's does, asking the
    CPU backend for its values), with one sparse_dim and dense_dim."""
    if not isinstance(arrays[0], SparseCOOArray):
        raise _cpu_backend_error("_values")
    first = arrays[0]
    dims = (first.indices.shape[0], first.values.ndim - 1)
    for i, a in enumerate(arrays):
        if not isinstance(a, SparseCOOArray):
            raise RuntimeError(f"Concatenating sparse tensors, but a dense tensor was found at position {i}.")
        if (a.indices.shape[0], a.values.ndim - 1) != dims:
            raise RuntimeError(f"All tensors must have the same sparse_dim and dense_dim: {dims[0]}, {dims[1]}, but "
                               f"tensor at position {i} has {a.indices.shape[0]}, {a.values.ndim - 1}.")


def concatenate(arrays, axis=0):
    """cat of sparse storages (one dtype and matching shapes: ember's cat checks and promotes first). Along a sparse dim the entries are joined
    with their indices shifted; along a dense dim each entry's values are padded with zeros where the other
    operands' slices go (PyTorch's layout of the result). Coalesced only with at most one entry, as in PyTorch."""
    arrays = list(arrays)
    _check_joinable(arrays)
    first = arrays[0]
    sd = first.indices.shape[0]
    sizes = [a.shape[axis] for a in arrays]
    shape = list(first.shape)
    shape[axis] = sum(sizes)
    offsets = list(itertools.accumulate([0] + sizes[:-1]))
    xp = first.xp
    if axis < sd:
        indices = []
        for a, offset in zip(arrays, offsets):
            shifted = a.indices.copy()
            shifted[axis] += offset
            indices.append(shifted)
        values = [a.values for a in arrays]
    else:
        axis_v = axis - sd + 1
        indices = [a.indices for a in arrays]
        values = []
        for a, offset, n in zip(arrays, offsets, sizes):
            pad = [(0, 0)] * a.values.ndim
            pad[axis_v] = (int(offset), shape[axis] - int(offset) - n)
            values.append(xp.pad(a.values, pad))
    indices = xp.concatenate(indices, axis=1) if indices else xp.zeros((sd, 0), _INDEX)
    values = xp.concatenate(values, axis=0)
    return SparseCOOArray(indices, values, shape, values.shape[0] <= 1)


def stack(arrays, axis=0):
    """stack of sparse storages of one shape: each gets a size-1 dim at `axis` (sparse up to sparse_dim), then cat."""
    arrays = list(arrays)
    _check_joinable(arrays)
    return concatenate([unsqueeze(a, axis) for a in arrays], axis)


def index_select(a, dim, index):
    """The slices a[..., index[p], ...] along dim, p in order (index: in range, negative ones wrapped).
    Along a sparse dim the entries of each picked slice follow in their stored order, as in PyTorch."""
    sd, xp = a.indices.shape[0], a.xp
    shape = list(a.shape)
    shape[dim] = index.shape[0]
    if dim >= sd:
        values = xp.take(a.values, index, axis=dim - sd + 1)
        return SparseCOOArray(a.indices, values, shape, a.indices.shape[1] <= 1)
    keys = a.indices[dim]
    order = xp.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    start = xp.searchsorted(sorted_keys, index, "left")
    counts = xp.searchsorted(sorted_keys, index, "right") - start
    position = repeat_groups(counts)                                            # the output slice of each entry
    within = xp.arange(position.shape[0]) - (xp.cumsum(counts) - counts)[position]
    picked = order[start[position] + within]
    indices = a.indices[:, picked]
    indices[dim] = position
    return SparseCOOArray(indices, a.values[picked], shape, picked.shape[0] <= 1)


def narrow(a, dim, start, length):
    """a's slice start:start + length along dim, as a new storage (coalesced when a is: the order is kept)."""
    sd = a.indices.shape[0]
    shape = list(a.shape)
    shape[dim] = length
    if dim >= sd:
        index = (slice(None),) * (dim - sd + 1) + (slice(start, start + length),)
        return SparseCOOArray(a.indices, a.values[index].copy(), shape, a.coalesced)
    keep = (a.indices[dim] >= start) & (a.indices[dim] < start + length)
    indices = a.indices[:, keep]
    indices[dim] -= start
    return SparseCOOArray(indices, a.values[keep], shape, a.coalesced)


def bmm(x, y):
    """x @ y for a sparse (batch, n, k) storage with three sparse dims and a strided (batch, k, m) array: batch b's
    row i sums v * y[b, k] over x's entries (b, i, k)."""
    batch, rows, _ = x.shape
    b, i, k = x.indices
    values = x.values.reshape((-1,) + (1,) * (y.ndim - 2)) * y[b, k]
    out = segment_sum(b * rows + i, values, batch * rows)
    return out.reshape(batch, rows, y.shape[2])
