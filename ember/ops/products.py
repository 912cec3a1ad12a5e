"""Matrix and vector products: matmul (with all its batching rules), mm, bmm, mv, dot/vdot/inner, outer, the
addmm family, kron, trace, linalg.multi_dot/chain_matmul, linalg.vecdot and the cross product. einsum and
tensordot are in contractions.py.
"""
import math
import warnings

from .. import _dtype as _dt
from .._tensor import Tensor
from ..amp._dispatch import AUTOCAST, autocast_args, autocast_run, run_without_autocast
from ..autograd.function import Op
from ..sparse._coo_array import SparseCOOArray as _SparseCOO
from ._common import promote
from ._registry import export
from ._shapes import broadcast_shapes, wrap_dim
from .contractions import tensordot


def _check_mm_dtypes(name, a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}: expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    if a.dtype.category == _dt.BOOL:
        raise RuntimeError(f"\"{name}\" not implemented for 'Bool'")


class Matmul(Op):
    """Batched matrix product of >= 2-d operands (1-d cases are reshaped by matmul())."""
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(a if needs[1] else None, b if needs[0] else None)
        ctx.shapes = (a.shape, b.shape)
        if a.ndim > 2 and b.ndim == 2:
            # NumPy runs N-d @ 2-d as a loop of per-batch products (no BLAS at all when b is transposed,
            # as in linear()): fold the batch dims into one 2-d GEMM instead.
            lead = a.shape[:-1]
            out = ctx.backend.matmul(a.reshape(math.prod(lead), a.shape[-1]), b).reshape(lead + (b.shape[-1],))
        else:
            out = ctx.backend.matmul(a, b)           # small ones on one BLAS thread: Note [BLAS threads per product]
        # ml_dtypes' bfloat16 matmul answers in float32 (accumulated there, as PyTorch's kernel does): round back
        return out if out.dtype is a.dtype else out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        from .reduction import sum_to_shape
        sa, sb = ctx.shapes
        grad_a = grad_b = None
        if b is not None:
            grad_a = grad @ b.mT
            if grad_a.shape != sa:
                grad_a = sum_to_shape(grad_a, sa)
        if a is not None:
            if len(sb) == 2 and len(sa) > 2:       # fold the batch dims (see forward): one GEMM, no sum
                n = math.prod(sa[:-1])
                grad_b = a.reshape(n, sa[-1]).mT @ grad.reshape(n, sb[-1])
            else:
                grad_b = a.mT @ grad
            if grad_b.shape != sb:
                grad_b = sum_to_shape(grad_b, sb)
        return grad_a, grad_b


class BmmOp(Matmul):
    node_name = "BmmBackward0"


class UnsafeViewMatmul(Matmul):
    node_name = "UnsafeViewBackward0"


@export(method=True)
def matmul(input, other, *, out=None):
    """PyTorch's matmul: dot, matrix-vector, matrix-matrix and broadcast batched products."""
    if "matmul" in AUTOCAST and out is None:
        return autocast_run("matmul", matmul, input, other)
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}")
    if input._device is not other._device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input._device} and {other._device}! (when checking argument for matmul)")
    if input.dtype is not other.dtype:
        if not _batched_and_empty(input, other):
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {input.dtype} != {other.dtype}")
        input = input.to(other.dtype)            # PyTorch's bmm returns zeros of other's dtype, unchecked
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    sa, sb = tuple(input.shape), tuple(other.shape)
    ka = sa[-1]
    kb = sb[0] if db == 1 else sb[-2]
    if ka != kb:
        if da == 1 and db == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] to have the same "
                               f"number of elements, but got {ka} and {kb} elements respectively")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_rows(sa)}x{ka} and {kb}x{sb[-1] if db > 1 else 1}) "
                           f"(matmul: input {sa} and other {sb}: {ka} != {kb})")
    if da >= 2 and db >= 2:
        if da > 2 or db > 2:
            try:
                broadcast_shapes(sa[:-2], sb[:-2], op="matmul")
            except RuntimeError:
                raise RuntimeError(f"matmul: batch dimensions of input {sa} and other {sb} cannot be broadcast "
                                   f"together: {sa[:-2]} and {sb[:-2]}") from None
        result = Matmul.apply(input, other)
    elif da == 1 and db == 1:
        result = Dot.apply(input, other)
    elif da == 1:
        result = Matmul.apply(input.unsqueeze(0), other).squeeze(-2)
    else:
        result = Matmul.apply(input, other.unsqueeze(-1)).squeeze(-1)
    if out is not None:
        from .inplace import write_out
        return write_out(out, result)
    return result


