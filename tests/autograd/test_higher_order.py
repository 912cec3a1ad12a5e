"""Higher-order gradients: gradgradcheck over a broad sample of ops, third order on a few (AG-1 in
docs/RELIABILITY.md)."""
import numpy as np
import pytest

import ember
from ember.autograd import grad, gradcheck, gradgradcheck

F = ember.nn.functional


class _T:
    """A float64 input spec: shape and value range; made fresh (seeded) for each test."""

    def __init__(self, *shape, low=-1.0, high=1.0):
        self.shape, self.low, self.high = shape, low, high

    def make(self, rng):
        return ember.tensor(rng.uniform(self.low, self.high, self.shape), dtype=ember.float64, requires_grad=True)


def _index(values):
    return ember.tensor(values)


CASES = {
 "add": (lambda a, b: a + b, [_T(3, 4), _T(4)]),
 "sub": (lambda a, b: a - b, [_T(3, 4), _T(3, 1)]),
 "mul": (lambda a, b: a * b, [_T(3, 4), _T(4)]),
 "mul_zero_dim": (lambda s, v: (s * v) * (v * s), [_T(), _T(5)]),    # the scalar's grad is a dot product
 "div": (lambda a, b: a / b, [_T(3, 4), _T(4, low=0.5, high=2)]),
 "pow_scalar": (lambda a: a ** 3, [_T(3, 4)]),
 "pow_tensor": (lambda a, b: a ** b, [_T(3, low=0.5, high=2), _T(3)]),
 "rpow": (lambda a: 2.0 ** a, [_T(3)]),
 "neg": (lambda a: -a, [_T(3)]),
 "exp": (lambda a: a.exp(), [_T(3, 4)]),
 "log": (lambda a: a.log(), [_T(3, low=0.5, high=2)]),
 "sqrt": (lambda a: a.sqrt(), [_T(3, low=0.5, high=2)]),
 "rsqrt": (lambda a: a.rsqrt(), [_T(3, low=0.5, high=2)]),
 "sin": (lambda a: a.sin(), [_T(3)]),
 "cos": (lambda a: a.cos(), [_T(3)]),
 "tan": (lambda a: a.tan(), [_T(3)]),
 "tanh": (lambda a: a.tanh(), [_T(3)]),
 "sigmoid": (lambda a: a.sigmoid(), [_T(3)]),
 "abs": (lambda a: a.abs(), [_T(3, low=0.2)]),
 "reciprocal": (lambda a: a.reciprocal(), [_T(3, low=0.5, high=2)]),
 "log1p": (lambda a: a.log1p(), [_T(3, low=0.0)]),
 "expm1": (lambda a: a.expm1(), [_T(3)]),
 "atan": (lambda a: a.atan(), [_T(3)]),
 "asin": (lambda a: a.asin(), [_T(3, low=-0.5, high=0.5)]),
 "erf": (lambda a: a.erf(), [_T(3)]),
 "clamp": (lambda a: a.clamp(-0.5, 0.5), [_T(5)]),
 "where": (lambda a, b: ember.where(a > 0, a * b, b), [_T(4), _T(4)]),
 "maximum": (lambda a, b: ember.maximum(a, b), [_T(4), _T(4)]),
 "sum_dim": (lambda a: a.sum(1), [_T(3, 4)]),
 "mean": (lambda a: a.mean(0, keepdim=True), [_T(3, 4)]),
 "prod": (lambda a: a.prod(1), [_T(3, 4)]),
 "var": (lambda a: a.var(1), [_T(3, 4)]),
 "std": (lambda a: a.std(), [_T(3, 4)]),
 "amax": (lambda a: a.amax(1), [_T(3, 4)]),
 "max_dim": (lambda a: a.max(1)[0], [_T(3, 4)]),
 "logsumexp": (lambda a: a.logsumexp(1), [_T(3, 4)]),
 "softmax": (lambda a: a.softmax(1), [_T(3, 4)]),
 "log_softmax": (lambda a: a.log_softmax(1), [_T(3, 4)]),
 "cumsum": (lambda a: a.cumsum(1), [_T(3, 4)]),
 "norm": (lambda a: a.norm(), [_T(3, 4)]),
 "matmul": (lambda a, b: a @ b, [_T(3, 4), _T(4, 2)]),
 "bmm": (lambda a, b: ember.bmm(a, b), [_T(2, 3, 4), _T(2, 4, 2)]),
 "mv": (lambda a, b: a @ b, [_T(3, 4), _T(4)]),
 "reshape": (lambda a: a.reshape(4, 3) * a.reshape(4, 3), [_T(3, 4)]),
 "transpose": (lambda a: a.t() * a.t(), [_T(3, 4)]),
 "permute": (lambda a: a.permute(2, 0, 1).exp(), [_T(2, 3, 4)]),
 "expand": (lambda a: a.expand(3, 4) ** 2, [_T(1, 4)]),
 "getitem": (lambda a: a[1:, ::2] ** 2, [_T(3, 4)]),
 "index_tensor": (lambda a: a[_index([0, 2, 0])] ** 2, [_T(3, 4)]),
 "cat": (lambda a, b: ember.cat([a, b], 0) ** 2, [_T(2, 3), _T(1, 3)]),
 "stack": (lambda a, b: ember.stack([a, b], 1) ** 2, [_T(2, 3), _T(2, 3)]),
 "squeeze": (lambda a: a.unsqueeze(0).squeeze(0) ** 2, [_T(3)]),
 "gather": (lambda a: a.gather(1, _index([[0, 1], [2, 0], [1, 1]])) ** 2, [_T(3, 4)]),
 "index_select": (lambda a: a.index_select(0, _index([2, 0])) ** 2, [_T(3, 4)]),
 "masked_fill": (lambda a: a.masked_fill(a > 0, 0.0) ** 2, [_T(3, 4)]),
 "relu": (lambda a: F.relu(a) ** 2, [_T(6)]),
 "gelu": (lambda a: F.gelu(a), [_T(6)]),
 "silu": (lambda a: F.silu(a), [_T(6)]),
 "softplus": (lambda a: F.softplus(a), [_T(6)]),
 "elu": (lambda a: F.elu(a), [_T(6)]),
 "leaky_relu": (lambda a: F.leaky_relu(a, 0.1) ** 2, [_T(6)]),
 "linear": (lambda x, w, b: F.linear(x, w, b), [_T(2, 3), _T(4, 3), _T(4)]),
 "mse_loss": (lambda a, b: F.mse_loss(a, b), [_T(5), _T(5)]),
 "cross_entropy": (lambda a: F.cross_entropy(a, _index([0, 2, 1])), [_T(3, 4)]),
 "nll_loss": (lambda a: F.nll_loss(a.log_softmax(1), _index([0, 2, 1])), [_T(3, 4)]),
 "layer_norm": (lambda a, w, b: F.layer_norm(a, (4,), w, b), [_T(3, 4), _T(4), _T(4)]),
 "conv1d": (lambda x, w: F.conv1d(x, w), [_T(1, 2, 5), _T(3, 2, 2)]),
 "conv2d": (lambda x, w: F.conv2d(x, w, padding=1), [_T(1, 1, 3, 3), _T(2, 1, 2, 2)]),
 "max_pool2d": (lambda x: F.max_pool2d(x, 2) ** 2, [_T(1, 1, 4, 4)]),
 "avg_pool2d": (lambda x: F.avg_pool2d(x, 2) ** 2, [_T(1, 1, 4, 4)]),
 "binary_cross_entropy_with_logits": (lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()), [_T(4), _T(4)]),
 "einsum": (lambda a, b: ember.einsum("ij,jk->ik", a, b), [_T(2, 3), _T(3, 2)]),
 "flip": (lambda a: a.flip(0) ** 2, [_T(3)]),
 "roll": (lambda a: a.roll(1) ** 2, [_T(3)]),
 "tril": (lambda a: a.tril() ** 2, [_T(3, 3)]),
 "split": (lambda a: a.split(2, 1)[1] ** 2, [_T(2, 4)]),
 "clone": (lambda a: a.clone() ** 2, [_T(3)]),
 "lerp": (lambda a, b: ember.lerp(a, b, 0.3) ** 2, [_T(3), _T(3)]),
 "addcmul": (lambda a, b, c: ember.addcmul(a, b, c, value=0.5), [_T(3), _T(3), _T(3)]),
 "atan2": (lambda a, b: ember.atan2(a, b), [_T(3), _T(3, low=0.5)]),
 "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b), [_T(2, 3), _T(2, 3)]),
 "normalize": (lambda a: F.normalize(a), [_T(2, 3)]),
 "dropout_eval": (lambda a: F.dropout(a, 0.5, training=False) ** 2, [_T(3)]),
 "pad": (lambda a: F.pad(a, (1, 1)) ** 2, [_T(2, 3)]),
}


