"""Process-wide switches PyTorch scripts set at the top: threads, determinism, matmul precision, compile.

ember computes on NumPy, so several of these describe rather than steer: its kernels are deterministic
already, and float32 matmuls always run in full float32. Threads steer NumPy's BLAS when threadpoolctl
is installed (the optional, well-kept library for exactly that); otherwise the value is only recorded.
"""
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
    """Threads for intra-op work (NumPy's BLAS, through threadpoolctl when it is installed)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads(): argument 'int' (position 1) must be int, not {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n, user_api="blas")
    _Settings.threads = n


def get_num_threads():
    if _Settings.threads is not None:
        return _Settings.threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, name=None,
            disable=False, **kwargs):
    """torch.compile's signature; ember runs eagerly, so the model (or function) comes back as it is, and
    code written for PyTorch 2 (`model = torch.compile(model)`) runs unchanged. Without a model it is
    a decorator, as in PyTorch."""
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError("torch.compile: model must be callable")
    return model