def _batched_and_empty(input, other):
    """Whether PyTorch's matmul takes its batched (bmm) path with an empty operand, which returns before the
    dtype check: an operand above 2-D that is not folded into a matrix (PyTorch folds the larger one, for mm,
    when the smaller requires grad, or it is empty, or its batch dims are contiguous; never for a 2-D input)."""
    if input.numel() and other.numel():
        return False
    da, db = input.ndim, other.ndim
    if da <= 2 and db <= 2:
        return False
    if da >= 3 and db >= 3:
        return True
    larger, smaller = (input, other) if da >= db else (other, input)
    if smaller.requires_grad:
        return False
    if da == 2:
        return True
    if larger.numel() == 0:
        return False
    shape, strides = list(larger.shape), list(larger.stride())
    if larger is other:                            # PyTorch folds other.mT
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return any(strides[i] != strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _rows(shape):
    if len(shape) == 1:
        return 1
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


class Dot(Op):
    @staticmethod
    def forward(ctx, a, b):
        needs = ctx.needs_input_grad                  # each gradient reads the other operand only
        ctx.save_for_backward(a if needs[1] else None, b if needs[0] else None)
        return ctx.xp.dot(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b if b is not None else None), (grad * a if a is not None else None)


@export(method=True)
def dot(input, other):
    if "dot" in AUTOCAST:
        return autocast_run("dot", dot, input, other)
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_dt.scalar_type_name(input.dtype)} "
                           f"and {_dt.scalar_type_name(other.dtype)}")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] "
                           f"to have the same number of elements, but got {input.shape[0]} and {other.shape[0]} "
                           "elements respectively")
    return Dot.apply(input, other)


@export(method=True)
def vdot(input, other):
    if "vdot" in AUTOCAST:
        return autocast_run("vdot", vdot, input, other)
    return dot(input.conj(), other)


@export(method=True)
def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:           # no size-1 broadcasting here, unlike tensordot
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@export(method=True)
def mm(input, mat2):
    if "mm" in AUTOCAST:
        return autocast_run("mm", mm, input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: self must be a matrix (got {input.ndim}D) and mat2 must be a matrix "
                           f"(got {mat2.ndim}D)")
    return matmul(input, mat2)


@export(method=True)
def bmm(input, mat2):
    if "bmm" in AUTOCAST:
        return autocast_run("bmm", bmm, input, mat2)
    if input._array.__class__ is _SparseCOO or mat2._array.__class__ is _SparseCOO:
        from .sparse_coo_ops import bmm as sparse_bmm
        return sparse_bmm(input, mat2)
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor and batch2 must be a 3D tensor (got {input.ndim}D and "
                           f"{mat2.ndim}D)")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {input.shape[0]} and "
                           f"{mat2.shape[0]}")
    if input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{input.shape[0]}, "
                           f"{input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    _check_mm_dtypes("bmm", input, mat2)
    return BmmOp.apply(input, mat2)


@export(method=True)
def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {vec.ndim}")
    if AUTOCAST:                                     # mv is not matmul for autocast (CUDA casts it, CPU not)
        return autocast_run("mv", mv, input, vec) if "mv" in AUTOCAST else run_without_autocast(matmul, input, vec)
    return matmul(input, vec)


def _check_vectors(name, first, second, names):
    for t, label in zip((first, second), names):
        if t.ndim != 1:
            raise RuntimeError(f"{name}: Expected 1-D argument {label}, but got {t.ndim}-D")


@export(method=True, aliases=("ger",))
def outer(input, vec2):
    _check_vectors("outer", input, vec2, ("self", "vec2"))
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def _add_dtype_error(names, a, b):
    raise RuntimeError(f"{names} must have the same dtype, but got {_dt.scalar_type_name(a.dtype)} and "
                       f"{_dt.scalar_type_name(b.dtype)}")


