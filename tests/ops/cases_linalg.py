"""OpCases for the linalg ops added after the first database (joined to OP_CASES in op_db.py).

Singular and eigen vectors are defined up to sign (a phase for complex), so cases compare and
differentiate gauge-invariant functions of them (|U|, |V|), as PyTorch's own tests do."""

from op_db import C, FLOAT, ALL, NUMERIC, COMPLEX, ErrorCase  # noqa: F401

import ember

INF = float("inf")
FC = FLOAT + COMPLEX


def _pd(m, x):
    """A well-conditioned symmetric positive-definite matrix from x."""
    return x @ x.mH + m.eye(x.shape[-1], dtype=x.dtype) * x.shape[-1]


def _tri(m, a):
    """A triangular solve's A with a diagonal far from zero."""
    return a + m.eye(a.shape[-1], dtype=a.dtype) * 4


def _svd_abs(r, k=None):
    U, S, V = r
    return U[..., :k].abs(), S, V.abs()


CASES = [
    # torch.linalg decompositions
    C("linalg.svd", lambda m, x: _svd_abs(m.linalg.svd(x, full_matrices=False)), [(4, 3), (2, 3, 5)], FC,
      gradgrad=True),
    C("linalg.svd", lambda m, x: _svd_abs(m.linalg.svd(x), 3), [(5, 3), (2, 4, 3)], FC, variant="full"),
    C("linalg.svd", lambda m, x: (lambda r: r.U * r.S.unsqueeze(-2) @ r.Vh)(m.linalg.svd(x, full_matrices=False)),
      [(4, 3)], variant="reconstruct", grad=False),
    C("linalg.svdvals", lambda m, x: m.linalg.svdvals(x), [(3, 4), (2, 4, 3), (0, 3)], FC, gradgrad=True),
    C("linalg.qr", lambda m, x: m.linalg.qr(x), [(5, 3), (2, 4, 4), (3, 5)], FC, gradgrad=True),
    C("linalg.qr", lambda m, x: m.linalg.qr(x, mode="complete"), [(5, 3), (3, 3)], FC, grad=False,
      variant="complete"),
    C("linalg.qr", lambda m, x: m.linalg.qr(x, "r").R, [(5, 3)], grad=False, variant="r"),
    C("linalg.cholesky", lambda m, x: m.linalg.cholesky(_pd(m, x)), [(3, 3), (2, 4, 4)], FC, gradgrad=True),
    C("linalg.cholesky", lambda m, x: m.linalg.cholesky(_pd(m, x), upper=True), [(3, 3)], variant="upper"),
    C("cholesky_solve", lambda m, b, a: m.cholesky_solve(b, m.linalg.cholesky(_pd(m, a))),
      [((3, 2), (3, 3)), ((2, 3, 1), (3, 3))], FLOAT, gradgrad=True),
    C("cholesky_solve", lambda m, b, a: b.cholesky_solve(m.linalg.cholesky(_pd(m, a), upper=True), True),
      [((3, 2), (3, 3))], FLOAT, variant="upper"),
    C("linalg.eigh", lambda m, x: (lambda r: (r.eigenvalues, r.eigenvectors.abs()))(m.linalg.eigh(x + x.mT)),
      [(4, 4), (2, 3, 3)], FLOAT, gradgrad=True),
    C("linalg.eigh", lambda m, x: (lambda r: (r[0], r[1].abs()))(m.linalg.eigh(x, UPLO="U")), [(4, 4)], FC,
      variant="upper", grad=False),
    C("linalg.eigvalsh", lambda m, x: m.linalg.eigvalsh(x + x.mT), [(4, 4), (2, 3, 3)], FC),
    C("linalg.eigvalsh", lambda m, x: m.linalg.eigvalsh(x, "U"), [(4, 4)], variant="upper", grad=False),
    # matrix functions and products
    C("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(x, 3), [(3, 3), (2, 3, 3)], FC + ("int64",)),
    C("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(_pd(m, x), -2), [(3, 3), (2, 3, 3)],
      variant="negative"),
    C("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(x, 1), [(3, 3)], variant="one"),
    C("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(x, 0), [(3, 3), (2, 2, 2)], NUMERIC, grad=False,
      variant="zero"),
    C("linalg.matrix_exp", lambda m, x: m.linalg.matrix_exp(x), [(3, 3), (2, 3, 3), (1, 1)], FC, gradgrad=True),
    C("linalg.matrix_exp", lambda m, x: m.linalg.matrix_exp(x * 3), [(4, 4)], variant="large", rtol=1e-6),
    C("linalg.multi_dot", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [((4, 3), (3, 5), (5, 2))], FC),
    C("linalg.multi_dot", lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]),
      [((3,), (3, 5), (5, 2), (2,))], variant="vectors"),
    C("linalg.multi_dot", lambda m, a, b: m.linalg.multi_dot((a, b)), [((2, 3), (3,))], variant="two"),
    C("linalg.vecdot", lambda m, x, y: m.linalg.vecdot(x, y), [((3, 4), (3, 4)), ((2, 3), (3,))], FC),
    C("linalg.vecdot", lambda m, x, y: m.linalg.vecdot(x, y, dim=0), [((3, 4), (3, 1))], variant="dim"),
    C("linalg.matrix_rank", lambda m, x: m.linalg.matrix_rank(x), [(3, 4), (2, 4, 3)], FC, grad=False),
    C("linalg.matrix_rank", lambda m, x: m.linalg.matrix_rank(x @ x.mT), [(4, 2), (2, 5, 3)], FLOAT, grad=False,
      variant="deficient"),
    C("linalg.matrix_rank", lambda m, x: m.linalg.matrix_rank(x @ x.mT, hermitian=True, atol=0.5), [(4, 2)],
      grad=False, variant="hermitian"),
    C("linalg.solve_triangular", lambda m, a, b: m.linalg.solve_triangular(_tri(m, a), b, upper=True),
      [((3, 3), (3, 2)), ((2, 3, 3), (3, 4)), ((3, 3), (2, 3, 1))], FC, gradgrad=True),
    C("linalg.solve_triangular", lambda m, a, b: m.linalg.solve_triangular(_tri(m, a), b, upper=False, left=False),
      [((3, 3), (2, 3)), ((2, 3, 3), (4, 3))], variant="right"),
    C("linalg.solve_triangular", lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
      [((3, 3), (3, 2))], variant="unit"),
    C("linalg.pinv", lambda m, x: m.linalg.pinv(x), [(3, 4), (2, 4, 3)], FC, variant="grad", gradgrad=True,
      data_dependent=True),
    C("linalg.pinv", lambda m, x: m.linalg.pinv(x + x.mT, hermitian=True), [(3, 3)], variant="hermitian",
      data_dependent=True),
    C("linalg.pinv", lambda m, x: m.linalg.pinv(x @ x.mT, atol=1e-3), [(4, 2)], variant="deficient",
      data_dependent=True),
    C("linalg.slogdet", lambda m, x: m.linalg.slogdet(x), [(3, 3), (2, 4, 4)], FC, variant="primitive"),
    C("linalg.matrix_norm", lambda m, x: m.linalg.matrix_norm(x, "nuc"), [(3, 4), (2, 4, 3)], variant="nuc",
      composite=True),
    C("linalg.matrix_norm", lambda m, x: m.linalg.matrix_norm(x, -2, dim=(0, 2), keepdim=True), [(2, 4, 3)],
      variant="two", composite=True),
    # torch.* functions and Tensor methods
    C("det", lambda m, x: m.det(x), [(3, 3), (2, 3, 3)], FC, gradgrad=True),
    C("det", lambda m, x: x.det(), [(3, 3)], variant="method"),
    C("inverse", lambda m, x: m.inverse(_pd(m, x)), [(3, 3), (2, 3, 3)], FC),
    C("inverse", lambda m, x: x.inverse(), [(3, 3)], variant="method"),
    C("logdet", lambda m, x: m.logdet(_pd(m, x)), [(3, 3), (2, 3, 3)], FC),
    C("logdet", lambda m, x: x.logdet(), [(3, 3), (4, 3, 3)], grad=False, variant="negative"),
    C("slogdet", lambda m, x: m.slogdet(x), [(3, 3), (2, 3, 3)], FC, gradgrad=True),
    C("slogdet", lambda m, x: x.slogdet(), [(3, 3)], variant="method"),
    C("svd", lambda m, x: _svd_abs(m.svd(x)), [(4, 3), (2, 3, 5)], FC),
    C("svd", lambda m, x: _svd_abs(x.svd(some=False), 3), [(4, 3)], variant="full"),
    C("svd", lambda m, x: m.svd(x, compute_uv=False), [(4, 3), (2, 3, 5)], variant="no_uv"),
    C("qr", lambda m, x: m.qr(x), [(5, 3), (3, 3)], FC),
    C("qr", lambda m, x: x.qr(some=False), [(5, 3)], grad=False, variant="complete"),
    C("cholesky", lambda m, x: m.cholesky(_pd(m, x)), [(3, 3), (2, 3, 3)], FC),
    C("cholesky", lambda m, x: _pd(m, x).cholesky(upper=True), [(3, 3)], variant="upper"),
    C("matrix_power", lambda m, x: m.matrix_power(x, 2), [(3, 3), (2, 3, 3)], FC),
    C("matrix_power", lambda m, x: x.matrix_power(-1), [(3, 3)], variant="method"),
    C("matrix_exp", lambda m, x: m.matrix_exp(x), [(3, 3), (2, 2, 2)], FC),
    C("matrix_exp", lambda m, x: x.matrix_exp(), [(3, 3)], variant="method"),
    C("pinverse", lambda m, x: m.pinverse(x), [(3, 4), (2, 4, 3)], FC),
    C("pinverse", lambda m, x: x.pinverse(rcond=1e-10), [(4, 3)], variant="method"),
    C("dist", lambda m, x, y: m.dist(x, y), [((3, 4), (3, 4)), ((2, 3), (3,)), ((), ())], FC, gradgrad=True),
    C("dist", lambda m, x, y: x.dist(y, 1), [((3, 4), (4,))], variant="p1"),
    C("dist", lambda m, x, y: m.dist(x, y, 3), [((3, 4), (4,))], variant="p3"),
    C("dist", lambda m, x, y: m.dist(x, y, 0.5), [((3, 4), (4,))], variant="p_half"),
    C("dist", lambda m, x, y: m.dist(x, y, INF), [((3, 4), (4,))], unique=True, variant="inf"),
    C("dist", lambda m, x, y: m.dist(x, y, -INF), [((3, 4), (4,))], unique=True, variant="minus_inf"),
    C("dist", lambda m, x, y: m.dist(x, y, 0), [((3, 4), (4,))], variant="p0",
      torch_backward_fails="its dist backward at p=0 returns an undefined gradient that it then refuses"),
    C("cdist", lambda m, x, y: m.cdist(x, y), [((3, 4), (5, 4)), ((2, 3, 4), (2, 5, 4)), ((2, 3, 4), (5, 4)),
                                               ((0, 2), (3, 2))], gradgrad=True),
    C("cdist", lambda m, x, y: m.cdist(x, y, p=1), [((3, 4), (5, 4))], variant="p1"),
    C("cdist", lambda m, x, y: m.cdist(x, y, 3), [((2, 3, 4), (5, 4))], variant="p3"),
    C("cdist", lambda m, x, y: m.cdist(x, y, 0.5), [((3, 4), (5, 4))], variant="p_half"),
    C("cdist", lambda m, x, y: m.cdist(x, y, 0), [((3, 4), (5, 4))], variant="p0"),
    C("cdist", lambda m, x, y: m.cdist(x, y, INF), [((3, 4), (5, 4))], unique=True, variant="inf"),
    C("chain_matmul", lambda m, a, b, c: m.chain_matmul(a, b, c), [((4, 3), (3, 5), (5, 2))]),
    C("chain_matmul", lambda m, a: m.chain_matmul(a), [(4, 3)], variant="one"),
    C("cross", lambda m, x, y: m.cross(x, y), [((4, 3), (4, 3)), ((2, 3, 4), (1, 3, 4))], FC, gradgrad=True),
    C("cross", lambda m, x, y: x.cross(y, dim=0), [((3, 4), (3, 4))], variant="dim"),
    C("cross", lambda m, x, y: m.cross(x, y, -1), [((2, 3), (2, 3))], NUMERIC, variant="int"),
]

