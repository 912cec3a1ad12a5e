"""torch.backends.cudnn: cuDNN's switches (enabled, benchmark, deterministic, allow_tf32 ...) and queries.

ember has no cuDNN kernels: its convolutions, pooling and RNNs are NumPy array code, and on a GPU CuPy array
code. So is_available() is False and version() None (as on PyTorch's CPU build), and the flags are recorded
and read back without changing what ember computes. `cudnn.deterministic` is its own flag, apart from
ember.use_deterministic_algorithms(), as in PyTorch; ember's kernels are deterministic either way.
"""
import contextlib
import sys
import types

from .._dtype import float16, float32, float64
from . import _Flag, _check_bool, _type_name, _unfrozen

__all__ = ["is_available", "version", "is_acceptable", "set_flags", "flags", "CUDNN_TENSOR_DTYPES"]

CUDNN_TENSOR_DTYPES = {float16, float32, float64}
_DEPTHWISE_KERNELS = ("auto", "cudnn", "native")

# PyTorch's defaults on every build
_state = {"enabled": True, "benchmark": False, "deterministic": False, "allow_tf32": True,
          "depthwise_kernel": "auto"}

# benchmark_limit is a plain attribute, None, where cuDNN is absent (as on PyTorch's CPU build)
benchmark_limit = None


def is_available():
    """Whether cuDNN is there for ember's kernels: never (ember computes through NumPy and CuPy arrays)."""
    return False


def version():
    """cuDNN's version as an int, or None without cuDNN: always None in ember."""
    return None


def is_acceptable(tensor):
    """Whether a cuDNN kernel could take `tensor`: False. Where it would need cuDNN (a cuda float tensor with
    cuDNN enabled) it warns that cuDNN is missing, as PyTorch's build without cuDNN does."""
    if not _state["enabled"]:
        return False
    if tensor.device.type != "cuda" or tensor.dtype not in CUDNN_TENSOR_DTYPES:
        return False
    import warnings
    warnings.warn("PyTorch was compiled without cuDNN/MIOpen support. To use cuDNN/MIOpen, rebuild PyTorch "
                  "making sure the library is visible to the build system.", stacklevel=2)
    return False


def _check_depthwise_kernel(value):
    if not isinstance(value, str):
        raise RuntimeError(f"set_cudnn_depthwise_kernel expects a string, but got {_type_name(value)}")
    if value not in _DEPTHWISE_KERNELS:
        raise RuntimeError(f"Unknown cuDNN depthwise kernel mode: {value}. Expected one of: "
                           f"{', '.join(_DEPTHWISE_KERNELS)}")


def _check_fp32_precision(value):
    if value not in ("none", "ieee", "tf32"):
        raise RuntimeError(f"Unknown precision: {value}")


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None, _allow_tf32=None,
              _fp32_precision="none", _depthwise_kernel=None):
    """Set the flags given (None leaves one as it is) and return the previous values, in flags()'s order.

    `_benchmark_limit` is ignored without cuDNN, as in PyTorch; `_fp32_precision` is checked ("none",
    "ieee" or "tf32") but ember keeps no TF32 state: its float32 kernels always compute in float32."""
    orig = (_state["enabled"], _state["benchmark"], None, _state["deterministic"], _state["allow_tf32"], "none",
            _state["depthwise_kernel"])
    for name, value in (("enabled", _enabled), ("benchmark", _benchmark), ("deterministic", _deterministic),
                        ("allow_tf32", _allow_tf32), ("depthwise_kernel", _depthwise_kernel)):
        if value is not None:
            _CHECKS[name](value)
            _state[name] = value
    if _fp32_precision is not None:
        _check_fp32_precision(_fp32_precision)
    return orig


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True,
          fp32_precision="none", depthwise_kernel="auto"):
    """Set all the flags for the `with` block (PyTorch's defaults: cuDNN disabled), then restore them."""
    with _unfrozen():
        orig = set_flags(enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision,
                         depthwise_kernel)
    try:
        yield
    finally:
        with _unfrozen():
            set_flags(*orig)


_CHECKS = {"enabled": _check_bool("set_enabled_cudnn"), "benchmark": _check_bool("set_benchmark_cudnn"),
           "deterministic": _check_bool("set_deterministic_cudnn"), "allow_tf32": _check_bool("set_allow_tf32_cudnn"),
           "depthwise_kernel": _check_depthwise_kernel}


class _CudnnModule(types.ModuleType):
    """ember.backends.cudnn, whose flags are attributes that check what they are set to."""
    enabled = _Flag(_CHECKS["enabled"])
    benchmark = _Flag(_CHECKS["benchmark"])
    deterministic = _Flag(_CHECKS["deterministic"])
    allow_tf32 = _Flag(_CHECKS["allow_tf32"])
    depthwise_kernel = _Flag(_CHECKS["depthwise_kernel"])


sys.modules[__name__].__class__ = _CudnnModule
