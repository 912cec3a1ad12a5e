"""kl_divergence for every pair PyTorch registers (values and gradients), and register_kl's dispatch by the most
specific pair (ambiguity warning, memoisation, NotImplementedError for unregistered pairs)."""
import numpy as np
import pytest

import ember

# family -> two parameter sets (p's and q's) with batch shape (3,) (or the family's own event shape) and a builder
FAMILIES = {
    "Bernoulli": ([[0.2, 0.5, 0.9]], [[0.3, 0.6, 0.5]], lambda M, a: M.Bernoulli(*a)),
    "Beta": ([[1.0, 0.5, 2.0], [1.5, 0.7, 3.0]], [[2.0, 1.5, 0.5], [1.0, 2.7, 1.0]], lambda M, a: M.Beta(*a)),
    "Binomial": ([[10.0, 10.0, 10.0], [0.2, 0.5, 0.7]], [[10.0, 10.0, 10.0], [0.4, 0.3, 0.6]],
                 lambda M, a: M.Binomial(*a)),
    "Categorical": ([[[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]]],
                    [[[0.4, 0.3, 0.3], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]]], lambda M, a: M.Categorical(*a)),
    "Cauchy": ([[0.5, -1.0, 2.0], [1.0, 0.5, 2.0]], [[0.0, 1.0, 2.0], [2.0, 1.5, 0.5]], lambda M, a: M.Cauchy(*a)),
    "ContinuousBernoulli": ([[0.2, 0.5, 0.9]], [[0.3, 0.7, 0.4]], lambda M, a: M.ContinuousBernoulli(*a)),
    "Dirichlet": ([[[1.0, 0.5, 2.0], [1.5, 0.7, 3.0], [1.0, 1.0, 1.0]]],
                  [[[2.0, 1.5, 0.5], [1.0, 2.7, 1.0], [0.5, 3.0, 1.0]]], lambda M, a: M.Dirichlet(*a)),
    "Exponential": ([[0.5, 1.0, 2.0]], [[1.5, 0.3, 2.5]], lambda M, a: M.Exponential(*a)),
    "Gamma": ([[1.0, 0.5, 2.0], [1.5, 0.7, 3.0]], [[2.0, 1.5, 0.5], [1.0, 2.7, 1.0]], lambda M, a: M.Gamma(*a)),
    "Geometric": ([[0.2, 0.5, 0.9]], [[0.3, 0.6, 0.5]], lambda M, a: M.Geometric(*a)),
    "Gumbel": ([[0.5, -1.0, 2.0], [1.0, 0.5, 2.0]], [[0.0, 1.0, 2.0], [2.0, 1.5, 0.5]], lambda M, a: M.Gumbel(*a)),
    "HalfNormal": ([[1.0, 0.5, 2.0]], [[2.0, 1.5, 0.5]], lambda M, a: M.HalfNormal(*a)),
    "Laplace": ([[0.5, -1.0, 2.0], [1.0, 0.5, 2.0]], [[0.0, 1.0, 2.0], [2.0, 1.5, 0.5]], lambda M, a: M.Laplace(*a)),
    "Normal": ([[0.5, -1.0, 2.0], [1.0, 0.5, 2.0]], [[0.0, 1.0, 2.0], [2.0, 1.5, 0.5]], lambda M, a: M.Normal(*a)),
    "OneHotCategorical": ([[[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]]],
                          [[[0.4, 0.3, 0.3], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]]],
                          lambda M, a: M.OneHotCategorical(*a)),
    "Pareto": ([[1.0, 0.5, 2.0], [2.5, 1.7, 3.0]], [[0.5, 1.5, 1.0], [1.0, 2.7, 2.5]], lambda M, a: M.Pareto(*a)),
    "Poisson": ([[0.5, 3.5, 12.0]], [[1.5, 2.5, 10.0]], lambda M, a: M.Poisson(*a)),
    "Uniform": ([[0.1, 0.2, 0.3], [0.6, 0.5, 0.9]], [[0.0, 0.1, -1.0], [0.7, 0.8, 2.0]], lambda M, a: M.Uniform(*a)),
    "MultivariateNormal": ([[[0.5, -1.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.3, 2.0]]],
                           [[[0.0, 1.0], [1.0, 0.5], [2.0, 0.0]], [[2.0, 0.0], [-0.4, 0.5]]],
                           lambda M, a: M.MultivariateNormal(a[0], scale_tril=a[1])),
    "LowRankMultivariateNormal": ([[[0.5, -1.0], [0.0, 1.0], [1.0, 1.0]], [[1.0], [0.3]], [1.0, 2.0]],
                                  [[[0.0, 1.0], [1.0, 0.5], [2.0, 0.0]], [[0.2], [-0.5]], [0.5, 1.0]],
                                  lambda M, a: M.LowRankMultivariateNormal(*a)),
    "Independent": ([[[0.5, -1.0, 2.0]], [[1.0, 0.5, 2.0]]], [[[0.0, 1.0, 2.0]], [[2.0, 1.5, 0.5]]],
                    lambda M, a: M.Independent(M.Normal(*a), 1)),
    "TransformedDistribution": ([[0.5, -1.0, 2.0], [1.0, 0.5, 2.0]], [[0.0, 1.0, 2.0], [2.0, 1.5, 0.5]],
                                lambda M, a: M.LogNormal(*a)),
    "ExponentialFamily": ([[[1.0, 0.5, 2.0], [1.5, 0.7, 3.0]]], [[[2.0, 1.5, 0.5], [1.0, 2.7, 1.0]]],
                          lambda M, a: M.Wishart(a[0].new_tensor(5.0), covariance_matrix=a[0].new_tensor(
                              [[2.0, 0.3], [0.3, 1.0]]) * a[0][0, 0])),
}


