"""The deprecated spellings torch.cpu.amp.* and torch.cuda.amp.* (ember.cpu.amp and ember.cuda.amp): the same
classes and decorators for a fixed device type, each with PyTorch's FutureWarning when made."""
import functools
import types
import warnings

from .. import _dtype as _dt
from . import autocast_mode
from .grad_scaler import GradScaler as _GradScaler


def _warn(message):
    warnings.warn(message, FutureWarning, stacklevel=3)


class _CpuAutocast(autocast_mode.autocast):
    """See ember.autocast. ``torch.cpu.amp.autocast(args...)`` is deprecated: use
    ``torch.amp.autocast("cpu", args...)``."""

    def __init__(self, enabled=True, dtype=_dt.bfloat16, cache_enabled=True):
        _warn("`torch.cpu.amp.autocast(args...)` is deprecated. "
              "Please use `torch.amp.autocast('cpu', args...)` instead.")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class _CudaAutocast(autocast_mode.autocast):
    """See ember.autocast. ``torch.cuda.amp.autocast(args...)`` is deprecated: use
    ``torch.amp.autocast("cuda", args...)``."""

    def __init__(self, enabled=True, dtype=_dt.float16, cache_enabled=True):
        _warn("`torch.cuda.amp.autocast(args...)` is deprecated. "
              "Please use `torch.amp.autocast('cuda', args...)` instead.")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


def _scaler_class(device):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _warn(f"`torch.{device}.amp.GradScaler(args...)` is deprecated. "
              f"Please use `torch.amp.GradScaler('{device}', args...)` instead.")
        _GradScaler.__init__(self, device, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)
    doc = (f"See ember.amp.GradScaler. ``torch.{device}.amp.GradScaler(args...)`` is deprecated: use "
           f"``torch.amp.GradScaler('{device}', args...)``.")
    return type("GradScaler", (_GradScaler,), {"__init__": __init__, "__doc__": doc})


def _cuda_custom_fwd(fwd=None, *, cast_inputs=None):
    """Deprecated: ``torch.amp.custom_fwd(args..., device_type='cuda')``."""
    _warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. "
          "Please use `torch.amp.custom_fwd(args..., device_type='cuda')` instead.")
    return functools.partial(autocast_mode.custom_fwd, device_type="cuda")(fwd=fwd, cast_inputs=cast_inputs)


def _cuda_custom_bwd(bwd):
    """Deprecated: ``torch.amp.custom_bwd(args..., device_type='cuda')``."""
    _warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. "
          "Please use `torch.amp.custom_bwd(args..., device_type='cuda')` instead.")
    return functools.partial(autocast_mode.custom_bwd, device_type="cuda")(bwd)


def _amp_definitely_not_available():
    """True when ember has no CUDA device (CuPy missing or no GPU)."""
    from .. import cuda
    return not cuda.is_available()


def _module(name, doc, **members):
    module = types.ModuleType(name, doc)
    for key, value in members.items():
        if isinstance(value, type):
            value.__module__, value.__qualname__ = name, key
            value.__name__ = key
        setattr(module, key, value)
    module.__all__ = sorted(members)
    return module


cpu_amp = _module("ember.cpu.amp", "torch.cpu.amp (deprecated spellings of ember.amp for the CPU).",
                  autocast=_CpuAutocast, GradScaler=_scaler_class("cpu"))
cuda_amp = _module("ember.cuda.amp", "torch.cuda.amp (deprecated spellings of ember.amp for CUDA).",
                   autocast=_CudaAutocast, GradScaler=_scaler_class("cuda"), custom_fwd=_cuda_custom_fwd,
                   custom_bwd=_cuda_custom_bwd,
                   amp_definitely_not_available=_amp_definitely_not_available)
