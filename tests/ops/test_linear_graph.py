"""F.linear records PyTorch's graph: MmBackward0 without bias and AddmmBackward0 with it on 2-D inputs, between
unsqueeze/squeeze (view/view with bias) for 1-D inputs and view/unsafe view (view/view) for N-D inputs, each
node with PyTorch's saved values (weight is saved as mat2 = weight.t(), and only where the other operand's
gradient needs it)."""
import numpy as np
import pytest

import ember


def _chain(m, out):
    """(name, {saved name: shape, None or value}) of out.grad_fn and of its first non-leaf input, down."""
    fn, chain = out.grad_fn, []
    while fn is not None:
        saved = {}
        for name in dir(fn):
            if name.startswith("_saved_") and not name.endswith("strides"):
                value = getattr(fn, name)
                saved[name] = tuple(value.shape) if isinstance(value, m.Tensor) else value
        chain.append((type(fn).__name__, saved))
        inner = [f for f, _ in fn.next_functions if f is not None and type(f).__name__ not in
                 ("AccumulateGrad", "TBackward0")]      # ember's nodes take weight itself, not weight.t()
        fn = inner[0] if inner else None
    return chain


def _linear(m, shape, bias, needs=(True, True)):
    x = m.ones(*shape, requires_grad=needs[0])
    w = m.ones(5, shape[-1], requires_grad=needs[1])
    b = m.ones(5, requires_grad=True) if bias else None
    return m.nn.functional.linear(x, w, b)


SHAPES = [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4), (0, 4), (0,), (3, 0)]
NEEDS = [(True, True), (True, False), (False, True)]


@pytest.mark.parametrize("needs", NEEDS, ids=["both", "input", "weight"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_linear_nodes_and_saved_values_match_torch(shape, bias, needs):
    torch = pytest.importorskip("torch")
    ours, theirs = (_chain(m, _linear(m, shape, bias, needs)) for m in (ember, torch))
    if len(shape) == 1 and not bias:
        # the squeeze(0) on top: PyTorch's is the in-place squeeze_ (SqueezeBackward4, with _saved_dim); ember's
        # squeeze_ nodes are SqueezeBackward1 without _saved_dim (ember/ops/views.py)
        assert ours[0] == ("SqueezeBackward1", {"_saved_self_sym_sizes": (1, 5)})
        assert theirs[0] == ("SqueezeBackward4", {"_saved_dim": 0, "_saved_self_sym_sizes": (1, 5)})
        ours, theirs = ours[1:], theirs[1:]
    assert ours == theirs


def test_linear_node_names_without_torch():
    names = [[name for name, _ in _chain(ember, _linear(ember, shape, bias))] for shape in ((3, 4), (2, 3, 4), (4,))
             for bias in (False, True)]
    assert names == [["MmBackward0"], ["AddmmBackward0"],
                     ["UnsafeViewBackward0", "MmBackward0", "ViewBackward0"],
                     ["ViewBackward0", "AddmmBackward0", "ViewBackward0"],
                     ["SqueezeBackward1", "MmBackward0", "UnsqueezeBackward0"],
                     ["ViewBackward0", "AddmmBackward0", "ViewBackward0"]]
    out = _linear(ember, (3, 4), False)
    w = out.grad_fn.next_functions[1][0].variable
    assert out.grad_fn._saved_mat2.shape == (4, 5) and out.grad_fn._saved_mat2_sym_sizes == (4, 5)
    np.testing.assert_array_equal(out.grad_fn._saved_mat2.detach().numpy(), w.detach().numpy().T)


@pytest.mark.parametrize("shape", [(2, 3, 4), (4,), (0,), (0, 4)], ids=str)
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_linear_gradients_through_the_views(shape, bias):
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal(shape), requires_grad=True)
    w = ember.tensor(rng.standard_normal((5, shape[-1])), requires_grad=True)
    b = ember.tensor(rng.standard_normal(5), requires_grad=True) if bias else None
    out = ember.nn.functional.linear(x, w, b)
    out.backward(ember.ones_like(out))
    xs, ws = x.detach().numpy(), w.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), xs @ ws.T + (b.detach().numpy() if bias else 0))
    np.testing.assert_allclose(x.grad.numpy(), np.ones(out.shape) @ ws)
    rows = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(w.grad.numpy(), np.ones((rows, 5)).T @ xs.reshape(rows, shape[-1]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("needs", NEEDS, ids=["both", "input", "weight"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (0, 4), (3, 0)], ids=str)
def test_plain_backward_matches_the_differentiable_formula(shape, bias, needs, dtype):
    """Without create_graph Linear's backward runs its GEMMs on arrays (linear.py, _plain_backward); with it,
    through differentiable ops. Both give the same bits, and PyTorch's values."""
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    dt = getattr(ember, dtype)
    x = ember.tensor(rng.standard_normal(shape), dtype=dt, requires_grad=needs[0])
    w = ember.tensor(rng.standard_normal((5, shape[-1])), dtype=dt, requires_grad=needs[1])
    b = ember.tensor(rng.standard_normal(5), dtype=dt, requires_grad=True) if bias else None
    g = ember.tensor(rng.standard_normal(shape[:-1] + (5,)), dtype=dt)
    leaves = [t for t in (x, w, b) if t is not None and t.requires_grad]
    out = ember.nn.functional.linear(x, w, b)
    plain = ember.autograd.grad(out, leaves, g, retain_graph=True)
    graphed = ember.autograd.grad(out, leaves, g, create_graph=True)
    for p, q in zip(plain, graphed):
        assert p.dtype == q.dtype and p.shape == q.shape
        assert np.array_equal(p.float().numpy(), q.detach().float().numpy())


def test_plain_backward_matches_torch(torch):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((7, 3), (4, 3), (4,), (7, 4))]
    grads = []
    for m in (ember, torch):
        x, w, b = (m.tensor(a, requires_grad=True) for a in arrays[:3])
        m.nn.functional.linear(x, w, b).backward(m.tensor(arrays[3]))
        grads.append([t.grad.detach().numpy() for t in (x, w, b)])
    for mine, theirs in zip(*grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
