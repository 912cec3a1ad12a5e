"""Op (primitive on backend arrays), Function (PyTorch's custom autograd.Function), once_differentiable."""
import functools

from .graph import Node, _Anomaly, grad_accumulator, record_trace
from .grad_mode import _State

__all__ = ["Op", "Function", "FunctionCtx", "once_differentiable"]


class _AllFalse:
    __slots__ = ()

    def __getitem__(self, i):
        return False

    def __iter__(self):
        return iter(())


class _NullCtx:
    """The ctx forward() gets when nothing is recorded: saving is a no-op."""
    __slots__ = ("xp", "backend", "__dict__")
    needs_input_grad = _AllFalse()
    materialize_grads = True

    def __init__(self, backend):
        self.backend = backend
        self.xp = backend.xp

    def save_for_backward(self, *values):
        pass

    def mark_non_differentiable(self, *values):
        pass

    def mark_dirty(self, *values):
        pass

    def set_materialize_grads(self, value):
        pass


_NULL_CTX = {}
_CPU_CTX = None                # set below, once the CPU backend is importable


def null_ctx(device):
    ctx = _NULL_CTX.get(device)
    if ctx is None:
        from ..backends import backend_for
        ctx = _NULL_CTX[device] = _NullCtx(backend_for(device))
    return ctx


def _device_error(name, inputs):
    from .._tensor import Tensor
    devices = []
    for t in inputs:
        if isinstance(t, Tensor) and t._device not in devices:
            devices.append(t._device)
    raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                       f"{devices[0]} and {devices[1]}! (when checking arguments for {name})")


class Op:
    """A primitive: `forward(ctx, *arrays, **attrs) -> array(s)` and `backward(ctx, *grads) -> grads`.

    Subclasses set `broadcasts = True` when inputs may broadcast: the engine then sums each gradient
    back to its input's shape. `node_name` overrides the grad_fn class name (default NameBackward0).
    """
    broadcasts = False
    node_name = None
    non_differentiable_outputs = ()
    _node_cls = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("node_name") or cls.__name__ + "Backward0"
        cls._node_cls = type(name, (Node,), {"__slots__": (), "_op": cls, "__module__": "ember.autograd"})

    @classmethod
    def apply(cls, *inputs, **attrs):
        arrays = []
        device = None
        needs_grad = False
        for t in inputs:
            if isinstance(t, Tensor):
                arrays.append(t._array)
                if t._device is not device:
                    if device is None:
                        device = t._device
                    else:
                        _device_error(cls.__name__.lower(), inputs)
                if t._requires_grad:
                    needs_grad = True
            else:
                arrays.append(t)
        if device is None:
            device = CPU
        if needs_grad and _State.grad_enabled:
            return _record(cls, inputs, arrays, device, attrs)
        try:
            out = cls.forward(_CPU_CTX if device is CPU else null_ctx(device), *arrays, **attrs)
        except ValueError as e:
            _translate_error(cls, arrays, e)
        if out.__class__ is _ndarray:
            return _make(out, device)
        if out.__class__ is tuple:
            return tuple([_make(_as_array(o), device) for o in out])
        return _make(_as_array(out), device)


def _translate_error(cls, arrays, error):
    """NumPy's broadcasting ValueError becomes PyTorch's RuntimeError naming both shapes."""
    if "broadcast" in str(error):
        from ..ops._shapes import broadcast_shapes
        name = cls.__name__.lower()
        shapes = [tuple(a.shape) for a in arrays if hasattr(a, "shape")]
        broadcast_shapes(*shapes, op=name)
    raise error


def _as_array(value):
    # NumPy returns scalars from 0-d computations; tensors always hold arrays.
    if value.__class__ is _ndarray:
        return value
    return _np.asarray(value) if isinstance(value, _np.generic) or not hasattr(value, "shape") else value


def _record(cls, inputs, arrays, device, attrs):
    """Run forward with a fresh node as ctx and connect the outputs to it (the grad_fn)."""
    node = cls._node_cls()
    needs = []
    edges = []
    for t in inputs:
        if isinstance(t, Tensor) and t._requires_grad:
            needs.append(True)
            fn = t.grad_fn
            edges.append((fn, t._out_nr) if fn is not None else (grad_accumulator(t), 0))
        else:
            needs.append(False)
            edges.append(_NO_EDGE)
    node.needs_input_grad = tuple(needs)
    node.next_functions = tuple(edges)
    node._to_save = None
    node._saved = None
    node.xp = _CPU_CTX.xp if device is CPU else null_ctx(device).xp
    node._in_shapes = tuple([a.shape if n else None for a, n in zip(arrays, needs)]) if cls.broadcasts \
        else None
    try:
        raw = cls.forward(node, *arrays, **attrs)
    except ValueError as e:
        _translate_error(cls, arrays, e)
    if _Anomaly.enabled:
        record_trace(node)
    if raw.__class__ is not tuple and not cls.non_differentiable_outputs:     # the common case
        out = _make(raw if raw.__class__ is _ndarray else _as_array(raw), device, True, node)
        if node._to_save is not None:
            _save(node, inputs, arrays, (raw,), (out,), device)
        return out
    outs = raw if raw.__class__ is tuple else (raw,)
    results = []
    non_diff = cls.non_differentiable_outputs
    for nr, o in enumerate(outs):
        array = _as_array(o)
        results.append(_make(array, device) if nr in non_diff else _make(array, device, True, node, nr))
    if raw.__class__ is tuple:
        node._n_out = len(outs)
        node._out_meta = tuple([(r._array.shape, r._array.dtype, device) for r in results])
    if node._to_save is not None:
        _save(node, inputs, arrays, outs, results, device)
    return tuple(results) if raw.__class__ is tuple else results[0]


