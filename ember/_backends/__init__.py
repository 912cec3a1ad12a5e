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
