"""ember: PyTorch's API, written in Python on NumPy. `import ember as torch`."""
__version__ = "0.1.0"

import builtins as _builtins
import math as _math
import warnings as _warnings

# Note [silent floating point]: PyTorch computes inf and nan without a word (1/0, 0/0, exp(1000)); NumPy
# warns. This filter silences NumPy's floating-point RuntimeWarnings where ember's own code called the
# ufunc (NumPy attributes the warning to the calling frame's module); a user's NumPy code still warns.
_warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) encountered",
                         RuntimeWarning, r"ember(\.|$)")

from ._dtype import (bfloat16, complex64, complex128, dtype, float16, float32, float64, int8, int16, int32,
                     int64, uint8, bool_ as bool, finfo, iinfo, get_default_dtype, set_default_dtype,
                     promote_types, result_type, can_cast)
from ._dtype import float32 as float, float64 as double, float16 as half, int64 as long, int32 as int
from ._dtype import int16 as short, complex64 as cfloat, complex128 as cdouble
from ._device import device
from ._tensor import Tensor, Size
from ._layout import layout, strided, sparse_coo, sparse_csc, sparse_csr
from ._legacy_tensors import (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor,
                              ShortTensor, IntTensor, LongTensor, BoolTensor, set_default_tensor_type)
from . import ops
from .ops import *
from .ops._registry import PUBLIC as _PUBLIC
from .ops.sampling import rand, randn, randint, randperm, normal, bernoulli, multinomial
from ._tensor_str import set_printoptions
from . import autograd
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd import is_inference_mode_enabled
from . import linalg, cuda, backends, accelerator
from .amp.autocast_mode import (autocast, is_autocast_enabled, set_autocast_enabled, get_autocast_dtype,
                                set_autocast_dtype, is_autocast_cpu_enabled, set_autocast_cpu_enabled,
                                get_autocast_cpu_dtype, set_autocast_cpu_dtype, get_autocast_gpu_dtype,
                                set_autocast_gpu_dtype, is_autocast_cache_enabled, set_autocast_cache_enabled,
                                clear_autocast_cache, autocast_increment_nesting, autocast_decrement_nesting)
from .amp.grad_scaler import GradScaler
from .random import (Generator, default_generator, manual_seed, seed, initial_seed, get_rng_state,
                     set_rng_state)
from . import random
from ._settings import (set_num_threads, get_num_threads, use_deterministic_algorithms,
                        are_deterministic_algorithms_enabled, is_deterministic_algorithms_warn_only_enabled,
                        set_float32_matmul_precision, get_float32_matmul_precision, compile)

globals().update({k: v for k, v in _PUBLIC.items() if not k.startswith("_")})
from ._dtype import is_floating_point, is_complex  # noqa: E402
from ._aliases import *  # noqa: E402
from .ops.creation import memory_format  # noqa: E402

# PyTorch's constants: torch.inf, nan, pi, e are Python floats, torch.newaxis is None
inf, nan, pi, e = _math.inf, _math.nan, _math.pi, _math.e
newaxis = None

# The public classes print as ember.<name> (<class 'ember.Tensor'>), as PyTorch's do as torch.<name>; pickle
# finds them there too. ember.Generator keeps ember.random, a public module already.
for _cls in (Tensor, Size, dtype, device, finfo, iinfo, memory_format, layout):
    _cls.__module__ = "ember"
del _cls


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_inference(input):
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.is_inference()


def numel(input):
    return input.numel()


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def broadcast_shapes(*shapes):
    from .ops._shapes import broadcast_shapes as _bs
    # `int` here is ember.int32 (the dtype alias), so test for Python ints through the builtins module
    return Size(_bs(*[(s,) if isinstance(s, _builtins.int) else tuple(s) for s in shapes]))


# Heavier subpackages load on first use so `import ember` stays fast (dir(ember) lists them too).
_LAZY_MODULES = ("nn", "optim", "utils", "func", "viz", "serialization", "testing", "special", "fft",
                 "distributions", "profiler", "cpu", "amp")
_LAZY_MODULES += ("jit", "hub", "onnx", "distributed", "export")
_LAZY_MODULES += ("signal",)
_LAZY_MODULES += ("compiler", "_dynamo")


def _lazy(name):
    import importlib
    return importlib.import_module(f"ember.{name}")


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = _lazy(name)
        globals()[name] = module
        return module
    if name in ("save", "load"):
        module = _lazy("serialization")
        return getattr(module, name)
    if name == "vmap":                             # torch.vmap is torch.func.vmap
        return _lazy("func").vmap
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


def __dir__():
    # dir(ember) lists the lazily loaded names too, as dir(torch) lists torch's
    return sorted({*globals(), *_LAZY_MODULES, "save", "load", "vmap"})
