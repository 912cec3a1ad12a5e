"""Loss functions and modules: values and gradients against PyTorch for every reduction, gradcheck,
NUM-1 / NUM-3 extremes and ERR-1 / ERR-5 messages (docs/RELIABILITY.md)."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.autograd.gradcheck import gradcheck, gradgradcheck

R = np.random.default_rng(0)
CLS = R.integers(0, 4, size=(5,))
CLS_IGN = np.array([0, -100, 3, 1, -100])
CLS_K = R.integers(0, 3, size=(2, 4, 3))
PROBS = R.dirichlet(np.ones(4), size=5)
BIN = R.integers(0, 2, size=(4, 3)).astype(float)
SIGN = np.where(R.random((6,)) > 0.5, 1.0, -1.0)
W4 = R.uniform(0.5, 2, size=4)
POS = R.uniform(0.5, 3, size=3)
U = R.uniform(0.05, 0.95, size=(4, 3))
MULTI = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2]])


class Case:
    def __init__(self, name, fn, shapes, low=-2.0, high=2.0, reductions=("none", "mean", "sum"), gradgrad=False):
        self.name, self.fn, self.shapes, self.low, self.high = name, fn, shapes, low, high
        self.reductions, self.gradgrad = reductions, gradgrad

    def __repr__(self):
        return self.name

    def arrays(self):
        rng = np.random.default_rng(abs(hash(self.name)) % 2 ** 32)
        return [rng.uniform(self.low, self.high, size=s) for s in self.shapes]


def T(m, a):
    return m.tensor(a)


CASES = [
    Case("mse", lambda m, F, r, x, t: F.mse_loss(x, t, reduction=r), [(4, 3), (4, 3)], gradgrad=True),
    Case("mse_weight", lambda m, F, r, x, t: F.mse_loss(x, t, reduction=r, weight=T(m, U)),
         [(4, 3), (4, 3)]),
    Case("l1", lambda m, F, r, x, t: F.l1_loss(x, t, reduction=r), [(4, 3), (4, 3)]),
    # weights that require grad: PyTorch composes these weighted forms, so the weight gets a gradient too
    Case("mse_weight_grad", lambda m, F, r, x, t, w: F.mse_loss(x, t, reduction=r, weight=w), [(4, 3)] * 3,
         low=0.1),
    Case("l1_weight_grad", lambda m, F, r, x, t, w: F.l1_loss(x, t, reduction=r, weight=w), [(4, 3)] * 3, low=0.1),
    Case("huber_weight_grad", lambda m, F, r, x, t, w: F.huber_loss(x, t, reduction=r, delta=0.7, weight=w),
         [(4, 3)] * 3, low=0.1, high=3),
    Case("smooth_l1", lambda m, F, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.5), [(4, 3), (4, 3)]),
    Case("smooth_l1_beta0", lambda m, F, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.0), [(4, 3), (4, 3)]),
    Case("huber", lambda m, F, r, x, t: F.huber_loss(x, t, reduction=r, delta=0.7), [(4, 3), (4, 3)]),
    Case("cross_entropy", lambda m, F, r, x: F.cross_entropy(x, T(m, CLS), reduction=r), [(5, 4)],
         gradgrad=True),
    Case("cross_entropy_weight_ignore", lambda m, F, r, x: F.cross_entropy(
        x, T(m, CLS_IGN), weight=T(m, W4), reduction=r), [(5, 4)], gradgrad=True),
    Case("cross_entropy_smoothing", lambda m, F, r, x: F.cross_entropy(
        x, T(m, CLS_IGN), weight=T(m, W4), label_smoothing=0.2, reduction=r), [(5, 4)], gradgrad=True),
    Case("cross_entropy_smoothing_noweight", lambda m, F, r, x: F.cross_entropy(
        x, T(m, CLS_IGN), label_smoothing=0.3, reduction=r), [(5, 4)]),
    Case("cross_entropy_kdim", lambda m, F, r, x: F.cross_entropy(x, T(m, CLS_K), reduction=r, ignore_index=2),
         [(2, 3, 4, 3)]),
    Case("cross_entropy_unbatched", lambda m, F, r, x: F.cross_entropy(x, T(m, np.int64(2)), reduction=r), [(4,)]),
    Case("cross_entropy_probs", lambda m, F, r, x: F.cross_entropy(x, T(m, PROBS), reduction=r), [(5, 4)]),
    Case("cross_entropy_probs_weight_smooth", lambda m, F, r, x: F.cross_entropy(
        x, T(m, PROBS), weight=T(m, W4), label_smoothing=0.1, reduction=r), [(5, 4)]),
    Case("nll", lambda m, F, r, x: F.nll_loss(x, T(m, CLS_IGN), reduction=r), [(5, 4)], gradgrad=True),
    Case("nll_weight_kdim", lambda m, F, r, x: F.nll_loss(x, T(m, CLS_K), weight=T(m, W4[:3]), reduction=r),
         [(2, 3, 4, 3)]),
    Case("bce", lambda m, F, r, p, t: F.binary_cross_entropy(p, t, reduction=r), [(4, 3), (4, 3)],
         low=0.05, high=0.95),
    Case("bce_weight", lambda m, F, r, p: F.binary_cross_entropy(p, T(m, BIN), weight=T(m, U), reduction=r),
         [(4, 3)], low=0.05, high=0.95),
    Case("bce_logits", lambda m, F, r, x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r),
         [(4, 3), (4, 3)], low=-3, high=3),
    Case("bce_logits_pos_weight", lambda m, F, r, x: F.binary_cross_entropy_with_logits(
        x, T(m, BIN), weight=T(m, U), pos_weight=T(m, POS), reduction=r), [(4, 3)], low=-3, high=3),
    Case("soft_margin", lambda m, F, r, x: F.soft_margin_loss(x, T(m, SIGN), reduction=r), [(6,)]),
    Case("kl_div", lambda m, F, r, x: F.kl_div(x, T(m, PROBS), reduction=r),
         [(5, 4)], reductions=("none", "sum", "batchmean", "mean")),
    Case("kl_div_log_target", lambda m, F, r, x, t: F.kl_div(x, t, reduction=r, log_target=True),
         [(5, 4), (5, 4)], reductions=("none", "sum", "batchmean")),
    Case("poisson_nll", lambda m, F, r, x, t: F.poisson_nll_loss(x, t * 2, reduction=r), [(4, 3), (4, 3)]),
    Case("poisson_nll_full", lambda m, F, r, x: F.poisson_nll_loss(x, T(m, U * 5), log_input=False, full=True,
                                                                   reduction=r), [(4, 3)], low=0.1, high=3),
    Case("gaussian_nll", lambda m, F, r, x, t, v: F.gaussian_nll_loss(x, t, v, reduction=r),
         [(4, 3), (4, 3), (4, 3)], low=0.1, high=2),
    Case("gaussian_nll_hetero_full", lambda m, F, r, x, t, v: F.gaussian_nll_loss(x, t, v, full=True, reduction=r),
         [(4, 3), (4, 3), (4, 1)], low=0.1, high=2),
    Case("gaussian_nll_var_squeezed", lambda m, F, r, x, t, v: F.gaussian_nll_loss(x, t, v, reduction=r),
         [(4, 3), (4, 3), (4,)], low=0.1, high=2),
    Case("cosine_embedding", lambda m, F, r, a, b: F.cosine_embedding_loss(a, b, T(m, SIGN[:4]), margin=0.1,
                                                                           reduction=r), [(4, 3), (4, 3)]),
    Case("margin_ranking", lambda m, F, r, a, b: F.margin_ranking_loss(a, b, T(m, SIGN), margin=0.2, reduction=r),
         [(6,), (6,)]),
    Case("hinge_embedding", lambda m, F, r, x: F.hinge_embedding_loss(x, T(m, SIGN), margin=1.5, reduction=r),
         [(6,)]),
    Case("multilabel_soft_margin", lambda m, F, r, x: F.multilabel_soft_margin_loss(
        x, T(m, BIN), weight=T(m, POS), reduction=r), [(4, 3)]),
    Case("multi_margin", lambda m, F, r, x: F.multi_margin_loss(x, T(m, CLS), reduction=r), [(5, 4)]),
    Case("multi_margin_p2_weight", lambda m, F, r, x: F.multi_margin_loss(x, T(m, CLS), p=2, margin=0.5,
                                                                          weight=T(m, W4), reduction=r), [(5, 4)]),
    Case("multilabel_margin", lambda m, F, r, x: F.multilabel_margin_loss(x, T(m, MULTI), reduction=r), [(3, 4)]),
    Case("triplet", lambda m, F, r, a, p, n: F.triplet_margin_loss(a, p, n, reduction=r), [(4, 3)] * 3),
    Case("triplet_swap_p1", lambda m, F, r, a, p, n: F.triplet_margin_loss(a, p, n, p=1, swap=True, reduction=r),
         [(4, 3)] * 3),
    Case("triplet_distance", lambda m, F, r, a, p, n: F.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), reduction=r), [(4, 3)] * 3),
]


def _params():
    return [pytest.param(c, r, id=f"{c.name}-{r}") for c in CASES for r in c.reductions]


@pytest.mark.parametrize("case,reduction", _params())
def test_matches_torch(case, reduction, torch):
    import torch.nn.functional as TF
    arrays = case.arrays()
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    xe = [ember.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_t = case.fn(torch, TF, reduction, *xt)
        out_e = case.fn(ember, EF, reduction, *xe)
    assert tuple(out_e.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=1e-7, atol=1e-10)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    out_e.backward(ember.tensor(g))
    for i, (a, b) in enumerate(zip(xe, xt)):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy()), f"input {i}"
            continue
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=f"grad of input {i}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case):
    xs = [ember.tensor(a, requires_grad=True) for a in case.arrays()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in case.reductions:
            assert gradcheck(lambda *v: case.fn(ember, EF, r, *v), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=str)
def test_gradgradcheck(case):
    xs = [ember.tensor(a, requires_grad=True) for a in case.arrays()]
    assert gradgradcheck(lambda *v: case.fn(ember, EF, "mean", *v), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_keeps_dtype(dtype):
    dt = getattr(ember, dtype)
    x = ember.randn(4, 3, dtype=dt, requires_grad=True)
    for loss in (EF.mse_loss(x, ember.zeros(4, 3, dtype=dt)), EF.cross_entropy(x, ember.tensor([0, 1, 2, 0])),
                 EF.binary_cross_entropy_with_logits(x, ember.ones(4, 3, dtype=dt))):
        assert loss.dtype is dt
        x.grad = None
        loss.backward()
        assert x.grad.dtype is dt


def test_grad_fn_names():
    x = ember.randn(3, 4, requires_grad=True)
    assert EF.cross_entropy(x, ember.tensor([0, 1, 2])).grad_fn.name() == "NllLossBackward0"
    assert EF.mse_loss(x, ember.zeros(3, 4)).grad_fn.name() == "MseLossBackward0"


# --- NUM-1 / NUM-3 -------------------------------------------------------------------------------------

def test_num1_cross_entropy_extreme_logits():
    x = ember.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = EF.cross_entropy(x, ember.tensor([1]))
    assert loss.item() == pytest.approx(20000)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, -1, 0]])


def test_num3_bce_with_logits_extremes():
    z = ember.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    loss = EF.binary_cross_entropy_with_logits(z, ember.tensor([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1000, 1000, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [1, -1, -0.5])


def test_num3_bce_log_clamped():
    p = ember.tensor([1.0, 0.0, 0.5], requires_grad=True)
    loss = EF.binary_cross_entropy(p, ember.tensor([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.numpy()))


def test_all_ignored_mean_is_nan_like_torch(torch):
    x = np.zeros((2, 3))
    e = EF.cross_entropy(ember.tensor(x), ember.tensor([-100, -100])).item()
    t = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([-100, -100])).item()
    assert math.isnan(e) and math.isnan(t)


# --- errors (ERR-1, ERR-5) -----------------------------------------------------------------------------

def test_err5_cross_entropy_target_out_of_range():
    with pytest.raises(IndexError, match=r"Target 3 is out of bounds.*\[0, 2\]"):
        EF.cross_entropy(ember.randn(2, 3), ember.tensor([3, 0]))
    with pytest.raises(IndexError, match="Target -1"):
        EF.nll_loss(ember.randn(2, 3), ember.tensor([-1, 0]))


def test_err5_batch_size_mismatch():
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        EF.cross_entropy(ember.randn(4, 3), ember.tensor([0, 1, 2]))


def test_err1_mse_warns_naming_both_shapes():
    with pytest.warns(UserWarning, match=r"\(4, 3\).*\(4,\)"):
        with pytest.raises(RuntimeError, match=r"mse_loss.*\(4, 3\) and \(4,\)"):
            EF.mse_loss(ember.randn(4, 3), ember.randn(4))
    with pytest.warns(UserWarning, match=r"\(4, 1\).*\(4,\)"):
        assert EF.mse_loss(ember.randn(4, 1), ember.randn(4)).shape == ()


def test_invalid_reduction_and_bce_range():
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        EF.mse_loss(ember.randn(2), ember.randn(2), reduction="avg")
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        EF.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match="same size"):
        EF.binary_cross_entropy(ember.tensor([0.5]), ember.tensor([[1.0]]))


def test_legacy_size_average_reduce():
    x, t = ember.randn(3, 2), ember.randn(3, 2)
    with pytest.warns(UserWarning):
        out = EF.mse_loss(x, t, size_average=False)
    assert out.item() == pytest.approx(EF.mse_loss(x, t, reduction="sum").item())


# --- modules --------------------------------------------------------------------------------------------

MODULE_CASES = [
    ("MSELoss", {}, "reg"), ("L1Loss", {"reduction": "sum"}, "reg"), ("SmoothL1Loss", {"beta": 0.3}, "reg"),
    ("HuberLoss", {"delta": 0.5}, "reg"), ("CrossEntropyLoss", {"label_smoothing": 0.1}, "cls"),
    ("NLLLoss", {"reduction": "sum"}, "cls"), ("BCEWithLogitsLoss", {}, "bin"), ("SoftMarginLoss", {}, "sign"),
    ("MultiMarginLoss", {"margin": 0.5}, "cls"), ("MultiLabelSoftMarginLoss", {}, "bin"),
]


@pytest.mark.parametrize("name,kwargs,kind", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_loss_modules_match_torch(name, kwargs, kind, torch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    target = {"reg": rng.standard_normal((5, 4)).astype(np.float32), "cls": rng.integers(0, 4, 5),
              "bin": rng.integers(0, 2, (5, 4)).astype(np.float32),
              "sign": np.where(rng.random((5, 4)) > 0.5, 1, -1).astype(np.float32)}[kind]
    tm, em = getattr(torch.nn, name)(**kwargs), getattr(ember.nn, name)(**kwargs)
    xt, xe = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    lt, le = tm(xt, torch.tensor(target)), em(xe, ember.tensor(target))
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-5)
    lt.backward()
    le.backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert repr(em) == repr(tm).replace("torch.", "ember.")


def test_weighted_loss_registers_weight_buffer():
    loss = ember.nn.CrossEntropyLoss(weight=ember.ones(3))
    assert list(loss.state_dict()) == ["weight"]
    assert list(ember.nn.BCEWithLogitsLoss(pos_weight=ember.ones(2)).state_dict()) == ["pos_weight"]
    assert list(ember.nn.MSELoss().state_dict()) == []


# --- CTC ------------------------------------------------------------------------------------------------

def _ctc_case(lib, x, targets, il, tl, **kw):
    F = lib.nn.functional
    return F.ctc_loss(x.log_softmax(-1), lib.tensor(targets), lib.tensor(il), lib.tensor(tl), **kw)


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_matches_torch(layout, reduction, torch):
    rng = np.random.default_rng(0)
    T, N, C = 12, 4, 5
    x = rng.standard_normal((T, N, C))
    tl = np.array([3, 0, 4, 2])
    il = np.array([12, 9, 10, 6])
    padded = np.array([[1, 1, 2, 0], [0, 0, 0, 0], [3, 4, 4, 1], [2, 2, 0, 0]])   # repeats need a blank between
    targets = padded if layout == "padded" else np.concatenate([padded[i, :tl[i]] for i in range(N)])
    xt, xe = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    lt = _ctc_case(torch, xt, targets, il, tl, reduction=reduction)
    le = _ctc_case(ember, xe, targets, il, tl, reduction=reduction)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-9)
    g = rng.standard_normal(tuple(lt.shape))
    lt.backward(torch.tensor(g))
    le.backward(ember.tensor(g))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_ctc_impossible_alignment_and_zero_infinity(torch):
    x = np.random.default_rng(1).standard_normal((3, 1, 4))
    args = ([[1, 1, 1]], [3], [3])                 # three repeats need 5 steps: impossible in 3
    for zero_inf in (False, True):
        xt, xe = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
        lt = _ctc_case(torch, xt, *args, reduction="sum", zero_infinity=zero_inf)
        le = _ctc_case(ember, xe, *args, reduction="sum", zero_infinity=zero_inf)
        assert le.item() == lt.item()
        if zero_inf:
            lt.backward()
            le.backward()
            np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=1e-12)


def test_ctc_unbatched_and_module(torch):
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    lt = torch.nn.CTCLoss(blank=3)(torch.tensor(x).log_softmax(-1), torch.tensor([0, 1]), torch.tensor(6),
                                   torch.tensor(2))
    le = ember.nn.CTCLoss(blank=3)(ember.tensor(x).log_softmax(-1), ember.tensor([0, 1]), ember.tensor(6),
                                   ember.tensor(2))
    assert le.item() == pytest.approx(lt.item(), rel=1e-5)


def test_ctc_gradcheck():
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((5, 2, 4)), requires_grad=True)
    fn = lambda v: _ctc_case(ember, v, [[1, 2], [3, 3]], [5, 5], [2, 2])  # noqa: E731
    assert gradcheck(fn, [x], eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["int32", "int16", "int8"])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_targets_must_be_long_or_byte(loss, dtype):
    """PyTorch's kernels refuse int32/int16/int8 class indices (a common mistake); ember silently took them."""
    x = ember.randn(3, 4)
    fn = getattr(ember.nn.functional, loss)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        fn(x, ember.tensor([0, 1, 2], dtype=getattr(ember, dtype)))
    assert fn(x, ember.tensor([0, 1, 2], dtype=ember.uint8)).shape == ()


