"""torch.amp.autocast_mode: the autocast context manager/decorator, the state functions PyTorch exposes as
torch.is_autocast_enabled, get_autocast_dtype, set_autocast_* ..., and custom_fwd/custom_bwd for custom autograd
Functions. Which ops cast and how is in _op_lists.py; the casting itself in _dispatch.py."""
import collections.abc
import functools
import warnings

import numpy as np

from .. import _dtype as _dt
from .._tensor import Tensor
from . import _dispatch
from ._dispatch import _dtypes, _enabled, _settings

__all__ = ["autocast_decorator", "autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]


def _device_type(device_type, fn):
    """'cpu', 'cuda' or 'cuda:0' -> the device type; ember's device errors for anything else."""
    if not isinstance(device_type, str):
        raise TypeError(f"{fn}(): argument 'device_type' (position 1) must be str, not {type(device_type).__name__}")
    from .._device import device
    return device(device_type).type


def _autocast_device(device_type, fn):
    kind = _device_type(device_type, fn)
    if kind not in _enabled:                                     # meta
        raise RuntimeError("unknown device type for autocast in get_autocast_dispatch_key_from_device_type")
    return kind


def _check_bool(value, fn, name, position):
    if not isinstance(value, bool):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be bool, not {type(value).__name__}")


def is_autocast_available(device_type):
    """Whether autocast can run on this device type ('cpu' and 'cuda' in ember; False for 'meta')."""
    if not isinstance(device_type, str):
        raise TypeError(f"_is_autocast_available(): argument 'device_type' (position 1) must be str, not "
                        f"{type(device_type).__name__}")
    return _device_type(device_type, "_is_autocast_available") in _enabled


def is_autocast_enabled(device_type=None):
    """Whether autocast is enabled for device_type (no argument: CUDA, as in PyTorch)."""
    if device_type is None:
        return _enabled["cuda"]
    return _enabled[_autocast_device(device_type, "is_autocast_enabled")]


def set_autocast_enabled(*args):
    """set_autocast_enabled(device_type, enabled), or the older set_autocast_enabled(enabled) for CUDA."""
    if len(args) == 1:
        _check_bool(args[0], "set_autocast_enabled", "enabled", 1)
        kind, enabled = "cuda", args[0]
    elif len(args) == 2:
        kind = _autocast_device(args[0], "set_autocast_enabled")
        _check_bool(args[1], "set_autocast_enabled", "enabled", 2)
        enabled = args[1]
    else:
        raise TypeError(f"set_autocast_enabled() takes 1 or 2 arguments ({len(args)} given)")
    _enabled[kind] = enabled
    _dispatch.rebuild()


def get_autocast_dtype(device_type):
    """The dtype that autocast casts to on device_type (bfloat16 on CPU, float16 on CUDA by default)."""
    kind = _device_type(device_type, "get_autocast_dtype")
    if kind not in _dtypes:
        raise RuntimeError("unsupported scalarType")
    return _dtypes[kind]


def set_autocast_dtype(device_type, dtype):
    kind = _autocast_device(device_type, "set_autocast_dtype")
    if not isinstance(dtype, _dt.dtype):
        raise TypeError(f"set_autocast_dtype(): argument 'dtype' (position 2) must be torch.dtype, not "
                        f"{type(dtype).__name__}")
    _dtypes[kind] = dtype


def _deprecated(old, new):
    warnings.warn(f"{old} is deprecated. Please use {new} instead.", DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled():
    _deprecated("torch.is_autocast_cpu_enabled()", "torch.is_autocast_enabled('cpu')")
    return _enabled["cpu"]


def set_autocast_cpu_enabled(enabled):
    _deprecated("torch.set_autocast_cpu_enabled(enabled)", "torch.set_autocast_enabled('cpu', enabled)")
    _check_bool(enabled, "set_autocast_cpu_enabled", "enabled", 1)
    _enabled["cpu"] = enabled
    _dispatch.rebuild()


def get_autocast_cpu_dtype():
    _deprecated("torch.get_autocast_cpu_dtype()", "torch.get_autocast_dtype('cpu')")
    return _dtypes["cpu"]


def set_autocast_cpu_dtype(dtype):
    _deprecated("torch.set_autocast_cpu_dtype(dtype)", "torch.set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    _deprecated("torch.get_autocast_gpu_dtype()", "torch.get_autocast_dtype('cuda')")
    return _dtypes["cuda"]


def set_autocast_gpu_dtype(dtype):
    _deprecated("torch.set_autocast_gpu_dtype(dtype)", "torch.set_autocast_dtype('cuda', dtype)")
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled():
    return _settings["cache_enabled"]


def set_autocast_cache_enabled(enabled):
    _check_bool(enabled, "set_autocast_cache_enabled", "enabled", 1)
    _settings["cache_enabled"] = enabled


def clear_autocast_cache():
    """Drop the cached lower-precision copies of weights (autocast does it when its outermost region exits)."""
    _dispatch.clear_cache()


def autocast_increment_nesting():
    _settings["nesting"] += 1
    return _settings["nesting"]


def autocast_decrement_nesting():
    _settings["nesting"] -= 1
    return _settings["nesting"]


def autocast_decorator(autocast_instance, func):
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)
    return decorate_autocast


class autocast:
    """A region (context manager or decorator) where the ops on PyTorch's autocast lists run in lower precision
    (matmul, linear, conv ...), in float32 (losses, norms ...) or in their inputs' widest dtype (cat, stack).

    device_type: 'cpu' or 'cuda'; dtype: the lower precision (default get_autocast_dtype(device_type):
    bfloat16 on CPU, float16 on CUDA); enabled=False makes a region where autocast is off; cache_enabled:
    reuse the casts of float32 weights inside the region (default is_autocast_cache_enabled())."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{self.device}'")
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled:
            if self.device == "cuda":
                from .. import cuda
                if not cuda.is_available():
                    warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                                  stacklevel=2)
                    enabled = False
                elif self.fast_dtype is _dt.bfloat16:
                    # ember's CUDA backend (CuPy) has no bfloat16 arrays
                    raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to "
                                       "float16.")
            elif self.fast_dtype not in (_dt.bfloat16, _dt.float16):
                name = self.device.upper()
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                              f"{name} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                              stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                            f"Did you mean to use autocast as a context manager? For example:\n"
                            f"    with torch.autocast(device_type=...):\n"
                            f"        output = model(input)")
        return autocast_decorator(self, func)


def _cast(value, device_type, dtype):
    """value with its floating-point tensors (not float64, on device_type) cast to dtype, through containers."""
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and value.dtype is not _dt.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        iterable = (_cast(v, device_type, dtype) for v in value)
        return type(value)(iterable) if isinstance(value, (list, tuple)) else iterable
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom Function's forward: with cast_inputs, inside an autocast region the floating
    inputs are cast to it and forward runs with autocast off; without, forward runs under the current state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom Function's backward: it runs with the autocast state its forward ran with."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
