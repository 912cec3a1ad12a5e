"""Optimizer updates round as PyTorch's CPU kernels do: `add_(x, alpha=a)` and `addcmul_` on float32 are
fused multiply-adds (one rounding), so SGD's float32 trajectory given the same gradients is bit-identical."""
import numpy as np
import pytest

import ember
from ember.optim.optimizer import addcmul_, scaled_add, scaled_add_

CONFIGS = [dict(lr=0.03, momentum=0.9, weight_decay=1e-3, dampening=0.1), dict(lr=0.1, nesterov=True, momentum=0.8),
           dict(lr=0.07), dict(lr=0.05, momentum=0.9, maximize=True, weight_decay=0.5)]


def _trajectory(m, kw):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(3000).astype(np.float32)
    w = m.nn.Parameter(m.tensor(w0))
    opt = m.optim.SGD([w], **kw)
    for _ in range(5):
        w.grad = m.tensor(rng.standard_normal(3000).astype(np.float32))
        opt.step()
    return w.detach().numpy().copy()


@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_sgd_float32_steps_are_bit_identical_to_torch(kw):
    torch = pytest.importorskip("torch")
    assert np.array_equal(_trajectory(ember, kw).view(np.int32), _trajectory(torch, kw).view(np.int32))


def test_fused_helpers_round_once():
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(10000).astype(np.float32) for _ in range(3))
    wide = a.astype(np.float64) + b.astype(np.float64) * np.float64(np.float32(0.01))
    assert np.array_equal(scaled_add(np, a, b, 0.01), wide.astype(np.float32))
    target = a.copy()
    scaled_add_(np, target, b, 0.01)
    assert np.array_equal(target, wide.astype(np.float32))
    assert (target != a + b * np.float32(0.01)).any()            # two roundings differ somewhere
    target = a.copy()
    addcmul_(target, b, c, 0.01)
    expected = (a.astype(np.float64) + (b * np.float32(0.01)).astype(np.float64) * c.astype(np.float64))
    assert np.array_equal(target, expected.astype(np.float32))


def test_addcmul_helper_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal(10000).astype(np.float32) for _ in range(3))
    target = a.copy()
    addcmul_(target, b, c, 0.01)
    expected = torch.tensor(a).addcmul_(torch.tensor(b), torch.tensor(c), value=0.01).numpy()
    assert np.array_equal(target.view(np.int32), expected.view(np.int32))
