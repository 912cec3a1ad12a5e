"""Matrix products (matmul with all its batching rules, mm, bmm, einsum ...) and linear algebra: inverse,
determinants, solvers, decompositions (svd, qr, cholesky, eigh), matrix functions and distances."""
import math
import string
import warnings

from .. import _dtype as _dt
from .._tensor import Tensor
from ..autograd.function import Op
from ._common import cast, nodiff, promote, return_type
from ._registry import export
from ._shapes import broadcast_shapes, wrap_dim
from .creation import eye, zeros, zeros_like
from .pointwise import where
from .shape import cat


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
        needs = ctx.needs_input_grad                  # each gradient reads the other operand only
        ctx.save_for_backward(a if needs[1] else None, b if needs[0] else None)
        return ctx.xp.dot(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b if b is not None else None), (grad * a if a is not None else None)


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
    if input.shape[-1] != other.shape[-1]:           # no size-1 broadcasting here, unlike tensordot
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
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


def _check_vectors(name, first, second, names):
    for t, label in zip((first, second), names):
        if t.ndim != 1:
            raise RuntimeError(f"{name}: Expected 1-D argument {label}, but got {t.ndim}-D")


@export(method=True, aliases=("ger",))
def outer(input, vec2):
    _check_vectors("outer", input, vec2, ("self", "vec2"))
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
    _check_vectors("addr", vec1, vec2, ("vec1", "vec2"))
    prod = outer(vec1, vec2)
    return (prod * alpha if alpha != 1 else prod) + (input * beta if beta != 1 else input)


class Einsum(Op):
    """Note [einsum saved operands]: PyTorch evaluates einsum as products of pairs, left to right (a bmm, a
    mul or a dot of permuted and reshaped operands); each product saves an operand when the other one needs
    a gradient. ember's gradient of operand i reads every other operand, so it saves operand j when another
    operand needs a gradient: the operand itself (version checked) where PyTorch saves a view of it, and a
    private copy where PyTorch saves a copy, a sum or an intermediate product instead (no check there).
    `views` says, per operand, whether PyTorch's product gets a view of it (computed from the equation by
    _torch_views unless the caller, tensordot, knows better)."""

    @staticmethod
    def forward(ctx, *operands, equation, views=None):
        ctx.equation = equation
        ctx.shapes = tuple([o.shape for o in operands])
        needs = ctx.needs_input_grad
        if len(operands) > 1 and needs[0] | needs[1] | any(needs[2:len(operands)]):
            if views is None:
                views = _torch_views(equation, operands)
            saved = []
            for j, o in enumerate(operands):
                if not any(n for i, n in enumerate(needs[:len(operands)]) if i != j):
                    saved.append(None)
                elif views[j] and (needs[1 - j] if j < 2 else any(needs[:j])):   # PyTorch saves the view
                    saved.append(o)
                else:
                    saved.append(o.copy())
            ctx.save_for_backward(*saved)
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
            g = _unbroadcast(einsum(",".join(eq_terms) + "->" + target, *ops), target, term, ctx.shapes[i])
            if len(set(term)) != len(term):
                grads.append(_embed_diagonal(g, target, term, missing, ctx.shapes[i], ctx.equation))
                continue
            if missing:
                shape = ctx.shapes[i]
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


def _unbroadcast(g, target, term, shape):
    """A size-1 dimension broadcasts against the other operands' size of its letter (PyTorch's einsum):
    its gradient is summed back to size 1; and where only this operand has the full size, the gradient
    (size 1 from the others) is expanded to it."""
    sizes = dict(zip(term, shape))
    summed = tuple(k for k, c in enumerate(target) if g.shape[k] != sizes[c] and sizes[c] == 1)
    if summed:
        g = g.sum(summed, keepdim=True)
    if any(g.shape[k] != sizes[c] for k, c in enumerate(target)):
        g = g.expand([sizes[c] for c in target])
    return g


