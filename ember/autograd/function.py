"""Op (primitive on backend arrays), Function (PyTorch's custom autograd.Function), once_differentiable.

Note [recording an op]: Op.apply runs `forward` on the inputs' arrays. When no input requires grad, or grad
mode is off, forward gets the device's shared null ctx and only the outputs are wrapped. Otherwise the op is
recorded in three steps: _record makes the node (the outputs' future grad_fn, with an edge per input and
the input shapes a broadcasting op un-broadcasts to) and runs forward with the node as ctx; _finish wraps
the output(s) with the node as their grad_fn; _save turns what forward passed to ctx.save_for_backward
into saved entries (Note [saved entries] in graph.py). apply_unary and apply_binary are the same steps for
the commonest calls, with the loops over inputs unrolled: Note [apply fast path].
"""
import functools

from .anomaly_mode import _Anomaly, record_trace
from .forward_ad import _Fw
from .graph import (NO_GRAD_EDGE, NON_TENSOR, SAVED_CONSTANT, SAVED_INPUT, SAVED_OUTPUT, Node, NoneSaved,
                    _SavedHooks, grad_accumulator, move_retains_grad, next_sequence_nr, pack_saved, refresh_view)
from .grad_mode import _State

__all__ = ["Op", "Function", "FunctionCtx", "once_differentiable"]

from . import forward_ad as _forward_ad  # noqa: E402


class _NullCtx:
    """The ctx forward() gets when nothing is recorded: saving is a no-op."""
    __slots__ = ("xp", "backend", "__dict__")
    # A real tuple (C-level indexing): forward() reads it on every no-grad call.
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
        from .._backends import backend_for
        ctx = _NULL_CTX[device] = _NullCtx(backend_for(device))
    return ctx


def _on_one_device(name, inputs):
    """The inputs with cpu 0-d tensors copied to the one other device the others are on: PyTorch reads a cpu
    0-d tensor beside cuda tensors as a scalar. The copy is differentiable, so a cpu leaf's grad stays on the
    cpu. Any other mix of devices raises PyTorch's error."""
    from .._tensor import Tensor
    others = {t._device for t in inputs if isinstance(t, Tensor) and not (t._device is CPU and t._array.ndim == 0)}
    if len(others) != 1 or CPU in others:
        _device_error(name, inputs)
    device = others.pop()
    return tuple(t.to(device) if isinstance(t, Tensor) and t._device is not device else t for t in inputs)


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
    holomorphic = True           # complex outputs: backward is the real formula, conjugated (see engine.py)
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
        """forward(ctx, *arrays, **attrs) on the inputs' arrays, recorded when an input requires grad
        (Note [recording an op]); Tensors out."""
        if _Fw.on and _forward_ad.has_tangent(inputs):           # Note [forward AD]
            return _forward_ad.fw_apply(cls, inputs, attrs)
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
                        return cls.apply(*_on_one_device(cls.__name__.lower(), inputs), **attrs)
                if t._requires_grad or t._base is not None and t._base._requires_grad:   # Note [views]
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
            return tuple([_make(_as_array(o, device), device) for o in out])
        return _make(_as_array(out, device), device)

    # Note [apply fast path]: apply_unary and apply_binary are apply() for a single-output op of one Tensor
    # and at most one more operand (a Tensor or a non-tensor), no attributes: the Tensor operators (+ - * /,
    # Note [operator fast path] in _tensor_protocols.py), the unary table, relu, clone, sum, and a few hot
    # calls in backward formulas. They take apply's steps without packing *inputs/**attrs, and _record_fast is
    # _record with the loop over inputs unrolled. What that pays, measured with benchmarks/bench_ops.py
    # (2000 floats, ember side, against these two routed through apply()): 0.3-0.45 us of 1.6-2.7 us a
    # call without grad (15-25%) and 0.5-0.6 us of 2.2-4.2 us with grad (13-23%); the seed autograd loops
    # (benchmarks/bench_autograd.py) and run.py's per-op workload take ~10% less time.
    @classmethod
    def apply_unary(cls, input):
        """apply(input) for a single-output op of one Tensor, no attributes (Note [apply fast path])."""
        if _Fw.on and _forward_ad.has_tangent((input,)):
            return _forward_ad.fw_apply(cls, (input,), {})
        device = input._device
        if (input._requires_grad or input._base is not None and input._base._requires_grad) and \
                _State.grad_enabled:
            return _record_fast(cls, (input,), (input._array,), device)
        array = input._array
        try:
            out = cls.forward(_CPU_CTX if device is CPU else null_ctx(device), array)
        except ValueError as e:
            _translate_error(cls, (array,), e)
        return _make(out if out.__class__ is _ndarray else _as_array(out, device), device)

    @classmethod
    def apply_binary(cls, input, other):
        """apply(input, other) for a single-output op of a Tensor and a Tensor or non-tensor, no attributes
        (Note [apply fast path])."""
        if _Fw.on and _forward_ad.has_tangent((input, other)):
            return _forward_ad.fw_apply(cls, (input, other), {})
        device = input._device
        if isinstance(other, Tensor):
            if other._device is not device:
                return cls.apply(*_on_one_device(cls.__name__.lower(), (input, other)))
            arrays = (input._array, other._array)
            needs_grad = input._requires_grad or other._requires_grad or \
                input._base is not None and input._base._requires_grad or \
                other._base is not None and other._base._requires_grad
        else:
            arrays = (input._array, other)
            needs_grad = input._requires_grad or input._base is not None and input._base._requires_grad
        if needs_grad and _State.grad_enabled:
            return _record_fast(cls, (input, other), arrays, device)
        try:
            out = cls.forward(_CPU_CTX if device is CPU else null_ctx(device), *arrays)
        except ValueError as e:
            _translate_error(cls, arrays, e)
        return _make(out if out.__class__ is _ndarray else _as_array(out, device), device)


