"""Forward-mode AD (PyTorch's torch.autograd.forward_ad): dual tensors whose tangents ride along every op.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        jvp = forward_ad.unpack_dual(y).tangent          # J_f(primal) @ tangent

Note [forward AD]: a tensor's tangent is kept in its `_extra["fw_grad"]`. While a level is entered, every
primitive (Op.apply and its fast paths, custom Functions, the in-place writes) checks `_Fw.on` (one class
attribute read: nothing else is paid when no level is entered) and, when an input carries a tangent, runs
`fw_apply`: the op runs as usual for the primal, then the output's tangent is computed
  - by an explicit rule (JVP_RULES: add, sub, mul, div, matmul), or
  - for view, reshape, sum and mean ops, which are linear, by the op itself applied to the tangent (a view's
    tangent is the same view of its base's tangent, as in PyTorch), or
  - for every other op, from its own backward formula (exact, one backward and one double backward): with u a
    cotangent of the output, the op's vjp g(u) = J^T u is linear in u, so the gradient of <g(u), t> with
    respect to u is J t. The op's forward runs once, recorded, so random ops keep their one draw.
Tangents are tensors like any other: they carry reverse-mode history when they depend on tensors that require
grad (forward-over-reverse, as jacfwd(jacrev(f)) needs). Levels nest (ember.func's jvp enters its own, so
jacfwd(jacfwd(f)) works; the public enter_dual_level keeps PyTorch's one level): a tensor keeps a tangent per
level, fw_apply computes the innermost level's with that level paused while the op and the tangent's own ops
carry the other levels' tangents (tangents of tangents).
"""
import collections
import weakref

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]


class _Fw:
    on = False              # some entered level is active (not suspended while its tangents are computed)
    level = None            # the innermost entered level, None outside forward AD
    levels = []             # the entered levels, outermost first
    suspended = set()       # levels whose propagation is paused
    holders = {}            # level -> weak references to the tensors given a tangent there (cleared at exit)
    capture = None          # a list while a custom Function's jvp needs the ctx its apply makes


UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def _refresh():
    _Fw.level = _Fw.levels[-1] if _Fw.levels else None
    _Fw.on = any(level not in _Fw.suspended for level in _Fw.levels)


def _enter():
    """Enter a level (nested levels allowed: ember.func's jvp and jacfwd nest them); returns its index."""
    if not JVP_RULES:
        _register()
    level = len(_Fw.levels)
    _Fw.levels.append(level)
    _Fw.holders[level] = []
    _refresh()
    return level


def enter_dual_level():
    """Enter a new forward grad level; returns its index. One at a time, as PyTorch's forward_ad (ember.func's
    transforms nest levels: jacfwd(jacfwd(f)))."""
    if _Fw.levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    return _enter()


def exit_dual_level(*, level=None):
    """Exit the innermost level: every tangent made in it is dropped."""
    if not _Fw.levels or (level is not None and level != _Fw.levels[-1]):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. This "
                           "is not supported.")
    level = _Fw.levels.pop()
    for ref in _Fw.holders.pop(level, ()):
        t = ref()
        if t is not None and t._extra is not None:
            tangents = t._extra.get("fw_grad")
            if tangents is not None:
                tangents.pop(level, None)
                if not tangents:
                    del t._extra["fw_grad"]
    _Fw.suspended.discard(level)
    _refresh()


class dual_level:
    """Context manager: a forward AD level for the block."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()


class _nested_level:
    """A level that may nest in others (ember.func's jvp)."""

    def __enter__(self):
        return _enter()

    def __exit__(self, *exc):
        exit_dual_level()


def _no_level():
    return RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                        "enter_dual_level() first.")


def tangent_of(t, level=None):
    """t's tangent at `level` (the innermost entered level by default), or None."""
    extra = t._extra
    if extra is None:
        return None
    tangents = extra.get("fw_grad")
    if tangents is None:
        return None
    return tangents.get(_Fw.level if level is None else level)


def tangents_of(t):
    """{level: tangent} of t (empty when it has none)."""
    extra = t._extra
    return {} if extra is None else extra.get("fw_grad") or {}


def set_tangent(t, tangent, level=None):
    level = _Fw.level if level is None else level
    extra = t._extra_dict()
    tangents = extra.get("fw_grad")
    if tangents is None:
        tangents = extra["fw_grad"] = {}
    tangents[level] = tangent
    _Fw.holders.setdefault(level, []).append(weakref.ref(t))


