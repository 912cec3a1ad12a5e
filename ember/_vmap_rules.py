"""Batching rules for vmap (Note [vmap] in ember/_vmap.py): each runs one op on the physical tensors (batch at
dim 0) and wraps the result. A rule may return NotImplemented to leave a case to the per-element loop."""
from ._tensor import Tensor
from ._vmap import _is_batched, batch_rule, current_randomness, logical_rank, whole_batch, wrap_all


def _pad(value, level, rank):
    """A batched value's physical tensor with size-1 dims after the batch, so its element has `rank` dims
    (broadcasting then lines elements up with unbatched operands); anything else as it is."""
    if not _is_batched(value, level):
        return value
    p = value._phys
    missing = rank - (p.dim() - 1)
    if missing > 0:
        p = p.reshape((p.shape[0],) + (1,) * missing + tuple(p.shape[1:]))
    return p


def _get(args, kwargs, position, name, default=None):
    """An op's argument given by keyword `name` or at `position`, else `default`."""
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else default


def _any_batched(values, level):
    """Whether a value (or a value in a list or tuple among them) is batched at `level`."""
    return any(_is_batched(v, level) or (isinstance(v, (list, tuple)) and _any_batched(v, level)) for v in values)


def _element_dim(dim, rank):
    """An element's dim as the physical one; None when it is not a dim of a rank-`rank` element (the rule then
    leaves the call to the per-element loop, which raises the op's own error)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or not -rank <= dim < rank:
        return None
    return dim % rank + 1


def _element_dims(dims, rank):
    """An int or a sequence of dims, as the physical ones (a tuple); None if any is not a dim."""
    if isinstance(dims, (list, tuple)):
        out = [_element_dim(d, rank) for d in dims]
        return None if None in out else tuple(out)
    return _element_dim(dims, rank)


def _refuse_inplace():
    """PyTorch's error for an in-place op whose self is not batched while an operand is."""
    raise RuntimeError("vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a "
                       "Tensor `other` in extra_args that has more elements than `self`. This happened due to "
                       "`other` being vmapped over but `self` not being vmapped over in a vmap. Please try to "
                       "use out-of-place operators instead of inplace arithmetic.")


def _tensors(args, kwargs):
    return [v for v in list(args) + list(kwargs.values()) if isinstance(v, Tensor)]


# -- elementwise ---------------------------------------------------------------------------------------------

ELEMENTWISE = """add sub subtract rsub mul multiply div divide true_divide floor_divide remainder fmod pow
float_power maximum minimum fmax fmin atan2 arctan2 hypot copysign logaddexp logaddexp2 xlogy eq ne lt le gt ge
equal_elementwise greater greater_equal less less_equal not_equal logical_and logical_or logical_xor bitwise_and
bitwise_or bitwise_xor __and__ __or__ __xor__ where lerp addcmul addcdiv clamp clip clamp_min clamp_max
masked_fill abs absolute neg negative positive exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square sin cos tan
asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh sigmoid logit erf
erfc erfinv lgamma digamma reciprocal sign sgn signbit floor ceil round trunc fix frac isnan isinf isfinite
isposinf isneginf nan_to_num logical_not bitwise_not relu relu6 leaky_relu elu selu celu gelu silu mish
softplus softsign hardtanh hardsigmoid hardswish hardshrink softshrink tanhshrink threshold logsigmoid
rrelu_eval clone contiguous detach to type_as float double half bfloat16 long int short char byte bool cfloat
cdouble conj real imag angle zeros_like ones_like empty_like full_like sinc deg2rad rad2deg heaviside
nextafter i0 polygamma mvlgamma xlog1py special_expit special_erfcx""".split()


@batch_rule(*ELEMENTWISE)
def _elementwise(fn, args, kwargs, level):
    rank = max([logical_rank(v, level) for v in _tensors(args, kwargs)] or [0])
    out = fn(*[_pad(a, level, rank) for a in args], **{k: _pad(v, level, rank) for k, v in kwargs.items()})
    return wrap_all(out, level)


