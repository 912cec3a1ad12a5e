"""Lazy modules and UninitializedParameter / UninitializedBuffer against PyTorch."""
import copy
import pickle

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck
from ember.nn.parameter import is_lazy

# (lazy class, constructor args, kwargs, input shape)
LAZY_CASES = [
    ("LazyLinear", (3,), {}, (5, 4)),
    ("LazyLinear", (2,), {"bias": False}, (2, 3, 6)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 7)),
    ("LazyConv1d", (4, 3), {}, (3, 7)),                                   # unbatched
    ("LazyConv2d", (6, 3), {"groups": 2, "bias": False}, (2, 4, 6, 6)),
    ("LazyConv3d", (2, 2), {"stride": 2}, (1, 3, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2}, (1, 6, 5, 5)),
    ("LazyConvTranspose3d", (2, 2), {"dilation": 2}, (1, 3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm2d", (), {"momentum": None}, (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), {"affine": False}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 5)),
    ("LazyInstanceNorm2d", (), {"track_running_stats": False, "bias": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"affine": False}, (2, 3, 2, 2, 2)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(LAZY_CASES)]


def _numpy(x):
    return np.asarray(x.detach().numpy())


@pytest.mark.parametrize("name,args,kwargs,shape", LAZY_CASES, ids=IDS)
def test_lazy_module_matches_torch_bit_for_bit(name, args, kwargs, shape, torch):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    me, mt = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(me) == repr(mt)
    assert list(me.state_dict()) == list(mt.state_dict())
    assert [repr(v) for v in me.state_dict().values()] == [repr(v) for v in mt.state_dict().values()]
    ember.manual_seed(7)
    torch.manual_seed(7)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = me(xe), mt(xt)
    assert type(me).__name__ == type(mt).__name__ == name[4:]
    assert repr(me) == repr(mt) and not me._forward_pre_hooks
    params_t = dict(mt.named_parameters())
    for key, value in me.named_parameters():         # same RNG draws: exactly equal
        np.testing.assert_array_equal(_numpy(value), params_t[key].detach().numpy(), err_msg=key)
    buffers_t = dict(mt.named_buffers())             # running stats after one update: float rounding
    for key, value in me.named_buffers():
        np.testing.assert_allclose(_numpy(value), buffers_t[key].numpy(), rtol=1e-5, atol=1e-7, err_msg=key)
    np.testing.assert_allclose(_numpy(ye), _numpy(yt), rtol=1e-5, atol=1e-5)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(_numpy(xe.grad), _numpy(xt.grad), rtol=1e-4, atol=1e-4)
    grads_t = dict(mt.named_parameters())
    for pname, p in me.named_parameters():
        np.testing.assert_allclose(_numpy(p.grad), _numpy(grads_t[pname].grad), rtol=1e-4, atol=1e-4)
    # the RNG streams stay in step after initialisation
    np.testing.assert_array_equal(ember.rand(3).numpy(), torch.rand(3).numpy())


@pytest.mark.parametrize("name,args,kwargs,shape", [c for c in LAZY_CASES if "Norm" not in c[0]],
                         ids=[i for i, c in zip(IDS, LAZY_CASES) if "Norm" not in c[0]])
def test_lazy_module_gradcheck(name, args, kwargs, shape):
    m = getattr(nn, name)(*args, **kwargs, dtype=ember.float64)
    x = ember.randn(*shape, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda t: m(t), (x,))
    assert m.weight.dtype is ember.float64


def test_lazy_norm_gradcheck():
    m = nn.LazyBatchNorm1d(dtype=ember.float64)
    assert gradcheck(lambda t: m(t), (ember.randn(4, 3, dtype=ember.float64, requires_grad=True),))
    assert type(m) is nn.BatchNorm1d and m.weight.dtype is ember.float64


def test_lazy_linear_becomes_linear():
    m = nn.LazyLinear(3)
    assert isinstance(m, nn.Linear) and m.in_features == 0 and m.has_uninitialized_params()
    m(ember.ones(2, 5))
    assert type(m) is nn.Linear and m.in_features == 5 and m.weight.shape == (3, 5)
    assert type(m.weight) is nn.Parameter and m.weight.requires_grad
    m(ember.ones(1, 5))                                           # the hook is gone


def test_load_state_dict_materializes(torch):
    sd_t = torch.nn.Conv2d(3, 4, 2).state_dict()
    sd = {k: ember.tensor(v.numpy()) for k, v in sd_t.items()}
    for lib, state in ((ember, sd), (torch, sd_t)):
        m = lib.nn.LazyConv2d(4, 2)
        result = m.load_state_dict(state)
        assert repr(result) == "<All keys matched successfully>"
        assert type(m).__name__ == "LazyConv2d" and tuple(m.weight.shape) == (4, 3, 2, 2)
        np.testing.assert_array_equal(_numpy(m.weight), sd_t["weight"].numpy())
        m(lib.ones(1, 3, 4, 4))
        assert type(m).__name__ == "Conv2d"
        assert m.in_channels == 0              # PyTorch leaves in_channels unset on this path; so do we
    m = nn.LazyLinear(3)
    m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in torch.nn.Linear(4, 3).state_dict().items()})
    m(ember.ones(2, 4))
    assert type(m) is nn.Linear and m.in_features == 4       # LazyLinear does fix in_features
    bn = nn.LazyBatchNorm1d()
    bn.load_state_dict(nn.BatchNorm1d(6).state_dict())
    assert bn.running_mean.shape == (6,) and type(bn.running_mean) is ember.Tensor


