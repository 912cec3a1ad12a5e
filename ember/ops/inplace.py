"""In-place variants (`add_`, `mul_`, ...): checks first, then write, bump the version, rebase history.

Note [in-place and autograd]: an in-place op is computed out of place (with history), checked
against self's shape and dtype, and copied into self's memory. If it recorded history, self takes
over the new grad_fn. If self is a view, its base gets a CopySlices node that routes the gradient
of the written region through the op and the rest straight to the base's old history.
"""
from .. import _dtype as _dt
from .._device import CPU
from .._tensor import Tensor, VersionCounter, _address, _make, _root
from ..amp._dispatch import AUTOCAST, run_without_autocast
from ..autograd.function import Op
from ..autograd.graph import FREED, SAVED_INPUT, SAVED_OUTPUT, as_strided_node
from ..autograd.grad_mode import _State
from ._common import exact_scaled
from ._registry import export_method

_FROM_NUMPY = _dt._FROM_NUMPY
_CPU_XP = __import__("numpy")


def check_overlap(self):
    """Refuse writing into a tensor in which several elements share one memory location (an expanded
    tensor): the result would depend on the write order, so PyTorch refuses it, and so does ember."""
    array = self._array
    if 0 in array.strides and array.size > 1 and self._device.type != "meta" and \
            any(st == 0 and n > 1 for st, n in zip(array.strides, array.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


def check_partial_overlap(self, other):
    """Refuse an in-place op whose operand shares only part of its memory with self (other is self's
    very elements, or disjoint from them, is fine): the result would depend on the order of writes."""
    a, b = self._array, other._array
    if a is b or (a.base is None and b.base is None) or self._device.type == "meta" or \
            other._device is not self._device:
        return
    xp = self._backend().xp
    if not xp.may_share_memory(a, b):
        return
    if a.shape == b.shape and a.strides == b.strides and _address(a) == _address(b):
        return
    raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor refer "
                       "to a single memory location. Please clone() the tensor before performing the operation.")


def check_inplace(self, name, overlap=True):
    """Refuse in-place ops PyTorch refuses (leaf that requires grad, a view of one, or an output of a
    multi-output view op) under grad mode, and writes into self-overlapping memory in any mode."""
    if overlap:
        check_overlap(self)
    if not _State.grad_enabled:
        return
    base = self._base
    if base is not None and base._requires_grad and self._extra is not None and \
            "multi_output_view" in self._extra:
        _refuse_multi_output_view(self, name)
    if base is None:
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation. "
                               f"({name})")
        return
    if base._requires_grad and self._extra is not None and "view_of_no_grad_view" in self._extra:
        from ..autograd.graph import _op_name
        raise RuntimeError(f"Output {self._out_nr} of {_op_name(self.grad_fn)} is a view of a view which was created "
                           "in no_grad mode and is being modified inplace with grad mode enabled. Given that this "
                           "use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
                           "moving both the view and the inplace either both inside the no_grad block (if you "
                           "don't want the inplace to be tracked) or both outside (if you want the inplace to be "
                           f"tracked). ({name})")
    if base._requires_grad and (self._extra is None or "view_fn" not in self._extra):
        raise RuntimeError("A view was created in no_grad mode and is being modified inplace with grad mode "
                           "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
                           "can clarify your code by moving both the view and the inplace either both inside the "
                           f"no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
                           f"want the inplace to be tracked). ({name})")
    leaf_view = self._extra.get("leaf_view_base") if self._extra is not None else None
    if (base._requires_grad and base.grad_fn is None) or (leaf_view is not None and leaf_view.grad_fn is None):
        raise RuntimeError(f"a view of a leaf Variable that requires grad is being used in an in-place "
                           f"operation. ({name})")


def _refuse_multi_output_view(self, name):
    """Note [multi-output views]: split, chunk and unbind return several views from one node, whose
    backward is a single concatenation. An in-place op on one piece would have to rewrite that shared
    node for every piece; PyTorch refuses it instead (as do views of such a piece), and so does ember."""
    from ..autograd.graph import _op_name
    fn = self.grad_fn
    raise RuntimeError(f"Output {self._out_nr} of {_op_name(fn) if fn is not None else 'a view'} is a view and is "
                       "being modified inplace. This view is the output of a function that returns multiple "
                       "views. Such functions do not allow the output views to be modified inplace. You should "
                       f"replace the inplace operation by an out-of-place one. ({name})")


