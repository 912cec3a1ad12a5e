"""An allow-listed pickle interpreter: loading a checkpoint never imports a module or runs file code.

It implements the pickle opcodes that checkpoints use (protocol 2, plus the harmless protocol 3-5
ones) on a bounded buffer, with a dict memo. GLOBAL / STACK_GLOBAL resolve through an exact-name
table of ember's own validating constructors; nothing is ever imported. REDUCE may only call a
table entry, NEWOBJ only create an allow-listed class, BUILD only set plain attributes.
See Note [checkpoint security] in ember/serialization.py.
"""
import collections
import pickle
import struct

import numpy as np

__all__ = ["CheckpointError", "Unpickler", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "LoadedStorage", "STORAGE_TYPES"]


class CheckpointError(RuntimeError, pickle.UnpicklingError):
    """A checkpoint is corrupt, truncated, hostile or uses something ember refuses to rebuild.

    It is a RuntimeError (RES-6) and a pickle.UnpicklingError, the type torch.load raises when a
    weights-only load fails, so code catching either keeps working.
    """


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


_TENSOR_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
                      _rebuild_parameter_with_state)


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


def _frozenset(items=()):
    return frozenset(_iterable(items, "frozenset"))


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


def _slice(*args):
    if not 1 <= len(args) <= 3 or not all(a is None or type(a) is int for a in args):
        _fail("slice(): arguments must be ints or None")
    return slice(*args)


def _range(*args):
    if not 1 <= len(args) <= 3 or not all(type(a) is int for a in args):
        _fail("range(): arguments must be ints")
    return range(*args)


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
        "torch.Tensor": TENSOR,
        "torch.nn.parameter.Parameter": PARAMETER,
        "torch.Size": _size,
        "torch.device": _device,
        "_codecs.encode": _codecs_encode,
        "builtins.bytes": _bytes,
        "builtins.bytearray": _bytearray,
        "builtins.set": _set,
        "builtins.frozenset": _frozenset,
        "builtins.complex": _complex,
        "builtins.slice": _slice,
        "builtins.range": _range,
    }
    for storage_name, dtype_name in STORAGE_TYPES.items():
        for module in ("torch", "torch.cuda"):
            table[f"{module}.{storage_name}"] = StorageType(f"{module}.{storage_name}", dtype_name)
    for d in _dtype.ALL:
        table[f"torch.{d.name}"] = d
    return table


# Which callables REDUCE may call (compared by identity), and which classes NEWOBJ may create.
_CALLABLE_DEFAULTS = frozenset(id(f) for f in (
    _ordered_dict, _counter, _rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
    _rebuild_parameter_with_state, _rebuild_from_type_v2, _size, _device, _codecs_encode, _bytes, _bytearray,
    _set, _frozenset, _complex, _slice, _range))
_NEWOBJ_DEFAULTS = {"collections.OrderedDict": collections.OrderedDict, "collections.Counter": collections.Counter}
_DEFAULTS = []                                    # filled on first use (ember._dtype imports lazily)


def _defaults():
    if not _DEFAULTS:
        _DEFAULTS.append(_allowed_globals())
    return _DEFAULTS[0]


# --- explicit allow-listing (PyTorch's torch.serialization.add_safe_globals) ------------------------

_user_globals = {}                                # dotted name -> object, added by the user


def _name_of(obj):
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError(f"add_safe_globals: {obj!r} has no __module__/__qualname__; pass (obj, 'module.name')")
    return f"{module}.{name}"


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
        else:
            obj, name = entry, _name_of(entry)
        module, _, attr = name.rpartition(".")
        if _is_blocked(_PY2_MODULES.get(module, module), attr):
            raise ValueError(f"add_safe_globals: {name} can never be allow-listed (its module is blocked)")
        yield name, obj


def add_safe_globals(safe_globals):
    """Allow-list these globals (objects, or (object, 'module.name') pairs) for every later load."""
    _user_globals.update(_entries(safe_globals))


def clear_safe_globals():
    _user_globals.clear()


def get_safe_globals():
    return list(_user_globals.values())


class safe_globals:
    """Context manager: the given globals are allow-listed inside the block only."""

    def __init__(self, safe_globals):
        self.entries = dict(_entries(safe_globals))
        self.saved = {}

    def __enter__(self):
        self.saved = dict(_user_globals)
        _user_globals.update(self.entries)

    def __exit__(self, *exc):
        _user_globals.clear()
        _user_globals.update(self.saved)


# --- the interpreter --------------------------------------------------------------------------------

