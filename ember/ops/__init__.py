"""Primitive ops and their public functions. Importing this package registers every op."""
# Each family module registers its ops (and Tensor methods) on import.
from . import adaptive_pooling  # noqa: F401
from . import arithmetic  # noqa: F401
from . import comparison  # noqa: F401
from . import contractions  # noqa: F401
from . import conv  # noqa: F401
from . import creation  # noqa: F401
from . import decompositions  # noqa: F401
from . import distances  # noqa: F401
from . import gamma_sampling  # noqa: F401
from . import indexing  # noqa: F401
from . import inplace  # noqa: F401
from . import joining  # noqa: F401
from . import loss  # noqa: F401
from . import matrix_functions  # noqa: F401
from . import normalization  # noqa: F401
from . import norms  # noqa: F401
from . import piecewise_activations  # noqa: F401
from . import pooling  # noqa: F401
from . import products  # noqa: F401
from . import recurrent  # noqa: F401
from . import reduction  # noqa: F401
from . import reordering  # noqa: F401
from . import sampling  # noqa: F401
from . import scan  # noqa: F401
from . import scatter_gather  # noqa: F401
from . import short_time_fourier  # noqa: F401
from . import slicing  # noqa: F401
from . import smooth_activations  # noqa: F401
from . import softmax_family  # noqa: F401
from . import solvers  # noqa: F401
from . import sorting  # noqa: F401
from . import sparse_coo_ops  # noqa: F401
from . import sparse_ops  # noqa: F401
from . import sparse_csr_ops  # noqa: F401  (after sparse_ops: its Tensor methods take compressed tensors too)
from . import special_functions  # noqa: F401
from . import incomplete_gamma  # noqa: F401
from . import statistics  # noqa: F401
from . import unary  # noqa: F401
from . import views  # noqa: F401
from . import windows  # noqa: F401
from ._registry import METHODS, PUBLIC

inplace._install_fast()
globals().update(PUBLIC)
# `from .ops import *` in ember/__init__.py must export the public functions only: without __all__ it
# would also export these submodules (ember.views, ember.products ...).
__all__ = list(PUBLIC)
