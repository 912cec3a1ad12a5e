"""ember.cuda: availability queries; the CUDA backend itself is ember.backends.cuda (CuPy)."""
from .backends import cuda as _backend


def is_available():
    """True when CuPy is installed and sees an NVIDIA GPU."""
    return _backend.available()


def device_count():
    if not is_available():
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def current_device():
    if not is_available():                   # as PyTorch's CPU-only build raises
        raise AssertionError("Torch not compiled with CUDA enabled")
    return 0


def synchronize(device=None):
    if is_available():
        import cupy
        cupy.cuda.Device().synchronize()


def manual_seed(seed):
    """Seeds the CPU generator too: ember draws CUDA random numbers on the host (see ember.random)."""
    from .random import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed


def empty_cache():
    if is_available():
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
