"""Adagrad: per-coordinate step sizes from the sum of squared gradients."""
from .optimizer import (Optimizer, scaled_add, addcdiv_, check_hyper, check_lr, full_state, increment_step, lr_value,
                        scalar_state)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad. Like PyTorch, the state (`step`, `sum`) of every parameter is made at construction."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_hyper(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_hyper(0.0 <= initial_accumulator_value,
                    f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        value = self.defaults["initial_accumulator_value"]      # PyTorch ignores a param group's own value
        state["sum"] = full_state(param, complex(value, value) if param.is_complex() else value)

    def _update(self, xp, param, grad, state, group):
        weight_decay = group["weight_decay"]
        step = increment_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = scaled_add(xp, grad, param, weight_decay)
        clr = lr_value(group) / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]._array
        state_sum += grad * grad
        std = xp.sqrt(state_sum)
        std += group["eps"]
        addcdiv_(param, grad, std, -clr)

    def share_memory(self):
        """PyTorch moves `sum` to shared memory for multiprocessing; NumPy arrays need no such step."""
