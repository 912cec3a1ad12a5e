"""Issue 15, round 2: gelu's float32 Phi from a refitted degree-5 erfc form (its slope made in the forward's
buffers), and layer_norm's array backward formed in place (the same roundings as the out-of-place formula)."""
import math

import numpy as np
import pytest

import ember
from ember.autograd.function import _CPU_CTX
from ember.ops.smooth_activations import GeluGrad, _phi_float32

F = ember.nn.functional


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint32)


def test_phi_float32_fit_accuracy_and_density():
    a = np.concatenate([np.linspace(-10, 10, 40001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    phi, density, spare = _phi_float32(np, a)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in a.astype(np.float64)])
    err = np.abs(phi - exact)
    assert err.max() < 3e-7                           # 5 float32 ulps at 1/2: roundings on top of the fit's 6.1e-8
    tail = exact < 0.5                                               # Phi(-a) itself, what gelu(-a) multiplies
    assert (np.abs(a[tail]) * err[tail]).max() < 3e-7
    np.testing.assert_allclose(density, np.exp(-0.5 * a.astype(np.float64) ** 2), rtol=2e-6, atol=1e-30)
    assert phi.dtype == density.dtype == np.float32 and spare.shape == a.shape
    assert np.array_equal(phi[-4:], [0.5, 0.5, 0.5, 0.5])            # exactly 1/2 at (and near) zero
    zero = _phi_float32(np, np.float32(-1.5).reshape(()))            # the 0-d path
    assert all(z.shape == () for z in zero)
    assert abs(float(zero[0]) - 0.5 * math.erfc(1.5 / math.sqrt(2))) < 1e-7


def test_gelu_float32_grad_plain_create_graph_and_recomputed_bit_equal():
    a = np.random.default_rng(0).standard_normal((6, 50)).astype(np.float32) * 3
    g = ember.tensor(np.random.default_rng(1).standard_normal(a.shape).astype(np.float32))
    x = ember.tensor(a, requires_grad=True)
    (plain,) = ember.autograd.grad(F.gelu(x), x, g)
    (graph,) = ember.autograd.grad(F.gelu(x), x, g, create_graph=True)
    recomputed = GeluGrad.apply(g, x.detach(), approximate="none")  # double backward's path: no forward cache
    assert np.array_equal(_bits(plain.numpy()), _bits(graph.detach().numpy()))
    assert np.array_equal(_bits(plain.numpy()), _bits(recomputed.numpy()))
    (second,) = ember.autograd.grad(graph.sum(), x)                  # and the second derivative is there
    expected = g.numpy() * np.exp(-a * a / 2) / math.sqrt(2 * math.pi) * (2 - a * a)
    np.testing.assert_allclose(second.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_gelu_without_grad_keeps_nothing_on_the_shared_ctx():
    with ember.no_grad():
        y = F.gelu(ember.randn(64, 64))
    assert y.shape == (64, 64)
    kept = vars(_CPU_CTX)
    assert kept.get("slope") is None and not isinstance(kept.get("cache"), (np.ndarray, tuple))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gelu_value_and_grad_match_torch(torch, dtype):
    a = np.random.default_rng(2).standard_normal((4, 33, 17)).astype(np.float32) * 4
    a.flat[:4] = [0.0, -0.0, 30.0, -30.0]
    g = np.random.default_rng(3).standard_normal(a.shape).astype(np.float32)
    ex = ember.tensor(a).to(getattr(ember, dtype)).requires_grad_()
    tx = torch.tensor(a).to(getattr(torch, dtype)).requires_grad_()
    ey, ty = F.gelu(ex), torch.nn.functional.gelu(tx)
    ey.backward(ember.tensor(g).to(ex.dtype))
    ty.backward(torch.tensor(g).to(tx.dtype))
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(ey.detach().float().numpy(), ty.detach().float().numpy(), **tol)
    np.testing.assert_allclose(ex.grad.float().numpy(), tx.grad.float().numpy(), **tol)
    assert ex.grad.dtype is ex.dtype


def _layer_norm_grads_out_of_place(x, g, w, eps=1e-5):
    """The array backward's formula with fresh temporaries, as before it was formed in place."""
    mean = np.einsum("ij->i", x)[:, None] / x.shape[1]
    xc = x - mean
    invstd = (1 / np.sqrt(np.einsum("ij,ij->i", xc, xc)[:, None] / x.shape[1] + eps)).astype(x.dtype)
    xhat = (x - mean) * invstd
    gxh = g * w if w is not None else g
    proj = np.einsum("ij,ij->i", gxh, xhat)[:, None]
    proj /= x.shape[1]
    centered = np.einsum("ij->i", gxh)[:, None]
    centered /= x.shape[1]
    gx = gxh - centered
    gx -= xhat * proj
    gx *= invstd
    return gx, np.einsum("ij,ij->j", g, xhat)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_backward_in_place_same_bits_and_grad_untouched(affine):
    rng = np.random.default_rng(4)
    x, g = (rng.standard_normal((37, 24)).astype(np.float32) for _ in range(2))
    w = rng.standard_normal(24).astype(np.float32) if affine else None
    ex = ember.tensor(x, requires_grad=True)
    ew = ember.tensor(w, requires_grad=True) if affine else None
    eg = ember.tensor(g)
    F.layer_norm(ex, (24,), ew).backward(eg)
    assert np.array_equal(eg.numpy(), g)                             # the incoming gradient is not written to
    gx, gw = _layer_norm_grads_out_of_place(x, g, w)
    assert np.array_equal(_bits(ex.grad.numpy()), _bits(gx))
    if affine:
        assert np.array_equal(_bits(ew.grad.numpy()), _bits(gw))


def test_norm_input_grads_match_torch(torch):
    rng = np.random.default_rng(5)
    x, g = (rng.standard_normal((3, 4, 10)).astype(np.float32) for _ in range(2))
    w = rng.standard_normal(10).astype(np.float32)
    cases = [lambda m, t, wt: m.nn.functional.layer_norm(t, (10,)),
             lambda m, t, wt: m.nn.functional.layer_norm(t, (10,), wt),
             lambda m, t, wt: m.nn.functional.rms_norm(t, (10,), wt),
             lambda m, t, wt: m.nn.functional.group_norm(t, 2)]
    for fn in cases:
        ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        fn(ember, ex, ew).backward(ember.tensor(g))
        fn(torch, tx, tw).backward(torch.tensor(g))
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        if tw.grad is not None:
            np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-5)
