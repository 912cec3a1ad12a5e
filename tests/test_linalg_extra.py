"""What the OpCase database cannot express for the linalg ops: named result types, factorization
identities, LinAlgError, deprecation warnings, PyTorch's answers on singular or large inputs."""
import warnings

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)


def _t(*shape, dtype=np.float64):
    return ember.tensor(RNG.standard_normal(shape).astype(dtype))


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a.detach().numpy() if hasattr(a, "numpy") else a),
                               np.asarray(b.detach().numpy() if hasattr(b, "numpy") else b), atol=tol, rtol=tol)


@pytest.mark.parametrize("fn, type_name, fields", [
    (lambda A: ember.linalg.svd(A), "linalg_svd", ("U", "S", "Vh")),
    (lambda A: ember.svd(A), "svd", ("U", "S", "V")),
    (lambda A: ember.linalg.qr(A), "linalg_qr", ("Q", "R")),
    (lambda A: ember.qr(A), "qr", ("Q", "R")),
    (lambda A: ember.linalg.eigh(A), "linalg_eigh", ("eigenvalues", "eigenvectors")),
    (lambda A: ember.linalg.slogdet(A), "linalg_slogdet", ("sign", "logabsdet")),
    (lambda A: ember.slogdet(A), "slogdet", ("sign", "logabsdet")),
])
def test_named_results_like_torch(torch, fn, type_name, fields):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(_t(3, 3))
    assert type(out).__name__ == type_name and out._fields == fields


def test_factorizations_reconstruct_their_input():
    A = _t(2, 5, 3)
    U, S, Vh = ember.linalg.svd(A, full_matrices=False)
    _close(U * S.unsqueeze(-2) @ Vh, A)
    U, S, Vh = ember.linalg.svd(A)
    assert tuple(U.shape) == (2, 5, 5) and tuple(Vh.shape) == (2, 3, 3)
    _close(U.mT @ U, ember.eye(5).expand(2, 5, 5))
    U, S, V = ember.svd(A)
    _close(U * S.unsqueeze(-2) @ V.mT, A)
    Q, R = ember.linalg.qr(A)
    _close(Q @ R, A)
    _close(R, R.triu())
    P = A.mT @ A + ember.eye(3)
    L = ember.linalg.cholesky(P)
    _close(L @ L.mT, P)
    _close(ember.linalg.cholesky(P, upper=True), L.mT)
    w, V = ember.linalg.eigh(P)
    _close(V * w.unsqueeze(-2) @ V.mT, P)
    assert (w[..., 1:] >= w[..., :-1]).all()


def test_svd_without_uv_and_qr_r_mode_match_torch(torch):
    a = RNG.standard_normal((2, 4, 3))
    ours, theirs = ember.svd(ember.tensor(a), compute_uv=False), torch.svd(torch.tensor(a), compute_uv=False)
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == tuple(t.shape)
        _close(o, t.numpy())
    Q, R = ember.linalg.qr(ember.tensor(a), mode="r")
    assert tuple(Q.shape) == tuple(torch.linalg.qr(torch.tensor(a), mode="r").Q.shape) == (0,)


def test_linalg_error_is_torch_shaped():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    with pytest.raises(ember.linalg.LinAlgError, match="leading minor of order 1"):
        ember.linalg.cholesky(-ember.eye(2))
    with pytest.raises(ember.linalg.LinAlgError, match=r"linalg.inv: The diagonal element 2 is zero"):
        ember.linalg.inv(ember.tensor([[1.0, 1.0], [1.0, 1.0]]))


def test_solve_triangular_with_a_zero_pivot_gives_inf_or_nan_like_torch(torch):
    a = np.triu(RNG.standard_normal((3, 3)))
    a[1, 1] = 0
    b = RNG.standard_normal((3, 2))
    ours = ember.linalg.solve_triangular(ember.tensor(a), ember.tensor(b), upper=True).numpy()
    theirs = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True).numpy()
    assert not np.isfinite(ours).all() and not np.isfinite(theirs).all()


