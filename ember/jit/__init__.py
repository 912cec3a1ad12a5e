"""ember.jit: PyTorch's TorchScript API for code that calls it; ember has no TorchScript compiler and runs Python.

What each name does here:
- `script(obj)` returns `obj` itself (a function, an nn.Module, a class): calling it runs the original Python, so
  `isinstance(script(m), ember.jit.ScriptModule)` is False and code that branches on that takes its eager path.
- `trace(func, example_inputs)` / `trace_module(mod, inputs)` call the function (each listed method) once on the
  example inputs with `is_tracing()` True, as PyTorch's tracer runs it, and return it unchanged.
- `ignore`, `unused`, `export`, `interface`, `script_method`, `script_if_tracing` return what they decorate;
  `annotate(type, value)` returns value; `Final` is typing.Final; `Attribute(value, type)` is PyTorch's named tuple
  (unwrapped to `value` when assigned on a ScriptModule); `isinstance(obj, List[int])` checks containers' elements.
- `freeze(mod)` needs eval mode, as PyTorch's does, and `optimize_for_inference(mod)` puts the module in eval mode;
  both return the module. `fork(fn, *args)` runs fn at once and returns a completed Future; `wait(future)` gives
  its value.
- `save` and `load` raise: TorchScript archives hold compiled TorchScript code, which ember cannot run. Save the
  weights with `ember.save(model.state_dict(), f)` and load them into the Python model with
  `model.load_state_dict(ember.load(f))`; PyTorch writes the same file with `torch.save(model.state_dict(), f)`.
As in PyTorch 2.13, script, trace, freeze, save and load issue a DeprecationWarning.
"""
import collections
import os
import types
import typing
import warnings
from typing import Final

__all__ = ["Attribute", "Error", "Final", "Future", "ScriptFunction", "ScriptModule", "TracerWarning",
           "annotate", "enable_onednn_fusion", "export", "fork", "freeze", "ignore", "interface", "is_scripting", "is_tracing",
           "isinstance", "load", "onednn_fusion_enabled", "optimize_for_inference", "save", "script",
           "script_if_tracing", "script_method", "set_fusion_strategy", "strict_fusion", "trace", "trace_module",
           "unused", "wait"]

_builtin_isinstance = isinstance
_tracing = 0                       # > 0 while trace() runs its example call
_onednn_fusion = False
_fusion_strategy = [("STATIC", 2), ("DYNAMIC", 10)]

Attribute = collections.namedtuple("Attribute", ["value", "type"])


class Error(Exception):
    """PyTorch's torch.jit.Error (an exception raised from TorchScript code)."""


class TracerWarning(Warning):
    """PyTorch's torch.jit.TracerWarning: a trace (ember.onnx.export's) recorded a value that Python computed
    from a tensor, so the graph holds this trace's value or branch."""


def _deprecated(name, instead):
    warnings.warn(f"`ember.jit.{name}` is deprecated. Please switch to {instead}.", DeprecationWarning)


# --- compiling: the object itself ------------------------------------------------------------------------

def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """The object itself: ember runs its Python (see the module docstring)."""
    _deprecated("script", "`ember.compile`")
    return obj


def _run_traced(fn, args, kwargs):
    global _tracing
    _tracing += 1
    try:
        return fn(*args, **kwargs)
    finally:
        _tracing -= 1