def _translate_error(cls, arrays, error):
    """NumPy's broadcasting ValueError becomes PyTorch's RuntimeError naming both shapes."""
    if "broadcast" in str(error):
        from ..ops._shapes import broadcast_shapes
        name = cls.__name__.lower()
        shapes = [tuple(a.shape) for a in arrays if hasattr(a, "shape")]
        broadcast_shapes(*shapes, op=name)
    raise error


def _as_array(value, device=None):
    # NumPy returns scalars from 0-d computations (CuPy returns 0-d arrays) and a forward may return a Python number;
    # tensors always hold arrays, made by the array module of the result's device.
    if value.__class__ is _ndarray or (hasattr(value, "shape") and not isinstance(value, _np.generic)):
        return value
    return (_CPU_CTX if device is None or device is CPU else null_ctx(device)).xp.asarray(value)


def _record(cls, inputs, arrays, device, attrs):
    """Make the node (edges, needs_input_grad, input shapes), run forward with it as ctx, then _finish."""
    node = cls._node_cls()
    node._seq = next_sequence_nr()
    needs = []
    edges = []
    version = None
    first = None
    for t in inputs:
        if isinstance(t, Tensor):
            if version is None:                    # the version the first tensor input is seen at
                version = 0 if t._vc is None else t._vc.value
                first = t
            elif t._array is first._array and t is not first:
                arrays = _distinct_arrays(inputs, arrays)
            if t._requires_grad or t._base is not None and t._base._requires_grad:
                edge = _edge(t)
                needs.append(edge[0] is not None)
                edges.append(edge)
            else:
                needs.append(False)
                edges.append(NO_GRAD_EDGE)
        else:
            needs.append(False)
            edges.append(NO_GRAD_EDGE if cls.scalar_operand_edge else NON_TENSOR)
    node.needs_input_grad = tuple(needs)
    node._edges = tuple(edges)
    node._in_version = version
    if not cls.broadcasts:
        node._in_shapes = None
    elif len(arrays) == 2:                         # binary ops, the usual case: no comprehension frame
        node._in_shapes = (arrays[0].shape if needs[0] else None, arrays[1].shape if needs[1] else None)
    else:
        node._in_shapes = tuple([a.shape if n else None for a, n in zip(arrays, needs)])
    node._to_save = None
    node._saved = None
    if device is not CPU:                          # class defaults hold the CPU's xp and backend
        ctx = null_ctx(device)
        node.xp, node.backend = ctx.xp, ctx.backend
    try:
        raw = cls.forward(node, *arrays, **attrs)
    except ValueError as e:
        _translate_error(cls, arrays, e)
    if _Anomaly.enabled:
        record_trace(node)
    return _finish(cls, node, inputs, arrays, raw, device)