@pytest.mark.parametrize("scale", [0.01, 1.0, 10.0])
def test_matrix_exp_matches_torch_across_norms(torch, scale):
    a = RNG.standard_normal((2, 5, 5)) * scale
    want = torch.linalg.matrix_exp(torch.tensor(a)).numpy()
    np.testing.assert_allclose(ember.linalg.matrix_exp(ember.tensor(a)).numpy(), want, rtol=1e-9, atol=1e-12)


def test_matrix_rank_and_pinv_tolerances_match_torch(torch):
    a = RNG.standard_normal((3, 6, 2)) @ RNG.standard_normal((3, 2, 5))     # rank 2
    a[0] *= 1e-3
    for kwargs in ({}, {"atol": 0.5}, {"rtol": 0.3}, {"atol": 1.0, "rtol": 0.1}, {"hermitian": False}):
        assert ember.linalg.matrix_rank(ember.tensor(a), **kwargs).tolist() == \
            torch.linalg.matrix_rank(torch.tensor(a), **kwargs).tolist()
        _close(ember.linalg.pinv(ember.tensor(a), **kwargs), torch.linalg.pinv(torch.tensor(a), **kwargs).numpy(), 1e-8)
    h = a[0] @ a[0].T
    assert ember.linalg.matrix_rank(ember.tensor(h), hermitian=True).item() == 2


def test_cdist_on_many_rows_matches_torch(torch):
    x1, x2 = RNG.standard_normal((2, 40, 3)), RNG.standard_normal((30, 3))   # torch switches to its mm path
    for p in (2.0, 1.0, 0.0, float("inf"), 1.5):
        _close(ember.cdist(ember.tensor(x1), ember.tensor(x2), p), torch.cdist(torch.tensor(x1), torch.tensor(x2), p)
               .numpy(), 1e-8)


def test_matrix_power_zero_is_identity_connected_to_the_graph():
    A = _t(2, 3, 3).requires_grad_()
    out = ember.linalg.matrix_power(A, 0)
    _close(out, ember.eye(3).expand(2, 3, 3))
    assert out.requires_grad
    out.sum().backward()       # PyTorch accumulates zeros; ember's copy_ leaves A.grad None (both mean zero)
    assert A.grad is None or not A.grad.numpy().any()


def test_multi_dot_picks_the_cheap_order_but_the_same_value():
    a, b, c = _t(10, 2), _t(2, 10), _t(10, 1)
    _close(ember.linalg.multi_dot([a, b, c]), a @ (b @ c))


@pytest.mark.parametrize("call", [lambda: ember.qr(_t(3, 3)), lambda: ember.cholesky(ember.eye(2)),
                                  lambda: ember.chain_matmul(_t(2, 2), _t(2, 2)), lambda: ember.cross(_t(3), _t(3)),
                                  lambda: _t(2, 3).cross(_t(2, 3))])
def test_deprecated_forms_warn_like_torch(call):
    with pytest.warns(UserWarning, match="deprecated"):
        call()


def test_complex_decompositions_refuse_gradients_rather_than_guess():
    A = ember.tensor(RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)), requires_grad=True)
    S = ember.linalg.svdvals(A)
    with pytest.raises(NotImplementedError, match="real inputs"):
        S.sum().backward()


