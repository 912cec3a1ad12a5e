"""The pickle writer behind ember.save: it produces PyTorch's checkpoint format.

_Pickler writes protocol-2 pickles that name PyTorch's objects (torch._utils._rebuild_tensor_v2,
torch.FloatStorage, ...), so torch.load(weights_only=True) reads them; ember's classes and functions with a
PyTorch counterpart are written under torch's names, and modules with torch's attribute set
(ember/_torch_globals.py), so torch.load(weights_only=False) rebuilds torch's; _StorageTable decides which
storages the tensors are saved in (views of one NumPy array share one). The zip/legacy container and
the atomic write are in ember/serialization.py; the reader side is ember/_weights_only_unpickler.py.
"""
import collections
import struct
import sys

import numpy as np

from ._device import device
from ._dtype import dtype
from ._tensor import Size, Tensor
from ._torch_globals import module_state_for_torch, torch_name
from ._weights_only_globals import STORAGE_TYPES
from .sparse._csr import SparseCompressedArray as _SparseCompressed

_DTYPE_TO_STORAGE = {dtype_name: name for name, dtype_name in STORAGE_TYPES.items()}


class _Storage:
    """One storage to write: a flat little-endian array, its key and where it lives."""
    __slots__ = ("key", "flat", "dtype", "location", "root", "memo")

    def __init__(self, key, flat, dtype, location, root):
        self.key, self.flat, self.dtype, self.location, self.root, self.memo = key, flat, dtype, location, root, None


class _StorageTable:
    """Maps tensors to storages; tensors viewing one NumPy base array of one dtype share a storage."""

    def __init__(self):
        self.entries = []
        self.by_root = {}

    def _new(self, flat, dtype, location, root=None):
        if flat.dtype.byteorder == ">" or (flat.dtype.byteorder == "=" and sys.byteorder == "big"):
            flat = flat.astype(flat.dtype.newbyteorder("<"))   # storages are little-endian on disk
        entry = _Storage(str(len(self.entries)), flat, dtype, location, root)
        self.entries.append(entry)
        return entry

    def add(self, tensor):
        """(storage, storage_offset, size, stride) describing `tensor` as PyTorch would."""
        dtype, size = tensor.dtype, tuple(tensor.shape)
        location = str(tensor.device)
        if tensor.device.type == "meta":
            raise NotImplementedError("save: meta tensors have no data to save")
        array = tensor._array if tensor.device.type == "cpu" else tensor._backend().to_numpy(tensor._array)
        if location == "cuda":
            location = "cuda:0"
        if array.size == 0:
            return self._new(np.empty(0, array.dtype), dtype, location), 0, size, _contiguous_strides(size)
        shared = self._shared(array, dtype, location) if tensor.device.type == "cpu" else None
        if shared is not None:
            return shared
        flat = np.ascontiguousarray(array).reshape(-1)
        return self._new(flat, dtype, location), 0, size, _contiguous_strides(size)

    def _shared(self, array, dtype, location):
        itemsize = array.dtype.itemsize
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        # A size-1 dim's stride is kept when PyTorch could have it (a channels-last (N, C, 1, 1) tensor's is
        # C, as PyTorch writes it); NumPy's 0 for a new axis becomes the contiguous stride
        strides = tuple(s if n != 1 or (s > 0 and s % itemsize == 0) else c for n, s, c in
                        zip(array.shape, array.strides, _contiguous_strides(array.shape, itemsize)))
        offset = _address(array) - _address(root)
        if offset < 0 or offset % itemsize or any(s < 0 or s % itemsize for s in strides):
            return None
        key = (id(root), array.dtype)
        entry = self.by_root.get(key)
        if entry is None:
            flat = _flat_bytes(root)
            if flat is None or flat.size % itemsize:
                return None
            entry = self.by_root[key] = self._new(flat.view(array.dtype), dtype, location, root)
        return entry, offset // itemsize, tuple(array.shape), tuple(s // itemsize for s in strides)


def _address(array):
    return array.__array_interface__["data"][0]


def _plain(array, device):
    """A strided tensor over a sparse tensor's indices or values array (on the sparse tensor's device), to be saved
    as PyTorch saves them."""
    from ._tensor import _make
    return _make(array, device)


