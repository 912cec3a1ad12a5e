"""Per-op overhead, round 3 (issue 15): the faster erf fit, sigmoid, clamp, lerp and hardtanh paths keep their
values (and PyTorch's) bit for bit where the old path did: NaN, inf and signed zeros included."""
import math

import numpy as np
import pytest

import ember
from ember._backends.special import erf, erfc

SPECIALS = [-0.0, 0.0, math.nan, math.inf, -math.inf, 0.5, -0.5, 1.0, -1.0, 1e-40, -1e-40, 3.0, -3.0, 100.0, -100.0]


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return (a.dtype == b.dtype and np.array_equal(nan_a, nan_b) and np.array_equal(a[~nan_a], b[~nan_b])
            and np.array_equal(np.signbit(a[~nan_a]), np.signbit(b[~nan_b])))


def _ulps(got, exact):
    rounded = exact.astype(np.float32)
    spacing = np.spacing(np.abs(rounded)).astype(np.float64)
    return np.abs(got.astype(np.float64) - rounded) / np.maximum(spacing, np.finfo(np.float32).smallest_subnormal)


# --- erf: the rational fit for |x| <= 1.5 ------------------------------------------------------------------

def test_erf_rational_fit_within_one_ulp_and_mostly_correctly_rounded():
    x = np.unique(np.linspace(-1.5, 1.5, 60001).astype(np.float32))
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    got = erf(np, x)
    assert got.dtype == np.float32
    assert _ulps(got, exact).max() <= 1.0
    assert (got != exact.astype(np.float32)).mean() < 0.002     # the fit's 2.2e-10 error: rarely misrounds
    complement = erfc(np, x)
    exact_c = np.array([math.erfc(v) for v in x.astype(np.float64)])
    assert _ulps(complement, exact_c).max() <= 1.0


def test_erf_small_path_and_tail_path_special_values():
    small = np.array([-0.0, 0.0, 0.25, -1.5, 1.5, math.nan], np.float32)     # NaN: the max test takes the tail path
    out = erf(np, small)
    assert np.signbit(out[0]) and out[1] == 0 and np.isnan(out[5])
    assert out[2] == np.float32(math.erf(float(np.float32(0.25))))
    mixed = np.array(SPECIALS, np.float32)
    out, outc = erf(np, mixed), erfc(np, mixed)
    assert np.isnan(out[2]) and np.isnan(outc[2])
    assert out[3] == 1 and out[4] == -1 and outc[3] == 0 and outc[4] == 2
    assert np.signbit(out[0]) and not np.signbit(out[1])
    assert erf(np, np.zeros(0, np.float32)).shape == (0,)
    # the small range alone and inside a batch with tail values: the same bits
    assert _bits_equal(erf(np, small[:5]), erf(np, np.concatenate([small[:5], [4.0]]).astype(np.float32))[:5])


def test_erf_matches_torch_with_grad(torch):
    values = np.concatenate([np.linspace(-4, 4, 4001), [0.0, -0.0, math.inf, -math.inf, math.nan]]).astype(np.float32)
    for span in (values, values[np.abs(values) <= 1.5]):
        e = ember.tensor(span, requires_grad=True)
        t = torch.tensor(span, requires_grad=True)
        out_e, out_t = ember.erf(e), torch.erf(t)
        np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=2e-7, atol=2e-7)
        assert np.array_equal(np.signbit(out_e.detach().numpy()), np.signbit(out_t.detach().numpy()))
        out_e.sum().backward()
        out_t.sum().backward()
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-30)


# --- sigmoid ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_formula_bits(dtype):
    x = np.concatenate([np.random.default_rng(0).standard_normal(3000) * 20, [-0.0, 0.0, 50.0, -80.0]]).astype(dtype)
    got = ember.sigmoid(ember.tensor(x)).numpy()
    assert _bits_equal(got, (1 / (1 + np.exp(-x))).astype(dtype))
    matrix = x[:3000].reshape(60, 50)              # the overflow test looks at every axis, not the first
    matrix[59, 49] = -1000.0
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-matrix))).astype(dtype)
    assert _bits_equal(ember.sigmoid(ember.tensor(matrix)).numpy(), want)
    # below the overflow point (float32 -88.72, float64 -709.78) exp(-x) is inf: exactly 0, no warning; NaN stays NaN
    with np.errstate(all="raise"):
        edge = ember.sigmoid(ember.tensor(np.array([-1000.0, -1e30, math.nan, math.inf, -math.inf], dtype))).numpy()
    assert edge[0] == 0 and edge[1] == 0 and np.isnan(edge[2]) and edge[3] == 1 and edge[4] == 0


def test_sigmoid_matches_torch_with_grad(torch):
    x = np.concatenate([np.random.default_rng(1).standard_normal(2000) * 10, SPECIALS]).astype(np.float32)
    e = ember.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    out_e, out_t = ember.sigmoid(e), torch.sigmoid(t)
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=4e-7, atol=1e-38)   # exp: 1-2 ulp apart
    out_e.backward(ember.ones_like(out_e))
    out_t.backward(torch.ones_like(out_t))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=3e-7)   # out * (1 - out)


# --- clamp: one bound keeps signed zeros as PyTorch does ------------------------------------------------

