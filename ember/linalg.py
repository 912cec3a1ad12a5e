"""ember.linalg: PyTorch's torch.linalg: norms, inverse, determinants, solvers, decompositions, matrix functions.

The ops live in ember/ops/linalg.py; this module gives them their torch.linalg names."""
from .ops.linalg import (LinAlgError, cholesky, det, eigh, eigvalsh, inv, matrix_exp, matrix_norm, matrix_power,
                         matrix_rank, multi_dot, pinv, qr, slogdet, solve, solve_triangular, svd, svdvals, vecdot)
from .ops.linalg import linalg_cross as cross
from .ops.linalg import linalg_norm as norm
from .ops.reduction import vector_norm

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve", "solve_triangular", "pinv",
           "cross", "vecdot", "svd", "svdvals", "qr", "cholesky", "eigh", "eigvalsh", "matrix_power", "matrix_exp",
           "multi_dot", "matrix_rank", "LinAlgError"]
