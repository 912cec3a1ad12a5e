"""vmap: run a function once on a whole batch, as if it ran on each element (PyTorch's torch.func.vmap).

Note [vmap]: inside vmap the function sees BatchedTensors: a BatchedTensor stands for one element of the batch
(its shape, dim(), len() are the element's) and holds the whole batch as `_phys`, a tensor with the batch at
dim 0. Every public op entry point is swapped while vmap runs (the profiler's swapping: Note
[profiler swapping]) and reaches `_dispatch`: an op none of whose arguments is batched runs as it is; otherwise the
batching rule registered for its aten name (RULES) runs the op once on the physical tensors (moving dims,
padding ranks so that broadcasting lines up), and the result is wrapped again. An op without a rule runs once
per element and its results are stacked (correct, slow: a one-time warning names it; `fallback_ops()` lists
them). Inside a rule the op sees physical tensors only, so ember's own code never meets a BatchedTensor.
Nested vmaps stack levels: a BatchedTensor's `_phys` may itself be a BatchedTensor of an outer level; a rule
handles the innermost level present and the physical op dispatches again for the outer ones.

Gradients: the ops run on the physical tensors, so autograd records the batched computation; autograd.grad
on BatchedTensors (grad inside vmap) differentiates the physical tensors, each element's output depending on
its own element only, which gives every per-sample gradient from one backward.
"""
import functools
import warnings

from ._tensor import Tensor, _new

__all__ = ["vmap", "BatchedTensor", "fallback_ops", "whole_batch"]

RULES = {}                  # aten name -> rule(fn, args, kwargs, level) -> result
_FALLEN_BACK = set()        # ops that ran per element, for fallback_ops()


def batch_rule(*names):
    def register(fn):
        for name in names:
            RULES["aten::" + name] = fn
        return fn
    return register


def fallback_ops():
    """The ops that ran element by element (no batching rule) since ember started."""
    return sorted(n.split("::", 1)[-1] for n in _FALLEN_BACK)


class _Vmap:
    level = 0                   # vmaps entered (the innermost level's number)
    randomness = []             # per level
    sizes = []                  # the batch size of each level
    entries = None              # (plan, id(op) -> wrapper), see _entry_points


