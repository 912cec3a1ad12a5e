"""ember.func: grad, grad_and_value, vjp, jacrev, hessian, vmap (loop-based) against torch.func."""
import numpy as np
import pytest

import ember

X = [0.5, -1.0, 2.0]


def _f(t):
    return (t.sin() * t).sum()


PROGRAMS = {
    "grad": lambda m, x: m.func.grad(_f)(x),
    "grad_of_grad": lambda m, x: m.func.grad(lambda t: m.func.grad(_f)(t).sum())(x),
    "grad_and_value": lambda m, x: m.func.grad_and_value(_f)(x)[1],
    "grad_argnums": lambda m, x: m.func.grad(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(x, x * 2)[1],
    "grad_has_aux": lambda m, x: m.func.grad(lambda t: (_f(t), t * 2), has_aux=True)(x)[1],
    "jacrev": lambda m, x: m.func.jacrev(lambda t: t ** 2 * t.sum())(x),
    "hessian": lambda m, x: m.func.hessian(_f)(x),
    "vjp": lambda m, x: m.func.vjp(lambda t: t.exp(), x)[1](m.ones(3, dtype=m.float64))[0],
    "vmap": lambda m, x: m.func.vmap(lambda t: (t * t).sum())(m.ones(4, 3, dtype=m.float64) * x),
    "vmap_in_dims": lambda m, x: m.func.vmap(lambda a, b: a * b, in_dims=(1, None))(
        m.ones(3, 2, dtype=m.float64) * x[:, None], x[0]),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_torch_func(torch, name):
    results = []
    for m in (ember, torch):
        x = m.tensor(X, dtype=m.float64)
        results.append(PROGRAMS[name](m, x).detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-15)


def test_grad_needs_scalar_output():
    with pytest.raises(RuntimeError, match="scalar"):
        ember.func.grad(lambda t: t * 2)(ember.ones(3))


def test_functional_call_matches_torch(torch):
    def program(m):
        m.manual_seed(0)
        model = m.nn.Linear(3, 2)
        weight = m.ones(2, 3, requires_grad=True)
        out = m.func.functional_call(model, ({"weight": weight}, {"bias": m.zeros(2)}), (m.ones(4, 3),))
        out.sum().backward()
        return out, weight.grad, model.weight.grad
    ours, theirs = program(ember), program(torch)
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy())
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy())
    assert ours[2] is None and theirs[2] is None
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        ember.func.functional_call(ember.nn.Linear(2, 2), ({"weight": ember.ones(2, 2)}, {"weight": ember.ones(2, 2)}),
                                   (ember.ones(1, 2),))