def _check_result(self, result, name):
    if result._array.shape != self._array.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)} ({name}: self {tuple(self.shape)}, result "
                           f"{tuple(result.shape)})")
    src, dst = result.dtype, self.dtype
    if src.category > dst.category:
        raise RuntimeError(f"result type {_cap(src)} can't be cast to the desired output type {_cap(dst)} "
                           f"({name})")


def _cap(d):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}[d.name]


def apply_inplace(self, fn, name, args, kwargs):
    check_inplace(self, name)
    for arg in args:
        if isinstance(arg, Tensor):
            check_partial_overlap(self, arg)
    result = run_without_autocast(fn, self, *args, **kwargs) if AUTOCAST else fn(self, *args, **kwargs)   # as PyTorch
    if not isinstance(result, Tensor):
        raise RuntimeError(f"{name}: in-place form needs a tensor result")
    _check_result(self, result, name)
    _write(self, result)
    return self


def _write(self, result):
    recording = result.grad_fn is not None and _State.grad_enabled
    if recording:
        if result._array.dtype != self._array.dtype:     # self keeps its dtype: so must its gradient
            from ._common import cast
            result = cast(result, _FROM_NUMPY[self._array.dtype])
        _keep_original_self(self, result.grad_fn)
    xp = self._backend().xp
    if result._array is not self._array:
        xp.copyto(self._array, result._array, casting="unsafe")
    self._bump_version()
    if recording:
        _saved_output_is_self(self, result)
        if self._base is not None:
            _rebase_view(self, result)
        else:
            self.grad_fn = result.grad_fn
            self._out_nr = result._out_nr
            self._requires_grad = True
    elif self._base is not None and self._base._requires_grad and _State.grad_enabled:
        _rebase_view(self, result)


def _saved_output_is_self(self, result):
    """Note [in-place saved outputs]: an op that saves its output (exp_, sigmoid_, prod ...) saved the
    out-of-place result; after the copy that result lives in self's memory, so the saved entry is
    repointed at self's array and version counter. A later in-place op on self is then caught by the
    version check, as in PyTorch, instead of silently using the stale copy."""
    node = result.grad_fn
    saved = node._saved
    if not saved or saved is FREED:
        return
    array = result._array
    entries = None
    for i, entry in enumerate(saved):
        if entry is not None and entry[0] == SAVED_OUTPUT and entry[1] is array:
            if entries is None:
                entries = list(saved)
            entries[i] = (SAVED_OUTPUT, self._array, self._vc, self._vc.value, entry[4], entry[5])
    if entries is not None:
        node._saved = tuple(entries)


def _keep_original_self(self, node):
    """The op computed from self saved it for backward; self is about to be overwritten, so the node
    keeps a copy of the original instead (PyTorch's "original self"), connected to self's old history."""
    saved = node._saved
    if not saved or saved is FREED:
        return
    snapshot = None
    entries = list(saved)
    for i, entry in enumerate(entries):
        if entry is not None and entry[0] == SAVED_INPUT and entry[1] is self:
            if snapshot is None:
                snapshot = _make(self._array.copy(), self._device, self._requires_grad, self.grad_fn,
                                 self._out_nr)
            entries[i] = (SAVED_INPUT, snapshot, 0)
    if snapshot is not None:
        node._saved = tuple(entries)


def make_inplace(fn, name):
    def inplace(self, *args, **kwargs):
        return apply_inplace(self, fn, name, args, kwargs)
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = f"In-place version of {fn.__name__}()."
    return inplace


class CopySlices(Op):
    """base with the region `view_fn` selects replaced by `value` (the history of an in-place on a view)."""
    node_name = "CopySlices"
    @staticmethod
    def forward(ctx, base, value, view_fn):
        ctx.view_fn = view_fn
        return base                                # already written in place; the node only routes grads

    @staticmethod
    def backward(ctx, grad):
        view_fn = ctx.view_fn
        xp = ctx.xp
        mask_array = xp.ones(grad.shape, dtype=grad._array.dtype)
        region = view_fn(_make(mask_array, grad.device))
        region._array[...] = 0
        mask = _make(mask_array, grad.device)
        grad_base = grad * mask if ctx.needs_input_grad[0] else None
        grad_value = view_fn(grad) if ctx.needs_input_grad[1] else None
        return grad_base, grad_value, None


