"""Primitive ops and their public functions. Importing this package registers every op."""
from . import (  # noqa: F401  (imported for registration)
    creation, indexing, inplace, linalg, pointwise, reduction, sampling, shape, sorting)
from ._registry import METHODS, PUBLIC

inplace._install_fast()
globals().update(PUBLIC)
