"""torch.backends.mps: Apple's Metal (MPS) device. ember has no MPS backend (its devices are the CPU, CUDA
through CuPy, and meta), so MPS is neither built nor available, as on PyTorch's Linux and Windows builds; the
queries that need MPS raise as PyTorch's do there."""
__all__ = ["get_core_count", "get_name", "is_built", "is_available", "is_macos13_or_newer", "is_macos_or_newer"]


def is_built():
    """Whether ember has an MPS backend: never."""
    return False


def is_available():
    """Whether an MPS device can be used: never in ember."""
    return False


def is_macos_or_newer(major, minor):
    """Whether MPS runs on macOS major.minor or newer; needs MPS, so it raises RuntimeError in ember."""
    raise RuntimeError("Cannot execute isOnMacOSorNewer() without MPS backend.")


def is_macos13_or_newer(minor=0):
    """Whether MPS runs on macOS 13.minor or newer; needs MPS, so it raises RuntimeError in ember."""
    return is_macos_or_newer(13, minor)


def get_name():
    """The Metal device's name; there is none in ember, so it raises AttributeError, as PyTorch's build
    without MPS does."""
    raise AttributeError("ember has no MPS backend: torch.backends.mps.get_name() needs one")


def get_core_count():
    """The Metal GPU's core count; there is none in ember, so it raises AttributeError, as PyTorch's build
    without MPS does."""
    raise AttributeError("ember has no MPS backend: torch.backends.mps.get_core_count() needs one")
