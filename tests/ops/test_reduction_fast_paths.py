"""The per-op fast paths of the reductions, scans and views (issue 15): max()/min() through apply_binary, the
NumPy ufunc reductions, argmax/argmin without a NaN pass, logsumexp without errstate, the scans' accumulator
lookup, view/reshape through apply_binary. Each keeps PyTorch's values, dtypes, errors and autograd."""
import warnings

import numpy as np
import pytest

import ember

NAN, INF = float("nan"), float("inf")


def _values(t):
    return t.detach().numpy().tolist()


# --- max() / min() over all elements ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["max", "min"])
def test_max_all_values_grad_and_node(name):
    x = ember.tensor([[1.0, 3.0], [3.0, -2.0]], requires_grad=True)
    y = getattr(x, name)()
    assert y.shape == () and y.dtype is ember.float32
    assert y.item() == (3.0 if name == "max" else -2.0)
    assert type(y.grad_fn).__name__ == ("MaxBackward1" if name == "max" else "MinBackward1")
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]
    y.backward()
    want = [[0.0, 0.5], [0.5, 0.0]] if name == "max" else [[0.0, 0.0], [0.0, 1.0]]
    assert _values(x.grad) == want                        # ties share the gradient
    assert getattr(ember.tensor([2, 7, 5]), name)().dtype is ember.int64
    assert getattr(ember.tensor([True, False]), name)().dtype is ember.bool
    assert np.isnan(getattr(ember.tensor([1.0, NAN, 3.0]), name)().item())


def test_max_all_saves_its_result_version_checked():
    x = ember.tensor([1.0, 4.0, 2.0], requires_grad=True)
    y = (x * 1).max()
    y.add_(1)                                             # the saved result changed: PyTorch refuses backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_max_all_empty_still_refused():
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        ember.zeros(0).max()
    with pytest.raises(RuntimeError, match=r"amin\(\): Expected reduction dim to be specified"):
        ember.zeros(2, 0).amin()
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 1 to have non-zero size"):
        ember.zeros(2, 0).amax(1)
    assert ember.zeros(2, 0).amax(0).shape == (0,)


# --- sum / amax over one dim -----------------------------------------------------------------------

def test_sum_and_amax_over_one_dim():
    x = ember.arange(6.0).view(2, 3)
    assert _values(x.sum(1)) == [3.0, 12.0] and _values(x.sum(-2)) == [3.0, 5.0, 7.0]
    assert _values(x.amax(-1)) == [2.0, 5.0] and _values(x.amin(0, keepdim=True)) == [[0.0, 1.0, 2.0]]
    assert x.sum(1, keepdim=True).shape == (2, 1)
    assert ember.tensor([[1, 2], [3, 4]], dtype=ember.int32).sum(0).dtype is ember.int64
    assert ember.tensor([[True, True]]).sum(1).dtype is ember.int64
    assert ember.tensor(5.0).sum(0).item() == 5.0 and ember.tensor(5.0).sum(-1).shape == ()
    for dim in (2, -3):
        with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\]"):
            x.sum(dim)
        with pytest.raises(IndexError, match="Dimension out of range"):
            x.amax(dim)
    t = ember.arange(12.0).view(3, 4).t()                 # not contiguous: the result is contiguous
    assert _values(t.sum(0)) == [6.0, 22.0, 38.0] and t.amax(1).is_contiguous()
    x = ember.arange(6.0).view(2, 3).requires_grad_()
    x.amax(1).sum().backward()
    assert _values(x.grad) == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]


# --- argmax / argmin -------------------------------------------------------------------------------

