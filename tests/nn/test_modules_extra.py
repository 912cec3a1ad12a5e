"""CosineSimilarity, PairwiseDistance, NLLLoss2d, DataParallel, SyncBatchNorm against PyTorch."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck


def to_numpy(x):
    return np.asarray(x.detach().numpy())


def _pair(lib, shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return tuple(lib.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for _ in range(2))


DISTANCE_CASES = [
    ("CosineSimilarity", {}, (4, 5)),
    ("CosineSimilarity", {"dim": 0, "eps": 1e-6}, (4, 5)),
    ("CosineSimilarity", {"dim": -1}, (2, 3, 4)),
    ("PairwiseDistance", {}, (4, 5)),
    ("PairwiseDistance", {"p": 1.0, "keepdim": True}, (4, 5)),
    ("PairwiseDistance", {"p": 3.0, "eps": 1e-3}, (2, 3, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", DISTANCE_CASES)
def test_distance_modules_match_torch(name, kwargs, shape, torch):
    me, mt = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(me) == repr(mt)
    (xe, ye), (xt, yt) = _pair(ember, shape), _pair(torch, shape)
    oute, outt = me(xe, ye), mt(xt, yt)
    np.testing.assert_allclose(to_numpy(oute), to_numpy(outt), rtol=1e-5, atol=1e-6)
    oute.sum().backward()
    outt.sum().backward()
    np.testing.assert_allclose(to_numpy(xe.grad), to_numpy(xt.grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(ye.grad), to_numpy(yt.grad), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,kwargs,shape", DISTANCE_CASES)
def test_distance_modules_gradcheck(name, kwargs, shape):
    module = getattr(nn, name)(**kwargs)
    assert gradcheck(module, _pair(ember, shape, dtype=np.float64))


def test_distance_module_attributes():
    m = nn.PairwiseDistance(p=1.5, eps=1e-3, keepdim=True)
    assert (m.norm, m.eps, m.keepdim) == (1.5, 1e-3, True)
    c = nn.CosineSimilarity(dim=2, eps=1e-4)
    assert (c.dim, c.eps) == (2, 1e-4)


def test_nll_loss_2d_is_a_deprecated_nll_loss(torch):
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated") as record:
        me = nn.NLLLoss2d(ignore_index=1)
    with pytest.warns(FutureWarning) as record_t:
        mt = torch.nn.NLLLoss2d(ignore_index=1)
    assert str(record[0].message) == str(record_t[0].message)
    assert isinstance(me, nn.NLLLoss) and repr(me) == repr(mt) == "NLLLoss2d()"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    target = rng.integers(0, 3, (2, 4, 4))
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    le, lt = me(xe.log_softmax(1), ember.tensor(target)), mt(xt.log_softmax(1), torch.tensor(target))
    np.testing.assert_allclose(to_numpy(le), to_numpy(lt), rtol=1e-5)
    le.backward()
    lt.backward()
    np.testing.assert_allclose(to_numpy(xe.grad), to_numpy(xt.grad), rtol=1e-4, atol=1e-6)


# --- DataParallel ------------------------------------------------------------------------------------

def test_data_parallel_wraps_on_cpu(torch):
    inner_e, inner_t = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    inner_e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in inner_t.state_dict().items()})
    dpe, dpt = nn.DataParallel(inner_e), torch.nn.DataParallel(inner_t)
    assert dpe.module is inner_e and dpe.device_ids == dpt.device_ids == []
    assert list(dpe.state_dict()) == list(dpt.state_dict()) == ["module.weight", "module.bias"]
    assert repr(dpe) == repr(dpt)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(dpe(ember.tensor(x))), to_numpy(dpt(torch.tensor(x))), rtol=1e-6)
    # device_ids are ignored without a GPU, as on PyTorch's CPU-only build
    assert nn.DataParallel(inner_e, device_ids=[0, 1]).device_ids == []
    assert nn.parallel.DataParallel is nn.DataParallel


def test_data_parallel_forwards_kwargs_and_gradients():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    dp = nn.DataParallel(Scale())
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    dp(x, factor=3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    lin = nn.Linear(2, 2, dtype=ember.float64)
    assert gradcheck(nn.DataParallel(lin), (ember.randn(3, 2, dtype=ember.float64, requires_grad=True),))


# --- SyncBatchNorm -----------------------------------------------------------------------------------

def _copy_state(me, mt):
    me.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in mt.state_dict().items()})


@pytest.mark.parametrize("shape,kwargs", [((4, 3), {}), ((4, 3, 5), {"momentum": None}),
                                          ((2, 3, 4, 5), {"affine": False}),
                                          ((2, 3, 2, 2, 2, 2), {"track_running_stats": False})])
def test_sync_batch_norm_matches_torch(shape, kwargs, torch):
    me, mt = nn.SyncBatchNorm(3, **kwargs), torch.nn.SyncBatchNorm(3, **kwargs)
    assert repr(me) == repr(mt) and list(me.state_dict()) == list(mt.state_dict())
    assert me.process_group is None
    _copy_state(me, mt)
    rng = np.random.default_rng(0)
    for training in (True, True, False):
        me.train(training)
        mt.train(training)
        x = rng.standard_normal(shape).astype(np.float32)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = me(xe), mt(xt)
        np.testing.assert_allclose(to_numpy(ye), to_numpy(yt), rtol=1e-4, atol=1e-5)
        (ye * ye).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(to_numpy(xe.grad), to_numpy(xt.grad), rtol=1e-3, atol=1e-4)
        for key, value in mt.state_dict().items():
            np.testing.assert_allclose(to_numpy(me.state_dict()[key]), to_numpy(value), rtol=1e-5, atol=1e-6)


def test_sync_batch_norm_gradcheck():
    m = nn.SyncBatchNorm(3, dtype=ember.float64)
    x = ember.randn(4, 3, 2, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda t: m(t), (x,))


def test_sync_batch_norm_errors(torch):
    for lib in (ember, torch):
        m = lib.nn.SyncBatchNorm(3)
        with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
            m(lib.ones(3))
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        nn.SyncBatchNorm(0)(ember.ones(2, 0))


def test_convert_sync_batchnorm_matches_torch(torch):
    def build(lib):
        seq = lib.nn.Sequential(lib.nn.Conv2d(3, 4, 1), lib.nn.BatchNorm2d(4),
                                lib.nn.Sequential(lib.nn.BatchNorm1d(2, affine=False)), lib.nn.InstanceNorm2d(3),
                                lib.nn.BatchNorm3d(2, bias=False, momentum=None))
        seq[1].running_mean.fill_(2.0)
        seq.eval()
        return seq

    se, st = build(ember), build(torch)
    bn_weight = se[1].weight
    ce = nn.SyncBatchNorm.convert_sync_batchnorm(se, process_group="pg")
    ct = torch.nn.SyncBatchNorm.convert_sync_batchnorm(st)
    assert ce is se and repr(ce) == repr(ct)
    assert type(ce[1]) is nn.SyncBatchNorm and type(ce[3]) is nn.InstanceNorm2d
    assert ce[1].weight is bn_weight and ce[1].process_group == "pg" and not ce[1].training
    assert ce[4].bias is None and ce[4].momentum is None
    np.testing.assert_array_equal(ce[1].running_mean.numpy(), 2.0)
    assert list(ce.state_dict()) == list(ct.state_dict())
    single = nn.BatchNorm1d(5)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(single)
    assert type(converted) is nn.SyncBatchNorm and converted is not single
    assert converted.running_var is single.running_var and converted.num_batches_tracked is single.num_batches_tracked
