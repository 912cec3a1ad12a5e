"""torch.backends.mkldnn: oneDNN's (formerly MKL-DNN) switches and queries.

ember has no oneDNN kernels (its CPU kernels are NumPy array code), so is_available() is False, verbose()
cannot turn oneDNN's logging on, and the flags are recorded and read back without changing what ember
computes. PyTorch's CPU build, which has oneDNN, answers True to is_available().
"""
import contextlib
import sys
import types

from . import _Flag, _check_bool, _unfrozen

__all__ = ["is_available", "is_acl_available", "set_flags", "flags", "verbose", "VERBOSE_OFF", "VERBOSE_ON",
           "VERBOSE_ON_CREATION"]

VERBOSE_OFF = 0
VERBOSE_ON = 1
VERBOSE_ON_CREATION = 2

_state = {"enabled": True, "deterministic": False, "allow_tf32": False}
_CHECKS = {"enabled": _check_bool("set_enabled_mkldnn"), "deterministic": _check_bool("set_deterministic_mkldnn"),
           "allow_tf32": _check_bool("_set_onednn_allow_tf32")}


def is_available():
    """Whether oneDNN is there for ember's kernels: never."""
    return False


def is_acl_available():
    """Whether oneDNN with the Arm Compute Library is there: never."""
    return False


class verbose:
    """`with verbose(VERBOSE_ON):` turns oneDNN's kernel logging on for the block. ember has no oneDNN to
    log, so any level but VERBOSE_OFF raises AssertionError on entry, as PyTorch without oneDNN does."""

    def __init__(self, level):
        self.level = level

    def __enter__(self):
        if self.level == VERBOSE_OFF:
            return None
        raise AssertionError("Failed to set MKLDNN into verbose mode. Please consider to disable this verbose "
                             "scope.")

    def __exit__(self, exc_type, exc_value, traceback):
        return False


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None, _fp32_precision="none"):
    """Set the flags given (None leaves one as it is) and return the previous values, in flags()'s order.
    `_fp32_precision` is checked but ember keeps no reduced-precision state for float32."""
    orig = (_state["enabled"], _state["deterministic"], _state["allow_tf32"], "none")
    for name, value in (("enabled", _enabled), ("deterministic", _deterministic), ("allow_tf32", _allow_tf32)):
        if value is not None:
            _CHECKS[name](value)
            _state[name] = value
    if _fp32_precision is not None and _fp32_precision not in ("none", "ieee", "tf32", "bf16"):
        raise RuntimeError(f"Unknown precision: {_fp32_precision}")
    return orig


@contextlib.contextmanager
def flags(enabled=False, deterministic=False, allow_tf32=True, fp32_precision="none"):
    """Set all the flags for the `with` block (PyTorch's defaults: oneDNN disabled), then restore them."""
    with _unfrozen():
        orig = set_flags(enabled, deterministic, allow_tf32, fp32_precision)
    try:
        yield
    finally:
        with _unfrozen():
            set_flags(*orig)


class _MkldnnModule(types.ModuleType):
    """ember.backends.mkldnn, whose flags are attributes that check what they are set to."""
    enabled = _Flag(_CHECKS["enabled"])
    deterministic = _Flag(_CHECKS["deterministic"])
    allow_tf32 = _Flag(_CHECKS["allow_tf32"])


sys.modules[__name__].__class__ = _MkldnnModule