def test_argmax_argmin_nan_and_layouts():
    a = ember.tensor([[1.0, NAN, 5.0], [NAN, 2.0, NAN], [0.0, -1.0, 4.0]])
    assert _values(a.argmax(1)) == [1, 0, 2] and _values(a.argmin(1)) == [1, 0, 1]
    assert _values(a.argmax(0)) == [1, 0, 1] and a.argmax().item() == 1 and a.argmin().item() == 1
    assert a.argmax(dim=-1, keepdim=True).shape == (3, 1) and a.argmax(keepdim=True).shape == (1, 1)
    assert a.argmax().dtype is ember.int64 and a.argmax(0).dtype is ember.int64
    b = ember.tensor([[3, 1], [0, 7]]).t()                # not contiguous: flattened in logical order
    assert b.argmax().item() == 3 and b.argmin().item() == 1
    assert ember.tensor(2.0).argmax().item() == 0 and ember.tensor(2.0).argmax(0).shape == ()
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.argmax(2)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        ember.zeros(0).argmax()
    assert a.argmax().grad_fn is None


# --- logsumexp -------------------------------------------------------------------------------------

def test_logsumexp_non_finite_rows_and_empty_without_warnings():
    rows = ember.tensor([[-INF, -INF], [INF, 1.0], [NAN, 1.0], [1.0, 2.0]])
    with warnings.catch_warnings(), np.errstate(all="raise"):   # no warning, no FloatingPointError
        warnings.simplefilter("error")
        out = rows.logsumexp(1)
        empty = ember.zeros(0, 3).logsumexp(0)
    got = _values(out)
    assert got[0] == -INF and got[1] == INF and np.isnan(got[2])
    assert got[3] == pytest.approx(float(np.logaddexp(1.0, 2.0)), rel=1e-6)
    assert _values(empty) == [-INF] * 3
    assert rows.logsumexp(1, keepdim=True).shape == (4, 1) and rows.logsumexp((0, 1)).shape == ()
    x = ember.tensor([[0.0, 0.0], [1.0, 1.0]], requires_grad=True)
    x.logsumexp(1).sum().backward()
    assert _values(x.grad) == [[0.5, 0.5], [0.5, 0.5]]


# --- scans -----------------------------------------------------------------------------------------

def test_cumsum_accumulates_wide_for_every_dtype():
    # float32 sums in float64 and rounds each output, as PyTorch's CPU kernel does
    x = ember.tensor([1e8, 1.0, -1e8, 1.0], dtype=ember.float32)
    assert _values(x.cumsum(0)) == [1e8, 1e8, 1.0, 2.0]
    h = ember.tensor([2048.0, 1.0, 1.0, -2048.0], dtype=ember.float16)
    assert _values(h.cumsum(0)) == [2048.0, 2048.0, 2050.0, 2.0] and h.cumsum(0).dtype is ember.float16
    assert ember.tensor([1, 2, 3], dtype=ember.int8).cumsum(0).dtype is ember.int64
    assert x.cumsum(0, dtype=ember.float64).dtype is ember.float64
    assert x.cumsum(0, dtype=ember.float16).dtype is ember.float16
    assert ember.tensor([1e8, 1.0, -1e8], dtype=ember.float32).logcumsumexp(0).dtype is ember.float32


# --- view / reshape --------------------------------------------------------------------------------

def test_view_and_reshape_keep_view_semantics():
    x = ember.arange(6.0, requires_grad=True)
    v = x.view(2, 3)
    assert type(v.grad_fn).__name__ == "ViewBackward0" and v._base is x
    r = x.reshape(3, 2)
    assert type(r.grad_fn).__name__ == "ViewBackward0" and r._base is x
    (v.sum() + r[0, 1] * 2).backward()
    assert _values(x.grad) == [1.0, 3.0, 1.0, 1.0, 1.0, 1.0]
    with ember.no_grad():
        b = ember.zeros(6)
        w = b.view(2, 3)
        w[0, 0] = 5.0                                     # shares memory and the version counter
    assert b[0].item() == 5.0 and b._version == w._version == 1
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        ember.zeros(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match="shape '\\[4\\]' is invalid for input of size 6"):
        ember.zeros(6).view(4)


# --- against PyTorch -------------------------------------------------------------------------------

