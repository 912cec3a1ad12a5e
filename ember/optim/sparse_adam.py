"""SparseAdam is not provided: ember has no sparse tensors, so no parameter ever gets a sparse gradient."""

__all__ = ["SparseAdam"]


class SparseAdam:
    """Placeholder for torch.optim.SparseAdam. ember has no sparse layout (`nn.Embedding(sparse=True)`
    still produces dense gradients), so a sparse-only optimizer has nothing to act on: constructing one
    raises. Use Adam (dense, same math on the rows that received gradient) instead."""

    def __init__(self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        raise NotImplementedError("SparseAdam: ember has no sparse gradients (every gradient is a dense array), "
                                  "so SparseAdam is not provided; use ember.optim.Adam")
