"""Matrix decompositions: linalg.cholesky, svd/svdvals, qr, eigh/eigvalsh, and the older torch.svd, torch.qr,
torch.cholesky. They run on the backend's LAPACK (numpy.linalg); their gradients are ember ops, so second
derivatives come free. Gradients are the real formulas: complex inputs run forward only.
"""
from ..autograd.function import Op
from ._common import return_type
from ._registry import export
from .creation import zeros
from .joining import cat
from .products import _deprecated
from .solvers import LinAlgError, _check_matrix, _eye, _first_failure, _real_only, solve_triangular
from ..amp._dispatch import AUTOCAST, autocast_run


class Cholesky(Op):
    """Lower factor L of A = L L^H, or L^H when upper (A's lower triangle is read).

    Note [cholesky gradient]: with P = L^H gL, keeping P's lower triangle with half its diagonal, the
    gradient is L^-H P L^-1, symmetrized (A is taken as Hermitian)."""
    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, input, name, upper):
        xp = ctx.xp
        ctx.upper = upper
        try:
            out = xp.linalg.cholesky(input)
        except xp.linalg.LinAlgError:
            prefix, m = _first_failure(xp, input, lambda m: not _positive(xp, m))
            order = next((k for k in range(1, len(m) + 1) if not _positive(xp, m[:k, :k])), len(m))
            raise LinAlgError(f"{name}: {prefix}The factorization could not be completed because the input is not "
                              f"positive-definite (the leading minor of order {order} is not positive-definite).") \
                from None
        if upper:
            out = xp.conj(xp.swapaxes(out, -1, -2))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        _real_only(ctx, "cholesky")
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, grad = L.mH, grad.mH
        P = L.mH @ grad
        P = P.tril() - P.diagonal(0, -2, -1).diag_embed() * 0.5
        grad_a = solve_triangular(L, solve_triangular(L.mH, P, upper=True), upper=False, left=False)
        return (grad_a + grad_a.mH) * 0.5, None, None


def _positive(xp, m):
    try:
        xp.linalg.cholesky(m)
        return True
    except xp.linalg.LinAlgError:
        return False


class CholeskyLegacy(Cholesky):
    node_name = "CholeskyBackward0"


class Svd(Op):
    """A = U diag(S) Vh.

    Note [svd gradient]: with J = U^H gU, K = V^H gV and F_ij = 1/(s_j^2 - s_i^2),
    gA = U [(F * (J - J^H)) S + S (F * (K - K^H)) + diag(gS)] Vh
         + (I - U U^H) gU S^-1 Vh + U S^-1 gV^H (I - V V^H).
    J - J^H has a zero diagonal, so F's diagonal (1 here, to stay finite) is never used. A full_matrices
    U or Vh only contributes its first min(m, n) vectors, as in PyTorch."""
    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, input, full_matrices):
        U, S, Vh = ctx.xp.linalg.svd(input, full_matrices=full_matrices)
        ctx.save_for_backward(U, S, Vh)               # the outputs only, as PyTorch: not the input
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        _real_only(ctx, "svd")
        U, S, Vh = ctx.saved_tensors
        m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
        U, Vh, gU, gVh = U[..., :k], Vh[..., :k, :], gU[..., :k], gVh[..., :k, :]
        S2 = S * S
        F = 1 / (S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye(S, k))
        J, K = U.mH @ gU, Vh @ gVh.mH
        inner = ((J - J.mH) * F) * S.unsqueeze(-2) + S.unsqueeze(-1) * ((K - K.mH) * F) + gS.diag_embed()
        grad = U @ inner @ Vh
        if m > k:
            grad = grad + ((gU - U @ J) / S.unsqueeze(-2)) @ Vh
        if n > k:
            grad = grad + (U / S.unsqueeze(-2)) @ (gVh - K.mH @ Vh)
        return grad, None


class Eigh(Op):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a Hermitian matrix (one triangle read).

    Note [eigh gradient]: with F_ij = 1/(L_j - L_i) off the diagonal,
    gA = V (diag(gL) + F * (V^H gV)) V^H."""
    node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, input, UPLO):
        L, V = ctx.xp.linalg.eigh(input, UPLO=UPLO)
        ctx.save_for_backward(input, L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        _real_only(ctx, "eigh")
        _, L, V = ctx.saved_tensors
        off = 1 - _eye(L)
        F = off / (L.unsqueeze(-2) - L.unsqueeze(-1) + _eye(L))
        return V @ ((V.mH @ gV) * F + gL.diag_embed()) @ V.mH, None


class Qr(Op):
    """A = Q R.

    Note [qr gradient] (m >= n): with M = R gR^H - gQ^H Q copied from its lower triangle to the upper,
    gA = (gQ + Q M) R^-H. For m < n, A = [X | Y] gives X = Q R[:, :m] and Y = Q R[:, m:]: Y's gradient is
    Q gR[:, m:], and X's the square case with gQ + Y gR[:, m:]^H."""
    node_name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, input, mode):
        ctx.mode = mode
        Q, R = ctx.xp.linalg.qr(input, mode="complete" if mode == "complete" else "reduced")
        if mode == "r":
            ctx.save_for_backward(R, None)
            return ctx.xp.zeros(0, dtype=input.dtype), R
        ctx.save_for_backward(R, Q)                   # the outputs only, as PyTorch: not the input
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        _real_only(ctx, "qr")
        R, Q = ctx.saved_tensors
        m, n = R.shape[-2] if Q is None else Q.shape[-2], R.shape[-1]
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_grad(Q, R, gQ, gR), None
        Y, gY = Q @ R[..., m:], gR[..., m:]           # A's last columns, from the saved factors
        grad_x = _qr_grad(Q, R[..., :m], gQ + Y @ gY.mH, gR[..., :m])
        return cat([grad_x, Q @ gY], -1), None


