"""Node (grad_fn), AccumulateGrad, and the backward pass over the recorded graph."""
import traceback
import weakref

from .grad_mode import _State

__all__ = ["Node", "AccumulateGrad", "run_backward"]

_FREED = ("freed",)           # sentinel: the node's saved tensors were released by backward


class Node:
    """One recorded op, PyTorch's grad_fn. It doubles as the op's ctx during forward and backward."""
    __slots__ = ("next_functions", "needs_input_grad", "_saved", "_to_save", "_in_shapes", "xp",
                 "__dict__", "__weakref__")
    # Rarely set state lives in the instance __dict__ and falls back to these class defaults.
    _op = None
    _n_out = 1
    _out_meta = None             # ((shape, numpy dtype), ...) for materialising missing grads
    _tensor_pre_hooks = None     # {output_nr: [hook(grad) -> grad | None]}
    _pre_hooks = None            # [hook(grad_outputs) -> grad_outputs | None]
    _post_hooks = None           # [hook(grad_inputs, grad_outputs) -> grad_inputs | None]
    _trace = None                # forward traceback, recorded in anomaly mode
    _in_meta = None              # custom Function: ((shape, numpy dtype) | None per input) to check grads
    _special = False             # engine slow path before backward: hooks, leaf, autograd.grad target
    _checked = False             # engine slow path after backward: post hooks, anomaly, Function outputs
    _non_differentiable = None
    _dirty = None
    materialize_grads = True
    backend = None
    metadata_dict = None

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    @property
    def metadata(self):
        if self.metadata_dict is None:
            self.metadata_dict = {}
        return self.metadata_dict

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node's backward; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        self._checked = True
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        self._special = True
        return _RemovableHandle(self._pre_hooks, fn)

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
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        return tuple([_unpack(self, entry) for entry in saved])

    # PyTorch exposes the same list under this name on custom-Function ctx objects.
    @property
    def saved_variables(self):
        return self.saved_tensors


def _unpack(node, entry):
    if entry is None:
        return None
    kind = entry[0]
    if kind == 0:                                  # an input tensor, checked against its version
        tensor, version = entry[1], entry[2]
        vc = tensor._vc
        if (0 if vc is None else vc.value) != version:
            _raise_modified(node, tensor, version)
        return tensor
    if kind == 1:                                  # an output: rebuilt on access (no node<->tensor cycle)
        _, array, vc, version, device, out_nr = entry
        if vc.value != version:
            from .._tensor import _make
            _raise_modified(node, _make(array, device), version, vc.value, out_nr)
        from .._tensor import _make
        return _make(array, device, True, node, out_nr, vc)
    return entry[1]                                # a constant tensor without history