def _embed_diagonal(g, target, term, missing, shape, equation):
    """The gradient of an operand with a repeated letter ("ii"): g lives on its diagonal, written as
    g times identity matrices tying each repeat to its first occurrence (and ones for summed letters)."""
    from .creation import eye, ones
    fresh = (c for c in string.ascii_letters if c not in equation)
    sizes = dict(zip(term, shape))
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


def _torch_views(equation, arrays):
    """Per operand of a multi-operand einsum: whether PyTorch's pairwise evaluation multiplies a view of it
    (so the product's saved tensor shares its version counter); see _torch_plan."""
    return _torch_plan(equation, [a.shape for a in arrays], [a.strides for a in arrays])[0]


def _torch_plan(equation, shapes, strides=None):
    """PyTorch's evaluation of a multi-operand einsum, step by step: operands aligned to the output's letters
    then the contracted ones in ASCII order; a contracted letter that no later operand has is summed out at
    once (a copy) or joins the pair's contraction; the pair is a mul (no contraction) or a bmm of operands
    permuted to (batch, kept, contracted) and reshaped, a view only where the strides allow it.

    Returns (views, contracts, empty): per operand whether its product gets a view of it (with strides); and
    per step k >= 1 (operand k joining the running result) whether that step contracts (a bmm), and whether
    one side of it has no elements (PyTorch then returns zeros of operand k's dtype from the step)."""
    lhs, out = equation.split("->")
    terms = lhs.split(",")
    order = list(out) + sorted(set(lhs.replace(",", "")) - set(out))
    layouts = []                                  # per operand: {letter: (size, stride)} of its own letters
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        layout = {}
        for c, size, stride in zip(term, shape, strides[k] if strides is not None else (0,) * len(shape)):
            old = layout.get(c)
            layout[c] = (size, stride if old is None else old[1] + stride)      # a repeat: its diagonal
        layouts.append(layout)

    def size(k, c):
        return layouts[k][c][0] if c in layouts[k] else 1

    last = {c: max([k for k in range(len(terms)) if size(k, c) != 1], default=0) for c in order}
    contracted = order[len(out):]
    alone = {c for c in contracted if last[c] == 0 and size(0, c) != 1}
    views = [not alone] + [True] * (len(terms) - 1)
    contracts, empty = [False], [False]
    # the running result's letters of size other than 1, with their sizes
    left = {c: size(0, c) for c in order if size(0, c) != 1 and c not in alone}
    for k in range(1, len(terms)):
        remaining = [c for c in order if c in out or last[c] >= k]
        sum_dims, alone = [], set()
        for c in contracted:
            if last[c] == k:
                if c not in left:
                    alone.add(c)                  # summed out of this operand alone
                    views[k] = False
                else:
                    sum_dims.append(c)
        mine = {c: size(k, c) for c in remaining if size(k, c) != 1 and c not in alone}
        contracts.append(bool(sum_dims))
        empty.append(0 in left.values() or 0 in mine.values())
        if sum_dims and strides is not None:
            kept = [c for c in remaining if c not in sum_dims]
            lro = [c for c in kept if c in left and c in mine]
            lo = [c for c in kept if c in left and c not in mine]
            ro = [c for c in kept if c not in left and c in mine]
            if k == 1:
                views[0] = views[0] and _mergeable(layouts[0], [lro, lo, sum_dims])
            views[k] = views[k] and _mergeable(layouts[k], [lro, sum_dims, ro])
        left = {c: left.get(c, mine.get(c)) for c in remaining if c not in sum_dims and (c in left or c in mine)}
    return views, contracts, empty


def _mergeable(layout, groups):
    """Whether each group of letters (in order) folds into one dimension without a copy (PyTorch's view rule,
    dimensions of size 1 ignored)."""
    if any(size == 0 for size, _ in layout.values()):
        return True
    for group in groups:
        dims = [layout[c] for c in group if c in layout and layout[c][0] != 1]
        for (_, outer), (inner_size, inner) in zip(dims, dims[1:]):
            if outer != inner * inner_size:
                return False
    return True


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


