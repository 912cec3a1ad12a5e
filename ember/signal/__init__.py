"""ember.signal: PyTorch's torch.signal, the window functions of signal processing (ember.signal.windows)."""
from . import windows

__all__ = ["windows"]
