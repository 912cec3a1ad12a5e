"""The recorded graph (PyTorch's torch.autograd.graph): Node (the grad_fn), AccumulateGrad, the saved entries
a node keeps and the saved-tensor hooks, the refresh of a view's stale history, and walk. The backward pass
over the graph is engine.py.

Note [saved entries]: what a node keeps for backward, one tuple per saved value, its first item the kind:
  (SAVED_INPUT, tensor, version)                    an input tensor, checked against its version counter
                                                    on unpack;
  (SAVED_OUTPUT, array, vc, version, device, nr)    output nr, kept as its array and rebuilt on access, so
                                                    the node never references its own output (no node <->
                                                    tensor cycle);
  (SAVED_CONSTANT, tensor)                          a constant (no history, never modified);
  (SAVED_PACKED, packed, unpack_hook)               whatever a saved_tensors_hooks pack hook returned.
Tuples rather than small classes: every op that saves builds them on each call, and a tuple costs ~30 ns
where an instance with __slots__ costs ~110 ns. Backward replaces the node's tuple of entries by FREED
unless retain_graph, which releases everything at once. PyTorch's names for them (grad_fn._saved_self,
._raw_saved_result ...) are resolved when read: Note [saved names] in _saved_attrs.py.
"""
import itertools
import weakref
from collections import OrderedDict

import numpy

from .._backends import cpu as _cpu_backend
from ..utils.hooks import RemovableHandle
from .grad_mode import _State

__all__ = ["Node", "AccumulateGrad", "saved_tensors_hooks", "save_on_cpu", "walk"]

# The kinds of saved entries: Note [saved entries].
SAVED_INPUT = 0
SAVED_OUTPUT = 1
SAVED_CONSTANT = 2
SAVED_PACKED = 3
FREED = ("freed",)            # a node's saved entries once backward released them


class NoneSaved(tuple):
    """A node's saved entries when every one is None (what it would save is not needed): PyTorch's undefined saved
    variables, which backward leaves alone, so that a second backward through the node runs."""
    __slots__ = ()

# Each node gets the next number when it is made (Node._seq, PyTorch's sequence_nr); an AccumulateGrad one past
# PyTorch's 2**64 - 1, so that every node's is unique (Note [engine order] in engine.py).
next_sequence_nr = itertools.count().__next__
LEAF_SEQUENCE_NR = 2 ** 64 - 1

# A node's edges: (node, output_nr) per forward argument, where the gradient for that argument goes.
NO_GRAD_EDGE = (None, 0)      # a tensor input that needs no gradient: PyTorch's (None, 0) in next_functions
NON_TENSOR = (None, -1)       # a non-tensor argument (hidden from next_functions)


