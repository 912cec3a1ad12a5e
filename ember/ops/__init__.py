"""Primitive ops and their public functions. Importing this package registers every op."""
from . import (  # noqa: F401  (imported for registration)
    activation, conv, creation, indexing, inplace, linalg, loss, normalization, pointwise, pooling, recurrent,
    reduction, sampling, shape, sorting, special_functions)
from ._registry import METHODS, PUBLIC

inplace._install_fast()
globals().update(PUBLIC)
# `from .ops import *` in ember/__init__.py must export the public functions only: without __all__ it
# would also export these submodules, and `ember.linalg` would become ember.ops.linalg.
__all__ = list(PUBLIC)
