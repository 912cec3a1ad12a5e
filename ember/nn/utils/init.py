"""skip_init: build a module without running its parameter initialisation."""
import inspect

from ... import ops
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with uninitialised parameters and buffers; draws nothing from the RNG.
    Built on the meta device, then given empty storage on `device` (default cpu), as PyTorch does."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    kwargs["device"] = "meta"
    module = module_cls(*args, **kwargs)
    return module._apply(lambda t: ops.empty_like(t, device=final_device))
