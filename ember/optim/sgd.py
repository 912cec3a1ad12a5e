"""SGD with momentum, dampening, Nesterov momentum and weight decay."""
from .._tensor import _make
from .optimizer import Optimizer, _value, _xp, call_closure, check_hyper, check_lr, scaled_add, scaled_add_

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent; the momentum buffer starts as the first step's gradient, as in PyTorch."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr(lr)
        check_hyper(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        check_hyper(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def step(self, closure=None):
        # Own loop: without momentum SGD keeps no per-parameter state at all (as PyTorch's state_dict shows).
        loss = None if closure is None else call_closure(closure)
        for group in self.param_groups:
            weight_decay, momentum = _value(group["weight_decay"]), group["momentum"]
            dampening, nesterov, maximize = group["dampening"], group["nesterov"], group["maximize"]
            lr = _value(group["lr"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                param, grad, xp = p._array, p._grad._array, _xp(p)
                if not param.ndim:                   # Note [0-d parameters] (optimizer.py)
                    param, grad = param.reshape(1), grad.reshape(1)
                if maximize:
                    grad = -grad
                if weight_decay != 0:
                    grad = scaled_add(xp, grad, param, weight_decay)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:                  # the first step starts from the raw step
                        buf = grad.copy(order="K")       # a channels-last grad's layout, as PyTorch's clone
                        state["momentum_buffer"] = _make(buf.reshape(p._array.shape), p._device)
                    else:
                        buf = buf._array
                        if not buf.ndim:
                            buf = buf.reshape(1)
                        buf *= momentum
                        scaled_add_(xp, buf, grad, 1 - dampening)
                    if nesterov:
                        grad = scaled_add(xp, grad, buf, momentum)
                    else:
                        grad = buf
                scaled_add_(xp, param, grad, -lr)            # PyTorch: param.add_(grad, alpha=-lr)
                p._bump_version()
        return loss
