"""ember.cuda: availability queries; the CUDA backend itself is ember._backends.cuda (CuPy). ember.cuda.amp holds
the deprecated torch.cuda.amp spellings of ember.amp (autocast, GradScaler, custom_fwd/custom_bwd)."""
import sys as _sys

from .amp._deprecated import cuda_amp as amp
from ._backends import cuda as _backend
from ._legacy_tensors import CUDA_TYPES as _CUDA_TYPES

_sys.modules.setdefault("ember.cuda.amp", amp)     # `import ember.cuda.amp` works on this plain module too

globals().update(_CUDA_TYPES)      # the legacy classes ember.cuda.FloatTensor ... (ember/_legacy_tensors.py)
from ._cuda_memory import *  # noqa: E402,F403  memory_allocated, memory_stats, get_device_name ...
from ._cuda_streams import *  # noqa: E402,F403  set_device, device, Stream, Event, stream ...
from ._cuda_random import *  # noqa: E402,F403  manual_seed, get_rng_state, default_generators ...


def is_available():
    """True when CuPy is installed and sees an NVIDIA GPU."""
    return _backend.available()


def device_count():
    if not is_available():
        return 0
    return _backend.device_count()


def synchronize(device=None):
    """Wait for the device's queued work (AssertionError without a GPU, as PyTorch's CPU-only build)."""
    from ._cuda_memory import _device_index
    _backend.synchronize(_device_index(device))


def empty_cache():
    if is_available():
        _backend.empty_cache()
