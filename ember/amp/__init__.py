"""torch.amp: automatic mixed precision. autocast runs the ops on PyTorch's lists in lower precision (or float32,
or their widest input dtype) inside a region; GradScaler scales the loss for low-precision gradients."""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
