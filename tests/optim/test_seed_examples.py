"""The seed tutorial's optim loops (nn.Sequential + RMSprop, custom Module + SGD) reach PyTorch's results."""
import math

import numpy as np
import pytest

import ember


def rmsprop_fit(m, dtype, steps):
    x = m.linspace(-math.pi, math.pi, 2000, dtype=dtype(m))
    y = m.sin(x)
    xx = x.unsqueeze(-1).pow(m.tensor([1, 2, 3]))
    model = m.nn.Sequential(m.nn.Linear(3, 1), m.nn.Flatten(0, 1)).to(dtype(m))
    with m.no_grad():                              # the same start in both libraries
        model[0].weight.copy_(m.tensor([[0.3, -0.2, 0.1]]))
        model[0].bias.fill_(0.05)
    loss_fn = m.nn.MSELoss(reduction="sum")
    optimizer = m.optim.RMSprop(model.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item(), [model[0].bias.item(), *model[0].weight.detach()[0].tolist()]


def polynomial_fit(m, dtype, steps):
    class Polynomial3(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c, self.d = (m.nn.Parameter(m.tensor(v, dtype=dtype(m)))
                                              for v in (0.1, -0.3, 0.2, 0.05))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    x = m.linspace(-math.pi, math.pi, 2000, dtype=dtype(m))
    y = m.sin(x)
    model = Polynomial3()
    criterion = m.nn.MSELoss(reduction="sum")
    optimizer = m.optim.SGD(model.parameters(), lr=1e-6)
    for _ in range(steps):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item(), [p.item() for p in (model.a, model.b, model.c, model.d)]


@pytest.mark.parametrize("fit", [rmsprop_fit, polynomial_fit])
@pytest.mark.parametrize("dtype, rtol", [(lambda m: m.float64, 1e-10), (lambda m: m.float32, 1e-4)],
                         ids=["float64", "float32"])
def test_seed_fit_matches_torch(torch, fit, dtype, rtol):
    ours = fit(ember, dtype, 200)
    theirs = fit(torch, dtype, 200)
    assert ours[0] == pytest.approx(theirs[0], rel=rtol)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=rtol, atol=rtol * 1e-2)
    assert ours[0] < fit(ember, dtype, 1)[0]       # it did learn
