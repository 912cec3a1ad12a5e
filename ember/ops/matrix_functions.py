"""Functions of a matrix: linalg.matrix_power, matrix_exp, pinv (pseudo-inverse), matrix_rank, matrix_norm and
linalg.norm (a vector or matrix norm), with their torch.* names (matrix_power, matrix_exp, pinverse).
"""
import math

from .. import _dtype as _dt
from ..autograd.function import Op
from ._common import cast, nodiff
from ._registry import export
from ._shapes import wrap_dim
from .creation import zeros, zeros_like
from .joining import cat
from .products import Matmul, UnsafeViewMatmul
from .decompositions import svdvals
from .solvers import _check_matrix, _eye, _real_only, inv
from ..amp._dispatch import AUTOCAST, autocast_args, autocast_run


def _mm(a, b):
    """a @ b carrying PyTorch's grad_fn names (MmBackward0 for matrices, UnsafeViewBackward0 for batches)."""
    if AUTOCAST:                                     # PyTorch's matrix_power multiplies with matmul
        a, b = autocast_args(("matmul",), a, b)
    return (Matmul if a.ndim == 2 and b.ndim == 2 else UnsafeViewMatmul).apply(a, b)


def _expm(xp, a):
    """exp(a) by scaling and squaring: a Taylor series on a / 2^s with norm <= 1/2 (error below 1e-17)."""
    work = a.astype(xp.complex128 if xp.iscomplexobj(a) else xp.float64)   # float32 too: one rounding at the end
    norm = float(xp.abs(work).sum(-2).max()) if work.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    work = work / 2.0 ** squarings
    identity = xp.eye(a.shape[-1], dtype=work.dtype)
    out = identity
    for k in range(16, 0, -1):                   # Horner: I + a/1 (I + a/2 (I + ...))
        out = identity + (work @ out) / k
    for _ in range(squarings):
        out = out @ out
    return out.astype(a.dtype)


class MatrixExp(Op):
    """exp(A) = sum A^k / k!.

    Note [matrix_exp gradient]: the gradient for gE is the upper-right block of exp([[A^H, gE], [0, A^H]])
    (the Frechet derivative in direction gE); it is itself a matrix_exp, so higher orders come free."""
    node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return _expm(ctx.xp, input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        n = input.shape[-1]
        top = cat([input.mH, grad], -1)
        bottom = cat([zeros_like(grad), input.mH], -1)
        return MatrixExp.apply(cat([top, bottom], -2))[..., :n, n:]


def _tolerance(xp, S, atol, rtol, m, n):
    """PyTorch's rank cutoff max(atol, rtol * largest singular value), rtol defaulting to eps * max(m, n)."""
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else float(xp.finfo(S.dtype).eps) * max(m, n)
    smax = S.max(-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), dtype=S.dtype)
    return xp.maximum(0.0 if atol is None else atol, rtol * smax)


class Pinv(Op):
    """Moore-Penrose pseudo-inverse P, from the SVD (or eigh for Hermitian A), small values cut off.

    Note [pinv gradient]: valid where the rank is locally constant; for gP = G:
    gA = -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)."""
    node_name = "LinalgPinvBackward0"

    @staticmethod
    def forward(ctx, input, atol, rtol, hermitian):
        xp = ctx.xp
        m, n = input.shape[-2:]
        if hermitian:
            L, V = xp.linalg.eigh(input)
            keep = xp.abs(L) > _tolerance(xp, xp.abs(L), atol, rtol, m, n)
            inv_l = xp.where(keep, 1 / xp.where(keep, L, 1), 0)
            out = (V * inv_l[..., None, :]) @ xp.conj(xp.swapaxes(V, -1, -2))
        else:
            U, S, Vh = xp.linalg.svd(input, full_matrices=False)
            keep = S > _tolerance(xp, S, atol, rtol, m, n)
            inv_s = xp.where(keep, 1 / xp.where(keep, S, 1), 0)
            out = xp.conj(xp.swapaxes(Vh, -1, -2)) @ (inv_s[..., :, None] * xp.conj(xp.swapaxes(U, -1, -2)))
        out = out.astype(input.dtype)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        _real_only(ctx, "pinv")
        A, P = ctx.saved_tensors
        G = grad
        return (-(P.mH @ G @ P.mH) + (G.mH - A @ (P @ G.mH)) @ (P @ P.mH)
                + (P.mH @ P) @ (G.mH - (G.mH @ P) @ A)), None, None, None


# --- torch.linalg functions (re-exported by ember/linalg.py) ---------------------------------------

