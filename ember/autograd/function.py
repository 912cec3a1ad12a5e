"""Op (primitive on backend arrays), Function (PyTorch's custom autograd.Function), once_differentiable."""
import functools

from .anomaly_mode import _Anomaly
from .graph import (NON_TENSOR, Node, _saved_tensor_of, _SavedHooks, grad_accumulator, pack_saved,
                    record_trace, refresh_view)
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
    # A real tuple (C-level indexing) rather than _AllFalse: forward() reads it on every no-grad call.
    needs_input_grad = (False,) * 256
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
    holomorphic = True           # complex outputs: backward is the real formula, conjugated (see graph.py)
    node_name = None
    non_differentiable_outputs = ()
    scalar_operand_edge = False  # PyTorch wraps a Python scalar operand in a tensor: (None, 0) in next_functions
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

    @classmethod
    def apply_binary(cls, input, other):
        """apply(input, other) for a single-output op of a Tensor and a Tensor or non-tensor, no keywords.

        The Tensor operators' fast path (Note [operator fast path]): the same steps as apply() without
        packing *inputs/**attrs or looping over them, a quarter of a small op's overhead."""
        device = input._device
        if isinstance(other, Tensor):
            if other._device is not device:
                _device_error(cls.__name__.lower(), (input, other))
            arrays = (input._array, other._array)
            needs_grad = input._requires_grad or other._requires_grad
        else:
            arrays = (input._array, other)
            needs_grad = input._requires_grad
        if needs_grad and _State.grad_enabled:
            return _record_binary(cls, input, other, arrays, device)
        try:
            out = cls.forward(_CPU_CTX if device is CPU else null_ctx(device), *arrays)
        except ValueError as e:
            _translate_error(cls, arrays, e)
        return _make(out if out.__class__ is _ndarray else _as_array(out), device)

    @classmethod
    def apply_unary(cls, input):
        """apply(input) for a single-output op of one Tensor, no attributes (exp, relu, clone, ...)."""
        device = input._device
        if input._requires_grad and _State.grad_enabled:
            return _record_unary(cls, input, device)
        array = input._array
        try:
            out = cls.forward(_CPU_CTX if device is CPU else null_ctx(device), array)
        except ValueError as e:
            _translate_error(cls, (array,), e)
        return _make(out if out.__class__ is _ndarray else _as_array(out), device)


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
    version = None
    for t in inputs:
        if isinstance(t, Tensor):
            if version is None:                    # the version the first tensor input is seen at
                version = 0 if t._vc is None else t._vc.value
            if t._requires_grad:
                needs.append(True)
                if t._base is not None:
                    refresh_view(t)                # Note [stale views]
                fn = t.grad_fn
                if fn is not None:
                    edges.append((fn, t._out_nr))
                else:
                    edges.append((t._acc or grad_accumulator(t), 0))
                continue
            edges.append(_NO_EDGE)
        else:
            edges.append(_NO_EDGE if cls.scalar_operand_edge else NON_TENSOR)
        needs.append(False)
    node.needs_input_grad = tuple(needs)
    node._edges = tuple(edges)
    node._to_save = None
    node._saved = None
    node._in_version = version
    if device is not CPU:                          # class defaults hold the CPU's xp and backend
        ctx = null_ctx(device)
        node.xp, node.backend = ctx.xp, ctx.backend
    if not cls.broadcasts:
        node._in_shapes = None
    elif len(arrays) == 2:                         # binary ops, the usual case: no comprehension frame
        node._in_shapes = (arrays[0].shape if needs[0] else None, arrays[1].shape if needs[1] else None)
    else:
        node._in_shapes = tuple([a.shape if n else None for a, n in zip(arrays, needs)])
    try:
        raw = cls.forward(node, *arrays, **attrs)
    except ValueError as e:
        _translate_error(cls, arrays, e)
    if _Anomaly.enabled:
        record_trace(node)
    return _finish(cls, node, inputs, arrays, raw, device)


def _finish(cls, node, inputs, arrays, raw, device):
    """Connect forward's result(s) to the node and keep what it saved."""
    if cls.holomorphic and raw.__class__ is not tuple:
        dtype = getattr(raw, "dtype", None)
        if dtype is not None and dtype.kind == "c":
            node._conj = True                      # Note [complex gradients] in graph.py
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


def _edge(t):
    """The edge from a node to a tensor input that requires grad: its grad_fn output, or its accumulator."""
    if t._base is not None:
        refresh_view(t)                            # Note [stale views]
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._out_nr)
    return (t._acc or grad_accumulator(t), 0)