try:                                   # every pair PyTorch registers (the test skips without PyTorch)
    import torch as _torch
    PAIRS = sorted({(p.__name__, q.__name__) for p, q in _torch.distributions.kl._KL_REGISTRY})
except ImportError:
    PAIRS = []


def _build(lib, family, which, requires_grad=False):
    params_p, params_q, build = FAMILIES[family]
    tensors = []
    for value in (params_p if which == "p" else params_q):
        t = lib.tensor(value, dtype=lib.float64)
        if requires_grad:
            t.requires_grad_(True)
        tensors.append(t)
    return build(lib.distributions, tensors), tensors


@pytest.mark.parametrize("pair", PAIRS)
def test_kl_matches_torch(torch, pair):
    fp, fq = pair
    tp, tp_params = _build(torch, fp, "p", requires_grad=True)
    tq, tq_params = _build(torch, fq, "q", requires_grad=True)
    ep, ep_params = _build(ember, fp, "p", requires_grad=True)
    eq, eq_params = _build(ember, fq, "q", requires_grad=True)
    try:
        expected = torch.distributions.kl_divergence(tp, tq)
    except NotImplementedError as e:
        with pytest.raises(NotImplementedError) as info:
            ember.distributions.kl_divergence(ep, eq)
        assert str(info.value) == str(e)
        return
    actual = ember.distributions.kl_divergence(ep, eq)
    assert tuple(actual.shape) == tuple(expected.shape)
    np.testing.assert_allclose(actual.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    finite = np.isfinite(expected.detach().numpy())
    if not finite.any() or not expected.requires_grad:
        return
    weights = np.linspace(0.5, 1.5, finite.size).reshape(finite.shape) * finite
    (torch.where(torch.tensor(finite), expected, 0.0) * torch.tensor(weights)).sum().backward()
    (ember.where(ember.tensor(finite), actual, 0.0) * ember.tensor(weights)).sum().backward()
    for t, e in zip(tp_params + tq_params, ep_params + eq_params):
        if t.grad is None:
            assert e.grad is None or not np.abs(e.grad.numpy()).any()
        else:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-9)


def test_kl_values_without_torch():
    D = ember.distributions
    p, q = D.Normal(ember.tensor([0.0]), ember.tensor([1.0])), D.Normal(ember.tensor([1.0]), ember.tensor([2.0]))
    # KL(N(0,1) || N(1,4)) = log 2 + (1 + 1) / 8 - 1/2
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), [np.log(2.0) + 0.25 - 0.5], rtol=1e-6)
    np.testing.assert_allclose(D.kl_divergence(p, p).numpy(), [0.0], atol=1e-7)
    u = D.Uniform(ember.tensor([0.0]), ember.tensor([2.0]))
    assert np.isinf(D.kl_divergence(u, D.Uniform(ember.tensor([0.5]), ember.tensor([1.0]))).numpy()).all()
    # the Bregman form of the exponential family agrees with the closed form
    g1, g2 = D.Gamma(ember.tensor([2.0]), ember.tensor([3.0])), D.Gamma(ember.tensor([1.5]), ember.tensor([1.0]))
    from ember.distributions.kl import _kl_expfamily_expfamily
    np.testing.assert_allclose(_kl_expfamily_expfamily(g1, g2).detach().numpy(), D.kl_divergence(g1, g2).numpy(),
                               rtol=1e-5)


def test_register_kl_dispatch_and_errors(torch):
    D = ember.distributions
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type "
                                                  "VonMises"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.VonMises(ember.tensor(0.0), ember.tensor(1.0)))

    class MyNormal(D.Normal):
        pass

    class MyOtherNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), MyOtherNormal(1.0, 2.0)
    # a subclass pair uses the most specific registered pair: (Normal, Normal)
    np.testing.assert_allclose(float(D.kl_divergence(p, q)), float(D.kl_divergence(D.Normal(0.0, 1.0),
                                                                                   D.Normal(1.0, 2.0))))

    @D.register_kl(MyNormal, D.Normal)
    def _left(p, q):
        return ember.tensor(1.0)

    @D.register_kl(D.Normal, MyOtherNormal)
    def _right(p, q):
        return ember.tensor(2.0)

    try:
        with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence\\(MyNormal, MyOtherNormal\\). Please "
                                                "register_kl\\(MyNormal, MyOtherNormal\\)"):
            assert float(D.kl_divergence(p, q)) == 1.0
        D.register_kl(MyNormal, MyOtherNormal)(_right)
        assert float(D.kl_divergence(p, q)) == 2.0        # the memo was cleared by the new registration
        assert float(D.kl_divergence(p, D.Normal(0.0, 1.0))) == 1.0
    finally:
        from ember.distributions import kl
        for key in [(MyNormal, D.Normal), (D.Normal, MyOtherNormal), (MyNormal, MyOtherNormal)]:
            kl._KL_REGISTRY.pop(key, None)
        kl._KL_MEMOIZE.clear()
    with pytest.raises(NotImplementedError, match="cannot"):
        D.kl_divergence(D.Gamma(1.0, 1.0).expand((1,)), D.Dirichlet(ember.tensor([1.0, 2.0])))