INPLACE = """add_ sub_ mul_ div_ pow_ clamp_ clamp_min_ clamp_max_ masked_fill_ relu_ sigmoid_ tanh_ exp_ neg_
abs_ sqrt_ copy_ fill_ zero_ lerp_ addcmul_ addcdiv_ floor_divide_ remainder_ fmod_ __iadd__ __isub__ __imul__
__itruediv__""".split()


@batch_rule(*INPLACE, "index_put_")
def _inplace(fn, args, kwargs, level):
    if fn.__name__ == "__setitem__":
        return _setitem(fn, args, kwargs, level)
    if fn.__name__ == "index_put_":
        return NotImplemented
    self = args[0]
    if not _is_batched(self, level):
        _refuse_inplace()
    rank = self._phys.dim() - 1
    rest = [_pad(a, level, rank) for a in args[1:]]
    fn(self._phys, *rest, **{k: _pad(v, level, rank) for k, v in kwargs.items()})
    return self


# -- dims: reductions, scans, softmax -----------------------------------------------------------------------

def _shift(dim, rank):
    """A dim (or dims) of the element, as the physical tensor's."""
    if isinstance(dim, (list, tuple)):
        return type(dim)(_shift(d, rank) for d in dim)
    if not isinstance(dim, int):
        return dim
    bound = max(rank, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], but got "
                         f"{dim})")
    return (dim % rank if rank else 0) + 1


def _with_dim(fn, args, kwargs, level, position, name="dim", reduce_all=False, default=None):
    """The op with its dim argument (at `position` or by `name`) moved past the batch dim. Not given: the op's
    default `default` (-1 needs no change), or, for reductions over everything (reduce_all), every dim of the
    element."""
    x = args[0]
    if not _is_batched(x, level) or any(_is_batched(v, level) for v in list(args[1:]) + list(kwargs.values())):
        return NotImplemented
    rank = x._phys.dim() - 1
    args = list(args)
    every = tuple(range(1, rank + 1))
    if name in kwargs:
        dim, where = kwargs[name], name
    elif len(args) > position:
        dim, where = args[position], position
    else:
        dim, where = default, None
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        if not reduce_all or rank == 0:
            return NotImplemented
        if fn.__name__ in ("prod", "argmax", "argmin"):      # one dim only: over the flattened element
            keepdim = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
            if keepdim:
                return NotImplemented
            flat = x._phys.reshape(x._phys.shape[0], -1)
            rest = {k: v for k, v in kwargs.items() if k not in (name, "keepdim")}
            return wrap_all(fn(flat, 1, **rest), level)
        shifted = every
    elif dim == -1 and where is None:
        shifted = None                                      # the last dim is the last dim
    else:
        shifted = _shift(dim, rank)
    args[0] = x._phys
    if where is None:
        if shifted is not None:
            kwargs = dict(kwargs)
            kwargs[name] = shifted
    elif isinstance(where, str):
        kwargs = dict(kwargs)
        kwargs[name] = shifted
    else:
        args[where] = shifted
    return wrap_all(fn(*args, **kwargs), level)


def _dim_rule(position=1, name="dim", reduce_all=False, default=None):
    return lambda fn, args, kwargs, level: _with_dim(fn, args, kwargs, level, position, name, reduce_all, default)


for _names, _rule in (
        ("sum mean nansum nanmean prod amax amin logsumexp all any std var count_nonzero argmax argmin",
         _dim_rule(reduce_all=True)),
        ("cumsum cumprod cummax cummin logcumsumexp median nanmedian squeeze", _dim_rule()),
        ("softmax log_softmax softmin", _dim_rule()),
        ("sort argsort mode glu", _dim_rule(default=-1)),
        ("unbind", _dim_rule(default=0)),
        ("norm", _dim_rule(2, "dim", reduce_all=True)),
        ("topk kthvalue", _dim_rule(2, default=-1)), ("split split_with_sizes chunk", _dim_rule(2, default=0)),
        ("narrow select", _dim_rule()), ("flip", _dim_rule(1, "dims")), ("roll", _dim_rule(2, "dims")),
        ("normalize", _dim_rule(2, default=1))):
    batch_rule(*_names.split())(_rule)


