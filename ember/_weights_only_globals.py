"""What a checkpoint's pickle may name: the allow-list behind ember/_weights_only_unpickler.py.

It holds the exact-name table of GLOBALs a file may use (ember's own validating rebuild functions
and constructors, storage types, dtypes, a few harmless builtins), the modules that can never be
allow-listed, and the user allow-list (add_safe_globals & co). Nothing here imports by name; the
opcode interpreter that consults these tables is in ember/_weights_only_unpickler.py.
See Note [checkpoint security] in ember/serialization.py.
"""
import collections

import numpy as np


# --- what a file may name -----------------------------------------------------------------------

# Modules that can never be allow-listed, not even by add_safe_globals: they reach the process and
# the file system. (PyTorch blocks sys, os, posix and nt; the rest are as dangerous.)
_BLOCKED_MODULES = frozenset({"sys", "os", "posix", "nt", "subprocess", "importlib", "runpy", "ctypes",
                              "marshal", "pickle", "_pickle", "shutil", "pty", "code", "codeop", "socket",
                              "io", "_io", "pathlib", "tempfile", "multiprocessing", "signal", "webbrowser"})
_BLOCKED_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "open", "getattr", "setattr",
                               "delattr", "globals", "locals", "vars", "breakpoint", "input", "exit", "quit",
                               "memoryview", "help"})
# Python 2 spellings that protocol-2 pickles written by Python 3 still use.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _is_blocked(module, name):
    top = module.split(".", 1)[0]
    return top in _BLOCKED_MODULES or (module == "builtins" and name in _BLOCKED_BUILTINS)


