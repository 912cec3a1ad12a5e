"""repr/str of tensors equal PyTorch's (after `torch.` -> `ember.`) on many random cases and options."""
import itertools

import numpy as np
import pytest

import ember

KINDS = {
    "small": lambda rng, n: rng.uniform(-1, 1, n),
    "big": lambda rng, n: rng.uniform(-1e6, 1e6, n),
    "huge": lambda rng, n: rng.uniform(-1e10, 1e10, n),
    "tiny": lambda rng, n: rng.uniform(-1e-6, 1e-6, n),
    "mixed": lambda rng, n: rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-6, 6, n),
    "ints": lambda rng, n: rng.integers(-100, 100, n).astype(float),
    "special": lambda rng, n: rng.choice([np.nan, np.inf, -np.inf, 0.0, 1.5, -2.25, 1e5], n),
    "int_special": lambda rng, n: rng.choice([np.nan, np.inf, 3.0, -7.0], n),
    "zeros": lambda rng, n: np.zeros(n),
}
SHAPES = [(), (1,), (5,), (3, 4), (2, 3, 4), (0,), (0, 3), (2, 0, 3), (30,), (12, 9), (1001,), (40, 40),
          (3, 2, 400), (2, 1, 1)]
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "int8", "bool", "complex64"]
OPTIONS = [dict(precision=2), dict(precision=8), dict(sci_mode=True), dict(sci_mode=False), dict(linewidth=40),
           dict(linewidth=200), dict(threshold=10), dict(threshold=10, edgeitems=1), dict(edgeitems=5, threshold=20),
           dict(profile="short"), dict(profile="full"), dict(threshold=5, edgeitems=0)]


@pytest.fixture
def restore_printoptions(torch):
    yield
    for m in (ember, torch):
        m.set_printoptions(profile="default")
        m.set_printoptions(sci_mode=None)


def _pair(torch, kind, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = KINDS[kind](rng, n).reshape(shape)
    if dtype in ("int64", "int32", "uint8", "int8", "bool"):
        if kind in ("special", "int_special"):
            return None
        values = np.abs(values) % 120 if dtype in ("uint8", "int8") else values
    if dtype == "complex64":
        values = values + 1j * KINDS[kind](rng, n).reshape(shape)
    with np.errstate(all="ignore"):
        t = torch.tensor(values).to(getattr(torch, dtype))
    host = t.float().numpy() if dtype == "bfloat16" else t.numpy()
    return ember.tensor(host).to(getattr(ember, dtype)), t


def _check(e, t):
    want = repr(t).replace("torch.", "ember.")
    assert repr(e) == want, f"\n{repr(e)}\n--- torch:\n{want}"
    assert str(e) == repr(e)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_repr_matches_torch(torch, kind):
    for n, (shape, dtype) in enumerate(itertools.product(SHAPES, DTYPES)):
        pair = _pair(torch, kind, shape, dtype, n)
        if pair is not None:
            _check(*pair)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_set_printoptions_matches_torch(torch, restore_printoptions, options):
    ember.set_printoptions(**options)
    torch.set_printoptions(**options)
    # get_printoptions lives in _tensor_str in both (torch has no top-level torch.get_printoptions)
    assert ember._tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
    for n, (kind, shape, dtype) in enumerate(itertools.product(["small", "big", "mixed", "ints", "special"],
                                                               [(), (5,), (3, 4), (30,), (12, 9), (1001,)],
                                                               ["float32", "float64", "int64"])):
        pair = _pair(torch, kind, shape, dtype, n)
        if pair is not None:
            _check(*pair)


def test_autograd_suffixes_match_torch(torch):
    for dtype in ("float32", "float64"):
        for shape in [(), (3,), (30,), (4, 12)]:
            e, t = _pair(torch, "small", shape, dtype, 0)
            e.requires_grad_()
            t.requires_grad_()
            _check(e, t)
            for fn in (lambda m, x: x * 2, lambda m, x: x.sum(), lambda m, x: m.exp(x), lambda m, x: x[None],
                       lambda m, x: x.reshape(-1), lambda m, x: x.mean(), lambda m, x: x + 1, lambda m, x: -x,
                       lambda m, x: x.t() if x.ndim == 2 else x.unsqueeze(0), lambda m, x: x.clone(),
                       lambda m, x: m.sigmoid(x), lambda m, x: x.abs(), lambda m, x: x.pow(3), lambda m, x: x / 3):
                _check(fn(ember, e), fn(torch, t))


def test_default_dtype_changes_the_suffix(torch):
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for dtype in ("float32", "float64", "complex64"):
            for shape in [(3,), (0,), (2, 0)]:
                _check(*_pair(torch, "small", shape, dtype, 1))
    finally:
        torch.set_default_dtype(torch.float32)


def test_fixed_examples():
    assert repr(ember.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ember.tensor(3)) == "tensor(3)"
    assert repr(ember.tensor([True, False])) == "tensor([ True, False])"
    assert repr(ember.tensor([1.5, float("nan"), float("inf")])) == "tensor([1.5000,    nan,    inf])"
    assert repr(ember.zeros(0)) == "tensor([])"
    assert repr(ember.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(ember.zeros(0, dtype=ember.int64)) == "tensor([], dtype=ember.int64)"
    assert repr(ember.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(ember.ones(2, dtype=ember.float16)) == "tensor([1., 1.], dtype=ember.float16)"
    assert repr(ember.tensor([1 + 2j])) == "tensor([1.+2.j])"
    assert repr(ember.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert repr(ember.ones(2, requires_grad=True) * 2) == "tensor([2., 2.], grad_fn=<MulBackward0>)"
    assert repr(ember.arange(2000)).count("...") == 1
    assert repr(ember.Size([2, 3])) == "ember.Size([2, 3])"
    assert f"{ember.tensor(2.5):.2f}" == "2.50"


def test_printoptions_validation():
    with pytest.raises(ValueError):
        ember.set_printoptions(profile="nope")


def test_return_types_print_like_torch(torch):
    values = [[1.0, 5.0], [3.0, 2.0]]
    for fn in (lambda m, x: x.max(0), lambda m, x: m.sort(x), lambda m, x: x.aminmax(), lambda m, x: x.topk(1),
               lambda m, x: x.kthvalue(1, 0), lambda m, x: x.median(1), lambda m, x: x.cummin(0), lambda m, x: x.mode(0),
               lambda m, x: m.linalg.slogdet(x)):
        assert repr(fn(ember, ember.tensor(values))) == repr(fn(torch, torch.tensor(values))).replace("torch.", "ember.")