@batch_rule("msort")
def _msort(fn, args, kwargs, level):
    x = args[0]
    if x._phys.dim() < 2:
        return NotImplemented
    return wrap_all(x._phys.sort(1)[0], level)


@batch_rule("max", "min")
def _max(fn, args, kwargs, level):
    x = args[0]
    other = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("dim"))
    if isinstance(other, Tensor):                       # max(a, b): elementwise
        return _elementwise(fn, args, kwargs, level)
    if not _is_batched(x, level):
        return NotImplemented
    if len(args) == 1 and "dim" not in kwargs:          # over the whole element
        p = x._phys
        flat = p.reshape(p.shape[0], -1)
        return wrap_all(flat.amax(1) if fn.__name__ == "max" else flat.amin(1), level)
    return _with_dim(fn, args, kwargs, level, 1)


@batch_rule("index_select", "gather")
def _index_along(fn, args, kwargs, level):
    x, dim, index = args[0], args[1], args[2] if len(args) > 2 else kwargs.get("index")
    if _is_batched(index, level) or not _is_batched(x, level):
        if fn.__name__ == "gather" and _is_batched(index, level):
            rank = max(logical_rank(x, level), logical_rank(index, level))
            xp = whole_batch(x, level, index._phys.shape[0])
            return wrap_all(fn(xp, _shift(dim, rank), index._phys), level)
        return NotImplemented
    if fn.__name__ == "gather":
        if index.dim() != x._phys.dim() - 1:
            return NotImplemented
        return wrap_all(fn(x._phys, _shift(dim, x._phys.dim() - 1), whole_batch(index, level, x._phys.shape[0])),
                        level)
    return wrap_all(fn(x._phys, _shift(dim, x._phys.dim() - 1), index), level)


@batch_rule("unsqueeze")
def _unsqueeze(fn, args, kwargs, level):
    x = args[0]
    dim = args[1] if len(args) > 1 else kwargs["dim"]
    rank = x._phys.dim() - 1
    return wrap_all(fn(x._phys, (dim % (rank + 1)) + 1), level)


@batch_rule("transpose", "swapaxes", "swapdims")
def _transpose(fn, args, kwargs, level):
    x = args[0]
    rank = x._phys.dim() - 1
    return wrap_all(fn(x._phys, _shift(args[1], rank), _shift(args[2], rank)), level)


@batch_rule("t")
def _t(fn, args, kwargs, level):
    x = args[0]
    rank = x._phys.dim() - 1
    return wrap_all(x._phys.transpose(1, 2) if rank == 2 else x._phys, level)


@batch_rule("permute")
def _permute(fn, args, kwargs, level):
    x = args[0]
    dims = args[1:] if len(args) > 1 else (kwargs.get("dims"),)
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    rank = x._phys.dim() - 1
    return wrap_all(x._phys.permute(0, *[_shift(d, rank) for d in dims]), level)


@batch_rule("movedim", "moveaxis")
def _movedim(fn, args, kwargs, level):
    x = args[0]
    rank = x._phys.dim() - 1
    return wrap_all(fn(x._phys, _shift(args[1], rank), _shift(args[2], rank)), level)


def _sizes(args, start=1, kwargs=None, names=("size", "shape", "sizes")):
    rest = args[start:]
    if not rest and kwargs:
        for n in names:
            if n in kwargs:
                rest = (kwargs[n],)
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
        rest = rest[0]
    return tuple(rest)


