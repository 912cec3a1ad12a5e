"""Inverses, determinants and linear solvers: linalg.inv/det/slogdet/solve/solve_triangular, cholesky_solve,
logdet, with LinAlgError and the argument checks the other linalg files share. These run on the backend's LAPACK
(numpy.linalg); their gradients are ember ops, so second derivatives come free.
"""
import math

from .._backends import errstate
from .. import _dtype as _dt
from ..autograd.function import Op
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
        input, det_ = ctx.saved_tensors
        return (grad * det_).unsqueeze(-1).unsqueeze(-1) * inv(input).mT


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
        input, _ = ctx.saved_tensors
        return grad_logabsdet.unsqueeze(-1).unsqueeze(-1) * inv(input).mT


class Solve(Op):
    node_name = "LinalgSolveExBackward0"

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
        xp = ctx.xp
        ctx.args = (upper, left, unitriangular)
        t = xp.triu(a) if upper else xp.tril(a)
        if unitriangular:
            i = xp.arange(t.shape[-1])
            t = t.copy()
            t[..., i, i] = 1
        # NumPy has no triangular solver: LU on a triangular matrix does no pivoting and the same work
        with errstate(all="ignore"):
            try:
                out = xp.linalg.solve(t, b) if left else xp.swapaxes(xp.linalg.solve(xp.swapaxes(t, -1, -2),
                                                                                     xp.swapaxes(b, -1, -2)), -1, -2)
            except xp.linalg.LinAlgError:         # a zero on the diagonal: PyTorch returns inf/nan, not an error
                out = xp.full(broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:], xp.nan, dtype=b.dtype)
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
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    return Solve.apply(A, B, vector)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (or X A = B when left=False) for triangular A; the other triangle is ignored."""
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
    return SolveTriangular.apply(A, B, upper=upper, left=left, unitriangular=unitriangular)


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