@export(inplace=True)
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    if "addmm" in AUTOCAST:
        return autocast_run("addmm", addmm, input, mat1, mat2, beta=beta, alpha=alpha)
    prod = mm(mat1, mat2)
    if input.dtype is not prod.dtype:
        _add_dtype_error("self and mat2", input, prod)
    if alpha != 1:
        prod = prod * alpha
    return prod + (input if beta == 1 else input * beta) if beta != 0 else prod + input * 0


@export(inplace=True)
def addmv(input, mat, vec, *, beta=1, alpha=1):
    if "addmv" in AUTOCAST:
        return autocast_run("addmv", addmv, input, mat, vec, beta=beta, alpha=alpha)
    prod = mv(mat, vec)
    if input.dtype is not prod.dtype:
        raise RuntimeError("addmv input tensors must have the same dtype, but got " + ", ".join(
            _dt.scalar_type_name(t.dtype) for t in (input, mat)) + f", and {_dt.scalar_type_name(vec.dtype)}")
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if "baddbmm" in AUTOCAST:
        return autocast_run("baddbmm", baddbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    for t, d in ((batch1, 1), (batch2, 2)):          # PyTorch reads the result's sizes before its 3-D checks
        if 0 < t.ndim <= d:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-t.ndim}, {t.ndim - 1}], but "
                             f"got {d})")
    prod = bmm(batch1, batch2)
    if input.dtype is not prod.dtype:
        raise RuntimeError("Input dtypes must be the same, got: " + ", ".join(
            f"{k}: {_dt.scalar_type_name(t.dtype).lower()}" for k, t in (("input", input), ("batch1", batch1),
                                                                         ("batch2", batch2))).replace(":", "", 1))
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if "addbmm" in AUTOCAST:
        return autocast_run("addbmm", addbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    prod = bmm(batch1, batch2).sum(0)
    if input.dtype is not prod.dtype:
        _add_dtype_error("self and mat2", input, prod)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    if "addr" in AUTOCAST:
        return autocast_run("addr", addr, input, vec1, vec2, beta=beta, alpha=alpha)
    _check_vectors("addr", vec1, vec2, ("vec1", "vec2"))
    prod = outer(vec1, vec2)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


class Kron(Op):
    """Kronecker product of operands of equal ndim: a (a0, 1, a1, 1, ...) times b (1, b0, 1, b1, ...), folded.

    PyTorch multiplies _unsafe_view's of the operands: they share memory with the inputs but not their version
    counters, so its saved operands are not version checked and backward reads their current values. ember
    saves plain views of the arrays for the same behaviour (each is saved when the other needs a gradient)."""
    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ones = (1,) * a.ndim
        needs = ctx.needs_input_grad
        ctx.save_for_backward(a.view() if needs[1] else None, b.view() if needs[0] else None)
        ctx.shapes = (a.shape, b.shape)
        prod = a.reshape(_interleave(a.shape, ones)) * b.reshape(_interleave(ones, b.shape))
        return prod.reshape(tuple([m * n for m, n in zip(a.shape, b.shape)]))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ones = (1,) * len(sa)
        g = grad.reshape(_interleave(sa, sb))
        grad_a = grad_b = None
        if b is not None:
            grad_a = g * b.reshape(_interleave(ones, sb))
            grad_a = grad_a.sum(tuple(range(1, 2 * len(sa), 2))) if sa else grad_a
        if a is not None:
            grad_b = g * a.reshape(_interleave(sa, ones))
            grad_b = grad_b.sum(tuple(range(0, 2 * len(sa), 2))) if sa else grad_b
        return grad_a, grad_b


def _interleave(first, second):
    return tuple([n for pair in zip(first, second) for n in pair])


@export(method=True)
def kron(input, other):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape)) if input.ndim < nd else input
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape)) if other.ndim < nd else other
    a, b, _ = promote("kron", a, b)
    return Kron.apply(a, b)


@export(method=True)
def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if "trace" in AUTOCAST:
        return autocast_run("trace", trace, input)
    return input.diagonal().sum()


