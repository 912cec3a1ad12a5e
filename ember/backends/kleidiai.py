"""torch.backends.kleidiai: whether Arm's KleidiAI kernels are there. Never in ember (as on PyTorch's x86 CPU
build)."""
__all__ = ["is_available"]


def is_available():
    """Whether KleidiAI is there for ember's kernels: never."""
    return False
