"""The op recorder behind ember.profiler: timing wrappers swapped in while a profile records, and
record_function.

Note [profiler swapping]: ember's ops cost nothing extra when no profiler runs because nothing in them
checks for one. While at least one profile records, `install()` swaps every public op entry point for a
timing wrapper: the functions of the op registry (ember.ops._registry PUBLIC and METHODS) and of the
namespaces ember.nn.functional, ember.linalg, ember.special and ember.fft, wherever an ember module holds
them as a global (so `ember.add`, `ops.add`, `F.linear` and an op module's own call of a sibling op are all
seen), the Tensor methods and operator dunders, and the engine's per-node backward call (through the anomaly
path of ember/autograd/engine.py, Note [profiler backward]). `uninstall()`, run when the last profile stops
(also on an exception), puts back exactly the objects that were there, so afterwards every Tensor attribute
and ember.<name> is the identical object as before. What is registered when a profile starts is what gets
wrapped: an op that another feature replaced (autocast) is timed as it is then.

A wrapper that was captured while recording (a Module that stored F.relu) stays harmless afterwards: it
checks `_State.log` and calls straight through when no profile records.

Events go to one log shared by every active profile (nested profiles each keep the slice they saw): an event
is the list [name, start_ns, end_ns, parent_event, thread_id, input_shapes, bytes, stack, scope, marked]
(marked: an NVTX range was pushed for it, see emit_nvtx).
"""
import functools
import operator
import os
import sys
import threading
import types
from time import perf_counter_ns

NAME, START, END, PARENT, THREAD, SHAPES, MEMORY, STACK, SCOPE, MARKED = range(10)
FORWARD, BACKWARD = 0, 1                 # torch's RecordScope FUNCTION / BACKWARD_FUNCTION

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SKIP_MODULES = ("ember.profiler", "ember.autograd.profiler", "ember.utils.benchmark")

# Tensor methods written in Tensor's body (not registry ops) that PyTorch records as aten ops, and the
# operators, with the aten names PyTorch gives them.
_TENSOR_BODY_OPS = {
    "detach": "detach", "detach_": "detach_", "set_": "set_", "resize_": "resize_", "resize_as_": "resize_as_",
    "item": "item", "to": "to", "type_as": "type_as", "float": "to", "double": "to", "half": "to",
    "bfloat16": "to", "long": "to", "int": "to", "short": "to", "char": "to", "byte": "to", "bool": "to",
    "cfloat": "to", "cdouble": "to", "new_zeros": "new_zeros", "new_ones": "new_ones", "new_empty": "new_empty",
    "new_full": "new_full", "new_tensor": "new_tensor",
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub", "__rsub__": "rsub",
    "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_", "__truediv__": "div",
    "__rtruediv__": "div", "__itruediv__": "div_", "__floordiv__": "floor_divide",
    "__rfloordiv__": "floor_divide", "__ifloordiv__": "floor_divide_", "__mod__": "remainder",
    "__rmod__": "remainder", "__imod__": "remainder_", "__pow__": "pow", "__rpow__": "pow", "__ipow__": "pow_",
    "__matmul__": "matmul", "__rmatmul__": "matmul", "__neg__": "neg", "__pos__": "positive", "__abs__": "abs",
    "__invert__": "bitwise_not", "__and__": "__and__", "__rand__": "__and__", "__iand__": "__iand__",
    "__or__": "__or__", "__ror__": "__or__", "__ior__": "__ior__", "__xor__": "__xor__", "__rxor__": "__xor__",
    "__ixor__": "__ixor__", "__lshift__": "__lshift__", "__rshift__": "__rshift__", "__eq__": "eq",
    "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
}
# nn.functional names whose aten op PyTorch names differently
_FUNCTIONAL_NAMES = {"cross_entropy": "cross_entropy_loss", "nll_loss": "nll_loss_nd"}
# namespace module -> prefix of the aten names of its functions
_NAMESPACES = {"ember": "", "ember.ops": "", "ember.nn.functional": "", "ember.linalg": "linalg_",
               "ember.special": "special_", "ember.fft": "fft_"}


