"""torch.special: special functions under PyTorch's names. Most are ember ops known by another name; the
rest (i0e, i1, i1e, zeta, ndtr, ...) are primitives of ember/ops/special_functions.py."""
from .ops.unary import RoundDecimals as _RoundDecimals
from .ops.unary import erf, erfc, erfinv, exp2, expm1, log1p
from .ops.unary import sigmoid as expit
from .ops.softmax_family import log_softmax as _log_softmax
from .ops.reduction import logsumexp
from .ops.softmax_family import softmax as _softmax
from .ops.special_functions import (digamma, entr, erfcx, i0, i0e, i1, i1e, log_ndtr, logit, ndtr, ndtri, polygamma,
                                    sinc, xlog1py, xlogy, zeta)
from .ops.incomplete_gamma import igamma as gammainc
from .ops.incomplete_gamma import igammac as gammaincc
from .ops.special_functions import lgamma as gammaln
from .ops.special_functions import mvlgamma as multigammaln

psi = digamma


__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
           "gammaln", "i0", "i0e", "i1", "i1e",
           "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma",
           "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]


def round(input, *, decimals=0):
    """Round half to even; PyTorch's special.round always takes the decimals overload (RoundBackward1)."""
    return _RoundDecimals.apply(input, decimals)


def softmax(input, dim, *, dtype=None):
    """softmax along dim (dim is required here)."""
    return _softmax(input, dim, dtype)


def log_softmax(input, dim, *, dtype=None):
    """log_softmax along dim (dim is required here)."""
    return _log_softmax(input, dim, dtype)
