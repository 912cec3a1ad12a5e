"""ember.linalg: norms, inverse, determinant, solve (PyTorch's torch.linalg names)."""
from .ops.linalg import cross, det, inv, matrix_norm, pinv, slogdet, solve
from .ops.linalg import linalg_norm as norm
from .ops.reduction import vector_norm

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve", "pinv", "cross"]