_MAX_GLOBAL_NAME = 1024        # bytes per GLOBAL line
_MAX_LONG_BYTES = 1 << 16      # LONG4 payload: a 500 000-bit integer is plenty
_MARK = object()               # sentinel, never visible outside the VM


class BufferReader:
    """Bounded reads from an in-memory pickle."""
    __slots__ = ("data", "pos", "size")

    def __init__(self, data):
        self.data = data.tobytes() if hasattr(data, "tobytes") else bytes(data)
        self.pos, self.size = 0, len(self.data)

    def remaining(self):
        return self.size - self.pos

    def read(self, n):
        pos = self.pos
        end = pos + n
        if end > self.size:
            return None
        self.pos = end
        return self.data[pos:end]

    def readline(self, limit):
        end = self.data.find(b"\n", self.pos, min(self.size, self.pos + limit))
        if end < 0:
            return None
        line, self.pos = self.data[self.pos:end], end + 1
        return line


class StreamReader:
    """Bounded reads from a file object that must not be read past `end` (legacy checkpoints)."""
    __slots__ = ("file", "pos", "end")

    def __init__(self, file, end):
        self.file, self.pos, self.end = file, file.tell(), end

    def remaining(self):
        return self.end - self.pos

    def read(self, n):
        if n > self.end - self.pos:
            return None
        chunk = self.file.read(n)
        self.pos += len(chunk)
        return chunk if len(chunk) == n else None

    def readline(self, limit):
        line = self.file.readline(min(limit + 1, max(self.end - self.pos, 0)))
        self.pos += len(line)
        return line[:-1] if line.endswith(b"\n") else None


class Unpickler:
    """Rebuilds one pickle from `reader` using only the default table and user allow-listed globals.

    persistent_load(pid) turns a BINPERSID id into a storage; `where` names the pickle in errors;
    `encoding` decodes Python 2 byte strings ('bytes' keeps them as bytes).
    """

    def __init__(self, reader, persistent_load=None, *, where="data.pkl", encoding="utf-8"):
        self.reader, self.persistent_load, self.where, self.encoding = reader, persistent_load, where, encoding
        self.table = dict(_defaults())
        self.user = dict(_user_globals)
        self.callables = {id(v) for v in self.user.values()}
        self.classes = dict(_NEWOBJ_DEFAULTS)
        self.classes.update((name, obj) for name, obj in self.user.items() if isinstance(obj, type))
        self.stack, self.metastack, self.memo, self.proto = [], [], {}, 2

    # -- reading helpers
    def _read(self, n, what):
        chunk = self.reader.read(n)
        if chunk is None:
            _fail(f"{self.where} is truncated: {what} needs {n} bytes at offset {self.reader.pos}, "
                  f"{max(self.reader.remaining(), 0)} left")
        return chunk

    def _read_length(self, fmt, what):
        size = struct.calcsize(fmt)
        n = struct.unpack(fmt, self._read(size, what))[0]
        if n > self.reader.remaining():
            _fail(f"{self.where}: {what} declares {n} bytes but only {self.reader.remaining()} remain")
        return n

    def _pop(self, what):
        if not self.stack:
            _fail(f"{self.where}: {what} on an empty stack (corrupt pickle)")
        value = self.stack.pop()
        if value is _MARK:
            _fail(f"{self.where}: {what} found a MARK where a value was expected (corrupt pickle)")
        return value

    def _top(self, what):
        if not self.stack or self.stack[-1] is _MARK:
            _fail(f"{self.where}: {what} needs a value on the stack (corrupt pickle)")
        return self.stack[-1]

    def _pop_mark(self, what):
        if not self.metastack:
            _fail(f"{self.where}: {what} without a MARK (corrupt pickle)")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _memo_get(self, index):
        if index not in self.memo:
            _fail(f"{self.where}: memo entry {index} is read before it is written (corrupt pickle)")
        self.stack.append(self.memo[index])

    def _resolve(self, module, name):
        module = _PY2_MODULES.get(module, module)
        full = f"{module}.{name}"
        if _is_blocked(module, name):
            _fail(f"Weights only load failed: refusing global '{full}' in {self.where}: its module is blocked "
                  "and can never be allow-listed (it could run code or reach the file system)")
        if full in self.table:
            return self.table[full]
        if full in self.user:
            return self.user[full]
        _fail(f"Weights only load failed: unsupported global '{full}' in {self.where} (GLOBAL {full} is not "
              f"an allowed global). If you trust it, allow-list it with "
              f"`ember.serialization.add_safe_globals([{full}])`; ember never falls back to unrestricted "
              "unpickling, not even with weights_only=False.")

    def _decode(self, raw, what):
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as error:
            _fail(f"{self.where}: {what} is not valid UTF-8 ({error})")

    def _decode_py2(self, raw):
        if self.encoding == "bytes":
            return raw
        try:
            return raw.decode(self.encoding, "strict")
        except (UnicodeDecodeError, LookupError) as error:
            _fail(f"{self.where}: cannot decode a Python 2 string with encoding {self.encoding!r} ({error})")

    # -- the loop
    def load(self):
        dispatch = _DISPATCH
        read = self.reader.read
        while True:
            code = read(1)
            if code is None:
                _fail(f"{self.where} is truncated: it ends before the STOP opcode")
            handler = dispatch.get(code[0])
            if handler is None:
                _fail(self._unsupported(code[0]))
            if handler is _stop:
                value = self._pop("STOP")
                if self.stack or self.metastack:
                    _fail(f"{self.where}: STOP with values left on the stack (corrupt pickle)")
                return value
            try:
                handler(self)
            except (CheckpointError, MemoryError):
                raise
            except Exception as error:
                # e.g. an unhashable dict key, or a constructor refusing its arguments
                raise CheckpointError(f"{self.where}: opcode {pickle_names.get(code[0], code[0])} failed: "
                                      f"{type(error).__name__}: {error}"[:500]) from error

    def _unsupported(self, code):
        name = pickle_names.get(code)
        if name in ("INST", "OBJ", "EXT1", "EXT2", "EXT4", "PERSID", "NEXT_BUFFER", "READONLY_BUFFER"):
            return (f"Weights only load failed: opcode {name} in {self.where} is not supported (checkpoints never "
                    "use it; it can import or call arbitrary objects)")
        if name is not None:
            return f"Weights only load failed: unsupported pickle opcode {name} in {self.where}"
        return f"{self.where} is not a pickle: unknown opcode byte {code:#04x} at offset {self.reader.pos - 1}"


