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
                if device is None:
                    device = t._device
                elif t._device is not device:
                    _device_error(cls.__name__.lower(), inputs)
                if t._requires_grad:
                    needs_grad = True
            else:
                arrays.append(t)
        if device is None:
            device = CPU
        if not (needs_grad and _State.grad_enabled):
            try:
                out = cls.forward(null_ctx(device), *arrays, **attrs)
            except ValueError as e:
                _translate_error(cls, arrays, e)
            if out.__class__ is tuple:
                return tuple([_make(_as_array(o), device) for o in out])
            return _make(_as_array(out), device)
        return _record(cls, inputs, arrays, device, attrs)


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
    node = cls._node_cls()
    node.needs_input_grad = needs = tuple([isinstance(t, Tensor) and t._requires_grad for t in inputs])
    node._to_save = None
    node._saved = None
    node.xp = null_ctx(device).xp
    try:
        raw = cls.forward(node, *arrays, **attrs)
    except ValueError as e:
        _translate_error(cls, arrays, e)
    multi = raw.__class__ is tuple
    outs = raw if multi else (raw,)
    edges = []
    for t, needed in zip(inputs, needs):
        if not needed:
            edges.append((None, 0))
        elif t.grad_fn is not None:
            edges.append((t.grad_fn, t._out_nr))
        else:
            edges.append((grad_accumulator(t), 0))
    node.next_functions = tuple(edges)
    node._in_shapes = tuple([a.shape if n else None for a, n in zip(arrays, needs)]) if cls.broadcasts \
        else None
    if _Anomaly.enabled:
        record_trace(node)
    results = []
    non_diff = cls.non_differentiable_outputs
    for nr, o in enumerate(outs):
        array = _as_array(o)
        if nr in non_diff:
            results.append(_make(array, device))
        else:
            results.append(_make(array, device, True, node, nr, VersionCounter()))
    if multi:
        node._n_out = len(outs)
        node._out_meta = tuple([(r._array.shape, r._array.dtype, device) for r in results])
    to_save = node._to_save
    if to_save is not None:
        node._to_save = None
        node._saved = tuple([_saved_entry(v, inputs, arrays, outs, results, device) for v in to_save])
    return tuple(results) if multi else results[0]


def _saved_entry(value, inputs, arrays, outs, results, device):
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
            return (1, r._array, r._vc, r._vc.value, device, nr)
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
