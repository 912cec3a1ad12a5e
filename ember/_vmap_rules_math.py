"""Batching rules for vmap (Note [vmap] in ember/_vmap.py) of elementwise ops, linear algebra and special
functions: the elementwise ops run on the physical tensors padded to one logical rank; the linear algebra ops
act on the last dims and take leading batch dims, so the batch dim is one more of those (operands padded to one
logical rank, so that their batch dims line up); ops without batch dims (addmm, trace, vander, ...) are composed
from batched ops, as ember composes them. A rule returns NotImplemented for what it does not cover (invalid
arguments included, so that the per-element loop raises the op's own error)."""
import warnings

from ._tensor import Tensor
from ._vmap import RULES, _dispatch, _is_batched, _wrap, batch_rule, logical_rank, whole_batch, wrap_all
from ._vmap_rules import ELEMENTWISE, INPLACE, _any_batched, _dim_rule, _elementwise, _get, _inplace, _pad
from ._vmap_rules import _element_dim as _pdim, _element_dims as _pdims
from .amp._dispatch import AUTOCAST


# -- helpers --------------------------------------------------------------------------------------------------

def _put(args, kwargs, position, name, value):
    """Set an argument in place: where it was given positionally, else by keyword (args a list, kwargs a dict)."""
    if name not in kwargs and len(args) > position:
        args[position] = value
    else:
        kwargs[name] = value


def _at_rank(value, level, rank):
    """value as a physical operand of ndim rank + 1: a batched one padded after its batch dim, an unbatched one
    with leading size-1 dims (so that a linalg op's batch dims line up, and no operand looks like a vector of
    another's batch)."""
    if _is_batched(value, level):
        return _pad(value, level, rank)
    missing = rank + 1 - value.dim()
    return value.reshape((1,) * missing + tuple(value.shape)) if missing > 0 else value


def _call(name, fn, *args, **kwargs):
    """An op on BatchedTensors from inside a rule: dispatched like a call from user code."""
    return _dispatch(getattr(fn, "_ember_profiled", fn), "aten::" + name, args, kwargs)


def _size(values, level):
    return next(v._phys.shape[0] for v in values if _is_batched(v, level))


def _broadcastable(*shapes):
    for sizes in zip(*[tuple(s)[::-1] for s in shapes]):
        if len({n for n in sizes if n != 1}) > 1:
            return False
    return True


# -- elementwise ----------------------------------------------------------------------------------------------

MATH_ELEMENTWISE = """ldexp complex polar frexp resolve_conj resolve_neg conj_physical special_digamma special_entr
special_erf special_erfc special_erfinv special_exp2 special_expm1 special_gammaln special_i0 special_i0e special_i1
special_i1e special_log1p special_log_ndtr special_logit special_ndtr special_ndtri special_polygamma special_psi
special_round special_sinc special_xlog1py special_xlogy special_zeta special_multigammaln igamma igammac
special_gammainc special_gammaincc""".split()
batch_rule(*MATH_ELEMENTWISE)(_elementwise)


def _inplace_names():
    """The in-place variants (name_) of the elementwise ops that ember has, beyond those _vmap_rules lists."""
    import ember
    from .nn import functional
    have = {n for n in dir(Tensor) if n.endswith("_")} | {n for n in dir(ember) if n.endswith("_")} | \
        {n for n in dir(functional) if n.endswith("_")}
    names = {n + "_" for n in ELEMENTWISE + MATH_ELEMENTWISE} | {"threshold_", "float_power_", "xlogy_"}
    return sorted((names & have) - set(INPLACE) - {"detach_", "to_", "clone_", "contiguous_"} -
                  {n.split("::", 1)[1] for n in RULES})


batch_rule(*_inplace_names())(_inplace)

for _names, _rule in (("special_softmax special_log_softmax", _dim_rule()),
                      ("special_logsumexp", _dim_rule(reduce_all=True))):
    batch_rule(*_names.split())(_rule)


# -- matrices: the ops that take leading batch dims -------------------------------------------------------

def _leading_batch(min_rank):
    """An op on the last dims of its one tensor argument that broadcasts over leading dims: the batch is one."""
    def rule(fn, args, kwargs, level):
        x = args[0]
        rest = list(args[1:]) + list(kwargs.values())
        if not _is_batched(x, level) or logical_rank(x, level) < min_rank or \
                any(isinstance(v, Tensor) for v in rest):
            return NotImplemented
        return wrap_all(fn(x._phys, *args[1:], **kwargs), level)
    return rule


