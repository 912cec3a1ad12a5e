"""Tensor.stride() reports PyTorch's strides for dims of size 1 that NumPy leaves at 0 (indexing with None, which
is PyTorch's unsqueeze: size * stride of the next dim, 1 for the last), and unsqueeze of a non-contiguous tensor
gets PyTorch's stride where NumPy's reshape would pick another. Broadcast dims keep their 0."""
import pytest

import ember

CASES = {
    "none_front": lambda m: m.zeros(2, 3)[None],
    "none_middle": lambda m: m.zeros(2, 3)[:, None],
    "none_twice": lambda m: m.zeros(2, 3)[None, None],
    "none_two_places": lambda m: m.zeros(2, 3)[:, None, None],
    "none_of_transposed": lambda m: m.zeros(2, 3).t()[None],
    "none_last": lambda m: m.zeros(2, 3)[..., None],
    "unsqueeze": lambda m: m.zeros(2, 3).unsqueeze(1),
    "unsqueeze_transposed_0": lambda m: m.zeros(2, 3).t().unsqueeze(0),
    "unsqueeze_transposed_1": lambda m: m.zeros(2, 3).t().unsqueeze(1),
    "unsqueeze_transposed_2": lambda m: m.zeros(2, 3).t().unsqueeze(2),
    "unsqueeze_permuted": lambda m: m.zeros(2, 3, 4).permute(2, 0, 1).unsqueeze(3),
    "unsqueeze_strided": lambda m: m.zeros(2, 3)[:, ::2].unsqueeze(2),
    "slice_size_one": lambda m: m.zeros(2, 3)[:, 0:1],
    "expand": lambda m: m.zeros(1, 3).expand(4, 3),
    "expand_then_none": lambda m: m.zeros(1, 3).expand(4, 3)[None],
    "size_one_dims": lambda m: m.zeros(3, 1, 2),
}


@pytest.mark.parametrize("name", CASES)
def test_strides_match_torch(torch, name):
    ours, theirs = CASES[name](ember), CASES[name](torch)
    assert ours.stride() == theirs.stride()
    assert [ours.stride(d) for d in range(-ours.dim(), ours.dim())] == \
        [theirs.stride(d) for d in range(-theirs.dim(), theirs.dim())]
    assert ours.is_contiguous() == theirs.is_contiguous()


def test_strides_without_torch():
    assert ember.zeros(2, 3)[None].stride() == (6, 3, 1)
    assert ember.zeros(2, 3).t().unsqueeze(2).stride() == (1, 3, 1)
    assert ember.zeros(1, 3).expand(4, 3).stride() == (0, 1)


def test_reported_strides_address_the_same_elements():
    """as_strided with the reported strides reads what the view holds (a size-1 dim is only ever at index 0)."""
    base = ember.arange(6.0).reshape(2, 3)
    view = base.t()[None]
    again = base.as_strided(view.shape, view.stride(), view.storage_offset())
    assert ember.equal(again, view)
