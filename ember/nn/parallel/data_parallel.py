"""DataParallel: wraps a module for (single-process) multi-GPU use; without a GPU it only wraps."""
import itertools

from ... import cuda
from ..._device import device as _device
from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel"]


def _device_index(value):
    if isinstance(value, int):
        return value
    value = _device(value)
    return 0 if value.index is None else value.index


def _to_device(value, device):
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


class DataParallel(Module):
    """Runs `module` on the given GPUs; state_dict keys gain the "module." prefix.

    Without CUDA (PyTorch's CPU-only build too) it keeps device_ids = [] and forward calls the module.
    Deviation: with several device_ids ember does not scatter the batch or replicate the module: it runs
    the whole batch on device_ids[0] and moves the output to output_device (same values, no speed-up).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not cuda.is_available():
            self.module = module
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        if output_device is None:
            output_device = device_ids[0]
        self.dim = dim
        self.module = module
        self.device_ids = [_device_index(d) for d in device_ids]
        self.output_device = _device_index(output_device)
        self.src_device_obj = _device("cuda", self.device_ids[0])
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in itertools.chain(self.module.parameters(), self.module.buffers()):
            if t.device != self.src_device_obj:
                raise RuntimeError(f"module must have its parameters and buffers on device {self.src_device_obj} "
                                   f"(device_ids[0]) but found one of them on device: {t.device}")
        inputs, kwargs = _to_device(inputs, self.src_device_obj), _to_device(kwargs, self.src_device_obj)
        output = self.module(*inputs, **kwargs)
        if len(self.device_ids) == 1:
            return output
        return _to_device(output, _device("cuda", self.output_device))