def _record_fast(cls, inputs, arrays, device):
    """_record for apply_unary/apply_binary: `inputs` is (tensor,) or (tensor, tensor or scalar), no
    attributes. The same steps with the loop over inputs unrolled (Note [apply fast path])."""
    node = cls._node_cls()
    node._seq = next_sequence_nr()
    input = inputs[0]
    vc = input._vc
    node._in_version = 0 if vc is None else vc.value
    node._to_save = None
    node._saved = None
    if device is not CPU:                          # class defaults hold the CPU's xp and backend
        ctx = null_ctx(device)
        node.xp, node.backend = ctx.xp, ctx.backend
    try:
        if len(arrays) == 1:                       # apply_unary records only when its input requires grad
            edge = _edge(input)
            node.needs_input_grad = _NEEDS_ONE if edge[0] is not None else _NEEDS_NONE
            node._edges = (edge,)
            node._in_shapes = None
            raw = cls.forward(node, arrays[0])
        else:
            if input._requires_grad or input._base is not None and input._base._requires_grad:
                edge = _edge(input)
                needs = edge[0] is not None
            else:
                edge, needs = NO_GRAD_EDGE, False
            other = inputs[1]
            if other.__class__ is Tensor or isinstance(other, Tensor):
                if other._requires_grad or other._base is not None and other._base._requires_grad:
                    other_edge = _edge(other)
                    other_needs = other_edge[0] is not None
                else:
                    other_edge, other_needs = NO_GRAD_EDGE, False
                if arrays[1] is arrays[0] and other is not input:    # Note [aliased operands]
                    arrays = (arrays[0], arrays[0].view())
            else:
                other_needs = False
                other_edge = NO_GRAD_EDGE if cls.scalar_operand_edge else NON_TENSOR
            node.needs_input_grad = (needs, other_needs)
            node._edges = (edge, other_edge)
            node._in_shapes = (arrays[0].shape if needs else None,
                               arrays[1].shape if other_needs else None) if cls.broadcasts else None
            raw = cls.forward(node, arrays[0], arrays[1])
    except ValueError as e:
        _translate_error(cls, arrays, e)
    if _Anomaly.enabled:
        record_trace(node)
    return _finish(cls, node, inputs, arrays, raw, device)


_NEEDS_ONE = (True,)
_NEEDS_NONE = (False,)


def _distinct_arrays(inputs, arrays):
    """Note [aliased operands]: _save tells which input a saved array belongs to by identity, so two distinct
    tensors over the same array (`y * y.detach()`, or self and the operand standing for self in `y.mul_(y)`,
    ops/inplace.py) get distinct array objects: each saved entry then keeps the tensor PyTorch keeps (the
    detached one has no history; the operand is version-checked where self is replaced by its original)."""
    arrays = list(arrays)
    owner = {}
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor):
            held = owner.setdefault(id(arrays[i]), t)
            if held is not t:
                arrays[i] = arrays[i].view()
    return arrays


