"""Matrix products (matmul with all its batching rules, mm, bmm, einsum ...) and small linalg."""
import math
import string

from .. import _dtype as _dt
from .._tensor import Tensor
from ..autograd.function import Op
from ._common import cast, nodiff, return_type
from ._registry import export
from ._shapes import broadcast_shapes


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
            return (a.reshape(math.prod(lead), a.shape[-1]) @ b).reshape(lead + (b.shape[-1],))
        return a @ b

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
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}")
    if input._device is not other._device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input._device} and {other._device}! (when checking argument for matmul)")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {input.dtype} != {other.dtype}")
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
        ctx.save_for_backward(a, b)
        return ctx.xp.dot(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a


@export(method=True)
def dot(input, other):
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
    return dot(input.conj(), other)


@export(method=True)
def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([-1], [-1]))


@export(method=True)
def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: self must be a matrix (got {input.ndim}D) and mat2 must be a matrix "
                           f"(got {mat2.ndim}D)")
    return matmul(input, mat2)


@export(method=True)
def bmm(input, mat2):
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
    return matmul(input, vec)


@export(method=True, aliases=("ger",))
def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


@export(inplace=True)
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    return prod + (input if beta == 1 else input * beta) if beta != 0 else prod + input * 0


@export(inplace=True)
def addmv(input, mat, vec, *, beta=1, alpha=1):
    prod = mv(mat, vec)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    prod = bmm(batch1, batch2)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    prod = bmm(batch1, batch2).sum(0)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


@export(inplace=True)
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    prod = outer(vec1, vec2)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


class Einsum(Op):
    @staticmethod
    def forward(ctx, *operands, equation):
        ctx.equation = equation
        ctx.save_for_backward(*operands)
        return ctx.xp.einsum(equation, *operands, optimize=len(operands) > 2)

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        lhs, out = ctx.equation.split("->")
        terms = lhs.split(",")
        grads = []
        for i, term in enumerate(terms):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(terms) if j != i]
            # letters of this operand missing elsewhere are summed out in forward: broadcast them back
            present = set(out).union(*others)
            missing = [c for c in term if c not in present]
            eq_terms = [out] + others
            ops = [grad] + [operands[j] for j in range(len(terms)) if j != i]
            target = "".join(c for c in dict.fromkeys(term) if c not in missing)
            g = einsum(",".join(eq_terms) + "->" + target, *ops)
            if len(set(term)) != len(term):
                grads.append(_embed_diagonal(g, target, term, missing, operands[i], ctx.equation))
                continue
            if missing:
                shape = operands[i].shape
                full_idx = [term.index(c) for c in target]
                view_shape = [1] * len(term)
                for k, pos in enumerate(full_idx):
                    view_shape[pos] = g.shape[k]
                order = sorted(range(len(target)), key=lambda k: full_idx[k])
                g = g.permute(order).reshape(view_shape).expand(shape)
            else:
                order = [target.index(c) for c in term]
                g = g.permute(order) if order != list(range(len(order))) else g
            grads.append(g)
        return tuple(grads)


def _embed_diagonal(g, target, term, missing, operand, equation):
    """The gradient of an operand with a repeated letter ("ii"): g lives on its diagonal, written as
    g times identity matrices tying each repeat to its first occurrence (and ones for summed letters)."""
    from .creation import eye, ones
    fresh = (c for c in string.ascii_letters if c not in equation)
    sizes = dict(zip(term, operand.shape))
    subscripts, extra, seen = [], [], set()
    for c in term:
        if c in seen:
            f = next(fresh)
            subscripts.append(f)
            extra.append((c + f, eye(sizes[c], dtype=g.dtype, device=g.device)))
        else:
            seen.add(c)
            subscripts.append(c)
    for c in dict.fromkeys(missing):
        extra.append((c, ones(sizes[c], dtype=g.dtype, device=g.device)))
    lhs = ",".join([target] + [sub for sub, _ in extra])
    return einsum(lhs + "->" + "".join(subscripts), g, *[t for _, t in extra])


def _normalize_equation(equation, operands):
    equation = equation.replace(" ", "")
    if "->" not in equation:
        lhs = equation
        counts = {}
        for c in lhs.replace(",", "").replace(".", ""):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
        if "..." in lhs:
            out = "..." + out
        equation = lhs + "->" + out
    if "..." in equation:
        lhs, out = equation.split("->")
        terms = lhs.split(",")
        used = set(equation) - {".", ",", "-", ">"}
        free = [c for c in string.ascii_letters if c not in used]
        max_ell = 0
        new_terms = []
        for term, op in zip(terms, operands):
            if "..." in term:
                n = op.ndim - (len(term) - 3)
                max_ell = max(max_ell, n)
        ell = "".join(free[:max_ell])
        for term, op in zip(terms, operands):
            if "..." in term:
                n = op.ndim - (len(term) - 3)
                term = term.replace("...", ell[max_ell - n:])
            new_terms.append(term)
        out = out.replace("...", ell)
        equation = ",".join(new_terms) + "->" + out
    return equation


