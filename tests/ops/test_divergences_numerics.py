"""Regression tests for the gradient-formula and numerics divergences from PyTorch 2.13 found by differential
testing (issue 12): pointwise ops, activations, reductions, losses, einsum/tensordot, scatter_reduce.

Each test checks ember against expected values written down from PyTorch (so it runs without torch), and
against the installed torch as well when there is one.
"""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

try:
    import torch as _torch
except ImportError:                                   # the expected values below still test ember
    _torch = None

NAN = float("nan")
INF = float("inf")
XS = [-4.0, -2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 3.0, 7.0]


def _libs():
    return (ember,) if _torch is None else (ember, _torch)


def F(lib):
    return lib.nn.functional


def values(t):
    return np.asarray(t.detach().tolist(), dtype=np.float64)


def assert_values(got, want, rtol=1e-6, atol=0.0):
    """Same values, NaN where NaN (and the same sign of zero when the values are exact)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def _grad_with_nan_at(lib, fn, k, dtype="float32"):
    x = lib.tensor(XS, dtype=getattr(lib, dtype), requires_grad=True)
    y = fn(lib, x)
    up = lib.ones(tuple(y.shape), dtype=y.dtype)
    up.view(-1)[k] = NAN
    (g,) = lib.autograd.grad(y, x, up)
    return values(g)


# --- item 1: a NaN/inf in the upstream gradient does not leak through masked formulas -----------------

NAN_UPSTREAM = {  # op -> gradient for a NaN upstream entry at 0, 4, 8 (PyTorch 2.13's values)
    "relu": (lambda L, x: F(L).relu(x), [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, NAN]]),
    "relu6": (lambda L, x: F(L).relu6(x), [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]]),
    "hardtanh": (lambda L, x: F(L).hardtanh(x), [[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, NAN, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]]),
    "clamp": (lambda L, x: x.clamp(-1, 1), [[0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, NAN, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]]),
    "clamp_min": (lambda L, x: x.clamp(min=0.0), [[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, NAN, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, NAN]]),
    "threshold": (lambda L, x: F(L).threshold(x, 0.3, 2.0), [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, NAN]]),
    "floor": (lambda L, x: L.floor(x), [[0.0] * 9] * 3),
    "ceil": (lambda L, x: L.ceil(x), [[0.0] * 9] * 3),
    "trunc": (lambda L, x: L.trunc(x), [[0.0] * 9] * 3),
    "round": (lambda L, x: L.round(x), [[0.0] * 9] * 3),
    "sign": (lambda L, x: L.sign(x), [[0.0] * 9] * 3),
    "div_floor": (lambda L, x: L.div(x, 2.0, rounding_mode="floor"), [[0.0] * 9] * 3),
    "div_trunc": (lambda L, x: L.div(x, 2.0, rounding_mode="trunc"), [[0.0] * 9] * 3),
    "pow0": (lambda L, x: x ** 0, [[0.0] * 9] * 3),
    "hardshrink": (lambda L, x: F(L).hardshrink(x), [[NAN, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, NAN]]),
    "softshrink": (lambda L, x: F(L).softshrink(x), [[NAN, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, NAN]]),
    "hardsigmoid": (lambda L, x: F(L).hardsigmoid(x), [[0.0] + [0.1666666716337204] * 6 + [0.0, 0.0], [0.0] + [0.1666666716337204] * 3 + [NAN] + [0.1666666716337204] * 2 + [0.0, 0.0], [0.0] + [0.1666666716337204] * 6 + [0.0, 0.0]]),
    "hardswish": (lambda L, x: F(L).hardswish(x), [[0.0, -0.1666666865348816, 0.1666666567325592, 0.3333333134651184, 0.5, 0.5833333134651184, 0.8333333730697632, 1.0, 1.0], [0.0, -0.1666666865348816, 0.1666666567325592, 0.3333333134651184, NAN, 0.5833333134651184, 0.8333333730697632, 1.0, 1.0], [0.0, -0.1666666865348816, 0.1666666567325592, 0.3333333134651184, 0.5, 0.5833333134651184, 0.8333333730697632, 1.0, NAN]]),
    "maximum": (lambda L, x: L.maximum(x, L.zeros(9)), [[0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, NAN, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, NAN]]),
    "minimum": (lambda L, x: L.minimum(x, L.zeros(9)), [[NAN, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, NAN, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0]]),
    "fmax": (lambda L, x: L.fmax(x, L.zeros(9)), [[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, NAN, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, NAN]]),
    "sinc": (lambda L, x: L.sinc(x), [[NAN, -0.5, 1.0, 1.2732396125793457, 0.0, -0.7728379964828491, -1.0, -0.3333333432674408, -0.1428571343421936], [-0.25, -0.5, 1.0, 1.2732396125793457, 0.0, -0.7728379964828491, -1.0, -0.3333333432674408, -0.1428571343421936], [-0.25, -0.5, 1.0, 1.2732396125793457, 0.0, -0.7728379964828491, -1.0, -0.3333333432674408, NAN]]),
    "margin_ranking": (lambda L, x: F(L).margin_ranking_loss(x, L.zeros(9), L.ones(9), reduction="none"), [[NAN, -1.0, -1.0, -1.0, -1.0, -0.0, -0.0, -0.0, -0.0], [-1.0, -1.0, -1.0, -1.0, NAN, -0.0, -0.0, -0.0, -0.0], [-1.0, -1.0, -1.0, -1.0, -1.0, -0.0, -0.0, -0.0, -0.0]]),
    "cumprod": (lambda L, x: L.cumprod(x, 0), [[NAN, -2.0, 4.0, -8.0, 30.0, 0.0, 0.0, 0.0, 0.0], [-0.0, -2.0, 4.0, -8.0, NAN, 0.0, 0.0, 0.0, 0.0], [-0.0, -2.0, 4.0, -8.0, NAN, 0.0, 0.0, 0.0, 0.0]]),
    "logcumsumexp": (lambda L, x: L.logcumsumexp(x, 0), [[0.18823561072349548, 1.390883445739746, 1.3865580558776855, 1.1230653524398804, 0.9651448726654053, 0.635892391204834, 0.5495216846466064, 0.7840465903282166, 0.9766524434089661], [1.1796287298202515, 1.3272876739501953, 1.2136873006820679, 0.8380497097969055, 0.4952335059642792, 0.635892391204834, 0.5495216846466064, 0.7840465903282166, 0.9766524434089661], [1.1882193088531494, 1.3907628059387207, 1.38623046875, 1.1225250959396362, 0.9642542600631714, 0.6347488760948181, 0.5471007227897644, 0.7661584615707397, 0.0]]),
    "prelu": (lambda L, x: F(L).prelu(x, L.tensor([0.3])), [[NAN] + [0.30000001192092896] * 4 + [1.0] * 4, [0.30000001192092896] * 4 + [NAN] + [1.0] * 4, [0.30000001192092896] * 4 + [0.30000001192092896, 1.0, 1.0, 1.0, NAN]]),
}


@pytest.mark.parametrize("name", sorted(NAN_UPSTREAM))
def test_item01_nan_upstream_gradient_is_selected_not_multiplied(name):
    fn, want = NAN_UPSTREAM[name]
    for row, k in zip(want, (0, 4, 8)):
        got = _grad_with_nan_at(ember, fn, k)
        assert_values(got, row, rtol=2e-6)
        if _torch is not None:
            assert_values(got, _grad_with_nan_at(_torch, fn, k), rtol=2e-6)


def test_item01_issue_reproducer():
    for lib in _libs():
        x = lib.tensor([-2.0, 0.5, 2.0], requires_grad=True)
        ((F(lib).relu(x) + F(lib).hardtanh(x) + x.clamp(-1, 1)) * NAN).sum().backward()
        assert_values(values(x.grad), [0.0, NAN, NAN])


NAN_INPUT = {  # op -> (value, gradient) at inputs [nan, inf, -inf, 0] (PyTorch 2.13's values)
    "hardshrink": (lambda L, x: F(L).hardshrink(x), [NAN, INF, -INF, 0.0], [1.0, 1.0, 1.0, 0.0]),
    "softshrink": (lambda L, x: F(L).softshrink(x), [NAN, INF, -INF, 0.0], [1.0, 1.0, 1.0, 0.0]),
    "relu": (lambda L, x: F(L).relu(x), [NAN, INF, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]),
    "hardtanh": (lambda L, x: F(L).hardtanh(x), [NAN, 1.0, -1.0, 0.0], [1.0, 0.0, 0.0, 1.0]),
    "threshold": (lambda L, x: F(L).threshold(x, 0.1, 20.0), [NAN, INF, 20.0, 20.0], [1.0, 1.0, 0.0, 0.0]),
    "relu6": (lambda L, x: F(L).relu6(x), [NAN, 6.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),
    "elu": (lambda L, x: F(L).elu(x), [NAN, INF, -1.0, 0.0], [1.0, 1.0, 0.0, 1.0]),
    "clamp": (lambda L, x: x.clamp(-1, 1), [NAN, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 1.0]),
    "hardsigmoid": (lambda L, x: F(L).hardsigmoid(x), [NAN, 1.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.1666666716337204]),
    "hardswish": (lambda L, x: F(L).hardswish(x), [NAN, INF, NAN, 0.0], [1.0, 1.0, 0.0, 0.5]),
    "abs": (lambda L, x: L.abs(x), [NAN, INF, INF, 0.0], [0.0, 1.0, -1.0, 0.0]),
    "sign": (lambda L, x: L.sign(x), [0.0, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]),
    "l1": (lambda L, x: F(L).l1_loss(x, L.zeros(4), reduction="none"), [NAN, INF, INF, 0.0], [0.0, 1.0, -1.0, 0.0]),
    "smooth_l1": (lambda L, x: F(L).smooth_l1_loss(x, L.zeros(4), reduction="none"), [NAN, INF, INF, 0.0],
                  [NAN, 1.0, -1.0, 0.0]),
    "maximum": (lambda L, x: L.maximum(x, L.zeros(4)), [NAN, INF, 0.0, 0.0], [1.0, 1.0, 0.0, 0.5]),
    "fmin": (lambda L, x: L.fmin(x, L.zeros(4)), [0.0, 0.0, -INF, 0.0], [0.0, 0.0, 1.0, 1.0]),
}


@pytest.mark.parametrize("name", sorted(NAN_INPUT))
def test_item01_nan_and_inf_inputs_take_pytorchs_branch(name):
    fn, want_value, want_grad = NAN_INPUT[name]
    for lib in _libs():
        x = lib.tensor([NAN, INF, -INF, 0.0], requires_grad=True)
        y = fn(lib, x)
        (g,) = lib.autograd.grad(y.sum(), x)
        assert_values(values(y), want_value)
        assert_values(values(g), want_grad)


def test_item01_pow_gradients_select_like_pytorch():
    for lib in _libs():
        x = lib.tensor([0.0, 0.0, 0.0, 2.0, -1.0, NAN], requires_grad=True)
        e = lib.tensor([2.0, 0.0, -1.0, 0.0, 0.5, 0.0], requires_grad=True)
        gx, ge = lib.autograd.grad(lib.pow(x, e).sum(), [x, e])
        assert_values(values(gx), [0.0, 0.0, -INF, 0.0, NAN, 0.0])
        assert_values(values(ge), [0.0, 0.0, -INF, math.log(2), NAN, NAN], rtol=1e-6)
        (g,) = lib.autograd.grad(lib.pow(0.0, e).sum(), [e])
        assert_values(values(g), [0.0, 0.0, -INF, 0.0, 0.0, 0.0])


def test_item01_floor_divide_is_pythons_and_has_no_derivative():
    for lib in _libs():
        a = lib.tensor([1.0, -1.0, 7.0, 5.0])
        assert values(lib.floor_divide(a, 0.1)).tolist() == [9.0, -10.0, 69.0, 49.0]     # not floor(a / 0.1)
        assert values(lib.div(a, 0.1, rounding_mode="trunc")).tolist() == [10.0, -10.0, 70.0, 50.0]
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        y = lib.div(x, 2.0, rounding_mode="floor")
        assert y.grad_fn.name() == "DivBackward2"
        y = lib.floor_divide(x, 2.0)
        assert y.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            y.sum().backward()


def test_item01_changed_formulas_pass_gradcheck():
    F_ = ember.nn.functional
    x = ember.tensor([-2.5, -1.2, -0.3, 0.4, 1.1, 2.7, 6.5], dtype=ember.float64, requires_grad=True)
    w = ember.tensor([0.3], dtype=ember.float64, requires_grad=True)
    for fn in (F_.relu, F_.relu6, F_.hardtanh, F_.hardshrink, F_.softshrink, F_.leaky_relu, F_.elu, F_.hardswish,
               lambda t: F_.threshold(t, 0.1, 2.0), lambda t: t.clamp(-1, 1), lambda t: ember.maximum(t, t * 0.5),
               lambda t: ember.fmin(t, -t), lambda t: ember.sinc(t), lambda t: ember.cumprod(t, 0),
               lambda t: ember.logcumsumexp(t, 0), lambda t: t.prod(), lambda t: t.reshape(1, 7).std(1),
               lambda t: ember.xlogy(t, t.abs()), lambda t: F_.prelu(t, w), lambda t: F_.rrelu(t)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))
    y = ember.tensor([0.5, 1.5, 2.5], dtype=ember.float64, requires_grad=True)
    e = ember.tensor([2.0, -1.5, 0.5], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda a, b: ember.pow(a, b), (y, e))
    assert gradcheck(lambda b: ember.pow(2.0, b), (e,))
    z = ember.tensor([0.0, 2.0, 0.5, 3.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda t: ember.cumprod(t, 0), (z,))                    # the zero path


# --- item 2: zero variance, every target ignored ------------------------------------------------------

def test_item02_std_of_constant_has_zero_gradient():
    for lib in _libs():
        x = lib.tensor([1.0, 1.0, 1.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(x.std(), x)
        assert values(g).tolist() == [0.0, 0.0, 0.0]
        x = lib.tensor([[1.0, 1.0], [1.0, 2.0]], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(x.std(1).sum(), x)
        assert_values(values(g), [[0.0, 0.0], [-0.7071067811865475, 0.7071067811865475]])
        x = lib.tensor([2.0, 2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(lib.std_mean(x)[0], x)
        assert values(g).tolist() == [0.0, 0.0]


def test_item02_var_with_no_degrees_of_freedom():
    for lib in _libs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = lib.tensor([1.0, 3.0], dtype=lib.float64, requires_grad=True)
            (g,) = lib.autograd.grad(x.var(correction=2), x)             # no dim: +inf (NaN at the mean)
            assert_values(values(g), [INF, INF])
            (g,) = lib.autograd.grad(x.var(0, correction=2), x)          # a dim: 2 / 0 * (x - mean)
            assert_values(values(g), [-INF, INF])
            (g,) = lib.autograd.grad(x.var(0, correction=3), x)          # a dim: the raw n - correction
            assert_values(values(g), [2.0, -2.0])
    with pytest.warns(UserWarning, match=r"^std\(\): degrees of freedom"):
        ember.tensor([1.0]).std()
    with pytest.warns(UserWarning, match=r"^var_mean\(\): degrees of freedom"):
        ember.var_mean(ember.tensor([1.0]))


@pytest.mark.parametrize("loss, options", [
    (loss, options) for loss in ("cross_entropy", "nll_loss")
    for options in ({}, {"weight": [1.0, 2.0, 3.0]}, {"label_smoothing": 0.1}, {"reduction": "sum"},
                    {"reduction": "none"})
    if not (loss == "nll_loss" and "label_smoothing" in options)])          # nll_loss has no label smoothing
def test_item02_every_target_ignored(loss, options):
    for create_graph in (False, True):
        for lib in _libs():
            opts = dict(options)
            if "weight" in opts:
                opts["weight"] = lib.tensor(opts["weight"])
            x = lib.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]], requires_grad=True)
            out = getattr(F(lib), loss)(x, lib.tensor([-100, -100]), **opts)
            (g,) = lib.autograd.grad(out.sum(), x, create_graph=create_graph)
            assert values(g).tolist() == [[0.0] * 3] * 2                  # +0.0 too: no -0.0 from -w * 0
            want = [0.0, 0.0] if options.get("reduction") == "none" else \
                0.0 if options.get("reduction") == "sum" else NAN
            assert_values(values(out), want)


def test_item02_valid_targets_with_zero_total_weight_still_nan():
    for lib in _libs():
        x = lib.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]], requires_grad=True)
        out = F(lib).nll_loss(x, lib.tensor([0, 0]), weight=lib.tensor([0.0, 1.0, 1.0]))
        (g,) = lib.autograd.grad(out, x)
        assert_values(values(g), [[NAN, 0.0, 0.0], [NAN, 0.0, 0.0]])


# --- item 3: logsumexp of 0-d tensors and 1-element dims ----------------------------------------------

@pytest.mark.parametrize("case", ["0d", "0d_dim_-1", "0d_dims_()", "one_element", "keepdim_column"])
def test_item03_logsumexp_second_derivative(case):
    make = {"0d": (1.5, lambda L, x: L.logsumexp(x, 0)), "0d_dim_-1": (1.5, lambda L, x: L.logsumexp(x, -1)),
            "0d_dims_()": (1.5, lambda L, x: L.logsumexp(x, ())),
            "one_element": ([1.5], lambda L, x: L.logsumexp(x, 0)),
            "keepdim_column": ([[1.5], [2.0]], lambda L, x: L.logsumexp(x, 1, keepdim=True))}
    value, fn = make[case]
    for lib in _libs():
        x = lib.tensor(value, dtype=lib.float64, requires_grad=True)
        (g1,) = lib.autograd.grad(fn(lib, x).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x)
        assert np.all(values(g1) == 1.0)
        assert np.all(values(g2) == 0.0)


# --- item 4: sign(nan), shrink(nan), prod of 0-d inf, fmax/fmin ties, scatter_reduce ties ---------------

def test_item04_sign_and_shrink_of_nan():
    for lib in _libs():
        assert values(lib.sign(lib.tensor(NAN))).tolist() == 0.0
        assert values(lib.sgn(lib.tensor([NAN, -2.0]))).tolist() == [0.0, -1.0]
        assert_values(values(F(lib).hardshrink(lib.tensor([NAN, 0.3]))), [NAN, 0.0])
        assert_values(values(F(lib).softshrink(lib.tensor([NAN, -0.5, 0.7], dtype=lib.float64))), [NAN, -0.0, 0.2])
        assert math.copysign(1.0, values(F(lib).softshrink(lib.tensor([-0.5])))[0]) == -1.0     # x * 0: -0.0


def test_item04_prod_backward():
    cases = [(INF, lambda x: x.prod(), 1.0), (INF, lambda x: x.prod(0), 1.0), (3.0, lambda x: x.prod(), 1.0),
             ([INF, 2.0], lambda x: x.prod(), [NAN, INF]), ([[INF, 2.0], [0.0, 3.0]], lambda x: x.prod(1),
                                                           [[2.0, INF], [3.0, 0.0]]),
             ([0.0, 0.0, 2.0], lambda x: x.prod(), [0.0, 0.0, 0.0]), ([0.0, 2.0], lambda x: x.prod(), [2.0, 0.0])]
    for value, fn, want in cases:
        for lib in _libs():
            x = lib.tensor(value, dtype=lib.float64, requires_grad=True)
            (g,) = lib.autograd.grad(fn(x).sum(), x)
            assert_values(values(g), want)


def test_item04_fmax_fmin_ties_and_nan():
    a, b = [1.0, 2.0, NAN, 1.0, NAN], [1.0, 1.0, 1.0, NAN, NAN]
    want = {"fmax": ([1.0, 1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0, 0.0]),
            "fmin": ([1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0, 0.0]),
            "maximum": ([0.5, 1.0, 1.0, 1.0, 1.0], [0.5, 0.0, 1.0, 1.0, 1.0]),
            "minimum": ([0.5, 0.0, 1.0, 1.0, 1.0], [0.5, 1.0, 1.0, 1.0, 1.0])}
    for name, (ga, gb) in want.items():
        for lib in _libs():
            x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
            out = getattr(lib, name)(x, y)
            gx, gy = lib.autograd.grad(out.sum(), [x, y])
            assert values(gx).tolist() == ga and values(gy).tolist() == gb, name
            if name.startswith("f"):
                assert out.grad_fn.name() == name.capitalize() + "Backward0"
    with pytest.raises(RuntimeError, match="fmax not implemented for complex tensors"):
        ember.fmax(ember.tensor([1j]), ember.tensor([1j]))


SCATTER_REDUCE = [  # (reduce, include_self, self, src, index, upstream) -> PyTorch's (out, grad self, grad src)
    ("amax", False, [5.0, 2.0, 3.0], [5.0, 5.0, 1.0, 2.0, 2.0], None,
     [5.0, 2.0, 3.0], [0.0, 0.0, 3.0], [1 / 3, 1 / 3, 0.0, 2 / 3, 2 / 3]),
    ("amax", False, [1.0, 2.0, 3.0], [1.0, 5.0, 5.0, 2.0, 3.0], None,
     [5.0, 3.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.5, 0.5, 0.0, 2.0]),
    ("amin", False, [5.0, 2.0, 3.0], [5.0, 5.0, 1.0, 2.0, 2.0], None,
     [1.0, 2.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 1.0, 2 / 3, 2 / 3]),
    ("amax", True, [5.0, NAN, 3.0], [5.0, NAN, 1.0, 2.0, 2.0], None,
     [NAN, NAN, 3.0], [NAN, NAN, 3.0], [NAN] * 5),
    ("amax", False, [5.0, 2.0, 3.0], [5.0, 5.0, 1.0, 2.0, 2.0], [NAN, 1.0, 1.0],
     [5.0, 2.0, 3.0], [0.0, 0.0, 1.0], [NAN, NAN, NAN, 1 / 3, 1 / 3]),
    ("prod", True, [5.0, 2.0, 3.0], [5.0, 0.0, 1.0, 2.0, 2.0], None,
     [0.0, 8.0, 3.0], [0.0, 8.0, 3.0], [0.0, 25.0, 0.0, 8.0, 8.0]),
    ("mean", False, [5.0, 2.0, 3.0], [5.0, 5.0, 1.0, 2.0, 2.0], [NAN, 1.0, 1.0],
     [11 / 3, 2.0, 3.0], [0.0, 0.0, 1.0], [NAN, NAN, NAN, 0.5, 0.5]),
    ("sum", False, [5.0, 2.0, 3.0], [5.0, 5.0, 1.0, 2.0, 2.0], [NAN, 1.0, 1.0],
     [11.0, 4.0, 3.0], [0.0, 0.0, 1.0], [NAN, NAN, NAN, 1.0, 1.0]),
]


@pytest.mark.parametrize("op, case", [(op, case) for op in ("scatter_reduce", "index_reduce")
                                      for case in range(len(SCATTER_REDUCE))
                                      if not (op == "index_reduce" and SCATTER_REDUCE[case][0] == "sum")])
def test_item04_scatter_reduce_gradients(case, op):                    # (index_reduce has no "sum")
    reduce, include_self, self_v, src_v, up, want_out, want_self, want_src = SCATTER_REDUCE[case]
    for lib in _libs():
        s, src = lib.tensor(self_v, requires_grad=True), lib.tensor(src_v, requires_grad=True)
        index = lib.tensor([0, 0, 0, 1, 1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")               # index_reduce is "in beta" in PyTorch
            out = getattr(s, op)(0, index, src, reduce, include_self=include_self)
        g = lib.tensor(up) if up is not None else lib.arange(1.0, 4.0)
        gs, gsrc = lib.autograd.grad(out, [s, src], g)
        assert_values(values(out), want_out)
        assert_values(values(gs), want_self)
        assert_values(values(gsrc), want_src)


# --- item 5: float64 slopes ----------------------------------------------------------------------------

def test_item05_float64_leaky_and_rrelu_slopes_are_exact():
    for lib in _libs():
        x = lib.tensor([-1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(F(lib).leaky_relu(x, 0.2).sum(), x)
        assert values(g).tolist() == [0.2, 1.0]
        (g,) = lib.autograd.grad(F(lib).rrelu(x, 0.1, 0.3).sum(), x)
        assert values(g).tolist() == [(0.1 + 0.3) / 2, 1.0]
        lib.manual_seed(0)
        y = F(lib).rrelu(x, 0.1, 0.3, training=True)
        (g,) = lib.autograd.grad(y.sum(), x)
        assert g.dtype == lib.float64 and values(g)[1] == 1.0 and values(y)[0] == -values(g)[0]


def test_item05_rrelu_training_draws_pytorchs_stream():
    # one double uniform per element <= 0, in order, from float32 bounds for float32 input
    ember.manual_seed(0)
    out = ember.nn.functional.rrelu(ember.tensor([-1.0, 2.0, -3.0, 4.0, -5.0]), training=True)
    assert_values(values(out), [-0.3270943760871887, 2.0, -0.8173874616622925, 4.0, -1.103523850440979])
    assert_values(values(ember.rand(2)), [0.4900934100151062, 0.8964447379112244])
    if _torch is not None:
        _torch.manual_seed(0)
        want = _torch.nn.functional.rrelu(_torch.tensor([-1.0, 2.0, -3.0, 4.0, -5.0]), training=True)
        assert values(out).tolist() == values(want).tolist()


# --- item 6: a 0-d float64 operand is weak in promotion ----------------------------------------------

def test_item06_zero_dim_float64_operand_does_not_promote():
    for lib in _libs():
        a, b = lib.tensor([0.2, 0.5]), lib.tensor(0.4, dtype=lib.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                    # target size warnings
            assert lib.dist(a, b).dtype == lib.float32
            assert lib.dist(a.half(), b).dtype == lib.float16
            assert F(lib).huber_loss(a, b).dtype == lib.float32
            assert F(lib).huber_loss(b, a).dtype == lib.float64           # computed in float32, written as input
            assert F(lib).soft_margin_loss(a, b).dtype == lib.float32
            assert F(lib).mse_loss(a, b).dtype == lib.float64             # broadcast first: both dimensioned
            assert lib.lerp(a, a, b).dtype == lib.float32
            with pytest.raises(RuntimeError, match="result type Double can't be cast to the desired output type Long"):
                F(lib).huber_loss(lib.tensor([1, 2]), b)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        ember.lerp(ember.tensor([0.2]), ember.tensor([0.4], dtype=ember.float64), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype float for `weight` but got dtype double"):
        ember.lerp(ember.tensor([0.2]), ember.tensor([0.4]), ember.tensor([0.5], dtype=ember.float64))
    with pytest.raises(NotImplementedError, match="lerp_kernel_scalar"):
        ember.lerp(ember.tensor([1]), ember.tensor([2]), 0.5)
    for lib in _libs():                                # ops that refuse mixed dtypes instead of promoting
        a, b = lib.tensor([0.2, 0.5]), lib.tensor([0.4, 0.1], dtype=lib.float64)
        with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
            F(lib).binary_cross_entropy(a, b)
        assert F(lib).binary_cross_entropy(a, a, weight=b).dtype == lib.float32
        with pytest.raises(RuntimeError, match="prelu: Type promoting not supported. Got Float and Double"):
            F(lib).prelu(a, lib.tensor([0.25], dtype=lib.float64))
        with pytest.raises(NotImplementedError, match="prelu_cpu"):
            F(lib).prelu(lib.tensor([1, -2]), lib.tensor([1]))


# --- item 7: heaviside in the graph; create_graph gradients of piecewise ops -----------------------------

def test_item07_heaviside_requires_grad_and_refuses_backward():
    for lib in _libs():
        x = lib.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        y = lib.heaviside(x, lib.tensor(0.5))
        assert y.requires_grad and values(y).tolist() == [0.0, 0.5, 1.0]
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
            y.sum().backward()
        assert not lib.heaviside(x.detach(), lib.tensor(0.5)).requires_grad


PIECEWISE = {"relu": "ThresholdBackwardBackward0", "relu6": "HardtanhBackwardBackward0",
             "hardtanh": "HardtanhBackwardBackward0", "leaky_relu": "LeakyReluBackwardBackward0",
             "hardshrink": "HardshrinkBackwardBackward0", "softshrink": "SoftshrinkBackwardBackward0",
             "rrelu": "RreluWithNoiseBackwardBackward0", "threshold": "ThresholdBackwardBackward0",
             "prelu": "PreluKernelBackwardBackward0", "elu": None, "hardswish": None}


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_item07_create_graph_gradients_require_grad(name):
    for lib in _libs():
        x = lib.tensor([-2.0, 0.5, 2.0], requires_grad=True)
        args = {"threshold": (0.1, 20.0), "prelu": (lib.tensor([0.25]),)}.get(name, ())
        (g,) = lib.autograd.grad(getattr(F(lib), name)(x, *args).sum(), x, create_graph=True)
        assert g.requires_grad
        if PIECEWISE[name] is not None:
            assert g.grad_fn.name() == PIECEWISE[name]
        (gg,) = lib.autograd.grad(g.sum(), x, allow_unused=True)
        want = {"elu": [math.exp(-2.0), 0.0, 0.0], "hardswish": [1 / 3] * 3}.get(name, [0.0, 0.0, 0.0])
        assert gg is not None
        assert_values(values(gg), want)                 # piecewise linear: zeros (not None), as in PyTorch


def test_item07_prelu_double_backward():
    want = {(1,): ([[1.0, 0.0, 0.0], [0.0, 5.0, 6.0]], [31.0]),
            (3,): ([[1.0, 0.0, 0.0], [0.0, 5.0, 6.0]], [0.5, 25.0, 7.2])}
    for shape, (want_x, want_w) in want.items():
        for lib in _libs():
            x = lib.tensor([[-2.0, 0.5, 0.0], [1.0, -1.0, NAN]], dtype=lib.float64, requires_grad=True)
            w = lib.tensor([0.25, 0.5, 0.1][:shape[0]], dtype=lib.float64, requires_grad=True)
            scale = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=lib.float64)
            gx, gw = lib.autograd.grad((F(lib).prelu(x, w) * scale).sum(), [x, w], create_graph=True)
            g2x, g2w = lib.autograd.grad((gx * gx).sum() + gw.sum(), [x, w])
            assert_values(values(g2x), want_x)
            assert_values(values(g2w), want_w, rtol=1e-12)


# --- item 8: einsum broadcasting a size-1 dimension ---------------------------------------------------

EINSUM = [("ij,jk->ik", (2, 1), (3, 2)), ("ij,jk->ik", (2, 3), (1, 2)), ("ij,ij->ij", (2, 1), (2, 3)),
          ("ij,ij->i", (1, 3), (2, 3)), ("bij,bjk->bik", (1, 2, 3), (4, 3, 2)),
          ("...ij,...jk->...ik", (1, 2, 3), (4, 3, 2)), ("i,i->", (1,), (3,)), ("ij,kj->ik", (2, 1), (3, 4)),
          ("ij,jk,kl->il", (2, 1), (3, 1), (4, 2))]


@pytest.mark.parametrize("case", range(len(EINSUM)))
def test_item08_einsum_broadcast_gradient_has_the_inputs_shape(case):
    equation, *shapes = EINSUM[case]
    results = []
    for lib in _libs():
        ts = [lib.arange(1.0, math.prod(s) + 1).reshape(s).requires_grad_() for s in shapes]
        out = lib.einsum(equation, *ts)
        out.sum().backward()
        for t, s in zip(ts, shapes):
            assert tuple(t.grad.shape) == s
        results.append([values(out)] + [values(t.grad) for t in ts])
    x = ember.tensor([[1.0], [2.0]], requires_grad=True)
    ember.einsum("ij,jk->ik", x, ember.ones(3, 2)).sum().backward()
    assert values(x.grad).tolist() == [[6.0], [6.0]]
    if len(results) == 2:
        for a, b in zip(*results):
            assert_values(a, b)


# --- item 9: tensordot over a size-1 contracted dimension -----------------------------------------------

def test_item09_tensordot_size_one_contracted_dim():
    for lib in _libs():
        a = lib.ones(2, 1, requires_grad=True)
        b = lib.arange(12.0).reshape(3, 4).requires_grad_()
        out = lib.tensordot(a, b, dims=([1], [0]))
        assert values(out).tolist() == [[12.0, 15.0, 18.0, 21.0]] * 2
        out.sum().backward()
        assert values(a.grad).tolist() == [[66.0], [66.0]]
        assert values(b.grad).tolist() == [[2.0] * 4] * 3
        assert tuple(lib.tensordot(lib.ones(2, 3), lib.ones(1, 4), dims=([1], [0])).shape) == (2, 4)
        errors = [(lambda: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4), dims=([1, 0], [0])),
                   "both dimension lists should have same length"),
                  (lambda: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4), dims=-1),
                   "tensordot expects dims >= 0, but got dims=-1"),
                  (lambda: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4), dims=3),
                   "tensordot expects dims < ndim_a or ndim_b, but got dims=3"),
                  (lambda: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4).double(), dims=1),
                   "both inputs should have same dtype"),
                  (lambda: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4), dims=([1, 1], [0, 0])),
                   "dim 1 appears multiple times in the list of dims"),
                  (lambda: lib.tensordot(lib.ones(2, 3), lib.ones(2, 4), dims=([1], [0])),
                   "contracted dimensions need to match, but first has size 3 in dim 1 and second has size 2 in dim 0"),
                  (lambda: lib.inner(lib.ones(2, 3), lib.ones(1)), "inner\\(\\) the last dimension must match")]
        for fn, message in errors:
            with pytest.raises(RuntimeError, match=message):
                fn()


# --- item 10: einsum subscript errors, matrix_norm of < 2-d ---------------------------------------------

EINSUM_ERRORS = [
    ("ij,jk->ik", [(2, 2)], "einsum\\(\\): fewer operands were provided than specified in the equation"),
    ("ij->ij", [(2, 2), (2, 2)], "einsum\\(\\): more operands were provided than specified in the equation"),
    ("ijk->ij", [(2, 2)], "the number of subscripts in the equation \\(3\\) does not match the number of dimensions "
                          "\\(2\\) for operand 0 and no ellipsis was given"),
    ("i->i", [(2, 2)], "the number of subscripts in the equation \\(1\\) does not match"),
    ("ij->k", [(2, 2)], "output subscript k does not appear in the equation for any input operand"),
    ("ij,jk->ik", [(2, 3), (2, 2)], "subscript j has size 2 for operand 1 which does not broadcast with previously "
                                    "seen size 3"),
    ("ij->ii", [(2, 2)], "output subscript i appears more than once in the output"),
    ("i1->i", [(2, 2)], "invalid subscript given at index 1 in the equation string, subscripts must be in \\[a-zA-Z\\]"),
]


@pytest.mark.parametrize("case", range(len(EINSUM_ERRORS)))
def test_item10_einsum_subscript_errors_are_runtime_errors(case):
    equation, shapes, message = EINSUM_ERRORS[case]
    for lib in _libs():
        with pytest.raises(RuntimeError, match=message):
            lib.einsum(equation, *[lib.ones(s) for s in shapes])


def test_item10_matrix_norm_checks():
    for lib in _libs():
        for a in (lib.ones(3), lib.tensor(1.0)):
            with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2 "
                                                   "dimensions."):
                lib.linalg.matrix_norm(a)
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2"):
            lib.linalg.norm(lib.ones(3), "fro")
        with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
            lib.linalg.matrix_norm(lib.ones(3, 3, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: dims must be different. Got \\(0, 0\\)"):
            lib.linalg.matrix_norm(lib.ones(3, 3), dim=(0, 0))
        with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D"):
            lib.linalg.norm(lib.ones(2, 3, 4), "fro")
        assert abs(values(lib.linalg.norm(lib.ones(2, 3), "fro")) - math.sqrt(6)) < 1e-6


# --- item 11: gaussian_nll_loss var shapes -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3), (2,), (2, 1), (1, 3), (3,), (1,), (), (1, 1), (2, 3, 1), (6,),
                                   (1, 2, 3), (2, 2)])
def test_item11_gaussian_nll_loss_var_shapes(shape):
    accepted = shape in ((2, 3), (2,), (2, 1), (1, 3))
    for lib in _libs():
        inp, tgt = lib.arange(6.0).reshape(2, 3) / 5, lib.ones(2, 3) / 3
        var = lib.ones(shape) * 0.7
        if accepted:
            out = F(lib).gaussian_nll_loss(inp, tgt, var, reduction="none")
            assert_values(values(out).reshape(-1), [-0.09897, -0.16564, -0.17516, -0.12754, -0.02278, 0.13912],
                          rtol=1e-3)
        else:
            with pytest.raises(ValueError, match="var is of incorrect size"):
                F(lib).gaussian_nll_loss(inp, tgt, var)
    with pytest.raises(ValueError, match="var has negative entry"):
        ember.nn.functional.gaussian_nll_loss(ember.ones(3), ember.ones(3), -ember.ones(5))  # before the size
    assert abs(ember.nn.functional.gaussian_nll_loss(ember.ones(3), ember.ones(3), ember.ones(1)).item()) == 0.0


# --- item 12: 0-d float32 inputs through in-place ufunc steps ------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_item12_gelu_of_a_zero_dim_tensor(dtype):
    for approximate in ("none", "tanh"):
        x = ember.tensor(0.5, dtype=getattr(ember, dtype), requires_grad=True)
        y = ember.nn.functional.gelu(x, approximate=approximate)
        assert y.shape == () and isinstance(y._array, np.ndarray)
        y.backward()
        assert x.grad.shape == ()
        tol = 2e-3 if dtype == "float16" else 1e-6
        assert abs(y.item() - 0.3457) < 2e-3 and abs(x.grad.item() - 0.8674) < 2e-3 + tol
        if _torch is not None:
            t = _torch.tensor(0.5, dtype=getattr(_torch, dtype), requires_grad=True)
            ty = _torch.nn.functional.gelu(t, approximate=approximate)
            ty.backward()
            assert abs(y.item() - ty.item()) <= tol and abs(x.grad.item() - t.grad.item()) <= tol * 2


# --- further divergences of the same kinds ------------------------------------------------------------

def test_extra_gradients_of_xlogy_logit_copysign_angle_nextafter():
    for lib in _libs():
        x = lib.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, NAN, 0.0], requires_grad=True)
        y = lib.tensor([2.0, 0.0, -1.0, NAN, 0.0, -1.0, 1.0, INF], requires_grad=True)
        gx, gy = lib.autograd.grad(lib.xlogy(x, y).sum(), [x, y])
        assert_values(values(gx), [math.log(2), 0.0, 0.0, NAN, -INF, NAN, 0.0, INF], rtol=1e-6)
        gx, _ = lib.autograd.grad(lib.special.xlog1py(x, y).sum(), [x, y])
        assert_values(values(gx), [math.log(3), 0.0, 0.0, NAN, 0.0, -INF, math.log(2), INF], rtol=1e-6)
        p = lib.tensor([-0.5, 0.0, 0.5, 1.0, 1.5], requires_grad=True)
        (g,) = lib.autograd.grad(lib.logit(p).sum(), p)
        assert_values(values(g), [NAN, INF, 4.0, INF, NAN])
        a, s = lib.tensor([1.0, -2.0], requires_grad=True), lib.tensor([-1.0, 1.0], requires_grad=True)
        _, gs = lib.autograd.grad((lib.copysign(a, s) * NAN).sum(), [a, s])
        assert values(gs).tolist() == [0.0, 0.0]
        r = lib.tensor([1.0, -2.0, 0.0], requires_grad=True)
        ang = lib.angle(r)
        assert ang.requires_grad and values(lib.autograd.grad(ang.sum(), r)[0]).tolist() == [0.0, 0.0, 0.0]
        c = lib.tensor([1 + 1j, 2j, 0j], requires_grad=True)
        (gc,) = lib.autograd.grad(lib.angle(c).sum(), c)
        np.testing.assert_allclose(np.asarray(gc.detach().tolist()), [-0.5 + 0.5j, -0.5 + 0j, 0j], rtol=1e-6)
        u, v = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 0.0], requires_grad=True)
        gu, gv = lib.autograd.grad(lib.nextafter(u, v).sum(), [u, v])
        assert values(gu).tolist() == [1.0, 1.0] and values(gv).tolist() == [0.0, 0.0]


def test_extra_kl_div_target_gradient_uses_xlogy():
    for lib in _libs():
        t = lib.tensor([0.0, 0.5, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(F(lib).kl_div(lib.zeros(3), t, reduction="sum"), t)
        assert_values(values(g), [NAN, math.log(0.5) + 1, math.log(2.0) + 1], rtol=1e-6)
        assert_values(values(F(lib).kl_div(lib.zeros(1), lib.tensor([-1.0]), reduction="sum")), NAN)


def test_extra_logcumsumexp_keeps_tiny_terms_and_refuses_integers():
    lowest = float(np.finfo(np.float64).min)
    for lib in _libs():
        x = lib.tensor([0.3, -0.2, 0.5], dtype=lib.float64, requires_grad=True)
        c = lib.tensor([lowest, 0.1, lowest], dtype=lib.float64)
        z = lib.logcumsumexp((c + x).flip(0), 0).flip(0)
        assert_values(values(z), [-0.1, -0.1, lowest])
        (g,) = lib.autograd.grad(z, x, lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64))
        assert_values(values(g), [0.0, 3.0, 1.0], rtol=1e-12)
        up = lib.tensor([1.0, -1.0, 0.5], dtype=lib.float64)
        (g,) = lib.autograd.grad(lib.logcumsumexp(x, 0), x, up, create_graph=True)
        (g2,) = lib.autograd.grad(g, x, lib.tensor([1.0, 0.0, 0.0], dtype=lib.float64))
        assert_values(values(g2), [-0.120718, 0.197082, -0.076364], rtol=1e-5)
        for dtype in (lib.int64, lib.bool):
            with pytest.raises(NotImplementedError, match="logcumsumexp_out_cpu"):
                lib.logcumsumexp(lib.tensor([1, 0], dtype=dtype), 0)


def test_extra_max_all_distributes_among_nans_and_ties():
    for lib in _libs():
        for value, want in (([NAN, 1.0, NAN], [0.5, 0.0, 0.5]), ([1.0, 1.0, 0.0], [0.5, 0.5, 0.0])):
            x = lib.tensor(value, requires_grad=True)
            (g,) = lib.autograd.grad(x.max(), x)
            assert values(g).tolist() == want


def test_extra_hardswish_and_hardsigmoid_boundaries():
    for lib in _libs():
        x = lib.tensor([-3.0, -2.9999, 2.9999, 3.0, 3.0001], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(F(lib).hardswish(x).sum(), x)
        assert_values(values(g), [0.0, -0.49996666666666656, 1.4999666666666664, 1.0, 1.0])
        (g,) = lib.autograd.grad(F(lib).hardsigmoid(x).sum(), x)
        assert values(g).tolist() == [0.0, 0.1666666716337204, 0.1666666716337204, 0.0, 0.0]
        y = lib.tensor([-1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(F(lib).hardsigmoid(y).sum(), y, create_graph=True)
        with pytest.raises(RuntimeError, match="derivative for aten::hardsigmoid_backward is not implemented"):
            lib.autograd.grad(g.sum(), y)


# --- classes found by the differential tester (tests/differential/known.py) ----------------------------

def test_known_outer_and_addr_refuse_non_vectors():
    for lib in _libs():
        for fn in (lib.outer, lib.ger, lambda a, b: a.outer(b)):
            with pytest.raises(RuntimeError, match=r"outer: Expected 1-D argument self, but got 2-D"):
                fn(lib.ones(2, 2), lib.ones(3))
            with pytest.raises(RuntimeError, match=r"outer: Expected 1-D argument vec2, but got 0-D"):
                fn(lib.ones(2), lib.ones(()))
        with pytest.raises(RuntimeError, match=r"addr: Expected 1-D argument vec1, but got 2-D"):
            lib.addr(lib.ones(2, 3), lib.ones(2, 1), lib.ones(3))
        assert values(lib.outer(lib.tensor([1.0, 2.0]), lib.tensor([3.0]))).tolist() == [[3.0], [6.0]]


EINSUM_DTYPES = [  # (equation, dtypes, shapes, PyTorch's result dtype or error)
    ("ij,jk->ik", ("float32", "float64"), ((2, 3), (3, 4)), "expected scalar type Float but found Double"),
    ("ij,jk->ik", ("float64", "float32"), ((2, 3), (3, 4)), "expected scalar type Double but found Float"),
    ("ij,jk->ik", ("float32", "int64"), ((2, 3), (3, 4)), "expected scalar type Float but found Long"),
    ("ij,ij->", ("float32", "float16"), ((2, 3), (2, 3)), "expected scalar type Float but found Half"),
    ("i,j->ij", ("float32", "float64"), ((2,), (3,)), "float64"),              # a mul: promoted
    ("ij,kl->", ("float32", "float64"), ((2, 3), (3, 4)), "float64"),          # summed apart, then a mul
    ("i,j,jk->ik", ("float32", "float64", "float64"), ((2,), (3,), (3, 4)), "float64"),
    ("i,j,jk->ik", ("float32", "float32", "float64"), ((2,), (3,), (3, 4)), "expected scalar type Float but found Double"),
    ("ij,jk->ik", ("float32", "float64"), ((0, 3), (3, 4)), "float64"),        # no elements: zeros of the
    ("...j,jk->...k", ("float64", "float32"), ((0,), (0, 2)), "float32"),      # joining operand's dtype
    ("i,ij,jk->k", ("float32", "float64", "float16"), ((0,), (0, 2), (2, 3)),
     "expected scalar type Double but found Half"),
    ("ij,jk->ik", ("bool", "bool"), ((2, 3), (3, 4)), "\"bmm\" not implemented for 'Bool'"),
]


@pytest.mark.parametrize("case", range(len(EINSUM_DTYPES)))
def test_known_einsum_mixed_dtypes_as_pytorch(case):
    equation, dtypes, shapes, want = EINSUM_DTYPES[case]
    for lib in _libs():
        operands = [lib.ones(shape, dtype=getattr(lib, dtype)) for shape, dtype in zip(shapes, dtypes)]
        if " " in want:
            with pytest.raises((RuntimeError, NotImplementedError), match=want.replace("(", r"\(")):
                lib.einsum(equation, *operands)
        else:
            assert str(lib.einsum(equation, *operands).dtype).split(".")[-1] == want
        with pytest.raises(RuntimeError, match="both inputs should have same dtype"):
            lib.tensordot(lib.ones(2, 3), lib.ones(3, 4, dtype=lib.float64), 1)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_known_cummax_cummin_of_a_zero_dim_tensor(name):
    for lib in _libs():
        x = lib.tensor(2.5, dtype=lib.float64, requires_grad=True)
        for dim in (0, -1):
            values_, indices = getattr(lib, name)(x, dim)
            assert values_.shape == () and indices.shape == () and indices.dtype == lib.int64
            assert values_.item() == 2.5 and indices.item() == 0
        (g,) = lib.autograd.grad(values_, x)
        assert g.item() == 1.0
        with pytest.raises(IndexError, match=f"{name}\\(\\): Expected reduction dim -1 or 0 for scalar but got 1"):
            getattr(lib, name)(x, 1)
        # a NaN takes the index, and keeps it until the next NaN (PyTorch's scan)
        _, idx = getattr(lib, name)(lib.tensor([1.0, 3.0, NAN, 2.0, NAN, 5.0]), 0)
        assert idx.tolist() == [0, 1 if name == "cummax" else 0, 2, 2, 4, 4]


# digamma's gradient, trigamma, at its poles: PyTorch's reflection gives a large finite number (sin(pi x) is not
# 0 in floating point), per dtype; and its values away from them (PyTorch's own algorithm, good to ~1e-11)
DIGAMMA_GRAD = [(-1.0, "float64", 6.580790147320947e+32), (-1.0, "float32", 1291369695936512.0),
                (-2.0, "float64", 1.6451975368302367e+32), (-2.0, "float32", 322842423984128.0),
                (0.0, "float64", INF), (-3.5, "float64", 9.62087929802929), (-3.5, "float32", 9.620879173278809),
                (-15.999999, "float64", 1000000001025.5826)]


@pytest.mark.parametrize("x, dtype, want", DIGAMMA_GRAD)
def test_known_digamma_gradient_at_and_near_poles(x, dtype, want):
    for lib in _libs():
        t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        (g,) = lib.autograd.grad(lib.digamma(t), t)
        assert_values(g.item(), want, rtol=1e-13 if dtype == "float64" else 1e-6)
        assert_values(lib.polygamma(1, t.detach()).item(), want, rtol=1e-13 if dtype == "float64" else 1e-6)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_known_polygamma_matches_pytorch_closely(n):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-20, 20, 4000), rng.uniform(-3, 3, 4000), -np.arange(20) + 1e-6,
                        -np.arange(20.0), [INF, -INF, NAN, 0.0, -0.0, 1e20, -1e20]])
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        got = ember.polygamma(n, ember.tensor(x, dtype=getattr(ember, dtype))).double().numpy()
        want = torch.polygamma(n, torch.tensor(x, dtype=getattr(torch, dtype))).double().numpy()
        scale = np.maximum(np.abs(want), 1.0 if n == 0 and dtype == "float32" else 0.0)  # digamma's zero
        close = np.isclose(got, want, rtol=rtol, atol=0, equal_nan=True) | (np.abs(got - want) <= rtol * scale)
        assert close.all(), (dtype, x[~close][:5], got[~close][:5], want[~close][:5])
    assert ember.digamma(ember.tensor([-15.999999], dtype=ember.float64)).item() == pytest.approx(
        -999997.1971552708, rel=1e-13)


def test_known_copysign_gradient_at_inf_and_nan():
    for lib in _libs():
        x = lib.tensor([INF, -INF, NAN, 0.0, -0.0, 2.0, INF, 3.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([1.0, 1.0, -1.0, -1.0, 1.0, -0.0, -INF, NAN], dtype=lib.float64, requires_grad=True)
        up = lib.ones(8, dtype=lib.float64)
        up[3] = NAN                                   # multiplied: the NaN reaches the zero slope at x = 0
        gx, gy = lib.autograd.grad(lib.copysign(x, y), [x, y], up)
        assert_values(values(gx), [NAN, NAN, NAN, NAN, 0.0, -1.0, NAN, 1.0])
        assert values(gy).tolist() == [0.0] * 8
        (g,) = lib.autograd.grad(lib.copysign(x, -1.5).sum(), x)
        assert_values(values(g), [NAN, NAN, NAN, 0.0, 0.0, -1.0, NAN, -1.0])


CDIST_ZERO = {0.5: [2.414213562373095, 1.7071067811865475], 1.5: [0.6392340078652324, 0.9040134034531215],
              2.0: [0.4472135954999579, 0.8944271909999159], 3.0: [0.2311204247835449, 0.9244816991341795]}


@pytest.mark.parametrize("p", sorted(CDIST_ZERO))
def test_known_cdist_nan_upstream_at_a_zero_distance(p):
    for lib in _libs():
        x1 = lib.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=lib.float64, requires_grad=True)
        x2 = lib.tensor([[0.0, 0.0]], dtype=lib.float64, requires_grad=True)
        g1, g2 = lib.autograd.grad(lib.cdist(x1, x2, p=p), [x1, x2], lib.tensor([[NAN], [1.0]], dtype=lib.float64))
        assert_values(values(g1), [[0.0, 0.0], CDIST_ZERO[p]], rtol=1e-12)
        assert_values(values(g2), [[-v for v in CDIST_ZERO[p]]], rtol=1e-12)
        # torch.dist, like norm, multiplies there for p = 2 and p < 1, and selects for the others
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(lib.dist(a, a.detach(), p), a, lib.tensor(NAN, dtype=lib.float64))
        assert_values(values(g), [NAN, NAN] if p in (0.5, 2.0) else [0.0, 0.0])
        (g,) = lib.autograd.grad(lib.linalg.vector_norm(a - a.detach(), p), a, lib.tensor(NAN, dtype=lib.float64))
        assert_values(values(g), [NAN, NAN] if p in (0.5, 2.0) else [0.0, 0.0])


def test_known_multi_margin_loss_multiplies_the_upstream_gradient():
    for lib in _libs():
        x = lib.tensor([[0.1, 0.2, 0.4, 5.8], [0.5, -0.3, 2.0, 0.1]], dtype=lib.float64, requires_grad=True)
        loss = F(lib).multi_margin_loss(x, lib.tensor([3, 0]), reduction="none")
        assert type(loss.grad_fn).__name__ == "MultiMarginLossBackward0"
        assert_values(values(loss), [0.0, 0.8250000000000001])
        (g,) = lib.autograd.grad(loss, x, lib.tensor([INF, 1.0], dtype=lib.float64))
        assert_values(values(g), [[NAN] * 4, [-0.75, 0.25, 0.25, 0.25]])       # 0 slopes * inf: the row is NaN
        (g,) = lib.autograd.grad(F(lib).multi_margin_loss(x, lib.tensor([3, 0])), x, lib.tensor(NAN, dtype=lib.float64))
        assert np.isnan(values(g)).all()
        # a NaN margin term is inactive (PyTorch's z > 0 test): no loss, no gradient
        y = lib.tensor([[NAN, 0.2, 0.4, 5.8]], dtype=lib.float64, requires_grad=True)
        loss = F(lib).multi_margin_loss(y, lib.tensor([3]), margin=2.0)
        (g,) = lib.autograd.grad(loss, y)
        assert loss.item() == 0.0 and values(g).tolist() == [[0.0] * 4]
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
            F(lib).multi_margin_loss(x, lib.tensor([3, 0]), weight=lib.ones(4, dtype=lib.float64, requires_grad=True))


def test_known_atan2_remainder_xlogy_edges():
    for lib in _libs():
        y = lib.tensor([0.0, 0.0, 1.0, INF, 2.0], requires_grad=True)
        x = lib.tensor([0.0, -0.0, 0.0, 1.0, -3.0], requires_grad=True)
        gy, gx = lib.autograd.grad(lib.atan2(y, x), [y, x], lib.ones(5))
        assert_values(values(gy), [0.0, -0.0, 0.0, 0.0, -0.23076924681663513])      # 1/(x^2 + y^2) := 0 at 0
        assert_values(values(gx), [-0.0, -0.0, -1.0, NAN, -0.1538461595773697])
        # a zero remainder has the dividend's sign (PyTorch's fmod-based kernel), not the divisor's
        r = lib.remainder(lib.tensor([4.0, -4.0, 0.0, -3.0, 5.5]), lib.tensor([-2.0, 2.0, -2.0, 1.5, -2.0]))
        assert [math.copysign(1.0, v) for v in r.tolist()] == [1.0, -1.0, 1.0, -1.0, -1.0]
        assert r.tolist()[4] == -0.5
        # xlogy's input gradient is xlogy(grad, other): 0 where grad is 0 even if log(other) is NaN
        a = lib.tensor([0.0, 0.0, 1.0, 2.0, 0.0, 3.0], requires_grad=True)
        b = lib.tensor([-1.0, NAN, -1.0, 0.5, 0.0, 0.0], requires_grad=True)
        ga, _ = lib.autograd.grad(lib.xlogy(a, b), [a, b], lib.tensor([0.0, 1.0, 0.0, 1.0, NAN, 1.0]))
        assert_values(values(ga), [0.0, NAN, 0.0, math.log(0.5), 0.0, -INF])
