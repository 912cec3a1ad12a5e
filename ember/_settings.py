"""Process-wide switches PyTorch scripts set at the top: threads, determinism, matmul precision, compile.

ember computes on NumPy, so several of these describe rather than steer: its kernels are deterministic
already, and float32 matmuls always run in full float32. Threads steer NumPy's BLAS when threadpoolctl
is installed (the optional, well-kept library for exactly that); otherwise the value is only recorded.
"""
import numbers
import os
import warnings

__all__ = ["set_num_threads", "get_num_threads", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_float32_matmul_precision", "get_float32_matmul_precision", "compile"]


# Debug switch, read once at import: every tensor ember makes is checked against Note [array storage]
# (ember/_tensor.py). The test suite turns it on (tests/conftest.py); off, it costs nothing.
DEBUG_INVARIANTS = os.environ.get("EMBER_DEBUG_INVARIANTS", "") not in ("", "0")


class _Settings:
    threads = None               # None: BLAS's own default
    deterministic = False
    warn_only = False
    matmul_precision = "highest"


def set_num_threads(n):
    """Threads for intra-op work: the thread count of NumPy's BLAS, through threadpoolctl when it is installed
    (`pip install threadpoolctl`, in ember's `extras`); without it the value is only recorded and returned by
    get_num_threads(). Products below a size run on one thread whatever the count, as PyTorch's do
    (Note [BLAS threads per product] in ember/_backends/cpu.py)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"set_num_threads expects an int, but got {_c_typename(n)}")
    n = int(n)
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    if n > 2 ** 31 - 1:                            # PyTorch unpacks a C int
        raise ValueError("Overflow when unpacking long")
    from ._backends import cpu
    cpu.set_blas_threads(n)
    _Settings.threads = n


def get_num_threads():
    """The count set_num_threads() set; before any, BLAS's own (threadpoolctl), else the CPUs this process may
    run on (PyTorch's default is the core count)."""
    if _Settings.threads is not None:
        return _Settings.threads
    from ._backends import cpu
    threads = cpu.blas_threads()
    if threads is not None:
        return threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _c_typename(value):
    """A type's name as PyTorch prints it (CPython's tp_name): module-qualified for a C type such as numpy.float64,
    the bare name for a class defined in Python or a builtin."""
    cls = type(value)
    if cls.__flags__ & (1 << 9) or cls.__module__ == "builtins":   # Py_TPFLAGS_HEAPTYPE: a Python class
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Recorded for are_deterministic_algorithms_enabled(); every ember kernel is deterministic already."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    _Settings.deterministic, _Settings.warn_only = mode, bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _Settings.deterministic


def is_deterministic_algorithms_warn_only_enabled():
    return _Settings.warn_only


def set_float32_matmul_precision(precision):
    """Recorded only: ember's float32 matmuls always run in float32 ("highest")."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _Settings.matmul_precision = precision


def get_float32_matmul_precision():
    return _Settings.matmul_precision


_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def _check_backend(backend):
    if backend is None or callable(backend):
        return
    from ._dynamo import _BACKENDS
    from ._dynamo.exc import InvalidBackend
    if backend not in _BACKENDS:
        raise InvalidBackend(backend)


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, name=None,
            disable=False, recompile_limit=None, isolate_recompiles=False, shapes_spec=None):
    """torch.compile's signature and argument checks. ember has no graph compiler (Note [ember.compile] in
    ember/_dynamo): a function comes back as a wrapper that calls it, a Module as an OptimizedModule around
    it (`_orig_mod`, state_dict keys prefixed `_orig_mod.`), both running eagerly, so code written for
    PyTorch 2 runs unchanged. Without a model it is a decorator; with disable=True the model itself
    comes back, as in PyTorch."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    _check_backend(backend)
    if model is None:
        def decorator(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options,
                           name=name, disable=disable, recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorator
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    from .nn.modules.module import Module
    if isinstance(model, Module):
        from ._dynamo.eval_frame import OptimizedModule
        return OptimizedModule(model)
    import functools

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)
    return compiled
