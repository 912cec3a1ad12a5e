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
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
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
    """Add `grad` into variable.grad (in place when it is safe, as PyTorch does)."""
    extra = variable._extra
    if extra is not None:
        for hook in extra.get("hooks", ()):
            new = hook(grad)
            if new is not None:
                grad = new
    current = variable._grad
    if current is None:
        array = grad._array
        # Store the incoming gradient itself only when nothing else can hold it; else a private copy.
        if create_graph:
            variable._grad = grad
        elif id(grad) in owned or not array.flags.writeable or array.base is not None:
            from .._tensor import _make
            variable._grad = _make(array.copy(), grad._device)
        else:
            variable._grad = grad if grad.grad_fn is None else grad.detach()
        owned.add(id(variable._grad))
    elif create_graph or current._requires_grad or grad._requires_grad:
        variable._grad = current + grad
    else:
        current._array += grad._array
        vc = current._vc
        if vc is not None:
            vc.value += 1
    if extra is not None:
        for hook in extra.get("post_accumulate_hooks", ()):
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


def run_backward(roots, root_grads, keep_graph, create_graph, capture=None):
    """Propagate gradients from (node, output_nr) roots.

    With `capture` ({(node, output_nr): slot}) the gradients reaching those points are returned in a
    list instead of being accumulated into leaves (autograd.grad); otherwise leaves accumulate.
    """
    deps = {}
    stack = []
    for node, _ in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is not None:
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    stack.append(nxt)

    needed = None
    captured = None
    if capture is not None:
        captured = [None] * (max(capture.values()) + 1 if capture else 0)
        needed = _needed_nodes([n for n, _ in roots], {n for n, _ in capture})

    buffers = {}
    owned = set()
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
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if needed is not None and node not in needed:
                _release_edges(node, deps, ready)
                continue
            if grads is None:
                grads = [None] * node._n_out
            hooks = node._tensor_pre_hooks
            if hooks is not None:
                for nr, fns in hooks.items():
                    if grads[nr] is not None:
                        for fn in fns:
                            new = fn(grads[nr])
                            if new is not None:
                                grads[nr] = new
            if capture is not None:
                for nr in range(node._n_out):
                    slot = capture.get((node, nr))
                    if slot is not None and grads[nr] is not None:
                        captured[slot] = grads[nr] if captured[slot] is None else captured[slot] + grads[nr]
            if node.__class__ is AccumulateGrad:
                if capture is None and grads[0] is not None:
                    _accumulate(node.variable, grads[0], create_graph, owned)
                continue
            if node._pre_hooks is not None:
                for fn in node._pre_hooks:
                    new = fn(tuple(grads))
                    if new is not None:
                        grads = list(new)
            if all(g is None for g in grads):
                _release_edges(node, deps, ready)
                continue
            if node._n_out > 1 and node.materialize_grads:
                grads = _materialize(node, grads)
            results = node._op.backward(node, *grads)
            if not keep_graph:
                node._saved = _FREED
            if results.__class__ is not tuple:
                results = (results,)
            edges = node.next_functions
            if len(results) != len(edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                   f"(expected {len(edges)}, got {len(results)})")
            if _Anomaly.enabled:
                _check_anomaly(node, results)
            if node._post_hooks is not None:
                for fn in node._post_hooks:
                    new = fn(results, tuple(grads))
                    if new is not None:
                        results = tuple(new)
            shapes = node._in_shapes
            for i, (edge, grad) in enumerate(zip(edges, results)):
                nxt = edge[0]
                if nxt is None:
                    continue
                if grad is not None:
                    if shapes is not None and grad._array.shape != shapes[i]:
                        grad = _sum_to(grad, shapes[i], node)
                    nr = edge[1]
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._n_out
                    buf[nr] = grad if buf[nr] is None else buf[nr] + grad
                count = deps[nxt] - 1
                deps[nxt] = count
                if count == 0:
                    ready.append(nxt)
    finally:
        _State.grad_enabled = prev_mode
    return captured


def _release_edges(node, deps, ready):
    for nxt, _ in node.next_functions:
        if nxt is not None:
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)


def _sum_to(grad, shape, node):
    from ..ops.reduction import sum_to_shape
    try:
        return sum_to_shape(grad, shape)
    except RuntimeError:
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient: got shape "
                           f"{tuple(grad.shape)} but expected shape compatible with {tuple(shape)}") from None


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