class _Discard(list):
    """The log while only emit_nvtx is active: events are marked, not kept."""

    def append(self, item):
        pass


class _State:
    log = None               # the event log while any profile records (a _Discard under emit_nvtx alone)
    users = 0                # profiles recording now
    nvtx = None              # (push, pop, with_shapes) while emit_nvtx is active
    shapes = memory = stack = False
    stacks = {}              # thread id -> open events
    swapped = []             # (owner, attribute, original, wrapper) put back by uninstall
    wrappers = {}            # (id(fn), name) -> wrapper, so one function gets one wrapper per name
    tracer = None            # while ember.onnx traces a model: tracer(fn, aten_name, args, kwargs) runs each op
    plan = None              # (module count, swaps, per-module groups) of the last install, reused while nothing
    plan_active = False      # changed; plan_active: the wrappers now installed are the plan's


# --- recording ---------------------------------------------------------------------------------------------
def _shapes(args, kwargs):
    from .._tensor import Tensor
    return [list(a.shape) if isinstance(a, Tensor) else [] for a in (*args, *kwargs.values())]


def _root(array):
    base = getattr(array, "base", None)
    while base is not None and hasattr(base, "base"):
        array, base = base, base.base
    return array


def _allocated(out, args, kwargs):
    """Bytes of the arrays an op allocated: its tensor outputs that are neither views nor an input's memory."""
    from .._tensor import Tensor
    outs = out if isinstance(out, (tuple, list)) else (out,)
    total, inputs = 0, None
    for t in outs:
        if isinstance(t, Tensor) and t._base is None:
            if inputs is None:
                inputs = {id(_root(a._array)) for a in (*args, *kwargs.values()) if isinstance(a, Tensor)}
            if id(_root(t._array)) not in inputs:
                total += t._array.nbytes
    return total


def _user_stack():
    """The caller's Python stack outside ember, innermost first, as "file(line): function" entries."""
    frame, entries = sys._getframe(2), []
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(_PACKAGE_DIR):
            entries.append(f"{code.co_filename}({frame.f_lineno}): {code.co_name}")
        frame = frame.f_back
    return entries


def begin(name, scope=FORWARD, shapes=None):
    """Open an event on this thread's stack; returns it for end()."""
    tid = threading.get_ident()
    stack = _State.stacks.get(tid)
    if stack is None:
        stack = _State.stacks[tid] = []
    event = [name, 0, None, stack[-1] if stack else None, tid, shapes if shapes is not None else [], 0,
             _user_stack() if _State.stack else None, scope, False]
    _State.log.append(event)
    stack.append(event)
    if _State.nvtx is not None:
        push, _, with_shapes = _State.nvtx
        push(f"{name}, sizes = {shapes}" if with_shapes and shapes is not None else name)
        event[MARKED] = True
    event[START] = perf_counter_ns()
    return event


def end(event):
    event[END] = perf_counter_ns()
    if event[MARKED] and _State.nvtx is not None:
        _State.nvtx[1]()
    stack = _State.stacks.get(event[THREAD])
    if stack and stack[-1] is event:
        stack.pop()
    elif stack and event in stack:               # a context left out of order: close it where it is
        stack.remove(event)


def _call(fn, name, args, kwargs):
    if _State.tracer is not None:                # ember.onnx's tracer records the op instead of timing it
        return _State.tracer(fn, name, args, kwargs)
    shapes = _State.shapes or (_State.nvtx is not None and _State.nvtx[2])
    event = begin(name, FORWARD, _shapes(args, kwargs) if shapes else None)
    try:
        out = fn(*args, **kwargs)
    finally:
        end(event)
    if _State.memory:
        event[MEMORY] = _allocated(out, args, kwargs)
    return out