batch_rule(*"""det logdet slogdet inverse pinverse matrix_exp matrix_power cholesky qr svd tril triu linalg_det
linalg_inv linalg_cholesky linalg_eigh linalg_eigvalsh linalg_qr linalg_svd linalg_svdvals linalg_slogdet
linalg_matrix_exp linalg_matrix_power linalg_pinv linalg_matrix_rank""".split())(_leading_batch(2))
batch_rule("linalg_vander")(_leading_batch(1))


@batch_rule("tril_", "triu_")
def _tri_inplace(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or logical_rank(x, level) < 2 or _any_batched(list(args[1:]), level):
        return NotImplemented
    fn(x._phys, *args[1:], **kwargs)
    return x


def _two_matrices(fn, args, kwargs, level, vector_b=False):
    """op(A-like, B-like, ...) on the last two dims of both, their leading dims broadcast (cholesky_solve,
    linalg.solve, solve_triangular): both padded to one logical rank. vector_b: B may be a vector (as
    linalg.solve decides it: 1-D, or A's shape without its last dim)."""
    a, b = args[0], args[1] if len(args) > 1 else None
    if b is None or not isinstance(a, Tensor) or not isinstance(b, Tensor) or \
            _any_batched(list(args[2:]) + list(kwargs.values()), level):
        return NotImplemented
    ra, rb = logical_rank(a, level), logical_rank(b, level)
    vector = vector_b and (rb == 1 or (rb == ra - 1 and tuple(b.shape) == tuple(a.shape)[:-1]))
    if vector:
        if not kwargs.get("left", True):
            return NotImplemented
        b_matrix = b._phys.unsqueeze(-1) if _is_batched(b, level) else b.unsqueeze(-1)
        rb += 1
    if ra < 2 or rb < 2:
        return NotImplemented
    rank = max(ra, rb)
    pa = _at_rank(a, level, rank)
    if vector:
        pb = _at_rank(_wrap(b_matrix, level), level, rank) if _is_batched(b, level) else \
            b_matrix.reshape((1,) * (rank + 1 - b_matrix.dim()) + tuple(b_matrix.shape))
    else:
        pb = _at_rank(b, level, rank)
    out = fn(pa, pb, *args[2:], **kwargs)
    return wrap_all(out.squeeze(-1) if vector else out, level)


batch_rule("cholesky_solve", "linalg_solve_triangular")(_two_matrices)


@batch_rule("linalg_solve")
def _solve(fn, args, kwargs, level):
    return _two_matrices(fn, args, kwargs, level, vector_b=True)


def _dims_rule(specs, extra_rank=0, min_rank=1):
    """An op of one tensor whose dim arguments (specs: (position, name, default)) name element dims; the
    output's dims when extra_rank (diag_embed's dims are its output's, one more than the input's)."""
    def rule(fn, args, kwargs, level):
        x = args[0]
        if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
            return NotImplemented
        rank = logical_rank(x, level)
        if rank < min_rank:
            return NotImplemented
        args, kwargs = list(args), dict(kwargs)
        for position, name, default in specs:
            shifted = _pdims(_get(args, kwargs, position, name, default), rank + extra_rank)
            if shifted is None:
                return NotImplemented
            _put(args, kwargs, position, name, shifted)
        args[0] = x._phys
        return wrap_all(fn(*args, **kwargs), level)
    return rule


batch_rule("diagonal")(_dims_rule([(2, "dim1", 0), (3, "dim2", 1)], min_rank=2))
batch_rule("linalg_diagonal")(_dims_rule([(99, "dim1", -2), (99, "dim2", -1)], min_rank=2))
batch_rule("diag_embed")(_dims_rule([(2, "dim1", -2), (3, "dim2", -1)], extra_rank=1))
batch_rule("linalg_matrix_norm")(_dims_rule([(2, "dim", (-2, -1))], min_rank=2))


@batch_rule("trace")
def _trace(fn, args, kwargs, level):
    x = args[0]
    if AUTOCAST or logical_rank(x, level) != 2:
        return NotImplemented
    return wrap_all(x._phys.diagonal(0, 1, 2).sum(-1), level)     # ember's trace: input.diagonal().sum()


@batch_rule("linalg_tensorinv")
def _tensorinv(fn, args, kwargs, level):
    from .linalg import inv
    a = args[0]
    ind = _get(args, kwargs, 1, "ind", 2)
    if AUTOCAST or not _is_batched(a, level) or kwargs.get("out") is not None or not isinstance(ind, int) or ind <= 0:
        return NotImplemented
    shape = tuple(a.shape)
    rows, cols = _numel(shape[:ind]), _numel(shape[ind:])
    if rows != cols:
        return NotImplemented
    p = a._phys
    out = _call("linalg_inv", inv, p.reshape(p.shape[0], rows, cols))
    return wrap_all(out.reshape((p.shape[0],) + shape[ind:] + shape[:ind]), level)


@batch_rule("linalg_tensorsolve")
def _tensorsolve(fn, args, kwargs, level):
    from .linalg import solve
    a, b = args[0], _get(args, kwargs, 1, "B")
    dims = _get(args, kwargs, 2, "dims")
    if AUTOCAST or kwargs.get("out") is not None or not isinstance(b, Tensor):
        return NotImplemented
    size = _size((a, b), level)
    ra = logical_rank(a, level)
    pa = whole_batch(a, level, size)
    pb = whole_batch(b, level, size)
    shape_a = tuple(a.shape)
    if dims is not None:
        moved = _pdims(list(dims), ra)
        if moved is None:
            return NotImplemented
        pa = pa.movedim(list(moved), list(range(ra + 1 - len(moved), ra + 1)))
        shape_a = tuple(pa.shape[1:])
    result_shape = shape_a[b.dim():]
    n, m = _numel(result_shape), _numel(tuple(b.shape))
    if n != m:
        return NotImplemented
    out = _call("linalg_solve", solve, pa.reshape(size, m, n), pb.reshape(size, m))
    return wrap_all(out.reshape((size,) + result_shape), level)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# -- products -------------------------------------------------------------------------------------------------

def _add_scaled(prod, input, beta, alpha, zero_beta_keeps_nan):
    """ember's addmm family: prod * alpha + input * beta on BatchedTensors (the elementwise rules batch it)."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0 and zero_beta_keeps_nan:
        return prod + input * 0
    return prod + (input * beta if beta != 1 else input)


def _mat(value, level):
    """A logical matrix's physical tensor for a broadcasting matmul (batched: (N, r, c); else (r, c))."""
    return value._phys if _is_batched(value, level) else value


@batch_rule("addmm", "addmv", "addr", "baddbmm", "addbmm")
def _addmm(fn, args, kwargs, level):
    name = fn.__name__
    input, m1, m2 = (list(args) + [kwargs.get(k) for k in ("input", "mat1", "mat2")[len(args):]])[:3]
    if AUTOCAST or any(not isinstance(v, Tensor) for v in (input, m1, m2)) or \
            set(kwargs) - {"beta", "alpha"} or m1.dtype is not m2.dtype:
        return NotImplemented
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    r1, r2 = logical_rank(m1, level), logical_rank(m2, level)
    s1, s2 = tuple(m1.shape), tuple(m2.shape)
    if name == "addmm" and (r1, r2) == (2, 2) and s1[1] == s2[0]:
        prod = _mat(m1, level) @ _mat(m2, level)
    elif name == "addmv" and (r1, r2) == (2, 1) and s1[1] == s2[0]:
        prod = (_mat(m1, level) @ _mat(m2, level).unsqueeze(-1)).squeeze(-1)
    elif name == "addr" and (r1, r2) == (1, 1):
        prod = _mat(m1, level).unsqueeze(-1) * _mat(m2, level).unsqueeze(-2)
    elif name in ("baddbmm", "addbmm") and (r1, r2) == (3, 3) and s1[0] == s2[0] and s1[2] == s2[1]:
        prod = _mat(m1, level) @ _mat(m2, level)
        if name == "addbmm":
            prod = prod.sum(-3)
    else:
        return NotImplemented
    batched = _is_batched(m1, level) or _is_batched(m2, level)
    prod = _wrap(prod, level) if batched else prod
    return _add_scaled(prod, input, beta, alpha, name == "addmm")


@batch_rule("addmm_")
def _addmm_(fn, args, kwargs, level):
    from .ops.products import addmm
    self = args[0]
    if not _is_batched(self, level):
        return NotImplemented
    out = _addmm(addmm, args, kwargs, level)
    if out is NotImplemented or tuple(out.shape) != tuple(self.shape) or out.dtype is not self.dtype:
        return NotImplemented
    self._phys.copy_(out._phys if _is_batched(out, level) else out)
    return self


def _chain(tensors, level):
    """The product of a chain of logical matrices (the first a row, the last a column if 1-D), left to right
    on the physical tensors; None when the shapes do not chain (the loop raises the op's error)."""
    if any(not isinstance(t, Tensor) for t in tensors) or len({t.dtype for t in tensors}) > 1:
        return None
    last = len(tensors) - 1
    mats, shapes = [], []
    for i, t in enumerate(tensors):
        r, p = logical_rank(t, level), _mat(t, level)
        if r == 1 and i in (0, last) and last:
            p = p.unsqueeze(-2) if i == 0 else p.unsqueeze(-1)
            shapes.append((1,) + tuple(t.shape) if i == 0 else tuple(t.shape) + (1,))
        elif r == 2:
            shapes.append(tuple(t.shape))
        else:
            return None
        mats.append(p)
    if any(shapes[i][1] != shapes[i + 1][0] for i in range(last)):
        return None
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out


@batch_rule("linalg_multi_dot")
def _multi_dot(fn, args, kwargs, level):
    tensors = list(_get(args, kwargs, 0, "tensors", ()))
    if AUTOCAST or len(tensors) < 2 or kwargs.get("out") is not None:
        return NotImplemented
    out = _chain(tensors, level)
    if out is None:
        return NotImplemented
    if logical_rank(tensors[-1], level) == 1:
        out = out.squeeze(-1)
    if logical_rank(tensors[0], level) == 1:
        out = out.squeeze(-2 if logical_rank(tensors[-1], level) == 2 else -1)
    return wrap_all(out, level)


@batch_rule("chain_matmul")
def _chain_matmul(fn, args, kwargs, level):
    if AUTOCAST or kwargs or any(not isinstance(t, Tensor) or logical_rank(t, level) != 2 for t in args):
        return NotImplemented
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
                  "parameters.", UserWarning, stacklevel=4)
    if len(args) == 1:
        return wrap_all(args[0]._phys.clone(), level)
    out = _chain(list(args), level)
    return NotImplemented if out is None else wrap_all(out, level)