@batch_rule("view", "reshape")
def _reshape(fn, args, kwargs, level):
    x = args[0]
    shape = _sizes(args, 1, kwargs)
    if len(shape) == 1 and not isinstance(shape[0], int):           # view(dtype)
        return NotImplemented
    return wrap_all(x._phys.reshape((x._phys.shape[0],) + shape), level)


@batch_rule("view_as", "reshape_as")
def _reshape_as(fn, args, kwargs, level):
    x, other = args[0], args[1]
    if not _is_batched(x, level):
        return NotImplemented
    return wrap_all(x._phys.reshape((x._phys.shape[0],) + tuple(other.shape)), level)


@batch_rule("flatten")
def _flatten(fn, args, kwargs, level):
    x = args[0]
    rank = x._phys.dim() - 1
    if rank == 0:
        return wrap_all(x._phys.reshape(-1, 1), level)
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    return wrap_all(x._phys.flatten(_shift(start, rank), _shift(end, rank)), level)


@batch_rule("expand", "broadcast_to")
def _expand(fn, args, kwargs, level):
    x = args[0]
    sizes = _sizes(args, 1, kwargs)
    p = _pad(x, level, len(sizes))
    return wrap_all(p.expand(p.shape[0], *sizes), level)


@batch_rule("expand_as")
def _expand_as(fn, args, kwargs, level):
    x, other = args
    if not _is_batched(x, level) or _is_batched(other, level):
        return NotImplemented
    sizes = tuple(other.shape)
    p = _pad(x, level, len(sizes))
    return wrap_all(p.expand(p.shape[0], *sizes), level)


@batch_rule("repeat")
def _repeat(fn, args, kwargs, level):
    x = args[0]
    reps = _sizes(args, 1, kwargs, ("repeats",))
    p = _pad(x, level, len(reps))
    return wrap_all(p.repeat(1, *reps), level)


@batch_rule("cat", "concat", "concatenate", "stack", "hstack", "vstack")
def _cat(fn, args, kwargs, level):
    tensors = args[0] if args else kwargs["tensors"]
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    name = fn.__name__
    if name in ("hstack", "vstack"):
        return NotImplemented
    rank = max(logical_rank(t, level) for t in tensors)
    size = next(t._phys.shape[0] for t in tensors if _is_batched(t, level))
    physical = [whole_batch(t, level, size) for t in tensors]
    out_rank = rank + 1 if name == "stack" else rank
    return wrap_all(fn(physical, (dim % out_rank if out_rank else 0) + 1), level)


@batch_rule("slice", "select", "index")
def _getitem(fn, args, kwargs, level):
    if fn.__name__ != "__getitem__":
        return NotImplemented
    x, index = args
    parts = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(p, Tensor) and _is_batched(p, level) for p in parts) or not _is_batched(x, level):
        return NotImplemented
    if any(isinstance(p, (Tensor, list)) for p in parts):
        # one advanced index among full slices keeps numpy's placement after the batch dim is prepended only
        # when the advanced indices are adjacent; otherwise go element by element
        advanced = [i for i, p in enumerate(parts) if isinstance(p, (Tensor, list))]
        if advanced != list(range(advanced[0], advanced[-1] + 1)):
            return NotImplemented
    return wrap_all(x._phys[(slice(None),) + tuple(parts)], level)


def _setitem(fn, args, kwargs, level):
    """x[index] = value with x batched: the same write into the physical tensor, the batch dim kept."""
    x, index, value = args
    if not _is_batched(x, level):
        _refuse_inplace()
    parts = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(p, Tensor) and _is_batched(p, level) for p in parts):
        return NotImplemented
    advanced = [i for i, p in enumerate(parts) if isinstance(p, (Tensor, list))]
    if advanced and advanced != list(range(advanced[0], advanced[-1] + 1)):
        return NotImplemented
    physical_index = (slice(None),) + tuple(parts)
    if _is_batched(value, level):
        region = x._phys[physical_index]
        value = _pad(value, level, region.dim() - 1)
    x._phys[physical_index] = value
    return None


