"""Node (grad_fn), AccumulateGrad, saved-tensor hooks, and the backward pass over the recorded graph.

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

Note [plain backward]: without create_graph the engine runs with grad mode off, so nothing a backward
formula computes is recorded and its result needs no history. The hottest formulas (sum's expand, x**2,
the dot product that gives a broadcast scalar factor its gradient) test `_State.grad_enabled` and then
compute on arrays directly, skipping the op machinery; with create_graph the same formula goes through
differentiable ops. tests/autograd/test_engine.py checks that both paths give the same gradients.
"""
import weakref
from collections import OrderedDict

import numpy

from .._backends import cpu as _cpu_backend
from ..utils.hooks import RemovableHandle
from .anomaly_mode import _Anomaly, _backward_with_trace, _check_anomaly, record_trace  # noqa: F401 (re-export)
from .grad_mode import _State

__all__ = ["Node", "AccumulateGrad", "run_backward", "saved_tensors_hooks", "save_on_cpu", "walk"]

# The kinds of saved entries: Note [saved entries].
SAVED_INPUT = 0
SAVED_OUTPUT = 1
SAVED_CONSTANT = 2
SAVED_PACKED = 3
FREED = ("freed",)            # a node's saved entries once backward released them

# A node's edges: (node, output_nr) per forward argument, where the gradient for that argument goes.
NO_GRAD_EDGE = (None, 0)      # a tensor input that needs no gradient: PyTorch's (None, 0) in next_functions
NON_TENSOR = (None, -1)       # a non-tensor argument (hidden from next_functions)


class Node:
    """One recorded op, PyTorch's grad_fn. It doubles as the op's ctx during forward and backward."""
    __slots__ = ("_edges", "needs_input_grad", "_saved", "_to_save", "_in_shapes", "_in_version",
                 "__dict__", "__weakref__")
    xp = numpy                   # the array module of the node's device; set per node off the CPU
    backend = _cpu_backend       # the backend module (ember._backends.cpu or .cuda); set per node off the CPU
    # Rarely set state lives in the instance __dict__ and falls back to these class defaults.
    _op = None
    _n_out = 1
    _out_meta = None             # ((shape, numpy dtype), ...) for materialising missing grads
    # Hooks: OrderedDicts keyed by the RemovableHandle.id that register_*hook returned.
    _tensor_pre_hooks = None     # {output_nr: {id: hook(grad) -> grad | None}}
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

    def mark_non_differentiable(self, *outputs):
        self._non_differentiable = outputs

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
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
        return tensor
    if kind == SAVED_OUTPUT:                       # rebuilt on access: no node <-> tensor cycle
        _, array, vc, version, device, out_nr = entry
        if vc.value != version:
            _raise_modified(node, _make(array, device), version, vc.value, out_nr)
        return _make(array, device, True, node, out_nr, vc)
    _, tensor = entry                              # SAVED_CONSTANT
    return tensor


def _raise_modified(node, tensor, version, current=None, out_nr=None):
    if current is None:
        current = 0 if tensor._vc is None else tensor._vc.value
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
    """PyTorch's short op name in messages: ExpBackward0 -> Exp."""
    name = node.name()
    stripped = name.rstrip("0123456789")
    return stripped[:-len("Backward")] if stripped.endswith("Backward") else name


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
    __slots__ = ("_variable_ref",)
    _runs_pre_backward = True

    def __init__(self, variable):
        self._variable_ref = weakref.ref(variable)
        self._edges = ()
        self._in_version = None
        self.needs_input_grad = ()
        self._saved = None
        self._to_save = None
        self._in_shapes = None

    @property
    def variable(self):
        return self._variable_ref()


