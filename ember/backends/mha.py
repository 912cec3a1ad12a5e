"""torch.backends.mha: whether nn.MultiheadAttention and nn.TransformerEncoder may take PyTorch's fused
inference fast path. ember's have one path, so the flag is recorded and read back only."""
__all__ = ["get_fastpath_enabled", "set_fastpath_enabled"]

_fastpath_enabled = True


def get_fastpath_enabled():
    """The flag set_fastpath_enabled() last set (True by default); ember's attention runs one path either way."""
    return _fastpath_enabled


def set_fastpath_enabled(value):
    """Record whether the fast path is allowed (stored as given, as PyTorch does)."""
    global _fastpath_enabled
    _fastpath_enabled = value
