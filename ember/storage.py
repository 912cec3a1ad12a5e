"""UntypedStorage: the memory a tensor views, as PyTorch exposes it (Tensor.untyped_storage(), set_).

A CPU tensor's data is a NumPy array, often a view; the storage is the memory of the array at the root
of its `.base` chain (the array that owns it). Tensors viewing one root share one storage: the same
UntypedStorage object while it is alive, and always equal ones (same data_ptr). The storage is untyped:
its size is in bytes, and a tensor reads it with its own dtype from its storage_offset (in elements).
"""
import weakref

import numpy as np

__all__ = ["UntypedStorage"]

_LIVE = weakref.WeakValueDictionary()          # id(root) -> its UntypedStorage (the storage keeps root alive)


def root_of(array):
    """The array at the root of array's .base chain (the one over the whole memory)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def address(array):
    return array.__array_interface__["data"][0]


def flat_bytes(root):
    """root's memory as a flat uint8 array, a view (so arrays made from it lead back to root), when root is
    dense; otherwise a byte window from its lowest to its highest address."""
    if root.size == 0:
        return np.empty(0, np.uint8)
    if root.flags.c_contiguous:
        return root.reshape(-1).view(np.uint8)
    order = sorted(range(root.ndim), key=lambda d: -abs(root.strides[d]))
    ordered = root.transpose(order)
    if ordered.flags.c_contiguous and all(s >= 0 for s in root.strides):
        return ordered.reshape(-1).view(np.uint8)
    low = sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s > 0) + root.itemsize
    start = address(root) + low
    window = _Window({"version": 3, "shape": (high - low,), "typestr": "|u1", "strides": None,
                      "data": (start, not root.flags.writeable)}, root)
    return np.asarray(window)


class _Window:
    """Hands np.asarray a byte range of another array's memory (and keeps that array alive)."""

    def __init__(self, interface, owner):
        self.__array_interface__ = interface
        self.owner = owner


class UntypedStorage:
    """The bytes under one or more tensors. nbytes(), size() (bytes too), data_ptr(), element access."""
    __slots__ = ("_root", "_bytes", "__weakref__")

    def __init__(self, size=0, *, device=None):
        if isinstance(size, np.ndarray):          # internal: the storage of an existing root array
            self._root = size
        else:
            self._root = np.zeros(int(size), np.uint8)
        self._bytes = flat_bytes(self._root)

    @classmethod
    def of(cls, array):
        """The storage of a tensor's array (the same object for every array over one root, while it lives)."""
        root = root_of(array)
        storage = _LIVE.get(id(root))
        if storage is None or storage._root is not root:
            storage = cls(root)
            _LIVE[id(root)] = storage
        return storage

    def nbytes(self):
        return self._bytes.size

    def size(self):
        return self._bytes.size

    def __len__(self):
        return self._bytes.size

    def element_size(self):
        return 1

    def data_ptr(self):
        return address(self._bytes) if self._bytes.size else 0

    @property
    def device(self):
        from ._device import CPU
        return CPU

    @property
    def is_cuda(self):
        return False

    def is_shared(self):
        return False

    def type(self):
        return "ember.storage.UntypedStorage"

    def __getitem__(self, index):
        value = self._bytes[index]
        return value.tolist() if isinstance(index, slice) else int(value)

    def __setitem__(self, index, value):
        self._bytes[index] = value

    def tolist(self):
        return self._bytes.tolist()

    def __eq__(self, other):
        if not isinstance(other, UntypedStorage):
            return NotImplemented
        return self.data_ptr() == other.data_ptr() and self.nbytes() == other.nbytes()

    def __hash__(self):
        return hash((self.data_ptr(), self.nbytes()))

    def __repr__(self):
        body = "\n".join(f" {b}" for b in self._bytes.tolist())
        return f"{body}\n[ember.storage.UntypedStorage(device=cpu) of size {self.nbytes()}]"

    def view(self, dtype, shape, strides, offset):
        """An array of `dtype` over this storage: `shape`, `strides` and `offset` in elements (checked)."""
        itemsize = np.dtype(dtype).itemsize
        check_bounds(shape, strides, offset, itemsize, self.nbytes())
        if any(n == 0 for n in shape):
            offset = 0
        return np.ndarray(tuple(shape), dtype, buffer=self._bytes, offset=offset * itemsize,
                          strides=tuple(s * itemsize for s in strides))


def check_bounds(shape, strides, offset, itemsize, nbytes):
    """PyTorch's setStorage check: the elements of this geometry lie within nbytes of storage."""
    if len(shape) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)} and strides="
                           f"{list(strides)}")
    if any(s < 0 for s in strides):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(strides)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    needed = 0 if any(n == 0 for n in shape) else itemsize * (offset + 1 + sum((n - 1) * s for n, s in
                                                                              zip(shape, strides)))
    if needed > nbytes:
        raise RuntimeError(f"setStorage: sizes {list(shape)}, strides {list(strides)}, storage offset {offset}, and "
                           f"itemsize {itemsize} requiring a storage size of {needed} are out of bounds for storage "
                           f"of size {nbytes}")