_BOUNDS = [(None, 0.0), (0.0, None), (-0.0, None), (None, -0.0), (0.0, 1.0), (-0.0, 0.0), (-1.0, -0.0),
           (math.nan, 1.0), (0.0, math.nan), (-math.inf, None), (None, math.inf), (0.2, 0.8)]


def test_clamp_one_bound_keeps_signed_zeros():
    x = ember.tensor([-0.0, 0.0, math.nan, -1.0, 2.0])
    out = ember.clamp(x, min=0.0).numpy()
    assert np.signbit(out[0]) and not np.signbit(out[1]) and np.isnan(out[2]) and out[3] == 0 and out[4] == 2
    out = ember.clamp(x, max=-0.0).numpy()
    assert np.signbit(out[0]) and not np.signbit(out[1]) and out[3] == -1 and out[4] == 0 and np.signbit(out[4])
    assert ember.clamp(ember.tensor([1, 5, -3]), min=0).tolist() == [1, 5, 0]     # integers: unchanged path


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_clamp_matches_torch_bits_and_grad(torch, dtype):
    x = np.array(SPECIALS, np.float64)
    for lo, hi in _BOUNDS:
        e = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_()
        t = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
        out_e, out_t = ember.clamp(e, lo, hi), torch.clamp(t, lo, hi)
        assert _bits_equal(out_e.detach().numpy(), out_t.detach().numpy()), (lo, hi)
        out_e.sum().backward()
        out_t.sum().backward()
        assert _bits_equal(e.grad.numpy(), t.grad.numpy()), (lo, hi)
        method = e.detach().clamp_min(lo) if hi is None else e.detach().clamp_max(hi) if lo is None else None
        if method is not None:
            want = torch.clamp_min(t.detach(), lo) if hi is None else torch.clamp_max(t.detach(), hi)
            assert _bits_equal(method.numpy(), want.numpy()), (lo, hi)


# --- lerp: the float32 Python-weight path ----------------------------------------------------------------

def _lerp_inputs():
    rng = np.random.default_rng(2)
    start = (rng.standard_normal(4000) * np.exp(rng.uniform(-20, 20, 4000))).astype(np.float32)
    end = (rng.standard_normal(4000) * np.exp(rng.uniform(-20, 20, 4000))).astype(np.float32)
    start[:6] = [math.inf, -math.inf, math.nan, -0.0, 0.0, 1.0]
    end[:6] = [2.0, math.inf, 1.0, -0.0, -0.0, math.inf]
    return start, end


@pytest.mark.parametrize("weight", [0.3, 0.7, 1.0, 0.0, -2.5, 0.49999997, 0.5, 1e-8, 3, 1])
def test_lerp_python_weight_equals_tensor_weight_path(weight):
    start, end = _lerp_inputs()
    fast = ember.lerp(ember.tensor(start), ember.tensor(end), weight).numpy()
    general = ember.lerp(ember.tensor(start), ember.tensor(end), ember.tensor(float(weight))).numpy()
    assert _bits_equal(fast, general)
    assert fast.dtype == np.float32
    assert ember.lerp(ember.tensor([1.0]), ember.tensor([3.0]), 0.5).tolist() == [2.0]
    assert ember.lerp(ember.tensor([1.0]), ember.tensor([3.0]), 1).tolist() == [3.0]


@pytest.mark.parametrize("weight", [0.3, 0.7, 1.0, -2.5, 0.5])
def test_lerp_matches_torch_with_grad(torch, weight):
    start, end = _lerp_inputs()
    start, end = start[:200], end[:200]
    e0, e1 = ember.tensor(start, requires_grad=True), ember.tensor(end, requires_grad=True)
    t0, t1 = torch.tensor(start, requires_grad=True), torch.tensor(end, requires_grad=True)
    out_e, out_t = ember.lerp(e0, e1, weight), torch.lerp(t0, t1, weight)
    assert _bits_equal(out_e.detach().numpy(), out_t.detach().numpy())
    out_e.sum().backward()
    out_t.sum().backward()
    assert _bits_equal(e0.grad.numpy(), t0.grad.numpy()) and _bits_equal(e1.grad.numpy(), t1.grad.numpy())
    # broadcast start
    b = ember.lerp(ember.tensor(start[:1]), ember.tensor(end), weight).numpy()
    assert _bits_equal(b, torch.lerp(torch.tensor(start[:1]), torch.tensor(end), weight).numpy())


# --- hardtanh -------------------------------------------------------------------------------------------

def test_hardtanh_matches_torch_bits_and_grad(torch):
    x = np.array(SPECIALS, np.float32)
    for lo, hi in [(-1.0, 1.0), (0.0, 6.0), (-0.0, 0.0)]:
        e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out_e = ember.nn.functional.hardtanh(e, lo, hi)
        out_t = torch.nn.functional.hardtanh(t, lo, hi)
        assert _bits_equal(out_e.detach().numpy(), out_t.detach().numpy())
        out_e.sum().backward()
        out_t.sum().backward()
        assert _bits_equal(e.grad.numpy(), t.grad.numpy())
    out = ember.nn.functional.hardtanh(ember.tensor([-0.0, 3.0, -3.0, math.nan])).numpy()
    assert np.signbit(out[0]) and out[1] == 1 and out[2] == -1 and np.isnan(out[3])