def _edge(t):
    """The edge from a node to a tensor input that requires grad: its grad_fn output, or its accumulator; none
    for a view that requires grad only through its base (made under no_grad, or before the base required grad:
    PyTorch's edge for it is invalid too, Note [views] in ops/views.py)."""
    fn = t._grad_fn if t._base is None else refresh_view(t)    # Note [stale views]
    if fn is not None:
        return (fn, t._out_nr)
    if not t._requires_grad:
        return NO_GRAD_EDGE
    return (t._acc or grad_accumulator(t), 0)


def _finish(cls, node, inputs, arrays, raw, device):
    """Wrap forward's result as a tensor whose grad_fn is the node, and keep what forward saved."""
    if raw.__class__ is tuple or cls.non_differentiable_outputs:
        return _finish_outputs(cls, node, inputs, arrays, raw, device)
    array = raw if raw.__class__ is _ndarray else _as_array(raw, device)     # a 0-d result may be a NumPy scalar
    if cls.holomorphic and array.dtype.kind == "c":
        node._conj = True                          # Note [complex gradients] in engine.py
    out = _make(array, device, True, node)
    if node._to_save is not None:
        _save(node, inputs, arrays, (raw,), (out,), device)
    return out


def _finish_outputs(cls, node, inputs, arrays, raw, device):
    """_finish for several outputs (a tuple), or for outputs the op marks non-differentiable (indices)."""
    multi = raw.__class__ is tuple
    outs = raw if multi else (raw,)
    if not multi and cls.holomorphic and getattr(raw, "dtype", None) is not None and raw.dtype.kind == "c":
        node._conj = True
    non_diff = cls.non_differentiable_outputs
    results = []
    for nr, o in enumerate(outs):
        array = _as_array(o, device)
        results.append(_make(array, device) if nr in non_diff else _make(array, device, True, node, nr))
    if multi:
        node._n_out = len(outs)
        node._out_meta = tuple([(r._array.shape, r._array.dtype, device) for r in results])
    if node._to_save is not None:
        _save(node, inputs, arrays, outs, results, device)
    return tuple(results) if multi else results[0]


def _save(node, inputs, arrays, outs, results, device):
    """Turn what forward passed to save_for_backward into saved entries (Note [saved entries])."""
    entries = []
    kept = False
    for value in node._to_save:
        if value is not None:
            kept = True
            for t, a in zip(inputs, arrays):       # an input: inlined, the common case
                if a is value and isinstance(t, Tensor):
                    vc = t._vc
                    entries.append((SAVED_INPUT, t, 0 if vc is None else vc.value))
                    break
            else:
                entries.append(_saved_entry(value, outs, results, device, node.xp))
        else:
            entries.append(None)
    node._to_save = None
    if not kept and entries:
        # Only Nones (the inputs whose gradients would need them do not require grad): as PyTorch's undefined
        # saved variables, nothing that backward frees, so a second backward through the node runs. (An empty
        # save_for_backward() is freed all the same: CopySlices.)
        node._saved = NoneSaved(entries)
        return
    node._saved = tuple(entries)
    if _SavedHooks.stack:
        pack_saved(node)