_prior_inner = RULES.get("aten::inner")


@batch_rule("inner")
def _inner(fn, args, kwargs, level):
    from .ops.contractions import tensordot
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if kwargs or not isinstance(a, Tensor) or not isinstance(b, Tensor):
        return NotImplemented
    ra, rb = logical_rank(a, level), logical_rank(b, level)
    if ra == 1 and rb == 1 and _prior_inner is not None:
        return _prior_inner(fn, args, kwargs, level)
    if ra == 0 or rb == 0:
        return a * b                                    # ember's inner of a 0-d operand
    if a.shape[-1] != b.shape[-1]:
        return NotImplemented
    return _call("tensordot", tensordot, a, b, ([-1], [-1]))


def _tensordot_dims(dims, ra, rb):
    """tensordot's dims as two lists of non-negative element dims; None when not understood or invalid."""
    if isinstance(dims, bool):
        return None
    if isinstance(dims, int):
        if dims < 0 or dims > min(ra, rb):
            return None
        return list(range(ra - dims, ra)), list(range(dims))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        return None
    da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    if len(da) != len(db) or any(isinstance(d, bool) or not isinstance(d, int) for d in da + db):
        return None
    if any(not -ra <= d < ra for d in da) or any(not -rb <= d < rb for d in db):
        return None
    da, db = [d % ra for d in da], [d % rb for d in db]
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        return None
    return da, db


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"


