"""The gamma-family samplers (ember/ops/gamma_sampling.py): _standard_gamma, _sample_dirichlet, poisson and
binomial bit for bit against PyTorch's CPU kernels (and the generator state after them), statistically against
SciPy's distributions, their reparameterised gradients against PyTorch's and against implicit differentiation of
SciPy's inverse CDFs, and the incomplete gamma function behind Gamma.cdf."""
import numpy as np
import pytest

import ember

ALPHAS = [0.0, 1e-4, 0.01, 0.3, 0.999, 1.0, 1.5, 3.0, 10.0, 100.0, 1e4, 1e7]
RATES = [0.0, 1e-3, 0.5, 5.0, 9.99, 10.0, 50.0, 1e4, 1e6]
COUNTS = [0.0, 1.0, 5.0, 20.0, 100.0, 1000.0, 1e5, 30.0, 30.0, 7.0]
PROBS = [0.5, 0.3, 0.9, 0.6, 0.2, 0.51, 0.05, 0.0, 1.0, 0.5]


def _both(torch, seed, torch_call, ember_call):
    torch.manual_seed(seed)
    expected = torch_call()
    ember.manual_seed(seed)
    actual = ember_call()
    return expected, actual


def _assert_same_and_in_step(torch, expected, actual):
    np.testing.assert_array_equal(actual.detach().numpy(), expected.detach().numpy())
    assert actual.dtype == getattr(ember, str(expected.dtype).split(".")[1])
    # the generator moved by as many words (and holds the same cached normal) as PyTorch's
    np.testing.assert_array_equal(ember.randn(3, dtype=ember.float64).numpy(),
                                  torch.randn(3, dtype=torch.float64).numpy())
    np.testing.assert_array_equal(ember.rand(3).numpy(), torch.rand(3).numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_standard_gamma_is_bit_identical(torch, dtype, seed):
    alpha = np.repeat(ALPHAS, 50)
    expected, actual = _both(torch, seed, lambda: torch._standard_gamma(torch.tensor(alpha, dtype=getattr(torch, dtype))),
                             lambda: ember._standard_gamma(ember.tensor(alpha, dtype=getattr(ember, dtype))))
    _assert_same_and_in_step(torch, expected, actual)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_is_bit_identical(torch, dtype):
    rates = np.repeat(RATES, 60).reshape(-1, 20)
    expected, actual = _both(torch, 3, lambda: torch.poisson(torch.tensor(rates, dtype=getattr(torch, dtype))),
                             lambda: ember.poisson(ember.tensor(rates, dtype=getattr(ember, dtype))))
    _assert_same_and_in_step(torch, expected, actual)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binomial_is_bit_identical(torch, dtype):
    counts, probs = np.repeat(COUNTS, 60), np.repeat(PROBS, 60)
    expected, actual = _both(
        torch, 4, lambda: torch.binomial(torch.tensor(counts, dtype=getattr(torch, dtype)),
                                         torch.tensor(probs, dtype=getattr(torch, dtype))),
        lambda: ember.binomial(ember.tensor(counts, dtype=getattr(ember, dtype)),
                               ember.tensor(probs, dtype=getattr(ember, dtype))))
    _assert_same_and_in_step(torch, expected, actual)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 17, 100])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_dirichlet_is_bit_identical(torch, dtype, k):
    concentration = np.random.default_rng(k).uniform(0.05, 5.0, size=(30, k))
    expected, actual = _both(
        torch, k, lambda: torch._sample_dirichlet(torch.tensor(concentration, dtype=getattr(torch, dtype))),
        lambda: ember._sample_dirichlet(ember.tensor(concentration, dtype=getattr(ember, dtype))))
    _assert_same_and_in_step(torch, expected, actual)


def test_explicit_generator(torch):
    tg, eg = torch.Generator().manual_seed(11), ember.Generator().manual_seed(11)
    alpha = [0.5, 2.0, 7.0]
    np.testing.assert_array_equal(ember._standard_gamma(ember.tensor(alpha), generator=eg).numpy(),
                                  torch._standard_gamma(torch.tensor(alpha), generator=tg).numpy())
    np.testing.assert_array_equal(ember.poisson(ember.tensor(alpha), generator=eg).numpy(),
                                  torch.poisson(torch.tensor(alpha), generator=tg).numpy())