_NO_EDGE = (None, 0)


def _save(node, inputs, arrays, outs, results, device):
    to_save = node._to_save
    node._to_save = None
    node._saved = tuple([_saved_entry(v, inputs, arrays, outs, results, device) for v in to_save])


def _saved_entry(value, inputs, arrays, outs, results, device):
    """How a saved value is kept. Note [saved outputs]: an output is kept as its array and version
    counter, not as the Tensor, and rebuilt on access, so the node does not keep its output alive."""
    if value is None:
        return None
    for t, a in zip(inputs, arrays):
        if a is value and isinstance(t, Tensor):
            vc = t._vc
            return (0, t, 0 if vc is None else vc.value)
    for nr, o in enumerate(outs):
        if o is value:
            r = results[nr]
            if r.grad_fn is None:
                return (2, r)
            vc = r._vc
            if vc is None:                         # created lazily: only saved outputs need one at once
                vc = r._vc = VersionCounter()
            return (1, r._array, vc, vc.value, device, nr)
    if isinstance(value, Tensor):
        vc = value._vc
        return (0, value, 0 if vc is None else vc.value)
    return (2, _make(_as_array(value), device))


class FunctionCtx:
    """Documentation name for the ctx of a custom Function (the ctx is its grad_fn node)."""


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._node_cls = type(name + "Backward", (Node,), {"__slots__": (), "_op": cls,
                                                          "__module__": "ember.autograd"})


class Function(metaclass=_FunctionMeta):
    """PyTorch's custom autograd Function: static forward/backward on Tensors, used through .apply."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. "
                           "Please use new-style autograd function with static forward method.")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        uses_setup = cls.setup_context is not Function.setup_context
        needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        record = _State.grad_enabled and any(needs)
        node = cls._node_cls()
        node.needs_input_grad = needs
        node._to_save = None
        node._saved = None
        device = next((a._device for a in args if isinstance(a, Tensor)), CPU)
        node.xp = null_ctx(device).xp
        prev = _State.grad_enabled
        _State.grad_enabled = False
        try:
            if uses_setup:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, outputs)
            else:
                outputs = cls.forward(node, *args, **kwargs)
        finally:
            _State.grad_enabled = prev
        multi = isinstance(outputs, tuple)
        outs = outputs if multi else (outputs,)
        dirty = node._dirty or ()
        non_diff = node._non_differentiable or ()
        results = []
        for o in outs:
            if not isinstance(o, Tensor):
                results.append(o)
                continue
            if any(o is d for d in dirty):
                if o._vc is None:
                    o._vc = VersionCounter()
                o._vc.value += 1
                results.append(o)
            elif any(o is a for a in args):
                results.append(o.view_as(o) if record else o)   # an input returned as is gets a new node
            else:
                results.append(o)
        if not record:
            return tuple(results) if multi else results[0]
        edges = []
        for a, needed in zip(args, needs):
            if not needed:
                edges.append((None, 0))
            elif a.grad_fn is not None:
                edges.append((a.grad_fn, a._out_nr))
            else:
                edges.append((grad_accumulator(a), 0))
        node.next_functions = tuple(edges)
        # A custom backward may return broadcast-shaped grads: the engine checks and reduces them.
        node._in_shapes = tuple([a._array.shape if n else None for a, n in zip(args, needs)])
        tensor_outs = [(nr, r) for nr, r in enumerate(results) if isinstance(r, Tensor)]
        node._n_out = len(results)
        node._out_meta = tuple([(r.shape, r._array.dtype, r._device) if isinstance(r, Tensor) else ((), None, device)
                                for r in results])
        if _Anomaly.enabled:
            record_trace(node)
        for nr, r in tensor_outs:
            if any(r is n for n in non_diff) or not (r.dtype.is_floating_point or r.dtype.is_complex):
                continue
            r._requires_grad = True
            r.grad_fn = node
            r._out_nr = nr
            if r._vc is None:
                r._vc = VersionCounter()
        to_save = node._to_save
        if to_save is not None:
            node._to_save = None
            node._saved = tuple([_function_saved(v, results, device) for v in to_save])
        return tuple(results) if multi else results[0]

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override to use the split forward/setup_context style."""


def _function_saved(value, results, device):
    if value is None:
        return None
    for nr, r in enumerate(results):
        if r is value and r.grad_fn is not None and r._out_nr == nr:
            return (1, r._array, r._vc, r._vc.value, device, nr)
    vc = value._vc
    return (0, value, 0 if vc is None else vc.value)


def once_differentiable(fn):
    """Run a custom backward without recording, refusing double backward through it."""
    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        prev = _State.grad_enabled
        _State.grad_enabled = False
        try:
            outputs = fn(ctx, *grads)
        finally:
            _State.grad_enabled = prev
        if not prev or not any(getattr(g, "_requires_grad", False) for g in grads):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        anchor = next(g for g in grads if getattr(g, "_requires_grad", False))
        wrapped = tuple(_DelayedError.apply(o, anchor) if o is not None else None for o in outs)
        return wrapped[0] if single else wrapped
    return wrapper


class _DelayedError(Op):
    """Stands in the graph of a once_differentiable backward's outputs; differentiating it fails."""
    node_name = "DelayedError"

    @staticmethod
    def forward(ctx, value, anchor):
        return value

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


import numpy as _np  # noqa: E402

from .._device import CPU  # noqa: E402
from .._tensor import Tensor, VersionCounter, _make  # noqa: E402

_ndarray = _np.ndarray
_CPU_CTX = null_ctx(CPU)
