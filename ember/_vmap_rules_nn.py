"""Batching rules for vmap (Note [vmap] in ember/_vmap.py) of convolutions and pooling, indexing and scatter,
joining and splitting. Each runs the op once on the physical tensors (batch at dim 0); a case a rule does not
cover exactly returns NotImplemented and runs element by element. A rule registered here over one of
_vmap_rules.py keeps that one (`previous`) for the cases it leaves."""
from ._tensor import Tensor
from ._vmap import (RULES, BatchedTensor, _is_batched, _wrap, batch_rule, batch_size, logical_rank, whole_batch,
                    wrap_all)
from ._vmap_rules import _any_batched, _get, _refuse_inplace
from ._vmap_rules import _element_dim as _sh, _element_dims as _sh_all


# -- helpers --------------------------------------------------------------------------------------------------

def _set(args, kwargs, pos, name, value):
    """args, kwargs with the argument at `pos` (or keyword `name`) replaced."""
    if len(args) > pos:
        return args[:pos] + (value,) + args[pos + 1:], kwargs
    kwargs = dict(kwargs)
    kwargs[name] = value
    return args, kwargs


def _lift(value, level):
    """The physical tensor (batch at dim 0) of a batched value, or an unbatched one with a size-1 batch dim."""
    return value._phys if _is_batched(value, level) else value.unsqueeze(0)


def _every_value(value):
    """The tensor holding every element of every vmap level of `value` (for a check that reads values)."""
    while isinstance(value, BatchedTensor):
        value = value._phys
    return value


def _arange(size, like, trailing):
    from .ops.creation import arange
    return arange(size, device=like.device).reshape((size,) + (1,) * trailing)


def _over(*names):
    """Register a rule over the rule _vmap_rules.py gave these names, passed as `previous` (None if none)."""
    def register(rule):
        for name in names:
            previous = RULES.get("aten::" + name)
            RULES["aten::" + name] = (lambda fn, args, kwargs, level, _p=previous:
                                      rule(fn, args, kwargs, level, _p))
        return rule
    return register


def _defer(previous, fn, args, kwargs, level):
    return NotImplemented if previous is None else previous(fn, args, kwargs, level)


# -- convolutions ---------------------------------------------------------------------------------------------

_CONVS = {"conv1d": 1, "conv2d": 2, "conv3d": 3, "conv_transpose1d": 1, "conv_transpose2d": 2,
          "conv_transpose3d": 3}