class _suspend_level:
    """Pause the propagation of one level (its tangent is being computed; the other levels still propagate)."""
    __slots__ = ("level", "was")

    def __init__(self, level):
        self.level = level

    def __enter__(self):
        self.was = self.level in _Fw.suspended
        _Fw.suspended.add(self.level)
        _refresh()

    def __exit__(self, *exc):
        if not self.was:
            _Fw.suspended.discard(self.level)
        _refresh()


def make_dual(tensor, tangent, *, level=None):
    """A view of `tensor` whose tangent is `tangent` (same size; cast to tensor's dtype if needed)."""
    from .._tensor import Tensor
    if _Fw.level is None:
        raise _no_level()
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError("make_dual expects Tensors for both the primal and the tangent")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"Expected tangent on {tensor.device}, got it on {tangent.device}")
    if hasattr(tensor, "_phys") or hasattr(tangent, "_phys"):          # inside vmap (Note [vmap]): the batch
        return _batched(tensor, tangent, lambda p, t: make_dual(p, t, level=level))
    level = _Fw.level if level is None else level
    with _suspend_level(level):                    # the view keeps the tangents of the other levels
        dual = tensor.view_as(tensor)
    set_tangent(dual, tangent if tangent.dtype == tensor.dtype else tangent.to(tensor.dtype), level)
    return dual