# -- products -------------------------------------------------------------------------------------------------

@batch_rule("matmul", "__matmul__", "mm", "bmm", "mv")
def _matmul(fn, args, kwargs, level):
    a, b = args[0], args[1]
    if getattr(fn, "__name__", "") == "__rmatmul__":
        a, b = b, a
    ra, rb = logical_rank(a, level), logical_rank(b, level)
    if ra == 0 or rb == 0:
        return NotImplemented
    a_vector, b_vector = ra == 1, rb == 1

    def as_matrix(value, vector, axis):
        """The operand as a (batch of) matrix: a vector gains a dim (row for the left, column for the right)."""
        if _is_batched(value, level):
            return _wrap_phys(value._phys.unsqueeze(axis) if vector else value._phys)
        return value.unsqueeze(axis) if vector else value
    left, right = as_matrix(a, a_vector, -2), as_matrix(b, b_vector, -1)
    rank = max(_rank(left), _rank(right))
    pl = _pad_phys(left, rank)
    pr = _pad_phys(right, rank)
    out = pl @ pr
    if a_vector:
        out = out.squeeze(-2)
    if b_vector:
        out = out.squeeze(-1)
    return wrap_all(out, level)


class _wrap_phys:
    """A physical tensor (batch at dim 0) inside the matmul rule."""
    __slots__ = ("p",)

    def __init__(self, p):
        self.p = p


def _rank(value):
    return value.p.dim() - 1 if isinstance(value, _wrap_phys) else value.dim()


def _pad_phys(value, rank):
    if not isinstance(value, _wrap_phys):
        return value
    p = value.p
    missing = rank - (p.dim() - 1)
    return p.reshape((p.shape[0],) + (1,) * missing + tuple(p.shape[1:])) if missing > 0 else p


@batch_rule("dot", "inner", "vdot")
def _dot(fn, args, kwargs, level):
    a, b = args[0], args[1]
    if logical_rank(a, level) != 1 or logical_rank(b, level) != 1:
        return NotImplemented
    pa, pb = _pad(a, level, 1), _pad(b, level, 1)
    prod = pa * pb if fn.__name__ != "vdot" else pa.conj() * pb
    return wrap_all(prod.sum(-1), level)


@batch_rule("outer", "ger")
def _outer(fn, args, kwargs, level):
    a, b = args[0], args[1]
    return wrap_all(_pad(a, level, 1).unsqueeze(-1) * _pad(b, level, 1).unsqueeze(-2), level)


@batch_rule("linear")
def _linear(fn, args, kwargs, level):
    x = args[0]
    weight = args[1] if len(args) > 1 else kwargs["weight"]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    if not _is_batched(weight, level) and not _is_batched(bias, level):
        return wrap_all(fn(x._phys, weight, bias), level)
    if logical_rank(weight, level) != 2 or logical_rank(x, level) == 0:
        return NotImplemented
    if _is_batched(weight, level):                       # (B, out, in): one matrix per element (ensembles)
        w_t = weight._phys.transpose(-1, -2)
        if _is_batched(x, level):
            p = x._phys
            lead = tuple(p.shape[1:-1])
            out = p.reshape(p.shape[0], -1, p.shape[-1]) @ w_t
        else:
            lead = tuple(x.shape[:-1])
            out = x.reshape(-1, x.shape[-1]) @ w_t
        out = out.reshape((out.shape[0],) + lead + (out.shape[-1],))
    else:                                                # the bias alone is batched
        p = x._phys if _is_batched(x, level) else x
        out = fn(p, weight)
        if not _is_batched(x, level):
            out = out.unsqueeze(0)
        lead = tuple(out.shape[1:-1])
    if bias is not None:
        if _is_batched(bias, level):
            b = bias._phys
            out = out + b.reshape((b.shape[0],) + (1,) * len(lead) + (b.shape[-1],))
        else:
            out = out + bias
    return wrap_all(out, level)