def _record_binary(cls, input, other, arrays, device):
    """_record for apply_binary: a Tensor input, a Tensor or non-tensor other, one output, no keywords.

    The same steps as _record unrolled for two inputs (no loops, lists or **attrs): recording is most
    of a small op's cost on the seed's loops, and every tensor operator lands here."""
    node = cls._node_cls()
    vc = input._vc
    node._in_version = 0 if vc is None else vc.value
    n0 = input._requires_grad
    e0 = _edge(input) if n0 else _NO_EDGE
    if other.__class__ is Tensor or isinstance(other, Tensor):
        n1 = other._requires_grad
        e1 = _edge(other) if n1 else _NO_EDGE
    else:
        n1 = False
        e1 = _NO_EDGE if cls.scalar_operand_edge else NON_TENSOR
    node.needs_input_grad = (n0, n1)
    node._edges = (e0, e1)
    node._to_save = None
    node._saved = None
    if device is not CPU:                          # class defaults hold the CPU's xp and backend
        ctx = null_ctx(device)
        node.xp, node.backend = ctx.xp, ctx.backend
    a0, a1 = arrays
    node._in_shapes = (a0.shape if n0 else None, a1.shape if n1 else None) if cls.broadcasts else None
    try:
        raw = cls.forward(node, a0, a1)
    except ValueError as e:
        _translate_error(cls, arrays, e)
    if _Anomaly.enabled:
        record_trace(node)
    if raw.__class__ is not _ndarray or cls.non_differentiable_outputs:
        return _finish(cls, node, (input, other), arrays, raw, device)
    return _single_output(cls, node, raw, (input, other), arrays, device)


def _record_unary(cls, input, device):
    """_record for apply_unary: one Tensor input that requires grad, one output, no attributes."""
    node = cls._node_cls()
    vc = input._vc
    node._in_version = 0 if vc is None else vc.value
    node.needs_input_grad = _NEEDS_ONE
    node._edges = (_edge(input),)
    node._to_save = None
    node._saved = None
    node._in_shapes = None
    if device is not CPU:
        ctx = null_ctx(device)
        node.xp, node.backend = ctx.xp, ctx.backend
    array = input._array
    try:
        raw = cls.forward(node, array)
    except ValueError as e:
        _translate_error(cls, (array,), e)
    if _Anomaly.enabled:
        record_trace(node)
    if raw.__class__ is not _ndarray or cls.non_differentiable_outputs:
        return _finish(cls, node, (input,), (array,), raw, device)
    return _single_output(cls, node, raw, (input,), (array,), device)


_NEEDS_ONE = (True,)


def _single_output(cls, node, raw, inputs, arrays, device):
    """The usual end of recording: one array result, connected to the node, and what forward saved."""
    if cls.holomorphic and raw.dtype.kind == "c":
        node._conj = True                          # Note [complex gradients] in graph.py
    out = _make(raw, device, True, node)
    if node._to_save is not None:
        _save(node, inputs, arrays, (raw,), (out,), device)
    return out


def _save(node, inputs, arrays, outs, results, device):
    entries = []
    for value in node._to_save:
        if value is not None:
            for t, a in zip(inputs, arrays):       # an input: inlined, the common case
                if a is value and isinstance(t, Tensor):
                    vc = t._vc
                    entries.append((0, t, 0 if vc is None else vc.value))
                    break
            else:
                entries.append(_saved_entry(value, outs, results, device, node.xp))
        else:
            entries.append(None)
    node._to_save = None
    node._saved = tuple(entries)
    if _SavedHooks.stack:
        node._saved = _pack_with_hooks(node)


def _pack_with_hooks(node):
    # The tensors themselves go to the pack hook (outputs rebuilt from their entry, connected to node).
    entries = node._saved
    node._saved = None
    return pack_saved(entries, [_saved_tensor_of(e, node) for e in entries])