def _as_args(example_inputs):
    from .._tensor import Tensor
    if _builtin_isinstance(example_inputs, Tensor):
        return (example_inputs,)                  # a single tensor is the only argument, as in PyTorch
    return tuple(example_inputs)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Run func once on the example inputs with is_tracing() True, then return func itself."""
    _deprecated("trace", "`ember.compile`")
    if example_inputs is None and example_kwarg_inputs is None:
        raise TypeError("trace(): example_inputs (a tuple of arguments, or one tensor) or example_kwarg_inputs "
                        "(a dict) is required")
    if example_kwarg_inputs is not None:
        if not _builtin_isinstance(example_kwarg_inputs, dict):
            raise RuntimeError("example_kwarg_inputs should be a dict")
        _run_traced(func, (), example_kwarg_inputs)
    else:
        _run_traced(func, _as_args(example_inputs), {})
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05,
                 strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    """Run each method named in `inputs` ({name: example inputs}) once while tracing; return the module."""
    _deprecated("trace", "`ember.compile`")
    from ..nn import Module
    if not _builtin_isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not _builtin_isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    for name, example in inputs.items():
        method = getattr(mod, name)
        if example_inputs_is_kwarg:
            _run_traced(method, (), example)
        else:
            _run_traced(method, _as_args(example), {})
    return mod


def is_scripting():
    """False: ember never compiles TorchScript."""
    return False


def is_tracing():
    """True while trace() or trace_module() runs the traced code on its example inputs."""
    return _tracing > 0


# --- decorators and annotations: what they decorate ------------------------------------------------------

def ignore(drop=False, **kwargs):
    """@ignore or @ignore(drop=...): the function itself (TorchScript would leave it to Python)."""
    if callable(drop):                            # used bare: drop is the function
        return drop
    if not _builtin_isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    if kwargs.pop("drop_on_export", None) or drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the function call on "
                      "compilation. Use torch.jit.unused now. {}", FutureWarning, stacklevel=2)
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def interface(obj):
    return obj


def script_method(fn):
    return fn


def script_if_tracing(fn):
    return fn


def annotate(the_type, the_value):
    """the_value: the type is a hint for the TorchScript compiler."""
    return the_value


def isinstance(obj, target_type):
    """builtins.isinstance that also checks container element types: List[int], Dict[str, Tensor],
    Tuple[int, str], Optional[Tensor] (a tuple of types means any of them)."""
    if _builtin_isinstance(target_type, tuple):
        return any(isinstance(obj, t) for t in target_type)
    if _builtin_isinstance(target_type, collections.abc.Container) and not _builtin_isinstance(target_type, type):
        raise RuntimeError("The second argument to `torch.jit.isinstance` must be a type or a tuple of types")
    return _matches(obj, target_type)


_BARE = {typing.List: "List", typing.Dict: "Dict", typing.Tuple: "Tuple", typing.Optional: "Optional",
         typing.Union: "Union"}


def _matches(obj, target):
    if target in _BARE:
        name = _BARE[target]
        raise RuntimeError(f"Attempted to use {name} without a contained type. Please add a contained type, e.g. "
                           f"{name}[int]")
    origin, args = typing.get_origin(target), typing.get_args(target)
    if origin is None:
        return target is typing.Any or _builtin_isinstance(obj, target)
    if origin is typing.Union or origin is types.UnionType:                 # Optional[T], T | None
        return any(_matches(obj, t) for t in args)
    if origin in (list, dict, tuple) and not obj and _builtin_isinstance(obj, origin):
        warnings.warn("The inner type of a container is lost when calling torch.jit.isinstance in eager mode. "
                      "For example, List[int] would become list and therefore falsely return True for List[float] "
                      "or List[str].")
    if origin is list:
        return _builtin_isinstance(obj, list) and all(_matches(x, args[0]) for x in obj)
    if origin is dict:
        return _builtin_isinstance(obj, dict) and all(_matches(k, args[0]) and _matches(v, args[1])
                                                      for k, v in obj.items())
    if origin is tuple:
        if not _builtin_isinstance(obj, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(x, args[0]) for x in obj)
        return len(obj) == len(args) and all(_matches(x, t) for x, t in zip(obj, args))
    return _builtin_isinstance(obj, origin)


# --- modules and functions -------------------------------------------------------------------------------

def _script_module_base():
    from ..nn import Module
    return Module


class ScriptFunction:
    """PyTorch's compiled-function type. ember.jit.script returns functions themselves, never one of these;
    the name is here for isinstance checks (always False)."""

    def __new__(cls, *args, **kwargs):
        raise TypeError("ScriptFunction: No constructor defined! (ember.jit.script returns the function itself)")


class ScriptModule(_script_module_base()):
    """Base class of old-style TorchScript modules (`class M(torch.jit.ScriptModule)` with @script_method): here
    an nn.Module whose methods run as Python. jit.Attribute values assigned on it are unwrapped."""

    def __setattr__(self, name, value):
        if _builtin_isinstance(value, Attribute):
            value = value.value
        super().__setattr__(name, value)

    def save(self, f, _extra_files=None):
        _refuse_save()


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """The module itself, which must be in eval mode as PyTorch requires."""
    _deprecated("freeze", "`ember.compile`")
    if getattr(mod, "training", False):
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. Please call .eval() "
                           "on your module before freezing.")
    return mod


def optimize_for_inference(mod, other_methods=None):
    """The module in eval mode (PyTorch freezes it on the way)."""
    return mod.eval() if hasattr(mod, "eval") else mod


# --- serialization: refused, with what to do instead ------------------------------------------------------

_INSTEAD = ("Save the weights instead: ember.save(model.state_dict(), f) (in PyTorch: "
            "torch.save(model.state_dict(), f)), then build the model in Python and call "
            "model.load_state_dict(ember.load(f)).")


def _refuse_save():
    raise RuntimeError("ember.jit.save: TorchScript archives are not supported: ember has no TorchScript compiler "
                       "(ember.jit.script returns the Python object itself). " + _INSTEAD)


def save(m, f, _extra_files=None):
    """Refused: see the module docstring."""
    _deprecated("save", "`ember.save(model.state_dict(), f)`")
    _refuse_save()


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Refused, with PyTorch's ValueError for a missing path and a RuntimeError saying what to do otherwise."""
    _deprecated("load", "`ember.load`")
    if _builtin_isinstance(f, (str, os.PathLike)):
        if not os.path.exists(f):
            raise ValueError(f"The provided filename {f} does not exist")
        if os.path.isdir(f):
            raise ValueError(f"The provided filename {f} is a directory")
    kind = _archive_kind(f)
    if kind == "checkpoint":
        raise RuntimeError("ember.jit.load: this file was written by torch.save / ember.save, not torch.jit.save: "
                           "read it with ember.load(f).")
    if kind == "other":
        raise RuntimeError("ember.jit.load: not a TorchScript archive (not a zip file with constants.pkl and code/), "
                           "and ember cannot run TorchScript archives either. " + _INSTEAD)
    raise RuntimeError("ember.jit.load: TorchScript archives are not supported: ember cannot run the TorchScript "
                       "code they hold. " + _INSTEAD)


