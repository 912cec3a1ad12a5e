"""torch.backends.cusparselt: NVIDIA's cuSPARSELt (2:4 structured sparsity). ember has no sparse GPU
kernels, so it is never available, and its version and largest algorithm id are None, as on PyTorch's CPU
build."""
__all__ = ["version", "is_available", "get_max_alg_id"]


def version():
    """cuSPARSELt's version as an int, or None without it: always None in ember."""
    return None


def is_available():
    """Whether cuSPARSELt is there for ember's kernels: never."""
    return False


def get_max_alg_id():
    """The largest cuSPARSELt algorithm id, or None without it: always None in ember."""
    return None
