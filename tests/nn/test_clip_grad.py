"""nn.utils: clip_grad_norm_ (every norm type, error_if_nonfinite), clip_grad_value_, parameter vectors."""
import math

import numpy as np
import pytest

import ember
from ember import nn


def _pair(torch, grads):
    pe = [nn.Parameter(ember.zeros(g.shape)) for g in grads]
    pt = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, q, g in zip(pe, pt, grads):
        p.grad = ember.tensor(g)
        q.grad = torch.tensor(g)
    return pe, pt


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, torch):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    pe, pt = _pair(torch, grads)
    ne = nn.utils.clip_grad_norm_(pe, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type)
    assert ne.item() == pytest.approx(nt.item(), rel=1e-6)
    for p, q in zip(pe, pt):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(ember.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0          # no gradients at all
    p.grad = ember.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    q = nn.Parameter(ember.ones(2))
    q.grad = ember.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(q, 1.0, foreach=True).item() == pytest.approx(5.0)   # a single tensor works
    np.testing.assert_allclose(q.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_value():
    p = nn.Parameter(ember.ones(4))
    p.grad = ember.tensor([-3.0, -0.5, 0.5, 3.0])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, -0.5, 0.5, 1.0]


def test_parameters_vector_roundtrip(torch):
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (11,)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    tm.load_state_dict({k: torch.tensor(t.detach().numpy()) for k, t in m.state_dict().items()})
    np.testing.assert_allclose(v.detach().numpy(), torch.nn.utils.parameters_to_vector(tm.parameters()).detach())
    nn.utils.vector_to_parameters(ember.arange(11.0), m.parameters())
    assert m[0].weight.tolist() == [[0, 1, 2], [3, 4, 5]] and m[1].bias.tolist() == [10]
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters([1.0], m.parameters())
    v.sum().backward()
    assert m[0].weight.grad is not None


def test_clip_is_idempotent_below_max():
    p = nn.Parameter(ember.ones(2))
    p.grad = ember.tensor([0.3, 0.4])
    total = nn.utils.clip_grad_norm_([p], 10.0)
    assert total.item() == pytest.approx(0.5)
    np.testing.assert_allclose(p.grad.numpy(), [0.3, 0.4], rtol=1e-6)
    assert math.isfinite(total.item())
