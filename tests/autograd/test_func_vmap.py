"""ember.func.vmap: in_dims/out_dims pytrees, chunk_size, randomness, nesting, errors, and the compositions the
torch.func tutorials use (vmap(grad), vmap(jacrev), jacfwd inside vmap, grad of vmap, ensembling), against
torch.func. Per-op batching against a per-sample loop: tests/ops/test_vmap_ops.py."""
import copy
import warnings

import numpy as np
import pytest

import ember
from ember.func import functional_call, grad, jacrev, stack_module_state, vmap


def _np(t):
    return t.detach().numpy()


def test_in_dims_out_dims_and_pytrees():
    x = ember.arange(12.).reshape(3, 4)
    y = ember.arange(4.)
    out = vmap(lambda a, b: a * b + 1, in_dims=(1, None))(x, y[:3])
    np.testing.assert_allclose(_np(out), _np(x.t() * y[:3] + 1))
    out = vmap(lambda d: {"s": d["a"].sum(), "t": (d["a"], d["b"])}, in_dims=({"a": 0, "b": None},))(
        {"a": x, "b": y})
    assert out["s"].tolist() == x.sum(1).tolist()
    np.testing.assert_allclose(_np(out["t"][1]), np.tile(_np(y), (3, 1)))      # unbatched output: broadcast
    out = vmap(lambda a: a * 2, out_dims=1)(x)
    np.testing.assert_allclose(_np(out), _np(x.t() * 2))
    assert vmap(lambda a: a.sum() * 0 + len(a) + a.dim(), in_dims=1)(x).tolist() == [4.0] * 4


def test_chunk_size_and_nested_vmap():
    x = ember.randn(7, 5, 3)
    want = (x.sin() * x.sum(-1, keepdim=True)).sum(-1)
    f = lambda v: (v.sin() * v.sum()).sum()                                       # noqa: E731
    np.testing.assert_allclose(_np(vmap(vmap(f))(x)), _np(want), rtol=1e-6)
    np.testing.assert_allclose(_np(vmap(vmap(f), chunk_size=3)(x)), _np(want), rtol=1e-6)
    np.testing.assert_allclose(_np(vmap(vmap(f, in_dims=1))(x.transpose(1, 2).contiguous())), _np(want),
                               rtol=1e-6)


def test_randomness_modes():
    x = ember.ones(4, 1000)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda v: ember.nn.functional.dropout(v, 0.5))(x)
    different = vmap(lambda v: ember.nn.functional.dropout(v, 0.5), randomness="different")(x)
    same = vmap(lambda v: ember.nn.functional.dropout(v, 0.5), randomness="same")(x)
    assert not ember.equal(different[0], different[1])
    assert all(ember.equal(same[0], same[k]) for k in range(4))
    assert 0.4 < (same[0] == 0).float().mean().item() < 0.6
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        vmap(lambda v: v, randomness="sometimes")


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        vmap(lambda a, b: a + b)(ember.ones(3), ember.ones(4))
    with pytest.raises(ValueError, match="in_dim=2"):
        vmap(lambda a: a, in_dims=2)(ember.ones(3, 2))
    with pytest.raises(RuntimeError, match=r"\.item\(\)"):
        vmap(lambda a: a.sum().item())(ember.ones(3, 2))
    with pytest.raises(RuntimeError, match="data-dependent control flow"):
        vmap(lambda a: a if a.sum() > 0 else -a)(ember.ones(3, 2))
    with pytest.raises(RuntimeError, match="inplace arithmetic"):
        vmap(lambda a: ember.zeros(2).add_(a))(ember.ones(3, 2))


def _tutorial(m):
    """The per-sample-gradients tutorial, smaller: vmap(grad(loss)) over a batch with unbatched parameters."""
    m.manual_seed(0)
    net = m.nn.Sequential(m.nn.Linear(10, 32), m.nn.ReLU(), m.nn.Linear(32, 3))
    params = {k: v.detach() for k, v in net.named_parameters()}
    data, targets = m.randn(16, 10), m.randint(0, 3, (16,))

    def loss(p, sample, target):
        pred = m.func.functional_call(net, p, (sample.unsqueeze(0),))
        return m.nn.functional.cross_entropy(pred, target.unsqueeze(0))
    return m.func.vmap(m.func.grad(loss), in_dims=(None, 0, 0))(params, data, targets)


def test_per_sample_gradients_match_torch_func(torch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # every op of the model is batched: no loop warning
        got = _tutorial(ember)
    want = _tutorial(torch)
    for k in want:
        np.testing.assert_allclose(_np(got[k]), want[k].detach().numpy(), rtol=1e-4, atol=1e-6)


def test_per_sample_gradients_equal_the_loop():
    x, w = ember.randn(6, 4, dtype=ember.float64), ember.randn(4, 2, dtype=ember.float64)
    f = lambda v, w: (ember.tanh(v @ w) ** 2).sum()                               # noqa: E731
    batched = vmap(grad(f, argnums=1), in_dims=(0, None))(x, w)
    looped = ember.stack([grad(f, argnums=1)(x[i], w) for i in range(6)])
    np.testing.assert_allclose(_np(batched), _np(looped), rtol=1e-12)
    np.testing.assert_allclose(_np(vmap(grad(f), in_dims=(0, None))(x, w)),
                               _np(ember.stack([grad(f)(x[i], w) for i in range(6)])), rtol=1e-12)


def test_grad_of_vmap_and_jacobians_inside_vmap(torch):
    def run(m):
        x = m.tensor(np.linspace(-1, 1, 12).reshape(4, 3))
        g = m.func.grad(lambda v: m.func.vmap(lambda r: (r.sin() * r).sum())(v).sum())(x)
        jr = m.func.vmap(m.func.jacrev(lambda r: r.exp() * r.sum()))(x)
        jf = m.func.vmap(m.func.jacfwd(lambda r: r.exp() * r.sum()))(x)
        return [g, jr, jf]
    for a, b in zip(run(ember), run(torch)):
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_model_ensembling_with_stack_module_state(torch):
    def run(m):
        m.manual_seed(0)
        models = [m.nn.Sequential(m.nn.Linear(4, 8), m.nn.GELU(), m.nn.Linear(8, 2)) for _ in range(3)]
        params, buffers = m.func.stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")
        x = m.randn(5, 4)

        def one(p, b, v):
            return m.func.functional_call(base, (p, b), (v,))
        return m.func.vmap(one, in_dims=(0, 0, None))(params, buffers, x), params
    (got, params), (want, _) = run(ember), run(torch)
    np.testing.assert_allclose(_np(got), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert params["0.weight"].shape == (3, 8, 4) and params["0.weight"].requires_grad and params["0.weight"].is_leaf


def test_stack_module_state_checks_the_models():
    with pytest.raises(RuntimeError, match="same class"):
        stack_module_state([ember.nn.Linear(2, 2), ember.nn.Conv1d(2, 2, 1)])
    a, b = ember.nn.Linear(2, 2), ember.nn.Linear(2, 2)
    b.eval()
    with pytest.raises(RuntimeError, match="training/eval mode"):
        stack_module_state([a, b])


def test_jacrev_of_a_dict_of_parameters():
    net = ember.nn.Linear(3, 2)
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = ember.randn(3)
    jac = jacrev(lambda p: functional_call(net, p, (x,)))(params)
    assert set(jac) == {"weight", "bias"} and jac["weight"].shape == (2, 2, 3) and jac["bias"].shape == (2, 2)
    np.testing.assert_allclose(_np(jac["bias"]), np.eye(2))