class Node:
    """One recorded op, PyTorch's grad_fn. It doubles as the op's ctx during forward and backward."""
    __slots__ = ("_edges", "needs_input_grad", "_saved", "_to_save", "_in_shapes", "_in_version", "_seq",
                 "__dict__", "__weakref__")
    xp = numpy                   # the array module of the node's device; set per node off the CPU
    backend = _cpu_backend       # the backend module (ember._backends.cpu or .cuda); set per node off the CPU
    # Rarely set state lives in the instance __dict__ and falls back to these class defaults.
    _op = None
    _n_out = 1
    _out_meta = None             # ((shape, numpy dtype), ...) for materialising missing grads
    # Hooks: OrderedDicts keyed by the RemovableHandle.id that register_*hook returned.
    _tensor_pre_hooks = None     # {output_nr: {id: hook(grad) -> grad | None}}
    _retains_grad = None         # {output_nr: store(grad)}: retain_grad's, run after the tensor hooks
    _pre_hooks = None            # {id: hook(grad_outputs) -> grad_outputs | None}
    _post_hooks = None           # {id: hook(grad_inputs, grad_outputs) -> grad_inputs | None}
    _trace = None                # forward traceback, recorded in anomaly mode
    _in_meta = None              # custom Function: ((shape, numpy dtype) | None per input) to check grads
    _runs_pre_backward = False   # run_backward's slow branch before backward: hooks, a leaf's accumulation
    _runs_post_backward = False  # _post_backward after backward: post hooks, custom-Function grad checks
    _conj = False                # a holomorphic op with a complex output: Note [complex gradients]
    _non_differentiable = None
    _dirty = None
    materialize_grads = True
    metadata_dict = None

    def name(self):
        return type(self).__name__

    def _sequence_nr(self):
        """The order the node was made in (Note [engine order] in engine.py); a leaf's AccumulateGrad has
        PyTorch's 2**64 - 1."""
        return min(self._seq, LEAF_SEQUENCE_NR)

    @property
    def next_functions(self):
        """((node, output_nr) | (None, 0), ...) for each tensor input, like PyTorch's."""
        return tuple([e for e in self._edges if e is not NON_TENSOR])

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def __dir__(self):
        # Only this node's own `_saved_*` / `_raw_saved_*` names, not every descriptor on Node (Note [saved names])
        from ._saved_attrs import saved_names
        names = [n for n in object.__dir__(self) if not n.startswith(("_saved_", "_raw_saved_"))]
        return sorted({*names, *saved_names(self)})

    @property
    def metadata(self):
        if self.metadata_dict is None:
            self.metadata_dict = {}
        return self.metadata_dict

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node's backward; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = OrderedDict()
        self._runs_post_backward = True
        return add_hook(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = OrderedDict()
        self._runs_pre_backward = True
        return add_hook(self._pre_hooks, fn)

    # --- ctx protocol -------------------------------------------------------------------------
    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        """A custom Function's tensors for its jvp (read there as ctx.saved_tensors, Note [forward AD])."""
        self.__dict__["_fw_saved"] = tensors

    def mark_non_differentiable(self, *outputs):
        self._non_differentiable = outputs

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        if "_in_jvp" in self.__dict__:             # inside a custom Function's jvp: what save_for_forward kept
            return tuple(self.__dict__.get("_fw_saved", ()))
        saved = self._saved
        if saved is None:
            return ()
        if saved is FREED:
            _raise_freed()
        out = []
        for entry in saved:
            if entry is not None and entry[0] == SAVED_INPUT:      # inlined: the common case
                _, tensor, version = entry
                vc = tensor._vc
                if (0 if vc is None else vc.value) != version:
                    _raise_modified(self, tensor, version)
                if tensor._extra is not None and "detached_from" in tensor._extra:
                    check_detached(self, tensor)
                out.append(tensor)
            else:
                out.append(_unpack(self, entry))
        return tuple(out)

    # PyTorch exposes the same list under this name on custom-Function ctx objects.
    @property
    def saved_variables(self):
        return self.saved_tensors


def _raise_freed():
    raise RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved tensors "
        "after they have already been freed). Saved intermediate values of the graph are freed "
        "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
        "backward through the graph a second time or if you need to access saved tensors after "
        "calling backward.")


def _unpack(node, entry):
    """The tensor a saved entry stands for (Note [saved entries]), version-checked."""
    if entry is None:
        return None
    kind = entry[0]
    if kind == SAVED_PACKED:
        _, packed, unpack_hook = entry
        return unpack_hook(packed)
    if kind == SAVED_INPUT:
        _, tensor, version = entry
        vc = tensor._vc
        if (0 if vc is None else vc.value) != version:
            _raise_modified(node, tensor, version)
        if tensor._extra is not None and "detached_from" in tensor._extra:
            check_detached(node, tensor)
        return tensor
    if kind == SAVED_OUTPUT:                       # rebuilt on access: no node <-> tensor cycle
        _, array, vc, version, device, out_nr = entry
        if vc.value != version:
            _raise_modified(node, _make(array, device), version, vc.value, out_nr)
        out = _make(array, device, True, node, out_nr, vc)
        fw = node.__dict__.get("_fw_out_tangents")
        if fw is not None:                         # the output's tangents come back with it (Note [forward AD])
            from .forward_ad import _Fw, set_tangent
            for (level, nr), tangent in fw.items():
                if nr == out_nr and level in _Fw.levels:
                    set_tangent(out, tangent, level)
        return out
    _, tensor = entry                              # SAVED_CONSTANT
    return tensor


