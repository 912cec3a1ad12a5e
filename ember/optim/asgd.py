"""ASGD: averaged stochastic gradient descent (Polyak and Juditsky, 1992)."""
import numpy as np

from .._tensor import Tensor
from .optimizer import (Optimizer, scaled_add, check_hyper, check_lr, increment_step, lr_value, round_to_scalar_dtype,
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
            grad = scaled_add(xp, grad, param, weight_decay)
        eta_t, mu_t = state["eta"]._array, state["mu"]._array
        ax = state["ax"]._array
        if group["foreach"]:      # PyTorch's foreach formulas: param -= eta * (grad + lambd * param), and ax
            update = param * lambd     # always moves by mu * (param - ax)
            update += grad
            update *= eta_t
            param -= update
            diff = param - ax
            diff *= mu_t
            ax += diff
            return self._schedule(state, group, lambd, lr, state["step"]._array.reshape(-1)[0], step)
        eta = eta_t.item()
        param *= 1 - lambd * eta
        param -= grad * eta
        if mu_t.item() != 1:
            diff = param - ax
            diff *= mu_t
            ax += diff
        else:
            ax[...] = param
        self._schedule(state, group, lambd, lr, step, step)

    @staticmethod
    def _schedule(state, group, lambd, lr, step_for_eta, step):
        """The next eta and mu. Rounded through the scalar dtype (a number lr) or the lr's dtype (a tensor lr)
        whatever eta's own dtype, as PyTorch's as_tensor(...) does; its foreach path computes eta from the
        0-d `step` tensor (step_for_eta a NumPy scalar), and a number over a tensor is reciprocal(tensor) *
        number in PyTorch (two roundings)."""
        denom = (1 + lambd * lr * step_for_eta) ** group["alpha"]
        eta = (1 / denom) * lr if isinstance(denom, np.generic) and not isinstance(lr, np.generic) else lr / denom
        state["eta"]._array[...] = eta if isinstance(group["lr"], Tensor) else round_to_scalar_dtype(eta)
        state["mu"]._array[...] = round_to_scalar_dtype(1 / max(1, step - group["t0"]))