def _check_equation(equation, operands):
    """PyTorch's checks of an einsum equation against its operands, with its RuntimeError messages."""
    if not operands:
        raise RuntimeError("einsum(): must specify the equation string and at least one operand, or at least one "
                           "operand and its subscripts list")
    lhs, arrow, out = equation.partition("->")
    i = 0
    while i < len(equation):                            # characters: letters, ',', '...', '->', spaces
        c = equation[i]
        if c.isascii() and c.isalpha() or c in ", ":
            i += 1
        elif equation.startswith("...", i):
            i += 3
        elif equation.startswith("->", i) and i == len(lhs):
            i += 2
        else:
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, subscripts "
                               "must be in [a-zA-Z]")
    terms = lhs.replace(" ", "").split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    seen = {}
    for k, (term, op) in enumerate(zip(terms, operands)):
        letters = term.replace("...", "")
        ndim = op.ndim
        if "..." not in term and len(letters) != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(letters)}) does not match "
                               f"the number of dimensions ({ndim}) for operand {k} and no ellipsis was given")
        if "..." in term and len(letters) > ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(letters)}) is more than "
                               f"the number of dimensions ({ndim}) for operand {k}")
        head, _, tail = term.partition("...")
        shape = op.shape
        dims = list(zip(head, shape[:len(head)])) + list(zip(tail, shape[ndim - len(tail):] if tail else ()))
        own = {}
        for c, size in dims:
            if c in own and own[c] != size:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't match, "
                                   f"{size} != {own[c]}")
            own[c] = size
        for c, size in own.items():
            prev = seen.get(c)
            if prev is not None and size != prev and size != 1 and prev != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {size} for operand {k} which does not "
                                   f"broadcast with previously seen size {prev}")
            if prev is None or prev == 1:
                seen[c] = size
    if arrow:
        listed = set()
        for c in out.replace("...", "").replace(" ", ""):
            if c in listed:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if c not in seen:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
            listed.add(c)


@export(method=False)
def einsum(equation, *operands):
    """Einstein summation; gradients are einsums too."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    _check_equation(equation, operands)
    equation = _normalize_equation(equation, operands)
    dtype = operands[0].dtype
    if any(o.dtype is not dtype for o in operands[1:]):
        operands = _einsum_dtypes(equation, operands)
    elif dtype is _dt.bool_ and len(operands) > 1 and all(o.numel() for o in operands) and \
            any(_torch_plan(equation, [o.shape for o in operands])[1]):
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    return Einsum.apply(*operands, equation=equation)


def _einsum_dtypes(equation, operands):
    """Operands of several dtypes, as PyTorch takes them: its pairwise steps promote in a mul (no contracted
    letter) and refuse in a bmm, which needs both sides of one dtype, except where a side has no elements
    (that step gives zeros of the joining operand's dtype)."""
    _, contracts, empty = _torch_plan(equation, [o.shape for o in operands])
    dtype = operands[0].dtype
    for k in range(1, len(operands)):
        other = operands[k].dtype
        if not contracts[k]:
            dtype = _dt.promote_types(dtype, other)
        elif empty[k]:
            dtype = other
        elif other is not dtype:
            raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(dtype)} but found "
                               f"{_dt.scalar_type_name(other)}")
    return [cast(o, dtype) for o in operands]