@batch_rule("tensordot")
def _tensordot(fn, args, kwargs, level):
    from .ops.contractions import einsum
    a, b = args[0], args[1]
    dims = _get(args, kwargs, 2, "dims", 2)
    if set(kwargs) - {"dims"} or not isinstance(a, Tensor) or not isinstance(b, Tensor):
        return NotImplemented
    ra, rb = logical_rank(a, level), logical_rank(b, level)
    parsed = _tensordot_dims(dims, ra, rb)
    if parsed is None or ra + rb > len(_LETTERS):
        return NotImplemented
    da, db = parsed
    if any(a.shape[i] != b.shape[j] for i, j in zip(da, db)):
        return NotImplemented
    free_a = ra - len(da)
    if not _is_batched(b, level):
        return wrap_all(fn(a._phys, b, ([d + 1 for d in da], db)), level)
    if not _is_batched(a, level):
        out = fn(a, b._phys, (da, [d + 1 for d in db]))
        return wrap_all(out.movedim(free_a, 0), level)
    if a.dtype is not b.dtype:
        return NotImplemented
    spec_a = _LETTERS[:ra]
    spec_b = [_LETTERS[ra + j] for j in range(rb)]
    for i, j in zip(da, db):
        spec_b[j] = spec_a[i]
    spec_b = "".join(spec_b)
    out = "".join(c for i, c in enumerate(spec_a) if i not in da) + \
        "".join(c for j, c in enumerate(spec_b) if j not in db)
    return wrap_all(_call("einsum", einsum, f"Z{spec_a},Z{spec_b}->Z{out}", a._phys, b._phys), level)


