"""ember.linalg: PyTorch's torch.linalg: norms, inverse, determinants, solvers, decompositions, matrix functions.

The ops live in ember/ops/ (products.py, solvers.py, decompositions.py, matrix_functions.py, norms.py);
this module gives them their torch.linalg names and composes the few that are reshapes of them (diagonal,
vander, tensorinv, tensorsolve)."""
from .ops.decompositions import cholesky, eigh, eigvalsh, qr, svd, svdvals
from .ops.matrix_functions import linalg_norm as norm
from .ops.matrix_functions import matrix_exp, matrix_norm, matrix_power, matrix_rank, pinv
from .ops.products import linalg_cross as cross
from .ops.products import multi_dot, vecdot
from .ops.solvers import LinAlgError, det, inv, slogdet, solve, solve_triangular
from .ops.norms import vector_norm
from .ops.products import matmul
from .amp._dispatch import AUTOCAST, autocast_run, run_without_autocast

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve", "solve_triangular", "pinv",
           "cross", "vecdot", "svd", "svdvals", "qr", "cholesky", "eigh", "eigvalsh", "matrix_power", "matrix_exp",
           "multi_dot", "matrix_rank", "LinAlgError", "matmul", "diagonal", "vander", "tensorinv", "tensorsolve"]


def _prod(sizes):
    n = 1
    for d in sizes:
        n *= d
    return n


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """torch.diagonal with the matrix dims (the last two) as defaults."""
    return A.diagonal(offset, dim1, dim2)


def vander(x, *, N=None):
    """The Vandermonde matrix of x: columns x**0, x**1, ..., x**(N-1) (increasing powers), batched over x's
    leading dims; built by a cumulative product (finite gradients at x = 0)."""
    from .ops.joining import cat
    if AUTOCAST:                                     # not cast by PyTorch's autocast: its cat is ember's own
        return run_without_autocast(vander, x, N=N)
    N = (x.shape[-1] if x.ndim else 0) if N is None else N
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    column = x.unsqueeze(-1)
    powers = column.expand(*x.shape, N - 1).cumprod(-1)
    return cat([column.new_ones(column.shape, dtype=powers.dtype), powers], -1)


def tensorinv(A, ind=2, *, out=None):
    """The inverse of A for tensordot(A, ., ind): A reshaped to a square matrix, inverted, reshaped to
    A.shape[ind:] + A.shape[:ind]."""
    if "linalg_tensorinv" in AUTOCAST and out is None:
        return autocast_run("linalg_tensorinv", tensorinv, A, ind)
    from .ops._common import _out
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = _prod(A.shape[:ind]), _prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return _out(inv(A.reshape(rows, cols)).reshape(*A.shape[ind:], *A.shape[:ind]), out)


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) == B; `dims` of A move to the end first."""
    if "linalg_tensorsolve" in AUTOCAST and out is None:
        return autocast_run("linalg_tensorsolve", tensorsolve, A, B, dims)
    from .ops._common import _out
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = A.shape[B.ndim:]
    n, m = _prod(result_shape), _prod(B.shape)
    if n != m:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {n} != {m}")
    return _out(solve(A.reshape(m, n), B.reshape(m)).reshape(result_shape), out)