class BatchedTensor(Tensor):
    """One element of a vmapped batch (Note [vmap]): the element's shape, the batch kept in `_phys` (dim 0)."""
    __slots__ = ("_phys", "_level")

    # -- the element's metadata --------------------------------------------------------------------------
    @property
    def shape(self):
        return self._phys.shape[1:]

    def size(self, dim=None):
        shape = self._phys.shape[1:]
        if dim is None:
            return shape
        return shape[dim if dim >= 0 else dim + len(shape)] if len(shape) else self._phys.size(dim)

    @property
    def ndim(self):
        return self._phys.dim() - 1

    def dim(self):
        return self._phys.dim() - 1

    ndimension = dim

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    nelement = numel

    def __len__(self):
        if self.dim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    @property
    def T(self):
        return self.permute(*range(self.dim() - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def stride(self, dim=None):
        strides = self._phys.stride()[1:]
        return strides if dim is None else strides[dim]

    def is_contiguous(self, memory_format=None):
        return self._phys.is_contiguous()

    # -- autograd state lives on the physical tensor -----------------------------------------------------
    @property
    def requires_grad(self):
        return self._phys.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self._phys.requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self._phys.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._phys.grad_fn

    @property
    def is_leaf(self):
        return self._phys.is_leaf

    @property
    def grad(self):
        g = self._phys.grad
        return None if g is None else _wrap(g, self._level)

    # -- what has no batched meaning -----------------------------------------------------------------------
    def _refuse(self, what):
        raise RuntimeError(f"vmap: It looks like you're calling {what} on a Tensor. We don't support vmap over "
                           f"calling {what} on a Tensor, please try to rewrite what you're doing with other "
                           "operations.")

    def item(self):
        self._refuse(".item()")

    def tolist(self):
        self._refuse(".tolist()")

    def numpy(self, *, force=False):
        self._refuse(".numpy()")

    def __bool__(self):
        raise RuntimeError("vmap: It looks like you're attempting to use a Tensor in some data-dependent control "
                           "flow. We don't support that yet, please shout over at "
                           "https://github.com/pytorch/functorch/issues/257 .")

    def __float__(self):
        self._refuse("float()")

    def __int__(self):
        self._refuse("int()")

    def __index__(self):
        self._refuse("__index__")
        return 0                                   # (never reached: _refuse raises)

    def backward(self, *args, **kwargs):
        raise RuntimeError("vmap: calling .backward() inside vmap is not supported; use torch.func.grad or "
                           "torch.autograd.grad")

    def __repr__(self):
        return f"BatchedTensor(lvl={self._level}, bdim=0, value=\n{self._phys!r}\n)"

    __str__ = __repr__


def _wrap(phys, level):
    t = _new(BatchedTensor)
    t._phys = phys
    t._level = level
    t._array = phys._array
    t._device = phys._device
    t._requires_grad = False
    t._grad = None
    t._grad_fn = None
    t._vc = None
    t._base = None
    t._out_nr = 0
    t._acc = None
    t._extra = None
    return t


def _level_of(value):
    if isinstance(value, BatchedTensor):
        return value._level
    if isinstance(value, (list, tuple)):
        return max((_level_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return max((_level_of(v) for v in value.values()), default=0)
    return 0


def _is_batched(value, level):
    return isinstance(value, BatchedTensor) and value._level == level


def phys(value, level):
    """The physical tensor of a BatchedTensor of `level` (batch at dim 0); anything else as it is."""
    return value._phys if isinstance(value, BatchedTensor) and value._level == level else value


def wrap_all(value, level):
    if isinstance(value, Tensor):
        return _wrap(value, level)
    if isinstance(value, tuple):
        return type(value)(*[wrap_all(v, level) for v in value]) if hasattr(value, "_fields") else \
            tuple(wrap_all(v, level) for v in value)
    if isinstance(value, list):
        return [wrap_all(v, level) for v in value]
    return value


def whole_batch(value, level, size):
    """The physical tensor (batch at dim 0) of a value batched at `level`; any other tensor expanded over the
    batch of `size` elements (the same value for each)."""
    if _is_batched(value, level):
        return value._phys
    return value.unsqueeze(0).expand(size, *value.shape)


def logical_rank(value, level):
    if _is_batched(value, level):
        return value._phys.dim() - 1
    return value.dim() if isinstance(value, Tensor) else 0


def batch_size(args, kwargs, level):
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, (list, tuple)):
            for w in v:
                if _is_batched(w, level):
                    return w._phys.shape[0]
        elif _is_batched(v, level):
            return v._phys.shape[0]
    raise AssertionError("no batched argument")


# -- dispatch -------------------------------------------------------------------------------------------------

def _dispatch(fn, name, args, kwargs):
    level = max(_level_of(args), _level_of(kwargs))
    if not level:
        return fn(*args, **kwargs)
    if level > 1:                 # the physical tensors may be batched at outer levels: the op dispatches again
        fn = _Redispatch(fn, name)
    rule = RULES.get(name)
    if rule is not None:
        out = rule(fn, args, kwargs, level)
        if out is not NotImplemented:
            return out
    return _loop(fn, name, args, kwargs, level)


class _Redispatch:
    """An op called from a rule on tensors that may be batched at outer vmap levels: dispatched again."""
    __slots__ = ("fn", "name", "__name__")

    def __init__(self, fn, name):
        self.fn, self.name, self.__name__ = fn, name, fn.__name__

    def __call__(self, *args, **kwargs):
        return _dispatch(self.fn, self.name, args, kwargs)


def _loop(fn, name, args, kwargs, level):
    """The op run once per element, the results stacked (an op without a batching rule)."""
    from .ops.joining import stack
    if name not in _FALLEN_BACK:
        _FALLEN_BACK.add(name)
        warnings.warn(f"There is a performance drop because we have not yet implemented the batching rule for "
                      f"{name}. ember runs it once per element of the vmapped dimension.", UserWarning,
                      stacklevel=4)
    size = batch_size(args, kwargs, level)

    def element(value, i):
        if _is_batched(value, level):
            return value._phys[i]
        if isinstance(value, list):
            return [element(v, i) for v in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(element(v, i) for v in value)
        return value
    results = [fn(*[element(a, i) for a in args], **{k: element(v, i) for k, v in kwargs.items()})
               for i in range(size)]
    first = results[0]
    if isinstance(first, Tensor):
        if first is (args[0]._phys[0] if args and _is_batched(args[0], level) else None):
            return args[0]
        return _wrap(stack(results), level)
    if isinstance(first, (tuple, list)):
        parts = [_wrap(stack([r[k] for r in results]), level) if isinstance(first[k], Tensor) else first[k]
                 for k in range(len(first))]
        return type(first)(*parts) if hasattr(first, "_fields") else type(first)(parts)
    return first                                   # None from an in-place op: the elements were written


# -- vmap itself ----------------------------------------------------------------------------------------------

def _move_in(value, dim, level, size_holder):
    """A mapped input as a BatchedTensor of `level` (its dim moved to the front); with level None, only checked
    and its size recorded."""
    if dim is None:
        return value
    if not isinstance(value, Tensor):
        raise ValueError(f"vmap(f, in_dims={dim}, ...)(<inputs>): Got in_dim={dim} for an input but the input is of "
                         f"type {type(value).__name__}. We cannot vmap over non-Tensor arguments, please use None "
                         "as the respective in_dim")
    n = value.dim()
    if not -n <= dim < n:
        raise ValueError(f"vmap(f, in_dims=...)(<inputs>): Got in_dim={dim} for some input, but that input is a "
                         f"Tensor of dimensionality {n} so expected in_dim to satisfy -{n} <= in_dim < {n}.")
    size = value.shape[dim]
    if size_holder and size_holder[0] != size:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got both "
                         f"sizes {size_holder[0]} and {size} for the mapped dimension")
    size_holder[:] = [size]
    if level is None:
        return value
    return _wrap(value.movedim(dim, 0) if dim % n else value, level)


def _map_inputs(args, in_dims, level, size_holder):
    if isinstance(in_dims, int) or in_dims is None:
        return _map_tree(args, in_dims, level, size_holder)
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        count = len(in_dims) if isinstance(in_dims, (tuple, list)) else 1
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the structure "
                         f"of `inputs`. in_dims has {count} entries but inputs has {len(args)} arguments.")
    return tuple(_map_tree(a, d, level, size_holder) for a, d in zip(args, in_dims))


def _map_tree(value, dim, level, size_holder):
    if isinstance(value, Tensor):
        return _move_in(value, dim if not isinstance(dim, (list, tuple, dict)) else None, level, size_holder)
    if isinstance(value, dict):
        dims = dim if isinstance(dim, dict) else {k: dim for k in value}
        return {k: _map_tree(v, dims.get(k), level, size_holder) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        dims = dim if isinstance(dim, (list, tuple)) else [dim] * len(value)
        mapped = [_map_tree(v, d, level, size_holder) for v, d in zip(value, dims)]
        return type(value)(*mapped) if hasattr(value, "_fields") else type(value)(mapped)
    return value


def _unwrap_out(value, out_dim, level, size):
    if isinstance(value, Tensor):
        if out_dim is None:
            if _is_batched(value, level):
                raise ValueError("vmap: out_dims=None for a batched output: only outputs that do not depend on the "
                                 "mapped input may have out_dim None")
            return value
        p = whole_batch(value, level, size)       # an unbatched output: the same value for every element
        return p.movedim(0, out_dim) if out_dim % (p.dim() or 1) else p
    if isinstance(value, dict):
        dims = out_dim if isinstance(out_dim, dict) else {k: out_dim for k in value}
        return {k: _unwrap_out(v, dims[k], level, size) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        dims = out_dim if isinstance(out_dim, (list, tuple)) else [out_dim] * len(value)
        mapped = [_unwrap_out(v, d, level, size) for v, d in zip(value, dims)]
        return type(value)(*mapped) if hasattr(value, "_fields") else type(value)(mapped)
    if value is None:
        return None
    raise ValueError(f"vmap: `{getattr(value, '__name__', value)}` must only return Tensors, got type "
                     f"{type(value).__name__}. Did you mean to set out_dims= to None for output?")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dimension of its inputs (in_dims, per argument or pytree) in one batched run; the
    mapped dimension of the outputs is out_dims. randomness: "error" (random ops raise), "different" (each
    element draws its own), "same" (one draw shared by all)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got "
                           f"{randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        size_holder = []
        _map_inputs(args, in_dims, None, size_holder)        # the batch size (inputs checked, not moved)
        if not size_holder:
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): at least one input must be a Tensor "
                             "mapped over (in_dims must not all be None)")
        size = size_holder[0]
        if chunk_size is not None and chunk_size < size:
            from .ops.joining import cat
            pieces = []
            for start in range(0, size, chunk_size):
                part = [_slice_tree(a, d, start, start + chunk_size) for a, d in zip(args, _dims_per_arg(in_dims,
                                                                                                          args))]
                pieces.append(_run(func, tuple(part), kwargs, in_dims, out_dims, randomness))
            return _cat_tree(pieces, out_dims, cat)
        return _run(func, args, kwargs, in_dims, out_dims, randomness)
    return wrapper


def _dims_per_arg(in_dims, args):
    return in_dims if isinstance(in_dims, (tuple, list)) else [in_dims] * len(args)


def _slice_tree(value, dim, start, end):
    if isinstance(value, Tensor):
        return value if dim is None else value.narrow(dim, start, min(end, value.shape[dim]) - start)
    if isinstance(value, dict):
        dims = dim if isinstance(dim, dict) else {k: dim for k in value}
        return {k: _slice_tree(v, dims.get(k), start, end) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        dims = dim if isinstance(dim, (list, tuple)) else [dim] * len(value)
        return type(value)(_slice_tree(v, d, start, end) for v, d in zip(value, dims))
    return value


def _cat_tree(pieces, out_dims, cat):
    first = pieces[0]
    if isinstance(first, Tensor):
        return cat(pieces, out_dims if isinstance(out_dims, int) else 0)
    if isinstance(first, (list, tuple)):
        dims = out_dims if isinstance(out_dims, (list, tuple)) else [out_dims] * len(first)
        return type(first)(_cat_tree([p[k] for p in pieces], dims[k], cat) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: _cat_tree([p[k] for p in pieces], out_dims, cat) for k in first}
    return first


def _run(func, args, kwargs, in_dims, out_dims, randomness):
    from .profiler import _instrument
    level = _Vmap.level + 1
    size_holder = []
    mapped = _map_inputs(args, in_dims, level, size_holder)
    size = size_holder[0]
    outer = _instrument._State.tracer
    if outer is not None and outer is not _dispatch:
        raise RuntimeError("vmap cannot run inside ember.onnx.export's trace")
    if outer is None:
        _instrument.start_tracing(_dispatch)
    _Vmap.level = level
    _Vmap.randomness.append(randomness)
    _Vmap.sizes.append(size)
    try:
        # an op passed as func itself (vmap(ember.sin)) was taken before the swap: call it through its wrapper
        entry = _entry_points().get(id(func))
        out = (entry or func)(*mapped, **kwargs)
    finally:
        _Vmap.level = level - 1
        _Vmap.randomness.pop()
        _Vmap.sizes.pop()
        if outer is None:
            _instrument.stop_tracing()
    return _unwrap_out(out, out_dims, level, size)


def batched_at_every_level(value):
    """`value` batched at every vmap level now entered (expanded where it is not): a transform inside vmap that
    differentiates with respect to it (grad, jacrev) then gets one gradient per element."""
    if not isinstance(value, Tensor):
        return value
    for level in range(1, _Vmap.level + 1):
        if not _holds_level(value, level):
            value = _wrap(whole_batch(value, level, _Vmap.sizes[level - 1]), level)
    return value


def _holds_level(value, level):
    while isinstance(value, BatchedTensor):
        if value._level == level:
            return True
        value = value._phys
    return False


def batched_grad(grad, outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize):
    """autograd.grad of BatchedTensors (Note [vmap]): the same call on the physical tensors of the innermost
    level present; None when nothing is batched."""
    outs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    ins = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    gouts = grad_outputs if isinstance(grad_outputs, (tuple, list)) else (
        (grad_outputs,) * len(outs) if grad_outputs is None else (grad_outputs,))
    level = max(_level_of(list(outs)), _level_of(list(ins)), _level_of(list(gouts)))
    if not level:
        return None
    size = _Vmap.sizes[level - 1]
    from .ops.creation import ones
    p_outs, p_gouts = [], []
    for o, g in zip(outs, gouts):
        po = whole_batch(o, level, size)
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones(po.shape, dtype=po.dtype, device=po.device)
        else:
            g = whole_batch(g, level, size)
        p_outs.append(po)
        p_gouts.append(g)
    p_ins = [phys(i, level) for i in ins]
    found = grad(p_outs, p_ins, p_gouts, retain_graph=retain_graph, create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize)
    return tuple(_wrap(g, level) if g is not None and _is_batched(i, level) else g for g, i in zip(found, ins))


def _entry_points():
    """id(op function) -> the wrapper installed for it (from the profiler's swap plan)."""
    from .profiler import _instrument
    plan = _instrument._State.plan
    if plan is None:
        return {}
    if _Vmap.entries is None or _Vmap.entries[0] is not plan:
        _Vmap.entries = (plan, {id(original): wrapper for _, _, original, wrapper in plan[1]
                                if callable(wrapper)})
    return _Vmap.entries[1]


def current_randomness(level):
    return _Vmap.randomness[level - 1]


from . import _vmap_rules  # noqa: E402,F401  (registers the batching rules)
