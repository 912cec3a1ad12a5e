"""Complex gradients follow PyTorch's convention: grad * conj(f'(z)) for holomorphic ops (Note [complex
gradients] in ember/autograd/engine.py); |z| and z/|z| keep their own formulas."""
import numpy as np
import pytest

import ember

rng = np.random.default_rng(0)
A = rng.standard_normal(3) + 1j * rng.standard_normal(3)
B = rng.standard_normal(3) + 1j * rng.standard_normal(3)
M = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))

CASES = {
    "mul_abs": lambda m, a, b: (a * b).abs().sum(),
    "exp_abs": lambda m, a, b: a.exp().abs().sum(),
    "square_real": lambda m, a, b: (a * a).real.sum(),
    "div": lambda m, a, b: (a / b).abs().pow(2).sum(),
    "matmul": lambda m, a, b: (m.tensor(M) @ a * b).abs().sum(),
    "sin_add": lambda m, a, b: (a.sin() + b * 2).abs().sum(),
    "cube": lambda m, a, b: (a ** 3).abs().sum(),
    "views_and_sum": lambda m, a, b: (a.reshape(3, 1) * b).sum().abs(),
    "tanh_log": lambda m, a, b: (a.tanh() * b.log()).abs().sum(),
    "sigmoid": lambda m, a, b: (a.sigmoid() * b).abs().sum(),
}


def _grads(m, fn):
    a, b = m.tensor(A, requires_grad=True), m.tensor(B, requires_grad=True)
    fn(m, a, b).backward()
    return [np.zeros(3, complex) if t.grad is None else t.grad.detach().numpy() for t in (a, b)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_complex_gradients_match_torch(torch, name):
    ours, theirs = _grads(ember, CASES[name]), _grads(torch, CASES[name])
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


def test_abs_squared_gradient_is_twice_z():
    # d|z|^2 under PyTorch's convention is 2z (not 2 conj(z))
    z = ember.tensor(A, requires_grad=True)
    (z.abs() ** 2).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * A, rtol=1e-12)


def test_casting_a_real_tensor_to_complex_gives_a_real_gradient_without_warnings():
    import warnings
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    z = x.to(ember.complex128) * ember.tensor([1 + 2j, 3 - 1j])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # NumPy's ComplexWarning on a complex -> real cast
        (z.abs() ** 2).sum().backward()
    assert x.grad.dtype == ember.float64 and x.grad.tolist() == [10.0, 40.0]   # d|x c|^2/dx = 2 x |c|^2