def _inputs(specs, seed=0):
    rng = np.random.default_rng(seed)
    return [s.make(rng) for s in specs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_and_second_order(name):
    fn, specs = CASES[name]
    inputs = _inputs(specs)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def _nth_derivative_fn(fn, order):
    """x -> d^order/dx^order of sum(fn(x)) (elementwise), each level keeping its graph."""
    def derivative(x):
        out = fn(x)
        for _ in range(order):
            (out,) = grad(out.sum(), x, create_graph=True)
        return out
    return derivative


@pytest.mark.parametrize("name", ["exp", "sin", "tanh", "sigmoid", "log", "pow_scalar", "softplus", "gelu"])
def test_third_order(name):
    fn, specs = CASES[name]
    (x,) = _inputs(specs[:1])
    # gradgradcheck of the first derivative checks the second and third derivatives.
    assert gradgradcheck(_nth_derivative_fn(fn, 1), (x,))


def test_third_order_values_match_torch(torch):
    values = np.array([0.3, -1.2, 2.0])
    results = []
    for m in (ember, torch):
        x = m.tensor(values, dtype=m.float64, requires_grad=True)
        y = (x.sin() * x.exp()).sum()
        (g1,) = m.autograd.grad(y, x, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), x)
        results.append([g.detach().numpy() for g in (g1, g2, g3)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("layout", ["transposed", "strided", "broadcast", "zero_dim"])
def test_layouts_of_inputs(layout):
    rng = np.random.default_rng(1)
    base = ember.tensor(rng.standard_normal((4, 6)), dtype=ember.float64)
    if layout == "transposed":
        inputs = (base.t().requires_grad_(),)
    elif layout == "strided":
        inputs = (base[::2, 1::2].requires_grad_(),)
    elif layout == "broadcast":
        inputs = (base[:1].requires_grad_(),)
    else:
        inputs = (base[0, 0].requires_grad_(),)

    def fn(x):
        return (x.exp() * x).sum(-1) if x.ndim else x.exp() * x
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)