def _saved_entry(value, outs, results, device, xp):
    """How a saved value that is not an input tensor is kept. Note [saved outputs]: an output is kept as its
    array and version counter, not as the Tensor, and rebuilt on access, so the node does not keep its
    output alive."""
    out = outs[0]
    if (value.__class__ is float or value.__class__ is int) and out.__class__ is _ndarray and out.dtype.kind in "fc":
        # A Python scalar operand is weak in promotion: keep it in the op's result dtype, so that the
        # backward formula computes in that dtype too (and takes the no-promotion fast path).
        return (SAVED_CONSTANT, _make(xp.asarray(value, out.dtype), device))
    for nr, o in enumerate(outs):
        if o is value:
            r = results[nr]
            vc = r._vc
            if r._grad_fn is None:                 # a non-differentiable output (indices): version checked too
                return (SAVED_INPUT, r, 0 if vc is None else vc.value)
            if vc is None:                         # created lazily: only saved outputs need one at once
                vc = r._vc = VersionCounter()
            return (SAVED_OUTPUT, r._array, vc, vc.value, device, nr)
    if isinstance(value, Tensor):
        vc = value._vc
        return (SAVED_INPUT, value, 0 if vc is None else vc.value)
    array = _as_array(value) if xp is _np else xp.asarray(value)
    if not hasattr(value, "shape") and getattr(out, "dtype", None) is not None and out.dtype.kind in "fc":
        array = array.astype(out.dtype)            # other weak scalars (bool, numpy scalars): the same rule
    return (SAVED_CONSTANT, _make(array, device))


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
        if _Fw.on and _forward_ad.has_tangent(args):            # the Function's jvp (Note [forward AD])
            return _function_jvp(cls, args, kwargs)
        needs = []
        device = None
        for a in args:
            if isinstance(a, Tensor):
                needs.append(a._requires_grad or a._base is not None and a._base._requires_grad)
                if device is None:
                    device = a._device
            else:
                needs.append(False)
        needs = tuple(needs)
        record = _State.grad_enabled and True in needs
        node = cls._node_cls()
        if _Fw.capture is not None:
            _Fw.capture.append(node)
        node._seq = next_sequence_nr()
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
                                  "with forward mode AD.")


def _function_jvp(cls, args, kwargs):
    """A custom Function applied to dual inputs: forward as usual (ctx kept), then its jvp(ctx, *tangents)
    gives the outputs' tangents."""
    if cls.jvp is Function.jvp:
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")
    level = _forward_ad._active_level(args)
    tangents = [_forward_ad.tangent_of(a, level) if isinstance(a, Tensor) else None for a in args]
    with _forward_ad._suspend_level(level):
        _Fw.capture = []                           # Function.apply hands over the node it makes (the ctx)
        try:
            outputs = cls.apply(*args, **kwargs)
            ctx = _Fw.capture
        finally:
            _Fw.capture = None
        ctx[0].__dict__["_in_jvp"] = True
        try:
            out_tangents = cls.jvp(ctx[0], *tangents)
        finally:
            del ctx[0].__dict__["_in_jvp"]
    multi = isinstance(outputs, tuple)
    outs = outputs if multi else (outputs,)
    out_tangents = out_tangents if isinstance(out_tangents, tuple) else (out_tangents,)
    for o, t in zip(outs, out_tangents):
        if isinstance(o, Tensor) and t is not None:
            _forward_ad.set_tangent(o, t, level)
    return outputs


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
            edges.append(NO_GRAD_EDGE)
            meta.append(None)
        else:
            edges.append(_edge(a))
            meta.append((a._array.shape, a._array.dtype))
    node._edges = tuple(edges)
    # A custom backward may return broadcast-shaped grads or another dtype: the engine checks and fixes them.
    node._in_shapes = tuple([m[0] if m is not None else None for m in meta])
    node._in_meta = tuple(meta)
    node._runs_post_backward = True
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
        old_fn, old_nr = r._grad_fn, r._out_nr
        r.grad_fn = node
        r._out_nr = nr
        if old_fn is not None and old_fn._retains_grad is not None:    # a dirty input (graph.move_retains_grad)
            move_retains_grad(r, old_fn, old_nr)
        if r._vc is None:
            r._vc = VersionCounter()
    to_save = node._to_save
    if to_save is not None:
        node._to_save = None
        node._saved = tuple([_function_saved(v, results, device, i) for i, v in enumerate(to_save)])
        if _SavedHooks.stack:
            pack_saved(node)


def _function_saved(value, results, device, index):
    if value is None:
        return None
    if not isinstance(value, Tensor):
        raise TypeError(f"save_for_backward can only save variables, but argument {index} is of type "
                        f"{type(value).__name__}")
    for nr, r in enumerate(results):
        if r is value and r.grad_fn is not None and r._out_nr == nr:
            return (SAVED_OUTPUT, r._array, r._vc, r._vc.value, device, nr)
    vc = value._vc
    return (SAVED_INPUT, value, 0 if vc is None else vc.value)


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