_LINALG_ERROR = ember.linalg.LinAlgError
_NOT_PD = [[1.0, 2.0], [2.0, 1.0]]

ERROR_CASES = [
    ErrorCase("svd_1d", lambda m: m.linalg.svd(m.ones(3)), RuntimeError, r"at least 2 dimensions"),
    ErrorCase("svd_int", lambda m: m.linalg.svd(m.ones(3, 3, dtype=m.int64)), RuntimeError, r"Long"),
    ErrorCase("svdvals_1d", lambda m: m.linalg.svdvals(m.ones(3)), RuntimeError, r"at least 2 dimensions"),
    ErrorCase("qr_1d", lambda m: m.linalg.qr(m.ones(3)), RuntimeError, r"at least 2 dimensions"),
    ErrorCase("qr_mode", lambda m: m.linalg.qr(m.ones(3, 3), mode="x"), RuntimeError, r"unrecognized mode 'x'"),
    ErrorCase("qr_complete_backward", lambda m: m.linalg.qr(m.eye(4, 3, requires_grad=True), "complete").Q.sum()
              .backward(), RuntimeError, r"mode='complete'"),
    ErrorCase("qr_r_backward", lambda m: m.linalg.qr(m.eye(4, 3, requires_grad=True), "r").R.sum().backward(),
              RuntimeError, r"mode='r'"),
    ErrorCase("cholesky_nonsquare", lambda m: m.linalg.cholesky(m.ones(2, 3)), RuntimeError, r"2 by 3"),
    ErrorCase("cholesky_not_pd", lambda m: m.linalg.cholesky(m.tensor(_NOT_PD)), _LINALG_ERROR,
              r"leading minor of order 2", torch_error="linalg.LinAlgError"),
    ErrorCase("cholesky_batch_not_pd", lambda m: m.linalg.cholesky(m.stack([m.eye(2), m.tensor(_NOT_PD)])),
              _LINALG_ERROR, r"Batch element 1", torch_error="linalg.LinAlgError"),
    ErrorCase("cholesky_legacy_not_pd", lambda m: m.cholesky(m.tensor(_NOT_PD)), RuntimeError,
              r"^cholesky: .*positive-definite"),
    ErrorCase("eigh_nonsquare", lambda m: m.linalg.eigh(m.ones(2, 3)), RuntimeError, r"square"),
    ErrorCase("eigh_uplo", lambda m: m.linalg.eigh(m.ones(3, 3), UPLO="X"), RuntimeError, r"'L' or 'U'"),
    ErrorCase("eigvalsh_1d", lambda m: m.linalg.eigvalsh(m.ones(3)), RuntimeError, r"at least 2 dimensions"),
    ErrorCase("matrix_power_nonsquare", lambda m: m.linalg.matrix_power(m.ones(2, 3), 2), RuntimeError, r"2 by 3"),
    ErrorCase("matrix_power_int_negative", lambda m: m.linalg.matrix_power(m.ones(3, 3, dtype=m.int64), -1),
              RuntimeError, r"floating point"),
    ErrorCase("matrix_power_singular", lambda m: m.linalg.matrix_power(m.zeros(3, 3), -1), _LINALG_ERROR,
              r"singular", torch_error="linalg.LinAlgError"),
    ErrorCase("matrix_exp_int", lambda m: m.linalg.matrix_exp(m.ones(3, 3, dtype=m.int64)), RuntimeError, r"Long"),
    ErrorCase("matrix_exp_nonsquare", lambda m: m.matrix_exp(m.ones(2, 3)), RuntimeError, r"square"),
    ErrorCase("multi_dot_one", lambda m: m.linalg.multi_dot([m.ones(3, 3)]), RuntimeError, r"at least 2"),
    ErrorCase("multi_dot_shapes", lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(2, 3)]), RuntimeError,
              r"\[3, 3\] and \[2, 3\]"),
    ErrorCase("multi_dot_3d", lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(2, 3, 3)]), RuntimeError, r"3D"),
    ErrorCase("matrix_rank_1d", lambda m: m.linalg.matrix_rank(m.ones(3)), RuntimeError, r"at least 2"),
    ErrorCase("solve_triangular_shapes", lambda m: m.linalg.solve_triangular(m.ones(3, 3), m.ones(2, 2), upper=True),
              RuntimeError, r"3x3 and 2x2"),
    ErrorCase("solve_triangular_1d", lambda m: m.linalg.solve_triangular(m.ones(3, 3), m.ones(3), upper=True),
              RuntimeError, r"B must have at least 2"),
    ErrorCase("solve_triangular_upper", lambda m: m.linalg.solve_triangular(m.ones(3, 3), m.ones(3, 1)), TypeError),
    ErrorCase("vecdot_int", lambda m: m.linalg.vecdot(m.ones(3, dtype=m.int64), m.ones(3, dtype=m.int64)),
              RuntimeError, r"Long"),
    ErrorCase("vecdot_dtypes", lambda m: m.linalg.vecdot(m.ones(3), m.ones(3, dtype=m.float64)), RuntimeError,
              r"same dtype"),
    ErrorCase("inverse_singular", lambda m: m.inverse(m.zeros(2, 2)), _LINALG_ERROR,
              r"diagonal element 1 is zero", torch_error="linalg.LinAlgError"),
    ErrorCase("inv_batch_singular", lambda m: m.linalg.inv(m.stack([m.eye(3), m.tensor([[1.0, 2, 3], [2, 4, 6],
                                                                                         [0, 1, 1]])])),
              _LINALG_ERROR, r"Batch element 1\): The diagonal element 3", torch_error="linalg.LinAlgError"),
    ErrorCase("solve_singular_linalg_error", lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2)), _LINALG_ERROR,
              r"singular", torch_error="linalg.LinAlgError"),
    ErrorCase("det_int", lambda m: m.det(m.ones(3, 3, dtype=m.int64)), RuntimeError, r"Long"),
    ErrorCase("logdet_nonsquare", lambda m: m.logdet(m.ones(2, 3)), RuntimeError, r"2 by 3"),
    ErrorCase("pinverse_1d", lambda m: m.pinverse(m.ones(3)), RuntimeError),
    ErrorCase("cdist_1d", lambda m: m.cdist(m.ones(3), m.ones(3)), RuntimeError, r"at least 2D"),
    ErrorCase("cdist_columns", lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)), RuntimeError, r"X1: 3 X2: 4"),
    ErrorCase("cdist_negative_p", lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), p=-1), RuntimeError, r"non-negative"),
    ErrorCase("cdist_int", lambda m: m.cdist(m.ones(2, 3, dtype=m.int64), m.ones(2, 3, dtype=m.int64)),
              RuntimeError, r"floating-point"),
    ErrorCase("cdist_batch", lambda m: m.cdist(m.ones(2, 2, 3), m.ones(3, 2, 3)), RuntimeError),
    ErrorCase("dist_shapes", lambda m: m.dist(m.ones(3), m.ones(4)), RuntimeError),
    ErrorCase("dist_int", lambda m: m.dist(m.ones(3, dtype=m.int64), m.ones(3, dtype=m.int64)), RuntimeError,
              r"Long"),
    ErrorCase("chain_matmul_1d", lambda m: m.chain_matmul(m.ones(3, 3), m.ones(3)), RuntimeError, r"dimension is 1"),
    ErrorCase("cross_no_size_3", lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)), RuntimeError, r"no dimension"),
    ErrorCase("cross_length", lambda m: m.cross(m.ones(2, 3), m.ones(2, 4), dim=1), RuntimeError,
              r"dimension 1 must have length 3"),
    ErrorCase("linalg_cross_ndim", lambda m: m.linalg.cross(m.ones(3), m.ones(2, 3)), RuntimeError,
              r"same number of dimensions"),
]
