"""torch.backends.nnpack: the NNPACK convolution library. ember does not use it (its convolutions are NumPy
array code), so is_available() is False (PyTorch's CPU build answers True) and the enabled flag is only
recorded."""
import contextlib

from . import _check_bool, _unfrozen

__all__ = ["is_available", "flags", "set_flags"]

_nnpack_enabled = True
_check_enabled = _check_bool("set_enabled_NNPACK")


def is_available():
    """Whether NNPACK is there for ember's kernels: never."""
    return False


def set_flags(_enabled):
    """Set whether NNPACK is enabled (a bool); returns the previous value in a 1-tuple."""
    global _nnpack_enabled
    _check_enabled(_enabled)
    orig, _nnpack_enabled = (_nnpack_enabled,), _enabled
    return orig


@contextlib.contextmanager
def flags(enabled=False):
    """Set whether NNPACK is enabled for the `with` block, then restore it."""
    with _unfrozen():
        orig = set_flags(enabled)
    try:
        yield
    finally:
        with _unfrozen():
            set_flags(orig[0])