class _Marker:
    """A class name a file may mention (as a type argument) but never call."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


TENSOR = _Marker("torch.Tensor")
PARAMETER = _Marker("torch.nn.parameter.Parameter")


class StorageType(_Marker):
    """torch.FloatStorage & co: names a storage element type; only BINPERSID tuples use it."""
    __slots__ = ("dtype_name",)

    def __init__(self, name, dtype_name):
        super().__init__(name)
        self.dtype_name = dtype_name


# Storage class -> ember dtype name (torch.storage's legacy typed storages).
STORAGE_TYPES = {"DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
                 "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                 "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
                 "ComplexDoubleStorage": "complex128", "ComplexFloatStorage": "complex64"}


def _fail(message):
    # CheckpointError is defined in _weights_only_unpickler, which imports this module: import it late.
    from ._weights_only_unpickler import CheckpointError
    raise CheckpointError(message)


def _check_int(value, what, low=None):
    if type(value) is not int or (low is not None and value < low):
        bound = "" if low is None else f" >= {low}"
        _fail(f"{what} must be an int{bound}, got {value!r}"[:300])
    return value


def _check_bool(value, what):
    if type(value) is not bool:
        _fail(f"{what} must be a bool, got {type(value).__name__}")
    return value


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or len(value) > 64:
        _fail(f"{what} must be a tuple of at most 64 ints, got {type(value).__name__}")
    return tuple(_check_int(v, f"{what} entry", 0) for v in value)


def _set_attributes(obj, state, what):
    """Restore Python attributes saved with an object; refuses names the class itself defines."""
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for part in (state, slots):
        if part is None:
            continue
        if not isinstance(part, dict):
            _fail(f"{what}: attribute state must be a dict, got {type(part).__name__}")
        for key, value in part.items():
            # Only new instance attributes: never a slot, property or method of the class (which could
            # replace a tensor's data or autograd state with arbitrary objects).
            if type(key) is not str or key.startswith("__") or hasattr(type(obj), key):
                _fail(f"{what}: refusing to set attribute {key!r}")
            obj.__dict__[key] = value
    return obj


# --- rebuild functions: the only code a file can call ---------------------------------------------

class LoadedStorage:
    """One storage record, read and validated: a flat NumPy array, its dtype and target device."""
    __slots__ = ("array", "dtype", "key", "location", "device", "__weakref__")

    def __init__(self, array, dtype, key, location, device):
        self.array, self.dtype, self.key, self.location, self.device = array, dtype, key, location, device

    def size(self):
        return self.array.size

    def nbytes(self):
        return self.array.nbytes

    def to(self, device):
        """What a map_location callable returns to move this storage (ember moves the tensors)."""
        from ._device import to_device
        return LoadedStorage(self.array, self.dtype, self.key, self.location, to_device(device))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(device if device is not None else "cuda")

    def __repr__(self):
        return f"<storage {self.key!r}: {self.array.size} x {self.dtype.name} from {self.location}>"


def _rebuild_tensor(storage, storage_offset, size, stride):
    if not isinstance(storage, LoadedStorage):
        _fail(f"_rebuild_tensor: expected a storage, got {type(storage).__name__}")
    offset = _check_int(storage_offset, "storage_offset", 0)
    size = _int_tuple(size, "size")
    stride = _int_tuple(stride, "stride")
    if len(size) != len(stride):
        _fail(f"_rebuild_tensor: size {size} and stride {stride} have different lengths")
    flat = storage.array
    if 0 in size:                                 # nothing to read: a fresh empty array
        array = np.empty(size, dtype=flat.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))     # Python ints: no overflow
        if last >= flat.size:
            _fail(f"tensor of size {size}, stride {stride} and storage offset {offset} reaches element "
                  f"{last} of storage {storage.key!r}, which has {flat.size} elements")
        try:
            array = np.ndarray(size, flat.dtype, buffer=flat, offset=offset * flat.itemsize,
                               strides=tuple(s * flat.itemsize for s in stride))
        except (ValueError, OverflowError) as error:
            _fail(f"tensor of size {size} over storage {storage.key!r}: {error}")
    from ._tensor import wrap
    tensor = wrap(array)
    if storage.device.type != "cpu":
        tensor = tensor.to(storage.device)
    return tensor


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    tensor = _rebuild_tensor(storage, storage_offset, size, stride)
    _check_hooks(backward_hooks)
    if metadata:
        tensor = _apply_metadata(tensor, metadata)
    return _set_requires_grad(tensor, requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if dtype is not storage.dtype:
        _fail(f"_rebuild_tensor_v3: dtype {dtype!r} does not match storage {storage.key!r} of {storage.dtype}")
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def _check_hooks(backward_hooks):
    if not isinstance(backward_hooks, dict) or backward_hooks:
        _fail("backward_hooks must be an empty dict (PyTorch never saves hooks), got "
              f"{type(backward_hooks).__name__}")


def _apply_metadata(tensor, metadata):
    # PyTorch records lazy conjugation / negation bits; ember has none, so apply them to the values.
    if not isinstance(metadata, dict) or not set(metadata) <= {"conj", "neg"}:
        _fail(f"unsupported tensor metadata {metadata!r}"[:300])
    array = tensor._array
    if _check_bool(metadata.get("conj", False), "metadata['conj']"):
        array = np.conj(array)
    if _check_bool(metadata.get("neg", False), "metadata['neg']"):
        array = np.negative(array)
    from ._tensor import wrap
    return wrap(np.ascontiguousarray(array)).to(tensor.device) if array is not tensor._array else tensor


def _set_requires_grad(tensor, requires_grad):
    if _check_bool(requires_grad, "requires_grad"):
        try:
            tensor.requires_grad_(True)
        except RuntimeError as error:
            _fail(f"tensor of dtype {tensor.dtype} cannot require grad: {error}")
    return tensor


def _make_parameter(data, requires_grad):
    from ._tensor import Tensor
    if not isinstance(data, Tensor):
        _fail(f"_rebuild_parameter: expected a tensor, got {type(data).__name__}")
    _check_bool(requires_grad, "requires_grad")
    try:
        from .nn import Parameter
    except ImportError:                           # nn not built yet: a plain tensor keeps the values
        return _set_requires_grad(data.detach(), requires_grad)
    if isinstance(data, Parameter):
        data = data.detach()
    try:
        return Parameter(data, requires_grad)
    except RuntimeError as error:
        _fail(f"_rebuild_parameter: {error}")


def _rebuild_parameter(data, requires_grad, backward_hooks):
    _check_hooks(backward_hooks)
    return _make_parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_attributes(_rebuild_parameter(data, requires_grad, backward_hooks), state, "Parameter")


def _get_layout(name):
    """torch.serialization._get_layout('torch.sparse_coo'): a layout constant by name."""
    from ._layout import _get_layout as get_layout
    if type(name) is not str or len(name) > 64:
        _fail(f"_get_layout: expected a layout name, got {type(name).__name__}")
    try:
        return get_layout(name)
    except RuntimeError as error:
        _fail(str(error))


def _rebuild_sparse_tensor(layout, data):
    """torch._utils._rebuild_sparse_tensor: (indices, values, size[, is_coalesced]) for the COO layout,
    (compressed_indices, plain_indices, values, size) for CSR and CSC, every invariant checked before the tensor
    exists (PyTorch validates loaded sparse tensors too)."""
    from ._layout import sparse_coo, sparse_csc, sparse_csr
    from ._tensor import Tensor
    if layout is sparse_csr or layout is sparse_csc:
        return _rebuild_compressed_tensor(layout, data)
    if layout is not sparse_coo:
        _fail(f"_rebuild_sparse_tensor: ember has no sparse tensors of layout {layout!r}"[:300])
    if type(data) is not tuple or len(data) not in (3, 4):
        _fail("_rebuild_sparse_tensor: expected (indices, values, size[, is_coalesced])")
    indices, values, size = data[:3]
    coalesced = _check_bool(data[3], "is_coalesced") if len(data) == 4 else False
    device, (indices, values) = _sparse_parts((indices, values), ("indices", "values"))
    size = _int_tuple(size, "size")
    from .ops.sparse_ops import _rebuild_sparse
    try:
        out = _rebuild_sparse(indices, values, size, coalesced, False, Tensor)
    except RuntimeError as error:
        _fail(f"_rebuild_sparse_tensor: {error}")
    return out if device.type == "cpu" else out.to(device)


def _sparse_parts(parts, names):
    """(their device, their host arrays) of a loaded sparse tensor's strided parts, all on one device (where
    map_location put them): the tensor is checked and rebuilt on the host, then moved there."""
    from ._layout import strided
    from ._tensor import Tensor
    for part, what in zip(parts, names):
        if not isinstance(part, Tensor) or part.layout is not strided or part.device.type == "meta":
            _fail(f"_rebuild_sparse_tensor: {what} must be a strided tensor with data")
    device = parts[0]._device
    if any(part._device != device for part in parts):
        _fail(f"_rebuild_sparse_tensor: the parts of a sparse tensor must be on one device, got "
              f"{[str(part.device) for part in parts]}")
    if device.type == "cpu":
        return device, [part._array for part in parts]
    return device, [part._backend().to_numpy(part._array) for part in parts]


def _rebuild_compressed_tensor(layout, data):
    if type(data) is not tuple or len(data) != 4:
        _fail("_rebuild_sparse_tensor: expected (compressed_indices, plain_indices, values, size)")
    *parts, size = data
    device, arrays = _sparse_parts(parts, ("compressed_indices", "plain_indices", "values"))
    size = _int_tuple(size, "size")
    from .ops.sparse_csr_ops import _rebuild_compressed
    try:
        out = _rebuild_compressed(layout, *arrays, size)
    except RuntimeError as error:
        _fail(f"_rebuild_sparse_tensor: {error}")
    return out if device.type == "cpu" else out.to(device)


_TENSOR_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
                      _rebuild_parameter_with_state, _rebuild_sparse_tensor)


def _rebuild_from_type_v2(func, new_type, args, state):
    if (not any(func is f for f in _TENSOR_REBUILDERS) or not (new_type is TENSOR or new_type is PARAMETER)
            or type(args) is not tuple):
        _fail(f"_rebuild_from_type_v2: refusing to rebuild {new_type!r} with {func!r}"[:300])
    result = func(*args)
    if new_type is PARAMETER and not getattr(type(result), "__name__", "") == "Parameter":
        result = _make_parameter(result, result.requires_grad)
    return _set_attributes(result, state, "Tensor")


def _codecs_encode(obj, encoding="utf-8"):
    # How protocol 2 stores bytes: _codecs.encode(text, 'latin1'). Nothing else is accepted.
    if type(obj) is not str or encoding not in ("latin1", "latin-1"):
        _fail(f"_codecs.encode: only (str, 'latin1') is allowed, got ({type(obj).__name__}, {encoding!r})")
    return obj.encode("latin1")


def _bytes(*args):
    if args and not (len(args) == 1 and type(args[0]) in (bytes, bytearray)):
        _fail("bytes(): only bytes() or bytes(<bytes>) is allowed (an int would allocate)")
    return bytes(*args)


def _bytearray(*args):
    if args and not (len(args) == 1 and type(args[0]) in (bytes, bytearray)):
        _fail("bytearray(): only bytearray() or bytearray(<bytes>) is allowed (an int would allocate)")
    return bytearray(*args)


def _complex(real=0.0, imag=0.0):
    if not all(type(v) in (int, float) for v in (real, imag)):
        _fail("complex(): arguments must be numbers")
    return complex(real, imag)


def _set(items=()):
    return set(_iterable(items, "set"))


def _iterable(items, what):
    if type(items) not in (list, tuple, set, frozenset):
        _fail(f"{what}(): expected a list or tuple, got {type(items).__name__}")
    return items


def _ordered_dict(items=()):
    if type(items) not in (list, tuple, dict, collections.OrderedDict):
        _fail(f"OrderedDict(): expected items, got {type(items).__name__}")
    return collections.OrderedDict(items)


def _counter(items=()):
    if type(items) not in (dict, collections.OrderedDict, list, tuple):
        _fail(f"Counter(): expected a dict, got {type(items).__name__}")
    return collections.Counter(items)


def _size(items=()):
    from ._tensor import Size
    return Size(_int_tuple(items, "torch.Size"))


def _device(type, index=None):
    from ._device import device
    if not isinstance(type, str) or len(type) > 32 or (index is not None and _check_int(index, "index", 0) < 0):
        _fail(f"torch.device: bad arguments ({type!r}, {index!r})"[:200])
    try:
        return device(type, index)
    except (RuntimeError, ValueError, TypeError) as error:
        _fail(f"torch.device: {error}")


def _allowed_globals():
    """The default table: exact dotted name -> ember object. Built once; imports ember modules only."""
    from . import _dtype
    table = {
        "collections.OrderedDict": _ordered_dict,
        "collections.Counter": _counter,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch._utils._rebuild_sparse_tensor": _rebuild_sparse_tensor,
        "torch.serialization._get_layout": _get_layout,
        "torch.Tensor": TENSOR,
        "torch.nn.parameter.Parameter": PARAMETER,
        "torch.Size": _size,
        "torch.device": _device,
        "_codecs.encode": _codecs_encode,
        "builtins.bytes": _bytes,
        "builtins.bytearray": _bytearray,
        "builtins.set": _set,
        "builtins.complex": _complex,
    }
    # Not builtins.slice, range or frozenset: PyTorch's weights_only loader refuses them too (a file that
    # needs them loads after add_safe_globals([slice]) & co, as in PyTorch).
    for storage_name, dtype_name in STORAGE_TYPES.items():
        for module in ("torch", "torch.cuda"):
            table[f"{module}.{storage_name}"] = StorageType(f"{module}.{storage_name}", dtype_name)
    for name in ("torch.UntypedStorage", "torch.storage.UntypedStorage"):     # a bare untyped storage: bytes
        table[name] = StorageType(name, "uint8")
    for d in _dtype.ALL:
        table[f"torch.{d.name}"] = d
    return table


# Which callables REDUCE may call (compared by identity), and which classes NEWOBJ may create.
_CALLABLE_DEFAULTS = frozenset(id(f) for f in (
    _ordered_dict, _counter, _rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
    _rebuild_parameter_with_state, _rebuild_from_type_v2, _size, _device, _codecs_encode, _bytes, _bytearray,
    _set, _complex, _rebuild_sparse_tensor, _get_layout))
_NEWOBJ_DEFAULTS = {"collections.OrderedDict": collections.OrderedDict, "collections.Counter": collections.Counter}
_DEFAULTS = []                                    # filled on first use (ember._dtype imports lazily)


def _defaults():
    if not _DEFAULTS:
        _DEFAULTS.append(_allowed_globals())
    return _DEFAULTS[0]


# --- explicit allow-listing (PyTorch's torch.serialization.add_safe_globals) ------------------------

_user_globals = {}                                # dotted name -> object, added by the user (looked up by name)
_user_entries = []                                # what the user passed, in order: (entry, names, object)


def _names_of(obj):
    # An ember object with a PyTorch counterpart is allow-listed under torch's name, the one files use
    # (add_safe_globals([ember.nn.Linear]) allows GLOBAL torch.nn.modules.linear.Linear), and its own.
    from ._torch_globals import torch_dotted_name
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError(f"add_safe_globals: {obj!r} has no __module__/__qualname__; pass (obj, 'module.name')")
    torch_spelling = torch_dotted_name(obj)
    return [f"{module}.{name}"] + ([torch_spelling] if torch_spelling else [])


def _entries(safe_globals):
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError(f"expected a list of globals, got {type(safe_globals).__name__}")
    for entry in safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError(f"Expected tuple of length 2 (global, str of callable full path), but got "
                                 f"tuple of length: {len(entry)}")
            obj, name = entry
            if type(name) is not str:
                raise TypeError(f"Expected second item in tuple to be str of callable full path, but got: "
                                f"{type(name)}")
            names = [name]
        else:
            obj, names = entry, _names_of(entry)
        for name in names:
            module, _, attr = name.rpartition(".")
            if _is_blocked(_PY2_MODULES.get(module, module), attr):
                raise ValueError(f"add_safe_globals: {name} can never be allow-listed (its module is blocked)")
        yield entry, names, obj


def _known(entry):
    return any(entry is e or (type(entry) is tuple and entry == e) for e, _, _ in _user_entries)


def _sync():
    _user_globals.clear()
    _user_globals.update((name, obj) for _, names, obj in _user_entries for name in names)


def add_safe_globals(safe_globals):
    """Allow-list these globals (objects, or (object, 'module.name') pairs) for every later weights-only load."""
    for entry in list(_entries(safe_globals)):   # all checked before any is added
        if not _known(entry[0]):
            _user_entries.append(entry)
    _sync()


def clear_safe_globals():
    """Forget every global add_safe_globals allowed."""
    del _user_entries[:]
    _sync()


def get_safe_globals():
    """The user-allowed globals, as they were given to add_safe_globals / safe_globals."""
    return [entry for entry, _, _ in _user_entries]


class safe_globals:
    """Context manager: the given globals are allow-listed inside the block only.

    On exit (also by an exception) the globals the block added are removed again; ones that were allowed
    before the block stay allowed (PyTorch also removes those: a nested or repeated allow-listing would
    be lost).
    """

    def __init__(self, safe_globals):
        self.entries = list(_entries(safe_globals))
        self.added = []

    def __enter__(self):
        self.added = []
        for entry in self.entries:
            if not _known(entry[0]):
                _user_entries.append(entry)
                self.added.append(entry)
        _sync()

    def __exit__(self, *exc):
        added = {id(e) for e in self.added}
        _user_entries[:] = [e for e in _user_entries if id(e) not in added]
        self.added = []
        _sync()
