"""CUDA backend over CuPy, loaded only when a cuda device is asked for."""
import importlib

name = "cuda"
xp = None


def available():
    """True when CuPy imports and sees at least one GPU."""
    try:
        cupy = importlib.import_module("cupy")
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def check_available():
    global xp
    if xp is not None:
        return
    if not available():                      # PyTorch's exception type and words on a CPU-only build
        raise AssertionError("Torch not compiled with CUDA enabled (ember's cuda backend needs CuPy and an "
                             "NVIDIA GPU: pip install cupy-cuda12x; ember.cuda.is_available() is False here)")
    xp = importlib.import_module("cupy")


def asarray(data, dtype=None):
    return xp.asarray(data, dtype=dtype)


def to_numpy(array):
    return xp.asnumpy(array)


def from_numpy(array):
    return xp.asarray(array)


def empty_like_shape(shape, dtype):
    return xp.empty(shape, dtype=dtype)


def broadcast_to(array, shape):
    return xp.broadcast_to(array, shape)
