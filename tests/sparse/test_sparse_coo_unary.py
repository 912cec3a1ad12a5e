"""Zero-preserving unary ops of sparse COO tensors against PyTorch: values, dtypes, layout and coalesced-ness of
the result (PyTorch coalesces first), their in-place forms (refused on an uncoalesced tensor), pow with a scalar
exponent, rounding division, the ops PyTorch refuses on a sparse tensor, and the gradients where PyTorch has them
(compared with torch's backward and checked by gradcheck through the values)."""
import math

import numpy as np
import pytest

import ember

from sparse_helpers import check_like_torch, quiet_torch  # noqa: F401

INDICES = [[0, 1, 1, 0, 2], [2, 0, 2, 2, 1]]          # (0, 2) twice
VALUES = [3.0, -4.0, 5.0, 0.25, -0.5]


def sample(m, dtype="float32", coalesced=False):
    s = m.sparse_coo_tensor(INDICES, m.tensor(VALUES).to(getattr(m, dtype)), (3, 3))
    return s.coalesce() if coalesced else s


ZERO_PRESERVING = ["abs", "absolute", "neg", "negative", "sin", "sinh", "tan", "tanh", "asin", "arcsin", "asinh",
                   "atan", "atanh", "sqrt", "square", "sign", "sgn", "relu", "floor", "ceil", "round", "trunc", "fix",
                   "frac", "expm1", "log1p", "erf", "erfinv", "deg2rad", "rad2deg", "nan_to_num", "isnan", "isinf",
                   "isposinf", "isneginf", "signbit"]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
@pytest.mark.parametrize("coalesced", [False, True])
@pytest.mark.parametrize("name", ZERO_PRESERVING)
def test_zero_preserving_unary_ops_match_torch(torch, name, dtype, coalesced):
    if name == "frac" and dtype == "int64":
        pytest.skip("ember's frac of an integer tensor is the dense one's (float), PyTorch refuses it")
    if name in ("rad2deg", "deg2rad") and dtype == "float16":
        pytest.skip("ember's float16 rad2deg rounds the constant to float16 first, dense tensors too (not sparse)")
    check_like_torch(torch, lambda m: getattr(m, name)(sample(m, dtype, coalesced)))


@pytest.mark.parametrize("name", ["sin", "abs", "sgn", "neg", "isnan", "nan_to_num", "relu"])
def test_complex_and_hybrid_inputs_match_torch(torch, name):
    check_like_torch(torch, lambda m: getattr(m, name)(sample(m, "complex64")) if name != "relu" else
                     m.relu(sample(m)))
    hybrid = lambda m: m.sparse_coo_tensor([[0, 1, 0]], m.arange(6.).reshape(3, 2) - 2, (2, 2))  # noqa: E731
    check_like_torch(torch, lambda m: getattr(m, name)(hybrid(m)))


def test_unary_values_without_torch():
    s = sample(ember)
    out = ember.sin(s)
    assert out.is_sparse and out.is_coalesced() and out._nnz() == 4 and not s.is_coalesced()
    assert out.indices().tolist() == [[0, 1, 1, 2], [2, 0, 2, 1]]
    np.testing.assert_allclose(out.values().numpy(), np.sin([3.25, -4.0, 5.0, -0.5]).astype(np.float32), rtol=1e-6)
    assert ember.relu(s).values().tolist() == [3.25, 0.0, 5.0, 0.0]
    assert ember.isnan(ember.sqrt(s)).values().tolist() == [False, True, False, True]
    assert ember.sign(s).dtype is ember.float32 and ember.floor(s.long()).dtype is ember.int64
    assert (-s)._nnz() == 5 and not (-s).is_coalesced()            # neg keeps the entries, as PyTorch
    with pytest.raises(NotImplementedError, match="aten::exp"):
        ember.exp(s)


@pytest.mark.parametrize("name", ["abs", "neg", "sin", "sinh", "tan", "tanh", "asin", "asinh", "atan", "atanh",
                                  "sqrt", "sign", "sgn", "relu", "floor", "ceil", "round", "trunc", "frac", "expm1",
                                  "log1p", "erf", "erfinv", "deg2rad", "rad2deg", "nan_to_num", "fix", "absolute"])
@pytest.mark.parametrize("coalesced", [False, True])
def test_in_place_forms_match_torch(torch, name, coalesced):
    """On a coalesced tensor they write in place; on an uncoalesced one PyTorch refuses them ("sin_ requires
    coalesced input"), except neg_, which keeps the entries."""
    def fn(m):
        s = sample(m, "float64", coalesced)
        out = getattr(s, name + "_")()
        assert out is s
        return s
    check_like_torch(torch, fn)
    if not coalesced and name not in ("neg",):
        with pytest.raises(RuntimeError) as theirs:
            fn(torch)
        with pytest.raises(RuntimeError) as ours:
            fn(ember)
        assert str(ours.value) == str(theirs.value)


def test_in_place_on_uncoalesced_is_refused_without_torch():
    s = sample(ember)
    with pytest.raises(RuntimeError, match="^sin_ requires coalesced input$"):
        s.sin_()
    assert s._nnz() == 5                                         # unchanged
    t = sample(ember)
    t.copy_(ember.sin(sample(ember)))                           # another tensor's result: an ordinary copy_
    assert t.is_coalesced() and ember.nn.functional.relu_(s.coalesce())._nnz() == 4


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, 2.5, -0.5, -2, 0, 1, 2.0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_pow_with_a_scalar_exponent_matches_torch(torch, exponent, dtype):
    if dtype == "int64" and isinstance(exponent, float):
        pytest.skip("PyTorch refuses an integer sparse tensor to a float power; ember gives the float result")
    check_like_torch(torch, lambda m: sample(m, dtype) ** exponent)
    check_like_torch(torch, lambda m: m.pow(sample(m, dtype, True), exponent))


