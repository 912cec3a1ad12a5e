"""Tensor.repeat returns a new contiguous tensor, as PyTorch's: never a view of its input (writing to the result
must not change the input) and never stride 0, so in-place ops on it work (fast_neural_style's
style.repeat(batch, 1, 1, 1) followed by div_ failed with "more than one element ... refers to a single memory
location" when repeat was an expand + reshape). Its node is RepeatBackward0."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck


def test_repeat_is_a_copy_never_a_view():
    x = ember.arange(3.)
    y = x.repeat(1)
    y[0] = 9
    assert x.tolist() == [0.0, 1.0, 2.0] and y.tolist() == [9.0, 1.0, 2.0]
    t = ember.arange(6.).view(2, 3).t()            # a transposed input: the result is row-major all the same
    r = t.repeat(1, 1)
    assert r.stride() == (2, 1) and r.data_ptr() != t.data_ptr() and r.tolist() == t.tolist()


def test_repeat_then_inplace():
    style = ember.rand(3, 4, 4).mul(255)
    batch = style.repeat(2, 1, 1, 1)
    assert batch.stride() == (48, 16, 4, 1) and batch.is_contiguous()
    batch.div_(255.0)
    np.testing.assert_allclose(batch.numpy(), np.broadcast_to(style.numpy() / 255, (2, 3, 4, 4)), rtol=1e-6)


def test_repeat_values_gradient_and_node():
    x = ember.arange(6., dtype=ember.float64).view(2, 3).requires_grad_()
    y = x.repeat(2, 1, 2)
    assert tuple(y.shape) == (2, 2, 6) and type(y.grad_fn).__name__ == "RepeatBackward0"
    np.testing.assert_array_equal(y.detach().numpy(), np.tile(x.detach().numpy(), (2, 1, 2)))
    y.backward(ember.ones_like(y))
    assert x.grad.tolist() == [[4.0] * 3] * 2                   # each element appears 2 * 2 times
    assert gradcheck(lambda t: t.repeat(3, 2), (ember.randn(2, 3, dtype=ember.float64, requires_grad=True),))
    assert gradgradcheck(lambda t: t.repeat(2, 1, 2), (ember.randn(3, dtype=ember.float64, requires_grad=True),))
    assert ember.tile(x, (2,)).grad_fn.__class__.__name__ == "RepeatBackward0"


def test_repeat_edge_cases_and_errors():
    assert ember.tensor(3.).repeat(()).tolist() == 3.0
    assert ember.tensor(3.).repeat(2, 2).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert tuple(ember.ones(2, 0).repeat(3, 2).shape) == (6, 0)
    assert tuple(ember.ones(0).repeat(-1).shape) == (0,)           # a negative repeat of nothing is nothing
    assert ember.tensor([True, False]).repeat(2).tolist() == [True, False, True, False]
    with pytest.raises(RuntimeError, match=r"negative dimension -2: \[-2, 3\]"):
        ember.ones(2, 3).repeat(-1, 1)
    with pytest.raises(TypeError, match="missing 1 required positional arguments"):
        ember.ones(2).repeat()
    with pytest.raises(RuntimeError, match="can not be smaller"):
        ember.ones(2, 3).repeat(2)


@pytest.mark.parametrize("sizes", [(1, 1), (2, 3), (2, 1, 2), (0, 2), (-1, 0)])
def test_repeat_matches_torch(torch, sizes):
    for e, t in ((ember.arange(6.).view(2, 3), torch.arange(6.).view(2, 3)),
                 (ember.arange(6.).view(3, 2).t(), torch.arange(6.).view(3, 2).t())):
        try:
            want = t.repeat(*sizes)
        except RuntimeError as error:
            with pytest.raises(RuntimeError, match=str(error).replace("[", r"\[").replace("]", r"\]")):
                e.repeat(*sizes)
            continue
        got = e.repeat(*sizes)
        assert tuple(got.shape) == tuple(want.shape)
        if want.numel():                  # (ember reports NumPy's strides of an empty array, (0, 0), everywhere)
            assert got.stride() == want.stride()
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.data_ptr() != e.data_ptr()
    e = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    t = torch.tensor(e.detach().numpy(), requires_grad=True)
    if all(s >= 0 for s in sizes):
        g = np.random.RandomState(0).randn(*t.repeat(*sizes).shape)
        e.repeat(*sizes).backward(ember.tensor(g))
        t.repeat(*sizes).backward(torch.tensor(g))
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)
