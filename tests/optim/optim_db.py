"""One line per optimizer configuration that changes the math; test_optim.py runs generic checks on each.

`m` is ember or torch, so one model, one builder and one loop serve both.
"""
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OptimCase:
    name: str                                    # class name in m.optim
    kwargs: dict = field(default_factory=dict)
    groups: bool = False                         # two param groups, the second with its own lr
    steps: int = 100

    def __str__(self):
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({args}){'-groups' if self.groups else ''}"

    def build(self, m, params, **overrides):
        kwargs = {**self.kwargs, **overrides}
        if self.groups:
            lr = kwargs.get("lr", 1e-3)
            params = [{"params": params[:2]}, {"params": params[2:], "lr": lr * 0.5}]
        return getattr(m.optim, self.name)(params, **kwargs)


OPTIM_CASES = [
    OptimCase("SGD", dict(lr=0.05)),
    OptimCase("SGD", dict(lr=0.05, momentum=0.9)),
    OptimCase("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    OptimCase("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    OptimCase("SGD", dict(lr=0.05, momentum=0.5, maximize=True), groups=True),
    OptimCase("Adam", dict(lr=0.01)),
    OptimCase("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    OptimCase("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    OptimCase("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), groups=True),
    OptimCase("AdamW", dict(lr=0.01)),
    OptimCase("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    OptimCase("Adamax", dict(lr=0.01)),
    OptimCase("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    OptimCase("NAdam", dict(lr=0.01)),
    OptimCase("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    OptimCase("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    OptimCase("RAdam", dict(lr=0.01)),
    OptimCase("RAdam", dict(lr=0.01, weight_decay=0.1)),
    OptimCase("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    OptimCase("RMSprop", dict(lr=0.01)),
    OptimCase("RMSprop", dict(lr=0.01, alpha=0.95, eps=1e-3, centered=True)),
    OptimCase("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    OptimCase("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True), groups=True),
    OptimCase("Adagrad", dict(lr=0.05)),
    OptimCase("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    OptimCase("Adagrad", dict(lr=0.05, eps=1e-6, maximize=True)),
    OptimCase("Adadelta", dict()),
    OptimCase("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    OptimCase("Adadelta", dict(maximize=True), groups=True),
    OptimCase("ASGD", dict(lr=0.05)),
    OptimCase("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=20, weight_decay=0.1)),
    OptimCase("ASGD", dict(lr=0.05, t0=10, maximize=True)),
    OptimCase("Rprop", dict(lr=0.01)),
    OptimCase("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))),
    OptimCase("Rprop", dict(lr=0.01, maximize=True), groups=True),
    OptimCase("Adafactor", dict()),
    # (at lr=0.05 this configuration turns chaotic after ~60 steps: rounding differences grow to 1e-6)
    OptimCase("Adafactor", dict(lr=0.02, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=1.5, weight_decay=0.1)),
    OptimCase("Adafactor", dict(lr=0.05, maximize=True), groups=True),
]

# PyTorch refuses complex parameters for these (test_complex_parameters_match_torch has nothing to compare)
COMPLEX_UNSUPPORTED = {"Adafactor"}

LBFGS_CASES = [
    OptimCase("LBFGS", dict(lr=1, max_iter=20), steps=3),
    OptimCase("LBFGS", dict(lr=0.5, max_iter=10, history_size=3), steps=5),
    OptimCase("LBFGS", dict(lr=1, max_iter=20, line_search_fn="strong_wolfe"), steps=3),
    OptimCase("LBFGS", dict(lr=1, max_iter=50, history_size=5, tolerance_grad=1e-5, tolerance_change=1e-7,
                            line_search_fn="strong_wolfe"), steps=1),
]


@dataclass
class ErrorCase:
    name: str
    kwargs: dict
    error: type

    def __str__(self):
        return f"{self.name}({','.join(f'{k}={v}' for k, v in self.kwargs.items())})"


ERROR_CASES = [
    ErrorCase("SGD", dict(lr=-0.1), ValueError),
    ErrorCase("SGD", dict(lr=0.1, momentum=-0.5), ValueError),
    ErrorCase("SGD", dict(lr=0.1, weight_decay=-1), ValueError),
    ErrorCase("SGD", dict(lr=0.1, nesterov=True), ValueError),
    ErrorCase("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError),
    ErrorCase("Adam", dict(lr=-1e-3), ValueError),
    ErrorCase("Adam", dict(betas=(1.0, 0.999)), ValueError),
    ErrorCase("Adam", dict(betas=(0.9, -0.1)), ValueError),
    ErrorCase("Adam", dict(eps=-1e-8), ValueError),
    ErrorCase("AdamW", dict(weight_decay=-0.1), ValueError),
    ErrorCase("Adamax", dict(betas=(0.9, 1.5)), ValueError),
    ErrorCase("NAdam", dict(momentum_decay=-1.0), ValueError),
    ErrorCase("RAdam", dict(eps=-1.0), ValueError),
    ErrorCase("RMSprop", dict(alpha=-0.5), ValueError),
    ErrorCase("RMSprop", dict(momentum=-0.5), ValueError),
    ErrorCase("Adagrad", dict(lr_decay=-0.1), ValueError),
    ErrorCase("Adagrad", dict(initial_accumulator_value=-1), ValueError),
    ErrorCase("Adadelta", dict(rho=1.5), ValueError),
    ErrorCase("ASGD", dict(weight_decay=-1), ValueError),
    ErrorCase("Rprop", dict(etas=(1.5, 1.2)), ValueError),
    ErrorCase("Rprop", dict(etas=(0.5, 0.9)), ValueError),
    ErrorCase("LBFGS", dict(lr=-1), ValueError),
    ErrorCase("Adafactor", dict(lr=-0.1), ValueError),
    ErrorCase("Adafactor", dict(beta2_decay=0.5), ValueError),
    ErrorCase("Adafactor", dict(eps=(-1.0, 1e-3)), ValueError),
    ErrorCase("Adafactor", dict(eps=(None, -1.0)), ValueError),
    ErrorCase("Adafactor", dict(d=0.5), ValueError),
    ErrorCase("Adafactor", dict(weight_decay=-0.1), ValueError),
]


# --- the shared model: a 3-5-1 tanh MLP on fixed data -----------------------------------------------

def initial_arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((5, 3)) * 0.5, rng.standard_normal(5) * 0.1,
            rng.standard_normal((1, 5)) * 0.5, np.full(1, 0.05)]


def data_arrays():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (16, 3))
    return x, 4 * np.sin(x.sum(1) * math.pi / 2) + 2


def make_params(m, dtype, arrays=None):
    return [m.tensor(a, dtype=getattr(m, dtype), requires_grad=True) for a in (arrays or initial_arrays())]


def make_data(m, dtype):
    return [m.tensor(a, dtype=getattr(m, dtype)) for a in data_arrays()]


def loss_fn(params, x, y):
    w1, b1, w2, b2 = params
    out = ((x @ w1.T + b1).tanh() @ w2.T + b2).reshape(-1)
    return ((out - y) ** 2).mean()


def train_autograd(opt, params, data, steps):
    """The usual loop: each framework's own forward and backward. maximize=True climbs -loss, so those
    runs stay as well conditioned as the others."""
    sign = -1 if opt.defaults.get("maximize") else 1
    for _ in range(steps):
        opt.zero_grad()
        (loss_fn(params, *data) * sign).backward()
        opt.step()


def numpy_grads(arrays, x, y):
    """The model's gradients by hand in float64: fed to both frameworks, so the runs compare the optimizers
    alone (ember's and PyTorch's float32 backward passes round differently) and stay cheap."""
    w1, b1, w2, b2 = arrays
    h = np.tanh(x @ w1.T + b1)
    dout = 2 * ((h @ w2.T + b2).reshape(-1) - y) / len(y)
    dz = dout[:, None] * w2 * (1 - h * h)
    return [dz.T @ x, dz.sum(0), dout[None, :] @ h, np.array([dout.sum()])]


def train(m, opt, params, steps):
    sign = -1 if opt.defaults.get("maximize") else 1
    x, y = data_arrays()
    for _ in range(steps):
        arrays = [np.array(p.detach().numpy(), dtype=np.float64) for p in params]
        for p, g in zip(params, numpy_grads(arrays, x, y)):
            p.grad = m.from_numpy((g * sign).astype(np.array(p.detach().numpy()).dtype))
        opt.step()


def closure_for(opt, params, data):
    def closure():
        opt.zero_grad()
        loss = loss_fn(params, *data)
        loss.backward()
        return loss
    return closure