def _wrap(fn, name):
    key = (id(fn), name)
    wrapper = _State.wrappers.get(key)
    if wrapper is not None:
        return wrapper
    aten = "aten::" + name

    def wrapper(*args, **kwargs):
        if _State.log is None:                   # captured while recording, called after: pass through
            return fn(*args, **kwargs)
        return _call(fn, aten, args, kwargs)
    functools.update_wrapper(wrapper, fn)
    wrapper._ember_profiled = fn
    _State.wrappers[key] = wrapper
    return wrapper


def _index_name(index, setting, value=None):
    from .._tensor import Tensor
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (Tensor, list)) or (p is not None and p is not Ellipsis and not isinstance(p, (int, slice)))
           for p in parts):
        return "aten::index_put_" if setting else "aten::index"
    if setting:
        return "aten::copy_" if isinstance(value, Tensor) else "aten::fill_"
    return "aten::select" if all(isinstance(p, int) for p in parts) else "aten::slice"


def _wrap_getitem(fn):
    def __getitem__(self, index):
        if _State.log is None:
            return fn(self, index)
        return _call(fn, _index_name(index, False), (self, index), {})
    functools.update_wrapper(__getitem__, fn)
    __getitem__._ember_profiled = fn
    return __getitem__


def _wrap_setitem(fn):
    def __setitem__(self, index, value):
        if _State.log is None:
            return fn(self, index, value)
        return _call(fn, _index_name(index, True, value), (self, index, value), {})
    functools.update_wrapper(__setitem__, fn)
    __setitem__._ember_profiled = fn
    return __setitem__


# --- backward nodes (Note [profiler backward]) -------------------------------------------------------------
# The engine reads `_Anomaly.enabled or _Anomaly.profiler is not None` once per backward call; while a profile
# records, every node's backward then goes through anomaly_mode._backward_with_trace, which hands it here.
def _profile_backward(node, grads):
    name = node.name()
    outer = begin("autograd::engine::evaluate_function: " + name, BACKWARD)
    try:
        inner = begin(name, BACKWARD, [list(g.shape) if g is not None else [] for g in grads]
                      if _State.shapes else None)
        try:
            return node._op.backward(node, *grads)
        finally:
            end(inner)
    finally:
        end(outer)


# --- installing and removing the wrappers --------------------------------------------------------------------
def _public_functions(module):
    return {n: v for n, v in vars(module).items()
            if isinstance(v, types.FunctionType) and not n.startswith("_")
            and getattr(v, "__module__", "").startswith("ember")}


def _targets():
    """id(fn) -> (fn, primary aten name) for every op entry point, and namespace module name -> {attr: aten
    name}."""
    from ..ops._registry import METHODS, PUBLIC
    primary, names = {}, {}
    for mapping in (PUBLIC, METHODS):
        for n, fn in mapping.items():
            if isinstance(fn, types.FunctionType):
                primary.setdefault(id(fn), (fn, fn.__name__ if mapping.get(fn.__name__) is fn else n))
    for modname, prefix in _NAMESPACES.items():
        module = sys.modules.get(modname)
        if module is None:
            continue
        table = names[modname] = {}
        # ember.<name> and ops.<name>: whatever function stands there now under a registered name (an op
        # another feature replaced, autocast's, is wrapped as it is)
        functions = (_public_functions(module) if modname not in ("ember", "ember.ops") else
                     {k: vars(module)[k] for k in PUBLIC if isinstance(vars(module).get(k), types.FunctionType)})
        for n, fn in functions.items():
            aten = prefix + (_FUNCTIONAL_NAMES.get(n, n) if modname == "ember.nn.functional" else n)
            table[n] = aten
            primary.setdefault(id(fn), (fn, aten))
    return primary, names


def _swap(owner, attr, original, wrapper):
    setattr(owner, attr, wrapper)
    _State.swapped.append((owner, attr, original, wrapper))


