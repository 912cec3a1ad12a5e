"""In-place variants (`add_`, `mul_`, ...): checks first, then write, bump the version, rebase history.

Note [in-place and autograd]: an in-place op is computed out of place (with history), checked
against self's shape and dtype, and copied into self's memory. If it recorded history, self takes
over the new grad_fn. If self is a view, its base gets a CopySlices node that routes the gradient
of the written region through the op and the rest straight to the base's old history.
"""
import weakref

from .. import _dtype as _dt
from .._device import CPU
from .._tensor import Tensor, VersionCounter, _address, _make, _root
from ..amp._dispatch import AUTOCAST, run_without_autocast
from ..autograd import forward_ad as _forward_ad
from ..autograd.forward_ad import _Fw
from ..autograd.function import Op
from ..autograd.graph import (FREED, SAVED_INPUT, SAVED_OUTPUT, as_strided_node, check_view_rebase, move_retains_grad,
                              next_sequence_nr)
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


def check_partial_overlap(self, other, full=False):
    """Refuse an in-place op whose operand shares part of its memory with self, as PyTorch does.

    Note [overlapping operands]: PyTorch compares the written tensor with each operand (get_overlap_status):
    the same tensor, or the same elements in the same layout, is a full overlap; both laid out densely over one
    storage with intersecting extents is a partial overlap; a tensor that is not dense (a diagonal, a column, a
    broadcast) is "too hard" to tell. Elementwise in-place ops refuse partial overlaps only; index_add_,
    index_copy_, scatter_*, put_ and index_put_ refuse full ones too (`full`). A too-hard operand that does
    share memory with self is read as it is written, element after element in self's memory order; this
    returns True then, for the caller to do the same (`x.add_(x.diagonal())`: _sequential_write)."""
    return _check_arrays(self._array, other._array, other is self, full, self._device, other._device)


def _check_arrays(a, b, same, full, device, other_device):
    """check_partial_overlap on the arrays of the written tensor and of an operand (`same`: the very tensor)."""
    if a.base is None and b.base is None and a is not b or other_device is not device or device.type == "meta":
        return None
    if same or a is b and _dense(a):
        if full:
            _raise_overlap()
        return None
    if a.size == 0 or b.size == 0 or \
            not (_CPU_XP if device is CPU else _backend_for(device).xp).may_share_memory(a, b):
        return None
    if not (_dense(a) and _dense(b)):
        # too hard for PyTorch: no check. Read as written only where that can differ from reading a snapshot
        # (the same elements in the same layout read themselves; NumPy tells interleaved views apart)
        if device is not CPU or a is b or (a.shape == b.shape and a.strides == b.strides and
                                           _data_address(a) == _data_address(b)):
            return None
        try:
            return bool(_CPU_XP.shares_memory(a, b, max_work=10000)) or None
        except getattr(_CPU_XP, "exceptions", _CPU_XP).TooHardError:     # numpy.exceptions from NumPy 1.25 on
            return True
    start_a, start_b = _data_address(a), _data_address(b)
    end_a, end_b = start_a + a.nbytes, start_b + b.nbytes
    if start_a == start_b and end_a == end_b and a.shape == b.shape and all(
            sa == sb for sa, sb, n in zip(a.strides, b.strides, a.shape) if n > 1):   # size-1 dims: any stride
        if full:
            _raise_overlap()
        return None
    if start_a < end_b and start_b < end_a:
        _raise_overlap()
    return None


def check_setitem_overlap(t, idx, basic, value):
    """`t[idx] = value` (value without leading size-1 dims): PyTorch fills the region a basic index selects with a
    0-d value, else copies value, expanded to the region's shape, into it (value may not partly overlap the
    region), and calls index_put_ for an advanced index (value may not overlap t at all). True when the region is
    to be written reading value as it goes (Note [overlapping operands]); "same" when value is the region itself."""
    if not basic:
        check_partial_overlap(t, value, True)
        return False
    b = value._array
    if not b.ndim:
        return False
    region = t._array[idx if Ellipsis in idx else idx + (Ellipsis,)]
    if b.shape == region.shape and b.strides == region.strides and _data_address(b) == _data_address(region):
        return "same"                               # copy_ of the very data: PyTorch returns before any check
    if b.shape != region.shape:
        try:
            b = _CPU_XP.broadcast_to(b, region.shape) if t._device is CPU else b
        except ValueError:
            return False                            # the write reports the shape mismatch
    return _check_arrays(region, b, False, False, t._device, value._device)


