"""vector_norm with dtype= is PyTorch's one LinalgVectorNormBackward0 node: the input is converted inside it and its
gradient converted back (no ToCopy node between), and linalg.norm's default order is saved as 2.0, as there."""
import numpy as np
import pytest

import ember


def _run(m, ord, dim, dtype):
    x = m.tensor(np.linspace(-1, 2, 12).reshape(3, 4), dtype=m.float32, requires_grad=True)
    y = m.linalg.vector_norm(x, ord, dim=dim, dtype=dtype)
    fn = y.grad_fn
    edges = [type(f).__name__ for f, _ in fn.next_functions]
    saves_input = fn._saved_self is x
    if ord != 0:
        (y * m.arange(1, y.numel() + 1, dtype=y.dtype).reshape(y.shape)).sum().backward()
    grad = None if x.grad is None else (str(x.grad.dtype).split(".")[1], x.grad.numpy())
    return str(y.dtype).split(".")[1], type(fn).__name__, edges, saves_input, y.detach().numpy(), grad


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, float("inf"), -float("inf"), 0])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)], ids=str)
def test_dtype_converts_inside_the_node(torch, ord, dim):
    ours = _run(ember, ord, dim, ember.float64)
    theirs = _run(torch, ord, dim, torch.float64)
    assert ours[:4] == theirs[:4] == ("float64", "LinalgVectorNormBackward0", ["AccumulateGrad"], True)
    np.testing.assert_allclose(ours[4], theirs[4], rtol=1e-12)
    if ord != 0:
        assert ours[5][0] == theirs[5][0] == "float32"
        np.testing.assert_allclose(ours[5][1], theirs[5][1], rtol=1e-6)


def test_dtype_without_torch():
    x = ember.tensor([3.0, -4.0], requires_grad=True)
    y = ember.linalg.vector_norm(x, dtype=ember.float64)
    assert y.dtype is ember.float64 and y.item() == 5.0
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]
    y.backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [0.6000000238418579, -0.800000011920929]


def test_create_graph_through_the_conversion(torch):
    grads = []
    for m in (ember, torch):
        x = m.tensor([0.5, -1.5, 2.0], requires_grad=True)
        (g,) = m.autograd.grad(m.linalg.vector_norm(x, 3, dtype=m.float64), x, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), x)
        grads.append((g.dtype == m.float32, g.detach().numpy(), gg.numpy()))
    assert grads[0][0] and grads[1][0]
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6)
    np.testing.assert_allclose(grads[0][2], grads[1][2], rtol=1e-5)


def test_linalg_norm_saves_its_default_order_as_a_float(torch):
    for m in (ember, torch):
        x = m.ones(3, 4, requires_grad=True)
        assert repr(m.linalg.norm(x).grad_fn._saved_ord) == "2.0"
        assert repr(m.linalg.norm(x[0]).grad_fn._saved_ord) == "2.0"
        assert repr(m.linalg.vector_norm(x).grad_fn._saved_ord) == "2"
        assert repr(m.norm(x).grad_fn._saved_ord) == "2"