OTHERS = {
    "pow tensor exponent": lambda m: sample(m) ** m.tensor(2.0),
    "scalar ** sparse": lambda m: 2 ** sample(m),
    "floor division": lambda m: sample(m) // 2,
    "int floor division": lambda m: sample(m, "int64") // 2,
    "div floor": lambda m: m.div(sample(m), 2, rounding_mode="floor"),
    "div trunc": lambda m: m.div(sample(m), 2, rounding_mode="trunc"),
    "mul scalar": lambda m: sample(m) * 2.5,
    "div scalar": lambda m: sample(m) / 4,
    "mul_ uncoalesced": lambda m: sample(m).mul_(2),
    "div_ uncoalesced": lambda m: sample(m).div_(2),
    "conj complex": lambda m: m.conj(sample(m, "complex64")),
    "round decimals": lambda m: m.round(sample(m), decimals=1),
    "nan_to_num arguments": lambda m: m.nan_to_num(m.sparse_coo_tensor([[0, 1, 2]], [math.nan, math.inf, -math.inf],
                                                                        (4,)), nan=1.0, posinf=2.0),
    "F.relu": lambda m: m.nn.functional.relu(sample(m)),
    "bool coalesced sin": lambda m: m.sin(sample(m, "bool", True)),
}


@pytest.mark.parametrize("name", OTHERS)
def test_other_elementwise_forms_match_torch(torch, name):
    check_like_torch(torch, OTHERS[name])


@pytest.mark.parametrize("name", ["exp", "cos", "log", "sigmoid", "reciprocal", "rsqrt", "exp2", "cosh", "acos",
                                  "logical_not", "isfinite", "angle"])
def test_ops_torch_refuses_on_sparse_are_refused(torch, name):
    for coalesced in (False, True):
        check_like_torch(torch, lambda m: getattr(m, name)(sample(m, coalesced=coalesced)))
    with pytest.raises((NotImplementedError, RuntimeError)):
        getattr(ember, name)(sample(ember))


# --- gradients --------------------------------------------------------------------------------------------

WITH_GRAD = ["abs", "neg", "square", "sign", "relu", "floor", "ceil", "round", "trunc", "frac", "log1p", "deg2rad",
             "rad2deg", "pow2", "pow3", "mul", "div"]


def _op(m, name):
    extra = {"pow2": lambda x: x ** 2, "pow3": lambda x: x.pow(3), "mul": lambda x: x * 3, "div": lambda x: x / 4}
    return extra.get(name) or getattr(m, name)


@pytest.mark.parametrize("name", WITH_GRAD)
def test_gradients_match_torch(torch, name):
    grads = []
    for m in (ember, torch):
        leaf = sample(m, "float64", True).requires_grad_()
        values = m.tensor(VALUES, dtype=m.float64, requires_grad=True)
        built = m.sparse_coo_tensor(INDICES, values, (3, 3))
        for x in (leaf, built):
            out = _op(m, name)(x)
            assert out.is_sparse
            (out.to_dense() * m.arange(9.0, dtype=m.float64).reshape(3, 3)).sum().backward()
        grads.append((type(out.grad_fn).__name__, leaf.grad.is_sparse, leaf.grad.to_dense().numpy(),
                      values.grad.numpy()))
    assert grads[0][:2] == grads[1][:2]
    np.testing.assert_allclose(grads[0][2], grads[1][2], rtol=1e-12)
    np.testing.assert_allclose(grads[0][3], grads[1][3], rtol=1e-12)


@pytest.mark.parametrize("name", ["abs", "neg", "square", "relu", "frac", "log1p", "deg2rad", "pow3", "mul", "div"])
def test_gradcheck_through_the_values(name):
    # away from the kinks and domain edges (frac at integers, log1p at -1), (0, 2) summed to 2.05
    values = ember.tensor([1.3, -0.4, 2.6, 0.75, -0.45], dtype=ember.float64, requires_grad=True)

    def f(v):
        return _op(ember, name)(ember.sparse_coo_tensor(INDICES, v, (3, 3))).to_dense()
    assert ember.autograd.gradcheck(f, (values,))


def test_gradient_values_without_torch():
    x = ember.sparse_coo_tensor([[0, 2]], ember.tensor([-2.0, 3.0], dtype=ember.float64), (4,)).requires_grad_()
    ember.relu(x).to_dense().sum().backward()
    assert x.grad.is_sparse and x.grad.to_dense().tolist() == [0.0, 0.0, 1.0, 0.0]
    y = x.detach().abs().requires_grad_()
    ember.log1p(y).to_dense().sum().backward()
    assert y.grad.to_dense().tolist() == [1 / 3, 0.0, 0.25, 0.0]


@pytest.mark.parametrize("name", ["sin", "sinh", "tan", "asin", "sqrt", "expm1", "erf", "nan_to_num"])
def test_backward_torch_refuses_is_refused(torch, name):
    """PyTorch's formulas for these need ops a sparse tensor lacks (cos, add with a scalar ...): both refuse."""
    errors = []
    for m in (ember, torch):
        x = sample(m, "float64", True).requires_grad_()
        out = getattr(m, name)(x).to_dense().sum()
        with pytest.raises((NotImplementedError, RuntimeError)) as info:
            out.backward()
        errors.append(type(info.value))
    assert errors[0] is errors[1]
