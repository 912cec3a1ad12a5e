"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum."""
from .optimizer import (Optimizer, scaled_add, scaled_add_, addcdiv_, addcmul_, check_hyper, check_lr, increment_step, lerp_,
                        scalar_state, _value, zeros_state)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_hyper(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_hyper(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["square_avg"] = zeros_state(param)
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_state(param)
        if group["centered"]:
            state["grad_avg"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        alpha, weight_decay, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        increment_step(state)
        if weight_decay != 0:
            grad = scaled_add(xp, grad, param, weight_decay)
        square_avg = state["square_avg"]._array
        square_avg *= alpha
        addcmul_(square_avg, grad, grad, 1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]._array
            lerp_(xp, grad_avg, grad, 1 - alpha)
            avg = grad_avg * -1
            avg *= grad_avg
            avg += square_avg
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]._array
            buf *= momentum
            buf += grad / avg
            scaled_add_(xp, param, buf, -_value(group["lr"]))
        else:
            addcdiv_(param, grad, avg, -_value(group["lr"]))