def check_detached(node, tensor):
    """A saved input that had history when the node saved it (the node has an edge to that history) and has
    been detach_()ed since is refused, as in PyTorch; Tensor.detach_ leaves the mark this reads. A saved output
    stays valid (PyTorch checks only saved inputs)."""
    ref, nr = tensor._extra["detached_from"]
    fn = ref()
    if fn is not None and tensor._grad_fn is None and (fn, nr) in node._edges:
        raise RuntimeError("Trying to use a saved tensor that has been detached in-place, i.e. with .detach_()."
                           "This is not supported, please use out-of-place `.detach()` instead")


def _raise_modified(node, tensor, version, current=None, out_nr=None):
    if current is None:
        current = 0 if tensor._vc is None else tensor._vc.value
    extra = tensor._extra
    if extra is not None and "operand_of" in extra:     # an in-place op's own self as its operand (ops/inplace.py)
        owner = extra["operand_of"]()
        tensor = tensor if owner is None else owner
    if out_nr is not None:
        producer = f", which is output {out_nr} of {_op_name(node)},"
    elif tensor.grad_fn is not None:
        producer = f", which is output {tensor._out_nr} of {_op_name(tensor.grad_fn)},"
    else:
        producer = ""
    from .._tensor_conversions import _type_name
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[ember.{_type_name(tensor)} {list(tensor.shape)}]{producer} is at version {current}; expected version "
        f"{version} instead. Hint: enable anomaly detection to find the operation that failed to compute its "
        "gradient, with ember.autograd.set_detect_anomaly(True, check_nan=False). (The tensor was saved for "
        f"{node.name()}.)")


def _op_name(node):
    """PyTorch's short op name in messages: ExpBackward0 -> Exp, ClampBackward1 -> Clamp1, FnBackward -> Fn."""
    name = node.name()
    stripped = name.rstrip("0123456789")
    if not stripped.endswith("Backward"):
        return name
    number = name[len(stripped):]
    return stripped[:-len("Backward")] + ("" if number == "0" else number)


class _SavedHooks:
    stack = []                   # (pack_hook, unpack_hook) pairs; the innermost applies


