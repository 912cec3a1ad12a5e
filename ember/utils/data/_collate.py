"""default_collate (samples -> one batch) and default_convert (arrays -> tensors, no batching).

Both recurse through dicts, named tuples, tuples and lists. Leaves follow PyTorch: tensors are
stacked, NumPy arrays become tensors and are stacked, Python floats give float64, ints int64, bools
bool, NumPy scalars keep their dtype, and strings and bytes stay lists.
"""
import collections.abc
import copy
import re

import numpy as np

from ... import _dtype
from ..._tensor import Tensor, _make
from ...ops.creation import as_tensor, tensor
from ...ops.joining import stack

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map"]

# NumPy dtype kinds a tensor cannot hold: bytes (S, a), unicode (U), objects (O)
_STRING_OR_OBJECT_DTYPE = re.compile(r"[SaUO]")

_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                  "found {}")


def _rebuild_like(sample, values):
    """values (a dict or list of converted parts) in `sample`'s container type when it can be rebuilt."""
    try:
        if isinstance(sample, (collections.abc.MutableMapping, collections.abc.MutableSequence)):
            clone = copy.copy(sample)           # keeps the subclass and any extra state
            items = values.items() if isinstance(values, dict) else enumerate(values)
            for key, value in items:
                clone[key] = value
            return clone
        return type(sample)(values)
    except TypeError:                           # a container that cannot be built this way
        return values


def default_convert(data):
    """NumPy arrays and scalars -> tensors, recursively; tuples become lists; nothing is batched."""
    if isinstance(data, Tensor):
        return data
    kind = type(data)
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "string_", "bytes_"):
        if isinstance(data, np.ndarray) and _STRING_OR_OBJECT_DTYPE.search(data.dtype.str):
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_like(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):          # named tuple
        return kind(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]                     # PyTorch turns tuples into lists
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_like(data, [default_convert(d) for d in data])
    return data


def collate(batch, *, collate_fn_map=None):
    """Merge a list of samples: the leaf type's handler in collate_fn_map (exact type first, then
    isinstance), else recurse through mappings, named tuples and sequences."""
    elem = batch[0]
    kind = type(elem)
    if collate_fn_map is not None:
        if kind in collate_fn_map:
            return collate_fn_map[kind](batch, collate_fn_map=collate_fn_map)
        for leaf_type, fn in collate_fn_map.items():
            if isinstance(elem, leaf_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_like(elem, {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                                    for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):          # named tuple
        return kind(*(collate(list(samples), collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(list(samples), collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns                                            # PyTorch returns tuples as lists
        return _rebuild_like(elem, columns)
    raise TypeError(_COLLATE_ERROR.format(kind))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    first = batch[0]
    shape, dtype, device = first._array.shape, first._array.dtype, first.device
    if all(type(t) is Tensor and not t.requires_grad and t._array.shape == shape and t._array.dtype == dtype
           and t.device == device for t in batch):
        # Measured: ember.stack (cat of unsqueezed views through autograd) is ~9x slower than the
        # backend's own stack for a batch of 256 small samples; with no gradients to track the
        # arrays can be stacked directly.
        return _make(first._backend().xp.stack([t._array for t in batch]), device)
    return stack(batch, 0)                     # mixed shapes (its error names them), dtypes or autograd


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    if _STRING_OR_OBJECT_DTYPE.search(batch[0].dtype.str):
        raise TypeError(_COLLATE_ERROR.format(batch[0].dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return as_tensor(batch)


def collate_float_fn(batch, *, collate_fn_map=None):
    return tensor(batch, dtype=_dtype.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return tensor(batch)                       # int64, or bool for a batch of bools


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Stack a list of samples into a batch, keeping the samples' structure (see the module doc)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