@batch_rule(*_CONVS)
def _conv(fn, args, kwargs, level):
    """Batched input only: the batch folded into N (or, for unbatched (C, *spatial) elements, the batch is N).
    Batched weight: the batch folded into channels and groups (B*groups groups of one element's channels)."""
    n = _CONVS.get(fn.__name__)
    x, weight = args[0], _get(args, kwargs, 1, "weight")
    bias = _get(args, kwargs, 2, "bias")
    if n is None or not isinstance(weight, Tensor) or \
            _any_batched([a for a in args[3:]] + [v for k, v in kwargs.items() if k not in ("weight", "bias")],
                         level):
        return NotImplemented
    rank = logical_rank(x, level)
    if logical_rank(weight, level) != n + 2 or rank not in (n + 1, n + 2):
        return NotImplemented
    size = batch_size(args, kwargs, level)
    if not _is_batched(weight, level):
        if _is_batched(bias, level):                # the bias added after an unbatched-weight convolution
            if logical_rank(bias, level) != 1:
                return NotImplemented
            args, kwargs = _set(args, kwargs, 2, "bias", None)
            out = _conv(fn, args, kwargs, level) if _is_batched(x, level) else fn(*args, **kwargs)
            out_p = out._phys if isinstance(out, Tensor) and _is_batched(out, level) else out.unsqueeze(0)
            b = bias._phys.reshape((size,) + (1,) * (rank - n - 1) + (bias._phys.shape[1],) + (1,) * n)
            return wrap_all(out_p + b, level)
        p = x._phys
        if rank == n + 1:
            return wrap_all(fn(p, *args[1:], **kwargs), level)
        merged = p.reshape((p.shape[0] * p.shape[1],) + tuple(p.shape[2:]))
        out = fn(merged, *args[1:], **kwargs)
        return wrap_all(out.reshape((p.shape[0], p.shape[1]) + tuple(out.shape[1:])), level)
    groups = _get(args, kwargs, 6, "groups", 1)
    if not isinstance(groups, int) or isinstance(groups, bool):
        return NotImplemented
    p = whole_batch(x, level, size)
    if rank == n + 1:
        p = p.unsqueeze(1)                          # (B, 1, C, *spatial)
    count = p.shape[1]
    xg = p.movedim(0, 1).reshape((count, size * p.shape[2]) + tuple(p.shape[3:]))
    w = weight._phys
    wg = w.reshape((size * w.shape[1],) + tuple(w.shape[2:]))
    bg = None
    if bias is not None:
        if logical_rank(bias, level) != 1:
            return NotImplemented
        bg = whole_batch(bias, level, size).reshape(-1)
    args, kwargs = _set(args, kwargs, 1, "weight", wg)
    args, kwargs = _set(args, kwargs, 2, "bias", bg)
    args, kwargs = _set(args, kwargs, 6, "groups", groups * size)
    out = fn(xg, *args[1:], **kwargs)
    out = out.reshape((count, size, out.shape[1] // size) + tuple(out.shape[2:])).movedim(1, 0)
    if rank == n + 1:
        out = out.reshape((size,) + tuple(out.shape[2:]))
    return wrap_all(out, level)


# -- pooling, im2col, padding: ops of (N, C, *spatial) or (C, *spatial) ------------------------------------

_POOLS = {"max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3, "max_pool1d_with_indices": 1,
          "max_pool2d_with_indices": 2, "max_pool3d_with_indices": 3, "avg_pool1d": 1, "avg_pool2d": 2,
          "avg_pool3d": 3, "adaptive_avg_pool1d": 1, "adaptive_avg_pool2d": 2, "adaptive_avg_pool3d": 3,
          "adaptive_max_pool1d": 1, "adaptive_max_pool2d": 2, "adaptive_max_pool3d": 3,
          "adaptive_max_pool1d_with_indices": 1, "adaptive_max_pool2d_with_indices": 2,
          "adaptive_max_pool3d_with_indices": 3, "lp_pool1d": 1, "lp_pool2d": 2, "lp_pool3d": 3}


def _fold_into_n(fn, args, kwargs, level, n):
    """An op on (N, C, *spatial) with n spatial dims that also takes (C, *spatial): unbatched elements make the
    batch N; batched (N, ...) elements merge the batch into N."""
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    if rank == n + 1:
        return wrap_all(fn(p, *args[1:], **kwargs), level)
    if rank != n + 2:
        return NotImplemented
    out = fn(p.reshape((p.shape[0] * p.shape[1],) + tuple(p.shape[2:])), *args[1:], **kwargs)
    lead = (p.shape[0], p.shape[1])
    if isinstance(out, tuple):
        return wrap_all(type(out)(o.reshape(lead + tuple(o.shape[1:])) for o in out), level)
    return wrap_all(out.reshape(lead + tuple(out.shape[1:])), level)


@batch_rule(*_POOLS)
def _pool(fn, args, kwargs, level):
    n = _POOLS.get(fn.__name__)
    return NotImplemented if n is None else _fold_into_n(fn, args, kwargs, level, n)


@batch_rule("fold")
def _fold(fn, args, kwargs, level):
    """F.fold: (N, C*k, L) or (C*k, L) (as pooling, with one 'spatial' dim)."""
    return _fold_into_n(fn, args, kwargs, level, 1)


@batch_rule("constant_pad_nd", "pad")
def _pad_rule(fn, args, kwargs, level):
    x, pad = args[0], _get(args, kwargs, 1, "pad")
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level) or \
            not isinstance(pad, (list, tuple)) or len(pad) % 2:
        return NotImplemented
    rank = x._phys.dim() - 1
    m = len(pad) // 2
    mode = _get(args, kwargs, 2, "mode", "constant") if fn.__name__ == "pad" else "constant"
    if mode == "constant":
        if m > rank:
            return NotImplemented
        return wrap_all(fn(x._phys, *args[1:], **kwargs), level)
    return _fold_into_n(fn, args, kwargs, level, m)        # reflect / replicate / circular: (N, C, *spatial)


# -- views and reorderings ------------------------------------------------------------------------------------

def _dim_at(pos, name, default=None):
    """A rule for an op of one batched tensor whose dim argument is at `pos` (or keyword `name`)."""
    def rule(fn, args, kwargs, level):
        x = args[0]
        if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
            return NotImplemented
        rank = x._phys.dim() - 1
        dim = _get(args, kwargs, pos, name, default)
        d = _sh(dim, rank)
        if d is None:
            return NotImplemented
        args, kwargs = _set(args, kwargs, pos, name, d)
        return wrap_all(fn(x._phys, *args[1:], **kwargs), level)
    return rule


for _names, _pos, _name, _default in (("narrow_copy unflatten", 1, "dim", None),
                                      ("unsafe_split unsafe_split_with_sizes unsafe_chunk", 2, "dim", 0)):
    batch_rule(*_names.split())(_dim_at(_pos, _name, _default))
_select_by_dim = _dim_at(1, "dim")


@_over("select")
def _select(fn, args, kwargs, level, previous):
    if fn.__name__ == "select":                     # ember.select / Tensor.select (not x[int])
        return _select_by_dim(fn, args, kwargs, level)
    return _defer(previous, fn, args, kwargs, level)


@batch_rule("tensor_split")
def _tensor_split(fn, args, kwargs, level):
    if _is_batched(_get(args, kwargs, 1, "indices_or_sections"), level):
        return NotImplemented
    return _dim_at(2, "dim", 0)(fn, args, kwargs, level)


@batch_rule("hsplit", "vsplit", "dsplit")
def _split_by_name(fn, args, kwargs, level):
    x, sections = args[0], _get(args, kwargs, 1, "indices_or_sections")
    if not _is_batched(x, level) or _is_batched(sections, level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    dim = {"hsplit": 0 if rank == 1 else 1, "vsplit": 0, "dsplit": 2}[fn.__name__]
    if rank < {"hsplit": 1, "vsplit": 2, "dsplit": 3}[fn.__name__]:
        return NotImplemented
    if isinstance(sections, int) and (sections <= 0 or p.shape[dim + 1] % sections):
        return NotImplemented                       # the loop raises PyTorch's divisibility error
    if not isinstance(sections, (int, list, tuple)):
        return NotImplemented
    return wrap_all(p.tensor_split(sections, dim + 1), level)


@batch_rule("unfold")
def _unfold(fn, args, kwargs, level):
    if fn.__module__.startswith("ember.nn"):        # F.unfold (im2col): (N, C, H, W) or (C, H, W)
        return _fold_into_n(fn, args, kwargs, level, 2)
    x = args[0]
    if not _is_batched(x, level) or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    dim, size, step = _get(args, kwargs, 1, "dimension"), _get(args, kwargs, 2, "size"), \
        _get(args, kwargs, 3, "step")
    if rank == 0:                                   # a 0-d element unfolds as one of one element
        if dim not in (0, -1) or size is None or step is None:
            return NotImplemented
        out = fn(p.unsqueeze(1), 1, size, step)
        return wrap_all(out.reshape((p.shape[0],) + tuple(out.shape[2:])), level)
    d = _sh(dim, rank)
    if d is None or size is None or step is None:
        return NotImplemented
    return wrap_all(fn(p, d, size, step), level)


@_over("squeeze")
def _squeeze(fn, args, kwargs, level, previous):
    x = args[0]
    dim = _get(args, kwargs, 1, "dim")
    if not _is_batched(x, level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    if rank == 0:
        if dim is None or dim in (0, -1) or (isinstance(dim, (list, tuple)) and all(d in (0, -1) for d in dim)):
            return wrap_all(p.view(tuple(p.shape)), level)
        return NotImplemented
    if dim is None:
        dims = [i + 1 for i, s in enumerate(p.shape[1:]) if s == 1]
    elif isinstance(dim, (list, tuple)):
        dims = _sh_all(dim, rank)
        if dims is None:
            return NotImplemented
    else:
        return _defer(previous, fn, args, kwargs, level)
    if not dims:
        return wrap_all(p.view(tuple(p.shape)), level)
    return wrap_all(fn(p, tuple(dims)), level)


@_over("expand_as")
def _expand_as(fn, args, kwargs, level, previous):
    x, other = args[0], _get(args, kwargs, 1, "other")
    if not _is_batched(other, level):
        return _defer(previous, fn, args, kwargs, level)
    size = other._phys.shape[0]
    shape = tuple(other._phys.shape[1:])
    if _is_batched(x, level):
        p = x._phys
        missing = len(shape) - (p.dim() - 1)
        if missing < 0:
            return NotImplemented
        p = p.reshape((size,) + (1,) * missing + tuple(p.shape[1:]))
        return wrap_all(p.expand(size, *shape), level)
    return wrap_all(x.expand(*shape).unsqueeze(0).expand(size, *shape), level)


def _int_sizes(args, kwargs, start, name):
    rest = args[start:] if len(args) > start else ((kwargs[name],) if name in kwargs else ())
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
        rest = tuple(rest[0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in rest):
        return None
    return tuple(rest)


@batch_rule("sum_to_size")
def _sum_to_size(fn, args, kwargs, level):
    x = args[0]
    sizes = _int_sizes(args, kwargs, 1, "size")
    if sizes is None or not _is_batched(x, level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    if len(sizes) > rank:
        return NotImplemented
    out = fn(p, (p.shape[0],) + (1,) * (rank - len(sizes)) + sizes)
    return wrap_all(out.reshape((p.shape[0],) + sizes), level)


@batch_rule("tile")
def _tile(fn, args, kwargs, level):
    x, reps = args[0], _get(args, kwargs, 1, "dims")
    if len(args) > 2 or not isinstance(reps, (list, tuple)) or \
            not all(isinstance(r, int) and not isinstance(r, bool) for r in reps) or not _is_batched(x, level):
        return NotImplemented
    reps = tuple(reps)
    p = x._phys
    rank = p.dim() - 1
    reps = (1,) * (rank - len(reps)) + reps
    if len(reps) > rank:
        p = p.reshape((p.shape[0],) + (1,) * (len(reps) - rank) + tuple(p.shape[1:]))
    return wrap_all(fn(p, (1,) + reps), level)


@batch_rule("repeat_interleave")
def _repeat_interleave(fn, args, kwargs, level):
    x = args[0]
    repeats, dim = _get(args, kwargs, 1, "repeats"), _get(args, kwargs, 2, "dim")
    if not _is_batched(x, level) or repeats is None or _is_batched(repeats, level) or \
            _is_batched(kwargs.get("output_size"), level):
        return NotImplemented
    p = x._phys
    rank = p.dim() - 1
    if dim is None:                                 # over the flattened element
        p, d = p.reshape(p.shape[0], -1), 1
    else:
        d = _sh(dim, rank)
        if d is None:
            return NotImplemented
    args, kwargs = _set(args, kwargs, 2, "dim", d)
    return wrap_all(fn(p, *args[1:], **kwargs), level)


@_over("roll")
def _roll(fn, args, kwargs, level, previous):
    x = args[0]
    shifts, dims = _get(args, kwargs, 1, "shifts"), _get(args, kwargs, 2, "dims")
    if dims is not None and dims != () and dims != []:
        return _defer(previous, fn, args, kwargs, level)
    if isinstance(shifts, (list, tuple)):
        if len(shifts) != 1:
            return NotImplemented
        shifts = shifts[0]
    if not _is_batched(x, level) or not isinstance(shifts, int) or isinstance(shifts, bool):
        return NotImplemented
    p = x._phys                                     # roll of the flattened element
    return wrap_all(fn(p.reshape(p.shape[0], -1), shifts, 1).reshape(tuple(p.shape)), level)


@batch_rule("rot90")
def _rot90(fn, args, kwargs, level):
    x = args[0]
    k, dims = _get(args, kwargs, 1, "k", 1), _get(args, kwargs, 2, "dims", (0, 1))
    if not _is_batched(x, level) or not isinstance(dims, (list, tuple)) or len(dims) != 2:
        return NotImplemented
    rank = x._phys.dim() - 1
    shifted = _sh_all(dims, rank)
    if shifted is None or rank < 2 or shifted[0] == shifted[1]:
        return NotImplemented
    return wrap_all(fn(x._phys, k, type(dims)(shifted)), level)


@batch_rule("fliplr", "flipud")
def _flip_lr_ud(fn, args, kwargs, level):
    x = args[0]
    rank = x._phys.dim() - 1
    if fn.__name__ == "fliplr":
        return wrap_all(x._phys.flip(2), level) if rank >= 2 else NotImplemented
    return wrap_all(x._phys.flip(1), level) if rank >= 1 else NotImplemented


@batch_rule("adjoint")
def _adjoint(fn, args, kwargs, level):
    x = args[0]
    return wrap_all(fn(x._phys), level) if x._phys.dim() >= 3 else NotImplemented


@batch_rule("ravel")
def _ravel(fn, args, kwargs, level):
    p = args[0]._phys
    return wrap_all(p.reshape(p.shape[0], -1), level)


@batch_rule("view_as_real")
def _view_as_real(fn, args, kwargs, level):
    return wrap_all(fn(args[0]._phys), level)


@batch_rule("view_as_complex")
def _view_as_complex(fn, args, kwargs, level):
    p = args[0]._phys
    if p.dim() < 2 or p.shape[-1] != 2 or p.shape[0] > 1 and p.stride(0) % 2:
        return NotImplemented                       # the element's checks (and an odd batch stride) per element
    return wrap_all(fn(p), level)


@batch_rule("new")
def _new(fn, args, kwargs, level):
    """Tensor.new: new(tensor) aliases it (batched as it is); new(), new(*sizes), new(data) make one tensor the
    same for every element (unbatched)."""
    x = args[0]
    rest = args[1:]
    if _any_batched(list(kwargs.values()), level):
        return NotImplemented
    if len(rest) == 1 and isinstance(rest[0], Tensor):
        other = rest[0]
        if not _is_batched(other, level) or other.dtype is not x.dtype:
            return NotImplemented
        return wrap_all(fn(x._phys if _is_batched(x, level) else x, other._phys, **kwargs), level)
    if _any_batched(rest, level) or not _is_batched(x, level):
        return NotImplemented
    return fn(x._phys, *rest, **kwargs)


# -- gather, take -------------------------------------------------------------------------------------------

def _as_1d(value, level, size, rank):
    """The physical tensor of a value whose 0-d element acts as 1-d (gather/scatter's rule): (B, *shape), a 0-d
    element as (B, 1)."""
    p = whole_batch(value, level, size)
    return p.reshape(size, 1) if rank == 0 else p


@_over("gather")
def _gather(fn, args, kwargs, level, previous):
    if fn.__name__ != "gather":
        return _defer(previous, fn, args, kwargs, level)
    x, dim, index = args[0], _get(args, kwargs, 1, "dim"), _get(args, kwargs, 2, "index")
    if not isinstance(index, Tensor) or _any_batched([dim] + [v for k, v in kwargs.items() if k != "index"], level):
        return NotImplemented
    rx, ri = logical_rank(x, level), logical_rank(index, level)
    if max(rx, 1) != max(ri, 1):
        return NotImplemented
    rank = max(rx, 1)
    d = _sh(dim, rank)
    if d is None:
        return NotImplemented
    size = batch_size(args, kwargs, level)
    args, kwargs = _set(args, kwargs, 2, "index", _as_1d(index, level, size, ri))
    out = fn(_as_1d(x, level, size, rx), d, *args[2:], **kwargs)
    return wrap_all(out.reshape(size) if ri == 0 else out, level)


@batch_rule("take_along_dim")
def _take_along_dim(fn, args, kwargs, level):
    x, indices, dim = args[0], _get(args, kwargs, 1, "indices"), _get(args, kwargs, 2, "dim")
    if not isinstance(indices, Tensor) or _is_batched(dim, level):
        return NotImplemented
    if dim is None:                                 # over the flattened elements
        xp, ip = _lift(x, level), _lift(indices, level)
        return wrap_all(fn(xp.reshape(xp.shape[0], -1), ip.reshape(ip.shape[0], -1), 1), level)
    rank = logical_rank(x, level)
    d = _sh(dim, rank)
    if d is None or logical_rank(indices, level) != rank:
        return NotImplemented
    return wrap_all(fn(_lift(x, level), _lift(indices, level), d), level)


@batch_rule("take")
def _take(fn, args, kwargs, level):
    x, index = args[0], _get(args, kwargs, 1, "index")
    if not isinstance(index, Tensor):
        return NotImplemented
    size = batch_size(args, kwargs, level)
    flat = whole_batch(x, level, size).reshape(size, -1)
    if not _is_batched(index, level):
        return wrap_all(flat[:, index], level)
    k = index._phys.dim() - 1
    return wrap_all(flat[(_arange(size, flat, k), index._phys)], level)


# -- advanced indexing with batched index tensors -----------------------------------------------------------

def _index_parts(x, index, level):
    """The element's index as (parts, advanced positions, broadcast rank of the advanced indices), Ellipsis
    expanded; None for what the batched forms below do not cover (ints, None, bools and masks)."""
    from .ops.creation import tensor
    parts = list(index) if isinstance(index, tuple) else [index]
    rank = logical_rank(x, level)
    out = []
    for p in parts:
        if isinstance(p, (list, range)):
            p = list(p)
            if not _int_list(p):
                return None
            p = tensor(p, device=x.device)
        elif isinstance(p, Tensor):
            if p.dtype.is_floating_point or p.dtype.is_complex or p.dtype.name == "bool":
                return None
        elif not (isinstance(p, slice) or p is Ellipsis):
            return None
        out.append(p)
    if sum(p is Ellipsis for p in out) > 1:
        return None
    used = sum(p is not Ellipsis for p in out)
    if used > rank:
        return None
    if any(p is Ellipsis for p in out):
        at = next(i for i, p in enumerate(out) if p is Ellipsis)
        out[at:at + 1] = [slice(None)] * (rank - used)
    advanced = [i for i, p in enumerate(out) if isinstance(p, Tensor)]
    if not advanced:
        return None
    k = max(logical_rank(out[i], level) for i in advanced)
    return out, advanced, k


def _int_list(values):
    for v in values:
        if isinstance(v, list):
            if not _int_list(v):
                return False
        elif isinstance(v, bool) or not isinstance(v, int):
            return False
    return True


def _advanced_physical(parts, k, level, size, like):
    """The physical index: an arange over the batch first, then the element's index, batched index tensors
    padded to the advanced indices' broadcast rank."""
    from ._vmap_rules import _pad
    return (_arange(size, like, k),) + tuple(_pad(p, level, k) if _is_batched(p, level) else p for p in parts)


@_over("index")
def _index(fn, args, kwargs, level, previous):
    x, index = args[0], args[1] if len(args) > 1 else None
    if fn.__name__ != "__getitem__" or len(args) != 2:
        return _defer(previous, fn, args, kwargs, level)
    found = _index_parts(x, index, level)
    if found is None:
        return _defer(previous, fn, args, kwargs, level)
    parts, advanced, k = found
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    if adjacent and not _any_batched(parts, level):
        return _defer(previous, fn, args, kwargs, level)
    size = batch_size(args, kwargs, level)
    p = whole_batch(x, level, size)
    out = fn(p, _advanced_physical(parts, k, level, size, p))
    first = advanced[0]
    if adjacent and first:
        # the element keeps its advanced dims at the first advanced index's place; the physical index (an
        # arange, then slices) put them first, after the batch
        order = [0] + list(range(k + 1, k + 1 + first)) + list(range(1, k + 1)) + \
            list(range(k + 1 + first, out.dim()))
        out = out.permute(order)
    return wrap_all(out, level)


def _index_put_args(args, kwargs, level):
    """index_put's (and index_put_'s) physical call: (the physical tensor, the indices, args, kwargs) with an arange
    over the batch first in the indices (the element's index tensors cover its first dims) and the values padded
    to the indexed region's rank; None for what the rule does not cover (a batched accumulate flag too)."""
    from ._vmap_rules import _pad
    x, indices, values = args[0], _get(args, kwargs, 1, "indices"), _get(args, kwargs, 2, "values")
    if _is_batched(_get(args, kwargs, 3, "accumulate"), level):
        return None
    if not isinstance(indices, (list, tuple)) or not indices or \
            not all(isinstance(i, Tensor) and not i.dtype.is_floating_point and not i.dtype.is_complex and
                    i.dtype.name != "bool" for i in indices):
        return None
    rank = logical_rank(x, level)
    if len(indices) > rank:
        return None
    size = batch_size([x, values, *indices], {}, level)
    k = max(logical_rank(i, level) for i in indices)
    p = whole_batch(x, level, size)
    index = _advanced_physical(list(indices), k, level, size, p)
    region = k + rank - len(indices)
    if isinstance(values, Tensor) and _is_batched(values, level):
        if logical_rank(values, level) > region:
            return None
        values = _pad(values, level, region)
    args, kwargs = _set(args, kwargs, 2, "values", values)
    return p, type(indices)(index) if isinstance(indices, list) else index, args, kwargs


@batch_rule("index_put")
def _index_put(fn, args, kwargs, level):
    found = _index_put_args(args, kwargs, level)
    if found is None:
        return NotImplemented
    p, index, args, kwargs = found
    return wrap_all(fn(p, index, *args[2:], **kwargs), level)


@_over("index_put_")
def _index_put_(fn, args, kwargs, level, previous):
    if fn.__name__ != "index_put_":                 # x[index] = value
        return _defer(previous, fn, args, kwargs, level)
    x = args[0]
    if not _is_batched(x, level):
        _refuse_inplace()
    found = _index_put_args(args, kwargs, level)
    if found is None:
        return NotImplemented
    p, index, args, kwargs = found
    fn(p, index, *args[2:], **kwargs)
    return x


# -- index_add / index_copy / index_fill / index_reduce -----------------------------------------------------

_INDEX_OPS = ("index_add", "index_copy", "index_fill", "index_reduce")


@batch_rule(*_INDEX_OPS, *[n + "_" for n in _INDEX_OPS])
def _index_op(fn, args, kwargs, level):
    """The op along the element's dim; a batched index: the batch merged into that dim (each element's index
    offset by its position times the dim's size)."""
    name = fn.__name__
    inplace = name.endswith("_")
    x, dim, index = args[0], _get(args, kwargs, 1, "dim"), _get(args, kwargs, 2, "index")
    third = "value" if name.startswith("index_fill") else "source"
    source = _get(args, kwargs, 3, third)
    if inplace and not _is_batched(x, level):
        _refuse_inplace()
    if not isinstance(index, Tensor) or _any_batched([dim] + list(args[4:]) + [v for k, v in kwargs.items()
                                                                            if k not in ("index", third)], level):
        return NotImplemented
    rank = logical_rank(x, level)
    d = _sh(dim, rank)
    if d is None or logical_rank(index, level) > 1:
        return NotImplemented
    if isinstance(source, Tensor):
        if third == "value":
            if _is_batched(source, level):          # a per-element fill value
                return NotImplemented
        elif logical_rank(source, level) != rank:
            return NotImplemented
    size = batch_size(args, kwargs, level)
    if isinstance(source, Tensor) and third == "source":
        args, kwargs = _set(args, kwargs, 3, third, whole_batch(source, level, size))
    if not _is_batched(index, level):
        out = fn(whole_batch(x, level, size), d, *args[2:], **kwargs)
        return x if inplace else wrap_all(out, level)
    if inplace:
        return NotImplemented
    ip = index._phys.reshape(size, -1)
    p = whole_batch(x, level, size).movedim(d, 1)
    count = p.shape[1]
    every = _every_value(ip)
    if every.numel() and (int(every.min()) < 0 or int(every.max()) >= count):
        return NotImplemented                       # out of range: the loop raises PyTorch's error
    merged = p.reshape((size * count,) + tuple(p.shape[2:]))
    offsets = (ip + _arange(size, ip, 1) * count).reshape(-1)
    args, kwargs = _set(args, kwargs, 2, "index", offsets)
    if third == "source":
        s = _get(args, kwargs, 3, third).movedim(d, 1)
        args, kwargs = _set(args, kwargs, 3, third, s.reshape((-1,) + tuple(s.shape[2:])))
    out = fn(merged, 0, *args[2:], **kwargs)
    return wrap_all(out.reshape(tuple(p.shape)).movedim(1, d), level)


# -- scatter ------------------------------------------------------------------------------------------------

_SCATTERS = ("scatter", "scatter_add", "scatter_reduce")


@batch_rule(*_SCATTERS, *[n + "_" for n in _SCATTERS])
def _scatter(fn, args, kwargs, level):
    """The op along the element's dim on the physical tensors: every element writes its own batch row (index
    and src expanded over the batch where unbatched; 0-d elements as 1-d, as scatter takes them)."""
    inplace = fn.__name__.endswith("_")
    x, dim, index = args[0], _get(args, kwargs, 1, "dim"), _get(args, kwargs, 2, "index")
    src = _get(args, kwargs, 3, "src")
    if inplace and not _is_batched(x, level):
        _refuse_inplace()
    if not isinstance(index, Tensor) or _any_batched([dim, kwargs.get("value")] + list(args[4:]), level):
        return NotImplemented
    rx, ri = logical_rank(x, level), logical_rank(index, level)
    rank = max(rx, 1)
    if max(ri, 1) != rank or isinstance(src, Tensor) and max(logical_rank(src, level), 1) != rank:
        return NotImplemented
    d = _sh(dim, rank)
    if d is None:
        return NotImplemented
    size = batch_size(args, kwargs, level)
    args, kwargs = _set(args, kwargs, 2, "index", _as_1d(index, level, size, ri))
    if isinstance(src, Tensor):
        args, kwargs = _set(args, kwargs, 3, "src", _as_1d(src, level, size, logical_rank(src, level)))
    out = fn(_as_1d(x, level, size, rx), d, *args[2:], **kwargs)
    if inplace:
        return x
    return wrap_all(out.reshape(size) if rx == 0 else out, level)


@batch_rule("masked_scatter")
def _masked_scatter(fn, args, kwargs, level):
    """Each element's k-th True position takes its source's k-th element: a gather of the flattened source at
    the running count of the mask."""
    from ._vmap_rules import _pad
    from .ops.comparison import where
    from .ops.views import broadcast_shapes
    x, mask, source = args[0], _get(args, kwargs, 1, "mask"), _get(args, kwargs, 2, "source")
    if not (isinstance(x, Tensor) and isinstance(mask, Tensor) and isinstance(source, Tensor)) or \
            mask.dtype.name != "bool" or source.dtype is not x.dtype:
        return NotImplemented                       # the loop raises PyTorch's errors
    size = batch_size(args, kwargs, level)
    shape = tuple(broadcast_shapes(tuple(x.shape), tuple(mask.shape)))
    rank = len(shape)
    full_shape = (size,) + shape
    xb = _pad(x, level, rank).expand(full_shape) if _is_batched(x, level) else x.expand(full_shape)
    mb = _pad(mask, level, rank).expand(full_shape) if _is_batched(mask, level) else mask.expand(full_shape)
    m = mb.reshape(size, -1)
    counts = m.sum(1)
    n_source = source.numel()
    if m.shape[1] and int(_every_value(counts).max()) > n_source:
        return NotImplemented
    if n_source == 0 or m.shape[1] == 0:
        return wrap_all(xb.clone(), level)
    positions = (m.cumsum(1) - 1).clamp(min=0)
    src = source._phys.reshape(size, n_source) if _is_batched(source, level) else \
        source.reshape(1, n_source).expand(size, n_source)
    values = src.gather(1, positions)
    return wrap_all(where(m, values, xb.reshape(size, -1)).reshape(full_shape), level)


@batch_rule("put", "put_")
def _put(fn, args, kwargs, level):
    """put on the flattened elements as index_put with an arange over the batch (negative indices wrap as in
    put)."""
    inplace = fn.__name__ == "put_"
    x, index, source = args[0], _get(args, kwargs, 1, "index"), _get(args, kwargs, 2, "source")
    accumulate = _get(args, kwargs, 3, "accumulate", False)
    if inplace and not _is_batched(x, level):
        _refuse_inplace()
    if not (isinstance(index, Tensor) and isinstance(source, Tensor)) or not isinstance(accumulate, bool) or \
            source.dtype is not x.dtype or index.dtype.name != "int64" or index.numel() != source.numel():
        return NotImplemented
    size = batch_size(args, kwargs, level)
    shape = tuple(x.shape)
    if inplace:
        if not x._phys.is_contiguous():
            return NotImplemented
        flat = x._phys.view(size, -1)
    else:
        flat = whole_batch(x, level, size).reshape(size, -1)
    ip = _lift(index, level).reshape(-1 if _is_batched(index, level) else 1, index.numel())
    sp = _lift(source, level).reshape(-1 if _is_batched(source, level) else 1, source.numel())
    where = (_arange(size, flat, 1), ip)
    if inplace:
        flat.index_put_(where, sp, accumulate)
        return x
    return wrap_all(flat.index_put(where, sp, accumulate).reshape((size,) + shape), level)


# -- select_scatter, slice_scatter, diagonal_scatter --------------------------------------------------------

@batch_rule("select_scatter", "slice_scatter", "diagonal_scatter")
def _embed_scatter(fn, args, kwargs, level):
    name = fn.__name__
    x, src = args[0], _get(args, kwargs, 1, "src")
    if not isinstance(src, Tensor) or _any_batched(list(args[2:]) + [v for k, v in kwargs.items() if k != "src"],
                                                   level):
        return NotImplemented
    rank = logical_rank(x, level)
    size = batch_size(args, kwargs, level)
    if name == "diagonal_scatter":
        d1, d2 = _get(args, kwargs, 3, "dim1", 0), _get(args, kwargs, 4, "dim2", 1)
        s1, s2 = _sh(d1, rank), _sh(d2, rank)
        if s1 is None or s2 is None or s1 == s2:
            return NotImplemented
        args, kwargs = _set(args, kwargs, 3, "dim1", s1)
        args, kwargs = _set(args, kwargs, 4, "dim2", s2)
    else:
        default = None if name == "select_scatter" else 0
        d = _sh(_get(args, kwargs, 2, "dim", default), rank)
        if d is None:
            return NotImplemented
        args, kwargs = _set(args, kwargs, 2, "dim", d)
    args, kwargs = _set(args, kwargs, 1, "src", whole_batch(src, level, size))
    return wrap_all(fn(whole_batch(x, level, size), *args[1:], **kwargs), level)


# -- joining and splitting ----------------------------------------------------------------------------------

def _element_as(value, level, size, shape_of):
    """The physical tensor of a (batched or not) value whose element is reshaped by shape_of(element shape)."""
    p = whole_batch(value, level, size)
    return p.reshape((size,) + tuple(shape_of(tuple(p.shape[1:]))))


def _at_least(rank):
    def shape_of(shape):
        if len(shape) >= rank:
            return shape
        if rank == 3 and len(shape) == 2:
            return shape + (1,)
        if len(shape) == 0:
            return (1,) * rank
        return (1,) + shape + (1,) * (rank - 2)     # (n,) -> (1, n) or (1, n, 1)
    return shape_of


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@_over("hstack", "vstack", "row_stack", "dstack", "column_stack")
def _stacks(fn, args, kwargs, level, previous):
    from .ops.joining import cat
    tensors = _get(args, kwargs, 0, "tensors")
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(isinstance(t, Tensor) for t in tensors):
        return NotImplemented
    size = batch_size(args, kwargs, level)
    name = fn.__name__
    if name == "hstack":
        shape_of, dim = _at_least(1), 0 if logical_rank(tensors[0], level) <= 1 else 1
    elif name in ("vstack", "row_stack"):
        shape_of, dim = _at_least(2), 0
    elif name == "dstack":
        shape_of, dim = _at_least(3), 2
    elif name == "column_stack":
        shape_of, dim = (lambda s: s if len(s) >= 2 else (_numel(s), 1)), 1
    else:
        return _defer(previous, fn, args, kwargs, level)
    return wrap_all(cat([_element_as(t, level, size, shape_of) for t in tensors], dim + 1), level)


@batch_rule("atleast_1d", "atleast_2d", "atleast_3d")
def _atleast(fn, args, kwargs, level):
    shape_of = _at_least(int(fn.__name__[-2]))
    listed = len(args) == 1 and isinstance(args[0], (list, tuple))
    tensors = list(args[0]) if listed else list(args)
    if kwargs or not all(isinstance(t, Tensor) for t in tensors):
        return NotImplemented
    out = [_wrap(_element_as(t, level, t._phys.shape[0], shape_of), level) if _is_batched(t, level) else fn(t)
           for t in tensors]
    return out[0] if len(out) == 1 and not listed else tuple(out)


@batch_rule("block_diag")
def _block_diag(fn, args, kwargs, level):
    from .ops.conv import constant_pad_nd
    from .ops.creation import zeros
    from .ops.joining import cat
    if kwargs or not args or not all(isinstance(t, Tensor) for t in args):
        return NotImplemented
    ranks = [logical_rank(t, level) for t in args]
    if max(ranks) > 2:
        return NotImplemented
    # the result dtype as the op gives it for these ranks and dtypes (0-d operands promote as 0-d)
    dtype = fn(*[zeros((0,) * r if r else (), dtype=t.dtype, device=t.device) for t, r in zip(args, ranks)]).dtype
    size = batch_size(args, kwargs, level)
    blocks = [_element_as(t, level, size, _at_least(2)).to(dtype) for t in args]
    columns = sum(b.shape[2] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(constant_pad_nd(b, (left, columns - left - b.shape[2])))
        left += b.shape[2]
    return wrap_all(cat(rows, 1), level)


@batch_rule("cartesian_prod")
def _cartesian_prod(fn, args, kwargs, level):
    from .ops.joining import stack
    if kwargs or not args or not all(isinstance(t, Tensor) and logical_rank(t, level) == 1 for t in args) or \
            len({t.dtype for t in args}) > 1:
        return NotImplemented
    size = batch_size(args, kwargs, level)
    if len(args) == 1:
        return args[0]
    sizes = tuple(t.shape[0] for t in args)
    columns = []
    for i, t in enumerate(args):
        shape = (size,) + tuple(s if j == i else 1 for j, s in enumerate(sizes))
        columns.append(whole_batch(t, level, size).reshape(shape).expand((size,) + sizes).reshape(size, -1))
    return wrap_all(stack(columns, 2), level)


@batch_rule("combinations")
def _combinations(fn, args, kwargs, level):
    from .ops.creation import arange
    x = args[0]
    if logical_rank(x, level) != 1 or _any_batched(list(args[1:]) + list(kwargs.values()), level):
        return NotImplemented
    p = x._phys
    picks = fn(arange(p.shape[1], device=p.device), *args[1:], **kwargs)   # the same positions for every element
    return wrap_all(p[:, picks], level)


@batch_rule("meshgrid")
def _meshgrid(fn, args, kwargs, level):
    tensors = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    indexing = kwargs.get("indexing", "ij")
    if set(kwargs) - {"indexing"} or indexing not in ("ij", "xy") or not tensors or \
            not all(isinstance(t, Tensor) and logical_rank(t, level) <= 1 for t in tensors) or \
            len({t.dtype for t in tensors}) > 1:
        return NotImplemented
    size = batch_size(tensors, {}, level)
    sizes = tuple(t.numel() for t in tensors)
    out = []
    for i, t in enumerate(tensors):
        shape = (size,) + tuple(s if j == i else 1 for j, s in enumerate(sizes))
        v = whole_batch(t, level, size).reshape(shape).expand((size,) + sizes)
        out.append(v.transpose(1, 2) if indexing == "xy" and len(sizes) > 1 else v)
    return tuple(_wrap(v, level) for v in out)


@batch_rule("broadcast_tensors")
def _broadcast_tensors(fn, args, kwargs, level):
    from ._vmap_rules import _pad
    from .ops.views import broadcast_shapes
    tensors = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    if kwargs or not all(isinstance(t, Tensor) for t in tensors):
        return NotImplemented
    shape = tuple(broadcast_shapes(*[tuple(t.shape) for t in tensors]))
    size = batch_size(tensors, {}, level)
    return tuple(_wrap(_pad(t, level, len(shape)).expand((size,) + shape), level) if _is_batched(t, level)
                 else t.expand(shape) for t in tensors)