class saved_tensors_hooks:
    """Context manager: ops save `pack_hook(tensor)` instead of the tensor, and backward gets
    `unpack_hook(packed)` back (PyTorch's torch.autograd.graph.saved_tensors_hooks)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        _SavedHooks.stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        _SavedHooks.stack.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept as CPU copies and moved back to their device in backward."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(tensor):
            return tensor.device, tensor.detach().cpu()

        def unpack(packed):
            device, tensor = packed
            return tensor.to(device)
        super().__init__(pack, unpack)


def pack_saved(node):
    """Pass the tensors of the node's saved entries through the active pack hook; constants stay as they are
    (PyTorch's pack hooks see only saved tensors, not the scalars an op keeps)."""
    pack, unpack = _SavedHooks.stack[-1]
    entries = node._saved
    node._saved = None
    tensors = [None if entry is None or entry[0] == SAVED_CONSTANT else _unpack(node, entry)
               for entry in entries]
    node._saved = tuple([entry if tensor is None else (SAVED_PACKED, pack(tensor), unpack)
                         for entry, tensor in zip(entries, tensors)])


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient to `variable.grad`.

    Note [leaf accumulator]: the leaf holds its AccumulateGrad strongly and the node holds the leaf
    weakly, so one node serves every graph the leaf enters (no per-step allocation) without a
    reference cycle. A gradient for a leaf that no longer exists has nowhere to go and is dropped.
    """
    __slots__ = ("_variable_ref", "_dtype")
    _runs_pre_backward = True

    def __init__(self, variable):
        self._variable_ref = weakref.ref(variable)
        self._dtype = variable._array.dtype     # the gradient's, whatever the variable's .data becomes
        self._edges = ()
        self._in_version = None
        self.needs_input_grad = ()
        self._saved = None
        self._to_save = None
        self._in_shapes = None
        self._seq = LEAF_SEQUENCE_NR + next_sequence_nr()     # first when ready; unique (the engine's heap key)

    @property
    def variable(self):
        return self._variable_ref()


def add_hook(hooks, fn):
    """Register fn in an OrderedDict of hooks under a new handle's id; the handle removes it."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def refresh_view(t):
    """The grad_fn of view t, PyTorch's VariableHooks::grad_fn: its own node, or one regenerated from its base's
    current history when the base (or another view of it) changed in place since that node was recorded.

    Note [stale views]: a view's node is recorded against its base's history as it was when the view was made
    (the node remembers the version it saw; a view made without a node keeps that version in
    _extra["view_version"], when not 0). Once the shared version has moved on, and the view has a node or its base requires
    grad, that history is out of date: the view's node is replayed from the base's current history (its
    view_fn, Note [views] in ops/views.py) and shows as AsStridedBackward0, as in PyTorch; a base that left the
    graph (detach_) gives it a node that leads nowhere. Views made in no_grad mode or by split/unbind/chunk are
    not replayed: PyTorch refuses them from then on, and so does ember (check_view_rebase). Read by
    Tensor.grad_fn and Tensor.is_leaf, and wherever a view enters the graph."""
    fn = t._grad_fn
    base = t._base
    if fn is None:
        if not base._requires_grad:
            return None
        extra = t._extra
        seen = extra.get("view_version", 0) if extra is not None else 0
    else:
        seen = fn._in_version
    vc = t._vc
    if seen is None or (0 if vc is None else vc.value) == seen:
        return fn
    check_view_rebase(t, fn, True)
    source = base
    if not base._requires_grad:                   # out of the graph: replay on a stand-in, then cut its edge
        source = _make(base._array, base._device, True, None, 0, base._vc)
    prev = _State.grad_enabled
    _State.grad_enabled = True
    try:
        fresh = _replay(t, source)
    finally:
        _State.grad_enabled = prev
    node = fresh._grad_fn
    if source is not base:
        _cut_edge_to(node, source._acc)
    old_nr = t._out_nr
    t._grad_fn = as_strided_node(node)
    t._out_nr = fresh._out_nr
    t._requires_grad = True
    if fn is not None and fn._retains_grad is not None:
        move_retains_grad(t, fn, old_nr)
    return node


def _replay(t, source):
    """View t made again from `source` (its base, or a stand-in over the base's memory): by its view_fn, the
    chain of view ops that made it, while that still gives t's very elements; else (the base itself was
    restrided in place since, t_() or unsqueeze_()) as a strided view of the storage, as PyTorch always does."""
    a = t._array
    try:
        fresh = t._extra["view_fn"](source)
        b = fresh._array
        if b.shape == a.shape and b.strides == a.strides and _address(b) == _address(a):
            return fresh
    except (RuntimeError, ValueError, IndexError):
        pass
    from ..ops.slicing import AsStrided
    return AsStrided.apply(source, size=tuple(t.shape), stride=t.stride(), offset=t.storage_offset())


def _cut_edge_to(node, sink):
    """Replace the edge into `sink` at the bottom of a chain of view nodes (each leads on by its first edge) by
    no edge."""
    while node is not None:
        nxt = node._edges[0][0]
        if nxt is sink:
            node._edges = (NO_GRAD_EDGE,) + node._edges[1:]
            node.needs_input_grad = (False,) + tuple(node.needs_input_grad[1:])
            return
        node = nxt


_NO_GRAD_ADVICE = (" Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
                   "code by moving both the view and the inplace either both inside the no_grad block (if you don't "
                   "want the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
_MULTI_OUTPUT_ADVICE = (" This view is the output of a function that returns multiple views. Such functions do not "
                        "allow the output views to be modified inplace. You should replace the inplace operation by "
                        "an out-of-place one.")


def check_view_rebase(t, fn, indirect, name=None):
    """PyTorch's handle_view_on_rebase: refuse to give view t new history (an in-place op on it, or, `indirect`,
    on its base or another view of it) unless it was made by a single-output view op in grad mode. Note [views]
    in ops/views.py: a view made in no_grad mode (or a view of one) has no view_fn; split/unbind/chunk outputs
    are marked multi_output_view (Note [multi-output views] in ops/inplace.py). `fn` is t's own node."""
    extra = t._extra
    multi = extra is not None and "multi_output_view" in extra
    if not multi and extra is not None and "view_fn" in extra:
        return
    modified = "its base or another view of its base has been" if indirect else "is being"
    if not multi or fn is None:
        prefix = f"Output {t._out_nr} of {_op_name(fn)} is a view of a view which was created in" if fn is not None \
            else "A view was created in"
        message = f"{prefix} no_grad mode and {modified} modified inplace with grad mode enabled."
    else:
        message = f"Output {t._out_nr} of {_op_name(fn)} is a view and {modified} modified inplace."
    message += _MULTI_OUTPUT_ADVICE if multi else _NO_GRAD_ADVICE
    raise RuntimeError(message + (f" ({name})" if name else ""))


_AS_STRIDED = {}


def as_strided_node(node):
    """A regenerated view's node shows as AsStridedBackward0, PyTorch's name for it (it replays the
    view as a strided view of the base's new history); the formula is the view op's own."""
    cls = node.__class__
    renamed = _AS_STRIDED.get(cls)
    if renamed is None:
        renamed = _AS_STRIDED[cls] = type("AsStridedBackward0", (cls,), {"__slots__": (),
                                                                         "__module__": cls.__module__})
    node.__class__ = renamed
    return node


def move_retains_grad(t, old_fn, old_nr):
    """PyTorch's update_tensor_hooks_on_new_gradfn, for a tensor t whose grad_fn was just replaced (an in-place
    op on it, or a view's node regenerated: refresh_view): its retain_grad hook moves from (old_fn, old_nr) to
    t's new node, so that t.grad is the gradient of t as it is now; the hooks register_hook put on the old node
    stay there (they see the gradient of t as it was, where that node still runs)."""
    retains = old_fn._retains_grad if old_fn is not None else None
    store = retains.pop(old_nr, None) if retains else None
    fn = t._grad_fn
    if store is None or fn is None:
        return
    if fn._retains_grad is None:
        fn._retains_grad = {}
        fn._runs_pre_backward = True              # the engine's pre-backward step runs it
    fn._retains_grad[t._out_nr] = store


def walk(roots):
    """Every node reachable from `roots` (grad_fn objects), each once, parents before their inputs."""
    seen = set()
    stack = [r for r in reversed(list(roots)) if r is not None]
    order = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(nxt for nxt, _ in reversed(node._edges) if nxt is not None and nxt not in seen)
    return order


def grad_accumulator(tensor):
    """The AccumulateGrad node of a leaf (see Note [leaf accumulator])."""
    acc = tensor._acc
    if acc is None:
        if not tensor._requires_grad:
            return None                           # a view that requires grad only through its base: no edge
        acc = tensor._acc = AccumulateGrad(tensor)
    return acc


from .._tensor import _address, _make  # noqa: E402
from ._saved_attrs import saved_name_descriptors  # noqa: E402

# grad_fn._saved_self, ._saved_dim, ._raw_saved_result ...: PyTorch's names for the saved entries, each a
# descriptor resolved only when read (Note [saved names] in _saved_attrs.py).
for _name, _descriptor in saved_name_descriptors().items():
    setattr(Node, _name, _descriptor)
del _name, _descriptor