def _op(code):
    def register(fn):
        _DISPATCH[code[0]] = fn
        return fn
    return register


_DISPATCH = {}
pickle_names = {getattr(pickle, name)[0]: name for name in dir(pickle)
                if name.isupper() and isinstance(getattr(pickle, name), bytes) and len(getattr(pickle, name)) == 1
                and name not in ("HIGHEST_PROTOCOL", "DEFAULT_PROTOCOL")}


@_op(pickle.STOP)
def _stop(self):
    pass


@_op(pickle.PROTO)
def _proto(self):
    proto = self._read(1, "PROTO")[0]
    if not 2 <= proto <= 5:
        _fail(f"{self.where}: unsupported pickle protocol {proto} (checkpoints use 2)")
    self.proto = proto


@_op(pickle.FRAME)
def _frame(self):
    self._read(8, "FRAME")                        # a framing hint only: reads are bounded anyway


@_op(pickle.MARK)
def _mark(self):
    self.metastack.append(self.stack)
    self.stack = []


@_op(pickle.POP)
def _pop_op(self):
    if self.stack:
        self.stack.pop()
    else:
        self._pop_mark("POP")


@_op(pickle.POP_MARK)
def _pop_mark(self):
    self._pop_mark("POP_MARK")


@_op(pickle.DUP)
def _dup(self):
    self.stack.append(self._top("DUP"))


@_op(pickle.GLOBAL)
def _global(self):
    names = []
    for what in ("module", "name"):
        raw = self.reader.readline(_MAX_GLOBAL_NAME)
        if raw is None:
            _fail(f"{self.where}: GLOBAL {what} is truncated or longer than {_MAX_GLOBAL_NAME} bytes")
        names.append(self._decode(raw, "GLOBAL name"))
    self.stack.append(self._resolve(*names))


@_op(pickle.STACK_GLOBAL)
def _stack_global(self):
    name, module = self._pop("STACK_GLOBAL"), self._pop("STACK_GLOBAL")
    if type(module) is not str or type(name) is not str:
        _fail(f"{self.where}: STACK_GLOBAL needs two strings")
    self.stack.append(self._resolve(module, name))


@_op(pickle.REDUCE)
def _reduce(self):
    args, func = self._pop("REDUCE"), self._pop("REDUCE")
    if type(args) is not tuple:
        _fail(f"{self.where}: REDUCE arguments must be a tuple, got {type(args).__name__}")
    if id(func) not in _CALLABLE_DEFAULTS and id(func) not in self.callables:
        _fail(f"Weights only load failed: REDUCE may only call allow-listed functions, got {func!r}"[:300])
    self.stack.append(func(*args))