@export(method=False)
def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a = list(range(a.ndim - dims, a.ndim))
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    given = list(zip(dims_a, dims_b))
    dims_a = [wrap_dim(d, a.ndim) for d in dims_a]
    dims_b = [wrap_dim(d, b.ndim) for d in dims_b]
    for dims_ in (dims_a, dims_b):
        for d in dims_:
            if dims_.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for (da, db), (ga, gb) in zip(zip(dims_a, dims_b), given):
        sa, sb = a.shape[da], b.shape[db]
        if sa != sb and sa != 1 and sb != 1:          # a size-1 dim broadcasts, as in PyTorch (summed out)
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} in dim {ga} "
                               f"and second has size {sb} in dim {gb}")
        tb[db] = ta[da]
    free_a = [c for i, c in enumerate(ta) if i not in dims_a]
    free_b = [c for i, c in enumerate(tb) if i not in dims_b]
    # PyTorch sums a contracted dim at once where the other side's is 1, then multiplies a permuted to
    # (free, contracted) and b to (contracted, free), each reshaped to a matrix: a view where strides allow
    sa, sb = a.shape, b.shape
    views = (not any(sb[db] == 1 for db in dims_b) and
             _mergeable(_layout(ta, a), [free_a, [ta[d] for d in dims_a]]),
             not any(sa[da] == 1 and sb[db] != 1 for da, db in zip(dims_a, dims_b)) and
             _mergeable(_layout(tb, b), [[tb[d] for d in dims_b], free_b]))
    return Einsum.apply(a, b, equation="".join(ta) + "," + "".join(tb) + "->" + "".join(free_a + free_b),
                        views=views)


def _layout(letters, t):
    return {c: (size, stride) for c, size, stride in zip(letters, t._array.shape, t._array.strides)}


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
    return input.diagonal().sum()


# --- linalg ---------------------------------------------------------------------------------------
# Decompositions run on the backend's LAPACK (numpy.linalg); their gradients are ember ops, so second
# derivatives come free. Gradients are the real formulas: complex inputs run forward only.

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


def _mm(a, b):
    """a @ b carrying PyTorch's grad_fn names (MmBackward0 for matrices, UnsafeViewBackward0 for batches)."""
    return (Matmul if a.ndim == 2 and b.ndim == 2 else UnsafeViewMatmul).apply(a, b)


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
        with xp.errstate(all="ignore"):
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
        with xp.errstate(all="ignore"):
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

    Note [pinv gradient] (valid where the rank is locally constant), for gP = G:
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
    (split_ties) multiplies by 0 instead for p = 2 and p < 1 (so a NaN grad leaks), as PyTorch's norm does."""
    if p == 0:
        return diff * 0
    if p == 1:
        return diff.sign() * grad
    zero = norm == 0
    safe = where(zero, 1, norm)
    if split_ties and (p == 2 or p < 1):
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


# --- torch.linalg functions (re-exported by ember/linalg.py) ---------------------------------------

_svd_result = return_type("linalg_svd", ("U", "S", "Vh"))
_qr_result = return_type("linalg_qr", ("Q", "R"))
_eigh_result = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
_slogdet_result = return_type("linalg_slogdet", ("sign", "logabsdet"))


def inv(A):
    """Inverse of square matrices; singular ones raise LinAlgError."""
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


def cholesky(A, *, upper=False):
    """Lower factor L of A = L L^H (upper=True: L^H); raises LinAlgError unless A is positive-definite."""
    _check_matrix("linalg.cholesky", A)
    return Cholesky.apply(A, "linalg.cholesky", upper)


def svd(A, full_matrices=True):
    """(U, S, Vh) with A = U diag(S) Vh, singular values descending."""
    _check_matrix("linalg.svd", A, square=False)
    return _svd_result(*Svd.apply(A, full_matrices))


def svdvals(A):
    _check_matrix("linalg.svdvals", A, square=False)
    return Svd.apply(A, False)[1]


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R; mode 'reduced', 'complete', or 'r' (R only, Q empty)."""
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return _qr_result(*Qr.apply(A, mode))


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors) of Hermitian A, reading only its UPLO triangle."""
    _check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return _eigh_result(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    _check_matrix("linalg.eigvalsh", A)
    return eigh(A, UPLO)[0]


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


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """Number of singular values above max(atol, rtol * largest); not differentiable (int64)."""
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
    return Pinv.apply(A, atol, rtol, hermitian)


def vecdot(x, y, *, dim=-1):
    """sum(conj(x) * y) along dim, broadcasting."""
    for t in (x, y):
        if t.dtype.category < _dt.FLOAT:
            raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as input. Got "
                               f"{_dt.scalar_type_name(t.dtype)}")
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_dt.scalar_type_name(x.dtype)} and y of type {_dt.scalar_type_name(y.dtype)} instead")
    return (x.conj() * y).sum(dim)