def _batched(tensor, tangent, make):
    """make_dual of BatchedTensors: the dual is made on the physical tensors (where the ops run)."""
    from .._vmap import _is_batched, _level_of, _wrap, whole_batch
    level = max(_level_of(tensor), _level_of(tangent))
    size = (tensor if _is_batched(tensor, level) else tangent)._phys.shape[0]
    return _wrap(make(whole_batch(tensor, level, size), whole_batch(tangent, level, size)), level)


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) at `level` (the innermost by default): the primal as a view without that tangent (it keeps
    the other levels'), and the tangent (None when there is none)."""
    from .._tensor import Tensor
    if not isinstance(tensor, Tensor) or _Fw.level is None:
        return UnpackedDualTensor(tensor, None)
    if hasattr(tensor, "_phys"):                   # a BatchedTensor: unpack the batch, wrap both parts
        from .._vmap import _wrap
        primal, tangent = unpack_dual(tensor._phys, level=level)
        return UnpackedDualTensor(_wrap(primal, tensor._level),
                                  None if tangent is None else _wrap(tangent, tensor._level))
    level = _Fw.level if level is None else level
    tangent = tangent_of(tensor, level)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with _suspend_level(level):
        primal = tensor.view_as(tensor)
    return UnpackedDualTensor(primal, tangent)


# -- propagation -------------------------------------------------------------------------------------------

def has_tangent(values):
    """Whether some value carries a tangent of an active (not suspended) level."""
    from .._tensor import Tensor
    for v in values:
        if isinstance(v, Tensor) and v._extra is not None:
            tangents = v._extra.get("fw_grad")
            if tangents:
                for level in tangents:
                    if level not in _Fw.suspended:
                        return True
    return False


class _suspended:
    """Compute without propagating any level's tangents (a primal write, a custom Function's forward)."""

    def __enter__(self):
        self.was = set(_Fw.suspended)
        _Fw.suspended.update(_Fw.levels)
        _refresh()

    def __exit__(self, *exc):
        _Fw.suspended = self.was
        _refresh()


def _differentiable(t):
    return t._array.dtype.kind in "fc"


def _active_level(values):
    """The innermost active level some value has a tangent at."""
    from .._tensor import Tensor
    found = -1
    for v in values:
        if isinstance(v, Tensor) and v._extra is not None:
            for level in v._extra.get("fw_grad") or ():
                if level > found and level not in _Fw.suspended:
                    found = level
    return found


def fw_apply(cls, inputs, attrs):
    """Op.apply for an op with a dual input (Note [forward AD]): the innermost level with a tangent is computed
    here, with that level paused; the op and the tangent's own ops propagate the other levels."""
    from .._tensor import Tensor
    level = _active_level(inputs)
    tangents = [tangent_of(t, level) if isinstance(t, Tensor) else None for t in inputs]
    rule = JVP_RULES.get(cls)                      # exact classes only: a subclass may compute otherwise
    with _suspend_level(level):
        if rule is not None or cls in LINEAR:
            out = cls.apply(*inputs, **attrs)
            outs = out if out.__class__ is tuple else (out,)
            if rule is not None:
                out_tangents = rule(inputs, tangents, outs, attrs)
            else:                                       # linear in its one tensor input
                t = tangents[0]
                out_tangents = (cls.apply(t, *inputs[1:], **attrs),) if t is not None else (None,)
        else:
            out, out_tangents = _derived(cls, inputs, tangents, attrs, level)
            outs = out if out.__class__ is tuple else (out,)
        if out_tangents.__class__ is not tuple:
            out_tangents = out_tangents if isinstance(out_tangents, list) else (out_tangents,)
        for o, t in zip(outs, out_tangents):
            if t is not None and isinstance(o, Tensor) and _differentiable(o):
                if tuple(t.shape) != tuple(o.shape):
                    t = t.expand(o.shape).contiguous() if t.dim() <= o.dim() else t.reshape(o.shape)
                set_tangent(o, t, level)
                node = o._grad_fn
                if node is not None:                # a saved output is rebuilt from the node: keep its tangent
                    node.__dict__.setdefault("_fw_out_tangents", {})[(level, o._out_nr)] = t
    return out


def _detached(t, level):
    """t.detach() that keeps t's tangents of the levels other than `level` (nested forward AD: the tangent being
    computed at one level carries the others')."""
    d = t.detach()
    for other, tangent in tangents_of(t).items():
        if other != level and other in _Fw.levels:
            set_tangent(d, tangent, other)
    return d


def _derived(cls, inputs, tangents, attrs, level):
    """(output, its tangents) from the op's backward formula: the forward runs once, recorded on aliases of the
    dual inputs; J t = d<vjp(u), t>/du."""
    from .._tensor import Tensor
    from . import grad as autograd_grad
    from .grad_mode import _State
    aliases = list(inputs)
    slots = []
    outside = False                                 # some input or tangent has reverse-mode history
    for i, (t, tan) in enumerate(zip(inputs, tangents)):
        if tan is None or not isinstance(t, Tensor) or not _differentiable(t):
            continue
        outside = outside or t.requires_grad or tan.requires_grad
        aliases[i] = t.view_as(t) if t.requires_grad else _detached(t, level).requires_grad_()
        if outside:                   # the node saves the alias: a later backward through it must see the tangent
            set_tangent(aliases[i], tan, level)
        slots.append(i)
    grad_mode = _State.grad_enabled
    _State.grad_enabled = True
    try:
        out = cls.apply(*aliases, **attrs)
        outs = list(out) if out.__class__ is tuple else [out]
        live = [o for o in outs if isinstance(o, Tensor) and o.grad_fn is not None and _differentiable(o)]
        out_tangents = [None] * len(outs)
        if live and slots:
            from .. import ones_like, zeros_like
            # any u works (g is linear in it); ones keep formulas away from their special points (log of 0)
            us = [ones_like(o).requires_grad_() for o in live]
            grads = autograd_grad(live, [aliases[i] for i in slots], grad_outputs=us, create_graph=True,
                                  allow_unused=True)
            total = None
            for g, i in zip(grads, slots):
                if g is not None:
                    # <g, t> over the reals: complex numbers count as pairs of reals (PyTorch's convention)
                    term = (g.conj() * tangents[i]).real.sum() if g.is_complex() or tangents[i].is_complex() \
                        else (g * tangents[i]).sum()
                    total = term if total is None else total + term
            if total is not None and total.grad_fn is not None:
                # with create_graph the formulas run as recorded ops, which carry the other levels' tangents
                nested = any(other != level and other not in _Fw.suspended for other in _Fw.levels)
                found = autograd_grad(total, us, create_graph=(outside and grad_mode) or nested, allow_unused=True)
            else:
                found = [None] * len(us)
            k = 0
            for j, o in enumerate(outs):
                if any(o is x for x in live):
                    f = found[k]
                    out_tangents[j] = _detached(f if f is not None else zeros_like(o), level) \
                        if not (outside and grad_mode) else (f if f is not None else zeros_like(o))
                    k += 1
    finally:
        _State.grad_enabled = grad_mode
    if not (outside and grad_mode):                 # the recording was ours alone: the user's outputs have none
        outs = [_detached(o, level) if isinstance(o, Tensor) and o.grad_fn is not None else o for o in outs]
        out = tuple(outs) if out.__class__ is tuple else outs[0]
    return out, tuple(out_tangents)


def _levels_of(*values):
    """The active levels at which some of the values has a tangent."""
    from .._tensor import Tensor
    found = set()
    for v in values:
        if isinstance(v, Tensor) and v._extra is not None:
            found.update(level for level in v._extra.get("fw_grad") or () if level not in _Fw.suspended)
    return sorted(found)


def setitem_tangent(self, index, value):
    """self[index] = value on dual tensors: the same write on the tangents (zeros where there is none)."""
    from .._tensor import Tensor
    for level in _levels_of(self, value):
        with _suspend_level(level):
            own = tangent_of(self, level)
            if own is None:
                from .. import zeros_like
                own = zeros_like(self)
                _link_tangent(self, own, level)
                own = tangent_of(self, level)
            other = tangent_of(value, level) if isinstance(value, Tensor) else None
            own[index] = other if other is not None else 0


def fill_tangent(self, value):
    """self.fill_(value) / zero_(): self's tangent becomes value's (zero for a number)."""
    from .._tensor import Tensor
    for level in _levels_of(self, value):
        own = tangent_of(self, level)
        other = tangent_of(value, level) if isinstance(value, Tensor) else None
        with _suspend_level(level):
            if other is not None:
                if own is None:
                    from .. import zeros_like
                    _link_tangent(self, zeros_like(self), level)
                    own = tangent_of(self, level)
                own.copy_(other.expand(self.shape) if tuple(other.shape) != tuple(self.shape) else other)
            elif own is not None:
                own.zero_()


def _link_tangent(self, tangent, level):
    """Give self (possibly a view) the tangent `tangent`, as a view of its base's tangent when self is a view."""
    base = self._base
    view_fn = self._extra.get("view_fn") if self._extra is not None else None
    if base is not None and view_fn is not None:
        from .. import zeros_like
        base_tangent = tangent_of(base, level)
        if base_tangent is None:
            base_tangent = zeros_like(base)
            set_tangent(base, base_tangent, level)
        own = view_fn(base_tangent)
        own.copy_(tangent)
        set_tangent(self, own, level)
    else:
        set_tangent(self, tangent, level)


def write_tangent(self, result):
    """self's values are being replaced by result's (an in-place op, copy_): so is its tangent. A tangent self
    already has is written in place, so views of it (the tangents of self's views) see the change."""
    for level in _levels_of(self, result):
        t = tangent_of(result, level)
        own = tangent_of(self, level)
        with _suspend_level(level):
            if t is None:
                if own is not None:
                    own.zero_()
                continue
            if t.dtype != self.dtype:
                t = t.to(self.dtype)
            if own is not None and tuple(own.shape) == tuple(self.shape):
                own.copy_(t)
                continue
            _link_tangent(self, t.expand(self.shape).clone() if tuple(t.shape) != tuple(self.shape) else t.clone(),
                          level)


# -- explicit rules ------------------------------------------------------------------------------------------

def _add_rule(inputs, tangents, outs, attrs):
    a, b = tangents[0], tangents[1] if len(tangents) > 1 else None
    alpha = attrs.get("alpha", 1) if attrs else 1
    if b is not None and alpha != 1:
        b = b * alpha
    return (_sum_tangents(a, b, outs[0]),)


def _sum_tangents(a, b, out):
    if a is None and b is None:
        return None
    if a is None:
        return b.to(out.dtype)
    if b is None:
        return a.to(out.dtype)
    return (a + b).to(out.dtype)


def _sub_rule(inputs, tangents, outs, attrs):
    a, b = tangents[0], tangents[1] if len(tangents) > 1 else None
    alpha = attrs.get("alpha", 1) if attrs else 1
    if b is not None:
        b = -b if alpha == 1 else b * (-alpha)
    return (_sum_tangents(a, b, outs[0]),)


def _mul_rule(inputs, tangents, outs, attrs):
    x, y = inputs[0], inputs[1]
    a, b = tangents
    return (_sum_tangents(a * y if a is not None else None, b * x if b is not None else None, outs[0]),)


def _div_rule(inputs, tangents, outs, attrs):
    y = inputs[1]
    a, b = tangents
    out = outs[0]
    return (_sum_tangents(a / y if a is not None else None, -b * out / y if b is not None else None, out),)


def _matmul_rule(inputs, tangents, outs, attrs):
    from .. import matmul
    x, y = inputs[0], inputs[1]
    a, b = tangents
    return (_sum_tangents(matmul(a, y) if a is not None else None, matmul(x, b) if b is not None else None,
                          outs[0]),)


JVP_RULES = {}
LINEAR = set()


def _register():
    from ..ops import arithmetic, products, reduction, views
    JVP_RULES.update({arithmetic.Add: _add_rule, arithmetic.Sub: _sub_rule, arithmetic.Mul: _mul_rule,
                      arithmetic.MulPromoted: _mul_rule, arithmetic.Div: _div_rule, products.Matmul: _matmul_rule,
                      products.BmmOp: _matmul_rule, products.UnsafeViewMatmul: _matmul_rule})
    for name in ("View", "ReshapeCopy", "Permute", "Transpose", "TOp", "Expand", "Squeeze", "SqueezeDim",
                 "SqueezeDims", "Unsqueeze"):
        LINEAR.add(getattr(views, name))
    for name in ("Sum", "SumAll", "Mean", "MeanDim"):
        LINEAR.add(getattr(reduction, name))