# --- arguments other than the input that require grad ----------------------------------------------------------
# PyTorch differentiates some (targets of most losses, the weights of the composed mse/l1/huber/multilabel soft
# margin/probability cross_entropy), refuses others in the forward (a fused kernel with no derivative for them),
# and leaves the rest without a gradient (hinge and cosine embedding targets). Each argument in turn requires
# grad, alone; the outcome (the refusal with its message, no gradient, or the gradients) must be PyTorch's.

A34 = R.uniform(-2, 2, size=(3, 4))
P34 = R.uniform(0.1, 0.9, size=(3, 4))
S34 = np.where(R.random((3, 4)) > 0.5, 1.0, -1.0)
B34 = (R.random((3, 4)) > 0.5).astype(float)
W34 = R.uniform(0.5, 2, size=(3, 4))
V34 = R.uniform(0.5, 2, size=(3, 4))
C3 = np.array([0, 2, 1])


def _idx(m, values):
    return m.tensor(values)


ARGUMENT_CASES = {  # name: (fn(m, F, *tensors), {argument: values})
    "mse_weight": (lambda m, F, x, t, w: F.mse_loss(x, t, weight=w), dict(input=A34, target=P34, weight=W34)),
    "l1_weight": (lambda m, F, x, t, w: F.l1_loss(x, t, weight=w, reduction="sum"),
                  dict(input=A34, target=P34, weight=W34)),
    "huber_weight": (lambda m, F, x, t, w: F.huber_loss(x, t, weight=w), dict(input=A34 * 2, target=P34,
                                                                               weight=W34)),
    "smooth_l1": (lambda m, F, x, t: F.smooth_l1_loss(x, t), dict(input=A34, target=P34)),
    "bce_weight": (lambda m, F, x, t, w: F.binary_cross_entropy(x, t, w), dict(input=P34, target=B34 * 0.8 + 0.1,
                                                                               weight=W34)),
    "bce_logits_weight": (lambda m, F, x, t, w: F.binary_cross_entropy_with_logits(x, t, w),
                          dict(input=A34, target=P34, weight=W34[0])),
    "bce_logits_pos_weight": (lambda m, F, x, t, p: F.binary_cross_entropy_with_logits(x, t, pos_weight=p),
                              dict(input=A34, target=P34, pos_weight=W34[0])),
    "bce_logits_both": (lambda m, F, x, t, w, p: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=p,
                                                                                     reduction="none"),
                        dict(input=A34, target=P34, weight=W34[0], pos_weight=W34[1])),
    "soft_margin": (lambda m, F, x, t: F.soft_margin_loss(x, t), dict(input=A34, target=S34)),
    "soft_margin_none": (lambda m, F, x, t: F.soft_margin_loss(x, t, reduction="none"), dict(input=A34, target=S34)),
    "cross_entropy_weight": (lambda m, F, x, w: F.cross_entropy(x, _idx(m, C3), w), dict(input=A34, weight=W34[0])),
    "cross_entropy_weight_smoothing": (lambda m, F, x, w: F.cross_entropy(x, _idx(m, C3), w, label_smoothing=0.2),
                                       dict(input=A34, weight=W34[0])),
    "cross_entropy_probs_weight": (lambda m, F, x, t, w: F.cross_entropy(x, t, w),
                                   dict(input=A34, target=P34, weight=W34[0])),
    "nll_weight": (lambda m, F, x, w: F.nll_loss(x, _idx(m, C3), w), dict(input=A34, weight=W34[0])),
    "nll_weight_unbatched": (lambda m, F, x, w: F.nll_loss(x, _idx(m, 1), w), dict(input=A34[0], weight=W34[0])),
    "multi_margin_weight": (lambda m, F, x, w: F.multi_margin_loss(x, _idx(m, C3), weight=w),
                            dict(input=A34, weight=W34[0])),
    "multilabel_soft_margin_weight": (lambda m, F, x, t, w: F.multilabel_soft_margin_loss(x, t, w),
                                      dict(input=A34, target=B34, weight=W34[0])),
    "kl_div": (lambda m, F, x, t: F.kl_div(x, t, reduction="batchmean"), dict(input=A34, target=P34)),
    "kl_div_log_target": (lambda m, F, x, t: F.kl_div(x, t, reduction="sum", log_target=True),
                          dict(input=A34, target=A34[::-1].copy())),
    "poisson_nll": (lambda m, F, x, t: F.poisson_nll_loss(x, t), dict(input=A34, target=V34)),
    "poisson_nll_full": (lambda m, F, x, t: F.poisson_nll_loss(x, t, log_input=False, full=True),
                         dict(input=V34, target=V34 * 2)),
    "gaussian_nll": (lambda m, F, x, t, v: F.gaussian_nll_loss(x, t, v), dict(input=A34, target=P34, var=V34)),
    "cosine_embedding": (lambda m, F, a, b, t: F.cosine_embedding_loss(a, b, t),
                         dict(input1=A34, input2=P34, target=S34[:, 0])),
    "margin_ranking": (lambda m, F, a, b, t: F.margin_ranking_loss(a, b, t, margin=0.3),
                       dict(input1=A34[0], input2=P34[0], target=S34[0])),
    "hinge_embedding": (lambda m, F, x, t: F.hinge_embedding_loss(x, t), dict(input=A34, target=S34)),
    "triplet": (lambda m, F, a, p, n: F.triplet_margin_loss(a, p, n), dict(anchor=A34, positive=P34, negative=V34)),
}


