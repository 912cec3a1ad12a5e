"""ember.utils.checkpoint: same gradients, fewer tensors kept for backward."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd.graph import FREED, SAVED_INPUT, SAVED_OUTPUT, walk
from ember.utils.checkpoint import checkpoint, checkpoint_sequential


def live_saved_tensors(output):
    """How many tensors the graph behind `output` holds for backward (inputs and outputs saved by ops)."""
    count = 0
    for node in walk([output.grad_fn]):
        saved = node._saved
        if isinstance(saved, tuple) and saved is not FREED:
            count += sum(1 for entry in saved
                         if entry is not None and entry[0] in (SAVED_INPUT, SAVED_OUTPUT))
    return count


def _model(seed=0):
    rng = np.random.default_rng(seed)
    weights = [ember.tensor(rng.standard_normal((8, 8)) * 0.5, dtype=ember.float64, requires_grad=True)
               for _ in range(4)]

    def block(h):
        for w in weights:
            h = ember.nn.functional.dropout((h @ w).tanh(), 0.2, training=True)
        return h
    x = ember.tensor(rng.standard_normal((5, 8)), dtype=ember.float64, requires_grad=True)
    return block, weights, x


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_same_gradients_fewer_saved_tensors(use_reentrant):
    block, weights, x = _model()
    ember.manual_seed(3)
    plain = (block(x) ** 2).sum()
    plain_saved = live_saved_tensors(plain)
    plain.backward()
    expected = [t.grad.numpy().copy() for t in [x] + weights]
    for t in [x] + weights:
        t.grad = None
    ember.manual_seed(3)                           # dropout draws the same masks in the recomputation
    out = (checkpoint(block, x, use_reentrant=use_reentrant) ** 2).sum()
    assert live_saved_tensors(out) < plain_saved // 3
    out.backward()
    for t, want in zip([x] + weights, expected):
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-12)


def test_non_reentrant_works_with_autograd_grad_and_kwargs():
    block, weights, x = _model(1)

    def scaled(h, *, scale):
        return block(h) * scale
    ember.manual_seed(0)
    expected = ember.autograd.grad((scaled(x, scale=2.0) ** 2).sum(), [x, weights[0]])
    ember.manual_seed(0)
    got = ember.autograd.grad((checkpoint(scaled, x, use_reentrant=False, scale=2.0) ** 2).sum(), [x, weights[0]])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_use_reentrant_must_be_explicit_and_sequential():
    model = ember.nn.Sequential(*[ember.nn.Linear(4, 4) for _ in range(4)])
    x = ember.randn(2, 4, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(lambda t: t * 2, x)
    expected = ember.autograd.grad(model(x).sum(), x)[0]
    got = ember.autograd.grad(checkpoint_sequential(model, 2, x, use_reentrant=False).sum(), x)[0]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_recomputation_mismatch_is_reported():
    calls = []

    def unstable(h):
        calls.append(1)
        return h.exp() if len(calls) == 1 else h.exp().exp()
    x = ember.ones(3, dtype=ember.float64, requires_grad=True)
    out = checkpoint(unstable, x, use_reentrant=False).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="different number of tensors was saved"):
            out.backward()