def _data_address(array):
    """The address of an array's first element, on the CPU (NumPy) or a GPU (CuPy's __cuda_array_interface__)."""
    iface = getattr(array, "__array_interface__", None) or getattr(array, "__cuda_array_interface__", None)
    return iface["data"][0] if iface is not None else 0


def _backend_for(device):
    from .._backends import backend_for
    return backend_for(device)


def _raise_overlap():
    raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor refer "
                       "to a single memory location. Please clone() the tensor before performing the operation.")


def _dense(array):
    """PyTorch's is_non_overlapping_and_dense: the elements fill a block of memory exactly, in some order of the
    dims (size-1 dims ignored)."""
    flags = array.flags
    if flags.c_contiguous or flags.f_contiguous:
        return True
    dims = sorted((st, n) for st, n in zip(array.strides, array.shape) if n > 1)
    expected = array.itemsize
    for st, n in dims:
        if st != expected:
            return False
        expected *= n
    return True


def _memory_order(array):
    """The index tuples of array's elements, in the order of their addresses (PyTorch's loops run over the
    written tensor in memory order). Host-side: the order comes from the shape and strides alone, and the
    callers' Python loops need host indices."""
    import numpy as np
    if not array.ndim:
        return [()]
    offsets = sum(i * st for i, st in zip(np.indices(array.shape, sparse=True), array.strides))
    order = np.argsort(np.broadcast_to(offsets, array.shape).ravel(), kind="stable")
    return zip(*np.unravel_index(order, array.shape))


def _sequential_masked_scatter(self, mask, source):
    """masked_scatter_ with a source over self's memory: PyTorch's serial loop reads source[k] as it writes."""
    a = self._array
    m = self._backend().xp.broadcast_to(mask._array, a.shape)
    src = source._array.reshape(-1)
    k = 0
    for i in _memory_order(a):
        if m[i]:
            a[i] = src[k]
            k += 1


# Ops that read their operand as PyTorch's TensorIterator does when it overlaps self in a way PyTorch cannot tell
# (Note [overlapping operands]), by NumPy ufunc; copy_ is None.
_SEQUENTIAL = {"add_": "add", "sub_": "subtract", "mul_": "multiply", "div_": "true_divide", "copy_": None}
# Ops whose tensor operands may not overlap self at all (PyTorch's assert_no_overlap).
_NO_OVERLAP = frozenset({"index_add_", "index_copy_", "scatter_", "scatter_add_", "scatter_reduce_", "put_",
                         "index_put_"})
# Ops PyTorch runs on a self-overlapping (expanded) self, with a deprecation warning, recorded or not
# (Note [writes into expanded tensors] in indexing.py): name -> how it writes the selected positions.
_EXPANDED_WRITES = {"masked_fill_": None, "index_fill_": None, "index_put_": None}
# Ops whose tensor operand is a value read once (a 0-d fill value) or read in order (masked_scatter_'s source):
# PyTorch checks no overlap.
_UNCHECKED = frozenset({"index_fill_", "masked_fill_", "masked_scatter_"})


def _sequential_write(self, other, op, alpha=1):
    """self[i] = op(self[i], other[i]) (or other[i] for copy_), one element at a time in self's memory order,
    each reading what the earlier ones wrote: what PyTorch's loop computes for an operand that overlaps self
    without being refused (Note [overlapping operands]; its vectorised loop reads 16 elements at a time
    instead when both sides are contiguous along a dim of 16 or more, which this does not follow)."""
    xp = self._backend().xp
    a = self._array
    b = other._array if isinstance(other, Tensor) else other
    b = xp.broadcast_to(xp.asarray(b) if b.__class__ is not a.__class__ else b, a.shape)
    ufunc = getattr(xp, op) if op is not None else None
    for i in _memory_order(a):
        value = b[i] if alpha == 1 else b[i] * alpha
        a[i] = value if ufunc is None else ufunc(a[i], value)


