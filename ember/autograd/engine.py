"""The backward pass: run_backward takes the recorded graph (graph.py: Node, AccumulateGrad, saved entries)
from its roots in dependency order, calls each node's backward, un-broadcasts and sums what reaches each
input, and hands it on along the node's edges, into the leaves' .grad or, for autograd.grad, into a list.

Note [plain backward]: without create_graph the engine runs with grad mode off, so nothing a backward
formula computes is recorded and its result needs no history. The hottest formulas (sum's expand, x**2,
the dot product that gives a broadcast scalar factor its gradient) test `_State.grad_enabled` and then
compute on arrays directly, skipping the op machinery; with create_graph the same formula goes through
differentiable ops. tests/autograd/test_engine.py checks that both paths give the same gradients.
"""
import heapq

from .._dtype import _FROM_NUMPY
from .._memory_format import grad_layout as _grad_layout
from .._tensor import Tensor as _Tensor, _make
from .anomaly_mode import _Anomaly, _backward_with_trace, _check_anomaly
from .grad_mode import _State
from .graph import FREED, NON_TENSOR, AccumulateGrad, NoneSaved, _raise_freed

__all__ = ["run_backward"]

_push, _pop = heapq.heappush, heapq.heappop


def _accumulate(variable, grad, create_graph, owned, dtype=None):
    """Add `grad` into variable.grad: store it when nothing else holds it, else copy; later add in place. The
    gradient is first cast to `dtype`, the variable's when its AccumulateGrad was made, as PyTorch does (it
    differs after `.data` took another dtype, on the variable or on a view of it)."""
    if variable._grad_fn is not None:             # detach_() and then an in-place op gave it history
        raise RuntimeError("leaf variable has been moved into the graph interior")
    if not variable._requires_grad:               # switched off after the graph was built: nothing to do
        return
    if dtype is not None and grad._array.dtype is not dtype and grad._array.dtype.kind == "f" == dtype.kind:
        grad = grad.to(_FROM_NUMPY[dtype])
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
        flags = array.flags
        # PyTorch's layout contract: a (dense) leaf's .grad has the leaf's strides (Note [memory formats])
        laid = None if flags.c_contiguous and variable._array.flags.c_contiguous else \
            _grad_layout(array, variable._array)
        if create_graph:                          # a differentiable copy (CopyBackwards), as PyTorch stores
            from .._tensor import _make
            target = grad._backend().xp.empty(array.shape, array.dtype) if laid is None else laid
            variable._grad = _make(target, grad._device).copy_(grad)
        elif laid is not None:
            from .._tensor import _make
            laid[...] = array
            variable._grad = _make(laid, grad._device)
        elif id(grad) in owned or array.base is not None or not getattr(flags, "writeable", True) or \
                grad._requires_grad:              # a formula's saved input as is (cummax of an empty input)
            from .._tensor import _make
            variable._grad = _make(array.copy(order="K"), grad._device)
        else:
            variable._grad = grad if grad.grad_fn is None else grad.detach()
        owned.add(id(variable._grad))
    elif create_graph or not getattr(current._array.flags, "writeable", True) or \
            current._array.shape != grad._array.shape:             # (CuPy's arrays have no writeable flag)
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

    Note [engine order]: of the nodes whose gradients are complete, the one made last runs first (the largest
    Node._seq; a leaf's AccumulateGrad before any), as PyTorch's CPU engine pops its ready queue (a priority
    queue on sequence_nr). Which leaves have their .grad when a backward raises midway, and the order hooks
    run in, are then PyTorch's.

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
    ready = []                                    # a heap of (-sequence_nr, node): Note [engine order]
    for node, _ in roots:
        if deps[node] == 0 and not any(entry[1] is node for entry in ready):
            _push(ready, (-node._seq, node))

    prev_mode = _State.grad_enabled
    _State.grad_enabled = create_graph
    fast_sum = not create_graph
    slow_all = needed is not None
    anomaly = _Anomaly.enabled or _Anomaly.profiler is not None   # profiler: Note [profiler backward]
    pop = buffers.pop
    try:
        single = None                             # the only ready node, kept off the heap (a chain's case)
        while True:
            if single is not None:
                node = single
                single = None
            elif ready:
                node = _pop(ready)[1]
            else:
                break
            grads = pop(node, None)
            if node._runs_pre_backward or slow_all:       # leaves, hooks, autograd.grad
                if node.__class__ is AccumulateGrad and not slow_all and node._pre_hooks is None:
                    if grads is not None and grads[0] is not None:
                        variable = node._variable_ref()
                        if variable is not None:
                            _accumulate(variable, grads[0], create_graph, owned, node._dtype)
                    continue
                if slow_all and node not in needed:
                    _release_edges(node, deps, ready)
                    continue
                grads = _pre_backward(node, grads or [None] * node._n_out, capture, captured)
                if node.__class__ is AccumulateGrad:
                    variable = node._variable_ref()
                    if capture is None and grads[0] is not None and variable is not None:
                        _accumulate(variable, grads[0], create_graph, owned, node._dtype)
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
            saved = node._saved
            if saved is not None and not keep_graph and saved.__class__ is not NoneSaved:
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
                    if single is None and not ready:
                        single = nxt
                    else:
                        if single is not None:
                            _push(ready, (-single._seq, single))
                            single = None
                        _push(ready, (-nxt._seq, nxt))
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
    """autograd.grad capture, tensor hooks, retain_grad's, leaf hooks, then node pre-hooks.

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
    retains = node._retains_grad
    if retains is not None:                       # after the tensor's other hooks, as PyTorch's
        for nr, store in tuple(retains.items()):
            if grads[nr] is not None:
                store(grads[nr])
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
                _push(ready, (-nxt._seq, nxt))


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