def _check_cross(input, other, dim):
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    dtype = _dt.promote_types(input.dtype, other.dtype)
    return Cross.apply(cast(input, dtype), cast(other, dtype), dim=d - input.ndim)


def linalg_cross(input, other, *, dim=-1):
    """Cross product of 3-vectors along dim, broadcasting the other dims."""
    return _check_cross(input, other, dim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
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
    if ord == "fro":
        return (A.abs() ** 2 if A.is_complex() else A * A).sum(dim, keepdim=keepdim).sqrt()
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


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    from .reduction import vector_norm
    if ord is not None and dim is None and A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.ndim}D.")
    if ord is None or (dim is not None and not isinstance(dim, (tuple, list))) or \
            (dim is None and A.ndim == 1) or (isinstance(dim, (tuple, list)) and len(dim) == 1):
        if ord is None:
            ord = 2
        if isinstance(ord, str):                     # 'fro' / 'nuc' are matrix norms, as in PyTorch
            return matrix_norm(A, ord, (0, 1) if dim is None else dim, keepdim)
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim)


# --- torch.* linalg functions and Tensor methods ----------------------------------------------------

_svd_legacy = return_type("svd", ("U", "S", "V"))
_qr_legacy = return_type("qr", ("Q", "R"))
_slogdet_legacy = return_type("slogdet", ("sign", "logabsdet"))


def _deprecated(message):
    warnings.warn(message, UserWarning, stacklevel=3)


@export(name="det")
def _det(input):
    return det(input)


@export
def inverse(input):
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


@export(name="svd")
def _svd(input, some=True, compute_uv=True):
    """The old torch.svd: (U, S, V) with V not transposed; compute_uv=False gives zero U and V."""
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
    _deprecated("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch "
                "release.")
    return _qr_legacy(*qr(input, "reduced" if some else "complete"))


@export(name="cholesky")
def _cholesky(input, upper=False):
    """The old torch.cholesky (deprecated in PyTorch)."""
    _deprecated("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future "
                "PyTorch release.")
    _check_matrix("cholesky", input)
    return CholeskyLegacy.apply(input, "cholesky", upper)


@export
def cholesky_solve(input, input2, upper=False):
    """X with A X = input for A = L L^H, L = input2 lower-triangular (upper: A = U^H U); batch dims broadcast."""
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


@export(name="matrix_power")
def _matrix_power(input, n):
    return matrix_power(input, n)


@export(name="matrix_exp")
def _matrix_exp(input):
    return matrix_exp(input)


@export
def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


@export
def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    dtype = _dt.result_type(input, other)          # a 0-d operand is weak, as in PyTorch's promotion
    if dtype.category < _dt.FLOAT:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_dt.scalar_type_name(dtype)} instead.")
    broadcast_shapes(tuple(input.shape), tuple(other.shape))
    return Dist.apply(cast(input, dtype), cast(other, dtype), p=float(p))


@export(method=False)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances of the rows of x1 (..., P, M) and x2 (..., R, M), batch dims broadcast.

    Computed directly for every compute_mode (PyTorch may use a matmul expansion for p=2)."""
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if t.dtype.category != _dt.FLOAT:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dt.scalar_type_name(t.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    dtype = _dt.promote_types(x1.dtype, x2.dtype)
    return Cdist.apply(cast(x1, dtype), cast(x2, dtype), p=float(p))


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