def _swap_class(cls, primary):
    """Ops a class holds as attributes (nn.Conv2d's `_conv = staticmethod(F.conv2d)`)."""
    for attr, value in list(vars(cls).items()):
        fn = value.__func__ if isinstance(value, staticmethod) else value
        target = primary.get(id(fn))
        if target is None or target[0] is not fn:
            continue
        wrapper = _wrap(fn, target[1])
        try:
            _swap(cls, attr, value, staticmethod(wrapper) if isinstance(value, staticmethod) else wrapper)
        except (TypeError, AttributeError):     # a class that refuses new attributes keeps its own
            pass


def install():
    from ..autograd.anomaly_mode import _Anomaly
    plan = _State.plan
    if plan is not None and plan[0] == len(sys.modules) and _unchanged(plan[2]):
        # the same modules and entry points as last time: put the same wrappers back, a module's in one
        # dict.update (a vmap or an export installs once per call; scanning every module would cost milliseconds)
        for namespace, wrappers, _ in plan[2]:
            namespace.update(wrappers)
        for owner, attr, original, wrapper in plan[3]:
            setattr(owner, attr, wrapper)
        _State.swapped = list(plan[1])
        _State.plan_active = True
        _Anomaly.profiler = _profile_backward
        return
    _scan()
    modules = {}
    for owner, attr, original, wrapper in _State.swapped:
        if isinstance(owner, types.ModuleType):
            entry = modules.setdefault(id(owner), (vars(owner), {}, {}))
            entry[1][attr] = wrapper
            entry[2][attr] = original
    _State.plan = (len(sys.modules), list(_State.swapped), list(modules.values()),
                   [e for e in _State.swapped if not isinstance(e[0], types.ModuleType)])
    _State.plan_active = True
    _Anomaly.profiler = _profile_backward


def _unchanged(groups):
    """Every module still holds the functions the plan swaps (nothing replaced them since)."""
    for namespace, _, originals in groups:
        if not _holds(namespace, originals):
            return False
    return True


def _holds(namespace, values):
    """namespace[attr] is value for every attr, value of `values` (looped at C speed: it runs per install)."""
    return all(map(operator.is_, map(namespace.get, values.keys()), values.values()))


def _scan():
    from .._tensor import Tensor
    from ..ops._registry import METHODS
    primary, names = _targets()
    try:
        for attr, value in list(vars(Tensor).items()):
            if not isinstance(value, types.FunctionType):
                continue
            if attr == "__getitem__":
                _swap(Tensor, attr, value, _wrap_getitem(value))
            elif attr == "__setitem__":
                _swap(Tensor, attr, value, _wrap_setitem(value))
            elif attr in _TENSOR_BODY_OPS:
                _swap(Tensor, attr, value, _wrap(value, _TENSOR_BODY_OPS[attr]))
            elif (attr in METHODS or id(value) in primary) and not attr.startswith("_"):
                _swap(Tensor, attr, value, _wrap(value, attr))
        for modname, module in list(sys.modules.items()):
            if module is None or not modname.startswith("ember") or modname.startswith(_SKIP_MODULES):
                continue
            table = names.get(modname)
            namespace = vars(module)
            for attr, value in list(namespace.items()):
                if isinstance(value, type) and value is not Tensor and value.__module__ == modname:
                    _swap_class(value, primary)
                    continue
                target = primary.get(id(value))
                if target is None or target[0] is not value:
                    continue
                name = table.get(attr, target[1]) if table is not None else target[1]
                _swap(module, attr, value, _wrap(value, name))
    except BaseException:
        uninstall()
        raise


