"""The fast paths behind the LeNet and tiny-GPT workloads (issue 15): relu's gradient as a bit mask, max pooling's
argmax in integer arithmetic, gelu's float32 Phi, layer_norm's einsum reductions and Adam's float64 addcmul."""
import math

import numpy as np
import pytest

import ember
from ember.ops.normalization import _array_mean, _array_sum
from ember.ops.piecewise_activations import zero_where
from ember.optim.optimizer import addcmul_

F = ember.nn.functional


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_zero_where_keeps_bits_and_gives_positive_zero(dtype):
    values = np.array([1.5, -2.0, np.nan, np.inf, -np.inf, -0.0, 3.0], dtype=dtype)
    drop = np.array([False, True, False, True, False, False, True])
    out = zero_where(np, drop, values)
    expected = np.where(drop, 0, values).astype(dtype)
    assert out.dtype == dtype
    assert np.array_equal(_bits(out), _bits(expected))          # +0.0 where dropped, -0.0 and NaN kept
    assert np.array_equal(_bits(zero_where(np, drop[::2], values[::2])), _bits(expected[::2]))   # strided


def test_relu_grad_selects_zeros_as_torch(torch):
    x = np.array([[1.0, -1.0, 0.0, np.nan], [2.0, -0.0, -3.0, 4.0]], np.float32)
    g = np.array([[np.inf, np.nan, np.inf, -0.0], [-0.0, 5.0, -np.inf, np.nan]], np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ember.relu(ex).backward(ember.tensor(g))
    torch.relu(tx).backward(torch.tensor(g))
    assert np.array_equal(_bits(ex.grad.numpy()), _bits(tx.grad.numpy()))
    expected = np.array([[np.inf, 0, 0, -0.0], [-0.0, 0, 0, np.nan]], np.float32)
    assert np.array_equal(_bits(ex.grad.numpy()), _bits(expected))


def test_relu_grad_create_graph_path_matches_plain():
    x = ember.tensor([[1.0, -1.0], [np.nan, 2.0]], requires_grad=True)
    g = ember.tensor([[np.inf, np.inf], [3.0, -0.0]], requires_grad=True)
    (plain,) = ember.autograd.grad(ember.relu(x), x, g)
    (graph,) = ember.autograd.grad(ember.relu(x), x, g, create_graph=True)
    assert np.array_equal(_bits(plain.numpy()), _bits(graph.detach().numpy()))
    assert np.array_equal(_bits(plain.numpy()), _bits(np.array([[np.inf, 0], [3.0, -0.0]], np.float32)))


def _pool_input():
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 8, 8)).astype(np.float32)   # many ties
    x[0, 0, 0, 1] = np.nan
    x[1, 2, 4, 4] = x[1, 2, 5, 5] = np.nan
    return x


@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=2, dilation=2)])
def test_max_pool_argmax_ties_and_nan_as_torch(torch, args):
    x = _pool_input()
    g = np.random.default_rng(1).standard_normal(F.max_pool2d(ember.tensor(x), **args).shape).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ey, e_idx = F.max_pool2d(ex, return_indices=True, **args)
    ty, t_idx = torch.nn.functional.max_pool2d(tx, return_indices=True, **args)
    assert np.array_equal(e_idx.numpy(), t_idx.numpy())
    ey.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)   # overlaps: sum order


def test_max_pool_grad_goes_to_the_first_tie():
    x = ember.tensor([[[[1.0, 1.0], [1.0, 1.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def _exact_gelu(a):
    return np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in a.astype(np.float64)])


def _exact_gelu_slope(a):
    return np.array([0.5 * math.erfc(-v / math.sqrt(2)) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                     for v in a.astype(np.float64)])


def test_gelu_float32_value_and_grad_near_exact():
    a = np.concatenate([np.linspace(-9, 9, 3001), [0.0, -0.0, 1e-8, -1e-8]]).astype(np.float32)
    x = ember.tensor(a, requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    assert y.dtype is ember.float32 and x.grad.dtype is ember.float32
    np.testing.assert_allclose(y.detach().numpy(), _exact_gelu(a), rtol=2e-6, atol=4e-7)
    np.testing.assert_allclose(x.grad.numpy(), _exact_gelu_slope(a), rtol=2e-6, atol=4e-7)
    assert F.gelu(ember.tensor(0.5)).shape == ()                      # the 0-d path
    np.testing.assert_allclose(F.gelu(ember.tensor(np.float32(0.5))).item(), _exact_gelu(np.array([0.5]))[0],
                               rtol=1e-6)


def test_gelu_float32_matches_torch(torch):
    a = np.random.default_rng(0).standard_normal((4, 64, 32)).astype(np.float32) * 3
    ex, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ey, ty = F.gelu(ex), torch.nn.functional.gelu(tx)
    g = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
    ey.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("dims", [(2,), (1, 2), (0, 1), (-1,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_sum_and_mean_match_numpy(dims, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((3, 5, 7)).astype(dtype) for _ in range(2))
    np.testing.assert_allclose(_array_sum(np, dims, a, b), (a * b).sum(axis=dims), rtol=1e-5)
    np.testing.assert_allclose(_array_sum(np, dims, a, keepdims=True), a.sum(axis=dims, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(_array_mean(np, dims, a), a.mean(axis=dims, keepdims=True), rtol=1e-5, atol=1e-7)
    full = _array_sum(np, (), a)                                     # nothing reduced: a new array, not a view
    assert not np.shares_memory(full, a)
    np.testing.assert_array_equal(full, a)


def test_array_mean_falls_back_for_long_rows_and_half():
    a = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32)
    np.testing.assert_array_equal(_array_mean(np, (1,), a), a.mean(axis=1, keepdims=True))
    h = a[:, :100].astype(np.float16)
    np.testing.assert_array_equal(_array_mean(np, (1,), h), h.mean(axis=1, keepdims=True))


@pytest.mark.parametrize("shape,normalized", [((4, 6, 16), (16,)), ((3, 8, 5), (8, 5)), ((2, 5000), (5000,))])
def test_layer_norm_matches_torch(torch, shape, normalized):
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    w, b = (rng.standard_normal(normalized).astype(np.float32) for _ in range(2))
    e = [ember.tensor(v, requires_grad=True) for v in (x, w, b)]
    t = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ey = F.layer_norm(e[0], normalized, e[1], e[2])
    ty = torch.nn.functional.layer_norm(t[0], normalized, t[1], t[2])
    ey.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for a, c in zip(e, t):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_layer_norm_values_without_torch():
    x = ember.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 6.0]], requires_grad=True)
    y = F.layer_norm(x, (4,), eps=0.0)
    np.testing.assert_allclose(y.detach().numpy(), [[-1.3416408, -0.4472136, 0.4472136, 1.3416408],
                                                    [-0.5773503, -0.5773503, -0.5773503, 1.7320508]], rtol=1e-6)
    y.sum().backward()                                               # a constant upstream gradient: zero
    np.testing.assert_allclose(x.grad.numpy(), np.zeros((2, 4)), atol=1e-6)


def test_addcmul_float32_rounds_once():
    rng = np.random.default_rng(0)
    s, a, b = (rng.standard_normal(1000).astype(np.float32) for _ in range(3))
    expected = (s.astype(np.float64) + (a * np.float32(0.3)).astype(np.float64) * b.astype(np.float64)).astype(
        np.float32)
    out = s.copy()
    addcmul_(out, a, b, 0.3)
    np.testing.assert_array_equal(out, expected)