def test_edge_values_and_errors_match_torch(torch):
    special = [0.0, float("nan"), float("inf")]
    expected, actual = _both(torch, 0, lambda: torch._standard_gamma(torch.tensor(special)),
                             lambda: ember._standard_gamma(ember.tensor(special)))
    np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    # rates too large for int64: C++'s cast gives INT64_MIN on x86, and so does ember
    huge = [float("inf"), 1e300, 1e18]
    expected, actual = _both(torch, 0, lambda: torch.poisson(torch.tensor(huge, dtype=torch.float64)),
                             lambda: ember.poisson(ember.tensor(huge, dtype=ember.float64)))
    np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    for call in (lambda M: M._standard_gamma(M.tensor([1, 2])), lambda M: M.poisson(M.tensor([1, 2])),
                 lambda M: M.poisson(M.tensor([-1.0])), lambda M: M.poisson(M.tensor([float("nan")])),
                 lambda M: M.binomial(M.tensor([5]), M.tensor([0.5])),
                 lambda M: M.binomial(M.tensor([5.0]), M.tensor([0.5], dtype=M.float64)),
                 lambda M: M._sample_dirichlet(M.tensor([1, 2]))):
        with pytest.raises(Exception) as expected_info:
            call(torch)
        with pytest.raises(expected_info.type) as actual_info:
            call(ember)
        assert str(actual_info.value) == str(expected_info.value)


def test_poisson_and_samplers_gradients(torch):
    rate = ember.tensor([1.5, 20.0], requires_grad=True)
    ember.poisson(rate).sum().backward()
    np.testing.assert_array_equal(rate.grad.numpy(), [0.0, 0.0])              # PyTorch's zero gradient
    for sample in (ember._sample_dirichlet(ember.tensor([1.0, 2.0], requires_grad=True)),
                   ember.binomial(ember.tensor([5.0], requires_grad=True), ember.tensor([0.5]))):
        assert sample.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::.* is not implemented"):
            sample.sum().backward()