@batch_rule("einsum")
def _einsum(fn, args, kwargs, level):
    equation = args[0]
    operands = list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    if "..." in equation:
        return NotImplemented
    free = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in equation)
    inputs, _, output = equation.replace(" ", "").partition("->")
    if not _:
        return NotImplemented
    specs = inputs.split(",")
    new_specs = [free + s if _is_batched(o, level) else s for s, o in zip(specs, operands)]
    physical = [o._phys if _is_batched(o, level) else o for o in operands]
    return wrap_all(fn(",".join(new_specs) + "->" + free + output, *physical), level)


# -- nn.functional -------------------------------------------------------------------------------------------

@batch_rule("conv1d", "conv2d", "conv3d")
def _conv(fn, args, kwargs, level):
    x = args[0]
    rest = list(args[1:])
    if any(_is_batched(v, level) for v in rest + list(kwargs.values())) or not _is_batched(x, level):
        return NotImplemented
    p = x._phys
    n = {"conv1d": 3, "conv2d": 4, "conv3d": 5}[fn.__name__]
    if p.dim() - 1 == n - 1:                                        # unbatched elements: (C, *spatial)
        return wrap_all(fn(p, *rest, **kwargs), level)
    merged = p.reshape((p.shape[0] * p.shape[1],) + tuple(p.shape[2:]))
    out = fn(merged, *rest, **kwargs)
    return wrap_all(out.reshape((p.shape[0], p.shape[1]) + tuple(out.shape[1:])), level)


@batch_rule("layer_norm")
def _layer_norm(fn, args, kwargs, level):
    x = args[0]
    if any(_is_batched(v, level) for v in list(args[1:]) + list(kwargs.values())):
        return NotImplemented
    return wrap_all(fn(x._phys, *args[1:], **kwargs), level)


@batch_rule("embedding")
def _embedding(fn, args, kwargs, level):
    indices, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
    if _is_batched(weight, level) or not _is_batched(indices, level):
        return NotImplemented
    return wrap_all(fn(indices._phys, weight, *args[2:], **kwargs), level)


@batch_rule("dropout", "dropout1d", "dropout2d", "alpha_dropout", "feature_alpha_dropout", "rand_like",
            "randn_like", "bernoulli", "randint_like", "normal_", "uniform_", "bernoulli_", "rrelu", "rrelu_")
def _random(fn, args, kwargs, level):
    mode = current_randomness(level)
    name = fn.__name__
    if name.endswith("dropout"):
        training = kwargs.get("training", args[2] if len(args) > 2 else True)
    elif name.startswith("rrelu"):
        training = kwargs.get("training", args[3] if len(args) > 3 else False)
    else:
        training = True
    if not training:                                   # dropout / rrelu in eval: no randomness
        if name.startswith("rrelu"):
            return _inplace(fn, args, kwargs, level) if name.endswith("_") else _elementwise(fn, args, kwargs, level)
        return wrap_all(args[0]._phys, level)
    if mode == "error":
        raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                           "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
                           "of vmap")
    x = args[0]
    if mode == "different":
        if fn.__name__.endswith("_") and _is_batched(x, level):
            fn(x._phys, *args[1:], **kwargs)
            return x
        return wrap_all(fn(x._phys, *args[1:], **kwargs), level)
    # same: one draw for the element's shape, shared by every element
    from .ops.creation import ones_like
    if fn.__name__.endswith("dropout"):
        mask = fn(ones_like(x._phys[0]), *args[1:], **kwargs)
        return wrap_all(x._phys * mask, level)
    if fn.__name__.endswith("_"):
        return NotImplemented
    one = fn(x._phys[0], *args[1:], **kwargs)
    return wrap_all(one.unsqueeze(0).expand(x._phys.shape[0], *one.shape).contiguous(), level)


