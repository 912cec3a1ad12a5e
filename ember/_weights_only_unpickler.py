"""An allow-listed pickle interpreter: loading a checkpoint never imports a module or runs file code.

It implements the pickle opcodes that checkpoints use (protocol 2, plus the harmless protocol 3-5
ones) on a bounded buffer, with a dict memo. GLOBAL / STACK_GLOBAL resolve through an exact-name
table of ember's own validating constructors; nothing is ever imported. REDUCE may only call a
table entry, NEWOBJ only create an allow-listed class, BUILD only set plain attributes. The tables
(defaults, blocked modules, add_safe_globals) are in ember/_weights_only_globals.py.
See Note [checkpoint security] in ember/serialization.py.
"""
import collections
import pickle
import struct

from ._weights_only_globals import (_CALLABLE_DEFAULTS, _NEWOBJ_DEFAULTS, _PY2_MODULES, STORAGE_TYPES,
                                    LoadedStorage, _defaults, _is_blocked, _set_attributes, _user_globals,
                                    add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals)

__all__ = ["CheckpointError", "Unpickler", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "LoadedStorage", "STORAGE_TYPES"]


class CheckpointError(RuntimeError, pickle.UnpicklingError):
    """A checkpoint is corrupt, truncated, hostile or uses something ember refuses to rebuild.

    It is a RuntimeError (RES-6) and a pickle.UnpicklingError, the type torch.load raises when a
    weights-only load fails, so code catching either keeps working.
    """


def _fail(message):
    raise CheckpointError(message)


# torch.load's guidance around a weights-only refusal (torch.serialization.load's _get_wo_message), in ember's names.
_UNSAFE_MESSAGE = ("In PyTorch 2.6 the default value of the `weights_only` argument of `torch.load` changed from "
                   "`False` to `True`; `ember.load` has the same default. Re-running `ember.load` with `weights_only` "
                   "set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if "
                   "you got the file from a trusted source.")
_DOCS_MESSAGE = ("\n\nCheck the documentation of torch.load (ember.load follows it) to learn more about types accepted "
                 "by default with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")


def weights_only_message(message, kind=None):
    """The refusal `message` inside torch.load's text; kind is 'global' (a name to allow-list), 'blocked' or None."""
    if kind == "global":
        text = ("Weights only load failed. This file can still be loaded, to do so you have two options, "
                "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
                f"\n\t(1) {_UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check the "
                "recommended steps in the following error message.\n\tWeightsUnpickler error: " + message)
    else:
        text = f"Weights only load failed. {_UNSAFE_MESSAGE}\n"
        if kind != "blocked":
            text += ("Please file an issue with the following so that we can make `weights_only=True` compatible "
                     "with your use case: WeightsUnpickler error: ")
        text += "\n\n" + message
    return text + _DOCS_MESSAGE


def _numpy_core_alias(module, name):
    # NumPy 2 moved numpy.core to numpy._core (and unpickles either); files name the module of the NumPy that
    # wrote them, so an allow-listed numpy._core function also allows its numpy.core spelling and back.
    for old, new in (("numpy.core", "numpy._core"), ("numpy._core", "numpy.core")):
        if module == old or module.startswith(old + "."):
            return f"{new}{module[len(old):]}.{name}"
    return None


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
            blocked = f"name {full}" if module == "builtins" else f"module {module.split('.', 1)[0]}"
            _fail(weights_only_message(f"Trying to load unsupported GLOBAL {full} whose {blocked} is blocked "
                                       f"(in {self.where}).", "blocked"))
        if full in self.table:
            return self.table[full]
        for candidate in (full, _numpy_core_alias(module, name)):
            if candidate in self.user:
                return self.user[candidate]
        shown = name if module == "builtins" else full      # torch names builtins bare in its advice
        _fail(weights_only_message(
            f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
            f"`ember.serialization.add_safe_globals([{shown}])` or the `ember.serialization.safe_globals([{shown}])` "
            "context manager to allowlist this global if you trust this class/function.", "global"))

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
            return weights_only_message(f"Unsupported operand {code}: opcode {name} in {self.where} is not supported "
                                        "(checkpoints never use it; it can import or call arbitrary objects)")
        if name is not None:
            return weights_only_message(f"Unsupported operand {code}: pickle opcode {name} in {self.where}")
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
        _fail(weights_only_message(f"Trying to call reduce for unrecognized function {func!r}"[:300]
                                   + " (REDUCE may only call allow-listed functions)"))
    self.stack.append(func(*args))


@_op(pickle.NEWOBJ)
def _newobj(self):
    args, cls = self._pop("NEWOBJ"), self._pop("NEWOBJ")
    if type(args) is not tuple:
        _fail(f"{self.where}: NEWOBJ arguments must be a tuple")
    if not isinstance(cls, type) or not any(cls is c for c in self.classes.values()):
        _fail(weights_only_message(f"Can only create new object for classes allowlisted via `add_safe_globals` but "
                                   f"got {cls!r}"[:300] + " (NEWOBJ)"))
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
        _fail(weights_only_message("Can only build OrderedDict, Counter or types allowlisted via `add_safe_globals`, "
                                   f"but got {type(inst)} (BUILD)"))


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
