"""Rprop: resilient backpropagation, sign-based steps with per-coordinate adaptive sizes."""
from .optimizer import (Optimizer, check_hyper, check_lr, full_state, increment_step, scalar_state, _value,
                        zeros_state)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop; after a sign change the coordinate's step size shrinks and that step is skipped."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        check_hyper(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["prev"] = zeros_state(param)
        lr = _value(group["lr"])
        state["step_size"] = full_state(param, complex(lr, lr) if param.is_complex() else lr)

    def _update(self, xp, param, grad, state, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        increment_step(state)
        if group["maximize"]:
            grad = -grad
        prev, step_size = state["prev"]._array, state["step_size"]._array
        sign = grad * prev
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(param.dtype, copy=False)
        step_size *= factor
        step_size.clip(step_size_min, step_size_max, out=step_size)
        grad = xp.where(factor == etaminus, 0, grad).astype(param.dtype, copy=False)
        update = xp.sign(grad)
        update *= step_size
        param -= update
        prev[...] = grad
