"""Comparison, logical and bitwise ops (and where, clamp, maximum, isclose) on shapes that do not broadcast
raise PyTorch's RuntimeError naming the two sizes and the dimension, not NumPy's ValueError."""
import pytest

import ember

INT = "dtype=T.int64"
CASES = [  # (expression, the sizes a and b, the dimension)
    ("T.eq(T.ones(3), T.ones(4))", 3, 4, 0), ("T.ones(3) == T.ones(4)", 3, 4, 0),
    ("T.ones(3) != T.ones(4)", 3, 4, 0), ("T.ones(3) < T.ones(4)", 3, 4, 0), ("T.le(T.ones(2, 3), T.ones(4))", 3, 4, 1),
    ("T.gt(T.ones(3), T.ones(4))", 3, 4, 0), ("T.ge(T.ones(2, 3, 4), T.ones(5, 4))", 3, 5, 1),
    ("T.ones(3, 1) == T.ones(2, 4)", 3, 2, 0), ("T.ones(3) == T.ones(2, 4)", 3, 4, 1),
    ("T.ones(3).eq_(T.ones(4))", 3, 4, 0), ("T.ones(3).ne_(T.ones(4))", 3, 4, 0),
    ("T.lt(T.ones(3), T.ones(4), out=T.empty(3, dtype=T.bool))", 3, 4, 0),
    ("T.logical_and(T.ones(3), T.ones(4))", 3, 4, 0), ("T.logical_or(T.ones(3), T.ones(4))", 3, 4, 0),
    ("T.logical_xor(T.ones(3), T.ones(4))", 3, 4, 0), ("T.ones(3).logical_and_(T.ones(4))", 3, 4, 0),
    (f"T.ones(3, {INT}) & T.ones(4, {INT})", 3, 4, 0), (f"T.ones(3, {INT}) | T.ones(4, {INT})", 3, 4, 0),
    (f"T.ones(3, {INT}) ^ T.ones(4, {INT})", 3, 4, 0), (f"T.ones(3, {INT}) << T.ones(4, {INT})", 3, 4, 0),
    (f"T.ones(3, {INT}) >> T.ones(4, {INT})", 3, 4, 0), (f"T.ones(3, {INT}).bitwise_and_(T.ones(4, {INT}))", 3, 4, 0),
    ("T.where(T.ones(3, dtype=T.bool), T.ones(4), T.ones(3))", 3, 4, 0),
    ("T.where(T.ones(3, dtype=T.bool), T.ones(3), T.ones(4))", 3, 4, 0),
    ("T.where(T.ones(2, 3, dtype=T.bool), T.ones(3, 3), T.ones(3))", 2, 3, 0),
    ("T.clamp(T.ones(3), T.ones(4))", 3, 4, 0), ("T.clamp(T.ones(3), T.ones(3), T.ones(4))", 3, 4, 0),
    ("T.maximum(T.ones(3), T.ones(4))", 3, 4, 0), ("T.fmin(T.ones(3), T.ones(4))", 3, 4, 0),
    ("T.isclose(T.ones(3), T.ones(4))", 3, 4, 0),
]


def _raised(module, expr):
    with pytest.raises(Exception) as info:
        eval(expr, {"T": module})
    return info.type, str(info.value)


@pytest.mark.parametrize("expr, size_a, size_b, dim", CASES)
def test_shapes_that_do_not_broadcast_raise_runtime_error(expr, size_a, size_b, dim):
    kind, message = _raised(ember, expr)
    expected = (f"the size of tensor a ({size_a}) must match the size of tensor b ({size_b}) at non-singleton "
                f"dimension {dim}")
    assert kind is RuntimeError and expected in message
    torch = pytest.importorskip("torch")
    torch_kind, torch_message = _raised(torch, expr)
    assert torch_kind is RuntimeError and expected.capitalize() in torch_message