def add_hook(hooks, fn):
    """Register fn in an OrderedDict of hooks under a new handle's id; the handle removes it."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def _accumulate(variable, grad, create_graph, owned):
    """Add `grad` into variable.grad: store it when nothing else holds it, else copy; later add in place."""
    if not variable._requires_grad:               # switched off after the graph was built: nothing to do
        return
    extra = variable._extra
    if extra is not None:
        hooks = extra.get("hooks")
        if hooks:
            for hook in tuple(hooks.values()):
                new = hook(grad)
                if new is not None:
                    grad = new
            owned.add(id(grad))                  # a hook may have kept a reference: store a copy
    current = variable._grad
    if current is None:
        array = grad._array
        if create_graph:                          # a differentiable copy (CopyBackwards), as PyTorch stores
            from .._tensor import _make
            variable._grad = _make(grad._backend().xp.empty(array.shape, array.dtype), grad._device).copy_(grad)
        elif id(grad) in owned or array.base is not None or not array.flags.writeable:
            from .._tensor import _make
            variable._grad = _make(array.copy(), grad._device)
        else:
            variable._grad = grad if grad.grad_fn is None else grad.detach()
        owned.add(id(variable._grad))
    elif create_graph or not current._array.flags.writeable or current._array.shape != grad._array.shape:
        variable._grad = current + grad
    else:
        # In place, as PyTorch does without create_graph, even into a .grad that has history (one
        # stored by an earlier create_graph backward): it keeps that history, its version moves on.
        current._array += grad._array
        vc = current._vc
        if vc is not None:
            vc.value += 1
    if extra is not None:
        for hook in tuple(extra.get("post_accumulate_hooks", {}).values()):
            if hook(variable) is not None:
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")


def _materialize(node, grads):
    """Zeros for the outputs that got no gradient (non-tensor outputs keep None)."""
    meta = node._out_meta
    xp = node.xp
    return [g if g is not None or meta[i] is None else _make(xp.zeros(meta[i][0], dtype=meta[i][1]), meta[i][2])
            for i, g in enumerate(grads)]


def _needed_nodes(roots, targets):
    """(nodes from which some target is reachable, the subset that must run their backward: those with
    a needed node below them). A target with nothing needed below it only has its gradient captured, so
    autograd.grad leaves the rest of the graph (and its saved tensors) as it was, as in PyTorch."""
    needed = set()
    runs = set()
    visiting = []
    done = set()
    for root in roots:
        if root in done:
            continue
        visiting.append((root, iter(root._edges)))
        done.add(root)
        while visiting:
            node, it = visiting[-1]
            advanced = False
            for nxt, _ in it:
                if nxt is not None and nxt not in done:
                    done.add(nxt)
                    visiting.append((nxt, iter(nxt._edges)))
                    advanced = True
                    break
            if advanced:
                continue
            visiting.pop()
            if any(nxt in needed for nxt, _ in node._edges if nxt is not None):
                needed.add(node)
                runs.add(node)
            elif node in targets:
                needed.add(node)
    return needed, runs


def _dependencies(roots):
    """{node: number of edges into it} over the graph reachable from the root nodes."""
    deps = {}
    stack = []
    for node, _ in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    get = deps.get
    while stack:
        for nxt, _ in stack.pop()._edges:
            if nxt is not None:
                count = get(nxt)
                if count is None:
                    deps[nxt] = 1
                    stack.append(nxt)
                else:
                    deps[nxt] = count + 1
    return deps


def run_backward(roots, root_grads, keep_graph, create_graph, capture=None):
    """Propagate gradients from (node, output_nr) roots in dependency order.

    Note [engine buffers]: a node's pending gradient lives in `buffers` as a list with one slot per
    output. Without create_graph, gradients are summed and un-broadcast on arrays directly (no
    graph is being built, so the op machinery would only add overhead). With `capture`
    ({(node, output_nr): slot}) the gradients reaching those points are returned in a list instead
    of being accumulated into leaves (autograd.grad), and only nodes leading to them run.
    """
    deps = _dependencies(roots)
    needed = runs = captured = None
    if capture is not None:
        captured = [None] * (max(capture.values()) + 1 if capture else 0)
        needed, runs = _needed_nodes([n for n, _ in roots], {n for n, _ in capture})

    buffers = {}
    owned = set()                                 # ids of tensors that must not become someone's .grad as is
    for (node, nr), grad in zip(roots, root_grads):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._n_out
        buf[nr] = grad if buf[nr] is None else buf[nr] + grad
        owned.add(id(grad))
    ready = []
    for node, _ in roots:
        if deps[node] == 0 and node not in ready:
            ready.append(node)

    prev_mode = _State.grad_enabled
    _State.grad_enabled = create_graph
    fast_sum = not create_graph
    slow_all = needed is not None
    anomaly = _Anomaly.enabled or _Anomaly.profiler is not None   # profiler: Note [profiler backward]
    pop = buffers.pop
    try:
        while ready:
            node = ready.pop()
            grads = pop(node, None)
            if node._runs_pre_backward or slow_all:       # leaves, hooks, autograd.grad
                if node.__class__ is AccumulateGrad and not slow_all and node._pre_hooks is None:
                    if grads is not None and grads[0] is not None:
                        variable = node._variable_ref()
                        if variable is not None:
                            _accumulate(variable, grads[0], create_graph, owned)
                    continue
                if slow_all and node not in needed:
                    _release_edges(node, deps, ready)
                    continue
                grads = _pre_backward(node, grads or [None] * node._n_out, capture, captured)
                if node.__class__ is AccumulateGrad:
                    variable = node._variable_ref()
                    if capture is None and grads[0] is not None and variable is not None:
                        _accumulate(variable, grads[0], create_graph, owned)
                    continue
                if slow_all and node not in runs:     # a captured target with nothing needed below it
                    _release_edges(node, deps, ready)
                    continue
                if all(g is None for g in grads):
                    grads = None
            if grads is None:                     # no gradient reached it: nothing flows on
                _release_edges(node, deps, ready)
                continue
            if node._saved is FREED:              # its saved values went with an earlier backward
                _raise_freed()
            if node._conj:
                results = _complex_backward(node, grads)
            elif node._n_out != 1:
                if all(g is None for g in grads):
                    _release_edges(node, deps, ready)
                    continue
                if node.materialize_grads:
                    grads = _materialize(node, grads)
                results = _backward_with_trace(node, grads) if anomaly else node._op.backward(node, *grads)
            elif anomaly:
                results = _backward_with_trace(node, grads)
            else:
                results = node._op.backward(node, grads[0])
            if not keep_graph and node._saved is not None:
                node._saved = FREED
            if results.__class__ is not tuple:
                results = (results,)
            edges = node._edges
            if len(results) != len(edges):
                results = _check_count(node, results, edges)
            if node._runs_post_backward or anomaly:       # post hooks, custom-Function outputs, anomaly
                results = _post_backward(node, results, grads, owned)
            shapes = node._in_shapes              # set for broadcasting ops: un-broadcast what changed shape
            i = -1
            for (nxt, nr), grad in zip(edges, results):
                i += 1
                if nxt is None:
                    continue
                if grad is not None:
                    if shapes is not None and grad._array.shape != shapes[i]:
                        grad = _sum_to(grad, shapes[i], node, fast_sum)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buffers[nxt] = [grad] if nr == 0 and nxt._n_out == 1 else _slot(nxt, nr, grad)
                    elif buf[nr] is None:
                        buf[nr] = grad
                    elif fast_sum and not buf[nr]._requires_grad and not grad._requires_grad:
                        total = buf[nr]._array + grad._array
                        if not total.shape:           # 0-d + 0-d is a NumPy scalar: Note [array storage]
                            total = node.xp.asarray(total)
                        buf[nr] = _make(total, grad._device)
                    else:
                        buf[nr] = buf[nr] + grad
                count = deps[nxt] - 1
                deps[nxt] = count
                if count == 0:
                    ready.append(nxt)
    finally:
        _State.grad_enabled = prev_mode
    return captured


def _check_count(node, results, edges):
    # Extra trailing Nones are allowed (PyTorch accepts them from custom Functions).
    if len(results) > len(edges) and all(g is None for g in results[len(edges):]):
        return results[:len(edges)]
    raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients (expected "
                       f"{len(edges)}, got {len(results)})")


def _slot(node, nr, grad):
    buf = [None] * node._n_out
    buf[nr] = grad
    return buf


def _pre_backward(node, grads, capture, captured):
    """autograd.grad capture, tensor hooks (incl. retain_grad), leaf hooks, then node pre-hooks.

    As in PyTorch, autograd.grad captures a non-leaf's gradient before that tensor's hooks run, and a
    leaf's after its hooks (they belong to accumulation).
    """
    if capture is not None and node.__class__ is not AccumulateGrad:
        _capture(node, grads, capture, captured)
    hooks = node._tensor_pre_hooks
    if hooks is not None:
        for nr, fns in hooks.items():
            if grads[nr] is not None:
                for fn in tuple(fns.values()):
                    new = fn(grads[nr])
                    if new is not None:
                        grads[nr] = new
    if node.__class__ is AccumulateGrad and capture is not None and node.variable is not None:
        extra = node.variable._extra
        if extra is not None and grads[0] is not None:
            for hook in tuple(extra.get("hooks", {}).values()):
                new = hook(grads[0])
                if new is not None:
                    grads[0] = new
    if capture is not None and node.__class__ is AccumulateGrad:
        _capture(node, grads, capture, captured)
    if node._pre_hooks is not None:
        for fn in tuple(node._pre_hooks.values()):
            new = fn(tuple(grads))
            if new is not None:
                grads = list(new)
    return grads


def _capture(node, grads, capture, captured):
    for nr in range(node._n_out):
        slot = capture.get((node, nr))
        if slot is not None and grads[nr] is not None:
            captured[slot] = grads[nr] if captured[slot] is None else captured[slot] + grads[nr]


def _post_backward(node, results, grads, owned):
    if _Anomaly.enabled:
        _check_anomaly(node, results)
    if node._post_hooks is not None:
        for fn in tuple(node._post_hooks.values()):
            new = fn(results, tuple(grads))
            if new is not None:
                results = tuple(new)
    meta = node._in_meta
    if meta is not None:                          # custom Function: check and cast its gradients
        results = list(results)
        for i, (grad, m, edge) in enumerate(zip(results, meta, node._edges)):
            if grad is None:
                continue
            if edge is NON_TENSOR:
                raise RuntimeError(f"function {node.name()} returned a gradient different than None at position "
                                   f"{i + 1}, but the corresponding forward input was not a Variable")
            if m is None:
                continue
            if not isinstance(grad, _Tensor):
                raise TypeError(f"function {node.name()} returned a gradient of type {type(grad).__name__} at "
                                f"position {i + 1}; expected a Tensor or None")
            if grad._array.dtype != m[1]:
                grad = grad.to(_FROM_NUMPY[m[1]])
            owned.add(id(grad))                   # user code may hold it: never store it as a .grad as is
            results[i] = grad
        results = tuple(results)
    return results


def _complex_backward(node, grads):
    """Note [complex gradients]: PyTorch's gradient of a holomorphic f is grad * conj(f'(z)). Backward
    formulas are written for real numbers as grad * f'(z), linear in grad, so conj(backward(conj(grad)))
    gives the complex convention exactly; ops that are not holomorphic (abs, sgn) opt out."""
    grads = [g.conj() if g is not None else None for g in grads]
    results = node._op.backward(node, *grads)
    if results.__class__ is not tuple:
        return results.conj() if results is not None else None
    return tuple(r.conj() if r is not None else None for r in results)


def _release_edges(node, deps, ready):
    for nxt, _ in node._edges:
        if nxt is not None:
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)


def _sum_to(grad, shape, node, on_arrays):
    """Un-broadcast a gradient to its input's shape (on arrays when no graph is being built)."""
    if not shape and on_arrays and not grad._requires_grad:      # to a scalar: the commonest case
        return _make(node.xp.asarray(grad._array.sum()), grad._device)
    gshape = grad._array.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and gshape[i + lead] != s for i, s in enumerate(shape)):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                           f"{node._in_shapes.index(shape)} - got {list(gshape)} but expected shape compatible "
                           f"with {list(shape)}")
    if on_arrays and not grad._requires_grad:
        # Each sum returns a fresh array (no .base), so AccumulateGrad can keep it without a copy.
        array = grad._array
        if lead:
            array = array.sum(axis=tuple(range(lead)))
        kept = tuple(i for i, s in enumerate(shape) if s == 1 and array.shape[i] != 1)
        if kept:
            array = array.sum(axis=kept, keepdims=True)
        return _make(array, grad._device)
    from ..ops.reduction import sum_to_shape
    return sum_to_shape(grad, shape)