def check_inplace(self, name, overlap=True):
    """Refuse what PyTorch refuses before an in-place op: writes into self-overlapping memory in any mode, and
    under grad mode, when self requires grad, an in-place op on a leaf that requires grad or on a view that may not
    get new history (check_view_inplace). A view that requires grad only through an operand is checked when the
    op records (_write)."""
    if overlap:
        check_overlap(self)
    if not _State.grad_enabled:
        return
    base = self._base
    if base is None:
        if self._requires_grad and self._grad_fn is None:
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation. "
                               f"({name})")
        return
    extra = self._extra
    if extra is not None and "data_set_at" in extra:    # a view whose .data was set: the op's nodes come after
        extra["data_set_at"] = next_sequence_nr()      # this number (_route_through_base)
    fn = self._grad_fn
    if fn is not None and (fn._runs_pre_backward or fn._runs_post_backward):
        # the view's node has hooks: the op's gradient for the view must not run them (_rebase_view)
        self._extra_dict()["hooked_inplace_at"] = next_sequence_nr()
    if self._requires_grad or base._requires_grad:
        check_view_inplace(self, name)


def check_view_inplace(self, name=None):
    """PyTorch's check_inplace for a view, when an input of the op requires grad: the view must be one that may
    get new history (not made in no_grad mode nor by split/unbind/chunk: Note [views] in views.py), and may
    not require grad over a leaf base (the in-place op would rewrite that leaf's history).

    Note [multi-output views]: split, chunk and unbind return several views from one node, whose backward is a
    single concatenation. An in-place op on one piece would have to rewrite that shared node for every piece;
    PyTorch refuses it instead (as do views of such a piece), and so does ember."""
    check_view_rebase(self, self._grad_fn, False, name)
    base = self._base
    if (self._requires_grad or base._requires_grad) and base._grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation." +
                           (f" ({name})" if name else ""))


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


def apply_inplace(self, fn, name, args, kwargs, writer=None):
    """self <- fn(self, *args, **kwargs), recorded as an in-place op; `writer()`, if given, writes self's memory
    instead of a copy of the whole result (t[idx] = v into an expanded t writes the region only)."""
    overlap = name not in _EXPANDED_WRITES
    check_inplace(self, name, overlap)
    if not overlap and writer is None and 0 in self._array.strides and self._device.type != "meta":
        from .indexing import _warn_expanded, has_internal_overlap
        if has_internal_overlap(self._array):     # write the selected positions only, as PyTorch (with its warning)
            _warn_expanded(name, "tensor[indices] = tensor" if name == "index_put_" else "tensor[mask] = scalar", 4)
            region_write = _EXPANDED_WRITES[name]
            writer = lambda: region_write(self, *args, **kwargs)    # noqa: E731
    aliased = False
    sequential = None
    for arg in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(arg, Tensor):
            if name in _UNCHECKED:
                if name == "masked_scatter_" and arg is args[-1] and self._device is CPU and \
                        arg.is_contiguous() and _CPU_XP.may_share_memory(self._array, arg._array):
                    sequential = arg               # PyTorch reads a contiguous source as it writes
            elif check_partial_overlap(self, arg, name in _NO_OVERLAP) and name in _SEQUENTIAL:
                sequential = arg                   # read as written: Note [overlapping operands]
            aliased = aliased or arg is self
    if (aliased or kwargs and any(v is self for v in kwargs.values())) and self._requires_grad and \
            _State.grad_enabled:
        alias = _operand_alias(self)               # `y.mul_(y)`: the operand is not self (Note [aliased operands])
        args = tuple([alias if a is self else a for a in args])
        kwargs = {k: alias if v is self else v for k, v in kwargs.items()}
    result = run_without_autocast(fn, self, *args, **kwargs) if AUTOCAST else fn(self, *args, **kwargs)   # as PyTorch
    if not isinstance(result, Tensor):
        raise RuntimeError(f"{name}: in-place form needs a tensor result")
    _check_result(self, result, name)
    if writer is not None:
        _write(self, result, writer)
    elif sequential is not None and name == "masked_scatter_":
        _write(self, result, lambda: _sequential_masked_scatter(self, args[0], sequential))
    elif sequential is not None:
        _write(self, result, lambda: _sequential_write(self, sequential, _SEQUENTIAL[name], kwargs.get("alpha", 1)))
    else:
        _write(self, result)
    return self


