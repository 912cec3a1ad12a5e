"""NAdam: Adam with Nesterov momentum (and the momentum-decay schedule of Dozat, 2016)."""
from .optimizer import (Optimizer, scaled_add, addcdiv_, addcmul_, check_betas, check_hyper, check_lr, increment_step,
                        lerp_, lr_value, scalar_state, _value, zeros_state)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam; decoupled_weight_decay=True gives NAdamW. `mu_product` is kept in the scalar dtype, as in PyTorch."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_hyper(0.0 <= momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["mu_product"] = scalar_state(1.0)
        state["exp_avg"] = zeros_state(param)
        state["exp_avg_sq"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        lr, weight_decay, eps = lr_value(group), group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = scaled_add(xp, grad, param, weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product_t = state["mu_product"]._array
        # in the scalar dtype (float32 by default) or, after load_state_dict, the parameter's dtype (PyTorch
        # casts every floating state tensor but `step` to it), like PyTorch
        mu_product_t *= mu
        mu_product = mu_product_t.item()
        if group["foreach"]:       # PyTorch's foreach path takes a tensor lr's value as a number for the step sizes
            lr = _value(group["lr"])
        exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
        lerp_(xp, exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
        denom = exp_avg_sq / bias_correction2
        xp.sqrt(denom, out=denom)
        denom += eps
        addcdiv_(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        addcdiv_(param, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product * mu_next))
