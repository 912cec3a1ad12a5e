"""L-BFGS against PyTorch where its steps hang on last bits: a float64 `add_(alpha=)` is one fused multiply-add in
PyTorch's CPU kernel, and its dot of a short vector (MKL) sums the products pairwise; a step that lands a parameter
exactly on a kink (|x - 1| at 0, whose gradient there is 0) or one ulp off it gives another gradient, and the
runs part (tests/differential found it: `make fuzz --seed 7101`, [optim] step_closure / value). Also the strong
Wolfe line search's iteration counts and state (issue 12 §2)."""
import math

import numpy as np
import pytest

import ember
from ember.ops._common import fused_multiply_add
from ember.optim.lbfgs import _dot


def _kink_program(m):
    v0 = m.nn.Parameter(m.tensor([[0.5, -1.0], [0.5, 0.5]], dtype=m.float64))
    opt = m.optim.LBFGS([v0], lr=1.0, max_iter=5)

    def closure():
        opt.zero_grad()
        loss = (v0 - 1).abs().sum() + (v0 * v0).sum() + (v0 - 1).abs().sum()
        loss.backward()
        return loss
    opt.step(closure)
    state = opt.state[v0]
    return v0.detach().numpy().tolist(), state["func_evals"], state["n_iter"], state["d"].tolist()


def test_lbfgs_step_onto_a_kink_as_torch():
    torch = pytest.importorskip("torch")
    assert _kink_program(ember) == _kink_program(torch)


def test_lbfgs_step_onto_a_kink():
    x, evals, n_iter, _ = _kink_program(ember)
    # the second step lands on 1.0 exactly (abs' is 0 there); one ulp off, the run ends elsewhere (0.9705)
    assert np.allclose(x, [[0.95700192, 1.02590489], [0.95700192, 0.95700192]]) and (evals, n_iter) == (5, 5)


def test_fused_multiply_add_rounds_once():
    a = 1 + 2 ** -30
    assert fused_multiply_add(np, a, a, -1.0) == 2 ** -29 + 2 ** -60       # a * a - 1 exactly
    assert a * a - 1.0 == 2 ** -29                                         # rounded twice: the 2**-60 is lost
    assert fused_multiply_add(np, 1e300, 1e300, 1.0) == math.inf           # overflow: the plain result
    assert math.isnan(fused_multiply_add(np, math.inf, 0.0, 1.0))


def test_short_dots_sum_pairwise():
    p = np.array([1.0, 2 ** -53, -1.0, 2 ** -53])
    assert _dot(p, np.ones(4)) == 2 ** -52                 # (1 + -1) + (2**-53 + 2**-53); in order: 2**-53
    torch = pytest.importorskip("torch")
    assert torch.tensor(p).dot(torch.ones(4, dtype=torch.float64)).item() == 2 ** -52


def _strong_wolfe_runs(m, dtype, problem, **kw):
    p = m.nn.Parameter(m.tensor([0.3, -0.8], dtype=getattr(m, dtype)))
    opt = m.optim.LBFGS([p], line_search_fn="strong_wolfe", **kw)
    losses = {"quad": lambda: ((p - 1.5) ** 2).sum() + (p[0] * p[1]) ** 2,
              "rosen": lambda: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
              "abs": lambda: (p - 1).abs().sum() + (p * p).sum(),
              "exp": lambda: p.exp().sum() + (p ** 2).sum()}

    def closure():
        opt.zero_grad()
        loss = losses[problem]()
        loss.backward()
        return loss
    out = []
    for _ in range(3):
        opt.step(closure)
        state = opt.state[p]
        t = state["t"]
        out.append((sorted(state), state["func_evals"], state["n_iter"], round(float(t), 10),
                    np.round(p.detach().numpy(), 10).tolist(),
                    [None if a is None else round(float(a), 8) for a in state.get("al", [])[:3]]))
    return out


@pytest.mark.parametrize("kw", [{}, dict(max_iter=5), dict(history_size=2, max_iter=7), dict(lr=0.5, max_eval=6)])
@pytest.mark.parametrize("problem", ["quad", "rosen", "abs", "exp"])
def test_lbfgs_strong_wolfe_as_torch(problem, kw):
    torch = pytest.importorskip("torch")
    assert _strong_wolfe_runs(ember, "float64", problem, **kw) == _strong_wolfe_runs(torch, "float64", problem, **kw)
