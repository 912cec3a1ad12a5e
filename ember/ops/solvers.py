"""Inverses, determinants and linear solvers: linalg.inv/det/slogdet/solve/solve_triangular, cholesky_solve,
logdet, with LinAlgError and the argument checks the other linalg files share. These run on the backend's LAPACK
(numpy.linalg); their gradients are ember ops, so second derivatives come free.
"""
import math

from .._backends import errstate
from .. import _dtype as _dt
from .._tensor import _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import return_type
from ._registry import export
from ._shapes import broadcast_shapes
from .creation import eye
from .comparison import where
from ..amp._dispatch import AUTOCAST, autocast_run


class LinAlgError(RuntimeError):
    """PyTorch's torch.linalg.LinAlgError: the matrix is singular or not positive-definite."""


def _check_matrix(name, A, square=True, arg="A"):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if A.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(A.dtype)}")


def _square(name, A):
    _check_matrix("linalg." + name, A)


def _real_only(ctx, name):
    if ctx.xp.iscomplexobj(ctx.saved_tensors[0]._array):
        raise NotImplementedError(f"{name}: ember computes gradients for real inputs only")


def _first_failure(xp, a, fails):
    """(batch prefix, matrix) of the first batch element for which fails(matrix) holds."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for i, m in enumerate(flat):
        if fails(m):
            return (f"(Batch element {i}): " if a.ndim > 2 else ""), m
    return "", flat[0]


def _zero_pivot(xp, a):
    """1-based index of the first zero pivot of LU with partial pivoting (what LAPACK reports), else 0."""
    a = a.astype(xp.complex128 if xp.iscomplexobj(a) else xp.float64)
    for k in range(a.shape[-1]):
        p = k + int(xp.argmax(xp.abs(a[k:, k])))
        if a[p, k] == 0:
            return k + 1
        a[[k, p]] = a[[p, k]]
        a[k + 1:] -= xp.outer(a[k + 1:, k] / a[k, k], a[k])
    return 0


def _singular(xp, a, name):
    prefix, m = _first_failure(xp, a, lambda m: _zero_pivot(xp, m))
    k = _zero_pivot(xp, m) or m.shape[-1]
    return LinAlgError(f"{name}: {prefix}The diagonal element {k} is zero, the inversion could not be completed "
                       "because the input matrix is singular.")


def _eye(t, n=None):
    return eye(t.shape[-1] if n is None else n, dtype=t.dtype, device=t.device)


class Inv(Op):
    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, input):
        try:
            out = ctx.xp.linalg.inv(input)
        except ctx.xp.linalg.LinAlgError:
            raise _singular(ctx.xp, input, "linalg.inv") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (inv_,) = ctx.saved_tensors
        return -(inv_.mH @ grad @ inv_.mH)


class Det(Op):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, input):
        out = ctx.xp.linalg.det(input)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """det * A^-T, the cofactor matrix. A singular A, as PyTorch: the plain backward solves with LU whose zero
        pivots are replaced by eps (d = grad * det is 0 there, so the gradient is 0); a differentiable one takes
        the cofactors from the SVD where |det| < 100 eps (finite, and differentiable again)."""
        input, det_ = ctx.saved_tensors
        d = grad * det_
        if not _State.grad_enabled:                                  # Note [plain backward]
            try:
                return d.unsqueeze(-1).unsqueeze(-1) * inv(input).mT
            except LinAlgError:
                if input.shape[-1] == 1:           # a 1 x 1 matrix's cofactor is 1: PyTorch gives grad itself
                    return grad.unsqueeze(-1).unsqueeze(-1)
                return _make(_lu_gradient(ctx.xp, input._array, d._array, _transposed(input), True), grad._device)
        small = det_.abs() < 100 * ctx.xp.finfo(input._array.dtype).eps
        if not bool(small.any()):
            return d.unsqueeze(-1).unsqueeze(-1) * inv(input).mT
        cofactors = _svd_cofactors(input, grad)
        if bool(small.all()):
            return cofactors
        mask = small.unsqueeze(-1).unsqueeze(-1)
        regular = d.unsqueeze(-1).unsqueeze(-1) * inv(where(mask, _eye(input), input)).mT
        return where(mask, cofactors, regular)


class Slogdet(Op):
    """(sign, log|det|); sign is an output with a zero gradient, as in PyTorch."""
    node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, input):
        sign, logabsdet = ctx.xp.linalg.slogdet(input)
        ctx.save_for_backward(input, sign)            # PyTorch saves the sign output too (and the LU factors)
        return sign, logabsdet

    @staticmethod
    def backward(ctx, grad_sign, grad_logabsdet):
        _real_only(ctx, "slogdet")
        input, sign = ctx.saved_tensors
        if not bool((sign == 0).any()):
            return grad_logabsdet.unsqueeze(-1).unsqueeze(-1) * inv(input).mT
        if _State.grad_enabled:         # PyTorch's differentiable formula is linalg.solve's, which refuses
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.")
        # singular: PyTorch's LU solve divides by the zero pivot (inf and nan, no error)
        return _make(_lu_gradient(ctx.xp, input._array, grad_logabsdet._array, _transposed(input)),
                     grad_logabsdet._device)


def _transposed(a):
    """PyTorch's det/slogdet factor A^T, not A, when A is contiguous and real (no copy for LAPACK)."""
    return a.is_contiguous() and not a.is_complex()


