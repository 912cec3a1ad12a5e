"""add/sub's `alpha`: PyTorch refuses a float alpha for integral results and a complex alpha for real ones,
on every path (function, method, in-place fast path), and computes bool arithmetic in bool."""
import pytest

import ember

CASES = [
    ("add", "int64", "int64", 0.5), ("add", "int64", "scalar", 0.5), ("sub", "int32", "int64", 1.5),
    ("add", "float32", "int64", 0.5), ("add", "int64", "float32", 0.5), ("add", "float32", "float32", 1j),
    ("add", "complex64", "float32", 1j), ("add", "bool", "bool", 2), ("add", "bool", "bool", 0),
    ("add", "int64", "int64", 3), ("sub", "float64", "float64", -2.5), ("add", "int64", "bool", 2),
]


def _run(lib, op, dtype_a, dtype_b, alpha, inplace):
    a = lib.tensor([1, 2, 0]).to(getattr(lib, dtype_a))
    b = 2 if dtype_b == "scalar" else lib.tensor([3, 0, 1]).to(getattr(lib, dtype_b))
    try:
        out = getattr(a, op + "_")(b, alpha=alpha) if inplace else getattr(lib, op)(a, b, alpha=alpha)
    except RuntimeError as e:
        return "error", str(e), a.tolist()
    return str(out.dtype).split(".")[-1], out.tolist(), a.tolist()


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("op, dtype_a, dtype_b, alpha", CASES)
def test_alpha_matches_torch(op, dtype_a, dtype_b, alpha, inplace):
    torch = pytest.importorskip("torch")
    mine, theirs = _run(ember, op, dtype_a, dtype_b, alpha, inplace), _run(torch, op, dtype_a, dtype_b, alpha, inplace)
    if mine[0] == theirs[0] == "error":            # ember may name the op after torch's sentence
        assert mine[1].startswith(theirs[1]) and mine[2] == theirs[2], (mine, theirs)
    else:
        assert mine == theirs


def test_float_alpha_on_integers_is_refused_before_writing():
    a = ember.tensor([1, 2])
    with pytest.raises(RuntimeError, match="integral input tensors, argument alpha"):
        a.add_(ember.tensor([3, 4]), alpha=0.5)
    assert a.tolist() == [1, 2] and a._version == 0
    assert ember.add(ember.tensor([True]), ember.tensor([True]), alpha=2).tolist() == [True]
