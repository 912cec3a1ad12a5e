"""Behaviour of the later shape / statistics ops that the generic op database cannot express: which
results share memory with their input, in-place rules, and the legacy Tensor.new constructor."""
import numpy as np
import pytest

import ember


def _shares_memory(a, b):
    return np.shares_memory(a._array, b._array)


def test_unfold_is_a_view_and_writes_through():
    x = ember.arange(6.0)
    windows = x.unfold(0, 3, 2)
    assert windows.shape == (2, 3) and windows._base is x
    windows[1, 0] = 100.0                       # position 2 is in both windows
    assert x[2].item() == 100.0 and windows[0, 2].item() == 100.0


def test_unfold_gradient_sums_overlapping_windows():
    x = ember.ones(5, requires_grad=True)
    x.unfold(0, 3, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3, 2, 1])


def test_view_as_real_and_complex_share_memory(torch):
    z = ember.tensor([1 + 2j, 3 - 4j])
    r = ember.view_as_real(z)
    assert _shares_memory(r, z) and r._base is z
    r[0, 1] = 7.0
    assert z[0].item() == 1 + 7j
    c = ember.view_as_complex(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(c.numpy(), [1 + 2j, 3 + 4j])
    # the gradient through the round trip is a plain reinterpretation, not a conjugate
    x = ember.tensor([[1.0, 2.0]], requires_grad=True)
    t = torch.tensor([[1.0, 2.0]], requires_grad=True)
    for m, leaf in ((ember, x), (torch, t)):
        (m.view_as_real(m.view_as_complex(leaf) * (2 - 1j)) * m.tensor([[1.0, 3.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_unsafe_split_pieces_allow_inplace_while_split_pieces_do_not():
    x = ember.ones(3, 4, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="multiple views"):
        y.split(2, 1)[0].mul_(3)
    pieces = y.unsafe_split(2, 1)
    assert _shares_memory(pieces[0], y) and pieces[0]._base is None   # same memory, not tracked as a view
    pieces[0].mul_(3)
    (pieces[0].sum() + pieces[1].sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[6, 6, 2, 2]] * 3)
    chunks = y.unsafe_chunk(2, 1)
    assert type(chunks[0].grad_fn).__name__ == "UnsafeSplitBackward0"
    chunks[1].add_(1)                           # allowed


def test_copies_do_not_share_memory():
    x = ember.arange(12.0).reshape(3, 4)
    for out in (x.narrow_copy(1, 1, 2), ember.rot90(x, 0), ember.rot90(x), ember.select_scatter(x, ember.zeros(4), 0, 1),
                ember.slice_scatter(x, ember.zeros(3, 4)), ember.diagonal_scatter(x, ember.zeros(3))):
        assert not _shares_memory(out, x)
    assert x.sum().item() == 66.0                # the scatters left their input alone


def test_new_legacy_constructor(torch):
    x = ember.arange(6.0).reshape(2, 3)
    assert x.new().shape == (0,) and x.new().dtype is ember.float32
    assert x.new(2, 3).shape == (2, 3) and x.new(ember.Size([4])).shape == (4,)
    data = x.new((2, 3))                        # a tuple is data, not a size, as in PyTorch
    np.testing.assert_array_equal(data.numpy(), [2.0, 3.0])
    assert ember.arange(3).new([1.5, 2]).dtype is ember.int64
    alias = x.new(x)
    assert _shares_memory(alias, x)
    with pytest.raises(TypeError):
        x.new(ember.arange(3))                   # new(tensor) needs self's dtype
    with pytest.raises(TypeError):
        torch.arange(6.0).new(torch.arange(3))


def test_tensor_split_with_unordered_indices(torch):
    for indices in ([3, 1], [-2], [-7, 2], [5, 9]):
        ours = [t.numpy() for t in ember.arange(5).tensor_split(indices)]
        theirs = [t.numpy() for t in torch.arange(5).tensor_split(indices)]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_inplace_renorm_and_index_reduce_keep_gradients(torch):
    values = np.random.default_rng(0).uniform(-2, 2, (3, 4))
    grads = []
    for m in (ember, torch):
        x = m.tensor(values, requires_grad=True)
        y = x * 1
        y.renorm_(2, 0, 1.0).index_reduce_(1, m.tensor([0, 0]), y[:, 1:3] * 2, "amax")
        (y * m.arange(12.0, dtype=m.float64).reshape(3, 4)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_histogram_returns_named_fields():
    hist, edges = ember.histogram(ember.tensor([1.0, 2.0, 1.0]), bins=4, range=(0.0, 3.0))
    result = ember.histogram(ember.tensor([1.0, 2.0, 1.0]), bins=4, range=(0.0, 3.0))
    assert result.hist is not None and result.bin_edges.shape == (5,)
    np.testing.assert_array_equal(hist.numpy(), [0, 2, 1, 0])
    assert not hist.requires_grad


def test_metadata_helpers():
    z = ember.tensor([1 + 1j])
    assert z.resolve_conj() is z and z.resolve_neg() is z
    assert not z.is_conj() and not ember.is_neg(z)
    assert ember.is_nonzero(ember.tensor([[0.5]])) and not ember.tensor(0).is_nonzero()