def test_load_state_dict_missing_keys_raise(torch):
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "weight", "bias"'):
            lib.nn.LazyLinear(3).load_state_dict({})


def test_uninitialized_parameter_and_buffer(torch):
    for lib in (ember, torch):
        p = lib.nn.UninitializedParameter()
        assert repr(p) == "<UninitializedParameter>" and p.requires_grad
        assert isinstance(p, lib.nn.Parameter)
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
            _ = p.shape
        with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized"):
            p.share_memory_()
        b = lib.nn.UninitializedBuffer()
        assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad
        assert not isinstance(b, lib.nn.Parameter)
        b.materialize((2, 3))
        assert type(b) is lib.Tensor and tuple(b.shape) == (2, 3)
        q = lib.nn.UninitializedParameter(requires_grad=False, dtype=lib.float64)
        q.materialize((4,), dtype=lib.float32)
        assert type(q) is lib.nn.Parameter and q.dtype == lib.float32 and not q.requires_grad
        r = copy.deepcopy(lib.nn.UninitializedParameter(dtype=lib.float64))
        assert type(r) is lib.nn.UninitializedParameter and r.dtype == lib.float64


def test_uninitialized_parameter_pickles():
    assert is_lazy(nn.UninitializedBuffer()) and not is_lazy(nn.Parameter(ember.ones(1)))
    p = pickle.loads(pickle.dumps(nn.UninitializedParameter(requires_grad=False)))
    assert type(p) is nn.UninitializedParameter and not p.requires_grad


def test_lazy_module_dtype_conversion_and_deepcopy():
    m = nn.LazyLinear(2).double()
    twin = copy.deepcopy(m)
    m(ember.ones(1, 3, dtype=ember.float64))
    assert m.weight.dtype is ember.float64 and twin.has_uninitialized_params()
    twin(ember.ones(1, 4, dtype=ember.float64))
    assert type(twin) is nn.Linear and twin.weight.shape == (2, 4)
    twin(ember.ones(1, 4, dtype=ember.float64))
    bn = nn.LazyBatchNorm1d().double()                     # buffer placeholders keep their class
    assert type(bn.running_mean) is nn.UninitializedBuffer and bn.running_mean.dtype is ember.float64
    bn(ember.ones(2, 3, dtype=ember.float64))
    assert type(bn) is nn.BatchNorm1d and bn.running_var.dtype is ember.float64 and bn.weight.shape == (3,)


def test_optimizer_accepts_uninitialized_parameters(torch):
    # PyTorch builds an optimizer on placeholders without a warning; the materialised objects are the same
    m = nn.LazyLinear(2)
    params = list(m.parameters())
    opt = ember.optim.SGD(m.parameters(), lr=0.1)
    m(ember.ones(3, 4)).sum().backward()
    opt.step()
    assert all(a is b for a, b in zip(params, m.parameters()))
    torch.optim.SGD(torch.nn.LazyLinear(2).parameters(), lr=0.1)


def test_lazy_errors(torch):
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
            lib.nn.LazyConv2d(2, 1)(lib.ones(2, 3))
        with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
            lib.nn.LazyConv1d(4, 1, groups=2)(lib.ones(1, 3, 4))
        with pytest.raises(ValueError, match="can't have uninitialized parameters"):
            lib.nn.utils.spectral_norm(lib.nn.LazyLinear(2))
        with pytest.raises(ValueError, match="can't have uninitialized parameters"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lib.nn.utils.weight_norm(lib.nn.LazyLinear(2))


def test_lazy_module_in_sequential(torch):
    def run(lib):
        lib.manual_seed(3)
        net = lib.nn.Sequential(lib.nn.LazyConv2d(4, 3), lib.nn.LazyBatchNorm2d(), lib.nn.ReLU(),
                                lib.nn.Flatten(), lib.nn.LazyLinear(2))
        x = lib.tensor(np.linspace(-1, 1, 2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6))
        return net, net(x)

    (ne, ye), (nt, yt) = run(ember), run(torch)
    assert repr(ne) == repr(nt)
    np.testing.assert_allclose(_numpy(ye), _numpy(yt), rtol=1e-5, atol=1e-5)
