"""torch.backends.cuda: the CUDA build query, cuBLAS's matmul switches (`matmul.allow_tf32` ...), the
scaled-dot-product-attention backends and the preferred linear algebra and BLAS libraries.

ember's CUDA backend is CuPy (ember/_backends/cuda.py), so is_built() says whether CuPy is installed. The
switches are recorded and read back; ember computes float32 matmuls in float32 and float16 ones as NumPy or
CuPy do, whatever they say. `matmul.allow_tf32` is the same setting as ember.set_float32_matmul_precision(),
as in PyTorch, and scaled_dot_product_attention honours the attention backends' switches as PyTorch's CPU
kernels do (flash kernel or math; an error when the switches leave none for the inputs).
"""
import contextlib
import enum
import warnings

from .._settings import get_float32_matmul_precision, set_float32_matmul_precision
from . import _check_bool, _type_name

__all__ = ["is_built", "cuBLASModule", "preferred_linalg_library", "preferred_blas_library",
           "is_ck_sdpa_available", "matmul", "enable_cudnn_sdp", "cudnn_sdp_enabled", "enable_flash_sdp",
           "flash_sdp_enabled", "enable_mem_efficient_sdp", "mem_efficient_sdp_enabled", "math_sdp_enabled",
           "enable_math_sdp", "allow_fp16_bf16_reduction_math_sdp", "fp16_bf16_reduction_math_sdp_allowed",
           "is_flash_attention_available", "sdp_kernel"]


def is_built():
    """Whether ember can run CUDA where a GPU is present: whether CuPy, its CUDA backend, is installed. (Not
    whether a GPU is there: that is ember.cuda.is_available().)"""
    from .._backends import cuda as _backend
    return _backend.is_installed()


# --- cuBLAS's matmul switches ---------------------------------------------------------------------------------

def _reduction_setting(value, attr):
    # a bool, or (allow_reduced_precision[, allow_splitk]) of bools; split-K defaults to True
    def ensure_bool(obj, which):
        if not isinstance(obj, bool):
            raise TypeError(f"{attr} expects a bool for {which}, but got {type(obj)!r}")
        return obj
    if isinstance(value, bool):
        return value, True
    if isinstance(value, (list, tuple)):
        if not value:
            raise TypeError(f"{attr} expects at least one boolean argument")
        if len(value) > 2:
            raise TypeError(f"{attr} expects at most two boolean arguments")
        allow = ensure_bool(value[0], "allow_reduced_precision")
        splitk = ensure_bool(value[1], "allow_splitk") if len(value) == 2 else True
        if allow and not splitk:
            raise RuntimeError("allow_splitk=False is not supported when reduced precision reductions are enabled")
        return allow, splitk
    raise TypeError(f"{attr} expects a bool or a tuple/list of bools, but got {type(value)!r}")


_check_tf32 = _check_bool("set_allow_tf32_cublas")
_check_fp16_accumulation = _check_bool("set_allow_fp16_accumulation_cublas")


