"""Tracing one forward call into an ONNX graph.

The tracer rides on the profiler's op swapping (Note [profiler swapping]): while it traces, every public op
entry point (ember.<op>, Tensor methods and operators, nn.functional, indexing) calls `Tracer.__call__` with
the op's function, its aten name and its arguments. The outermost op of each call runs eagerly (so Python
control flow takes its real path, as PyTorch's exporter traces it), and is then converted at once (its
arguments still hold the values it saw) by the converter registered for its aten name in
ember/onnx/_symbolic.py; ops that other ops call inside are not seen. Modules registered in
`LEAF_MODULES` (LSTM, GRU, RNN, MultiheadAttention) are converted whole, as ONNX has nodes for them.
"""
import contextlib
import inspect
import warnings

from .._size import Size
from .._tensor import Tensor
from ..utils._pytree import tensor_leaves
from ._graph import SymInt

CONVERTERS = {}          # aten name -> converter(graph, call)
LEAF_MODULES = {}        # nn.Module class -> converter(graph, module, args, kwargs, output)


def converts(*names):
    """Register a converter for aten op names."""
    def register(fn):
        for name in names:
            CONVERTERS[name] = fn
        return fn
    return register


def converts_module(*classes):
    def register(fn):
        for cls in classes:
            LEAF_MODULES[cls] = fn
        return fn
    return register


class UnsupportedOp(Exception):
    pass


_SIGNATURES = {}


class Call:
    """One traced op: its aten name, arguments (by position or by name), output, and the module it ran in."""
    __slots__ = ("name", "fn", "args", "kwargs", "out", "module", "_bound")

    def __init__(self, name, fn, args, kwargs, out, module):
        self.name, self.fn, self.args, self.kwargs, self.out, self.module = name, fn, args, kwargs, out, module
        self._bound = None

    def arg(self, index, name, default=None):
        """Argument `name` (at position `index` when given positionally), or its default."""
        if index is not None and index < len(self.args):
            return self.args[index]
        if name in self.kwargs:
            return self.kwargs[name]
        bound = self.bound()
        return bound.get(name, default) if bound is not None else default

    def bound(self):
        """The arguments by parameter name, defaults filled in (None where the signature is unknown)."""
        if self._bound is None:
            sig = _SIGNATURES.get(self.fn)
            if sig is None:
                try:
                    sig = _SIGNATURES[self.fn] = inspect.signature(self.fn)
                except (TypeError, ValueError):
                    return None
            try:
                b = sig.bind(*self.args, **self.kwargs)
            except TypeError:
                return None
            b.apply_defaults()
            self._bound = dict(b.arguments)
        return self._bound