def _operand_alias(self):
    """self as an operand of its own in-place op (`y.mul_(y)`): another tensor over self's data, version counter
    and history. The op's saved entries then tell the operand from self: self's is replaced by its original
    (_keep_original_self), the operand's stays and its version check refuses the backward, as in PyTorch
    (Note [aliased operands] in autograd/function.py)."""
    grad_fn = self.grad_fn                         # a view's, regenerated if its base changed
    if self._vc is None:
        self._vc = VersionCounter()
    alias = _make(self._array, self._device, True, grad_fn, self._out_nr, self._vc)
    alias._extra = {"operand_of": weakref.ref(self)}      # its messages name self's history (graph._raise_modified)
    return alias


def _write(self, result, writer=None):
    """Copy result into self (or let `writer()` compute it there: _sequential_write) and give self result's
    history."""
    if _Fw.on:                                     # self's tangent becomes result's (Note [forward AD])
        _forward_ad.write_tangent(self, result)
    recording = result.grad_fn is not None and _State.grad_enabled
    if recording:
        if self._base is not None:
            check_view_inplace(self)               # an operand requires grad: the view gets new history
        _keep_original_self(self, result.grad_fn)  # (the op's node: before a cast back adds one)
        if result._array.dtype != self._array.dtype:     # self keeps its dtype: so must its gradient
            from ._common import cast
            result = cast(result, _FROM_NUMPY[self._array.dtype])
    if writer is not None:
        writer()
    elif result._array is not self._array:
        self._backend().xp.copyto(self._array, result._array, casting="unsafe")
    self._bump_version()
    if recording:
        _saved_output_is_self(self, result)
        if self._base is not None:
            _rebase_view(self, result)
        else:
            old_fn, old_nr = self._grad_fn, self._out_nr
            self.grad_fn = result.grad_fn
            self._out_nr = result._out_nr
            self._requires_grad = True
            if old_fn is not None and old_fn._retains_grad is not None:
                move_retains_grad(self, old_fn, old_nr)
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
    changed = False
    entries = list(saved)
    for i, entry in enumerate(entries):
        if entry is None or entry[0] != SAVED_INPUT:
            continue
        t = entry[1]
        if t is self:
            if snapshot is None:
                snapshot = _make(self._array.copy(), self._device, self._requires_grad, self.grad_fn,
                                 self._out_nr)
            entries[i] = (SAVED_INPUT, snapshot, 0)
            changed = True
        elif t._vc is self._vc and t._array is not self._array and t._extra is not None and \
                "operand_of" in t._extra and t._extra["operand_of"]() is self:
            # self promoted to the op's dtype (ops/_common._operand_cast): already a copy of the original, which
            # stops following self's version
            entries[i] = (SAVED_INPUT, _make(t._array, t._device, t._requires_grad, t.grad_fn, t._out_nr), 0)
            changed = True
    if changed:
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
    holomorphic = False                           # it routes gradients as they are: no conjugation (a view of one
                                                  # component, z.real or z.imag, would flip the imaginary part)
    @staticmethod
    def forward(ctx, base, value, view_fn):
        ctx.view_fn = view_fn
        ctx.save_for_backward()                    # nothing, but released by backward as PyTorch's CopySlices
        return base                                # already written in place; the node only routes grads

    @staticmethod
    def backward(ctx, grad):
        view_fn = ctx.view_fn
        xp = ctx.xp
        complex_grad = grad._array.dtype.kind == "c"
        # complex: ones in both components, so that a view of one component (z.real, z.imag) zeroes only it
        mask_array = xp.full(grad.shape, 1 + 1j if complex_grad else 1, dtype=grad._array.dtype)
        layout = ctx.__dict__.get("base_layout")
        if layout is not None:                    # the base was restrided in place (_rebase_view): lay the mask
            shape, strides, offset, nbytes = layout   # out as the base's, for view_fn to select from it in place
            storage = xp.zeros(nbytes // mask_array.itemsize, dtype=mask_array.dtype)
            mask_array = xp.lib.stride_tricks.as_strided(storage[offset:], shape, strides)
            mask_array[...] = 1 + 1j if complex_grad else 1
        region = view_fn(_make(mask_array, grad.device))
        if ctx.needs_input_grad[0]:               # PyTorch copies the op's gradient into this region of the base's
            check_overlap(region)                 # gradient: refused when the view was expanded (zero_, fill_)
        region._array[...] = 0
        mask = _make(mask_array, grad.device)
        if not ctx.needs_input_grad[0]:
            grad_base = None
        elif complex_grad:                        # component by component, not a complex product
            from .comparison import where
            from .views import view_as_complex, view_as_real
            grad_base = view_as_complex(where(view_as_real(mask) == 0, 0.0, view_as_real(grad)))
        else:                                     # selected, not grad * 0: an inf or nan there stays out
            from .comparison import where
            grad_base = where(mask == 0, 0.0, grad)
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
    old_base = _make(base._array, base._device, base._requires_grad, base._grad_fn, base._out_nr, base._vc)
    new_base = CopySlices.apply(old_base, result if result._requires_grad else result.detach(), view_fn)
    base._grad_fn = new_base._grad_fn
    base._out_nr = 0
    base._requires_grad = True
    new_view = _same_view(view, view_fn, base)
    if new_view is None:                          # the base was restrided in place (t_, unsqueeze_) since
        from .slicing import _as_strided_replay   # the view was made, or the view's .data set: its region by
        view_fn = _as_strided_replay(base, tuple(view.shape), view.stride(), view.storage_offset())  # storage
        node = new_base._grad_fn                  # (the view's sizes, strides and offset), as PyTorch's
        node.view_fn = view._extra["view_fn"] = view_fn
        if base._device is CPU:                   # backward lays its mask out as the base, for view_fn to select
            node.base_layout = (base._array.shape, base._array.strides, base.storage_offset(),
                                base.untyped_storage().nbytes())
        if "data_set_at" in view._extra:
            _route_through_base(view, result, view_fn(old_base), view._extra["data_set_at"])
        new_view = view_fn(base)
    else:
        if base._device is CPU and not base._array.flags.c_contiguous:
            # the view_fn may be one an earlier in-place op on the view made above (by storage): backward lays its
            # mask out as the base here too, so that zeroing the view's region in it reaches the mask
            new_base._grad_fn.base_layout = (base._array.shape, base._array.strides, base.storage_offset(),
                                             base.untyped_storage().nbytes())
        if "hooked_inplace_at" in view._extra:
            # PyTorch's CopySlices hands the op's node the base's edge in place of the view's: the view's old
            # node, and the hooks on it, see only the gradients of the other uses of the view as it was
            _route_through_base(view, result, view_fn(old_base), view._extra["hooked_inplace_at"])
    view._extra.pop("hooked_inplace_at", None)
    old_fn, old_nr = view._grad_fn, view._out_nr
    view._grad_fn = as_strided_node(new_view._grad_fn)
    view._out_nr = new_view._out_nr
    view._requires_grad = True
    if old_fn is not None and old_fn._retains_grad is not None:
        move_retains_grad(view, old_fn, old_nr)


def _route_through_base(view, result, region, since):
    """After `view.data = t`, the op's gradient for the view goes to the base's old history through `region`
    (the view's current geometry over the base, as_strided), not through the view's old node, whose geometry
    is gone: PyTorch's CopySlices hands the op's node the base's edge and copies its gradient into that
    region. The op's nodes are those made after `since` (check_inplace numbered the op's start)."""
    old = (view._grad_fn, view._out_nr)
    new = (region._grad_fn, region._out_nr)
    stack, seen = [result.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen or node._seq <= since or node is region._grad_fn:
            continue
        seen.add(node)
        edges = node._edges
        if old in edges:
            node._edges = tuple(new if e == old else e for e in edges)
        stack.extend(e[0] for e in edges)


def _same_view(view, view_fn, base):
    """view_fn(base), when that still gives view's very elements; else None."""
    try:
        fresh = view_fn(base)
    except (RuntimeError, ValueError, IndexError):
        return None
    a, b = view._array, fresh._array
    return fresh if a.shape == b.shape and a.strides == b.strides and _data_address(a) == _data_address(b) else None


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

def _recorded(self, slow, name, other, alpha):
    """The way out of _fast_binary's shortcut: the op applied by apply_inplace, recorded and fully checked."""
    return apply_inplace(self, slow, name, (other,), {"alpha": alpha} if alpha != 1 else {})


def _wrapped_int(value, dtype):
    """A Python int operand of an integer tensor's in-place op wrapped into the tensor's NumPy dtype's range, as
    PyTorch casts the scalar to the tensor's type (uint8 `x *= -1` multiplies by 255); anything else as it is."""
    if value.__class__ is not int:
        return value
    info = _CPU_XP.iinfo(dtype)
    return (value - int(info.min)) % (1 << info.bits) + int(info.min)


_HALF = "eE"                               # the NumPy type codes of float16 and (ml_dtypes) bfloat16


def _half_operand(a, b, opmath):
    """A tensor operand of another dtype of a float16/bfloat16 in-place op, as PyTorch's kernel takes it: a 0-d one
    is a scalar (float32 for * and / (Note [half opmath] in ops/arithmetic.py), else cast to a's dtype); one of a
    lower category (int, bool) is cast to a's dtype first (f16 x.mul_(int32 70000) is inf)."""
    if not b.ndim:
        return b.astype(_CPU_XP.float32 if opmath else a.dtype)
    return b.astype(a.dtype) if _FROM_NUMPY[b.dtype].category < _FROM_NUMPY[a.dtype].category else b


def _fast_binary(name, ufunc_name, slow):
    def inplace(self, other, *, alpha=1):
        if _State.grad_enabled and (self._requires_grad or getattr(other, "_requires_grad", False)) or \
                self._base is not None and self._base._requires_grad or _Fw.on:
            return _recorded(self, slow, name, other, alpha)
        a = self._array
        if isinstance(other, Tensor):
            if other._device is not self._device:
                if other._device is not CPU or other._array.ndim:
                    raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                       f"devices, {self._device} and {other._device}! ({name})")
                other = other.to(self._device)          # a cpu 0-d operand is a scalar, as in PyTorch
            if other._base is not None and other._base._requires_grad and _State.grad_enabled:
                return _recorded(self, slow, name, other, alpha)
            b = other._array
            if (a.base is not None or b.base is not None) and check_partial_overlap(self, other):
                return _recorded(self, slow, name, other, alpha)
            if a.dtype != b.dtype:
                if _FROM_NUMPY[b.dtype].category > _FROM_NUMPY[a.dtype].category:
                    return _recorded(self, slow, name, other, alpha)
                if a.dtype.char in _HALF and not (is_sub and b.dtype.kind == "b"):   # Note [half opmath]
                    b = _half_operand(a, b, is_muldiv)                  # (sub refuses a bool operand below)
            if b.shape != a.shape:
                _check_broadcast(self, b)
        else:
            b = other
            src = _dt._category_default(0 if isinstance(b, bool) else 1 if isinstance(b, int) else
                                        2 if isinstance(b, float) else 3) if not hasattr(b, "dtype") else \
                _FROM_NUMPY.get(getattr(b, "dtype", None), _dt.float64)
            if src.category > _FROM_NUMPY[a.dtype].category:
                return _recorded(self, slow, name, other, alpha)
            if is_muldiv and a.dtype.char in _HALF:      # in float32 (Note [half opmath])
                b = _CPU_XP.float32(b)
        if is_div and a.dtype.kind in "biu" or is_sub and (a.dtype.kind == "b" or b.__class__ is bool or
                                                             getattr(getattr(b, "dtype", None), "kind", "") == "b"):
            return _recorded(self, slow, name, other, alpha)     # (sub's checks refuse bool operands)
        if 0 in a.strides:
            check_overlap(self)
        if alpha != 1:
            if alpha.__class__ is not int and (alpha.__class__ is not float or a.dtype.kind != "f"):
                return _recorded(self, slow, name, other, alpha)   # the checked path
            if a.dtype == _CPU_XP.float32 and getattr(b, "dtype", None) == a.dtype:
                b = exact_scaled(_CPU_XP, b, alpha)      # rounded once by the write below, as AddScaled
            elif a.dtype.kind in "iu":                   # wraps around in a's type, as PyTorch's kernel
                b = _wrapped_int(b, a.dtype) * a.dtype.type(_wrapped_int(alpha, a.dtype))
            else:
                b = b * alpha
        xp = _CPU_XP if self._device is CPU else self._backend().xp
        try:
            getattr(xp, ufunc_name)(a, b, out=a, casting="unsafe")
        except OverflowError:               # NumPy 2 refuses a Python int out of a's range: nothing written yet
            if b.__class__ is not int or a.dtype.kind not in "iu":
                raise
            getattr(xp, ufunc_name)(a, _wrapped_int(b, a.dtype), out=a, casting="unsafe")
        vc = self._vc
        if vc is None:
            self._vc = VersionCounter(1)
        else:
            vc.value += 1
        return self
    is_div, is_sub, is_muldiv = name == "div_", name == "sub_", name in ("mul_", "div_")
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


def _check_copy_shape(self, src):
    """src must broadcast to exactly self's shape, as PyTorch's copy_ checks (NumPy also drops a src's
    leading size-1 dims: PyTorch raises there)."""
    try:
        shape = self._backend().xp.broadcast_shapes(src._array.shape, self._array.shape)
    except ValueError:
        shape = None
    if shape is None:
        dim = next(i for i, (a, b) in enumerate(zip(reversed(self.shape), reversed(src.shape))) if a != b != 1)
        raise RuntimeError(f"The size of tensor a ({self.shape[-1 - dim]}) must match the size of tensor b "
                           f"({src.shape[-1 - dim]}) at non-singleton dimension {self.ndim - 1 - dim}")
    if shape != self._array.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(shape)}")


