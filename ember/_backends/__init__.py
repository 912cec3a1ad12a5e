"""Array backends (private; `ember.backends` is PyTorch's torch.backends flags): the only code that knows NumPy
from CuPy. backend_for(device) gives the module."""
from . import cpu

_BACKENDS = {"cpu": cpu}
# The classes of dense strided arrays (NumPy's; the cuda backend adds its xp.ndarray when it starts): op code tests
# `array.__class__ in STRIDED` where a layout rule (Note [memory formats]) applies to cpu and cuda arrays alike.
STRIDED = {cpu.xp.ndarray}


def backend_for(dev):
    """The backend module of a device; loads meta and cuda lazily."""
    backend = _BACKENDS.get(dev.type)
    if backend is None:
        if dev.type == "meta":
            from . import meta as backend
        elif dev.type == "cuda":
            from . import cuda as backend
            backend.check_available()
        else:
            raise RuntimeError(f"no backend for device type '{dev.type}'")
        _BACKENDS[dev.type] = backend
    return backend


def errstate(**kwargs):
    """Silence floating-point warnings inside a block (numpy.errstate's arguments). Only NumPy warns: CuPy has no
    errstate and a GPU raises no floating-point warnings, so op code on any device uses this, never xp.errstate."""
    import numpy
    return numpy.errstate(**kwargs)


def strided_module(array):
    """The array module of a dense strided array (NumPy for a cpu array, the cuda backend's xp for a device array),
    None for anything else (meta arrays, sparse storages): what lays results out in a memory format. Callers test
    `array.__class__ is numpy.ndarray` first, so the cpu path never calls this."""
    if array.__class__ is cpu.xp.ndarray:
        return cpu.xp
    from . import cuda
    xp = cuda.xp
    return xp if xp is not None and array.__class__ is xp.ndarray else None


def array_module(array):
    """The array module of an array: NumPy for a host array, the cuda backend's (CuPy) for a device array. For code
    that holds arrays without their tensor (the sparse storages' kernels)."""
    import numpy
    if isinstance(array, numpy.ndarray):
        return numpy
    from . import cuda
    return cuda.xp
