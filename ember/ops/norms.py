"""Norms: linalg.vector_norm (one node for every ord), norm, and renorm; SafeSqrt (cdist's root)."""
import numpy as _np

from .. import _dtype as _dt
from .._memory_format import reduced
from ..amp._dispatch import AUTOCAST, autocast_run
from ..autograd.function import Op
from ._common import cast
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .reduction import _expand_grad, sum

_ndarray = _np.ndarray


# --- norms ------------------------------------------------------------------------------------------

def vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):
    if "linalg_vector_norm" in AUTOCAST:
        return autocast_run("linalg_vector_norm", vector_norm, input, ord, dim, keepdim, dtype=dtype)
    to = None
    if dtype is not None:
        to = _dt.to_dtype(dtype)
        if to is input.dtype:
            to = None
        elif input.dtype.category < _dt.FLOAT or input.dtype.category > to.category or not input.requires_grad:
            input, to = cast(input, to), None        # (PyTorch refuses complex -> real: cast raises as there)
    if (to or input.dtype).category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    ndim = input._array.ndim
    dims = normalize_dims(dim, ndim) if dim is not None else None
    if (ord < 0 or ord == _INF) and not input._array.size:
        _no_identity(input, ord, dim)
    # one node for every ord, as PyTorch's (an empty dim tuple reduces over all dims); with dtype=, the input is
    # converted inside it and its gradient converted back, as there
    return VectorNorm.apply(input, ord, dims if dims else tuple(range(ndim)), keepdim, dims is not None,
                            None if to is None else to.numpy)


_INF = float("inf")


def _no_identity(input, ord, dim):
    """An empty reduction of the inf norm or a negative one raises, as PyTorch's (naming the dim as given)."""
    where = "an empty tensor"
    if dim is not None:
        for d in (dim,) if isinstance(dim, int) else dim:
            if input.shape[d] == 0:
                where = f"the dimension {d}"
                break
        else:
            return
    raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on {where}"
                       f"{'because this dimension is empty' if dim is not None else ' because the operation'}"
                       f"{' and the operation' if dim is not None else ''} does not have an identity")