def _archive_kind(f):
    """"checkpoint" (a torch.save zip: data.pkl), "torchscript" (constants.pkl or code/) or "other"."""
    import zipfile
    try:
        position = None if _builtin_isinstance(f, (str, os.PathLike)) else f.tell()
        try:
            with zipfile.ZipFile(f) as archive:
                parts = [name.split("/")[1:2] for name in archive.namelist()]
        finally:
            if position is not None:
                f.seek(position)
    except (OSError, zipfile.BadZipFile, AttributeError, ValueError, EOFError):
        return "other"
    if ["constants.pkl"] in parts or ["code"] in parts:
        return "torchscript"
    return "checkpoint" if ["data.pkl"] in parts else "other"


# --- asynchronous calls and fusion settings ----------------------------------------------------------------

class Future:
    """The result of fork(): already complete, since ember runs the call at once."""

    def __init__(self, value=None, exception=None):
        self._value, self._exception = value, exception

    def done(self):
        return True

    def wait(self):
        if self._exception is not None:
            raise self._exception
        return self._value

    value = wait

    def then(self, callback):
        """A Future of callback(self)."""
        try:
            return Future(callback(self))
        except Exception as error:              # the returned Future carries it, as PyTorch's does
            return Future(exception=error)


def fork(func, *args, **kwargs):
    """Run func(*args, **kwargs) now; the returned Future holds its result (or its exception)."""
    try:
        return Future(func(*args, **kwargs))
    except Exception as error:
        return Future(exception=error)


def wait(future):
    return future.wait()


def enable_onednn_fusion(enabled):
    """Recorded for onednn_fusion_enabled(); ember fuses nothing."""
    global _onednn_fusion
    _onednn_fusion = bool(enabled)


def onednn_fusion_enabled():
    return _onednn_fusion


def set_fusion_strategy(strategy):
    """Record the strategy (ember fuses nothing) and return the previous one, as PyTorch does."""
    global _fusion_strategy
    previous, _fusion_strategy = _fusion_strategy, list(strategy)
    return previous


class strict_fusion:
    """A context manager that checks fusion inside scripted code; outside it (always, here) it warns."""

    def __init__(self):
        warnings.warn("Only works in script mode", stacklevel=2)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None