class Tracer:
    def __init__(self, graph, module_names):
        self.graph = graph
        self.depth = 0
        self.module_names = module_names        # id(module) -> qualified name
        self.module_stack = [""]
        self.op_wrappers = {}                   # id(op function) -> its tracing wrapper (set by tracing())

    def where(self):
        return self.module_stack[-1] or "the model's forward"

    def __call__(self, fn, name, args, kwargs):
        if self.depth:
            return fn(*args, **kwargs)
        self.depth += 1
        try:
            if self.graph.dynamic:               # the op runs on plain ints: NumPy takes an int subclass for
                out = fn(*_plain(args), **_plain(kwargs))      # an int64 array (float32 * SymInt -> float64)
            else:
                out = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        # x[index] = v returns None: what it made is x itself, rebound to the value after the write
        written = args[0] if out is None and getattr(fn, "__name__", "") == "__setitem__" else out
        self.convert(Call(name, fn, args, kwargs, written, self.where()))
        return out

    def convert(self, call):
        g = self.graph
        short = call.name.split("::", 1)[-1]
        if short == "item":
            warnings.warn(f"ember.onnx.export: .item() in {call.module} converts a tensor to a Python number; the "
                          "graph records the number of this trace as a constant", _tracer_warning(), stacklevel=4)
        outputs = tensor_leaves(call.out)
        if not outputs:
            return
        if not (g.is_live(list(call.args)) or g.is_live(list(call.kwargs.values()))):
            return                              # constants only: folded (the output becomes an initializer)
        converter = CONVERTERS.get(call.name)
        if converter is None and call.name.startswith("aten::special_"):      # torch.special's aliases
            converter = CONVERTERS.get("aten::" + call.name[len("aten::special_"):])
        if converter is None:
            raise UnsupportedOp(f"ember.onnx.export: no ONNX conversion for the op {call.name} (called in "
                                f"{call.module})")
        converter(g, call)
        for t in outputs:
            if id(t) not in g.names:
                raise UnsupportedOp(f"ember.onnx.export: the converter of {call.name} (in {call.module}) left an "
                                    "output unnamed")

    # -- modules converted whole ------------------------------------------------------------------------------
    def module_call(self, module, original, args, kwargs):
        name = self.module_names.get(id(module), type(module).__name__)
        converter = LEAF_MODULES.get(type(module)) if not self.depth else None
        self.module_stack.append(name or type(module).__name__)
        stored = self._trace_stored_ops(module) if converter is None and not self.depth else ()
        try:
            if converter is None:
                return original(module, *args, **kwargs)
            self.depth += 1
            try:
                out = original(module, *args, **kwargs)
            finally:
                self.depth -= 1
            if tensor_leaves(out) and (self.graph.is_live(list(args)) or self.graph.is_live(list(kwargs.values()))
                                  or any(self.graph.is_live(p) for p in module.parameters())):
                converter(self.graph, module, args, kwargs, out)
            return out
        finally:
            self.module_stack.pop()
            for attr, fn in stored:
                vars(module)[attr] = fn

    def _trace_stored_ops(self, module):
        """Op functions a module holds as instance attributes, taken before tracing swapped the entry points
        (TransformerEncoderLayer's `self.activation = F.gelu`), swapped for their tracing wrappers during the
        call (else their output would be recorded as a constant); returns the originals to put back."""
        attributes = vars(module)
        stored = [(a, fn) for a, fn in attributes.items() if id(fn) in self.op_wrappers
                  and self.op_wrappers[id(fn)]._ember_profiled is fn]
        for attr, fn in stored:
            attributes[attr] = self.op_wrappers[id(fn)]
        return stored


def _plain(value):
    """Arguments with SymInts (also inside lists, tuples, dicts and slices) as plain ints."""
    if isinstance(value, SymInt):
        return int(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        if type(value) is list:
            return items
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        items = {k: _plain(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, slice) and isinstance(value.start or value.stop or value.step, int):
        return slice(_plain(value.start), _plain(value.stop), _plain(value.step))
    return value


def _tracer_warning():
    from ..jit import TracerWarning
    return TracerWarning




@contextlib.contextmanager
def tracing(tracer):
    """Swap the op entry points, Module.__call__ and (with dynamic dimensions) Tensor.shape / size for the
    tracer's; put everything back afterwards."""
    from ..nn.modules.module import Module
    from ..profiler import _instrument
    graph = tracer.graph
    original_call = Module.__call__
    original_shape, original_size, original_bool = Tensor.shape, Tensor.size, Tensor.__bool__

    def __call__(module, *args, **kwargs):
        return tracer.module_call(module, original_call, args, kwargs)

    def symbolic(tensor):
        shape = tensor._array.shape
        name = graph.names.get(id(tensor))
        if tracer.depth or name is None or name not in graph.live:
            return None
        return tuple.__new__(Size, [SymInt(d, ("dim", name, i)) for i, d in enumerate(shape)])

    def shape(tensor):
        found = symbolic(tensor)
        return original_shape.fget(tensor) if found is None else found

    def size(tensor, dim=None):
        found = symbolic(tensor)
        if found is None:
            return original_size(tensor, dim)
        return found if dim is None else found[dim if dim >= 0 else dim + len(found)]

    def __bool__(tensor):
        if not tracer.depth and graph.is_live(tensor):
            warnings.warn(f"ember.onnx.export: bool() of a tensor in {tracer.where()} takes a Python branch; the "
                          "graph records the branch of this trace", _tracer_warning(), stacklevel=2)
        return original_bool(tensor)

    _instrument.start_tracing(tracer)
    tracer.op_wrappers = {id(w._ember_profiled): w for w in _instrument._State.wrappers.values()}
    Module.__call__ = __call__
    Tensor.__bool__ = __bool__
    if graph.dynamic:
        Tensor.shape = property(shape)
        Tensor.size = size
    try:
        yield
    finally:
        Module.__call__ = original_call
        Tensor.shape, Tensor.size, Tensor.__bool__ = original_shape, original_size, original_bool
        _instrument.stop_tracing()