class VectorNorm(Op):
    """linalg.vector_norm for every ord: PyTorch's one node, which saves the input and the result.
    float16/bfloat16 accumulate in float32 (PyTorch's opmath type), rounded once at the end."""
    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, input, ord, dims, keepdim, dim_given, to=None):
        xp = ctx.xp
        ctx.ord, ctx.dims, ctx.keepdim, ctx.dim_given, ctx.to = ord, dims, keepdim, dim_given, to
        given = input
        if to is not None:
            input = input.astype(to)
        kind = input.dtype.kind
        if ord == 2 and kind == "f" and input.itemsize >= 4 and input.__class__ is _ndarray and \
                input.flags.c_contiguous and len(dims) == input.ndim and not keepdim and input.size <= 4096:
            # the whole of a small contiguous float32/float64 array: BLAS's dot (one pass, ~0.6 us for 2000 floats
            # against ~2 us for the square and the sum; past 4096 terms its running sums would lose accuracy
            # that NumPy's pairwise sum keeps)
            flat = input.reshape(-1)
            out = xp.asarray(xp.sqrt(flat.dot(flat)))
        else:
            a = xp.abs(input) if kind == "c" else input
            if a.itemsize == 2:                      # float16, bfloat16: in float32
                a = a.astype(xp.float32)
            if ord == 2:
                out = xp.sqrt((a * a).sum(axis=dims, keepdims=keepdim))
            else:
                a = xp.abs(a) if kind != "c" else a
                if ord == _INF:
                    out = a.max(axis=dims, keepdims=keepdim)
                elif ord == -_INF:
                    out = a.min(axis=dims, keepdims=keepdim)
                elif ord == 0:
                    out = (a != 0).sum(axis=dims, keepdims=keepdim, dtype=a.dtype)
                elif ord == 1:
                    out = a.sum(axis=dims, keepdims=keepdim)
                else:
                    p = float(ord)
                    out = (a ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
            out = xp.asarray(out).astype(a.dtype if kind == "c" else input.dtype, copy=False)
            if not input.flags.c_contiguous:          # see Note [memory formats]; PyTorch's is contiguous
                out = reduced(out, xp)
        ctx.save_for_backward(given, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        if ctx.ord == 0:                                 # a count: no gradient (None, as PyTorch's undefined one)
            return None, None, None, None, None, None
        if ctx.to is not None:                           # dtype=: computed in that dtype, converted back
            return _vector_norm_grad(ctx, grad, input.to(grad.dtype), out).to(input.dtype), None, None, None, None, \
                None
        return _vector_norm_grad(ctx, grad, input, out), None, None, None, None, None


def _vector_norm_grad(ctx, grad, input, out):
    """VectorNorm's gradient for the input."""
    from .comparison import where
    from .unary import sgn
    p, shape = ctx.ord, input.shape
    grad = _expand_grad(grad, shape, ctx.dims, ctx.keepdim)
    if p == 1:
        return grad * sgn(input)
    norm = _expand_grad(out, shape, ctx.dims, ctx.keepdim)
    if p == 2:                                       # PyTorch's: 0 where the norm is 0 (a NaN grad leaks)
        return grad * where(norm == 0, 0.0, input / norm)
    if p == _INF or p == -_INF:
        # shared evenly between the entries at the extreme (NaNs among them), as PyTorch's
        magnitude = input.abs()
        mask = (magnitude == norm).logical_or(magnitude.isnan())
        share = grad / sum(mask, ctx.dims, True)
        return sgn(input) * (share * mask)
    # d|x|_p / dx = sgn(x) |x|^(p-1) / |x|_p^(p-1): 0 where the norm is 0 (and, for p < 1, where x is 0)
    magnitude = input.abs()
    if p < 1:
        scaled = where(input == 0, 0.0, sgn(input) * magnitude ** (p - 1))
        return scaled * grad * norm ** (1 - p)
    scaled = sgn(input) * magnitude ** (p - 1) if p < 2 else input * magnitude ** (p - 2)
    return scaled * where(norm == 0, 0.0, grad / norm ** (p - 1))


class SafeSqrt(Op):
    """sqrt with gradient 0 where the output is 0 instead of inf*0 = NaN (even for a NaN grad, as PyTorch's
    cdist): behind cdist's matmul form (distances between identical points)."""
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, input):
        out = ctx.xp.sqrt(input)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        from .comparison import where
        zero = out == 0
        safe = where(zero, 1.0, out)                  # both branches of where stay finite
        return where(zero, 0.0, grad / (safe * 2))


@export(method=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector or Frobenius norm (p: number, 'fro', inf)."""
    if "norm" in AUTOCAST:
        return autocast_run("norm", norm, input, p, dim, keepdim, dtype=dtype)
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":                                 # PyTorch's: a matrix norm over dim, or over all dims
        from .matrix_functions import matrix_norm
        return matrix_norm(input, "nuc", tuple(range(input.ndim)) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


class Renorm(Op):
    """input * factor, where factor = maxnorm / (norm + 1e-7) for slices whose p-norm is above maxnorm, else 1."""
    @staticmethod
    def forward(ctx, input, p, dims, maxnorm):
        ctx.args = (p, dims, maxnorm)
        ctx.save_for_backward(input)
        norm = _p_norm(ctx.xp, input, p, dims)
        factor = ctx.xp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)       # PyTorch's 1e-7 guard
        return (input * factor).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        from .comparison import where
        (input,) = ctx.saved_tensors
        p, dims, maxnorm = ctx.args
        norm = vector_norm(input, p, dims, keepdim=True)
        active = norm > maxnorm
        safe = where(active, norm, 1.0)               # both branches of where stay finite
        factor = where(active, maxnorm / (safe + 1e-7), 1.0)
        if p == float("inf"):                         # d max|x| / dx: shared evenly between ties
            top = (input.abs() == norm).to(input.dtype)
            d_norm = input.sign() * top / top.sum(dims, keepdim=True)
        else:
            d_norm = input.abs().pow(p - 1) * input.sign() / safe.pow(p - 1)
        d_factor = where(active, -maxnorm / (safe + 1e-7) ** 2, 0.0)
        return grad * factor + (grad * input).sum(dims, keepdim=True) * d_factor * d_norm, None, None, None


def _p_norm(xp, a, p, dims):
    a = xp.abs(a)
    if p == float("inf"):
        return a.max(axis=dims, keepdims=True)
    return (a ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)


@export(inplace=True)
def renorm(input, p, dim, maxnorm):
    """Each slice along dim whose p-norm exceeds maxnorm, rescaled to norm maxnorm."""
    if "renorm" in AUTOCAST:
        return autocast_run("renorm", renorm, input, p, dim, maxnorm)
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    dim = wrap_dim(dim, input.ndim)
    return Renorm.apply(input, float(p), tuple(d for d in range(input.ndim) if d != dim), float(maxnorm))
