"""torch.backends.openmp: whether the kernels use OpenMP. ember's do not (they are NumPy array code; NumPy's
BLAS picks its own threads, see ember.set_num_threads), so is_available() is False; PyTorch's CPU build,
built with OpenMP, answers True."""
__all__ = ["is_available"]


def is_available():
    """Whether ember's kernels are built with OpenMP: never."""
    return False
