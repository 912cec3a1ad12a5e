"""Divergences from PyTorch found by the differential fuzzer's indexing family (tests/differential/indexing.py).

Each test checks ember's own answer, then (where PyTorch is installed) that PyTorch gives the same one."""
import pytest

import ember


def _outcome(m, f):
    try:
        return f(m)
    except Exception as e:
        return type(e).__name__


def _agrees(f, expected):
    assert _outcome(ember, f) == expected
    try:
        import torch
    except ImportError:
        return
    assert _outcome(torch, f) == expected


MIXED = [
    lambda m: m.zeros(3, dtype=m.float64).scatter(0, m.tensor([0, 1]), m.ones(2)),
    lambda m: m.zeros(3, dtype=m.float64).scatter(0, m.tensor([0, 1]), m.ones(2), reduce="add"),
    lambda m: m.zeros(3, dtype=m.float64).scatter_add(0, m.tensor([0, 1]), m.ones(2)),
    lambda m: m.zeros(3, dtype=m.float64).scatter_reduce(0, m.tensor([0, 1]), m.ones(2), "amax"),
    lambda m: m.zeros(3, dtype=m.float64).scatter_add_(0, m.tensor([0, 1]), m.ones(2)),
]


@pytest.mark.parametrize("k", range(len(MIXED)))
def test_scatter_refuses_a_src_of_another_dtype(k):
    _agrees(lambda m: type(MIXED[k](m)).__name__, "RuntimeError")


def test_scatter_with_a_src_of_the_same_dtype_still_runs():
    _agrees(lambda m: m.zeros(3).scatter_add(0, m.tensor([0, 0]), m.ones(2)).tolist(), [2.0, 0.0, 0.0])


def _put(m, index, value, dtype="float64"):
    x = m.zeros(3, dtype=getattr(m, dtype))
    x[index(m)] = value(m)
    return x.tolist()


@pytest.mark.parametrize("index, value, expected", [
    (lambda m: m.tensor([0, 1]), lambda m: m.ones(2), "RuntimeError"),                 # index_put_: no cast
    (lambda m: [0, 2], lambda m: m.tensor(1.0), "RuntimeError"),
    (lambda m: m.tensor([0, 1]), lambda m: m.ones(2, dtype=m.long), "RuntimeError"),
    (lambda m: m.tensor([True, False, True]), lambda m: m.tensor(2.0), [2.0, 0.0, 2.0]),   # masked_fill_
    (lambda m: m.tensor([True, False, True]), lambda m: m.ones(2), "RuntimeError"),
    (lambda m: slice(0, 2), lambda m: m.ones(2), [1.0, 1.0, 0.0]),                     # copy_ casts
    (lambda m: m.tensor([0, 1]), lambda m: m.ones(2, dtype=m.float64), [1.0, 1.0, 0.0]),
])
def test_setitem_with_an_advanced_index_does_not_cast_the_value(index, value, expected):
    _agrees(lambda m: _put(m, index, value), expected)


def test_index_put_wants_a_tensor_of_the_same_dtype():
    _agrees(lambda m: m.zeros(3).index_put((m.tensor([0]),), 2.5), "TypeError")
    _agrees(lambda m: m.zeros(3, dtype=m.float64).index_put_((m.tensor([0]),), m.tensor(2.5)), "RuntimeError")
    _agrees(lambda m: m.zeros(3).index_put_((m.tensor([True, False, True]),), m.tensor(2.5, dtype=m.float64))
            .tolist(), [2.5, 0.0, 2.5])


def test_scatter_with_reduce_has_no_derivative():
    def f(m):
        x = m.ones(3, requires_grad=True)
        y = x.scatter(0, m.tensor([0]), 2.0, reduce="multiply")
        assert y.requires_grad and y.tolist() == [2.0, 1.0, 1.0]
        y.sum().backward()
        return x.grad.tolist()
    _agrees(f, "RuntimeError")

    def g(m):      # scatter_reduce keeps its derivative
        x = m.ones(3, requires_grad=True)
        x.scatter_reduce(0, m.tensor([0]), m.ones(1), "sum").sum().backward()
        return x.grad.tolist()
    _agrees(g, [1.0, 1.0, 1.0])


def test_setitem_into_an_empty_tensor_is_no_overlapping_write():
    def f(m):
        x = m.zeros(2, 0).clone()
        x[None] = 2.5               # NumPy gives an empty array strides 0: no element is written twice
        x[:, :] = m.ones(2, 0)
        return list(x.shape)
    _agrees(f, [2, 0])
