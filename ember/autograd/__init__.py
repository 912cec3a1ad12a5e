"""Autograd: backward(), grad(), custom Functions, grad modes, anomaly detection."""
import sys as _sys
from .. import _dtype as _dt
from .._tensor import Tensor, _make
from . import graph
from .function import Function, FunctionCtx, null_ctx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                           set_detect_anomaly)
from .engine import run_backward
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

# PyTorch's package attribute `gradcheck` is the function (shadowing the submodule); the function also
# carries the module's public names so `ember.autograd.gradcheck.gradcheck` reads naturally.
gradcheck.gradcheck, gradcheck.gradgradcheck, gradcheck.GradcheckError = gradcheck, gradgradcheck, GradcheckError

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "set_detect_anomaly", "detect_anomaly",
           "is_anomaly_enabled", "gradcheck", "gradgradcheck"]


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(outputs, grad_outputs, create_graph):
    roots, grads = [], []
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs: got {len(grad_outputs)} "
                           f"gradients for {len(outputs)} outputs")
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            array = out._array
            if array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if array.dtype.kind != "f" and out.dtype.category != _dt.FLOAT:
                raise RuntimeError("grad can be implicitly created only for real scalar outputs but got "
                                   f"{out.dtype}")
            xp = null_ctx(out._device).xp
            g = _make(xp.array(1, dtype=array.dtype) if not array.ndim else xp.ones(array.shape, dtype=array.dtype),
                      out._device)
        else:
            if not isinstance(g, Tensor):
                from ..ops.creation import tensor
                g = tensor(g, dtype=out.dtype, device=out.device)
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and output[0] "
                                   f"has a shape of {out.shape}.")
            if g.dtype is not out.dtype:
                g = g.to(out.dtype)
        fn = out.grad_fn                           # a view's, regenerated if its base changed
        node = fn if fn is not None else graph.grad_accumulator(out)
        if node is None:                           # a view that requires grad only through its base: no edge
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append((node, out._out_nr if fn is not None else 0))
        grads.append(g)
    return roots, grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad (or only into `inputs`)."""
    fn = getattr(tensors, "grad_fn", None)
    if fn is not None and grad_tensors is None and inputs is None and grad_variables is None and \
            tensors._base is None and tensors._array.size == 1 and tensors._array.dtype.kind == "f":
        # the common `loss.backward()`: one real scalar with history, the implicit gradient 1
        array = tensors._array
        xp = fn.xp
        g = _make(xp.array(1, dtype=array.dtype) if not array.ndim else xp.ones(array.shape, dtype=array.dtype),
                  tensors._device)
        run_backward(((fn, tensors._out_nr),), (g,), create_graph if retain_graph is None else retain_graph,
                     create_graph)
        return
    outputs = _as_tuple(tensors)
    if grad_variables is not None:
        grad_tensors = grad_variables
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = _root_grads(outputs, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        results = _grad(roots, grads, inputs, retain_graph, create_graph, allow_unused=True)
        for t, g in zip(inputs, results):
            if g is None or t.grad_fn is not None and t.retains_grad:    # its retain_grad hook stored it
                continue
            if t._grad is None:
                t._grad = g if create_graph else g.detach()
            else:
                t._grad = t._grad + g
        return
    run_backward(roots, grads, retain_graph, create_graph)


def _grad(roots, grads, inputs, retain_graph, create_graph, allow_unused):
    capture = {}
    slots = []
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        fn = t.grad_fn                             # a view's, regenerated if its base changed
        if fn is not None:
            key = (fn, t._out_nr)
        else:
            acc = t._acc
            if acc is None:
                slots.append(None)
                continue
            key = (acc, 0)
        slots.append(capture.setdefault(key, len(capture)))
    captured = run_backward(roots, grads, retain_graph, create_graph, capture=capture)
    results = []
    for i, slot in enumerate(slots):
        g = captured[slot] if slot is not None else None
        acc = inputs[i]._acc if inputs[i]._grad_fn is None else None
        if g is not None and acc is not None and g._array.dtype is not acc._dtype and \
                g._array.dtype.kind == "f" == acc._dtype.kind:
            g = g.to(_dt._FROM_NUMPY[acc._dtype])  # a leaf's in its dtype when the graph was made, as PyTorch's
        results.append(g)
    return results


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of outputs with respect to inputs, returned instead of accumulated."""
    vmapping = _sys.modules.get("ember._vmap")
    if vmapping is not None and vmapping._Vmap.level:          # BatchedTensors differentiate (Note [vmap])
        found = vmapping.batched_grad(grad, outputs, inputs, grad_outputs, retain_graph, create_graph,
                                      allow_unused, materialize_grads)
        if found is not None:
            return found
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = _root_grads(outputs, grad_outputs, create_graph)
    results = _grad(roots, grads, inputs, retain_graph, create_graph, allow_unused)
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if materialize_grads:
                from ..ops.creation import zeros_like
                results[i] = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
    # Without create_graph a gradient has no history, except where a formula hands back a tensor as it is (the
    # input itself, cummax's of an empty input; a grad_output; a custom backward's saved tensor): PyTorch returns
    # that tensor itself, and so does ember.
    return tuple(results)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    """is_grads_batched=True: the first dim of each grad_output indexes independent vector-Jacobian products.

    Deviation: PyTorch vectorizes with vmap; ember loops over the batch (same results).
    """
    from ..ops.joining import stack
    grad_outputs = _as_tuple(grad_outputs)
    batch = grad_outputs[0].shape[0]
    per_item = []
    for b in range(batch):
        per_item.append(grad(outputs, inputs, [g[b] for g in grad_outputs], retain_graph=True,
                             create_graph=create_graph, allow_unused=allow_unused,
                             materialize_grads=materialize_grads))
    results = []
    for column in zip(*per_item):
        results.append(None if column[0] is None else stack(column))
    return tuple(results)


def __getattr__(name):
    # autograd.functional imports ops, which import this package: load it on first use.
    if name in ("functional", "profiler"):          # profiler: loaded on first use too
        import importlib
        module = importlib.import_module(f"ember.autograd.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ember.autograd' has no attribute '{name}'")