def refresh_view(t):
    """Rebuild a view's grad_fn when its base changed in place after the view was made.

    Note [stale views]: a view's grad_fn points at its base's history as it was when the view was created
    (the node remembers the version it saw). If the shared version moved on through another alias, that
    history is out of date, and the view's history is replayed from the base's current one (PyTorch
    regenerates it the same way). Called wherever a view enters the graph as an input.
    """
    fn = t.grad_fn
    if fn is None:
        return
    seen = fn._in_version
    vc = t._vc
    if seen is None or (0 if vc is None else vc.value) == seen:
        return
    extra = t._extra
    view_fn = extra.get("view_fn") if extra is not None else None
    if view_fn is None:
        return
    if "multi_output_view" in extra:              # Note [multi-output views] in ops/inplace.py
        raise RuntimeError(f"Output {t._out_nr} of {_op_name(fn)} is a view and its base or another view of its "
                           "base has been modified inplace. This view is the output of a function that returns "
                           "multiple views. Such functions do not allow the output views to be modified inplace. "
                           "You should replace the inplace operation by an out-of-place one.")
    prev = _State.grad_enabled
    _State.grad_enabled = True
    try:
        fresh = view_fn(t._base)
    finally:
        _State.grad_enabled = prev
    t.grad_fn = as_strided_node(fresh.grad_fn)
    t._out_nr = fresh._out_nr


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
        extra = tensor._extra
        if extra is not None and "no_grad_view" in extra:
            return None                           # a view made under no_grad: see ops/views.py _as_view
        acc = tensor._acc = AccumulateGrad(tensor)
    return acc


from .._dtype import _FROM_NUMPY  # noqa: E402
from .._tensor import Tensor as _Tensor, _make  # noqa: E402
from ._saved_attrs import saved_name_descriptors  # noqa: E402

# grad_fn._saved_self, ._saved_dim, ._raw_saved_result ...: PyTorch's names for the saved entries, each a
# descriptor resolved only when read (Note [saved names] in _saved_attrs.py).
for _name, _descriptor in saved_name_descriptors().items():
    setattr(Node, _name, _descriptor)
del _name, _descriptor
