"""PyTorch's torch.compiler: the public face of compilation (Note [ember.compile] in ember/_dynamo)."""
import contextlib
import functools

from .._dynamo import allow_in_graph, assume_constant_result, disable, is_compiling, list_backends, reset

__all__ = ["compile", "reset", "allow_in_graph", "assume_constant_result", "list_backends", "disable",
           "set_stance", "cudagraph_mark_step_begin", "is_compiling", "is_dynamo_compiling", "is_exporting",
           "get_default_backend", "set_default_backend"]

_STANCES = ("default", "force_eager", "eager_on_recompile", "fail_on_recompile", "eager_then_compile",
            "aot_eager_then_compile")


class _Stance:
    current = "default"
    backend = "inductor"


def compile(*args, **kwargs):
    """torch.compiler.compile is torch.compile."""
    from .._settings import compile as _compile
    return _compile(*args, **kwargs)


is_dynamo_compiling = is_compiling           # the same answer: nothing is ever traced for compilation


def is_exporting():
    """True while ember.onnx.export traces a model (PyTorch's export runs the model under torch.export)."""
    import sys
    onnx = sys.modules.get("ember.onnx")
    return bool(onnx is not None and onnx.is_in_onnx_export())


def cudagraph_mark_step_begin():
    """Marks where a CUDA-graph step begins; ember records no CUDA graphs."""


def get_default_backend():
    return _Stance.backend


def set_default_backend(backend):
    from .._settings import _check_backend
    _check_backend(backend)
    _Stance.backend = backend


class set_stance(contextlib.ContextDecorator):
    """Set how compiled functions behave ("default", "force_eager", ...): a call, a context manager, or a
    decorator, as in PyTorch. Every stance runs eagerly in ember; the value is kept for code that reads it
    back through the context manager."""

    def __init__(self, stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
        if stance not in _STANCES:
            raise RuntimeError(f"invalid torch.compile stance '{stance}'")
        if force_backend is not None and stance != "default":
            raise RuntimeError("non-default stance cannot have force_backend set")
        self.stance = stance
        self.prior = _Stance.current
        _Stance.current = stance

    def __enter__(self):
        _Stance.current = self.stance
        return self

    def __exit__(self, *exc):
        _Stance.current = self.prior
        return False

    def __call__(self, fn):
        _Stance.current = self.prior          # as a decorator the stance applies inside fn only

        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return inner