_prior_einsum = RULES.get("aten::einsum")


@batch_rule("einsum")
def _einsum(fn, args, kwargs, level):
    """The equations _vmap_rules' einsum rule leaves (implicit output, '...'): made explicit, a free label
    in front of each batched operand's subscripts and the output's."""
    equation = args[0] if args else None
    operands = list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    if not isinstance(equation, str) or kwargs:
        return NotImplemented
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    if arrow and "..." not in equation and _prior_einsum is not None:
        return _prior_einsum(fn, args, kwargs, level)
    specs = inputs.split(",")
    if len(specs) != len(operands) or any(not isinstance(o, Tensor) for o in operands):
        return NotImplemented
    labels = [c for c in inputs if c.isalpha()]
    if not arrow:                               # implicit: the labels seen once, in alphabetical order
        output = ("..." if "..." in inputs else "") + "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    free = next((c for c in _LETTERS + "Z" if c not in equation), None)
    if free is None:
        return NotImplemented
    new_specs = [free + s if _is_batched(o, level) else s for s, o in zip(specs, operands)]
    physical = [o._phys if _is_batched(o, level) else o for o in operands]
    return wrap_all(fn(",".join(new_specs) + "->" + free + output, *physical), level)


@batch_rule("kron")
def _kron(fn, args, kwargs, level):
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if set(kwargs) - {"other"} or not isinstance(a, Tensor) or not isinstance(b, Tensor):
        return NotImplemented
    nd = max(logical_rank(a, level), logical_rank(b, level))
    pa, pb = _at_rank(a, level, nd), _at_rank(b, level, nd)
    if not (_is_batched(a, level) and _is_batched(b, level)):
        # a (N, ...) with b (1, ...) (or the other way round): kron's first dim is N * 1, element i a[i] x b
        return wrap_all(fn(pa, pb), level)
    size = pa.shape[0]
    sa, sb = tuple(pa.shape[1:]), tuple(pb.shape[1:])
    ones = (1,) * nd
    prod = pa.reshape((size,) + _interleave(sa, ones)) * pb.reshape((size,) + _interleave(ones, sb))
    return wrap_all(prod.reshape((size,) + tuple(m * n for m, n in zip(sa, sb))), level)


def _interleave(first, second):
    return tuple(n for pair in zip(first, second) for n in pair)