def _rebase_view(view, result):
    """Give the view's base a CopySlices history and the view a fresh view node over it."""
    base = view._base
    view_fn = view._extra.get("view_fn") if view._extra is not None else None
    if view_fn is None:
        raise RuntimeError("in-place operation on a view whose creation was not recorded (it was made under "
                           "no_grad); ember cannot give it correct gradients. Make the view with grad enabled "
                           "or use an out-of-place op.")
    old_base = _make(base._array, base._device, base._requires_grad, base.grad_fn, base._out_nr, base._vc)
    new_base = CopySlices.apply(old_base, result if result._requires_grad else result.detach(), view_fn)
    base.grad_fn = new_base.grad_fn
    base._out_nr = 0
    base._requires_grad = True
    new_view = view_fn(base)
    view.grad_fn = as_strided_node(new_view.grad_fn)
    view._out_nr = new_view._out_nr
    view._requires_grad = True


def write_out(out, result):
    """Honour an `out=` argument: resize an empty out, else require the result's shape; cast like PyTorch."""
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a Tensor, not {type(out).__name__}")
    if _State.grad_enabled and (out._requires_grad or result._requires_grad):
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one "
                           "of the arguments requires grad.")
    check_overlap(out)
    if out._array.shape != result._array.shape:
        if out._array.size != 0:
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(result.shape)}.", UserWarning,
                          stacklevel=3)
        out._array = _resized(out, result._array.shape)
        out._backend().xp.copyto(out._array, result._array, casting="unsafe")
        out._bump_version()
        return out
    _check_result(out, result, "out=")
    _write(out, result)
    return out


def _resized(t, shape):
    """A contiguous array of `shape` for t's new storage: in the memory t already views (from t's first
    element on) when that memory is large enough, so a view's base sees the writes as in PyTorch;
    otherwise new memory. (Tensor.resize_ places memory the same way, but refuses tensors that require
    grad, which out= resizes under no_grad.)"""
    import math
    array = t._array
    xp = t._backend().xp
    n = math.prod(shape)
    root = _root(array)
    if root is None:
        root = array
    if xp is _CPU_XP and array.size and root.flags.c_contiguous and root.flags.writeable and \
            root.dtype == array.dtype:
        start, rem = divmod(_address(array) - _address(root), array.dtype.itemsize)
        if not rem and start + n <= root.size:
            return root.reshape(-1)[start:start + n].reshape(shape)
    return xp.empty(shape, dtype=array.dtype)


# --- fast in-place arithmetic: no autograd involved, so write straight into self's memory ----------

def _fast_binary(name, ufunc_name, slow):
    def inplace(self, other, *, alpha=1):
        if _State.grad_enabled and (self._requires_grad or getattr(other, "_requires_grad", False)) or \
                self._base is not None and self._base._requires_grad:
            return apply_inplace(self, slow, name, (other,), {"alpha": alpha} if alpha != 1 else {})
        a = self._array
        if isinstance(other, Tensor):
            if other._device is not self._device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {self._device} and {other._device}! ({name})")
            b = other._array
            if a.base is not None or b.base is not None:
                check_partial_overlap(self, other)
            if a.dtype != b.dtype and _FROM_NUMPY[b.dtype].category > _FROM_NUMPY[a.dtype].category:
                return apply_inplace(self, slow, name, (other,), {"alpha": alpha} if alpha != 1 else {})
            if b.shape != a.shape:
                _check_broadcast(self, b)
        else:
            b = other
            src = _dt._category_default(0 if isinstance(b, bool) else 1 if isinstance(b, int) else
                                        2 if isinstance(b, float) else 3) if not hasattr(b, "dtype") else \
                _FROM_NUMPY.get(getattr(b, "dtype", None), _dt.float64)
            if src.category > _FROM_NUMPY[a.dtype].category:
                return apply_inplace(self, slow, name, (other,), {"alpha": alpha} if alpha != 1 else {})
        if is_div and a.dtype.kind in "biu":
            return apply_inplace(self, slow, name, (other,), {"alpha": alpha} if alpha != 1 else {})
        if 0 in a.strides:
            check_overlap(self)
        if alpha != 1:
            if alpha.__class__ is not int and (alpha.__class__ is not float or a.dtype.kind != "f"):
                return apply_inplace(self, slow, name, (other,), {"alpha": alpha})   # the checked path
            if a.dtype == _CPU_XP.float32 and getattr(b, "dtype", None) == a.dtype:
                b = exact_scaled(_CPU_XP, b, alpha)      # rounded once by the write below, as AddScaled
            else:
                b = b * alpha
        xp = _CPU_XP if self._device is CPU else self._backend().xp
        getattr(xp, ufunc_name)(a, b, out=a, casting="unsafe")
        vc = self._vc
        if vc is None:
            self._vc = VersionCounter(1)
        else:
            vc.value += 1
        return self
    is_div = name == "div_"
    inplace.__name__ = inplace.__qualname__ = name
    return inplace


