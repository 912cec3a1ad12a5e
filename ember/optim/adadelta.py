"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and squared updates."""
from .optimizer import (Optimizer, scaled_add, addcmul_, check_hyper, check_lr, increment_step, scalar_state, _value,
                        zeros_state)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta; `lr` scales the computed update (1.0 is the paper's method)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        check_hyper(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["square_avg"] = zeros_state(param)
        state["acc_delta"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        rho, eps, weight_decay = group["rho"], group["eps"], group["weight_decay"]
        increment_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = scaled_add(xp, grad, param, weight_decay)
        square_avg, acc_delta = state["square_avg"]._array, state["acc_delta"]._array
        square_avg *= rho
        addcmul_(square_avg, grad, grad, 1 - rho)
        std = square_avg + eps
        xp.sqrt(std, out=std)
        delta = acc_delta + eps
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        addcmul_(acc_delta, delta, delta, 1 - rho)
        delta *= _value(group["lr"])
        param -= delta
