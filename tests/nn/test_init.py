"""nn.init: gains, fan computations, distributions, deterministic fills, errors, PyTorch's RNG recipe."""
import math

import numpy as np
import pytest

import ember
from ember.nn import init


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                        ("selu", None)])
def test_calculate_gain_matches_torch(name, param, torch):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ember.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(ember.empty(3, 3), mode="fan_avg")


def _bound_and_std(t):
    a = t.detach().numpy()
    return np.abs(a).max(), a.std()


def test_distributions():
    w = ember.empty(300, 200)
    init.uniform_(w, -2, 3)
    a = w.numpy()
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.05
    init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / 500)
    m, s = _bound_and_std(w)
    assert m <= bound and abs(s - bound / math.sqrt(3)) < 0.01 * bound
    init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2.0 / 500)) < 2e-3
    init.kaiming_uniform_(w, a=math.sqrt(5))
    m, s = _bound_and_std(w)
    assert m <= 1 / math.sqrt(200) + 1e-7
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2.0 / 300)) < 2e-3
    conv = ember.empty(16, 8, 3, 3)
    init.kaiming_uniform_(conv, nonlinearity="relu")
    assert np.abs(conv.numpy()).max() <= math.sqrt(6.0 / 72)


def test_trunc_normal():
    w = ember.empty(100000)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = w.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    # mean of N(0.5, 1) truncated to [-1, 1.5]
    from math import erf, exp, pi, sqrt
    alpha, beta = -1.5, 1.0
    phi = lambda x: exp(-x * x / 2) / sqrt(2 * pi)  # noqa: E731
    cdf = lambda x: (1 + erf(x / sqrt(2))) / 2  # noqa: E731
    expected = 0.5 + (phi(alpha) - phi(beta)) / (cdf(beta) - cdf(alpha))
    assert abs(a.mean() - expected) < 0.01


def test_constant_fills_and_eye_dirac(torch):
    w = ember.empty(3, 4)
    init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    init.ones_(w)
    assert np.all(w.numpy() == 1)
    init.zeros_(w)
    assert not np.any(w.numpy())
    init.eye_(w)
    np.testing.assert_array_equal(w.numpy(), np.eye(3, 4))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(ember.empty(2, 2, 2))
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 1, 3, 3), 1)):
        e, t = ember.empty(*shape), torch.empty(*shape)
        init.dirac_(e, groups)
        torch.nn.init.dirac_(t, groups)
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_orthogonal():
    for shape in ((5, 3), (3, 5), (4, 2, 3)):
        w = ember.empty(*shape)
        init.orthogonal_(w, gain=2.0)
        flat = w.numpy().reshape(shape[0], -1)
        small = flat.T @ flat if shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-5)


def test_sparse():
    w = ember.empty(10, 6)
    init.sparse_(w, 0.3, std=0.1)
    zeros_per_col = (w.numpy() == 0).sum(0)
    assert np.all(zeros_per_col >= 3)
    with pytest.raises(ValueError):
        init.sparse_(ember.empty(2, 2, 2), 0.1)


def test_init_under_autograd_keeps_leaf():
    p = ember.nn.Parameter(ember.empty(3, 3))
    init.kaiming_uniform_(p)
    init.trunc_normal_(p)
    init.orthogonal_(p)
    init.eye_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None


def test_zero_element_warns():
    with pytest.warns(UserWarning, match="no-op"):
        init.kaiming_uniform_(ember.empty(0, 3))


def test_generator_argument_is_used():
    g1 = ember.Generator().manual_seed(3)
    g2 = ember.Generator().manual_seed(3)
    a, b = ember.empty(5), ember.empty(5)
    init.normal_(a, generator=g1)
    init.normal_(b, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_same_draws_as_torch_when_rng_matches(torch):
    """Each recipe consumes the RNG like PyTorch's, so equal seeds give equal tensors once streams match."""
    torch.manual_seed(0)
    ember.manual_seed(0)
    np.testing.assert_array_equal(ember.rand(8).numpy(), torch.rand(8).numpy())
    for fn in ("uniform_", "kaiming_uniform_", "xavier_uniform_"):
        torch.manual_seed(1)
        ember.manual_seed(1)
        t, e = torch.empty(7, 5), ember.empty(7, 5)
        getattr(torch.nn.init, fn)(t)
        getattr(init, fn)(e)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, err_msg=fn)