def _svd_cofactors(a, grad):
    """grad * the cofactor matrix of a from its SVD (PyTorch's formula for singular inputs): with A = U S V^H,
    cof(A) = det(U) det(V^H) U diag(prod of the other singular values) V^H, exact where some S are 0."""
    from .decompositions import svd
    from .joining import cat
    from .scan import cumprod
    u, s, vh = svd(a)
    one = s.narrow(-1, 0, 1) * 0 + 1
    before = cumprod(cat([one, s.narrow(-1, 0, s.shape[-1] - 1)], -1), -1)
    after = cumprod(cat([one, s.narrow(-1, 1, s.shape[-1] - 1).flip(-1)], -1), -1).flip(-1)
    alpha = (Det.apply(u) * Det.apply(vh)).conj()
    return (u * ((grad * alpha).unsqueeze(-1) * before * after).unsqueeze(-2)) @ vh


def _getrf(xp, m):
    """LU with partial pivoting of one matrix, in LAPACK's order (getf2): (lu, perm), P m = L U, L's unit
    diagonal implied; a zero pivot is left in place (LAPACK's info > 0)."""
    lu, perm = m.copy(), list(range(m.shape[-1]))
    for k in range(m.shape[-1]):
        column = lu[k:, k]
        p = k + int(xp.argmax(xp.abs(column.real) + xp.abs(column.imag)))
        if p != k:
            lu[[k, p]] = lu[[p, k]]
            perm[k], perm[p] = perm[p], perm[k]
        if lu[k, k] != 0:
            lu[k + 1:, k] *= 1 / lu[k, k]
        lu[k + 1:, k + 1:] -= xp.outer(lu[k + 1:, k], lu[k, k + 1:])
    return lu, perm


def _lu_gradient(xp, a, g, transposed, perturb=False):
    """X with A^H X = diag(g) for each matrix of a, through LU as PyTorch's det/slogdet gradient takes it: LAPACK's
    getrf of A (then getrs's adjoint solve) or, for a contiguous real A (transposed), of A^T (then the plain
    solve), in BLAS's reference order; a zero pivot divides (inf, nan) or, with perturb, is replaced by eps.
    Only for singular inputs: a Python loop over the batch and the rows."""
    n = a.shape[-1]
    out = xp.empty(a.shape, dtype=a.dtype)
    flat_g = xp.broadcast_to(g, a.shape[:-2]).reshape(-1)
    with errstate(all="ignore"):
        for m, gi, x in zip(a.reshape((-1, n, n)), flat_g, out.reshape((-1, n, n))):
            lu, perm = _getrf(xp, m.T if transposed else m)
            if perturb:
                i = xp.arange(n)
                lu[i, i] = xp.where(lu[i, i] == 0, xp.finfo(a.dtype).eps, lu[i, i])
            b = xp.eye(n, dtype=a.dtype) * gi
            if transposed:                              # A^T = P^T L U: L U x = P b, column by column
                b = b[perm]
                for k in range(n):
                    b[k + 1:] -= lu[k + 1:, k, None] * b[k]
                for k in range(n - 1, -1, -1):
                    b[k] /= lu[k, k]
                    b[:k] -= lu[:k, k, None] * b[k]
                x[...] = b
                continue
            for i in range(n):                          # A = P^T L U: U^H y = b, rows in order
                b[i] = (b[i] - (lu[:i, i, None].conj() * b[:i]).sum(0)) / lu[i, i].conj()
            for i in range(n - 1, -1, -1):              # L^H z = y, unit diagonal, rows in reverse
                b[i] = b[i] - (lu[i + 1:, i, None].conj() * b[i + 1:]).sum(0)
            x[perm] = b                                 # x = P^T z
    return out


class Solve(Op):
    node_name = "LinalgSolveExBackward0"
    broadcasts = True           # batch dims broadcast: the engine sums A's and B's gradients back to their shapes

    @staticmethod
    def forward(ctx, a, b, vector):
        xp = ctx.xp
        ctx.vector = vector
        try:
            out = xp.linalg.solve(a, b[..., None])[..., 0] if vector else xp.linalg.solve(a, b)
        except xp.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") \
                from None
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        gb = solve(a.mT, grad)
        ga = -gb.unsqueeze(-1) * out.unsqueeze(-2) if ctx.vector else -(gb @ out.mT)
        return ga, gb, None