@batch_rule("cross", "linalg_cross")
def _cross(fn, args, kwargs, level):
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or set(kwargs) - {"other", "dim"}:
        return NotImplemented
    rank = logical_rank(a, level)
    if logical_rank(b, level) != rank:
        return NotImplemented
    linalg = fn.__name__ == "linalg_cross"
    dim = _get(args, kwargs, 99 if linalg else 2, "dim", -1 if linalg else None)
    if dim is None:                             # torch.cross: the first dim of size 3 (deprecated)
        dim = next((d for d, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            return NotImplemented
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=4)
    shifted = _pdim(dim, rank)
    if shifted is None:
        return NotImplemented
    pa, pb = _at_rank(a, level, rank), _at_rank(b, level, rank)
    return wrap_all(fn(pa, pb, dim=shifted), level)


@batch_rule("linalg_vecdot")
def _vecdot(fn, args, kwargs, level):
    x, y = args[0], args[1] if len(args) > 1 else kwargs.get("y")
    if not isinstance(x, Tensor) or not isinstance(y, Tensor) or set(kwargs) - {"y", "dim"}:
        return NotImplemented
    rank = max(logical_rank(x, level), logical_rank(y, level))
    dim = _pdim(kwargs.get("dim", -1), rank)
    if dim is None:
        return NotImplemented
    return wrap_all(fn(_pad(x, level, rank), _pad(y, level, rank), dim=dim), level)


# -- reductions -----------------------------------------------------------------------------------------------

def _flat(x):
    """The physical tensor with each element flattened to one dim: (N, numel)."""
    p = x._phys
    return p.reshape(p.shape[0], -1)


def _over_dims(fn, args, kwargs, level, position, shifted):
    """fn of the batched first argument's physical tensor, reducing over `shifted` (the physical dims, put as the
    dim argument at `position`); NotImplemented when the element's dims did not map (shifted None)."""
    if shifted is None:
        return NotImplemented
    _put(args, kwargs, position, "dim", shifted)
    args[0] = args[0]._phys
    return wrap_all(fn(*args, **kwargs), level)


@batch_rule("linalg_vector_norm")
def _vector_norm(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    rank = logical_rank(x, level)
    args, kwargs = list(args), dict(kwargs)
    dim = _get(args, kwargs, 2, "dim")
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        if rank == 0:                           # a 0-d element: the norm of its one value (keepdim: still 0-d)
            args[0] = x._phys.reshape(-1, 1)
            _put(args, kwargs, 2, "dim", 1)
            _put(args, kwargs, 3, "keepdim", False)
            return wrap_all(fn(*args, **kwargs), level)
        shifted = tuple(range(1, rank + 1))
    else:
        shifted = _pdims(dim, rank)
    return _over_dims(fn, args, kwargs, level, 2, shifted)


@batch_rule("linalg_norm")
def _linalg_norm(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    rank = logical_rank(x, level)
    args, kwargs = list(args), dict(kwargs)
    ord, dim = _get(args, kwargs, 1, "ord"), _get(args, kwargs, 2, "dim")
    keepdim = _get(args, kwargs, 3, "keepdim", False)
    if dim is None:
        if ord is None:                         # the 2-norm of the flattened element
            _put(args, kwargs, 2, "dim", 1)
            _put(args, kwargs, 3, "keepdim", False)
            args[0] = _flat(x)
            out = fn(*args, **kwargs)
            return wrap_all(out.reshape((out.shape[0],) + (1,) * rank) if keepdim else out, level)
        if rank not in (1, 2):
            return NotImplemented
        shifted = 1 if rank == 1 else (1, 2)
    else:
        shifted = _pdims(dim, rank)
    return _over_dims(fn, args, kwargs, level, 2, shifted)


@batch_rule("aminmax")
def _aminmax(fn, args, kwargs, level):
    x = args[0]
    if len(args) > 1 or set(kwargs) - {"dim", "keepdim"}:
        return NotImplemented
    dim, keepdim = kwargs.get("dim"), kwargs.get("keepdim", False)
    if dim is None:
        if keepdim or x.numel() == 0:
            return NotImplemented
        return wrap_all(fn(_flat(x), dim=1), level)
    rank = logical_rank(x, level)
    if rank == 0:
        if dim not in (0, -1):
            return NotImplemented
        return wrap_all(fn(x._phys.unsqueeze(1), dim=1), level)
    shifted = _pdim(dim, rank)
    if shifted is None:
        return NotImplemented
    return wrap_all(fn(x._phys, dim=shifted, keepdim=keepdim), level)


def _median_rule(prior):
    def rule(fn, args, kwargs, level):
        x = args[0]
        if len(args) > 1 or kwargs:
            return prior(fn, args, kwargs, level) if prior is not None else NotImplemented
        if not _is_batched(x, level) or x.numel() == 0:
            return NotImplemented
        # the median of the whole element: the (lower) median along its flattened values
        return wrap_all(fn(_flat(x), 1).values, level)
    return rule


for _name in ("median", "nanmedian"):
    batch_rule(_name)(_median_rule(RULES.get("aten::" + _name)))


@batch_rule("std_mean", "var_mean")
def _std_mean(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    args, kwargs = list(args), dict(kwargs)
    dim = _get(args, kwargs, 1, "dim")
    if isinstance(dim, bool):                   # std_mean(x, unbiased)
        if "dim" in kwargs or len(args) > 2:
            return NotImplemented
        args[1:2] = [None, dim]
        dim = None
    rank = logical_rank(x, level)
    if rank == 0:
        return NotImplemented
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        shifted = tuple(range(1, rank + 1))
    else:
        shifted = _pdims(dim, rank)
    return _over_dims(fn, args, kwargs, level, 1, shifted)


@batch_rule("quantile", "nanquantile")
def _quantile(fn, args, kwargs, level):
    x = args[0]
    q = _get(args, kwargs, 1, "q")
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level) or \
            x.numel() == 0:
        return NotImplemented
    rank = logical_rank(x, level)
    dim, keepdim = _get(args, kwargs, 2, "dim"), _get(args, kwargs, 3, "keepdim", False)
    interpolation = kwargs.get("interpolation", "linear")
    q_many = isinstance(q, Tensor) and q.dim() == 1
    if dim is None:
        out = fn(_flat(x), q, 1, False, interpolation=interpolation)
        if q_many:
            out = out.movedim(0, 1)
        if keepdim:
            out = out.reshape(tuple(out.shape) + (1,) * rank)
    else:
        if rank == 0:
            return NotImplemented
        shifted = _pdim(dim, rank)
        if shifted is None:
            return NotImplemented
        out = fn(x._phys, q, shifted, keepdim, interpolation=interpolation)
        if q_many:
            out = out.movedim(0, 1)
    return wrap_all(out, level)


@batch_rule("trapezoid", "trapz", "cumulative_trapezoid")
def _trapezoid(fn, args, kwargs, level):
    y, x = args[0], _get(args, kwargs, 1, "x")
    if not _is_batched(y, level) or len(args) > 2 or set(kwargs) - {"x", "dx", "dim"} or \
            _is_batched(kwargs.get("dx"), level):
        return NotImplemented
    rank = logical_rank(y, level)
    dim = _pdim(kwargs.get("dim", -1), rank)
    if dim is None:
        return NotImplemented
    if _is_batched(x, level):
        rx = logical_rank(x, level)
        if rx == 1:                             # x along dim (ember's trapezoid reshapes a 1-D x so)
            if x.shape[0] != y.shape[dim - 1]:
                return NotImplemented
            px = x._phys.reshape([x._phys.shape[0]] + [-1 if d == dim else 1 for d in range(1, rank + 1)])
        elif rx > rank:
            return NotImplemented
        else:
            px = _pad(x, level, rank)
    else:
        px = x
    kwargs = dict(kwargs, dim=dim)
    kwargs.pop("x", None)
    out = fn(y._phys, px, **kwargs) if px is not None else fn(y._phys, **kwargs)
    return wrap_all(out, level)


@batch_rule("diff")
def _diff(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or set(kwargs) - {"n", "dim", "prepend", "append"}:
        return NotImplemented
    n, dim = _get(args, kwargs, 1, "n", 1), _get(args, kwargs, 2, "dim", -1)
    prepend, append = _get(args, kwargs, 3, "prepend"), _get(args, kwargs, 4, "append")
    rank = logical_rank(x, level)
    shifted = _pdim(dim, rank)
    if shifted is None or not isinstance(n, int):
        return NotImplemented
    size = x._phys.shape[0]
    extra = []
    for t in (prepend, append):
        if t is None:
            extra.append(None)
            continue
        if not isinstance(t, Tensor) or logical_rank(t, level) != rank:
            return NotImplemented
        extra.append(whole_batch(t, level, size))
    return wrap_all(fn(x._phys, n, shifted, extra[0], extra[1]), level)


@batch_rule("dist")
def _dist(fn, args, kwargs, level):
    from . import _dtype as _dt
    from .linalg import vector_norm
    a, b = args[0], _get(args, kwargs, 1, "other")
    p = _get(args, kwargs, 2, "p", 2)
    if AUTOCAST or not isinstance(a, Tensor) or not isinstance(b, Tensor) or set(kwargs) - {"other", "p"} or \
            isinstance(p, Tensor) or not _broadcastable(a.shape, b.shape):
        return NotImplemented
    dtype = _dt.result_type(a, b)
    if dtype.category < _dt.FLOAT:
        return NotImplemented
    rank = max(logical_rank(a, level), logical_rank(b, level))
    diff = _pad(a, level, rank).to(dtype) - _pad(b, level, rank).to(dtype)
    # the p-norm of each element's differences (dist: the p-norm of input - other flattened)
    return wrap_all(_call("linalg_vector_norm", vector_norm, diff.reshape(diff.shape[0], -1), float(p), 1), level)


def _cov(x, level, correction):
    """ember's cov of each element without weights, on the physical tensor (N, variables, observations)."""
    from . import _dtype as _dt
    p = x._phys
    p = p.reshape(p.shape[0], 1, -1) if p.dim() < 3 else p
    n = p.shape[2]
    if p.dtype.category < _dt.FLOAT:
        p = p.to(_dt.get_default_dtype())
    norm = n - correction
    if norm <= 0:
        return None
    centered = p - p.mean(2, keepdim=True)
    c = (centered @ centered.mT.conj()) / norm
    return c.reshape(c.shape[0]) if c.shape[1] == 1 else c        # the element's squeeze()


@batch_rule("cov")
def _cov_rule(fn, args, kwargs, level):
    x = args[0]
    correction = kwargs.get("correction", 1)
    if AUTOCAST or len(args) > 1 or set(kwargs) - {"correction", "fweights", "aweights"} or \
            kwargs.get("fweights") is not None or kwargs.get("aweights") is not None or \
            not _is_batched(x, level) or logical_rank(x, level) > 2 or isinstance(correction, Tensor):
        return NotImplemented
    c = _cov(x, level, correction)
    return NotImplemented if c is None else wrap_all(c, level)


@batch_rule("corrcoef")
def _corrcoef(fn, args, kwargs, level):
    x = args[0]
    if AUTOCAST or len(args) > 1 or kwargs or not _is_batched(x, level) or logical_rank(x, level) > 2:
        return NotImplemented
    c = _cov(x, level, 1)
    if c is None:
        return NotImplemented
    if c.dim() == 1:
        return wrap_all(c / c, level)
    std = c.diagonal(0, 1, 2).real.sqrt()
    c = c / std.unsqueeze(2) / std.unsqueeze(1)
    return wrap_all(c if c.is_complex() else c.clamp(-1, 1), level)


@batch_rule("renorm")
def _renorm(fn, args, kwargs, level):
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level) or \
            len(args) + len(kwargs) != 4:
        return NotImplemented
    p, dim, maxnorm = [_get(args, kwargs, i, n) for i, n in ((1, "p"), (2, "dim"), (3, "maxnorm"))]
    rank = logical_rank(x, level)
    shifted = _pdim(dim, rank)
    if rank < 2 or shifted is None:
        return NotImplemented
    # each slice along dim of each element: the slices of the batch merged into the dim
    ph = x._phys.movedim(shifted, 1)
    merged = ph.reshape((ph.shape[0] * ph.shape[1],) + tuple(ph.shape[2:]))
    out = fn(merged, p, 0, maxnorm)
    return wrap_all(out.reshape(ph.shape).movedim(1, shifted), level)


@batch_rule("renorm_")
def _renorm_(fn, args, kwargs, level):
    from .ops.norms import renorm
    x = args[0]
    out = _renorm(renorm, args, kwargs, level)
    if out is NotImplemented:
        return out
    x._phys.copy_(out._phys)
    return x


@batch_rule("vander")
def _vander(fn, args, kwargs, level):
    from .ops.joining import cat
    from .ops.scan import cumprod
    from . import _dtype as _dt
    x = args[0]
    n, increasing = _get(args, kwargs, 1, "N"), _get(args, kwargs, 2, "increasing", False)
    if AUTOCAST or not _is_batched(x, level) or logical_rank(x, level) != 1 or set(kwargs) - {"N", "increasing"}:
        return NotImplemented
    p = x._phys
    n = p.shape[1] if n is None else n
    if not isinstance(n, int) or n < 0:
        return NotImplemented
    if p.dtype.category < _dt.FLOAT:
        p = p.to(_dt.int64)                     # as ember's vander: integer and bool give int64 powers
    if n == 0:
        return wrap_all(p.new_empty((p.shape[0], p.shape[1], 0)), level)
    ones = p.new_ones((p.shape[0], p.shape[1], 1))
    powers = cumprod(cat([ones, p.unsqueeze(2).expand(-1, -1, n - 1)], 2), 2)
    return wrap_all(powers if increasing else powers.flip(2), level)
