"""torch.backends.opt_einsum: whether einsum plans its contraction order with the opt_einsum package.

is_available() tells whether opt_einsum is installed (it is imported only by get_opt_einsum()); `enabled`
and `strategy` default to PyTorch's values for that answer and are plain attributes, as in PyTorch, checked
by set_flags() and flags(). ember.einsum does not read them: for three or more operands it always lets
NumPy's einsum choose the contraction order (NumPy's path finder is the one opt_einsum grew from).
"""
import contextlib
import functools
import importlib.util

from . import _unfrozen

__all__ = ["is_available", "get_opt_einsum", "set_flags", "flags", "enabled", "strategy"]

_STRATEGIES = ("auto", "greedy", "optimal")


@functools.lru_cache
def is_available():
    """Whether the opt_einsum package is installed (`pip install opt-einsum`)."""
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum():
    """The opt_einsum package if it is installed, else None."""
    return importlib.import_module("opt_einsum") if is_available() else None


enabled = is_available()
strategy = "auto" if is_available() else None


def _set_enabled(value):
    global enabled
    if value and not is_available():
        raise ValueError(f"opt_einsum is not available, so setting `enabled` to {value} will not reap the "
                         "benefits of calculating an optimal path for einsum. torch.einsum will fall back to "
                         "contracting from left to right. To enable this optimal path calculation, please "
                         "install opt-einsum.")
    enabled = value


def _set_strategy(value):
    global strategy
    if not is_available():
        raise ValueError(f"opt_einsum is not available, so setting `strategy` to {value} will not be "
                         "meaningful. torch.einsum will bypass path calculation and simply contract from left "
                         "to right. Please install opt_einsum or unset `strategy`.")
    if not enabled:
        raise ValueError(f"opt_einsum is not enabled, so setting a `strategy` to {value} will not be "
                         "meaningful. torch.einsum will bypass path calculation and simply contract from left "
                         "to right. Please set `enabled` to `True` as well or unset `strategy`.")
    if value not in _STRATEGIES:
        raise ValueError(f"`strategy` must be one of the following: [auto, greedy, optimal] but is {value}")
    strategy = value


def set_flags(_enabled=None, _strategy=None):
    """Set `enabled` and `strategy` (None leaves one as it is), checked; returns the previous values."""
    orig = (enabled, strategy if is_available() else None)
    if _enabled is not None:
        _set_enabled(_enabled)
    if _strategy is not None:
        _set_strategy(_strategy)
    return orig


@contextlib.contextmanager
def flags(enabled=None, strategy=None):
    """Set `enabled` and `strategy` for the `with` block, then restore them."""
    with _unfrozen():
        orig = set_flags(enabled, strategy)
    try:
        yield
    finally:
        with _unfrozen():
            set_flags(*orig)
