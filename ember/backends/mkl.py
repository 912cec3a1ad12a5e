"""torch.backends.mkl: whether Intel's MKL is there, and its on-demand verbose mode.

ember does not call MKL (its kernels are NumPy array code, whatever BLAS NumPy was built with), so
is_available() is False and verbose() cannot turn MKL's logging on. PyTorch's CPU build, linked with MKL,
answers True.
"""
__all__ = ["is_available", "verbose", "VERBOSE_OFF", "VERBOSE_ON"]

VERBOSE_OFF = 0
VERBOSE_ON = 1


def is_available():
    """Whether MKL is there for ember's kernels: never."""
    return False


class verbose:
    """`with verbose(VERBOSE_ON):` turns MKL's logging on for the block. ember has no MKL to log, so
    VERBOSE_ON raises AssertionError on entry, as PyTorch without MKL does; VERBOSE_OFF does nothing."""

    def __init__(self, enable):
        self.enable = enable

    def __enter__(self):
        if self.enable == VERBOSE_OFF:
            return None
        raise AssertionError("Failed to set MKL into verbose mode. Please consider to disable this verbose scope.")

    def __exit__(self, exc_type, exc_value, traceback):
        return False