class cuBLASModule:
    """`ember.backends.cuda.matmul`: cuBLAS's switches for matrix products. Recorded and read back; ember's
    matmuls compute as NumPy or CuPy do whatever they say. An unknown name raises AttributeError.

    - allow_tf32 (False): let float32 matmuls use TF32 tensor cores. The same setting as
      ember.set_float32_matmul_precision(): True is "high", False "highest".
    - allow_fp16_reduced_precision_reduction, allow_bf16_reduced_precision_reduction (True): let float16 /
      bfloat16 matmuls reduce in reduced precision; set a bool or (allow, allow_split_k); the split-K half
      reads back as allow_fp16_reduced_precision_reduction_split_k (and bf16).
    - allow_fp16_accumulation (False): let float16 matmuls accumulate in float16.
    """
    __slots__ = ()
    _reduced = {"fp16": (True, True), "bf16": (True, True)}
    _fp16_accumulation = [False]

    @property
    def allow_tf32(self):
        return get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        _check_tf32(value)
        set_float32_matmul_precision("high" if value else "highest")

    @property
    def allow_fp16_reduced_precision_reduction(self):
        return self._reduced["fp16"][0]

    @allow_fp16_reduced_precision_reduction.setter
    def allow_fp16_reduced_precision_reduction(self, value):
        self._reduced["fp16"] = _reduction_setting(value, "allow_fp16_reduced_precision_reduction")

    @property
    def allow_fp16_reduced_precision_reduction_split_k(self):
        return self._reduced["fp16"][1]

    @property
    def allow_bf16_reduced_precision_reduction(self):
        return self._reduced["bf16"][0]

    @allow_bf16_reduced_precision_reduction.setter
    def allow_bf16_reduced_precision_reduction(self, value):
        self._reduced["bf16"] = _reduction_setting(value, "allow_bf16_reduced_precision_reduction")

    @property
    def allow_bf16_reduced_precision_reduction_split_k(self):
        return self._reduced["bf16"][1]

    @property
    def allow_fp16_accumulation(self):
        return self._fp16_accumulation[0]

    @allow_fp16_accumulation.setter
    def allow_fp16_accumulation(self, value):
        _check_fp16_accumulation(value)
        self._fp16_accumulation[0] = value

    def __getattr__(self, name):                # reached only for names that are not switches
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        switch = getattr(type(self), name, None)
        if not isinstance(switch, property) or switch.fset is None:
            raise AttributeError("Unknown attribute " + name)
        switch.fset(self, value)


matmul = cuBLASModule()


# --- scaled_dot_product_attention's backends ------------------------------------------------------------------

# ember runs one kernel, but follows these as PyTorch's CPU dispatch does (ember/nn/_functional/attention.py)
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True, "fp16_bf16_reduction_math": False}


def _set_sdp(key, setter, enabled):
    if type(enabled) is not bool:
        raise RuntimeError(f"{setter} expects a bool, but got {_type_name(enabled)}")
    _sdp[key] = enabled


def flash_sdp_enabled():
    """Whether scaled_dot_product_attention may use its flash kernel (True by default)."""
    return _sdp["flash"]


def enable_flash_sdp(enabled):
    """Allow or forbid the flash kernel: off, scaled_dot_product_attention takes the math path."""
    _set_sdp("flash", "set_sdp_use_flash", enabled)


def mem_efficient_sdp_enabled():
    """Whether the memory-efficient attention kernel (CUDA) may be used (True by default)."""
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled):
    """Allow or forbid the memory-efficient kernel; ember has none, so only the check for no kernel at all
    reads it."""
    _set_sdp("mem_efficient", "set_sdp_use_mem_efficient", enabled)


def math_sdp_enabled():
    """Whether scaled_dot_product_attention may use its math (composite) path (True by default)."""
    return _sdp["math"]


def enable_math_sdp(enabled):
    """Allow or forbid the math path: off, only inputs the flash kernel takes can run."""
    _set_sdp("math", "set_sdp_use_math", enabled)


def cudnn_sdp_enabled():
    """Whether the cuDNN attention kernel (CUDA) may be used (True by default)."""
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled):
    """Allow or forbid the cuDNN kernel; ember has none, so only the check for no kernel at all reads it."""
    _set_sdp("cudnn", "set_sdp_use_cudnn", enabled)


def fp16_bf16_reduction_math_sdp_allowed():
    """Whether the math path may reduce float16 / bfloat16 in their own precision (False by default)."""
    return _sdp["fp16_bf16_reduction_math"]


def allow_fp16_bf16_reduction_math_sdp(enabled):
    """Recorded only: ember's math path computes as its matmuls do."""
    _set_sdp("fp16_bf16_reduction_math", "set_math_sdp_allow_fp16_bf16_reduction", enabled)


def is_flash_attention_available():
    """Whether the CUDA FlashAttention kernels are built: never in ember (False, as on PyTorch's CPU build)."""
    return False


def is_ck_sdpa_available():
    """Whether ROCm's composable-kernel attention is built: never in ember."""
    return False


