"""Adafactor: a factored second-moment estimate and a step size relative to the parameter's scale."""
from .._tensor import Tensor, _make
from .optimizer import Optimizer, check_hyper, increment_step, lerp_, lr_value, scalar_state, _xp, zeros_state

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as PyTorch states it: no first moment; for params of 2 or more
    dims the squared gradient's running average is kept as row and column means (O(m + n) memory per
    matrix), whose outer product over the mean row estimate stands in for the full estimate. The step
    is lr-capped 1/sqrt(t) times the parameter's RMS (at least eps2), and the preconditioned update is
    scaled down to RMS <= d. Deviation: complex parameters are refused, as in PyTorch."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        check_hyper(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
        check_hyper(0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}")
        check_hyper(eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}")
        check_hyper(0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}")
        check_hyper(1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}")
        check_hyper(0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def step(self, closure=None):
        # refused before any parameter moves (the base step would meet a complex one mid-way)
        if any(p.is_complex() for group in self.param_groups for p in group["params"] if p._grad is not None):
            raise RuntimeError("Adafactor does not support complex parameters")
        return Optimizer.step.__wrapped__(self, closure)     # the base's body: the hooks wrap this step

    def _init_state(self, param, state, group):
        if param.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        state["step"] = scalar_state(0.0)
        if param.ndim < 2:
            state["variance"] = zeros_state(param)
            return
        xp = _xp(param)
        shape = tuple(param.shape)
        # row means keep the last dim as 1, column means the second last: broadcastable like the param
        state["row_var"] = _make(xp.zeros(shape[:-1] + (1,), param._array.dtype), param._device)
        state["col_var"] = _make(xp.zeros(shape[:-2] + (1, shape[-1]), param._array.dtype), param._device)

    def _update(self, xp, param, grad, state, group):
        lr, weight_decay, d = lr_value(group), group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:                               # PyTorch's default: the parameter dtype's epsilon
            eps1 = float(xp.finfo(param.dtype).eps)
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        beta2 = 1 - step ** group["beta2_decay"]       # grows towards 1: later averages remember longer
        rho = min(lr, 1 / step ** 0.5)
        alpha = max(eps2, _rms(xp, param)) * rho        # the scale is read before weight decay shrinks param
        if weight_decay != 0:
            param *= 1 - lr * weight_decay
        squared = grad * grad
        if param.ndim >= 2:
            row_var, col_var = state["row_var"]._array, state["col_var"]._array
            lerp_(xp, row_var, squared.mean(axis=-1, keepdims=True), 1 - beta2)
            lerp_(xp, col_var, squared.mean(axis=-2, keepdims=True), 1 - beta2)
            variance = xp.matmul(row_var, col_var)
            variance /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]._array
            lerp_(xp, variance, squared, 1 - beta2)
        update = grad / xp.maximum(xp.sqrt(variance), eps1)
        denom = max(1.0, _rms(xp, update) / d)          # clip the update's RMS at d
        param += update * (-alpha / denom)


def _rms(xp, array):
    """Root mean square as a Python float (the L2 norm over sqrt(numel), PyTorch's formula)."""
    return float(xp.linalg.norm(array.reshape(-1))) / array.size ** 0.5
