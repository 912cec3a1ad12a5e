"""SparseAdam: Adam for sparse gradients. ember has no sparse layout, so every gradient is dense and, as
in PyTorch when SparseAdam meets a dense gradient, step() refuses it and points to Adam."""
from .optimizer import Optimizer, call_closure, check_betas, check_hyper, check_lr

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Constructs and validates like PyTorch's; step() raises because ember's gradients are never sparse."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        check_lr(lr)
        check_hyper(0.0 < eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def step(self, closure=None):
        # refused before any state is made, as PyTorch's check runs first (it keeps `step` as a Python int)
        loss = None if closure is None else call_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        return loss