def test_higher_order_matrix_exp_gradient_matches_torch(torch):
    a = RNG.standard_normal((3, 3))
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    (ge,) = ember.autograd.grad(ember.linalg.matrix_exp(e).sin().sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(torch.linalg.matrix_exp(t).sin().sum(), t, create_graph=True)
    _close(ember.autograd.grad((ge * ge).sum(), e)[0], torch.autograd.grad((gt * gt).sum(), t)[0].numpy(), 1e-8)


@pytest.mark.parametrize("call", [lambda m, A: m.linalg.matrix_norm(A), lambda m, A: m.linalg.norm(A, "fro", dim=(1, 2)),
                                  lambda m, A: m.linalg.matrix_norm(A, dim=(0, 2), keepdim=True)])
def test_frobenius_norm_has_gradient_zero_at_a_zero_matrix(call):
    # the Frobenius norm goes through the safe sqrt of the 2-norm: 0, not NaN, where the norm is 0
    A = ember.zeros(2, 3, 3, dtype=ember.float64, requires_grad=True)
    with ember.no_grad():
        A[1] = ember.tensor([[1.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]], dtype=ember.float64)
    call(ember, A).sum().backward()
    assert not np.isnan(A.grad.numpy()).any()
    if call(ember, A).ndim == 1:                    # per matrix: A / ||A||, and 0 for the zero matrix
        _close(A.grad[0], np.zeros((3, 3)))
        _close(A.grad[1], A[1].detach() / 5.0)


@pytest.mark.parametrize("keepdim", [False, True])
def test_frobenius_norm_matches_torch_at_zero_and_elsewhere(torch, keepdim):
    a = RNG.standard_normal((2, 3, 4))
    a[0] = 0.0
    grads = []
    for lib in (ember, torch):
        A = lib.tensor(a, requires_grad=True)
        out = lib.linalg.matrix_norm(A, keepdim=keepdim)
        out.sum().backward()
        grads.append((out.detach().numpy(), A.grad.numpy()))
    _close(grads[0][0], grads[1][0])
    _close(grads[0][1], grads[1][1])


# -- found by the linalg family of tests/differential ------------------------------------------------------

@pytest.mark.parametrize("a_shape, b_shape, left", [
    ((2, 1, 1), (1, 1), False), ((2, 3, 3), (3, 2), True), ((3, 3), (2, 3, 2), True), ((2, 3, 3), (1, 2, 3), False),
    ((2, 3, 3), (3,), True)])
def test_solve_gradients_sum_over_broadcast_batch_dims(a_shape, b_shape, left):
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, a_shape) + 4 * np.eye(a_shape[-1])
    b = rng.uniform(-1, 1, b_shape)
    results = []
    for lib in [ember] + ([__import__("torch")] if _has_torch() else []):
        A, B = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        X = lib.linalg.solve(A, B, left=left)
        (X * X).sum().backward()
        results.append((tuple(A.grad.shape), tuple(B.grad.shape), A.grad.numpy(), B.grad.numpy()))
    assert results[0][:2] == (a_shape, b_shape)
    for theirs in results[1:]:
        assert results[0][:2] == theirs[:2]
        _close(results[0][2], theirs[2])
        _close(results[0][3], theirs[3])


def _has_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("call", [
    lambda m: m.addmm(m.zeros(2, 2, dtype=m.float64), m.zeros(2, 3), m.zeros(3, 2)),
    lambda m: m.addmv(m.zeros(2, dtype=m.float64), m.zeros(2, 3), m.zeros(3)),
    lambda m: m.addbmm(m.zeros(2, 2, dtype=m.float64), m.zeros(1, 2, 3), m.zeros(1, 3, 2)),
    lambda m: m.baddbmm(m.zeros(2, dtype=m.float64), m.zeros(1, 2, 3), m.zeros(1, 3, 2)),
    lambda m: m.linalg.solve(m.eye(2), m.zeros(2, dtype=m.float64)),
    lambda m: m.linalg.solve(m.eye(2, dtype=m.float64), m.zeros(2, 2), left=False),
    lambda m: m.linalg.cross(m.zeros(3), m.zeros(3, dtype=m.float64)),
    lambda m: m.cross(m.zeros(2, 3, dtype=m.float64), m.zeros(2, 3), dim=1),
    lambda m: m.linalg.pinv(m.zeros(2, 1), hermitian=True),
])
def test_mixed_dtypes_and_shapes_refused_like_torch(call):
    with pytest.raises(RuntimeError) as ours:
        call(ember)
    assert not isinstance(ours.value, np.linalg.LinAlgError)
    if _has_torch():
        import torch
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]


def test_torch_norm_nuc_is_the_nuclear_matrix_norm():
    a = np.array([[3.0, 0.0], [0.0, -4.0]])
    assert float(ember.norm(ember.tensor(a), p="nuc")) == 7.0
    x = RNG.standard_normal((2, 3, 4))
    for lib in [ember] + ([__import__("torch")] if _has_torch() else []):
        _close(lib.norm(lib.tensor(x), p="nuc", dim=(1, 2)), np.linalg.svd(x, compute_uv=False).sum(-1))
        _close(lib.norm(lib.tensor(x), p="nuc", dim=(0, 2), keepdim=True).squeeze(),
               np.linalg.svd(x.transpose(1, 0, 2), compute_uv=False).sum(-1))
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            lib.norm(lib.tensor(x), p="nuc")