def _check_sdp_backends(device_type, flash_fits):
    """Called with the math path switched off: raise PyTorch's errors where the switches leave no kernel for
    these inputs. On the CPU only the flash kernel is left, and `flash_fits` says whether it takes them; on a
    GPU ember runs its one kernel while any fused backend is switched on."""
    fused = (_sdp["flash"],) if device_type == "cpu" else (_sdp["flash"], _sdp["mem_efficient"], _sdp["cudnn"])
    if not any(fused):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")
    if device_type == "cpu" and not flash_fits:
        raise RuntimeError("No available kernel.  Aborting execution.")


@contextlib.contextmanager
def _sdp_switches(flash, math, mem_efficient, cudnn):
    saved = dict(_sdp)
    _sdp.update(flash=flash, math=math, mem_efficient=mem_efficient, cudnn=cudnn)
    try:
        yield {}
    finally:
        _sdp.update(saved)


def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """Deprecated (FutureWarning): set the four attention backends' switches for a `with` block, then
    restore them."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will "
                  "be removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=2)
    return _sdp_switches(bool(enable_flash), bool(enable_math), bool(enable_mem_efficient), bool(enable_cudnn))


# --- preferred libraries ------------------------------------------------------------------------------------

class _LinalgBackend(enum.Enum):
    """The linear algebra library a CUDA op prefers (PyTorch's torch._C._LinalgBackend)."""
    Default = 0
    Cusolver = 1
    Magma = 2

    def __int__(self):
        return self.value


class _BlasBackend(enum.Enum):
    """The BLAS library a CUDA matmul prefers (PyTorch's torch._C._BlasBackend)."""
    Default = 0
    Cublas = 1
    Cublaslt = 2
    Ck = 3

    def __int__(self):
        return self.value


_LINALG = {"default": _LinalgBackend.Default, "cusolver": _LinalgBackend.Cusolver, "magma": _LinalgBackend.Magma}
_BLAS = {"default": _BlasBackend.Default, "cublas": _BlasBackend.Cublas, "hipblas": _BlasBackend.Cublas,
         "cublaslt": _BlasBackend.Cublaslt, "hipblaslt": _BlasBackend.Cublaslt, "ck": _BlasBackend.Ck}
_preferred = {"linalg": _LinalgBackend.Default, "blas": _BlasBackend.Cublas}


def _choice(backend, table, kind):
    if isinstance(backend, str):
        if backend not in table:
            raise RuntimeError(f"Unknown input value. Choose from: {', '.join(table)}.")
        return table[backend]
    if isinstance(backend, kind):
        return backend
    raise RuntimeError("Unknown input value type.")


def preferred_linalg_library(backend=None):
    """Prefer a CUDA linear algebra library ("default", "cusolver", "magma") and return the preferred one.
    CuPy solves with cuSOLVER, so "cusolver" needs CuPy (is_built()) and "magma" is refused; the choice is
    recorded only."""
    if backend is not None:
        choice = _choice(backend, _LINALG, _LinalgBackend)
        if choice is _LinalgBackend.Cusolver and not is_built():
            raise RuntimeError("Cannot set preferred backend to cuSOLVER if PyTorch has not been compiled with "
                               "cuSOLVER.")
        if choice is _LinalgBackend.Magma:
            raise RuntimeError("Cannot set preferred backend to MAGMA if PyTorch has not been compiled with MAGMA.")
        _preferred["linalg"] = choice
    return _preferred["linalg"]


def preferred_blas_library(backend=None):
    """Prefer a BLAS library for CUDA matmuls ("default" (cuBLAS), "cublas", "cublaslt", "ck" and the ROCm
    names) and return the preferred one. CuPy multiplies with cuBLAS, so "cublaslt" is refused; the choice is
    recorded only."""
    if backend is not None:
        choice = _choice(backend, _BLAS, _BlasBackend)
        if choice is _BlasBackend.Cublaslt:
            raise RuntimeError("Cannot set preferred backend to cuBLASLt if PyTorch has not been compiled with "
                               "cuBLASLt.")
        _preferred["blas"] = _BlasBackend.Cublas if choice is _BlasBackend.Default else choice
    return _preferred["blas"]
