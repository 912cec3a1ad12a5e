"""ember: PyTorch's API, written in Python on NumPy. `import ember as torch`."""
__version__ = "0.1.0"

import builtins as _builtins
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
from . import ops
from .ops import *
from .ops._registry import PUBLIC as _PUBLIC
from .ops.sampling import rand, randn, randint, randperm, normal, bernoulli, multinomial
from ._tensor_str import set_printoptions, get_printoptions
from . import autograd
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd import is_inference_mode_enabled
from . import linalg, cuda, backends, accelerator
from .random import (Generator, default_generator, manual_seed, seed, initial_seed, get_rng_state,
                     set_rng_state)
from . import random
from ._settings import (set_num_threads, get_num_threads, use_deterministic_algorithms,
                        are_deterministic_algorithms_enabled, is_deterministic_algorithms_warn_only_enabled,
                        set_float32_matmul_precision, get_float32_matmul_precision, compile)

globals().update({k: v for k, v in _PUBLIC.items() if not k.startswith("_")})
from ._dtype import is_floating_point, is_complex  # noqa: E402


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def broadcast_shapes(*shapes):
    from .ops._shapes import broadcast_shapes as _bs
    # `int` here is ember.int32 (the dtype alias), so test for Python ints through the builtins module
    return Size(_bs(*[(s,) if isinstance(s, _builtins.int) else tuple(s) for s in shapes]))


def _lazy(name):
    import importlib
    return importlib.import_module(f"ember.{name}")


def __getattr__(name):
    # Heavier subpackages load on first use so `import ember` stays fast.
    if name in ("nn", "optim", "utils", "func", "viz", "serialization", "testing", "special"):
        module = _lazy(name)
        globals()[name] = module
        return module
    if name in ("save", "load"):
        module = _lazy("serialization")
        return getattr(module, name)
    raise AttributeError(f"module 'ember' has no attribute '{name}'")
