"""Autograd: backward(), grad(), custom Functions, grad modes, anomaly detection."""
from .. import _dtype as _dt
from .._tensor import Tensor, _make
from . import graph
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .graph import _Anomaly, run_backward
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
    for out, g in zip(outputs, grad_outputs):
        if not out._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out._array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out.dtype.category < _dt.FLOAT:
                raise RuntimeError("grad can be computed only for real scalar outputs")
            g = _make(out._backend().xp.ones(out._array.shape, dtype=out._array.dtype), out._device)
        else:
            if not isinstance(g, Tensor):
                from ..ops.creation import tensor
                g = tensor(g, dtype=out.dtype, device=out.device)
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and output[0] "
                                   f"has a shape of {out.shape}.")
            if g.dtype is not out.dtype:
                g = g.to(out.dtype)
            if not create_graph and g._requires_grad:
                g = g.detach()
        node = out.grad_fn if out.grad_fn is not None else graph.grad_accumulator(out)
        roots.append((node, out._out_nr if out.grad_fn is not None else 0))
        grads.append(g)
    return roots, grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad (or only into `inputs`)."""
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
            if g is None:
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
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        if t.grad_fn is not None:
            key = (t.grad_fn, t._out_nr)
        else:
            ref = t._acc
            acc = ref() if ref is not None else None
            if acc is None:
                slots.append(None)
                continue
            key = (acc, 0)
        slots.append(capture.setdefault(key, len(capture)))
    captured = run_backward(roots, grads, retain_graph, create_graph, capture=capture)
    results = []
    for i, slot in enumerate(slots):
        g = captured[slot] if slot is not None else None
        results.append(g)
    return results


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of outputs with respect to inputs, returned instead of accumulated."""
    outputs = _as_tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _as_tuple(inputs)
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
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        elif not create_graph:
            results[i] = g.detach() if g._requires_grad else g
    return tuple(results) if not single else tuple(results)


class set_detect_anomaly:
    """Turn anomaly detection on or off (also a context manager restoring the previous state)."""

    def __init__(self, mode, check_nan=True):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev
        return False


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection: NaN gradients raise with the forward trace."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def is_anomaly_enabled():
    return _Anomaly.enabled


def is_anomaly_check_nan_enabled():
    return _Anomaly.check_nan