def overwrite(self, src, op, overlap=True):
    """self's values replaced by src's, recorded as `op` (copy_, or the fill_/zero_/random-fill nodes);
    overlap=False for fills, which may write into an expanded self (every element gets one value)."""
    if not isinstance(src, Tensor):
        from .creation import tensor
        src = tensor(src)
    if _Fw.on and _forward_ad.has_tangent((self, src)):      # Note [forward AD]
        _forward_ad.write_tangent(self, src)
        with _forward_ad._suspended():
            return overwrite(self, src, op, overlap)
    if src._array.ndim and src._array.shape != self._array.shape:
        _check_copy_shape(self, src)
    if _State.grad_enabled or 0 in self._array.strides:
        check_inplace(self, "copy_", overlap and src is not self)   # x.copy_(x): PyTorch returns at once
    sequential = check_partial_overlap(self, src)  # True: read as written (Note [overlapping operands])
    if not (_State.grad_enabled and (self._requires_grad or src._requires_grad or
                                     (self._base is not None and self._base._requires_grad))):
        xp = self._backend().xp
        array = src._array
        if src._device is not self._device:
            from .._backends import backend_for
            array = self._backend().from_numpy(backend_for(src._device).to_numpy(array))
        try:
            if sequential:
                xp.broadcast_shapes(array.shape, self._array.shape)
                _sequential_write(self, src, None)
            else:
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
    _write(self, result, (lambda: _sequential_write(self, src, None)) if sequential else None)
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
    if _Fw.on and _forward_ad.has_tangent((self, value)):    # Note [forward AD]
        _forward_ad.fill_tangent(self, value)
        with _forward_ad._suspended():
            return _fill(self, value, name, node_name)
    # An expanded self is allowed here: every element gets the same value, so PyTorch fills it too.
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               f"dimensions.")
        if _State.grad_enabled and value._requires_grad:
            return overwrite(self, value.expand(self.shape), overwrite_op("FillBackward3"))
        check_overlap(self)                        # fill_.Tensor refuses an expanded self, unlike fill_.Scalar
        value = value.item()
        node_name = "FillBackward3"                # fill_.Tensor's node, as PyTorch names it
    check_inplace(self, name, overlap=False)
    from .creation import _checked_fill
    value = _checked_fill(value, self.dtype, self._array.shape)   # refuse values the dtype cannot hold, first
    if _State.grad_enabled and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
        from .creation import full
        return overwrite(self, full(self.shape, value, dtype=self.dtype, device=self.device),
                         overwrite_op(node_name), overlap=False)
    if not getattr(self._array.flags, "writeable", True) and 0 in self._array.strides:
        self._array.flags.writeable = True         # NumPy's broadcast views are read-only; filling one is fine
    self._array[...] = value
    self._bump_version()
    return self


export_method(copy_, "copy_")
export_method(zero_, "zero_")
export_method(fill_, "fill_")