class SolveTriangular(Op):
    """X with A X = B (left) or X A = B; only A's upper or lower triangle is read."""
    node_name = "LinalgSolveTriangularBackward0"
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b, upper, left, unitriangular):
        ctx.args = (upper, left, unitriangular)
        out = _solve_triangular(ctx.xp, a, b, upper, left, unitriangular)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        upper, left, unit = ctx.args
        grad_b = solve_triangular(a.mH, grad, upper=not upper, left=left, unitriangular=unit)
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = -(grad_b @ out.mH) if left else -(out.mH @ grad_b)
            diagonal = int(unit)
            grad_a = grad_a.triu(diagonal) if upper else grad_a.tril(-diagonal)
        return grad_a, grad_b, None, None, None


def _solve_triangular(xp, a, b, upper, left, unitriangular):
    t = xp.triu(a) if upper else xp.tril(a)
    if unitriangular:
        i = xp.arange(t.shape[-1])
        t = t.copy()
        t[..., i, i] = 1
    # NumPy has no triangular solver: LU on a triangular matrix does no pivoting and the same work
    with errstate(all="ignore"):
        try:
            return xp.linalg.solve(t, b) if left else xp.swapaxes(xp.linalg.solve(xp.swapaxes(t, -1, -2),
                                                                                  xp.swapaxes(b, -1, -2)), -1, -2)
        except xp.linalg.LinAlgError:         # a zero on the diagonal: PyTorch's trsm divides by it (inf, nan)
            return _substituted(xp, t, b, upper, left)


def _substituted(xp, t, b, upper, left):
    """X with T X = B (or X T = B) by substitution, in BLAS trsm's order, for each matrix of the batch: a zero
    on T's diagonal gives inf where a nonzero is divided by it and nan after, as PyTorch's result. Only for
    such T: a Python loop over the batch and the rows."""
    batch = broadcast_shapes(t.shape[:-2], b.shape[:-2])
    t = xp.broadcast_to(t, batch + t.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    if not left:                              # X T = B is T^T X^T = B^T
        t, b, upper = xp.swapaxes(t, -1, -2), xp.swapaxes(b, -1, -2), not upper
    out = b.astype(xp.result_type(t, b), copy=True).reshape((-1,) + b.shape[-2:])
    n = t.shape[-1]
    for m, x in zip(t.reshape((-1, n, n)), out):
        for k in range(n - 1, -1, -1) if upper else range(n):
            x[k] /= m[k, k]
            rest = slice(0, k) if upper else slice(k + 1, n)
            x[rest] -= m[rest, k, None] * x[k]
    out = out.reshape(batch + b.shape[-2:])
    return xp.swapaxes(out, -1, -2) if not left else out


class TriangularSolve(Op):
    """torch.triangular_solve: (X with A X = B, or A^T X = B when transpose; A's copy, broadcast to the batch) as
    PyTorch's one node: the copy is an output too, so it requires grad when B does; its gradient goes to A as is."""
    node_name = "TriangularSolveBackward0"
    broadcasts = True

    @staticmethod
    def forward(ctx, b, a, upper, transpose, unitriangular):
        xp = ctx.xp
        ctx.args = (upper, transpose, unitriangular)
        out = _solve_triangular(xp, xp.swapaxes(a, -1, -2) if transpose else a, b, upper != transpose, True,
                                unitriangular)
        ctx.save_for_backward(a, out)
        return out, xp.broadcast_to(a, out.shape[:-2] + a.shape[-2:]).copy()

    @staticmethod
    def backward(ctx, grad_x, grad_m):
        a, out = ctx.saved_tensors
        upper, transpose, unit = ctx.args
        grad_b = solve_triangular(a.mT.mH if transpose else a.mH, grad_x, upper=upper == transpose, unitriangular=unit)
        grad_a = None
        if ctx.needs_input_grad[1]:
            grad_a = -(out.conj() @ grad_b.mT) if transpose else -(grad_b @ out.mH)
            grad_a = (grad_a.triu(int(unit)) if upper else grad_a.tril(-int(unit))) + grad_m
        return grad_b, grad_a, None, None, None


class CholeskySolve(Op):
    """X with A X = B, A = L L^H given L (or A = U^H U given U when upper); only that triangle is read.

    The gradient is PyTorch's formula, which treats the factor as a full matrix: with gB = A^-H gX and
    S = gB X^H + X gB^H, gL = -S L (lower) or -U S (upper)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, b, factor, upper):
        xp = ctx.xp
        ctx.upper = upper
        t = xp.triu(factor) if upper else xp.tril(factor)
        th = xp.conj(xp.swapaxes(t, -1, -2))
        first, second = (th, t) if upper else (t, th)           # A = first @ second
        with errstate(all="ignore"):
            try:
                out = xp.linalg.solve(second, xp.linalg.solve(first, b))
            except xp.linalg.LinAlgError:     # a zero on the factor's diagonal: PyTorch returns nan, not an error
                out = xp.full(broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:], xp.nan, dtype=b.dtype)
        ctx.save_for_backward(b, factor, out)         # as PyTorch: b too, though the formula does not read it
        return out

    @staticmethod
    def backward(ctx, grad):
        _, factor, out = ctx.saved_tensors
        grad_b = cholesky_solve(grad, factor, ctx.upper)
        grad_factor = None
        if ctx.needs_input_grad[1]:
            common = grad_b @ out.mH
            common = common + common.mH
            grad_factor = -(factor @ common) if ctx.upper else -(common @ factor)
        return grad_b, grad_factor, None


# --- torch.linalg functions (re-exported by ember/linalg.py) ---------------------------------------

_slogdet_result = return_type("linalg_slogdet", ("sign", "logabsdet"))


def inv(A):
    """Inverse of square matrices; singular ones raise LinAlgError."""
    if "linalg_inv" in AUTOCAST:
        return autocast_run("linalg_inv", inv, A)
    _square("inv", A)
    return Inv.apply(A)


def det(A):
    _square("det", A)
    return Det.apply(A)


def slogdet(A):
    """(sign, log|det A|): the log stays finite where det itself would overflow."""
    _square("slogdet", A)
    return _slogdet_result(*Slogdet.apply(A))


def solve(A, B, *, left=True):
    if "linalg_solve" in AUTOCAST:
        return autocast_run("linalg_solve", solve, A, B, left=left)
    _square("solve", A)
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{_dt.scalar_type_name(A.dtype)} and B of type {_dt.scalar_type_name(B.dtype)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if not left:
        if vector:              # PyTorch takes B as a column, then refuses it for XA = B
            n = A.shape[-1]
            if n != 1:
                raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation XA = B ({n}x{n} "
                                   f"and {B.shape[-1]}x1)")
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for "
                               "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        return solve(A.mT, B.mT).mT
    return Solve.apply(A, B, vector)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (or X A = B when left=False) for triangular A; the other triangle is ignored."""
    _check_triangular(A, B, left)
    return SolveTriangular.apply(A, B, upper=upper, left=left, unitriangular=unitriangular)


def _check_triangular(A, B, left):
    _check_matrix("linalg.solve_triangular", A)
    _check_matrix("linalg.solve_triangular", B, square=False, arg="B")
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found A of type "
                           f"{_dt.scalar_type_name(A.dtype)} and B of type {_dt.scalar_type_name(B.dtype)} instead")
    n, k = A.shape[-1], B.shape[-2] if left else B.shape[-1]
    if n != k:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation {eq} "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")