def _grid():
    alpha = np.geomspace(1e-3, 1e3, 25)
    x = np.geomspace(1e-4, 2e3, 30)
    return np.meshgrid(alpha, x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_standard_gamma_grad_matches_torch(torch, dtype):
    alpha, x = _grid()
    expected = torch._standard_gamma_grad(torch.tensor(alpha, dtype=getattr(torch, dtype)),
                                          torch.tensor(x, dtype=getattr(torch, dtype))).numpy()
    actual = ember._standard_gamma_grad(ember.tensor(alpha, dtype=getattr(ember, dtype)),
                                        ember.tensor(x, dtype=getattr(ember, dtype))).numpy()
    # the three branches (series, saddle point, rational fit) all occur on this grid
    np.testing.assert_allclose(actual, expected, rtol=1e-12 if dtype == "float64" else 0, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dirichlet_grad_matches_torch(torch, dtype):
    x, alpha, extra = np.meshgrid(np.linspace(0.001, 0.999, 25), np.geomspace(0.01, 100, 15),
                                  np.geomspace(0.01, 100, 15), indexing="ij")
    args = (x, alpha, alpha + extra)
    expected = torch._dirichlet_grad(*[torch.tensor(v, dtype=getattr(torch, dtype)) for v in args]).numpy()
    actual = ember._dirichlet_grad(*[ember.tensor(v, dtype=getattr(ember, dtype)) for v in args]).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-12 if dtype == "float64" else 4e-7, atol=0)


def test_reparameterised_gradients_agree_with_implicit_differentiation():
    """dx/dalpha = -(dF/dalpha) / f, by central differences of SciPy's inverse CDFs (no PyTorch needed)."""
    special = pytest.importorskip("scipy.special")
    alpha = ember.tensor([0.2, 0.9, 2.5, 12.0, 150.0], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    x = ember._standard_gamma(alpha)
    x.sum().backward()
    a, xs = alpha.detach().numpy(), x.detach().numpy()
    u = special.gammainc(a, xs)
    h = 1e-6 * a
    numeric = (special.gammaincinv(a + h, u) - special.gammaincinv(a - h, u)) / (2 * h)
    np.testing.assert_allclose(alpha.grad.numpy(), numeric, rtol=2e-3)
    # Beta through Dirichlet: d x / d concentration1
    c1 = ember.tensor([0.5, 2.0, 8.0], dtype=ember.float64, requires_grad=True)
    c0 = ember.tensor([1.5, 3.0, 9.0], dtype=ember.float64)
    sample = ember.distributions.Beta(c1, c0).rsample()
    sample.sum().backward()
    b1, b0, s = c1.detach().numpy(), c0.numpy(), sample.detach().numpy()
    u = special.betainc(b1, b0, s)
    h = 1e-6 * b1
    numeric = (special.betaincinv(b1 + h, b0, u) - special.betaincinv(b1 - h, b0, u)) / (2 * h)
    np.testing.assert_allclose(c1.grad.numpy(), numeric, rtol=2e-3)


def test_samples_follow_their_distributions():
    """Kolmogorov-Smirnov tests against SciPy (fixed seeds: deterministic)."""
    stats = pytest.importorskip("scipy.stats")
    D = ember.distributions
    ember.manual_seed(123)
    n = 3000
    continuous = [
        (D.Gamma(ember.tensor(0.3, dtype=ember.float64), ember.tensor(2.0, dtype=ember.float64)),
         stats.gamma(0.3, scale=0.5)),
        (D.Gamma(ember.tensor(4.5, dtype=ember.float64), ember.tensor(1.0, dtype=ember.float64)), stats.gamma(4.5)),
        (D.Chi2(ember.tensor(3.0, dtype=ember.float64)), stats.chi2(3.0)),
        (D.Beta(ember.tensor(0.7, dtype=ember.float64), ember.tensor(2.5, dtype=ember.float64)), stats.beta(0.7, 2.5)),
        (D.StudentT(ember.tensor(4.0, dtype=ember.float64)), stats.t(4.0)),
        (D.FisherSnedecor(ember.tensor(5.0, dtype=ember.float64), ember.tensor(7.0, dtype=ember.float64)),
         stats.f(5.0, 7.0)),
        (D.InverseGamma(ember.tensor(3.0, dtype=ember.float64), ember.tensor(2.0, dtype=ember.float64)),
         stats.invgamma(3.0, scale=2.0)),
        (D.VonMises(ember.tensor(0.5, dtype=ember.float64), ember.tensor(2.0, dtype=ember.float64)),
         stats.vonmises(2.0, loc=0.5)),
    ]
    for dist, reference in continuous:
        samples = dist.sample((n,)).numpy()
        assert stats.kstest(samples, reference.cdf).pvalue > 1e-3, type(dist).__name__
    # Dirichlet marginals are Beta(a_i, sum - a_i)
    concentration = np.array([0.5, 1.5, 3.0])
    samples = D.Dirichlet(ember.tensor(concentration, dtype=ember.float64)).sample((n,)).numpy()
    for i, a in enumerate(concentration):
        assert stats.kstest(samples[:, i], stats.beta(a, concentration.sum() - a).cdf).pvalue > 1e-3
    # discrete: the empirical pmf is close to SciPy's (total variation)
    discrete = [(D.Poisson(ember.tensor(3.5, dtype=ember.float64)), stats.poisson(3.5)),
                (D.Poisson(ember.tensor(40.0, dtype=ember.float64)), stats.poisson(40.0)),
                (D.Binomial(ember.tensor(12.0, dtype=ember.float64), ember.tensor(0.3, dtype=ember.float64)),
                 stats.binom(12, 0.3)),
                (D.Binomial(ember.tensor(200.0, dtype=ember.float64), ember.tensor(0.7, dtype=ember.float64)),
                 stats.binom(200, 0.7)),
                (D.NegativeBinomial(ember.tensor(3.0, dtype=ember.float64), ember.tensor(0.4, dtype=ember.float64)),
                 stats.nbinom(3.0, 0.6))]
    for dist, reference in discrete:
        samples = dist.sample((n,)).numpy().astype(int)
        support = np.arange(samples.max() + 1)
        empirical = np.bincount(samples, minlength=support.size) / n
        assert 0.5 * np.abs(empirical - reference.pmf(support)).sum() < 0.06, type(dist).__name__


def test_moments_without_scipy():
    ember.manual_seed(5)
    x = ember._standard_gamma(ember.full((20000,), 2.5, dtype=ember.float64)).numpy()
    assert abs(x.mean() - 2.5) < 0.06 and abs(x.var() - 2.5) < 0.15
    p = ember.poisson(ember.full((20000,), 30.0, dtype=ember.float64)).numpy()
    assert abs(p.mean() - 30.0) < 0.25 and abs(p.var() - 30.0) < 1.5 and (p == np.round(p)).all()
    b = ember.binomial(ember.full((20000,), 50.0), ember.full((20000,), 0.3)).numpy()
    assert abs(b.mean() - 15.0) < 0.15 and b.min() >= 0 and b.max() <= 50
    d = ember._sample_dirichlet(ember.tensor([[1.0, 2.0, 3.0]] * 5000, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.01)


def test_gammainc_matches_torch_and_its_gradient(torch):
    from ember.ops.incomplete_gamma import gammainc
    a = np.array([1e-3, 0.5, 1.0, 2.5, 10.0, 150.0, 0.0, 2.0, 2.0, -1.0, np.inf])
    x = np.array([0.7, 0.01, 3.0, 2.5, 25.0, 140.0, 1.0, 0.0, np.inf, 1.0, 2.0])
    expected = torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy()
    actual = gammainc(ember.tensor(a), ember.tensor(x)).numpy()
    # PyTorch's large-a asymptotic expansion is good to ~1e-9; ember's series / continued fraction to ~1e-15
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-14)
    assert actual.dtype == np.float64
    try:
        from scipy.special import gammainc as reference
    except ImportError:
        reference = None
    if reference is not None:
        np.testing.assert_allclose(actual, reference(a, x), rtol=1e-12, atol=1e-14)
    assert gammainc(ember.tensor([2.0]), ember.tensor([1.0])).dtype == ember.float32
    xs = ember.tensor([0.3, 2.0, 7.5], dtype=ember.float64, requires_grad=True)
    alphas = ember.tensor([0.5, 2.0, 6.0], dtype=ember.float64)
    assert ember.autograd.gradcheck(lambda v: gammainc(alphas, v), (xs,))
    xt = torch.tensor([0.3, 2.0, 7.5], dtype=torch.float64, requires_grad=True)
    torch.special.gammainc(torch.tensor([0.5, 2.0, 6.0], dtype=torch.float64), xt).sum().backward()
    gammainc(alphas, xs).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    for fn, m in ((gammainc, ember), (torch.special.gammainc, torch)):       # PyTorch's error, in both
        with pytest.raises(NotImplementedError, match="the derivative for 'igamma: input' is not implemented"):
            fn(m.tensor([0.5, 2.0], dtype=m.float64, requires_grad=True), m.tensor([1.0, 2.0])).sum().backward()


def test_gamma_cdf_matches_torch(torch):
    td = torch.distributions.Gamma(torch.tensor([0.5, 2.0, 30.0]), torch.tensor([1.0, 0.5, 2.0]))
    ed = ember.distributions.Gamma(ember.tensor([0.5, 2.0, 30.0]), ember.tensor([1.0, 0.5, 2.0]))
    value = [0.2, 3.0, 16.0]
    np.testing.assert_allclose(ed.cdf(ember.tensor(value)).numpy(), td.cdf(torch.tensor(value)).numpy(), rtol=1e-6)


def test_samplers_survive_a_zero_uniform():
    """A uniform draw of exactly 0 (probability 2**-53) divides by zero in C (giving inf, then a rejection);
    the Python port must take the same path instead of raising ZeroDivisionError or OverflowError."""
    from ember.ops import gamma_sampling as gs

    class Draws:
        def __init__(self, values):
            self.values = iter(values)

        def uniform(self):
            return next(self.values)

    assert gs._poisson_one(50.0, Draws([0.0, 0.3, 0.5, 0.5])) == 50
    assert gs._btrs(100.0, 0.3, Draws([0.0, 0.2, 0.5, 0.5]), False) == 30.0
    assert gs._btrs(100.0, 0.3, Draws([0.0, 0.2, 0.5, 0.5]), True) == 30.0
    assert gs._binomial_inversion(5.0, 0.3, Draws([0.0]), False) == 0