def _per_sample_loss(fn, args, kwargs, level, target_position=1):
    """A loss of the element: the op with reduction='none' on the physical batch, then reduced per element."""
    from .ops.reduction import mean, sum as _sum
    reduction = kwargs.get("reduction", "mean")
    if any(k in kwargs for k in ("size_average", "reduce")) or kwargs.get("weight") is not None:
        return NotImplemented
    x, target = args[0], args[target_position] if len(args) > target_position else kwargs["target"]
    rest = list(args[target_position + 1:])
    if rest:
        return NotImplemented
    kwargs = dict(kwargs, reduction="none")
    size = next(v._phys.shape[0] for v in (x, target) if _is_batched(v, level))
    xr = logical_rank(x, level)
    px = whole_batch(x, level, size)
    pt = whole_batch(target, level, size)
    if fn.__name__ in ("cross_entropy", "nll_loss"):
        if xr == 1:                                  # element: (C,) with a 0-d target: the batch is N
            out = fn(px, pt, **kwargs)
        else:                                        # element: (N, C, ...): merge the batch into N
            merged = fn(px.reshape((-1,) + tuple(px.shape[2:])), pt.reshape((-1,) + tuple(pt.shape[2:])),
                        **kwargs)
            out = merged.reshape((size, px.shape[1]) + tuple(merged.shape[1:]))
    else:
        out = fn(px, pt, **kwargs)
    if reduction == "none":
        return wrap_all(out, level)
    dims = tuple(range(1, out.dim()))
    if not dims:
        return wrap_all(out, level)
    return wrap_all(mean(out, dims) if reduction == "mean" else _sum(out, dims), level)


for _name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
              "binary_cross_entropy_with_logits", "cross_entropy_loss", "nll_loss_nd", "soft_margin_loss", "kl_div"):
    batch_rule(_name)(_per_sample_loss)


@batch_rule("diag", "diagflat")
def _diag(fn, args, kwargs, level):
    x = args[0]
    offset = args[1] if len(args) > 1 else kwargs.get("diagonal", kwargs.get("offset", 0))
    if not _is_batched(x, level):
        return NotImplemented
    rank = x._phys.dim() - 1
    if fn.__name__ == "diagflat":
        return wrap_all(x._phys.reshape(x._phys.shape[0], -1).diag_embed(offset), level)
    if rank == 1:
        return wrap_all(x._phys.diag_embed(offset), level)
    if rank == 2:
        return wrap_all(x._phys.diagonal(offset, 1, 2), level)
    return NotImplemented


@batch_rule("masked_select")
def _masked_select(fn, args, kwargs, level):
    x, mask = args[0], args[1] if len(args) > 1 else kwargs["mask"]
    if not _is_batched(x, level) or _is_batched(mask, level):
        return NotImplemented                          # a batched mask selects a different count per element
    element = tuple(x._phys.shape[1:])
    from . import broadcast_shapes
    shape = tuple(broadcast_shapes(element, tuple(mask.shape)))
    p = x._phys.expand((x._phys.shape[0],) + shape) if shape != element else x._phys
    return wrap_all(p[:, mask.expand(shape)], level)


@batch_rule("cdist")
def _cdist(fn, args, kwargs, level):
    a, b = args[0], args[1]
    rank = max(logical_rank(a, level), logical_rank(b, level))
    size = next(v._phys.shape[0] for v in (a, b) if _is_batched(v, level))
    pa = _pad(a, level, rank) if _is_batched(a, level) else a.expand((size,) + tuple(a.shape))
    pb = _pad(b, level, rank) if _is_batched(b, level) else b.expand((size,) + tuple(b.shape))
    if pa.dim() != pb.dim():
        return NotImplemented
    return wrap_all(fn(pa, pb, *args[2:], **kwargs), level)

from . import _vmap_rules_math  # noqa: E402,F401  (elementwise, linear algebra and special functions)
from . import _vmap_rules_nn  # noqa: E402,F401  (nn ops, indexing and scatter, joining and splitting)
