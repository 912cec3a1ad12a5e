"""Adafactor beyond the shared optim_db model: 3-D and 0-D parameters, state layout, complex refusal."""
import numpy as np
import pytest

import ember


def _run(m, start, grads, **kwargs):
    p = m.tensor(start, requires_grad=True)
    opt = m.optim.Adafactor([p], **kwargs)
    for g in grads:
        p.grad = m.tensor(g)
        opt.step()
    return p, opt


@pytest.mark.parametrize("shape", [(2, 3, 4), (), (1, 5), (6, 1)], ids=str)
@pytest.mark.parametrize("kwargs", [{}, dict(lr=0.1, weight_decay=0.2, maximize=True), dict(eps=(1e-2, 0.1), d=1.2)],
                         ids=["defaults", "decay-maximize", "eps-d"])
def test_trajectory_matches_torch(torch, shape, kwargs):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) * scale for scale in np.geomspace(1.0, 1e-3, 30)]
    ours, opt = _run(ember, start, grads, **kwargs)
    theirs, reference = _run(torch, start, grads, **kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    state, expected = opt.state_dict()["state"][0], reference.state_dict()["state"][0]
    assert state.keys() == expected.keys()
    for key, value in state.items():
        assert tuple(value.shape) == tuple(expected[key].shape), key
        np.testing.assert_allclose(value.numpy(), expected[key].numpy(), rtol=1e-12, atol=1e-14, err_msg=key)


def test_state_layout():
    matrix, vector = ember.zeros(3, 4, requires_grad=True), ember.zeros(4, requires_grad=True)
    opt = ember.optim.Adafactor([matrix, vector])
    matrix.grad, vector.grad = ember.ones(3, 4), ember.ones(4)
    opt.step()
    assert sorted(opt.state[matrix]) == ["col_var", "row_var", "step"]
    assert tuple(opt.state[matrix]["row_var"].shape) == (3, 1)
    assert tuple(opt.state[matrix]["col_var"].shape) == (1, 4)
    assert sorted(opt.state[vector]) == ["step", "variance"]
    assert opt.state[vector]["step"].dtype is ember.float32 and opt.state[vector]["step"].item() == 1.0


def test_float32_uses_float32_epsilon(torch):
    rng = np.random.default_rng(1)
    start = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [np.zeros((4, 3), np.float32)] + [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    ours, _ = _run(ember, start, grads)
    theirs, _ = _run(torch, start, grads)
    assert ours.dtype is ember.float32
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_complex_parameters_are_refused_like_torch(torch):
    for m in (ember, torch):
        p = m.zeros(3, dtype=m.complex64, requires_grad=True)
        opt = m.optim.Adafactor([p])
        p.grad = m.ones(3, dtype=m.complex64)
        with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
            opt.step()


def test_tensor_lr_must_have_one_element(torch):
    for m in (ember, torch):
        with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
            m.optim.Adafactor([m.zeros(2, requires_grad=True)], lr=m.tensor([0.1, 0.2]))


def test_complex_refusal_leaves_every_parameter_unchanged():
    real = ember.ones(2, 2, requires_grad=True)
    cplx = ember.zeros(3, dtype=ember.complex64, requires_grad=True)
    real.grad, cplx.grad = ember.ones(2, 2), ember.ones(3, dtype=ember.complex64)
    opt = ember.optim.Adafactor([real, cplx])
    with pytest.raises(RuntimeError, match="does not support complex"):
        opt.step()
    assert (real == 1).all() and not opt.state
