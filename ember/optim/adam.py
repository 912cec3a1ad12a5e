"""Adam (with AMSGrad, and decoupled weight decay = AdamW)."""
from .._tensor import Tensor
from .optimizer import (Optimizer, adam_moments, addcdiv_, check_betas, check_hyper, check_lr, scalar_state,
                        _value, zeros_state)

_TENSOR_LR_FOREACH = "lr as a Tensor is not supported for capturable=False and foreach=True"

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: bias-corrected moving averages of the gradient and its square."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        # Adam's foreach path has no tensor-lr (or tensor-betas) overload without capturable: PyTorch refuses
        # the combination here, and again in step() for an lr made a tensor later
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError(_TENSOR_LR_FOREACH)
        check_lr(lr)
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor):
                if foreach and not capturable:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and "
                                     f"foreach=True")
                if beta.numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(_value(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["exp_avg"] = zeros_state(param)
        state["exp_avg_sq"] = zeros_state(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        if group["foreach"] and not group["capturable"] and isinstance(group["lr"], Tensor):
            raise RuntimeError(_TENSOR_LR_FOREACH)       # as PyTorch: after this parameter's state is made
        lr, eps, beta1, beta2, step, exp_avg, exp_avg_sq = adam_moments(xp, param, grad, state, group)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]._array
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = xp.sqrt(max_exp_avg_sq)
        else:
            denom = xp.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += eps
        addcdiv_(param, exp_avg, denom, -step_size)
