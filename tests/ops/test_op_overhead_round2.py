"""Per-op overhead, round 2 (issue 15): linalg.vector_norm as PyTorch's one node, var/std's small whole-array
path, softmax through the ufuncs, sigmoid as PyTorch's kernel (0 where exp(-x) overflows), one-slice getitem,
and dtype.name kept off hot paths. Each keeps PyTorch's values, node names, saved values and errors."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

NAN, INF = float("nan"), float("inf")


def _np(t):
    return t.detach().numpy()


def _data(shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- vector_norm: one node ---------------------------------------------------------------------------

NORM_EXPRS = ["x.norm()", "x.norm(dim=1)", "x.norm(3, dim=(0, 1), keepdim=True)", "m.linalg.vector_norm(x, 0.5, dim=-1)",
              "x.norm(float('inf'))", "m.linalg.vector_norm(x, float('-inf'), dim=0)", "x.norm(1)",
              "m.linalg.vector_norm(x, 0)", "x.norm(p='fro', dim=1)", "x.t().norm()", "x[:, ::2].norm(dim=0)",
              "x.reshape(-1).norm()", "m.linalg.vector_norm(x, 2, dim=1, keepdim=True)"]


def _norm_case(m, expr, dtype):
    x = m.tensor(np.linspace(-1, 1, 12).reshape(3, 4) + 0.05, dtype=dtype, requires_grad=True)
    y = eval(expr)
    node = y.grad_fn
    saved = (node._saved_self is x, _np(node._saved_result).tolist(), node._saved_ord, node._saved_dim,
             node._saved_keepdim)
    nexts = [type(f).__name__ for f, _ in node.next_functions]
    grad = None if "vector_norm(x, 0)" in expr else m.autograd.grad(y.sum(), x)[0]
    return node.name(), nexts, saved, _np(y), None if grad is None else _np(grad)


def test_norm_is_one_node_without_torch():
    x = ember.tensor([3.0, 4.0], requires_grad=True)
    y = x.norm()
    assert y.item() == 5.0 and y.grad_fn.name() == "LinalgVectorNormBackward0"
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]
    assert y.grad_fn._saved_self is x and y.grad_fn._saved_result.item() == 5.0
    assert (y.grad_fn._saved_ord, y.grad_fn._saved_dim, y.grad_fn._saved_keepdim) == (2, None, False)
    y.backward()
    assert _np(x.grad).tolist() == [0.6000000238418579, 0.800000011920929]
    z = ember.zeros(3, requires_grad=True)
    (g,) = ember.autograd.grad(z.norm(), z, ember.tensor(NAN))      # NaN upstream at a zero norm leaks (grad * 0)
    assert np.isnan(_np(g)).all()
    (g,) = ember.autograd.grad(z.norm(), z)
    assert _np(g).tolist() == [0.0, 0.0, 0.0]
    # float16 squares accumulate in float32: no overflow past 256
    assert ember.tensor([300.0, 400.0], dtype=ember.float16).norm().item() == 500.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("expr", NORM_EXPRS)
def test_norm_matches_torch(torch, expr, dtype):
    got = _norm_case(ember, expr, getattr(ember, dtype))
    want = _norm_case(torch, expr, getattr(torch, dtype))
    assert got[0] == want[0] == "LinalgVectorNormBackward0"
    assert got[1] == want[1]
    g_self, g_res, g_ord, g_dim, g_keep = got[2]
    w_self, w_res, w_ord, w_dim, w_keep = want[2]
    assert g_self == w_self and g_ord == w_ord and type(g_ord) is type(w_ord) and g_keep == w_keep
    if w_dim is not None and max(w_dim) < 2 ** 63:          # PyTorch reports a negative dim wrapped to 2**64 + dim
        assert g_dim == w_dim
    else:
        assert (g_dim is None) == (w_dim is None)
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(np.asarray(g_res), np.asarray(w_res), rtol=rtol)
    np.testing.assert_allclose(got[3], want[3], rtol=rtol)
    if want[4] is not None:
        np.testing.assert_allclose(got[4], want[4], rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "complex64"])
def test_norm_other_dtypes_match_torch(torch, dtype):
    values = np.array([[300.0, -2.5, 0.125], [1.0, 7.0, -0.0]])
    if dtype == "complex64":
        values = values + 1j * values[::-1]
    for p in (2, 1, INF, 3):
        e = ember.tensor(values, dtype=getattr(ember, dtype), requires_grad=True)
        t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
        ye, yt = e.norm(p, dim=1), t.norm(p, dim=1)
        assert ye.dtype.name == str(yt.dtype).split(".")[1]
        np.testing.assert_allclose(_np(ye.float()), yt.detach().float().numpy(), rtol=2e-3)
        ge = ember.autograd.grad(ye.sum(), e)[0]
        gt = torch.autograd.grad(yt.sum(), t)[0]
        np.testing.assert_allclose(_np(ge.to(ember.complex64 if dtype == "complex64" else ember.float32)),
                                   gt.to(torch.complex64 if dtype == "complex64" else torch.float32).numpy(),
                                   rtol=1e-2, atol=1e-3)


def test_norm_nan_and_ties_backward_match_torch(torch):
    values = [[1.0, -3.0, 3.0], [NAN, 2.0, 0.0], [0.0, 0.0, 0.0]]
    for p in (2, INF, -INF, 1, 3):
        for m in (ember, torch):
            x = m.tensor(values, dtype=m.float64, requires_grad=True)
            y = m.linalg.vector_norm(x, p, dim=1)
            (g,) = m.autograd.grad(y, x, m.tensor([1.0, 1.0, NAN], dtype=m.float64))
            if m is ember:
                got = (_np(y), _np(g))
            else:
                want = (y.detach().numpy(), g.numpy())
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, equal_nan=True)


def test_norm_gradients_and_second_order():
    x = ember.tensor(_data(), requires_grad=True)
    for p in (2, 3, 1.5, INF):
        assert gradcheck(lambda t: ember.linalg.vector_norm(t, p, dim=1), (x,))
        assert gradgradcheck(lambda t: ember.linalg.vector_norm(t, p), (x,))


def test_norm_dot_path_agrees_with_the_sum_of_squares():
    for dtype in (np.float32, np.float64):
        a = np.random.default_rng(3).uniform(-2, 2, 2000).astype(dtype)
        got = ember.from_numpy(a).norm().item()
        assert math.isclose(got, math.sqrt((a.astype(np.float64) ** 2).sum()), rel_tol=1e-6)
        big = np.full(5000, 1e20, dtype)                       # past float32's range when squared: inf, as PyTorch
        assert ember.from_numpy(big).norm().item() == (INF if dtype is np.float32 else 1e20 * math.sqrt(5000))


# --- var / std ---------------------------------------------------------------------------------------

VAR_INPUTS = [np.random.default_rng(1).standard_normal(2000), np.random.default_rng(2).standard_normal((40, 50)) * 1e3 + 7,
              np.array([1.0, INF, 2.0]), np.array([NAN, 1.0]), np.array([-INF, INF]), np.array([3.0]), np.array([]),
              np.array(2.5)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_var_std_whole_array_match_torch_bit_for_bit(torch, dtype):
    for values in VAR_INPUTS:
        for correction in (0, 1, 2):
            e = ember.tensor(values, dtype=getattr(ember, dtype))
            t = torch.tensor(values, dtype=getattr(torch, dtype))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = [e.var(correction=correction), e.std(correction=correction)]
            # no floating-point RuntimeWarning from NumPy (the degrees-of-freedom UserWarning is PyTorch's too; a
            # float16 variance past 65504 still warns as it rounds to inf, as before)
            assert not [w for w in caught if issubclass(w.category, RuntimeWarning)
                        and "overflow encountered in cast" not in str(w.message)], values
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = [t.var(correction=correction), t.std(correction=correction)]
            for g, w in zip(got, want):
                assert g.dtype.name == str(w.dtype).split(".")[1] and g.shape == tuple(w.shape)
                np.testing.assert_array_equal(_np(g.float()), w.float().numpy(), err_msg=f"{values} {correction}")


def test_var_without_torch():
    x = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    v = x.var()
    assert v.item() == pytest.approx(5 / 3) and v.grad_fn.name() == "VarBackward0"
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(1.25))
    v.backward()
    np.testing.assert_allclose(_np(x.grad), [-1.0, -1 / 3, 1 / 3, 1.0], rtol=1e-6)
    assert math.isnan(ember.tensor([1.0, NAN]).var().item())
    assert math.isnan(ember.tensor([1.0, INF]).var().item())
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        assert math.isnan(ember.tensor([3.0]).var().item())
    m = ember.tensor([[1.0, 2.0], [3.0, 5.0]])
    assert _np(m.var(1)).tolist() == [0.5, 2.0] and ember.var_mean(m)[0].item() == pytest.approx(35 / 12)


# --- softmax -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_matches_torch(torch, dtype):
    a = _data((40, 50))
    a[3, :] = -INF
    a[4, 7] = INF
    a[5, 2] = NAN
    for dim in (0, 1, -1):
        e = ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=True)
        t = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
        ye, yt = e.softmax(dim), t.softmax(dim)
        assert ye.grad_fn.name() == yt.grad_fn.name() == "SoftmaxBackward0" and ye.grad_fn._saved_dim == dim % 2
        rtol = 1e-6 if dtype == "float32" else 1e-13
        np.testing.assert_allclose(_np(ye), yt.detach().numpy(), rtol=rtol, atol=1e-30)
        w = np.arange(2000.0).reshape(40, 50) / 2000
        ge = ember.autograd.grad(ye, e, ember.tensor(w, dtype=e.dtype))[0]
        gt = torch.autograd.grad(yt, t, torch.tensor(w, dtype=t.dtype))[0]
        np.testing.assert_allclose(_np(ge), gt.numpy(), rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-7)


def test_softmax_without_torch():
    x = ember.tensor([[0.0, math.log(3.0)], [1.0, 1.0]])
    np.testing.assert_allclose(_np(x.softmax(1)), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-6)
    y = ember.tensor([[1.0, 2.0], [3.0, 4.0]]).t().softmax(0)      # non-contiguous: the general path
    assert y.is_contiguous()
    np.testing.assert_allclose(_np(y), _np(ember.tensor([[1.0, 2.0], [3.0, 4.0]]).softmax(1)).T, rtol=1e-6)
    assert ember.tensor(2.0).softmax(0).item() == 1.0
    assert ember.tensor([1.0, 2.0], dtype=ember.float16).softmax(0).dtype is ember.float16


# --- sigmoid -----------------------------------------------------------------------------------------

SIGMOID_VALUES = [-800.0, -720.0, -200.0, -104.0, -100.0, -90.0, -88.8, -88.7, -0.001, 0.0, -0.0, 20.0, 800.0,
                  NAN, INF, -INF]


def test_sigmoid_overflow_gives_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _np(ember.sigmoid(ember.tensor(SIGMOID_VALUES)))
        out64 = _np(ember.sigmoid(ember.tensor(SIGMOID_VALUES, dtype=ember.float64)))
    # PyTorch's 1 / (1 + exp(-x)): 0 once exp(-x) overflows (float32 below -88.72), not a subnormal
    assert out[:7].tolist() == [0.0] * 7 and 0 < out[7] < 1e-38
    assert out64[:2].tolist() == [0.0, 0.0] and out64[2] == pytest.approx(1 / (1 + math.exp(200)))
    assert math.isnan(out[-3]) and out[-2] == 1.0 and out[-1] == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_sigmoid_extremes_match_torch(torch, dtype):
    e = ember.sigmoid(ember.tensor(SIGMOID_VALUES, dtype=getattr(ember, dtype)))
    t = torch.sigmoid(torch.tensor(SIGMOID_VALUES, dtype=getattr(torch, dtype)))
    got, want = _np(e.float()), t.float().numpy()
    exact = np.abs(np.array(SIGMOID_VALUES)) >= 88.8               # the saturated range is exactly PyTorch's
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype in ("float32", "float64") else 1e-2, atol=0)


# --- getitem with one slice --------------------------------------------------------------------------

SLICES = [slice(10, 100), slice(None), slice(None, None, 1), slice(None, None, 3), slice(-50, None),
          slice(5, 2), slice(None, 10 ** 6), slice(-10 ** 6, 3)]


def test_one_slice_getitem_is_a_view_with_the_right_node():
    x = ember.tensor(np.arange(200.0).reshape(100, 2), requires_grad=True)
    for item in SLICES:
        y = x[item]
        assert _np(y).tolist() == _np(x)[item].tolist()
        assert y._base is x
        assert type(y.grad_fn).__name__ == "SliceBackward0"       # x[:] too, as PyTorch's
    with ember.no_grad():
        base = ember.arange(10.0)
        view = base[2:5]
        view[0] = -1.0                                        # writes through: a view
    assert base[2].item() == -1.0
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::0]
    assert _np(x[np.int64(1):True + 2]).tolist() == _np(x)[1:3].tolist()    # not plain ints: the general path
    assert _np(x[ember.tensor(1):3]).tolist() == _np(x)[1:3].tolist()


def test_one_slice_getitem_matches_torch(torch):
    for m in (ember, torch):
        x = m.tensor(np.arange(20.0).reshape(10, 2), requires_grad=True)
        outs = [x[item] for item in SLICES]
        loss = sum((o * (k + 1)).sum() for k, o in enumerate(outs))
        (g,) = m.autograd.grad(loss, x)
        names = [o.grad_fn.name() for o in outs]
        if m is ember:
            got = (names, [_np(o).tolist() for o in outs], _np(g))
        else:
            want = (names, [o.detach().numpy().tolist() for o in outs], g.numpy())
    assert got[0] == want[0]
    assert got[1] == want[1]
    np.testing.assert_array_equal(got[2], want[2])


# --- dtype.name off the hot paths -------------------------------------------------------------------

def test_pooling_lowest_and_bfloat16_einsum():
    from ember.ops.pooling import _lowest
    assert _lowest(np, np.dtype(np.float32)) == -INF and _lowest(np, np.dtype(np.int16)) == -32768
    assert _lowest(np, np.dtype(np.uint8)) == 0
    x = ember.tensor([[-3, -1], [-2, -5]], dtype=ember.int32)
    assert _np(ember.nn.functional.max_pool1d(x.unsqueeze(0), 2)).tolist() == [[[-1], [-2]]]
    b = ember.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=ember.bfloat16)
    assert _lowest(np, b._array.dtype) == -INF
    out = ember.einsum("ij,jk->ik", b, b)
    assert out.dtype is ember.bfloat16 and _np(out.float()).tolist() == [[7.0, 10.0], [15.0, 22.0]]
