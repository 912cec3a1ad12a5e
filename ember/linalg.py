"""ember.linalg: PyTorch's torch.linalg: norms, inverse, determinants, solvers, decompositions, matrix functions.

The ops live in ember/ops/ (products.py, solvers.py, decompositions.py, matrix_functions.py, norms.py);
this module gives them their torch.linalg names."""
from .ops.decompositions import cholesky, eigh, eigvalsh, qr, svd, svdvals
from .ops.matrix_functions import linalg_norm as norm
from .ops.matrix_functions import matrix_exp, matrix_norm, matrix_power, matrix_rank, pinv
from .ops.products import linalg_cross as cross
from .ops.products import multi_dot, vecdot
from .ops.solvers import LinAlgError, det, inv, slogdet, solve, solve_triangular
from .ops.norms import vector_norm

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve", "solve_triangular", "pinv",
           "cross", "vecdot", "svd", "svdvals", "qr", "cholesky", "eigh", "eigvalsh", "matrix_power", "matrix_exp",
           "multi_dot", "matrix_rank", "LinAlgError"]
