"""nn.functional (activations, dropout, linear, embedding, norms, distances): values and gradients
against PyTorch, gradcheck in float64, and the NUM-1 / NUM-3 stability rows of docs/RELIABILITY.md."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.autograd.gradcheck import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _ints(high, shape, low=0):
    return RNG.integers(low, high, size=shape)


class Case:
    def __init__(self, name, fn, shapes, low=-2.0, high=2.0, gradgrad=False, positive=False, rtol=1e-6,
                 atol=1e-8, gradcheck=True):
        self.name, self.fn, self.shapes = name, fn, shapes
        self.low, self.high = (0.1, 2.0) if positive else (low, high)
        self.gradgrad, self.rtol, self.atol, self.gradcheck = gradgrad, rtol, atol, gradcheck

    def __repr__(self):
        return self.name

    def arrays(self):
        rng = np.random.default_rng(abs(hash(self.name)) % 2 ** 32)
        return [rng.uniform(self.low, self.high, size=s) for s in self.shapes]


def _cdist(m):
    return m.cdist                                  # torch.cdist (torch.nn.functional has none, nor has ember's)


IDX = _ints(5, (3, 4))
OFFSETS = np.array([0, 2, 2, 5])
RM, RV = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)

CASES = [
    # activations
    Case("relu", lambda m, F, x: F.relu(x), [(3, 4)], gradgrad=True),
    Case("relu6", lambda m, F, x: F.relu6(x * 4), [(3, 4)]),
    Case("leaky_relu", lambda m, F, x: F.leaky_relu(x, 0.2), [(3, 4)]),
    Case("prelu", lambda m, F, x, w: F.prelu(x, w), [(2, 3, 4), (3,)]),
    Case("prelu_scalar", lambda m, F, x, w: F.prelu(x, w), [(2, 3), (1,)]),
    Case("elu", lambda m, F, x: F.elu(x, 0.7), [(3, 4)], gradgrad=True),
    Case("selu", lambda m, F, x: F.selu(x), [(3, 4)]),
    Case("celu", lambda m, F, x: F.celu(x, 1.5), [(3, 4)]),
    Case("gelu", lambda m, F, x: F.gelu(x), [(3, 4)], gradgrad=True, low=-4, high=4),
    Case("gelu_tanh", lambda m, F, x: F.gelu(x, approximate="tanh"), [(3, 4)], gradgrad=True, low=-4, high=4),
    Case("silu", lambda m, F, x: F.silu(x), [(3, 4)], gradgrad=True, low=-5, high=5),
    Case("mish", lambda m, F, x: F.mish(x), [(3, 4)], low=-5, high=5),
    Case("sigmoid", lambda m, F, x: F.sigmoid(x), [(3, 4)]),
    Case("tanh", lambda m, F, x: F.tanh(x), [(3, 4)]),
    Case("hardtanh", lambda m, F, x: F.hardtanh(x, -0.5, 1.0), [(3, 4)]),
    Case("hardsigmoid", lambda m, F, x: F.hardsigmoid(x * 3), [(3, 4)]),
    Case("hardswish", lambda m, F, x: F.hardswish(x * 3), [(3, 4)]),
    Case("hardshrink", lambda m, F, x: F.hardshrink(x, 0.3), [(3, 4)]),
    Case("softshrink", lambda m, F, x: F.softshrink(x, 0.3), [(3, 4)]),
    Case("tanhshrink", lambda m, F, x: F.tanhshrink(x), [(3, 4)]),
    Case("softplus", lambda m, F, x: F.softplus(x, beta=2, threshold=3), [(3, 4)], gradgrad=True),
    Case("softsign", lambda m, F, x: F.softsign(x), [(3, 4)]),
    Case("threshold", lambda m, F, x: F.threshold(x, 0.1, -2.0), [(3, 4)]),
    Case("logsigmoid", lambda m, F, x: F.logsigmoid(x * 5), [(3, 4)]),
    Case("softmax", lambda m, F, x: F.softmax(x, 1), [(3, 4)], gradgrad=True),
    Case("softmin", lambda m, F, x: F.softmin(x, 0), [(3, 4)]),
    Case("log_softmax", lambda m, F, x: F.log_softmax(x, -1), [(3, 4)], gradgrad=True),
    Case("glu", lambda m, F, x: F.glu(x, 1), [(3, 4)]),
    Case("rrelu_eval", lambda m, F, x: F.rrelu(x, 0.1, 0.3), [(3, 4)]),
    # linear, sparse
    Case("linear", lambda m, F, x, w, b: F.linear(x, w, b), [(5, 3), (4, 3), (4,)], gradgrad=True),
    Case("linear_3d_nobias", lambda m, F, x, w: F.linear(x, w), [(2, 5, 3), (4, 3)]),
    Case("linear_1d", lambda m, F, x, w, b: F.linear(x, w, b), [(3,), (4, 3), (4,)]),
    Case("bilinear", lambda m, F, x1, x2, w, b: F.bilinear(x1, x2, w, b), [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    Case("embedding", lambda m, F, w: F.embedding(m.tensor(IDX), w), [(5, 3)], gradgrad=True),
    # padding rows and frequency scaling change the gradient on purpose: no gradcheck for these
    Case("embedding_padding", lambda m, F, w: F.embedding(m.tensor(IDX), w, padding_idx=1), [(5, 3)],
         gradcheck=False),
    Case("embedding_freq", lambda m, F, w: F.embedding(m.tensor(IDX), w, scale_grad_by_freq=True), [(5, 3)],
         gradcheck=False),
    Case("embedding_bag_mean", lambda m, F, w: F.embedding_bag(m.tensor(IDX), w), [(5, 3)]),
    Case("embedding_bag_sum_offsets", lambda m, F, w: F.embedding_bag(
        m.tensor(IDX.reshape(-1)[:6]), w, m.tensor(OFFSETS), mode="sum"), [(5, 3)]),
    Case("embedding_bag_max", lambda m, F, w: F.embedding_bag(
        m.tensor(IDX.reshape(-1)[:6]), w, m.tensor(OFFSETS), mode="max"), [(5, 3)], gradcheck=False),
    Case("embedding_bag_psw", lambda m, F, w, p: F.embedding_bag(
        m.tensor(IDX), w, mode="sum", per_sample_weights=p), [(5, 3), (3, 4)]),
    Case("embedding_bag_padding_last", lambda m, F, w: F.embedding_bag(
        m.tensor(IDX.reshape(-1)[:6]), w, m.tensor(OFFSETS), include_last_offset=True, padding_idx=2),
        [(5, 3)]),
    # normalization
    Case("batch_norm_train", lambda m, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         [(4, 3, 5), (3,), (3,)], gradgrad=True),
    Case("batch_norm_2d", lambda m, F, x: F.batch_norm(x, None, None, training=True), [(2, 3, 2, 2)]),
    Case("batch_norm_eval", lambda m, F, x, w, b: F.batch_norm(x, m.tensor(RM), m.tensor(RV), w, b),
         [(4, 3), (3,), (3,)]),
    Case("layer_norm", lambda m, F, x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)], gradgrad=True),
    Case("layer_norm_2d", lambda m, F, x, w: F.layer_norm(x, (3, 4), w), [(2, 3, 4), (3, 4)]),
    Case("layer_norm_noaffine", lambda m, F, x: F.layer_norm(x, [4]), [(2, 3, 4)]),
    Case("group_norm", lambda m, F, x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    Case("instance_norm", lambda m, F, x, w, b: F.instance_norm(x, weight=w, bias=b), [(2, 3, 5), (3,), (3,)]),
    Case("rms_norm", lambda m, F, x, w: F.rms_norm(x, (4,), w), [(3, 4), (4,)], gradgrad=True),
    Case("rms_norm_eps", lambda m, F, x: F.rms_norm(x, [2, 4], eps=1e-3), [(3, 2, 4)]),
    Case("local_response_norm", lambda m, F, x: F.local_response_norm(x, 3, alpha=0.1), [(2, 5, 3)]),
    Case("local_response_norm_4d", lambda m, F, x: F.local_response_norm(x, 2), [(1, 4, 2, 3)]),
    Case("normalize", lambda m, F, x: F.normalize(x, dim=1), [(3, 4)]),
    Case("normalize_p1", lambda m, F, x: F.normalize(x, p=1, dim=0), [(3, 4)]),
    # distances
    Case("cosine_similarity", lambda m, F, a, b: F.cosine_similarity(a, b), [(3, 4), (3, 4)]),
    Case("cosine_similarity_bcast", lambda m, F, a, b: F.cosine_similarity(a, b, dim=-1), [(3, 4), (1, 4)]),
    Case("pairwise_distance", lambda m, F, a, b: F.pairwise_distance(a, b), [(3, 4), (3, 4)]),
    Case("pairwise_distance_p1", lambda m, F, a, b: F.pairwise_distance(a, b, p=1, keepdim=True),
         [(3, 4), (3, 4)]),
    Case("pdist", lambda m, F, a: F.pdist(a), [(4, 3)]),
    Case("cdist", lambda m, F, a, b: _cdist(m)(a, b), [(3, 4), (5, 4)]),
    Case("cdist_mm", lambda m, F, a, b: _cdist(m)(a, b), [(30, 4), (5, 4)], rtol=1e-5),
    Case("cdist_p1", lambda m, F, a, b: _cdist(m)(a, b, p=1), [(2, 3, 4), (2, 5, 4)]),
]


def _ember_fn(case):
    return lambda *xs: case.fn(ember, EF, *xs)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    import torch.nn.functional as TF
    arrays = case.arrays()
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    xe = [ember.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_t = case.fn(torch, TF, *xt)
        out_e = case.fn(ember, EF, *xe)
    assert tuple(out_e.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=case.rtol, atol=case.atol)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    out_e.backward(ember.tensor(g))
    for i, (a, b) in enumerate(zip(xe, xt)):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy()), f"input {i}"
            continue
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=max(case.rtol, 1e-6), atol=1e-8,
                                   err_msg=f"grad of input {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c.gradcheck], ids=str)
def test_gradcheck(case):
    xs = [ember.tensor(a, requires_grad=True) for a in case.arrays()]
    assert gradcheck(_ember_fn(case), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=str)
def test_gradgradcheck(case):
    xs = [ember.tensor(a, requires_grad=True) for a in case.arrays()]
    assert gradgradcheck(_ember_fn(case), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "elu", "softplus", "layer_norm"])
def test_float32_stays_float32(name):
    x = ember.randn(4, 5, requires_grad=True)
    fn = {"relu": EF.relu, "gelu": EF.gelu, "silu": EF.silu, "elu": EF.elu, "softplus": EF.softplus,
          "layer_norm": lambda t: EF.layer_norm(t, (5,))}[name]
    y = fn(x)
    assert y.dtype is ember.float32
    y.sum().backward()
    assert x.grad.dtype is ember.float32


def test_gelu_float32_close_to_exact(torch):
    a = np.linspace(-8, 8, 4001).astype(np.float32)
    out = EF.gelu(ember.tensor(a)).numpy()
    ref = torch.nn.functional.gelu(torch.tensor(a)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


# --- NUM-1 / NUM-3 -------------------------------------------------------------------------------------

def test_num1_log_softmax_softmax_extremes():
    x = ember.tensor([1000.0, 0.0, -1000.0], requires_grad=True)
    y = EF.log_softmax(x, 0)
    np.testing.assert_allclose(y.detach().numpy(), [0, -1000, -2000])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-2, 1, 1])
    np.testing.assert_allclose(EF.softmax(ember.tensor([1000.0, 1000.0]), 0).numpy(), [0.5, 0.5])


def test_num3_softplus_sigmoid_tanh_extremes():
    x = ember.tensor([1000.0, -1000.0, 20.0, 21.0, 0.0], requires_grad=True)
    y = EF.softplus(x)
    np.testing.assert_allclose(y.detach().numpy(), [1000, 0, 20, 21, math.log(2)], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 0, 1, 1, 0.5], rtol=1e-6)
    for fn, lo, hi in ((EF.sigmoid, 0.0, 1.0), (EF.tanh, -1.0, 1.0)):
        z = ember.tensor([-1000.0, 1000.0], requires_grad=True)
        out = fn(z)
        np.testing.assert_allclose(out.detach().numpy(), [lo, hi])
        out.sum().backward()
        assert np.all(np.isfinite(z.grad.numpy())) and np.all(z.grad.numpy() == 0)
    z = ember.tensor([-1000.0, 1000.0], requires_grad=True)
    out = EF.logsigmoid(z)
    np.testing.assert_allclose(out.detach().numpy(), [-1000, 0])
    out.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [1, 0])


# --- dropout -------------------------------------------------------------------------------------------

def test_dropout_scales_and_zeroes():
    x = ember.ones(1000, requires_grad=True)
    y = EF.dropout(x, 0.3)
    values = np.unique(y.detach().numpy())
    assert len(values) == 2 and values[0] == 0 and np.isclose(values[1], 1 / 0.7)
    assert 0.2 < float((y == 0).float().mean()) < 0.4
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    assert EF.dropout(x, 0.3, training=False) is x
    np.testing.assert_array_equal(EF.dropout(x, 1.0).detach().numpy(), 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        EF.dropout(x, 1.5)


def test_feature_dropout_zeroes_whole_channels():
    x = ember.ones(8, 16, 5)
    y = EF.dropout1d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, 5)
    assert np.all((per_channel == per_channel[..., :1]))
    y2 = EF.dropout2d(ember.ones(4, 6, 3, 3), 0.5).numpy()
    assert np.all(y2 == y2[..., :1, :1])
    with pytest.raises(RuntimeError, match="dropout1d"):
        EF.dropout1d(ember.ones(2, 3, 4, 5))


def test_alpha_dropout_keeps_moments():
    x = ember.randn(200000)
    y = EF.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert EF.alpha_dropout(x, 0.2) is x


def test_inplace_activation_writes_input():
    x = ember.tensor([-1.0, 2.0])
    out = EF.relu(x, inplace=True)
    assert out is x and x.tolist() == [0.0, 2.0]
    y = ember.tensor([-1.0, 2.0])
    EF.leaky_relu_(y, 0.5)
    assert y.tolist() == [-0.5, 2.0]
    z = ember.tensor([-3.0, 3.0])
    EF.hardtanh_(z)
    assert z.tolist() == [-1.0, 1.0]


def test_inplace_activation_in_graph_gets_gradient(torch):
    a = np.array([-1.0, 0.5, 2.0])
    xe = ember.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    ye = EF.elu(xe * 2, inplace=True)
    yt = torch.nn.functional.elu(xt * 2, inplace=True)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy())


# --- embedding / one_hot -------------------------------------------------------------------------------

def test_embedding_error_names_value_and_range():
    w = ember.randn(3, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range for embedding with 3 rows"):
        EF.embedding(ember.tensor([5]), w)
    with pytest.raises(IndexError, match="index -1"):
        EF.embedding(ember.tensor([-1]), w)


def test_embedding_max_norm_renormalizes_rows(torch):
    w = np.random.default_rng(0).standard_normal((5, 3)) * 3
    we, wt = ember.tensor(w), torch.tensor(w)
    idx = [[0, 2], [2, 4]]
    oe = EF.embedding(ember.tensor(idx), we, max_norm=1.0)
    ot = torch.nn.functional.embedding(torch.tensor(idx), wt, max_norm=1.0)
    np.testing.assert_allclose(oe.numpy(), ot.numpy(), rtol=1e-6)
    np.testing.assert_allclose(we.numpy(), wt.numpy(), rtol=1e-6)


def test_one_hot(torch):
    t = [[0, 2], [1, 3]]
    np.testing.assert_array_equal(EF.one_hot(ember.tensor(t)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(t)).numpy())
    assert EF.one_hot(ember.tensor(t), 6).shape == (2, 2, 6)
    assert EF.one_hot(ember.tensor(t)).dtype is ember.int64
    with pytest.raises(RuntimeError):
        EF.one_hot(ember.tensor([4]), 3)


def test_gumbel_softmax():
    logits = ember.randn(5, 4, requires_grad=True)
    soft = EF.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).detach().numpy(), 1, rtol=1e-5)
    hard = EF.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.detach().numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(hard.sum(-1).detach().numpy(), 1)
    (hard * ember.arange(4.0)).sum().backward()
    assert logits.grad is not None and np.any(logits.grad.numpy() != 0)


def test_batch_norm_updates_running_stats(torch):
    a = np.random.default_rng(0).standard_normal((6, 3, 4))
    rm_e, rv_e = ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)
    rm_t, rv_t = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    EF.batch_norm(ember.tensor(a), rm_e, rv_e, training=True, momentum=0.3)
    torch.nn.functional.batch_norm(torch.tensor(a), rm_t, rv_t, training=True, momentum=0.3)
    np.testing.assert_allclose(rm_e.numpy(), rm_t.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rv_e.numpy(), rv_t.numpy(), rtol=1e-10)


def test_linear_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(3, 5\).*\(2, 4\)"):
        EF.linear(ember.ones(3, 5), ember.ones(2, 4))


def test_layer_norm_shape_error():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        EF.layer_norm(ember.ones(2, 3), (4,))
