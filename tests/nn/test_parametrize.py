"""nn.utils.parametrize and parametrizations.weight_norm / spectral_norm against PyTorch."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import parametrize


def _build(lib, kind, module="linear"):
    lib.manual_seed(0)
    m = lib.nn.Linear(4, 3) if module == "linear" else lib.nn.Bilinear(2, 3, 4)
    P = lib.nn.utils.parametrizations
    if kind == "weight_norm":
        P.weight_norm(m)
    elif kind == "weight_norm_dim1":
        P.weight_norm(m, dim=1)
    else:
        P.spectral_norm(m, n_power_iterations=2)
    return m


@pytest.mark.parametrize("kind", ["weight_norm", "weight_norm_dim1", "spectral_norm"])
def test_parametrizations_match_torch(kind, torch):
    mt, me = _build(torch, kind), _build(ember, kind)
    assert list(me.state_dict()) == list(mt.state_dict())
    assert repr(me) == repr(mt)
    me.load_state_dict({k: ember.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    for training in (True, False):
        mt.train(training)
        me.train(training)
        yt, ye = mt(torch.tensor(x)), me(ember.tensor(x))
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
        mt.zero_grad()
        me.zero_grad()
        (yt ** 2).sum().backward()
        (ye ** 2).sum().backward()
        grads_t = dict(mt.named_parameters())
        for name, p in me.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), rtol=1e-4, atol=1e-5)


def test_weight_norm_parametrization_semantics():
    m = nn.Linear(3, 2)
    w = m.weight.detach().clone()
    nn.utils.parametrizations.weight_norm(m)
    assert type(m).__name__ == "ParametrizedLinear" and parametrize.is_parametrized(m, "weight")
    np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)
    g = m.parametrizations.weight.original0
    assert g.shape == (2, 1)
    np.testing.assert_allclose(g.detach().numpy()[:, 0], np.linalg.norm(w.numpy(), axis=1), rtol=1e-6)
    m.weight = ember.ones(2, 3)                       # setter runs right_inverse
    np.testing.assert_allclose(m.weight.detach().numpy(), 1, rtol=1e-6)
    with parametrize.cached():
        assert m.weight is m.weight
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), 1, rtol=1e-6)


def test_custom_parametrization_keeps_parameter_identity():
    class Symmetric(nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).mT

    m = nn.Linear(3, 3)
    original = m.weight
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert m.parametrizations.weight.original is original
    w = m.weight.detach().numpy()
    np.testing.assert_allclose(w, w.T)
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(m, "nope", Symmetric())
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert m.weight is original


def test_spectral_norm_bounds_singular_value():
    ember.manual_seed(0)
    m = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 6))
    for _ in range(30):
        m(ember.randn(2, 8))
    sigma = np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-3)
