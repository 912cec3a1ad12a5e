"""torch.backends.miopen: AMD's MIOpen (ROCm's cuDNN). ember has no MIOpen kernels; its one flag,
`immediate` (MIOpen's immediate mode), is recorded and read back only."""
import contextlib
import sys
import types

from . import _Flag, _check_bool, _unfrozen

__all__ = ["set_flags", "flags"]

_state = {"immediate": False}
_check_immediate = _check_bool("set_immediate_miopen")


def set_flags(_immediate=None):
    """Set the flags given (None leaves one as it is) and return the previous values."""
    orig = (_state["immediate"],)
    if _immediate is not None:
        _check_immediate(_immediate)
        _state["immediate"] = _immediate
    return orig


@contextlib.contextmanager
def flags(immediate=False):
    """Set `immediate` for the `with` block, then restore it."""
    with _unfrozen():
        orig = set_flags(immediate)
    try:
        yield
    finally:
        with _unfrozen():
            set_flags(*orig)


class _MiopenModule(types.ModuleType):
    """ember.backends.miopen, whose flag is an attribute that checks what it is set to."""
    immediate = _Flag(_check_immediate)


sys.modules[__name__].__class__ = _MiopenModule
