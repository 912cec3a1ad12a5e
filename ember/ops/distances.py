"""Distances: dist (the p-norm of a difference) and cdist (pairwise p-norm distances between rows), with the
p-norm gradient that stays finite where a distance is 0.
"""
import math

from .. import _dtype as _dt
from ..autograd.function import Op
from ._common import cast
from ._registry import export
from ._shapes import broadcast_shapes
from .comparison import where
from ..amp._dispatch import AUTOCAST, autocast_run


def _pnorm(xp, diff, p, axis):
    a = xp.abs(diff)
    if p == 0:
        return (a != 0).sum(axis).astype(a.dtype)
    if p == math.inf:
        return a.max(axis) if a.shape[axis] else a.sum(axis)
    if p == -math.inf:
        return a.min(axis)
    if p == 1:
        return a.sum(axis)
    if p == 2:
        return xp.sqrt((a * a).sum(axis))
    return (a ** p).sum(axis) ** (1 / p)


def _pnorm_grad(diff, norm, grad, p, split_ties):
    """d norm_p(diff) / d diff times grad (norm and grad broadcast against diff), finite at zeros.

    At a zero norm the gradient is 0, selected (a NaN grad stays out) as PyTorch's cdist does; torch.dist
    (split_ties) multiplies a NaN grad in instead for p = 2 and p < 1 (so it leaks), as PyTorch's norm does."""
    if p == 0:
        return diff * 0
    if p == 1:
        return diff.sign() * grad
    zero = norm == 0
    if split_ties and p == 2:
        # PyTorch's norm_backward: grad * (diff / norm) with 0 where the norm is 0, so a NaN grad leaks and, one
        # order up, the 0 / 0 behind the mask gives NaN as there
        return grad * where(zero, 0.0, diff / norm)
    safe = where(zero, 1, norm)
    if split_ties and p < 1:
        zero = None
    if p == 2:
        return diff * (grad / safe) if zero is None else where(zero, 0.0, diff * (grad / safe))
    if abs(p) == math.inf:
        ties = (diff.abs() == norm).to(diff.dtype)
        if split_ties:                            # torch.dist shares the gradient among tied maxima
            ties = ties / ties.sum(-1, keepdim=True)
        return diff.sign() * ties * grad
    a = where(diff == 0, 1, diff.abs())           # |diff|^(p-1) stays finite for p < 1
    scaled = diff.sign() * a ** (p - 1) * (grad / safe ** (p - 1))
    return scaled if zero is None else where(zero, 0.0, scaled)


class Dist(Op):
    """The p-norm of input - other (broadcast)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other, p):
        ctx.p = p
        out = _pnorm(ctx.xp, (input - other).reshape(-1), p, -1)
        ctx.save_for_backward(input, other, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, other, out = ctx.saved_tensors
        grad_diff = _pnorm_grad((input - other).reshape(-1), out, grad, ctx.p, True).reshape(
            broadcast_shapes(input.shape, other.shape))
        return grad_diff, -grad_diff, None


class Cdist(Op):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, x1, x2, p):
        ctx.p = p
        out = _pnorm(ctx.xp, x1[..., :, None, :] - x2[..., None, :, :], p, -1)
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x1, x2, out = ctx.saved_tensors
        w = _pnorm_grad(x1.unsqueeze(-2) - x2.unsqueeze(-3), out.unsqueeze(-1), grad.unsqueeze(-1), ctx.p, False)
        return w.sum(-2), -w.sum(-3), None


# --- torch.* linalg functions and Tensor methods ----------------------------------------------------

@export
def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    if "dist" in AUTOCAST:
        return autocast_run("dist", dist, input, other, p)
    dtype = _dt.result_type(input, other)          # a 0-d operand is weak, as in PyTorch's promotion
    if dtype.category < _dt.FLOAT:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_dt.scalar_type_name(dtype)} instead.")
    broadcast_shapes(tuple(input.shape), tuple(other.shape))
    return Dist.apply(cast(input, dtype), cast(other, dtype), p=float(p))


@export(method=False)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances of the rows of x1 (..., P, M) and x2 (..., R, M), batch dims broadcast.

    For p=2 PyTorch's matmul expansion sqrt(|x1|^2 - 2 x1.x2 + |x2|^2) where its compute_mode takes it (always with
    "use_mm_for_euclid_dist", past 25 rows with the default); the differences directly otherwise."""
    if "cdist" in AUTOCAST:
        return autocast_run("cdist", cdist, x1, x2, p, compute_mode)
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if t.dtype.category != _dt.FLOAT:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dt.scalar_type_name(t.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype in (_dt.float16, _dt.bfloat16):
        raise NotImplementedError(f"\"cdist\" not implemented for '{_dt.scalar_type_name(x1.dtype)}'")
    if x2.dtype is not x1.dtype:                       # no promotion in PyTorch's kernel
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(x1.dtype)} but found "
                           f"{_dt.scalar_type_name(x2.dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    r1, r2 = x1.shape[-2], x2.shape[-2]
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
            compute_mode == "use_mm_for_euclid_dist_if_necessary" and (r1 > 25 or r2 > 25))):
        from .norms import SafeSqrt
        sq1 = (x1 * x1).sum(-1, keepdim=True)
        sq2 = (x2 * x2).sum(-1, keepdim=True)
        return SafeSqrt.apply((sq1 - 2 * x1.matmul(x2.mT) + sq2.mT).clamp_min(0))
    return Cdist.apply(x1, x2, p=float(p))
