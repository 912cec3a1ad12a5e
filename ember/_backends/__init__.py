"""Array backends (private; `ember.backends` is PyTorch's torch.backends flags): the only code that knows NumPy
from CuPy. backend_for(device) gives the module."""
from . import cpu

_BACKENDS = {"cpu": cpu}


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
