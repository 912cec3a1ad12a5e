"""Adamax: Adam with the infinity norm in place of the second moment."""
from .optimizer import (Optimizer, scaled_add, addcdiv_, check_betas, check_hyper, check_lr, increment_step, lerp_,
                        lr_value, scalar_state, _value, zeros_state)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: the denominator is a decaying running maximum of |grad| (+ eps)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["exp_avg"] = zeros_state(param)
        state["exp_inf"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        # a tensor lr enters PyTorch's step size as a tensor (Note [tensor lr]), but as a number on its foreach path
        lr = _value(group["lr"]) if group["foreach"] else lr_value(group)
        weight_decay, eps = group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        if weight_decay != 0:
            grad = scaled_add(xp, grad, param, weight_decay)
        exp_avg, exp_inf = state["exp_avg"]._array, state["exp_inf"]._array
        lerp_(xp, exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        norm = xp.abs(grad)
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)
        addcdiv_(param, exp_avg, exp_inf, -lr / (1 - beta1 ** step))