@export(method=False)
def einsum(equation, *operands):
    """Einstein summation; gradients are einsums too."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = _normalize_equation(equation, operands)
    dtype = operands[0].dtype
    for op in operands[1:]:
        dtype = _dt.promote_types(dtype, op.dtype)
    operands = [cast(o, dtype) for o in operands]
    return Einsum.apply(*operands, equation=equation)


@export(method=False)
def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        dims_a = list(range(a.ndim - dims, a.ndim))
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    dims_a = [d % a.ndim for d in dims_a]
    dims_b = [d % b.ndim for d in dims_b]
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[da]} in dim {da} "
                               f"and second has size {b.shape[db]} in dim {db}")
        tb[db] = ta[da]
    out = [c for i, c in enumerate(ta) if i not in dims_a] + [c for i, c in enumerate(tb) if i not in dims_b]
    return einsum("".join(ta) + "," + "".join(tb) + "->" + "".join(out), a, b)


@export(method=True)
def kron(input, other):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    ia = []
    ib = []
    for i in range(nd):
        ia += [a.shape[i], 1]
        ib += [1, b.shape[i]]
    prod = a.reshape(ia) * b.reshape(ib)
    return prod.reshape([a.shape[i] * b.shape[i] for i in range(nd)])


@export(method=True)
def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return input.diagonal().sum()


# --- linalg ---------------------------------------------------------------------------------------

class Inv(Op):
    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, input):
        try:
            out = ctx.xp.linalg.inv(input)
        except Exception:
            raise RuntimeError("linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
                               "because the input matrix is singular.") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (inv_,) = ctx.saved_tensors
        return -(inv_.mT @ grad @ inv_.mT)


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


class Solve(Op):
    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, a, b, vector):
        xp = ctx.xp
        ctx.vector = vector
        try:
            out = xp.linalg.solve(a, b[..., None])[..., 0] if vector else xp.linalg.solve(a, b)
        except Exception:
            raise RuntimeError("linalg.solve: The solver failed because the input matrix is singular.") from None
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        if ctx.vector:
            gb = solve(a.mT, grad)
            ga = -gb.unsqueeze(-1) * out.unsqueeze(-2)
        else:
            gb = solve(a.mT, grad)
            ga = -(gb @ out.mT)
        return ga, gb, None


def _square(name, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2] if a.ndim >= 2 else a.shape} by {a.shape[-1] if a.ndim else ''} matrices")
    if a.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(a.dtype)}")


def inv(A):
    _square("inv", A)
    return Inv.apply(A)


def det(A):
    _square("det", A)
    return Det.apply(A)


def solve(A, B, *, left=True):
    _square("solve", A)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    return Solve.apply(A, B, vector)


_slogdet_result = return_type("linalg_slogdet", ("sign", "logabsdet"))


def slogdet(A):
    _square("slogdet", A)
    d = det(A)
    return _slogdet_result(d.sign(), d.abs().log())


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    from .reduction import sum as sum_
    if ord == "fro":
        return (A.abs() ** 2 if A.is_complex() else A * A).sum(dim, keepdim=keepdim).sqrt()
    if ord in (1, -1):
        s = sum_(A.abs(), dim[0], keepdim=True)
        return (s.amax if ord == 1 else s.amin)(dim, keepdim=keepdim)
    if ord in (float("inf"), float("-inf")):
        s = sum_(A.abs(), dim[1], keepdim=True)
        return (s.amax if ord > 0 else s.amin)(dim, keepdim=keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    from .reduction import vector_norm
    if ord is None or (dim is not None and not isinstance(dim, (tuple, list))) or \
            (dim is None and A.ndim == 1) or (isinstance(dim, (tuple, list)) and len(dim) == 1):
        if ord is None:
            ord = 2
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim)


def pinv(A):
    return nodiff(lambda xp, a: xp.linalg.pinv(a), A)


def cross(input, other, dim=-1):
    a = [input.select(dim, i) for i in range(3)]
    b = [other.select(dim, i) for i in range(3)]
    from .shape import stack
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dim)