def _saved_entry(value, outs, results, device, xp):
    """How a saved value (not an input tensor) is kept. Note [saved outputs]: an output is kept as its
    array and version counter, not as the Tensor, and rebuilt on access, so the node does not keep its
    output alive."""
    out = outs[0]
    if (value.__class__ is float or value.__class__ is int) and out.__class__ is _ndarray and out.dtype.kind in "fc":
        # A Python scalar operand is weak in promotion: keep it in the op's result dtype, so that the
        # backward formula computes in that dtype too (and takes the no-promotion fast path).
        return (2, _make(xp.asarray(value, out.dtype), device))
    for nr, o in enumerate(outs):
        if o is value:
            r = results[nr]
            if r.grad_fn is None:                  # a non-differentiable output (indices): version checked too
                vc = r._vc
                return (0, r, 0 if vc is None else vc.value)
            vc = r._vc
            if vc is None:                         # created lazily: only saved outputs need one at once
                vc = r._vc = VersionCounter()
            return (1, r._array, vc, vc.value, device, nr)
    if isinstance(value, Tensor):
        vc = value._vc
        return (0, value, 0 if vc is None else vc.value)
    array = _as_array(value) if xp is _np else xp.asarray(value)
    if not hasattr(value, "shape") and getattr(out, "dtype", None) is not None and out.dtype.kind in "fc":
        array = array.astype(out.dtype)            # other weak scalars (bool, numpy scalars): the same rule
    return (2, _make(array, device))


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
        needs = []
        device = None
        for a in args:
            if isinstance(a, Tensor):
                needs.append(a._requires_grad)
                if device is None:
                    device = a._device
            else:
                needs.append(False)
        needs = tuple(needs)
        record = _State.grad_enabled and True in needs
        node = cls._node_cls()
        node.needs_input_grad = needs
        node._to_save = None
        node._saved = None
        node._in_version = None
        if device is None:
            device = CPU
        elif device is not CPU:
            ctx = null_ctx(device)
            node.xp, node.backend = ctx.xp, ctx.backend
        prev = _State.grad_enabled
        _State.grad_enabled = False               # forward is not recorded: backward defines the gradient
        try:
            if cls.setup_context is not Function.setup_context:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, outputs)
            else:
                outputs = cls.forward(node, *args, **kwargs)
        finally:
            _State.grad_enabled = prev
        multi = isinstance(outputs, tuple)
        results = _function_outputs(node, args, outputs if multi else (outputs,), record)
        if record:
            _connect(node, args, needs, results, device)
        return tuple(results) if multi else results[0]

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override to use the split forward/setup_context style."""

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD (ember has no forward mode AD).")


def _function_outputs(node, args, outs, record):
    """A custom Function's outputs: dirty inputs stay themselves, other inputs returned as is become aliases."""
    dirty = node._dirty
    results = []
    for o in outs:
        if not isinstance(o, Tensor):
            results.append(o)
        elif dirty is not None and _holds(dirty, o):
            if record and o._requires_grad and o.grad_fn is None and o._base is None:
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
            o._bump_version()                      # PyTorch bumps a dirty input once more on output
            results.append(o)
        elif record and _holds(args, o):
            alias = _make(o._array, o._device, vc=o._vc)     # PyTorch returns a view: same data, new history
            if alias._vc is None:
                alias._vc = o._vc = VersionCounter()
            alias._base = o._base if o._base is not None else o
            results.append(alias)
        else:
            results.append(o)
    return results


def _holds(values, obj):
    """Whether `obj` itself is among `values` (identity: `in` would compare tensors elementwise)."""
    for v in values:
        if v is obj:
            return True
    return False


def _connect(node, args, needs, results, device):
    """Record the graph: edges to the inputs, checks on the gradients, outputs owned by the node."""
    edges = []
    meta = []
    for a, needed in zip(args, needs):
        if not isinstance(a, Tensor):
            edges.append(NON_TENSOR)
            meta.append(None)
        elif not needed:
            edges.append(_NO_EDGE)
            meta.append(None)
        else:
            if a._base is not None:
                refresh_view(a)                    # Note [stale views]
            edges.append((a.grad_fn, a._out_nr) if a.grad_fn is not None else (grad_accumulator(a), 0))
            meta.append((a._array.shape, a._array.dtype))
    node._edges = tuple(edges)
    # A custom backward may return broadcast-shaped grads or another dtype: the engine checks and fixes them.
    node._in_shapes = tuple([m[0] if m is not None else None for m in meta])
    node._in_meta = tuple(meta)
    node._checked = True
    node._n_out = len(results)
    node._out_meta = tuple([(r._array.shape, r._array.dtype, r._device) if isinstance(r, Tensor) else None
                            for r in results])
    if _Anomaly.enabled:
        record_trace(node)
    non_diff = node._non_differentiable or ()
    for nr, r in enumerate(results):
        if not isinstance(r, Tensor) or non_diff and _holds(non_diff, r) or r._array.dtype.kind not in "fc" and \
                not (r.dtype.is_floating_point or r.dtype.is_complex):
            continue
        r._requires_grad = True
        r.grad_fn = node
        r._out_nr = nr
        if r._vc is None:
            r._vc = VersionCounter()
    to_save = node._to_save
    if to_save is not None:
        node._to_save = None
        node._saved = tuple([_function_saved(v, results, device, i) for i, v in enumerate(to_save)])
        if _SavedHooks.stack:
            node._saved = _pack_with_hooks(node)


def _function_saved(value, results, device, index):
    if value is None:
        return None
    if not isinstance(value, Tensor):
        raise TypeError(f"save_for_backward can only save variables, but argument {index} is of type "
                        f"{type(value).__name__}")
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
