"""einsum and tensordot: contractions written as subscripts, with PyTorch's checks, dtype rules and (for the
saved operands) its pairwise evaluation order; their gradients are einsums too.
"""
import string

from .. import _dtype as _dt
from ..amp._dispatch import AUTOCAST, autocast_args, lower_dtype
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast
from ._registry import export
from ._shapes import wrap_dim


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
        # NumPy's einsum has no bfloat16 loop: sum in float32 (dtype.name, ~2 us under NumPy 2.4, read only for
        # a kind "V" dtype: ml_dtypes' bfloat16)
        if operands[0].dtype.kind == "V" and operands[0].dtype.name == "bfloat16":
            wide = [o.astype("float32") for o in operands]
            return ctx.xp.einsum(equation, *wide, optimize=len(operands) > 2).astype(operands[0].dtype)
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
    # the dims an ellipsis covers, right-aligned across operands; checked in term order with the letters
    ell_sizes = [1] * max([op.ndim - len(t) + 3 for t, op in zip(terms, operands) if "..." in t], default=0)
    for k, (term, op) in enumerate(zip(terms, operands)):
        letters = term.replace("...", "")
        ndim = op.ndim
        if "..." not in term and len(letters) != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(letters)}) does not match "
                               f"the number of dimensions ({ndim}) for operand {k} and no ellipsis was given")
        if "..." in term and len(letters) > ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(letters)}) is more than "
                               f"the number of dimensions ({ndim}) for operand {k}")
        head = term.partition("...")[0]
        n_ell = ndim - len(letters)
        own = {}
        for d, size in enumerate(op.shape):
            if len(head) <= d < len(head) + n_ell:       # covered by the ellipsis
                j = len(ell_sizes) - n_ell + d - len(head)
                prev = ell_sizes[j]
                if size != prev and size != 1 and prev != 1:
                    raise RuntimeError(f"einsum(): dimension {d} covered by ellipsis in operand {k}has size {size} "
                                       f"which does not broadcast with previously seen ellipsis with size {prev} "
                                       "for the respective dimension")     # sic: PyTorch's missing space
                if prev == 1:
                    ell_sizes[j] = size
                continue
            c = letters[d if d < len(head) else d - n_ell]
            if c in own:
                if own[c] != size:
                    raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't "
                                       f"match, {size} != {own[c]}")
                continue
            own[c] = size
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
    if AUTOCAST:
        operands = _autocast_operands(equation, operands)
    dtype = operands[0].dtype
    if any(o.dtype is not dtype for o in operands[1:]):
        operands = _einsum_dtypes(equation, operands)
    elif dtype is _dt.bool_ and len(operands) > 1 and all(o.numel() for o in operands) and \
            any(_torch_plan(equation, [o.shape for o in operands])[1]):
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    if len(operands) == 2 and _State.grad_enabled and operands[0]._requires_grad and operands[1]._requires_grad:
        views = _torch_views(equation, [o._array for o in operands])
        return Einsum.apply(*_clone_copied(operands, views), equation=equation, views=(True, True))
    return Einsum.apply(*operands, equation=equation)


def _clone_copied(operands, views):
    """Two operands that both require grad, where PyTorch's product saves a copy of one (views[j] False): that
    copy is in PyTorch's graph, so the other operand's create_graph gradient depends on it. Clone it here, so
    that Einsum saves the clone (told it is a view), which is in the graph too, rather than a private copy."""
    return tuple(o if view else o.clone() for o, view in zip(operands, views))


def _autocast_operands(equation, operands):
    """einsum's operands under autocast. CUDA's list casts einsum itself; on the CPU, PyTorch's pairwise steps
    are: a bmm (autocast: both sides to the lower dtype) where letters are contracted, else a mul (promoting).
    The operands are cast to the dtype that chain ends in."""
    if "einsum" in AUTOCAST:
        return autocast_args(("einsum",), *operands)
    lower = lower_dtype(operands[0]._device.type, "bmm") if len(operands) > 1 else None
    castable = (_dt.float16, _dt.bfloat16, _dt.float32)
    if lower is None or any(o.dtype not in castable for o in operands):
        return operands
    _, contracts, _ = _torch_plan(equation, [o.shape for o in operands])
    dtype = operands[0].dtype
    for k in range(1, len(operands)):
        dtype = lower if contracts[k] else _dt.promote_types(dtype, operands[k].dtype)
    return [cast(o, dtype) for o in operands]


def _einsum_dtypes(equation, operands):
    """Operands of several dtypes, as PyTorch takes them: its pairwise steps promote in a mul (no contracted
    letter) and refuse in a bmm, which needs both sides of one dtype, except where a side has no elements
    (that step gives zeros of the joining operand's dtype)."""
    _, contracts, empty = _torch_plan(equation, [o.shape for o in operands])
    dtype = operands[0].dtype
    grad = _State.grad_enabled and operands[0]._requires_grad     # the running result requires grad
    for k in range(1, len(operands)):
        other = operands[k].dtype
        grad = grad or _State.grad_enabled and operands[k]._requires_grad
        if not contracts[k]:
            dtype = _dt.promote_types(dtype, other)
        elif empty[k]:
            dtype = other
            if grad and dtype.category < _dt.FLOAT:    # an integer step result that would require grad
                raise RuntimeError(f"Autograd not support dtype: {_dt.scalar_type_name(dtype)}")
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
    if "tensordot" in AUTOCAST:                      # CUDA's promote casts before tensordot's own checks
        a, b = autocast_args(("tensordot",), a, b)
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if AUTOCAST:                                     # PyTorch's tensordot multiplies with mm
        a, b = autocast_args(("tensordot", "mm"), a, b)
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
    if _State.grad_enabled and a._requires_grad and b._requires_grad and not all(views):
        a, b = _clone_copied((a, b), views)
        views = (True, True)
    return Einsum.apply(a, b, equation="".join(ta) + "," + "".join(tb) + "->" + "".join(free_a + free_b),
                        views=views)


def _layout(letters, t):
    return {c: (size, stride) for c, size, stride in zip(letters, t._array.shape, t._array.strides)}