def uninstall():
    from ..autograd.anomaly_mode import _Anomaly
    _Anomaly.profiler = None
    swapped, _State.swapped = _State.swapped, []
    plan = _State.plan
    if _State.plan_active and plan is not None and len(swapped) == len(plan[1]):
        _State.plan_active = False
        for namespace, wrappers, originals in plan[2]:
            if _holds(namespace, wrappers):
                namespace.update(originals)
            else:                                # something else replaced one meanwhile: leave theirs
                for attr, w in wrappers.items():
                    if namespace.get(attr) is w:
                        namespace[attr] = originals[attr]
        for owner, attr, original, wrapper in reversed(plan[3]):
            if vars(owner).get(attr) is wrapper:
                setattr(owner, attr, original)
        return
    for owner, attr, original, wrapper in reversed(swapped):
        if vars(owner).get(attr) is wrapper:     # something else replaced it meanwhile: leave theirs
            setattr(owner, attr, original)
    _State.wrappers.clear()


def _open():
    _State.stacks = {}
    try:
        install()
    except BaseException:
        _State.log = None
        raise


def _close():
    try:
        uninstall()
    finally:
        _State.log, _State.stacks = None, {}
        _State.shapes = _State.memory = _State.stack = False


def start(shapes, memory, stack):
    """A profile starts recording: returns the log and its first index (the first user installs the
    wrappers)."""
    if _State.users == 0:
        opening = _State.log is None
        _State.log = []
        _State.shapes, _State.memory, _State.stack = shapes, memory, stack
        if opening:
            _open()
    else:
        _State.shapes |= shapes
        _State.memory |= memory
        _State.stack |= stack
    _State.users += 1
    return _State.log, len(_State.log)


def stop():
    """A profile stops recording: returns the log's length (the last user removes the wrappers)."""
    n = len(_State.log)
    _State.users -= 1
    if _State.users == 0:
        if _State.nvtx is None:
            _close()
        else:
            _State.log = _Discard()
            _State.shapes = _State.memory = _State.stack = False
    return n


def start_nvtx(push, pop, with_shapes):
    """emit_nvtx entered: mark every recorded range with push(name) ... pop()."""
    if _State.nvtx is not None:
        raise RuntimeError("NVTX annotation context manager is not reentrant")
    _State.nvtx = (push, pop, with_shapes)
    if _State.log is None:
        _State.log = _Discard()
        _open()


def stop_nvtx():
    _State.nvtx = None
    if _State.users == 0 and _State.log is not None:
        _close()


def is_recording():
    return _State.log is not None


def start_tracing(tracer):
    """ember.onnx.export begins tracing: every op entry point calls tracer(fn, aten_name, args, kwargs)."""
    if _State.log is not None:
        raise RuntimeError("ember.onnx.export cannot run while a profiler records (or emit_nvtx is active)")
    import importlib
    for name in _NAMESPACES:                     # namespaces load lazily: one loaded mid-trace would go unseen
        importlib.import_module(name)
    _State.tracer = tracer
    _State.log = _Discard()
    try:
        _open()
    except BaseException:
        _State.tracer = None
        raise


def stop_tracing():
    _State.tracer = None
    _close()


class record_function:
    """Context manager and decorator: label a region of code; it shows as one event (with the ops inside as
    its children) in every profile recording. Costs a check of one attribute when none records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self.run_callbacks_on_exit = True
        self._event = None

    def __enter__(self):
        if _State.log is not None:
            self._event = begin(self.name, FORWARD)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if not self.run_callbacks_on_exit:
            return False
        event, self._event = self._event, None
        if event is not None and _State.log is not None:
            end(event)
        return False

    def __call__(self, fn):
        name, args = self.name, self.args

        @functools.wraps(fn)
        def recorded(*a, **kw):
            with record_function(name, args):
                return fn(*a, **kw)
        return recorded

    def _call_end_callbacks_on_future(self, fut):
        """Close the event when `fut` completes (PyTorch's hook for asynchronous work); returns a future of
        the same value."""
        if not self.run_callbacks_on_exit:
            raise RuntimeError("_call_end_callbacks_on_future can only be called once.")
        self.run_callbacks_on_exit = False
        event, self._event = self._event, None
        if event is not None and _State.log is not None:
            end(event)
        return fut