def _qr_grad(Q, R, gQ, gR):
    M = R @ gR.mH - gQ.mH @ Q
    M = M.tril(-1) + M.tril(-1).mH + M.diagonal(0, -2, -1).diag_embed()
    return solve_triangular(R.mH, gQ + Q @ M, upper=False, left=False)


# --- torch.linalg functions (re-exported by ember/linalg.py) ---------------------------------------

_svd_result = return_type("linalg_svd", ("U", "S", "Vh"))
_qr_result = return_type("linalg_qr", ("Q", "R"))
_eigh_result = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
def cholesky(A, *, upper=False):
    """Lower factor L of A = L L^H (upper=True: L^H); raises LinAlgError unless A is positive-definite."""
    if "linalg_cholesky" in AUTOCAST:
        return autocast_run("linalg_cholesky", cholesky, A, upper=upper)
    _check_matrix("linalg.cholesky", A)
    return Cholesky.apply(A, "linalg.cholesky", upper)


def svd(A, full_matrices=True):
    """(U, S, Vh) with A = U diag(S) Vh, singular values descending."""
    if "linalg_svd" in AUTOCAST:
        return autocast_run("linalg_svd", svd, A, full_matrices)
    _check_matrix("linalg.svd", A, square=False)
    return _svd_result(*Svd.apply(A, full_matrices))


def svdvals(A):
    if "linalg_svdvals" in AUTOCAST:
        return autocast_run("linalg_svdvals", svdvals, A)
    _check_matrix("linalg.svdvals", A, square=False)
    return Svd.apply(A, False)[1]


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R; mode 'reduced', 'complete', or 'r' (R only, Q empty)."""
    if "linalg_qr" in AUTOCAST:
        return autocast_run("linalg_qr", qr, A, mode)
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return _qr_result(*Qr.apply(A, mode))


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors) of Hermitian A, reading only its UPLO triangle."""
    if "linalg_eigh" in AUTOCAST:
        return autocast_run("linalg_eigh", eigh, A, UPLO)
    _check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return _eigh_result(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    if "linalg_eigvalsh" in AUTOCAST:
        return autocast_run("linalg_eigvalsh", eigvalsh, A, UPLO)
    _check_matrix("linalg.eigvalsh", A)
    return eigh(A, UPLO)[0]


# --- torch.* linalg functions and Tensor methods ----------------------------------------------------

_svd_legacy = return_type("svd", ("U", "S", "V"))
_qr_legacy = return_type("qr", ("Q", "R"))
@export(name="svd")
def _svd(input, some=True, compute_uv=True):
    """The old torch.svd: (U, S, V) with V not transposed; compute_uv=False gives zero U and V."""
    if "svd" in AUTOCAST:
        return autocast_run("svd", _svd, input, some, compute_uv)
    if compute_uv:
        U, S, Vh = svd(input, full_matrices=not some)
        return _svd_legacy(U, S, Vh.mH)
    S = svdvals(input)
    m, n = input.shape[-2:]
    batch = tuple(input.shape[:-2])
    return _svd_legacy(zeros(batch + (m, m), dtype=input.dtype, device=input.device), S,
                       zeros(batch + (n, n), dtype=input.dtype, device=input.device))


@export(name="qr")
def _qr(input, some=True):
    """The old torch.qr (deprecated in PyTorch): mode 'reduced' when some, else 'complete'."""
    if "qr" in AUTOCAST:
        return autocast_run("qr", _qr, input, some)
    _deprecated("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch "
                "release.")
    return _qr_legacy(*qr(input, "reduced" if some else "complete"))


@export(name="cholesky")
def _cholesky(input, upper=False):
    """The old torch.cholesky (deprecated in PyTorch)."""
    if "cholesky" in AUTOCAST:
        return autocast_run("cholesky", _cholesky, input, upper)
    _deprecated("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future "
                "PyTorch release.")
    _check_matrix("cholesky", input)
    return CholeskyLegacy.apply(input, "cholesky", upper)