def _flat_bytes(root):
    """The memory of a C- or F-contiguous array as a flat uint8 view (None for anything else)."""
    if root.flags.c_contiguous:
        flat = root.reshape(-1)
    elif root.flags.f_contiguous:
        flat = root.T.reshape(-1)
    else:
        return None
    return flat.view(np.uint8)


def _contiguous_strides(shape, itemsize=1):
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _encode_long(value):
    if value == 0:
        return b""
    data = value.to_bytes((value.bit_length() >> 3) + 1, "little", signed=True)
    if value < 0 and len(data) > 1 and data[-1] == 0xFF and data[-2] & 0x80:
        data = data[:-1]
    return data


class _Pickler:
    """A protocol-2 pickler writing PyTorch's names (torch._utils._rebuild_tensor_v2, torch.FloatStorage...).

    Known types are written directly; anything else goes through its __reduce_ex__(2), as pickle does.
    """

    def __init__(self, storages, legacy=False):
        self.storages, self.legacy = storages, legacy
        self.out, self.memo, self.keep = [], {}, []

    def dump(self, obj):
        self.out.append(b"\x80\x02")
        self.save(obj)
        self.out.append(b".")
        return b"".join(self.out)

    # -- memo
    def _put(self, obj_id, obj=None):
        index = len(self.memo)
        self.memo[obj_id] = index
        if obj is not None:
            self.keep.append(obj)                 # keeps ids unique while we write
        self.out.append(b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index))
        return index

    def _get(self, index):
        self.out.append(b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index))

    def _global(self, module, name):
        token = ("global", module, name)
        if token in self.memo:
            self._get(self.memo[token])
            return
        self.out.append(b"c" + f"{module}\n{name}\n".encode("utf-8"))
        self._put(token)

    def _reduce_call(self, module, name, *args):
        self._global(module, name)
        self._save_tuple_body(args)
        self.out.append(b"R")

    # -- objects
    def save(self, obj):
        t = type(obj)
        if obj is None:
            self.out.append(b"N")
        elif t is bool:
            self.out.append(b"\x88" if obj else b"\x89")
        elif t is int:
            self._save_int(obj)
        elif t is float:
            self.out.append(b"G" + struct.pack(">d", obj))
        elif id(obj) in self.memo:
            self._get(self.memo[id(obj)])
        else:
            self._save_object(obj, t)

    def _save_int(self, value):
        if 0 <= value < 256:
            self.out.append(b"K" + bytes([value]))
        elif 0 <= value < 65536:
            self.out.append(b"M" + struct.pack("<H", value))
        elif -(1 << 31) <= value < (1 << 31):
            self.out.append(b"J" + struct.pack("<i", value))
        else:
            data = _encode_long(value)
            head = b"\x8a" + bytes([len(data)]) if len(data) < 256 else b"\x8b" + struct.pack("<i", len(data))
            self.out.append(head + data)

    def _save_object(self, obj, t):
        if t is str:
            data = obj.encode("utf-8", "surrogatepass")
            self.out.append(b"X" + struct.pack("<I", len(data)) + data)
            self._put(id(obj), obj)
        elif t is bytes:                          # protocol 2's spelling, which torch's loader allows
            self._reduce_call("_codecs", "encode", obj.decode("latin1"), "latin1")
            self._put(id(obj), obj)
        elif t is tuple:
            self._save_tuple(obj)
        elif t is list:
            self.out.append(b"]")
            self._put(id(obj), obj)
            self._batch(obj, b"a", b"e", lambda item: self.save(item))
        elif t is dict:
            self.out.append(b"}")
            self._put(id(obj), obj)
            self._save_items(obj)
        elif t is collections.OrderedDict:
            self._reduce_call("collections", "OrderedDict")
            self._put(id(obj), obj)
            self._save_items(obj)
            if vars(obj):                         # state_dict()._metadata travels as BUILD state
                self.save(dict(vars(obj)))
                self.out.append(b"b")
        elif t is collections.Counter:
            self._reduce_call("collections", "Counter", dict(obj))
            self._put(id(obj), obj)
        elif t in (set, frozenset):
            self._reduce_call("builtins", t.__name__, list(obj))
            self._put(id(obj), obj)
        elif t is complex:
            self._reduce_call("builtins", "complex", obj.real, obj.imag)
            self._put(id(obj), obj)
        elif t is bytearray:
            self._reduce_call("builtins", "bytearray", bytes(obj))
            self._put(id(obj), obj)
        elif isinstance(obj, Tensor):
            self._save_tensor(obj)
            self._put(id(obj), obj)
        elif t is Size:
            self._reduce_call("torch", "Size", tuple(obj))
            self._put(id(obj), obj)
        elif t is device:
            self._reduce_call("torch", "device", *((obj.type,) if obj.index is None else (obj.type, obj.index)))
            self._put(id(obj), obj)
        elif t is dtype:
            self._global("torch", obj.name)
        else:
            self._save_reduce(obj)

    def _save_tuple_body(self, items):
        if not items:
            self.out.append(b")")
            return
        if len(items) > 3:
            self.out.append(b"(")
        for item in items:
            self.save(item)
        self.out.append({1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(items), b"t"))

    def _save_tuple(self, obj):
        if not obj:
            self.out.append(b")")
            return
        if len(obj) > 3:
            self.out.append(b"(")
        for item in obj:
            self.save(item)
        if id(obj) in self.memo:                  # the tuple was reached again through a mutable member
            self.out.append(b"0" * len(obj) if len(obj) <= 3 else b"1")
            self._get(self.memo[id(obj)])
            return
        self.out.append({1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(obj), b"t"))
        self._put(id(obj), obj)

    def _batch(self, items, one, many, save_item, size=1000):
        items = list(items)
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            if len(chunk) == 1:
                save_item(chunk[0])
                self.out.append(one)
            else:
                self.out.append(b"(")
                for item in chunk:
                    save_item(item)
                self.out.append(many)

    def _save_items(self, mapping):
        def save_pair(pair):
            self.save(pair[0])
            self.save(pair[1])
        self._batch(mapping.items(), b"s", b"u", save_pair)

    def _save_tensor(self, tensor):
        parameter = _is_parameter(tensor)
        state = dict(tensor.__dict__) if getattr(tensor, "__dict__", None) else None
        if type(tensor).__name__ == "Buffer":     # nn.Buffer's `persistent` flag is module bookkeeping
            state = None
        sparse = tensor.is_sparse or tensor._array.__class__ is _SparseCompressed      # COO, CSR or CSC
        if parameter:
            name = "_rebuild_parameter_with_state" if state else "_rebuild_parameter"
            self._global("torch._utils", name)
            self.out.append(b"(")
            if sparse:
                self._save_sparse(tensor)
            else:
                self._save_rebuild_v2(tensor, False)
            self.save(tensor.requires_grad)
            self._reduce_call("collections", "OrderedDict")
            if state:
                self.save(state)
            self.out.append(b"tR")
        elif state:
            self._global("torch._tensor", "_rebuild_from_type_v2")
            self.out.append(b"(")
            self._global("torch._utils", "_rebuild_sparse_tensor" if sparse else "_rebuild_tensor_v2")
            self._global("torch", "Tensor")
            if sparse:
                self._sparse_args(tensor)
            else:
                self.out.append(b"(")
                self._rebuild_v2_args(tensor, tensor.requires_grad)
                self.out.append(b"t")
            self.save(state)
            self.out.append(b"tR")
        elif sparse:
            self._save_sparse(tensor)
        else:
            self._save_rebuild_v2(tensor, tensor.requires_grad)

    def _save_sparse(self, tensor):
        # torch._utils._rebuild_sparse_tensor(layout, (indices, values, size, is_coalesced)), as PyTorch pickles
        # a sparse COO tensor (requires_grad is not saved, as in PyTorch)
        self._global("torch._utils", "_rebuild_sparse_tensor")
        self._sparse_args(tensor)
        self.out.append(b"R")

    def _sparse_args(self, tensor):
        """The argument tuple (layout, (indices, values, size, is_coalesced)) of _rebuild_sparse_tensor; for
        CSR/CSC (layout, (compressed_indices, plain_indices, values, size)), as PyTorch pickles them."""
        a = tensor._array
        if a.__class__ is _SparseCompressed:
            self._reduce_call("torch.serialization", "_get_layout", f"torch.sparse_{a.kind}")
            self.save((_plain(a.compressed, tensor._device), _plain(a.plain, tensor._device),
                       _plain(a.values, tensor._device), Size(a.shape)))
        else:
            self._reduce_call("torch.serialization", "_get_layout", "torch.sparse_coo")
            self.save((_plain(a.indices, tensor._device), _plain(a.values, tensor._device), Size(a.shape),
                       bool(a.coalesced)))
        self.out.append(b"\x86")

    def _save_rebuild_v2(self, tensor, requires_grad):
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out.append(b"(")
        self._rebuild_v2_args(tensor, requires_grad)
        self.out.append(b"tR")

    def _rebuild_v2_args(self, tensor, requires_grad):
        storage, offset, size, stride = self.storages.add(tensor)
        self._save_storage(storage)
        self.save(offset)
        self.save(size)
        self.save(stride)
        self.save(bool(requires_grad))
        self._reduce_call("collections", "OrderedDict")

    def _save_storage(self, storage):
        if storage.memo is not None:
            self._get(storage.memo)
            return
        pid = ["storage", None, storage.key, storage.location, storage.flat.size]
        if self.legacy:
            pid.append(None)
        self.out.append(b"(")
        self.save("storage")
        self._global("torch", _DTYPE_TO_STORAGE[storage.dtype.name])
        for item in pid[2:]:
            self.save(item)
        self.out.append(b"tQ")
        storage.memo = self._put(("storage", storage.key))

    def _save_reduce(self, obj):
        import copyreg
        if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
            self._save_global(obj)
            return
        reduce_ex = getattr(obj, "__reduce_ex__", None)
        if reduce_ex is None:
            raise TypeError(f"save: cannot pickle {type(obj).__name__} object")
        rv = reduce_ex(2)
        if isinstance(rv, str):
            self._save_global(obj, rv)
            return
        if not isinstance(rv, tuple) or not 2 <= len(rv) <= 5:
            raise TypeError(f"save: {type(obj).__name__}.__reduce_ex__ returned {rv!r}")
        func, args, state, listitems, dictitems = rv + (None,) * (5 - len(rv))
        if isinstance(state, dict) and _is_module(obj):     # torch's attribute set, so torch.load builds torch's
            state = module_state_for_torch(obj, state)
        if getattr(func, "__name__", "") == "__newobj__" and func is copyreg.__newobj__:
            self._save_global(args[0])
            self._save_tuple_body(args[1:])
            self.out.append(b"\x81")
        else:
            self._save_global(func)
            self._save_tuple_body(tuple(args))
            self.out.append(b"R")
        self._put(id(obj), obj)
        if listitems is not None:
            self._batch(listitems, b"a", b"e", lambda item: self.save(item))
        if dictitems is not None:
            self._batch(dictitems, b"s", b"u", lambda pair: (self.save(pair[0]), self.save(pair[1])))
        if state is not None:
            self.save(state)
            self.out.append(b"b")

    def _save_global(self, obj, name=None):
        mapped = torch_name(obj) if name is None else None
        if mapped is not None:                    # an ember class/function with a PyTorch counterpart: torch's name
            self._global(*mapped)
            return
        module = getattr(obj, "__module__", None)
        name = name or getattr(obj, "__qualname__", None)
        found = sys.modules.get(module) if isinstance(module, str) else None
        for part in (name or "").split("."):
            found = getattr(found, part, None)
        if found is not obj or "<" in (name or ""):
            # Python's own error for it, which is what torch.save raises (a class defined in a function:
            # AttributeError "Can't pickle local object ..."; one not found under its name: PicklingError)
            import pickle
            pickle.dumps(obj, protocol=2)
            raise TypeError(f"save: cannot pickle {obj!r}: it is not found as {module}.{name}")
        self._global(module, name)


def _is_module(obj):
    try:
        from .nn import Module
    except ImportError:
        return False
    return isinstance(obj, Module)


def _is_parameter(tensor):
    if type(tensor) is Tensor:
        return False
    try:
        from .nn import Parameter
    except ImportError:
        return False
    return isinstance(tensor, Parameter)