@_op(pickle.NEWOBJ)
def _newobj(self):
    args, cls = self._pop("NEWOBJ"), self._pop("NEWOBJ")
    if type(args) is not tuple:
        _fail(f"{self.where}: NEWOBJ arguments must be a tuple")
    if not isinstance(cls, type) or not any(cls is c for c in self.classes.values()):
        _fail(f"Weights only load failed: NEWOBJ may only create allow-listed classes, got {cls!r}"[:300])
    self.stack.append(cls.__new__(cls, *args))


@_op(pickle.BUILD)
def _build(self):
    state, inst = self._pop("BUILD"), self._top("BUILD")
    if type(inst) in (collections.OrderedDict, collections.Counter):
        _set_attributes(inst, state, type(inst).__name__)      # how state_dict()._metadata comes back
    elif any(type(inst) is c for c in self.user.values()):
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            slots = None
            if isinstance(state, tuple) and len(state) == 2:
                state, slots = state
            if state:
                inst.__dict__.update(state)
            for key, value in (slots or {}).items():
                setattr(inst, key, value)
    else:
        _fail(f"Weights only load failed: BUILD is only allowed on OrderedDict and allow-listed classes, got "
              f"{type(inst).__name__}")


@_op(pickle.EMPTY_TUPLE)
def _empty_tuple(self):
    self.stack.append(())


@_op(pickle.TUPLE)
def _tuple(self):
    items = self._pop_mark("TUPLE")             # (pop first: it replaces self.stack)
    self.stack.append(tuple(items))


def _tuple_n(n):
    def handler(self):
        if len(self.stack) < n or any(v is _MARK for v in self.stack[-n:]):
            _fail(f"{self.where}: TUPLE{n} needs {n} values (corrupt pickle)")
        values = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.stack.append(values)
    return handler


for _n, _code in ((1, pickle.TUPLE1), (2, pickle.TUPLE2), (3, pickle.TUPLE3)):
    _DISPATCH[_code[0]] = _tuple_n(_n)


@_op(pickle.EMPTY_LIST)
def _empty_list(self):
    self.stack.append([])


@_op(pickle.LIST)
def _list(self):
    items = self._pop_mark("LIST")
    self.stack.append(items)


@_op(pickle.APPEND)
def _append(self):
    value = self._pop("APPEND")
    target = self._top("APPEND")
    if type(target) is not list:
        _fail(f"{self.where}: APPEND onto a {type(target).__name__} (only lists accept items)")
    target.append(value)


@_op(pickle.APPENDS)
def _appends(self):
    items = self._pop_mark("APPENDS")
    target = self._top("APPENDS")
    if type(target) is not list:
        _fail(f"{self.where}: APPENDS onto a {type(target).__name__} (only lists accept items)")
    target.extend(items)


@_op(pickle.EMPTY_DICT)
def _empty_dict(self):
    self.stack.append({})


@_op(pickle.DICT)
def _dict(self):
    items = self._pop_mark("DICT")
    if len(items) % 2:
        _fail(f"{self.where}: DICT with an odd number of items")
    self.stack.append(dict(zip(items[::2], items[1::2])))


def _dict_target(self, what):
    target = self._top(what)
    # A type check, not isinstance: a subclass could run code in __setitem__ (CVE-2026-24747 class).
    if type(target) not in (dict, collections.OrderedDict, collections.Counter):
        _fail(f"{self.where}: {what} into a {type(target).__name__} (only dicts accept items)")
    return target


@_op(pickle.SETITEM)
def _setitem(self):
    value, key = self._pop("SETITEM"), self._pop("SETITEM")
    _dict_target(self, "SETITEM")[key] = value


@_op(pickle.SETITEMS)
def _setitems(self):
    items = self._pop_mark("SETITEMS")
    if len(items) % 2:
        _fail(f"{self.where}: SETITEMS with an odd number of items")
    target = _dict_target(self, "SETITEMS")
    for i in range(0, len(items), 2):
        target[items[i]] = items[i + 1]


@_op(pickle.EMPTY_SET)
def _empty_set(self):
    self.stack.append(set())


@_op(pickle.ADDITEMS)
def _additems(self):
    items = self._pop_mark("ADDITEMS")
    target = self._top("ADDITEMS")
    if type(target) is not set:
        _fail(f"{self.where}: ADDITEMS into a {type(target).__name__} (only sets accept items)")
    target.update(items)


