"""ember.autograd.forward_ad and the forward-mode transforms of ember.func against PyTorch: dual tensors, views
and in-place ops on them, custom Function jvp, jvp / jacfwd / hessian / linearize, errors. The per-op tangents
are checked on the whole op table in tests/ops/test_forward_ad_ops.py."""
import numpy as np
import pytest

import ember
from ember.autograd import forward_ad as fwAD
from ember.func import hessian, jacfwd, jacrev, jvp, linearize


def test_make_dual_unpack_dual_and_the_level():
    x = ember.tensor([1.0, 2.0])
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(x, ember.ones(2))
        primal, tangent = fwAD.unpack_dual(d)
        assert primal.tolist() == [1.0, 2.0] and tangent.tolist() == [1.0, 1.0]
        assert fwAD.unpack_dual(d)._fields == ("primal", "tangent")
        assert fwAD.unpack_dual(x).tangent is None and fwAD.unpack_dual(d.detach()).tangent is None
        y = d * d
        assert fwAD.unpack_dual(y).tangent.tolist() == [2.0, 4.0] and not y.requires_grad
        assert fwAD.unpack_dual(d[0]).tangent.item() == 1.0 and fwAD.unpack_dual(d.sum()).tangent.item() == 2.0
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(x, ember.ones(3))
    assert fwAD.unpack_dual(y).tangent is None          # the level's tangents are gone
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(x, ember.ones(2))


def test_in_place_ops_and_views_carry_tangents(torch):
    import torch.autograd.forward_ad as tfw

    def run(m, fw):
        out = []
        with fw.dual_level():
            d = fw.make_dual(m.tensor([1.0, 2.0, 3.0]), m.tensor([1.0, -1.0, 0.5]))
            z = m.zeros(3)
            z.copy_(d)
            out.append(fw.unpack_dual(z).tangent.tolist())
            w = m.zeros(3)
            w.add_(d)
            w.mul_(3)
            out.append(fw.unpack_dual(w).tangent.tolist())
            b = m.zeros(4)
            v = b[1:]
            v.add_(d)
            out.append(fw.unpack_dual(b).tangent.tolist())
            c = d.clone()
            c[1] = 5.0
            c[0] = d[2] * 2
            out.append(fw.unpack_dual(c).tangent.tolist())
            e = d.clone()
            e.zero_()
            out.append(fw.unpack_dual(e).tangent.tolist())
            t = d.clone().t()
            out.append(fw.unpack_dual(t.exp_()).tangent.tolist())
        return out
    got, want = run(ember, fwAD), run(torch, tfw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


class Cube(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_forward(x)
        return x ** 3

    @staticmethod
    def jvp(ctx, x_t):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * x_t

    @staticmethod
    def backward(ctx, g):
        raise AssertionError("not used")


class NoJvp(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_custom_function_jvp():
    with fwAD.dual_level():
        d = fwAD.make_dual(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.5]))
        assert fwAD.unpack_dual(Cube.apply(d)).tangent.tolist() == [3.0, 6.0]
        with pytest.raises(NotImplementedError, match="jvp function"):
            NoJvp.apply(d)


FUNCTIONS = {
    "mlp": lambda m, x: m.tanh(x @ m.ones(3, 4, dtype=m.float64) * 0.3).sum(-1),
    "softmax": lambda m, x: m.nn.functional.softmax(x, 0) * x,
    "norms": lambda m, x: m.nn.functional.layer_norm(x.reshape(1, 3), (3,)).reshape(3) + x.norm(),
    "where": lambda m, x: m.where(x > 0, x.exp(), x.sin()) / (1 + x * x),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jvp_jacfwd_hessian_linearize_match_torch_func(torch, name):
    f = FUNCTIONS[name]
    x = np.random.default_rng(0).normal(size=3)
    t = np.random.default_rng(1).normal(size=3)
    ex, et, tx, tt = ember.tensor(x), ember.tensor(t), torch.tensor(x), torch.tensor(t)
    (ep, ej), (tp, tj) = jvp(lambda v: f(ember, v), (ex,), (et,)), torch.func.jvp(lambda v: f(torch, v), (tx,), (tt,))
    np.testing.assert_allclose(ep.numpy(), tp.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ej.numpy(), tj.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jacfwd(lambda v: f(ember, v))(ex).numpy(),
                               torch.func.jacfwd(lambda v: f(torch, v))(tx).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jacfwd(lambda v: f(ember, v))(ex).numpy(),
                               jacrev(lambda v: f(ember, v))(ex).detach().numpy(), rtol=1e-10, atol=1e-12)
    scalar = (lambda m, v: f(m, v).sum())
    np.testing.assert_allclose(hessian(lambda v: scalar(ember, v))(ex).detach().numpy(),
                               torch.func.hessian(lambda v: scalar(torch, v))(tx).numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(jacfwd(jacfwd(lambda v: scalar(ember, v)))(ex).detach().numpy(),
                               torch.func.hessian(lambda v: scalar(torch, v))(tx).numpy(), rtol=1e-9, atol=1e-11)
    # (against ember's reverse over reverse: PyTorch's double backward of layer_norm's tangent is off here, while
    # finite differences agree with ember)
    np.testing.assert_allclose(jacrev(jacfwd(lambda v: f(ember, v)))(ex).detach().numpy(),
                               jacrev(jacrev(lambda v: f(ember, v)))(ex).detach().numpy(), rtol=1e-9, atol=1e-11)
    out, fn = linearize(lambda v: f(ember, v), ex)
    np.testing.assert_allclose(fn(et).numpy(), tj.numpy(), rtol=1e-10, atol=1e-12)


def test_jvp_arguments_and_outputs():
    x, y = ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])
    (p1, p2), (t1, t2) = jvp(lambda a, b: (a * b, a + b), (x, y), (ember.ones(2), ember.zeros(2)))
    assert t1.tolist() == [3.0, 4.0] and t2.tolist() == [1.0, 1.0]
    out, tangent, aux = jvp(lambda a: (a.sin(), {"n": 1}), (x,), (ember.ones(2),), has_aux=True)
    assert aux == {"n": 1}
    with pytest.raises(RuntimeError, match="same shape"):
        jvp(lambda a: a, (x,), (ember.ones(3),))
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        jvp(lambda a: a, x, (ember.ones(2),))
    jac = jacfwd(lambda a, b: a * b, argnums=(0, 1))(x, y)
    assert jac[0].tolist() == [[3.0, 0.0], [0.0, 4.0]] and jac[1].tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_jacobian_forward_mode_strategy(torch):
    f = FUNCTIONS["softmax"]                    # (PyTorch's vectorized forward-mode fails on the mlp's matmul)
    x = np.random.default_rng(2).normal(size=3)
    got = ember.autograd.functional.jacobian(lambda v: f(ember, v), ember.tensor(x), vectorize=True,
                                             strategy="forward-mode")
    want = torch.autograd.functional.jacobian(lambda v: f(torch, v), torch.tensor(x), vectorize=True,
                                              strategy="forward-mode")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


def test_forward_over_reverse_keeps_the_reverse_graph():
    x = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, ember.tensor([1.0, 0.0], dtype=ember.float64))
        y = (d.sin() * d).sum()
        tangent = fwAD.unpack_dual(y).tangent
    assert y.requires_grad and tangent.requires_grad
    (g,) = ember.autograd.grad(tangent, x)                 # d/dx of the directional derivative along e0
    x0 = 0.5
    assert abs(g[0].item() - (2 * np.cos(x0) - x0 * np.sin(x0))) < 1e-12 and g[1].item() == 0.0
