"""Small API differences the vmap work turned up, each checked against PyTorch (and ember's own answer)."""
import pytest

import ember


def _both(torch, f):
    return f(ember), f(torch)


def test_tensor_where_takes_condition_then_other(torch):
    got, want = _both(torch, lambda m: m.tensor([1.0, 2.0, 3.0]).where(m.tensor([False, True, True]),
                                                                          m.zeros(3)).tolist())
    assert got == want == [0.0, 2.0, 3.0]


def test_squeeze_of_no_dims_squeezes_nothing(torch):
    got, want = _both(torch, lambda m: tuple(m.squeeze(m.zeros(1, 2, 1), ()).shape))
    assert got == want == (1, 2, 1)


def test_tile_takes_sizes_as_arguments_or_a_sequence(torch):
    got, want = _both(torch, lambda m: (tuple(m.ones(2).tile(2, 2).shape), tuple(m.tile(m.ones(2), (3,)).shape)))
    assert got == want == ((2, 4), (6,))


@pytest.mark.parametrize("make", [
    lambda m: (m.tensor([1, 2], dtype=m.int32), m.tensor(3)),
    lambda m: (m.tensor([1, 2], dtype=m.int32), m.tensor(3.0)),
    lambda m: (m.tensor([1.0, 2.0], dtype=m.float16), m.tensor(3.0, dtype=m.float64)),
    lambda m: (m.tensor(1), m.tensor(2.0)),
])
def test_block_diag_result_type(torch, make):
    got, want = _both(torch, lambda m: str(m.block_diag(*make(m)).dtype).split(".")[-1])
    assert got == want


def test_func_grad_results_have_no_history_unless_needed(torch):
    def run(m):
        g = m.func.grad(lambda v: (v * v).sum())(m.ones(2))
        h = m.func.jacrev(lambda v: v.sin())(m.ones(2))
        second = m.func.grad(m.func.grad(lambda v: (v ** 3).sum()))(m.tensor(2.0))
        p = m.ones(2, requires_grad=True)
        kept = m.func.grad(lambda v: (v * v).sum())(p)
        return g.requires_grad, h.requires_grad, second.item(), kept.requires_grad
    got, want = _both(torch, run)
    assert got == want == (False, False, 12.0, True)