def _check_broadcast(self, b):
    try:
        shape = self._backend().xp.broadcast_shapes(b.shape, self._array.shape)
    except ValueError:
        shape = None
    if shape != self._array.shape:
        _raise_shape(self, b)


def _raise_shape(self, b):
    from ._shapes import broadcast_shapes
    broadcast_shapes(tuple(self.shape), tuple(b.shape), op=f"in-place op on shape {tuple(self.shape)}")
    raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                       f"{list(broadcast_shapes(tuple(self.shape), tuple(b.shape)))}")


def _install_fast():
    from . import arithmetic
    for name, ufunc in (("add_", "add"), ("sub_", "subtract"), ("mul_", "multiply"), ("div_", "true_divide")):
        slow = getattr(arithmetic, name[:-1])
        if name in ("mul_", "div_"):                 # these take no alpha
            slow = (lambda f: lambda self, other, **kw: f(self, other))(slow)
        export_method(_fast_binary(name, ufunc, slow), name)


def copy_(self, src, non_blocking=False):
    """Copy src's values into self (broadcasting src, casting to self's dtype)."""
    return overwrite(self, src, _CopyFrom)


def overwrite(self, src, op, overlap=True):
    """self's values replaced by src's, recorded as `op` (copy_, or the fill_/zero_/random-fill nodes);
    overlap=False for fills, which may write into an expanded self (every element gets one value)."""
    if not isinstance(src, Tensor):
        from .creation import tensor
        src = tensor(src)
    if _State.grad_enabled or 0 in self._array.strides:
        check_inplace(self, "copy_", overlap)
    check_partial_overlap(self, src)
    if not (_State.grad_enabled and (self._requires_grad or src._requires_grad or
                                     (self._base is not None and self._base._requires_grad))):
        xp = self._backend().xp
        array = src._array
        if src._device is not self._device:
            from .._backends import backend_for
            array = self._backend().from_numpy(backend_for(src._device).to_numpy(array))
        try:
            xp.copyto(self._array, array, casting="unsafe")
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({self.shape[-1] if self.ndim else 1}) must match the size "
                               f"of tensor b ({src.shape[-1] if src.ndim else 1}): copy_ of shape "
                               f"{tuple(src.shape)} into {tuple(self.shape)}") from None
        self._bump_version()
        return self
    from .views import expand
    from ._common import cast
    value = cast(src, self.dtype) if src.dtype is not self.dtype else src
    if value._device is not self._device:
        value = value.to(self._device)
    value = expand(value, self.shape) if tuple(value.shape) != tuple(self.shape) else value
    result = op.apply(self, value)
    _write(self, result)
    return self


class _CopyFrom(Op):
    """self overwritten by src: self's old values get a zero gradient (they stay in the graph, as in
    PyTorch, so a leaf behind them gets zeros rather than None), src gets the gradient."""
    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, self, src):
        return src.copy()

    @staticmethod
    def backward(ctx, grad):
        from .creation import zeros_like
        return (zeros_like(grad) if ctx.needs_input_grad[0] else None), grad


_OVERWRITE_OPS = {}


def overwrite_op(node_name):
    """The _CopyFrom variant recorded under PyTorch's grad_fn name for fill_, zero_, uniform_ ..."""
    op = _OVERWRITE_OPS.get(node_name)
    if op is None:
        op = _OVERWRITE_OPS[node_name] = type(node_name[:-len("Backward0")] or node_name, (_CopyFrom,),
                                              {"node_name": node_name})
    return op


def zero_(self):
    return _fill(self, 0, "zero_", "ZeroBackward0")


def fill_(self, value):
    return _fill(self, value, "fill_", "FillBackward2")


def _fill(self, value, name, node_name):
    # An expanded self is allowed here: every element gets the same value, so PyTorch fills it too.
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               f"dimensions.")
        if _State.grad_enabled and value._requires_grad:
            return overwrite(self, value.expand(self.shape), overwrite_op("FillBackward3"))
        value = value.item()
    check_inplace(self, name, overlap=False)
    from ._common import checked_scalar
    value = checked_scalar(value, self.dtype)      # refuse values the dtype cannot hold, before writing
    if _State.grad_enabled and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
        from .creation import full
        return overwrite(self, full(self.shape, value, dtype=self.dtype, device=self.device),
                         overwrite_op(node_name), overlap=False)
    if not self._array.flags.writeable and 0 in self._array.strides:
        self._array.flags.writeable = True         # NumPy's broadcast views are read-only; filling one is fine
    self._array[...] = value
    self._bump_version()
    return self


export_method(copy_, "copy_")
export_method(zero_, "zero_")
export_method(fill_, "fill_")
