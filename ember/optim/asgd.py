"""ASGD: averaged stochastic gradient descent (Polyak and Juditsky, 1992)."""
from .._tensor import Tensor
from .optimizer import (Optimizer, check_hyper, check_lr, increment_step, lr_value, round_to_scalar_dtype,
                        scalar_state, _value, zeros_state)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """ASGD; `ax` holds the running average of the iterates. `eta` and `mu` live in the scalar dtype,
    as in PyTorch (so lr is seen rounded to float32 under the default dtype); with a tensor lr the new eta
    is computed in the lr's dtype (Note [tensor lr])."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_hyper(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, param, state, group):
        state["step"] = scalar_state(0.0)
        state["eta"] = scalar_state(_value(group["lr"]))
        state["mu"] = scalar_state(1.0)
        state["ax"] = zeros_state(param)

    def _update(self, xp, param, grad, state, group):
        lambd, lr, weight_decay = group["lambd"], lr_value(group), group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        if weight_decay != 0:
            grad = grad + param * weight_decay
        eta_t, mu_t = state["eta"]._array, state["mu"]._array
        eta = eta_t.item()
        param *= 1 - lambd * eta
        param -= grad * eta
        ax = state["ax"]._array
        if mu_t.item() != 1:
            diff = param - ax
            diff *= mu_t
            ax += diff
        else:
            ax[...] = param
        # rounded through the scalar dtype (a number lr) or the lr's dtype (a tensor lr) whatever eta's own
        # dtype, as PyTorch's as_tensor(...) does
        if group["foreach"]:      # PyTorch's foreach path takes `step` as its 0-d tensor (scalar dtype) here
            step = state["step"]._array.reshape(-1)[0]
        eta = lr / ((1 + lambd * lr * step) ** group["alpha"])
        eta_t[...] = eta if isinstance(group["lr"], Tensor) else round_to_scalar_dtype(eta)
        mu_t[...] = round_to_scalar_dtype(1 / max(1, step - group["t0"]))