CASES = {
    "max": lambda m, x: x.max(),
    "min": lambda m, x: x.min(),
    "sum dim": lambda m, x: x.view(4, 5).sum(1),
    "sum neg dim": lambda m, x: x.view(4, 5).sum(-2, keepdim=True),
    "amax dim": lambda m, x: x.view(4, 5).amax(1),
    "amin dims": lambda m, x: x.view(2, 2, 5).amin((0, -1)),
    "argmax": lambda m, x: x.argmax(),
    "argmin dim": lambda m, x: x.view(4, 5).argmin(0, keepdim=True),
    "logsumexp": lambda m, x: x.view(4, 5).logsumexp(1),
    "cumsum": lambda m, x: x.cumsum(0),
    "view": lambda m, x: x.view(2, 10) * 2,
    "reshape": lambda m, x: x.reshape(5, -1) * 2,
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_paths_match_torch(torch, case):
    data = np.random.default_rng(3).standard_normal(20).astype(np.float32)
    data[7] = data[3]                                     # a tie
    outs, grads = [], []
    for m in (ember, torch):
        x = m.from_numpy(data.copy()).requires_grad_()
        out = CASES[case](m, x)
        outs.append(out)
        if out.dtype.is_floating_point:
            (out * m.arange(out.numel(), dtype=out.dtype).view(out.shape)).sum().backward()
            grads.append(x.grad)
    got, want = outs
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype)[6:] == str(want.dtype)[6:]
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    if grads:
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
        np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-6, atol=1e-6)


def test_nan_argmax_and_max_match_torch(torch):
    data = np.array([[1.0, np.nan, 5.0, np.nan], [np.nan, 2.0, 3.0, 0.0], [0.0, -1.0, 4.0, 4.0]], np.float32)
    for fn in (lambda t: t.argmax(1), lambda t: t.argmin(0), lambda t: t.argmax(), lambda t: t.t().argmin(),
               lambda t: t.max(), lambda t: t[2].min(), lambda t: t.logsumexp(1)):
        got, want = fn(ember.from_numpy(data.copy())), fn(torch.from_numpy(data.copy()))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_arg_over_the_only_dim_of_a_vector_holds_an_array(name, keepdim):
    """argmax(v, dim=0) of a 1-d tensor: NumPy answers a scalar, which a tensor may not hold (Note [array
    storage]); found by tests/differential."""
    v = ember.tensor([0.5, 2.0, 0.5])
    out = getattr(ember, name)(v, dim=0, keepdim=keepdim)
    assert isinstance(out._array, np.ndarray) and out.dtype == ember.int64
    assert out.shape == ((1,) if keepdim else ()) and out.item() == (1 if name == "argmax" else 0)
    out += 1                                          # an in-place update reaches the tensor
    assert out.item() == (2 if name == "argmax" else 1)


def _extreme_outs(m, name):
    f = getattr(m, name)
    x = m.tensor([[1.0, 5.0], [3.0, 2.0]])
    whole = m.empty(0)
    r_whole = f(x, out=whole)
    values, indices = m.empty(0), m.empty(0, dtype=m.int64)
    r_dim = f(x, 1, out=(values, indices))
    other = m.empty(0)
    r_other = f(x, m.full((2, 2), 2.5), out=other)
    return ([whole.tolist(), values.tolist(), indices.tolist(), other.tolist()],
            [r_whole is whole, r_dim.values is values, r_dim.indices is indices, r_other is other,
             type(r_dim).__name__])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_write_out(name):
    """max/min honour out= (they ignored it): a Tensor for the whole-tensor and elementwise forms, a (values,
    indices) pair along a dim; the other pairings raise TypeError, as PyTorch's."""
    written, identities = _extreme_outs(ember, name)
    assert written == ([5.0, [5.0, 3.0], [1, 0], [[2.5, 5.0], [3.0, 2.5]]] if name == "max" else
                       [1.0, [1.0, 2.0], [0, 1], [[1.0, 2.5], [2.5, 2.0]]])
    assert identities == [True, True, True, True, name + "_out"]
    x = ember.ones(2, 2)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        getattr(ember, name)(x, 1, out=ember.empty(0))
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        getattr(ember, name)(x, out=(ember.empty(0), ember.empty(0, dtype=ember.int64)))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_out_matches_torch(torch, name):
    assert _extreme_outs(ember, name) == _extreme_outs(torch, name)