# --- torch.* linalg functions and Tensor methods ----------------------------------------------------

_slogdet_legacy = return_type("slogdet", ("sign", "logabsdet"))


@export(name="det")
def _det(input):
    return det(input)


@export
def inverse(input):
    if "inverse" in AUTOCAST:
        return autocast_run("inverse", inverse, input)
    return inv(input)


@export(name="slogdet")
def _slogdet(input):
    return _slogdet_legacy(*slogdet(input))


@export
def logdet(input):
    """log det(input): nan for a negative determinant, -inf for a zero one."""
    _check_matrix("logdet", input)
    sign, logabsdet = Slogdet.apply(input)
    if input.is_complex():
        return sign.log() + logabsdet
    return where(sign < 0, math.nan, logabsdet)


@export
def cholesky_solve(input, input2, upper=False):
    """X with A X = input for A = L L^H, L = input2 lower-triangular (upper: A = U^H U); batch dims broadcast."""
    if "cholesky_solve" in AUTOCAST:
        return autocast_run("cholesky_solve", cholesky_solve, input, input2, upper)
    for name, t in (("b", input), ("u", input2)):
        if t.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has {t.ndim} dimensions instead")
    if input.dtype is not input2.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_dt.scalar_type_name(input.dtype)} and A of type {_dt.scalar_type_name(input2.dtype)} "
                           "instead.")
    n = input2.shape[-1]
    if input2.shape[-2] != n:
        raise RuntimeError(f"A must be batches of square matrices, but they are {input2.shape[-2]} by {n} matrices")
    if input.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {n} by {n} but each b "
                           f"matrix is {input.shape[-2]} by {input.shape[-1]}")
    if input.dtype.category < _dt.FLOAT or input.dtype.itemsize < 4:
        raise NotImplementedError(f"\"cholesky_solve_cpu\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    broadcast_shapes(tuple(input.shape[:-2]), tuple(input2.shape[:-2]))
    return CholeskySolve.apply(input, input2, upper=bool(upper))