def multi_dot(tensors):
    """A chain of matrix products in the cheapest order; the first (last) may be a row (column) vector."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        where_ = "the first tensor" if i == 0 else "the last tensor" if i == len(tensors) - 1 else None
        if where_ and t.ndim not in (1, 2):
            raise RuntimeError(f"multi_dot(): {where_} must be 1D or 2D but got {t.ndim}D")
        if not where_ and t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{_dt.scalar_type_name(tensors[0].dtype)} and tensor {i} is "
                               f"{_dt.scalar_type_name(t.dtype)}")
    if AUTOCAST:                                     # PyTorch's multi_dot multiplies with mm
        tensors = autocast_args(("linalg_multi_dot", "mm"), *tensors)
    out_shape = tensors[0].shape[:-1] + tensors[-1].shape[1:]
    mats = [tensors[0].reshape(1, -1) if tensors[0].ndim == 1 else tensors[0]] + tensors[1:-1] + \
        [tensors[-1].reshape(-1, 1) if tensors[-1].ndim == 1 else tensors[-1]]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                               f"{list(tensors[i + 1].shape)} cannot be multiplied")
    return _chain(mats, _chain_order(mats), 0, len(mats) - 1).view(out_shape)


def _chain_order(mats):
    """split[i][j]: where the cheapest product of mats[i..j] splits (the textbook dynamic program)."""
    dims = [mats[0].shape[0]] + [m.shape[1] for m in mats]
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                                          for k in range(i, j))
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return Matmul.apply(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


def _deprecated(message):
    warnings.warn(message, UserWarning, stacklevel=3)


@export(method=False)
def chain_matmul(*matrices):
    """multi_dot of 2-D matrices (deprecated in PyTorch)."""
    _deprecated("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
                "parameters.")
    for t in matrices:
        if t.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t.ndim}, expected 2 instead.")
    return matrices[0].clone() if len(matrices) == 1 else multi_dot(matrices)


def vecdot(x, y, *, dim=-1):
    """sum(conj(x) * y) along dim, broadcasting."""
    if "linalg_vecdot" in AUTOCAST:
        return autocast_run("linalg_vecdot", vecdot, x, y, dim=dim)
    for t in (x, y):
        if t.dtype.category < _dt.FLOAT:
            raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as input. Got "
                               f"{_dt.scalar_type_name(t.dtype)}")
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_dt.scalar_type_name(x.dtype)} and y of type {_dt.scalar_type_name(y.dtype)} instead")
    return (x.conj() * y).sum(dim)


class Cross(Op):
    """input x other along dim, broadcasting the other dims."""
    node_name = "LinalgCrossBackward0"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other, dim):
        ctx.dim = dim
        needs = ctx.needs_input_grad                  # each gradient reads the other operand only
        ctx.save_for_backward(input if needs[1] else None, other if needs[0] else None)
        return ctx.xp.cross(input, other, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        grad_input = Cross.apply(other, grad, dim=ctx.dim) if ctx.needs_input_grad[0] else None
        grad_other = Cross.apply(grad, input, dim=ctx.dim) if ctx.needs_input_grad[1] else None
        return grad_input, grad_other


def _check_cross(input, other, dim):
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    if input.dtype is not other.dtype and ("cross" in AUTOCAST or "linalg_cross" in AUTOCAST):
        # autocast's promote policy: the widest floating dtype of the two (float16 + bfloat16 is refused there)
        dtype = _dt.promote_types(input.dtype, other.dtype)
        input, other = input.to(dtype), other.to(dtype)
    if input.dtype is not other.dtype:              # PyTorch does not promote here otherwise
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                           f"{_dt.scalar_type_name(other.dtype)}")
    return Cross.apply(input, other, dim=d - input.ndim)


def linalg_cross(input, other, *, dim=-1):
    """Cross product of 3-vectors along dim, broadcasting the other dims."""
    return _check_cross(input, other, dim)


@export
def cross(input, other, dim=None):
    """Cross product along dim; dim=None (deprecated in PyTorch) picks the first dim of size 3."""
    if dim is None:
        _deprecated("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                    "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                    "with that of linalg.cross in a future release.")
        if input.ndim == other.ndim:
            dim = next((d for d, s in enumerate(input.shape) if s == 3), None)
            if dim is None:
                raise RuntimeError("no dimension of size 3 in input")
    return _check_cross(input, other, -1 if dim is None else dim)