def _argument_outcome(m, name, requiring):
    """'refused: <message>', 'no grad', or the gradient of every argument that requires grad."""
    fn, arguments = ARGUMENT_CASES[name]
    tensors = [m.tensor(values, requires_grad=arg in requiring) for arg, values in arguments.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(m, m.nn.functional, *tensors)
        except RuntimeError as e:
            return f"refused: {e}"
    if not out.requires_grad:
        return "no grad"
    weights = m.tensor(np.linspace(0.5, 1.5, max(out.numel(), 1)).reshape(tuple(out.shape)))
    grads = m.autograd.grad((out * weights).sum(), [t for t in tensors if t.requires_grad], allow_unused=True)
    return [None if g is None else g.numpy() for g in grads]


def _argument_params():
    out = []
    for name, (_, arguments) in ARGUMENT_CASES.items():
        for arg in arguments:
            out.append(pytest.param(name, (arg,), id=f"{name}-{arg}"))
        out.append(pytest.param(name, tuple(arguments), id=f"{name}-all"))
    return out


@pytest.mark.parametrize("name, requiring", _argument_params())
def test_argument_requiring_grad_matches_torch(torch, name, requiring):
    got, want = _argument_outcome(ember, name, requiring), _argument_outcome(torch, name, requiring)
    if isinstance(want, str):
        assert got == want
        return
    assert not isinstance(got, str), got
    for arg, e, t in zip(requiring, got, want):
        if t is None:
            assert e is None or not np.any(e), arg
        else:
            np.testing.assert_allclose(e, t, rtol=1e-12, atol=1e-14, err_msg=arg)


REFUSED = [  # (call with the argument requiring grad, PyTorch's function name, argument)
    (lambda x, w: EF.binary_cross_entropy(x.sigmoid(), x.detach().sigmoid(), w), "binary_cross_entropy", "weight"),
    (lambda x, w: EF.binary_cross_entropy_with_logits(x, x.detach(), w), "binary_cross_entropy_with_logits",
     "weight"),
    (lambda x, w: EF.binary_cross_entropy_with_logits(x, x.detach(), pos_weight=w),
     "binary_cross_entropy_with_logits", "pos_weight"),
    (lambda x, w: EF.soft_margin_loss(x, w), "soft_margin_loss", "target"),
    (lambda x, w: EF.nll_loss(x, ember.tensor([0, 1]), w[0]), "nll_loss_forward", "weight"),
    (lambda x, w: EF.cross_entropy(x, ember.tensor([0, 1]), w[0]), "nll_loss_forward", "weight"),
    (lambda x, w: EF.multi_margin_loss(x, ember.tensor([0, 1]), weight=w[0]), "multi_margin_loss", "weight"),
]


@pytest.mark.parametrize("call, function, argument", REFUSED, ids=[f"{r[1]}-{r[2]}" for r in REFUSED])
def test_arguments_without_a_derivative_are_refused_under_grad_mode(call, function, argument):
    x = ember.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    w = ember.tensor([[1.0, 2.0, 0.5], [0.3, 1.0, 1.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match=f"The function '{function}' is not differentiable with respect to "
                                           f"argument '{argument}'"):
        call(x, w)
    with ember.no_grad():                          # nothing is recorded: PyTorch computes it, and so does ember
        assert call(x, w).requires_grad is False
    assert call(x, w.detach()).requires_grad is False


def test_weighted_losses_differentiate_the_weight_by_hand():
    # mse 'mean' with weight: sum(w d^2) / sum(w), so d/dw_i = (d_i^2 - loss) / sum(w); huber 'mean' is mean(w h)
    x, t = ember.tensor([1.0, 3.0], dtype=ember.float64), ember.tensor([0.0, 1.0], dtype=ember.float64)
    w = ember.tensor([1.0, 3.0], dtype=ember.float64, requires_grad=True)
    loss = EF.mse_loss(x, t, weight=w)
    assert loss.item() == pytest.approx((1 + 12) / 4) and loss.grad_fn.name() == "DivBackward0"
    loss.backward()
    assert w.grad.tolist() == pytest.approx([(1 - 13 / 4) / 4, (4 - 13 / 4) / 4])
    w.grad = None
    loss = EF.huber_loss(x, t, weight=w, delta=1.0)           # h = [0.5, 1.5]
    assert loss.item() == pytest.approx((0.5 + 4.5) / 2) and loss.grad_fn.name() == "MeanBackward0"
    loss.backward()
    assert w.grad.tolist() == pytest.approx([0.25, 0.75])
    w.grad = None
    EF.l1_loss(x, t, weight=w, reduction="sum").backward()
    assert w.grad.tolist() == [1.0, 2.0]


def test_soft_margin_loss_does_not_warn_about_a_broadcast_target():
    # PyTorch's soft_margin_loss broadcasts without the size warning mse_loss gives
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert EF.soft_margin_loss(ember.ones(3, 4), ember.ones(4)).shape == ()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)], ids=["both", "input", "target"])
def test_mse_plain_backward_matches_the_differentiable_formula(needs, reduction, dtype):
    """Without create_graph mse's backward runs on arrays (loss.py, _mse_plain_backward); with it, through
    differentiable ops: the same bits either way."""
    rng = np.random.default_rng(0)
    dt = getattr(ember, dtype)
    x = ember.tensor(rng.standard_normal((6, 5)), dtype=dt, requires_grad=needs[0])
    t = ember.tensor(rng.standard_normal((6, 5)), dtype=dt, requires_grad=needs[1])
    out = EF.mse_loss(x, t, reduction=reduction)
    g = ember.tensor(rng.standard_normal(tuple(out.shape)), dtype=dt)
    leaves = [v for v in (x, t) if v.requires_grad]
    plain = ember.autograd.grad(out, leaves, g, retain_graph=True)
    graphed = ember.autograd.grad(out, leaves, g, create_graph=True)
    for p, q in zip(plain, graphed):
        assert p.dtype == q.dtype and np.array_equal(p.numpy(), q.detach().numpy())
