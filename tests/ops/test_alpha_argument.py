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


@pytest.mark.parametrize("alpha", [0.05, -0.1, 3.0, 1e-3, 2])
@pytest.mark.parametrize("form", ["add", "sub", "add_", "sub_", "add_graph"])
def test_float32_alpha_rounds_once_like_torch(form, alpha):
    """PyTorch's float32 add/sub with alpha is one fused multiply-add: a + alpha*b rounded once."""
    import numpy as np
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000).astype(np.float32)
    b = rng.standard_normal((2000,)).astype(np.float32)

    def run(m):
        x, y = m.tensor(a), m.tensor(b)
        if form == "add_graph":
            x.requires_grad_()
            return (x * 1).add_(y, alpha=alpha).detach().numpy()
        if form.endswith("_"):
            return getattr(x, form)(y, alpha=alpha).numpy()
        return getattr(m, form)(x, y, alpha=alpha).numpy()
    assert np.array_equal(run(ember).view(np.int32), run(torch).view(np.int32))
    exact = (a.astype(np.float64) + np.float64(np.float32(alpha)) * b * (-1 if form.startswith("sub") else 1))
    assert np.array_equal(run(ember), exact.astype(np.float32))


def test_float32_alpha_gradients():
    x, y = ember.ones(3, requires_grad=True), ember.ones(3, requires_grad=True)
    z = ember.sub(x, y, alpha=0.5)
    assert z.grad_fn.name() == "SubBackward0" and ember.add(x, y, alpha=0.5).grad_fn.name() == "AddBackward0"
    z.sum().backward()
    assert x.grad.tolist() == [1.0] * 3 and y.grad.tolist() == [-0.5] * 3
