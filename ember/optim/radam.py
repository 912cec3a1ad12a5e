"""RAdam: Adam with the variance of the adaptive learning rate rectified (Liu et al., 2019)."""
from .optimizer import Optimizer, adam_moments, check_betas, check_hyper, check_lr, scalar_state, zeros_state

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam; plain momentum SGD while the variance estimate is unreliable (rho_t <= 5)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        check_hyper(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["exp_avg"] = zeros_state(param)
        state["exp_avg_sq"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        lr, eps, beta1, beta2, step, exp_avg, exp_avg_sq = adam_moments(xp, param, grad, state, group)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if group["foreach"]:
            # PyTorch's foreach path folds lr, the rectification and the bias corrections into one scalar step
            # size first (rounded in a tensor lr's dtype, Note [tensor lr]), then divides by it
            if rho_t > 5:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                buffer = xp.sqrt(exp_avg_sq)
                buffer += eps
                buffer /= (bias_correction2 ** 0.5) * (lr * rect / bias_correction1) * -1
                xp.reciprocal(buffer, out=buffer)
            else:
                buffer = (lr * 1.0 / bias_correction1) * -1
            param += exp_avg * buffer
            return
        update = exp_avg / bias_correction1
        update *= lr
        if rho_t > 5.0:
            adaptive = xp.sqrt(exp_avg_sq)
            adaptive += eps
            xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
            update *= adaptive
            update *= ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        param -= update
