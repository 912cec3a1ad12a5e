"""An index tensor (a boolean mask or integer indices) changed in place after `t[index]`, `t[index] = v` or
F.embedding recorded a node makes backward raise PyTorch's in-place modification error, as PyTorch saves the
indices with their version; unchanged indices still give the right gradients."""
import pytest

import ember

pytestmark = pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")   # PyTorch's deprecation


def _mask_getitem(m):
    x = m.ones(4, requires_grad=True)
    mask = m.tensor([True, False, True, False])
    z = (x * 2)[mask]
    mask[1] = True
    z.sum().backward()


def _mask_setitem(m):
    x = m.ones(4, requires_grad=True)
    y = x * 2
    mask = m.tensor([True, False, True, False])
    y[mask] = 0.0
    mask[1] = True
    y.sum().backward()


def _mask_setitem_of_values(m):
    v = m.tensor([5.0, 6.0], requires_grad=True)
    y = m.ones(4)
    mask = m.tensor([True, False, True, False])
    y[mask] = v
    mask[1] = True
    y.sum().backward()


def _same_values_new_version(m):
    x = m.ones(4, requires_grad=True)
    mask = m.tensor([True, False, True, False])
    z = (x * 2)[mask]
    mask[1] = False
    z.sum().backward()


def _int_index(m):
    x = m.ones(4, requires_grad=True)
    idx = m.tensor([0, 2])
    z = (x * 2)[idx]
    idx[1] = 1
    z.sum().backward()


def _mask_and_slice(m):
    x = m.ones(2, 3, requires_grad=True)
    mask = m.tensor([True, False])
    z = x[mask, 1:]
    mask.fill_(True)
    z.sum().backward()


def _uint8_mask(m):
    x = m.ones(4, requires_grad=True)
    mask = m.tensor([1, 0, 1, 0], dtype=m.uint8)
    z = (x * 2)[mask]
    mask[1] = 1
    z.sum().backward()


def _index_put(m):
    x = m.ones(4, requires_grad=True)
    idx = m.tensor([0, 2])
    z = (x * 2).index_put((idx,), m.tensor(3.0))
    idx[0] = 1
    z.sum().backward()


def _index_put_accumulate(m):
    x = m.ones(4, requires_grad=True)
    y = x * 2
    idx = m.tensor([0, 2])
    y.index_put_((idx,), m.tensor(3.0), accumulate=True)
    idx[0] = 1
    y.sum().backward()


def _masked_scatter(m):
    x = m.ones(4, requires_grad=True)
    mask = m.tensor([True, False, True, False])
    z = (x * 2).masked_scatter(mask, m.tensor([5.0, 6.0], requires_grad=True))
    mask[1] = True
    z.sum().backward()


def _double_backward(m):
    x = m.ones(4, requires_grad=True)
    mask = m.tensor([True, False, True, False])
    z = (x * 2)[mask]
    (g,) = m.autograd.grad(z.sum() * z.sum(), x, create_graph=True)
    mask[0] = False
    g.sum().backward()


def _embedding(m):
    w = m.ones(5, 3, requires_grad=True)
    idx = m.tensor([0, 2, 2])
    out = m.nn.functional.embedding(idx, w)
    idx[0] = 4
    out.sum().backward()


def _embedding_bag(m):
    w = m.ones(5, 3, requires_grad=True)
    idx = m.tensor([0, 2, 2])
    out = m.nn.functional.embedding_bag(idx, w, m.tensor([0, 2]))
    idx[0] = 4
    out.sum().backward()


PROGRAMS = [_mask_getitem, _mask_setitem, _mask_setitem_of_values, _same_values_new_version, _int_index,
            _mask_and_slice, _uint8_mask, _index_put, _index_put_accumulate, _masked_scatter, _double_backward,
            _embedding, _embedding_bag]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__.strip("_"))
def test_modified_index_raises_at_backward(program):
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(ember)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(torch)


def test_unmodified_indices_give_the_gradients():
    x = ember.ones(4, requires_grad=True)
    mask = ember.tensor([True, False, True, False])
    y = x * 2
    y[mask] = 0.0
    z = (x * 3)[ember.tensor([1, 1])]
    (y.sum() + z.sum()).backward(retain_graph=True)
    assert x.grad.tolist() == [0.0, 8.0, 0.0, 2.0]
    assert y.grad_fn._saved_accumulate is False


def test_embedding_saves_its_indices_as_torch():
    def saved(m, **kwargs):
        w = m.ones(5, 3, requires_grad=True)
        node = m.nn.functional.embedding(m.tensor([0, 2, 2]), w, **kwargs).grad_fn
        return (node._saved_indices.tolist(), node._saved_padding_idx, node._saved_scale_grad_by_freq,
                node._saved_weight_sym_argsize_0)
    for kwargs in ({}, {"padding_idx": 1, "scale_grad_by_freq": True}, {"padding_idx": -2}):
        expected = saved(ember, **kwargs)
        assert expected[0] == [0, 2, 2] and expected[3] == 5
        torch = pytest.importorskip("torch")
        assert expected == saved(torch, **kwargs)