@_op(pickle.FROZENSET)
def _frozenset_op(self):
    items = self._pop_mark("FROZENSET")
    self.stack.append(frozenset(items))


@_op(pickle.NONE)
def _none(self):
    self.stack.append(None)


@_op(pickle.NEWTRUE)
def _true(self):
    self.stack.append(True)


@_op(pickle.NEWFALSE)
def _false(self):
    self.stack.append(False)


@_op(pickle.BININT)
def _binint(self):
    self.stack.append(struct.unpack("<i", self._read(4, "BININT"))[0])


@_op(pickle.BININT1)
def _binint1(self):
    self.stack.append(self._read(1, "BININT1")[0])


@_op(pickle.BININT2)
def _binint2(self):
    self.stack.append(struct.unpack("<H", self._read(2, "BININT2"))[0])


@_op(pickle.LONG1)
def _long1(self):
    n = self._read(1, "LONG1")[0]
    self.stack.append(int.from_bytes(self._read(n, "LONG1"), "little", signed=True))


@_op(pickle.LONG4)
def _long4(self):
    n = struct.unpack("<i", self._read(4, "LONG4"))[0]
    if not 0 <= n <= _MAX_LONG_BYTES:
        _fail(f"{self.where}: LONG4 of {n} bytes (at most {_MAX_LONG_BYTES} are accepted)")
    self.stack.append(int.from_bytes(self._read(n, "LONG4"), "little", signed=True))


@_op(pickle.BINFLOAT)
def _binfloat(self):
    self.stack.append(struct.unpack(">d", self._read(8, "BINFLOAT"))[0])


@_op(pickle.SHORT_BINUNICODE)
def _short_binunicode(self):
    n = self._read(1, "SHORT_BINUNICODE")[0]
    self.stack.append(self._decode(self._read(n, "SHORT_BINUNICODE"), "string"))


@_op(pickle.BINUNICODE)
def _binunicode(self):
    n = self._read_length("<I", "BINUNICODE")
    self.stack.append(self._decode(self._read(n, "BINUNICODE"), "string"))


@_op(pickle.BINUNICODE8)
def _binunicode8(self):
    n = self._read_length("<Q", "BINUNICODE8")
    self.stack.append(self._decode(self._read(n, "BINUNICODE8"), "string"))


@_op(pickle.SHORT_BINSTRING)
def _short_binstring(self):
    n = self._read(1, "SHORT_BINSTRING")[0]
    self.stack.append(self._decode_py2(self._read(n, "SHORT_BINSTRING")))


@_op(pickle.BINSTRING)
def _binstring(self):
    n = self._read_length("<i", "BINSTRING")
    self.stack.append(self._decode_py2(self._read(n, "BINSTRING")))


@_op(pickle.SHORT_BINBYTES)
def _short_binbytes(self):
    n = self._read(1, "SHORT_BINBYTES")[0]
    self.stack.append(self._read(n, "SHORT_BINBYTES"))


@_op(pickle.BINBYTES)
def _binbytes(self):
    self.stack.append(self._read(self._read_length("<I", "BINBYTES"), "BINBYTES"))


@_op(pickle.BINBYTES8)
def _binbytes8(self):
    self.stack.append(self._read(self._read_length("<Q", "BINBYTES8"), "BINBYTES8"))


@_op(pickle.BYTEARRAY8)
def _bytearray8(self):
    self.stack.append(bytearray(self._read(self._read_length("<Q", "BYTEARRAY8"), "BYTEARRAY8")))


@_op(pickle.BINPERSID)
def _binpersid(self):
    pid = self._pop("BINPERSID")
    if self.persistent_load is None:
        _fail(f"{self.where}: unexpected persistent id (BINPERSID) in this pickle")
    self.stack.append(self.persistent_load(pid))


@_op(pickle.BINGET)
def _binget(self):
    self._memo_get(self._read(1, "BINGET")[0])


@_op(pickle.LONG_BINGET)
def _long_binget(self):
    self._memo_get(struct.unpack("<I", self._read(4, "LONG_BINGET"))[0])


@_op(pickle.BINPUT)
def _binput(self):
    self.memo[self._read(1, "BINPUT")[0]] = self._top("BINPUT")


@_op(pickle.LONG_BINPUT)
def _long_binput(self):
    self.memo[struct.unpack("<I", self._read(4, "LONG_BINPUT"))[0]] = self._top("LONG_BINPUT")


@_op(pickle.MEMOIZE)
def _memoize(self):
    self.memo[len(self.memo)] = self._top("MEMOIZE")