def _raise_modified(node, tensor, version, current=None, out_nr=None):
    if current is None:
        current = 0 if tensor._vc is None else tensor._vc.value
    if out_nr is not None:
        producer = f", which is output {out_nr} of {node.name()},"
    elif tensor.grad_fn is not None:
        producer = f", which is output {tensor._out_nr} of {tensor.grad_fn.name()},"
    else:
        producer = ""
    kind = tensor.dtype.name.capitalize().replace("Float32", "Float").replace("Float64", "Double")
    type_name = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "int64": "LongTensor", "int32": "IntTensor"}.get(tensor.dtype.name, kind + "Tensor")
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[ember.{type_name} {list(tensor.shape)}]{producer} is at version {current}; expected version "
        f"{version} instead (saved for {node.name()}). Hint: the backtrace further above can point at the "
        "operation that failed to compute its gradient; enable anomaly detection with "
        "ember.autograd.set_detect_anomaly(True) to find the forward op responsible.")


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient to `variable.grad`."""
    __slots__ = ("variable",)
    _special = True

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()
        self.needs_input_grad = ()
        self._saved = None
        self._to_save = None
        self._in_shapes = None


class _RemovableHandle:
    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _Anomaly:
    enabled = False
    check_nan = True


def _accumulate(variable, grad, create_graph, owned):
    """Add `grad` into variable.grad: store it when nothing else holds it, else copy; later add in place."""
    extra = variable._extra
    if extra is not None:
        hooks = extra.get("hooks")
        if hooks:
            for hook in tuple(hooks):
                new = hook(grad)
                if new is not None:
                    grad = new
            owned.add(id(grad))                  # a hook may have kept a reference: store a copy
    current = variable._grad
    if current is None:
        array = grad._array
        if create_graph:
            variable._grad = grad
        elif id(grad) in owned or array.base is not None or not array.flags.writeable:
            from .._tensor import _make
            variable._grad = _make(array.copy(), grad._device)
        else:
            variable._grad = grad if grad.grad_fn is None else grad.detach()
        owned.add(id(variable._grad))
    elif create_graph or current._requires_grad or grad._requires_grad or not current._array.flags.writeable \
            or current._array.shape != grad._array.shape:
        variable._grad = current + grad
    else:
        current._array += grad._array            # in place, as PyTorch does without create_graph
        vc = current._vc
        if vc is not None:
            vc.value += 1
    if extra is not None:
        for hook in tuple(extra.get("post_accumulate_hooks", ())):
            hook(variable)


def _materialize(node, grads):
    from .._tensor import _make
    meta = node._out_meta
    xp = node.xp
    return [g if g is not None else _make(xp.zeros(meta[i][0], dtype=meta[i][1]), meta[i][2])
            for i, g in enumerate(grads)]


def _needed_nodes(roots, targets):
    """Nodes from which some target is reachable (autograd.grad runs only these)."""
    needed = set()
    visiting = []
    done = set()
    for root in roots:
        if root in done:
            continue
        visiting.append((root, iter(root.next_functions)))
        done.add(root)
        while visiting:
            node, it = visiting[-1]
            advanced = False
            for nxt, _ in it:
                if nxt is not None and nxt not in done:
                    done.add(nxt)
                    visiting.append((nxt, iter(nxt.next_functions)))
                    advanced = True
                    break
            if advanced:
                continue
            visiting.pop()
            if node in targets or any(nxt in needed for nxt, _ in node.next_functions if nxt is not None):
                needed.add(node)
    return needed


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
        for nxt, _ in stack.pop().next_functions:
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
    needed = captured = None
    if capture is not None:
        captured = [None] * (max(capture.values()) + 1 if capture else 0)
        needed = _needed_nodes([n for n, _ in roots], {n for n, _ in capture})

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
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if node._special or needed is not None:   # hooks, leaves, autograd.grad
                if needed is not None and node not in needed:
                    _release_edges(node, deps, ready)
                    continue
                if grads is None:
                    grads = [None] * node._n_out
                grads = _pre_backward(node, grads, capture, captured)
                if node.__class__ is AccumulateGrad:
                    if capture is None and grads[0] is not None:
                        _accumulate(node.variable, grads[0], create_graph, owned)
                    continue
                if all(g is None for g in grads):
                    grads = None
            if grads is None:                     # no gradient reached it: nothing flows on
                _release_edges(node, deps, ready)
                continue
            if node._n_out == 1:
                results = node._op.backward(node, grads[0])
            else:
                if all(g is None for g in grads):
                    _release_edges(node, deps, ready)
                    continue
                if node.materialize_grads:
                    grads = _materialize(node, grads)
                results = node._op.backward(node, *grads)
            if not keep_graph and node._saved is not None:
                node._saved = _FREED
            if results.__class__ is not tuple:
                results = (results,)
            edges = node.next_functions
            if len(results) != len(edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                   f"(expected {len(edges)}, got {len(results)})")
            if node._checked:                     # anomaly mode, post hooks or custom-Function outputs
                results = _post_backward(node, results, grads, owned)
            shapes = node._in_shapes
            i = -1
            for nxt, nr in edges:
                i += 1
                if nxt is None:
                    continue
                grad = results[i]
                if grad is not None:
                    if shapes is not None and grad._array.shape != shapes[i]:
                        grad = _sum_to(grad, shapes[i], node, fast_sum)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._n_out
                        buf[nr] = grad
                    elif buf[nr] is None:
                        buf[nr] = grad
                    elif fast_sum and not buf[nr]._requires_grad and not grad._requires_grad:
                        buf[nr] = _make(buf[nr]._array + grad._array, grad._device)
                    else:
                        buf[nr] = buf[nr] + grad
                count = deps[nxt] - 1
                deps[nxt] = count
                if count == 0:
                    ready.append(nxt)
    finally:
        _State.grad_enabled = prev_mode
    return captured


def _pre_backward(node, grads, capture, captured):
    """Tensor hooks (incl. retain_grad), leaf hooks, autograd.grad capture, then node pre-hooks."""
    hooks = node._tensor_pre_hooks
    if hooks is not None:
        for nr, fns in hooks.items():
            if grads[nr] is not None:
                for fn in tuple(fns):
                    new = fn(grads[nr])
                    if new is not None:
                        grads[nr] = new
    if node.__class__ is AccumulateGrad and capture is not None:
        extra = node.variable._extra
        if extra is not None and grads[0] is not None:
            for hook in tuple(extra.get("hooks", ())):
                new = hook(grads[0])
                if new is not None:
                    grads[0] = new
    if capture is not None:
        for nr in range(node._n_out):
            slot = capture.get((node, nr))
            if slot is not None and grads[nr] is not None:
                captured[slot] = grads[nr] if captured[slot] is None else captured[slot] + grads[nr]
    if node._pre_hooks is not None:
        for fn in tuple(node._pre_hooks):
            new = fn(tuple(grads))
            if new is not None:
                grads = list(new)
    return grads


def _post_backward(node, results, grads, owned):
    if _Anomaly.enabled:
        _check_anomaly(node, results)
    if node._post_hooks is not None:
        for fn in tuple(node._post_hooks):
            new = fn(results, tuple(grads))
            if new is not None:
                results = tuple(new)
    meta = node._in_meta
    if meta is not None:                          # custom Function: check and cast its gradients
        results = list(results)
        for i, (grad, m) in enumerate(zip(results, meta)):
            if grad is None or m is None:
                continue
            if not isinstance(grad, _Tensor):
                raise TypeError(f"function {node.name()} returned a gradient different than None at position "
                                f"{i + 1}, but the corresponding forward input was not a Variable")
            shape, dtype = m
            if grad._array.dtype != dtype:
                grad = grad.to(_FROM_NUMPY[dtype])
            owned.add(id(grad))                   # user code may hold it: never store it as a .grad as is
            results[i] = grad
        results = tuple(results)
    return results


def _release_edges(node, deps, ready):
    for nxt, _ in node.next_functions:
        if nxt is not None:
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)


def _sum_to(grad, shape, node, on_arrays):
    """Un-broadcast a gradient to its input's shape (on arrays when no graph is being built)."""
    gshape = grad._array.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and gshape[i + lead] != s for i, s in enumerate(shape)):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                           f"{node._in_shapes.index(shape)} - got {list(gshape)} but expected shape compatible "
                           f"with {list(shape)}")
    if on_arrays and not grad._requires_grad:
        dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
        array = grad._array.sum(axis=dims, keepdims=True) if dims else grad._array
        return _make(array.reshape(shape), grad._device)
    from ..ops.reduction import sum_to_shape
    return sum_to_shape(grad, shape)


def _check_anomaly(node, results):
    if not _Anomaly.check_nan:
        return
    for i, grad in enumerate(results):
        if grad is not None and grad.dtype.category >= 2 and bool(node.xp.isnan(grad._array).any()):
            trace = "".join(node._trace) if node._trace else "(no forward trace: enable anomaly mode " \
                                                               "before the forward pass)"
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output. "
                               f"Traceback of the forward call that created it:\n{trace}")


def record_trace(node):
    node._trace = traceback.format_stack()[:-3]


def grad_accumulator(tensor):
    """The AccumulateGrad node of a leaf, cached weakly on the tensor like PyTorch does."""
    ref = tensor._acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(tensor)
        tensor._acc = weakref.ref(acc)
    return acc


from .._dtype import _FROM_NUMPY  # noqa: E402
from .._tensor import Tensor as _Tensor, _make  # noqa: E402
