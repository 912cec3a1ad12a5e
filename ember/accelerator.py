"""ember.accelerator: PyTorch's device-agnostic queries, as the tutorials use them:

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"

The one accelerator ember can drive is CUDA, through CuPy (ember._backends.cuda). Where CuPy is absent
the answers are those of a CPU-only PyTorch build: no accelerator, and device queries refuse.
"""
from . import cuda as _cuda
from ._device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "device_index", "synchronize", "empty_cache"]


def is_available():
    """True when an accelerator can run ember's tensors (a GPU that CuPy sees)."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """device('cuda') when ember can target CUDA (CuPy installed; with check_available, a GPU present too)."""
    if check_available:
        return _device("cuda") if is_available() else None
    from ._backends import cuda as _backend
    return _device("cuda") if _backend.is_installed() else None


def device_count():
    return _cuda.device_count()


def _require():
    if not is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def _index(device):
    if device is None:
        return current_device_index()
    if isinstance(device, int):
        index = device
    else:
        device = _device(device)
        if device.type != "cuda":
            raise ValueError(f"{device.type} doesn't match the current accelerator cuda.")
        index = 0 if device.index is None else device.index
    if not 0 <= index < device_count():
        raise RuntimeError(f"Invalid device index {index}: {device_count()} accelerator device(s) available")
    return index


def current_device_index():
    _require()
    return _cuda.current_device()


def set_device_index(device, /):
    _require()
    if _index(device) != _cuda.current_device():
        raise RuntimeError("ember drives a single CUDA device (index 0); choose it with CUDA_VISIBLE_DEVICES")


def synchronize(device=None, /):
    _require()
    _index(device)
    _cuda.synchronize()


def empty_cache():
    _require()
    _cuda.empty_cache()


current_device_idx = current_device_index     # PyTorch's older names
set_device_idx = set_device_index


class device_index:
    """Context manager: run the block on accelerator device `device` (None: leave it as it is)."""

    def __init__(self, device, /):
        self.device = device

    def __enter__(self):
        if self.device is not None:
            set_device_index(self.device)

    def __exit__(self, *exc):
        return False