def matrix_power(A, n):
    """A^n by repeated squaring; negative n inverts A first, n = 0 gives identities."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        _check_matrix("linalg.matrix_power", A)
    if n < 0:
        A, n = inv(A), -n
        if n == 1:
            return A
    if n == 0:
        return A.clone().copy_(_eye(A).expand(A.shape))
    if n == 1:
        return A.clone()
    result = None
    while n:
        if n & 1:
            result = A if result is None else _mm(result, A)
        n >>= 1
        if n:
            A = _mm(A, A)
    return result


def matrix_exp(A):
    """exp(A) = sum of A^k / k! (scaling and squaring)."""
    _check_matrix("linalg.matrix_exp", A)
    return MatrixExp.apply(A)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """Number of singular values above max(atol, rtol * largest); not differentiable (int64)."""
    if "linalg_matrix_rank" in AUTOCAST:
        return autocast_run("linalg_matrix_rank", matrix_rank, A, atol=atol, rtol=rtol, hermitian=hermitian)
    _check_matrix("torch.linalg.matrix_rank", A, square=False, arg="input")

    def rank(xp, a):
        S = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
        return (S > _tolerance(xp, S, atol, rtol, *a.shape[-2:])).sum(-1).astype(xp.int64)
    return nodiff(rank, A)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Moore-Penrose pseudo-inverse; singular values below max(atol, rtol * largest) count as zero."""
    if A.ndim < 2 or A.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.pinv: expected a tensor with 2 or more dimensions of float, double, cfloat or "
                           f"cdouble types, got {A.ndim}D {_dt.scalar_type_name(A.dtype)}")
    if hermitian and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.eigh: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    out = Pinv.apply(A, atol, rtol, hermitian)
    if AUTOCAST:                                     # PyTorch's pinv ends in a matmul
        (out,) = autocast_args(("matmul",), out)
    return out


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if "linalg_matrix_norm" in AUTOCAST:
        return autocast_run("linalg_matrix_norm", matrix_norm, A, ord, dim, keepdim, dtype=dtype)
    if dtype is not None:                            # computed in dtype, as PyTorch's
        A = cast(A, _dt.to_dtype(dtype))
    from .reduction import sum as sum_
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if A.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(A.dtype)}")
    dim = tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
    if wrap_dim(dim[0], A.ndim) == wrap_dim(dim[1], A.ndim):
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":                                 # the 2-norm of the entries: gradient 0 at a zero matrix
        from .norms import vector_norm
        return vector_norm(A, 2, dim, keepdim)
    if ord in (1, -1, 2, -2, math.inf, -math.inf):
        last = min(A.shape[dim[0]], A.shape[dim[1]]) if abs(ord) == 2 else A.shape[dim[0 if abs(ord) == math.inf else 1]]
        if last == 0:
            return _empty_matrix_norm(A, ord, dim, keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim(tuple(dim), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        for d in sorted(wrap_dim(d, A.ndim) for d in dim) if keepdim else ():
            out = out.unsqueeze(d)
        return out
    if ord in (1, -1):
        s = sum_(A.abs(), dim[0], keepdim=True)
        return (s.amax if ord == 1 else s.amin)(dim, keepdim=keepdim)
    if ord in (float("inf"), float("-inf")):
        s = sum_(A.abs(), dim[1], keepdim=True)
        return (s.amax if ord > 0 else s.amin)(dim, keepdim=keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _empty_matrix_norm(A, ord, dim, keepdim):
    """PyTorch's matrix_norm when its last reduction (amax, amin) is over an empty dim: 0 for ord > 0 (a new tensor
    with no gradient), amin's IndexError for ord < 0, its dim as PyTorch's composition passes it."""
    dims = sorted(wrap_dim(d, A.ndim) for d in dim)
    if ord < 0:
        first, last = (wrap_dim(d, A.ndim) for d in (dim[::-1] if ord == -math.inf else dim))
        d = -1 if ord == -2 else last - 1 if not keepdim and first < last else last
        raise IndexError(f"amin(): Expected reduction dim {d} to have non-zero size.")
    shape = [1 if i in dims else n for i, n in enumerate(A.shape) if keepdim or i not in dims]
    return zeros(shape, dtype=A.dtype.to_real(), device=A.device)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    from .norms import vector_norm
    if ord is not None and dim is None and A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.ndim}D.")
    if ord is None or (dim is not None and not isinstance(dim, (tuple, list))) or \
            (dim is None and A.ndim == 1) or (isinstance(dim, (tuple, list)) and len(dim) == 1):
        if ord is None:
            ord = 2.0                                # (PyTorch's node then saves ord 2.0, a float)
        if isinstance(ord, str):                     # 'fro' / 'nuc' are matrix norms, as in PyTorch
            return matrix_norm(A, ord, (0, 1) if dim is None else dim, keepdim)
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim)


# --- torch.* linalg functions and Tensor methods ----------------------------------------------------

@export(name="matrix_power")
def _matrix_power(input, n):
    return matrix_power(input, n)


@export(name="matrix_exp")
def _matrix_exp(input):
    return matrix_exp(input)


@export
def pinverse(input, rcond=1e-15):
    if "pinverse" in AUTOCAST:
        return autocast_run("pinverse", pinverse, input, rcond)
    return pinv(input, rtol=rcond)
