"""How ember.load runs a checkpoint's pickles, and which globals a checkpoint names.

Unpickling.from_arguments applies torch.load's rules to weights_only, pickle_module, pickle_load_args
and the TORCH_FORCE_(NO_)WEIGHTS_ONLY_LOAD environment variables: by default the pickle runs in ember's
weights-only interpreter (ember/_weights_only_unpickler.py, never executes code); only when the caller
trusts the file does pickle_module's Unpickler run it (ember/_trusted_unpickler.py).
get_unsafe_globals_in_checkpoint lists the GLOBALs a weights-only load would refuse by disassembling
data.pkl (nothing runs). The container formats are read in ember/serialization.py.
"""
import os
import struct
import warnings
import zipfile

from ._weights_only_unpickler import BufferReader, CheckpointError, StreamReader, Unpickler

_TRUE = ("1", "y", "yes", "true")


def _fail(message):
    raise CheckpointError(message)


def weights_only_decision(weights_only, pickle_module):
    """torch.load's decision: the argument, else True unless a pickle_module is given; the environment
    variables TORCH_FORCE_WEIGHTS_ONLY_LOAD (always) and TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD (when unset) override."""
    not_set = weights_only is None
    if not_set:
        weights_only = pickle_module is None
    force = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in _TRUE
    force_no = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in _TRUE
    if force and force_no:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` should "
                           "be set, but both were set.")
    if force:
        return True
    if force_no and not_set:
        warnings.warn("Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the `weights_only` "
                      "argument was not explicitly passed to `ember.load`, forcing weights_only=False.",
                      UserWarning, stacklevel=4)
        return False
    return bool(weights_only)


class Unpickling:
    """How a checkpoint's pickles run: ember's weights-only interpreter (pickle_module None) or, for files
    the caller trusts, pickle_module's Unpickler with torch names mapped to ember's (_trusted_unpickler)."""

    def __init__(self, pickle_module, load_args):
        self.pickle_module, self.load_args = pickle_module, load_args

    @classmethod
    def from_arguments(cls, weights_only, pickle_module, pickle_load_args):
        """torch.load's handling of weights_only, pickle_module and **pickle_load_args."""
        if weights_only_decision(weights_only, pickle_module):
            if pickle_module is not None:
                raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
            if pickle_load_args:
                warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=3)
            args = dict(pickle_load_args)
            encoding = args.pop("encoding", "utf-8")
            if args:                              # torch's weights-only Unpickler takes only `encoding` too
                raise TypeError(f"load() got unexpected keyword arguments {sorted(args)}")
            return cls(None, {"encoding": encoding})
        if pickle_module is None:
            import pickle as pickle_module
        if not isinstance(getattr(pickle_module, "Unpickler", None), type):
            raise RuntimeError(f"load: pickle_module {pickle_module!r} has no Unpickler class")
        return cls(pickle_module, {"encoding": "utf-8", **pickle_load_args})

    @property
    def encoding(self):
        return self.load_args.get("encoding", "utf-8")

    def buffer(self, data, persistent_load, where):
        """Unpickle an in-memory pickle (a zip checkpoint's data.pkl)."""
        if self.pickle_module is None:
            return Unpickler(BufferReader(data), persistent_load, where=where, encoding=self.encoding).load()
        import io
        raw = data.tobytes() if hasattr(data, "tobytes") else bytes(data)
        return self._trusted(io.BytesIO(raw), persistent_load)

    def stream(self, fh, end, persistent_load, where):
        """Unpickle the next pickle of a file that must not be read past `end` (legacy checkpoints)."""
        if self.pickle_module is None:
            return Unpickler(StreamReader(fh, end), persistent_load, where=where, encoding=self.encoding).load()
        return self._trusted(fh, persistent_load)

    def _trusted(self, fh, persistent_load):
        from ._trusted_unpickler import make_unpickler
        return make_unpickler(self.pickle_module, fh, persistent_load, **self.load_args).load()


def get_unsafe_globals_in_checkpoint(f):
    """The GLOBALs in a checkpoint's pickle that a weights-only load would refuse, in order of appearance.

    Read statically (like torch's, which disassembles data.pkl): nothing is unpickled or imported. The
    default allow-list and the globals allowed by add_safe_globals / safe_globals count as safe.
    """
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(os.fsdecode(os.fspath(f)), "rb") as fh:
            return get_unsafe_globals_in_checkpoint(fh)
    if not (getattr(f, "seekable", lambda: False)()):
        import io
        f = io.BytesIO(f.read())
    start = f.tell()
    head = f.read(4)
    f.seek(start)
    if head != b"PK\x03\x04":
        raise ValueError("Expected input to be a checkpoint returned by torch.save")
    try:
        names = zipfile.ZipFile(f).namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        _fail(f"not a valid zip archive (truncated or corrupt?): {error}")
    f.seek(start)
    if any(n.split("/")[1:2] == ["constants.pkl"] for n in names):
        raise ValueError("Expected input to be a checkpoint returned by torch.save but got a torchscript checkpoint")
    from ._weights_only_globals import _PY2_MODULES, _defaults, _user_globals
    from ._weights_only_unpickler import _numpy_core_alias
    from .serialization import _ZipCheckpoint
    safe = set(_defaults()) | set(_user_globals)
    unsafe = []
    for module, name in _pickle_globals(_ZipCheckpoint(f, False).read("data.pkl").tobytes()):
        module = _PY2_MODULES.get(module, module)
        full = f"{module}.{name}"
        if full not in safe and _numpy_core_alias(module, name) not in safe and full not in unsafe:
            unsafe.append(full)
    return unsafe


def _pickle_globals(data):
    """(module, name) of every GLOBAL / STACK_GLOBAL in a pickle, by disassembly (nothing is executed)."""
    import pickletools
    found, recent, memo = [], [None, None], {}    # recent: what the last opcodes pushed (strings, else None)
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                found.append((module, attr))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                if not all(isinstance(v, str) for v in recent[-2:]):
                    _fail("data.pkl: STACK_GLOBAL whose operands are not plain strings (cannot be read statically)")
                found.append((recent[-2], recent[-1]))
                recent.append(None)
            elif name in ("FRAME", "PROTO"):
                continue
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else arg] = recent[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(arg))
            else:
                recent.append(arg if isinstance(arg, str) and "UNICODE" in name else None)
            del recent[:-2]
    except (ValueError, EOFError, struct.error) as error:
        _fail(f"data.pkl is not a valid pickle: {error}")
    return found
