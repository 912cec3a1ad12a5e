"""nn.utils: hook-based weight_norm / spectral_norm, conv/linear-bn fusion, skip_init, stateless,
memory-format conversion, against PyTorch."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck


def _numpy(x):
    return np.asarray(x.detach().numpy())


def _load(me, mt):
    me.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in mt.state_dict().items()})


def _x(lib, shape, seed=0):
    return lib.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), requires_grad=True)


# --- weight_norm (old hook API) ----------------------------------------------------------------------

WEIGHT_NORM_CASES = [("Linear", (4, 3), (5, 4), 0), ("Linear", (4, 3), (5, 4), 1),
                     ("Linear", (4, 3), (5, 4), None), ("Conv1d", (2, 3, 3), (2, 2, 6), 0),
                     ("Conv1d", (2, 3, 3), (2, 2, 6), -2), ("ConvTranspose2d", (2, 3, 2), (1, 2, 3, 3), 1)]


@pytest.mark.parametrize("cls,args,shape,dim", WEIGHT_NORM_CASES)
def test_weight_norm_matches_torch(cls, args, shape, dim, torch):
    torch.manual_seed(0)
    mt = getattr(torch.nn, cls)(*args)
    me = getattr(nn, cls)(*args)
    _load(me, mt)
    with pytest.warns(FutureWarning) as record_t:
        torch.nn.utils.weight_norm(mt, dim=dim)
    with pytest.warns(FutureWarning, match="weight_norm` is deprecated in favor of") as record:
        assert nn.utils.weight_norm(me, dim=dim) is me
    assert str(record[0].message) == str(record_t[0].message)
    assert list(me.state_dict()) == list(mt.state_dict())
    assert repr(me) == repr(mt)
    for key, value in mt.state_dict().items():
        np.testing.assert_allclose(_numpy(me.state_dict()[key]), value.numpy(), rtol=1e-6, atol=1e-7)
    assert isinstance(me.weight_g, nn.Parameter) and not isinstance(me.weight, nn.Parameter)
    xe, xt = _x(ember, shape), _x(torch, shape)
    ye, yt = me(xe), mt(xt)
    np.testing.assert_allclose(_numpy(ye), _numpy(yt), rtol=1e-5, atol=1e-6)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    grads_t = dict(mt.named_parameters())
    for name, p in me.named_parameters():
        np.testing.assert_allclose(_numpy(p.grad), _numpy(grads_t[name].grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_numpy(xe.grad), _numpy(xt.grad), rtol=1e-4, atol=1e-5)
    nn.utils.remove_weight_norm(me)
    torch.nn.utils.remove_weight_norm(mt)
    assert list(me.state_dict()) == list(mt.state_dict()) and isinstance(me.weight, nn.Parameter)
    np.testing.assert_allclose(_numpy(me.weight), _numpy(mt.weight), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_gradcheck(dim):
    from ember.nn.utils.weight_norm import WeightNorm
    holder = nn.Module()

    def f(g, v):
        holder.__dict__.update(weight_g=g, weight_v=v)
        return WeightNorm("weight", dim).compute_weight(holder)

    v = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    g_shape = {0: (3, 1), 1: (1, 4), None: ()}[dim]
    assert gradcheck(f, (ember.rand(*g_shape, dtype=ember.float64).add(0.5).requires_grad_(), v))


def test_weight_norm_errors(torch):
    for lib in (ember, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            m = lib.nn.utils.weight_norm(lib.nn.Linear(2, 2))
            with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter"):
                lib.nn.utils.weight_norm(m)
        with pytest.raises(ValueError, match="weight_norm of 'bias' not found in"):
            lib.nn.utils.remove_weight_norm(m, "bias")


# --- spectral_norm (old hook API) --------------------------------------------------------------------

SPECTRAL_CASES = [("Linear", (4, 3), (5, 4), {}), ("Linear", (4, 3), (5, 4), {"n_power_iterations": 3}),
                  ("Conv2d", (2, 3, 2), (1, 2, 4, 4), {"eps": 1e-6}),
                  ("ConvTranspose2d", (2, 3, 2), (1, 2, 3, 3), {}),
                  ("Conv1d", (2, 4, 3), (2, 2, 5), {"dim": 1})]


@pytest.mark.parametrize("cls,args,shape,kwargs", SPECTRAL_CASES)
def test_spectral_norm_matches_torch(cls, args, shape, kwargs, torch):
    ember.manual_seed(0)
    torch.manual_seed(0)
    me, mt = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert nn.utils.spectral_norm(me, **kwargs) is me
    torch.nn.utils.spectral_norm(mt, **kwargs)
    assert list(me.state_dict()) == list(mt.state_dict()) and repr(me) == repr(mt)
    for key, value in mt.state_dict().items():     # u and v: the same normal_ draws, then normalised
        np.testing.assert_allclose(_numpy(me.state_dict()[key]), value.numpy(), rtol=1e-6, atol=1e-7)
    for training in (True, True, False):
        me.train(training)
        mt.train(training)
        me.zero_grad()
        mt.zero_grad()
        xe, xt = _x(ember, shape), _x(torch, shape)
        ye, yt = me(xe), mt(xt)
        np.testing.assert_allclose(_numpy(ye), _numpy(yt), rtol=1e-5, atol=1e-5)
        (ye * ye).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(_numpy(me.weight_orig.grad), _numpy(mt.weight_orig.grad), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(_numpy(me.weight_u), _numpy(mt.weight_u), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_numpy(me.weight_v), _numpy(mt.weight_v), rtol=1e-5, atol=1e-6)
    nn.utils.remove_spectral_norm(me)
    torch.nn.utils.remove_spectral_norm(mt)
    assert list(me.state_dict()) == list(mt.state_dict()) and isinstance(me.weight, nn.Parameter)
    np.testing.assert_allclose(_numpy(me.weight), _numpy(mt.weight), rtol=1e-5, atol=1e-6)


def test_spectral_norm_gradcheck():
    from ember.nn.utils.spectral_norm import SpectralNorm
    fn = SpectralNorm("weight", 2, 0, 1e-12)
    holder = nn.Module()
    holder.register_buffer("weight_u", ember.nn.functional.normalize(ember.randn(3, dtype=ember.float64), dim=0))
    holder.register_buffer("weight_v", ember.nn.functional.normalize(ember.randn(4, dtype=ember.float64), dim=0))

    def f(weight):
        holder.__dict__["weight_orig"] = weight
        return fn.compute_weight(holder, do_power_iteration=False)

    assert gradcheck(f, (ember.randn(3, 4, dtype=ember.float64, requires_grad=True),))


def test_spectral_norm_errors(torch):
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)
        m = lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
            lib.nn.utils.spectral_norm(m)
        with pytest.raises(ValueError, match="spectral_norm of 'bias' not found in"):
            lib.nn.utils.remove_spectral_norm(m, "bias")
        with pytest.raises(ValueError, match="cannot be applied as parameter `bias` is None"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2, bias=False), "bias")


def test_spectral_norm_state_dict_round_trip():
    m = nn.utils.spectral_norm(nn.Linear(3, 2))
    m(ember.ones(1, 3))
    other = nn.utils.spectral_norm(nn.Linear(3, 2))
    other.load_state_dict(m.state_dict())
    m.eval()
    other.eval()
    np.testing.assert_allclose(_numpy(other(ember.ones(1, 3))), _numpy(m(ember.ones(1, 3))), rtol=1e-6)


# --- fusion ------------------------------------------------------------------------------------------

def _bn_with_stats(lib, n, nd, bias=True, affine=True):
    bn = getattr(lib.nn, f"BatchNorm{nd}d")(n, affine=affine)
    rng = np.random.default_rng(1)
    with lib.no_grad():
        bn.running_mean.copy_(lib.tensor(rng.standard_normal(n).astype(np.float32)))
        bn.running_var.copy_(lib.tensor(rng.uniform(0.5, 2, n).astype(np.float32)))
        if affine:
            bn.weight.copy_(lib.tensor(rng.standard_normal(n).astype(np.float32)))
            bn.bias.copy_(lib.tensor(rng.standard_normal(n).astype(np.float32)))
    return bn.eval()


@pytest.mark.parametrize("cls,args,shape,transpose,affine", [
    ("Conv2d", (2, 4, 3), (2, 2, 5, 5), False, True), ("Conv1d", (2, 4, 3), (2, 2, 5), False, False),
    ("ConvTranspose2d", (2, 4, 3), (1, 2, 3, 3), True, True), ("Conv3d", (2, 4, 2), (1, 2, 3, 3, 3), False, True)])
def test_fuse_conv_bn_eval_matches_torch(cls, args, shape, transpose, affine, torch):
    nd = int(cls[-2])
    torch.manual_seed(0)
    ct = getattr(torch.nn, cls)(*args, bias=not affine).eval()
    ce = getattr(nn, cls)(*args, bias=not affine).eval()
    _load(ce, ct)
    bt, be = _bn_with_stats(torch, 4, nd, affine=affine), _bn_with_stats(ember, 4, nd, affine=affine)
    ft = torch.nn.utils.fuse_conv_bn_eval(ct, bt, transpose=transpose)
    fe = nn.utils.fuse_conv_bn_eval(ce, be, transpose=transpose)
    assert fe is not ce and type(fe) is type(ce) and isinstance(fe.bias, nn.Parameter)
    assert list(fe.state_dict()) == list(ft.state_dict())
    for key, value in ft.state_dict().items():
        np.testing.assert_allclose(_numpy(fe.state_dict()[key]), value.numpy(), rtol=1e-5, atol=1e-6)
    x = _x(ember, shape)
    np.testing.assert_allclose(_numpy(fe(x)), _numpy(be(ce(x))), rtol=1e-4, atol=1e-5)


def test_fuse_linear_bn_eval_matches_torch(torch):
    torch.manual_seed(0)
    lt, le = torch.nn.Linear(3, 4).eval(), nn.Linear(3, 4).eval()
    _load(le, lt)
    bt, be = _bn_with_stats(torch, 4, 1), _bn_with_stats(ember, 4, 1)
    ft, fe = torch.nn.utils.fuse_linear_bn_eval(lt, bt), nn.utils.fuse_linear_bn_eval(le, be)
    for key, value in ft.state_dict().items():
        np.testing.assert_allclose(_numpy(fe.state_dict()[key]), value.numpy(), rtol=1e-5, atol=1e-6)
    x = _x(ember, (5, 3))
    np.testing.assert_allclose(_numpy(fe(x)), _numpy(be(le(x))), rtol=1e-4, atol=1e-5)
    for lib, lin, bn in ((ember, le, be), (torch, lt, bt)):
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            lib.nn.utils.fuse_linear_bn_eval(lin.train(), bn)
        with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
            lib.nn.utils.fuse_linear_bn_eval(lin.eval(), _bn_with_stats(lib, 3, 1))


def test_fuse_weights_functions_keep_requires_grad_and_dtype(torch):
    w = ember.randn(4, 2, 3, 3, dtype=ember.float64, requires_grad=True)
    rm, rv = ember.zeros(4), ember.ones(4)
    fw, fb = nn.utils.fuse_conv_bn_weights(w, None, rm, rv, 1e-5, None, None)
    assert isinstance(fw, nn.Parameter) and fw.requires_grad and fw.dtype is ember.float64
    assert fb.dtype is ember.float64 and not fb.requires_grad
    lw, lb = nn.utils.fuse_linear_bn_weights(ember.randn(4, 3), None, rm, rv, 1e-5, ember.ones(4), ember.zeros(4))
    assert lw.shape == (4, 3) and lb.shape == (4,)


def test_fusion_math_gradcheck():
    # the fused weights are new leaves (as in PyTorch); the arithmetic itself is differentiable
    from ember import ops

    def fused_weight(w, var):
        return w * ops.rsqrt(var + 1e-5).reshape(-1, 1)

    assert gradcheck(fused_weight, (ember.randn(3, 2, dtype=ember.float64, requires_grad=True),
                                    ember.rand(3, dtype=ember.float64).add(0.5).requires_grad_()))


# --- skip_init, memory formats -----------------------------------------------------------------------

def test_skip_init_draws_nothing_from_the_rng(torch):
    ember.manual_seed(0)
    torch.manual_seed(0)
    me = nn.utils.skip_init(nn.Linear, 5, 3)
    mt = torch.nn.utils.skip_init(torch.nn.Linear, 5, 3)
    np.testing.assert_array_equal(ember.rand(4).numpy(), torch.rand(4).numpy())
    assert type(me) is nn.Linear and me.weight.shape == (3, 5) and me.weight.device == ember.device("cpu")
    assert isinstance(me.weight, nn.Parameter) and list(me.state_dict()) == list(mt.state_dict())
    bn = nn.utils.skip_init(nn.BatchNorm1d, 4, device="cpu")
    assert bn.running_mean.device == ember.device("cpu")
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
            lib.nn.utils.skip_init(lib.nn.ReLU)
        with pytest.raises(RuntimeError, match="Expected a Module"):
            lib.nn.utils.skip_init(int)


def test_convert_weight_memory_format_returns_the_module():
    m = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Conv3d(2, 2, 1))
    w = m[0].weight
    assert nn.utils.convert_conv2d_weight_memory_format(m, ember.channels_last) is m
    assert nn.utils.convert_conv3d_weight_memory_format(m, ember.channels_last_3d) is m
    assert m[0].weight is w
    assert m[0].weight.is_contiguous(memory_format=ember.channels_last)      # tests/test_memory_format.py
    assert m[1].weight.is_contiguous(memory_format=ember.channels_last_3d)   # compares the strides with torch


# --- stateless.functional_call -----------------------------------------------------------------------

def test_functional_call_matches_torch(torch):
    torch.manual_seed(0)
    mt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    me = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    _load(me, mt)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    rm = rng.standard_normal(4).astype(np.float32)
    we, wt = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    xe, xt = _x(ember, (5, 3)), _x(torch, (5, 3))
    me.eval()
    mt.eval()
    with pytest.warns(FutureWarning, match="stateless.functional_call` is deprecated"):
        ye = nn.utils.stateless.functional_call(me, {"0.weight": we, "1.running_mean": ember.tensor(rm)}, (xe,))
    with pytest.warns(FutureWarning):
        yt = torch.nn.utils.stateless.functional_call(mt, {"0.weight": wt, "1.running_mean": torch.tensor(rm)},
                                                      (xt,))
    np.testing.assert_allclose(_numpy(ye), _numpy(yt), rtol=1e-5, atol=1e-6)
    ye.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(_numpy(we.grad), _numpy(wt.grad), rtol=1e-5, atol=1e-6)
    assert me[0].weight.grad is None                         # the module's own weight was not used
    assert isinstance(me[0].weight, nn.Parameter) and me[0]._parameters["weight"] is me[0].weight
    np.testing.assert_allclose(_numpy(me[1].running_mean), _numpy(mt[1].running_mean))


def test_functional_call_gradcheck():
    from ember.nn.utils.stateless import _functional_call
    m = nn.Linear(3, 2, dtype=ember.float64)
    x = ember.randn(4, 3, dtype=ember.float64)

    def f(weight, bias):
        return _functional_call(m, {"weight": weight, "bias": bias}, x)

    assert gradcheck(f, (ember.randn(2, 3, dtype=ember.float64, requires_grad=True),
                         ember.randn(2, dtype=ember.float64, requires_grad=True)))


def test_functional_call_tied_weights_strict_and_errors(torch):
    from ember.nn.utils.stateless import _functional_call
    for lib in (ember, torch):
        call = _functional_call if lib is ember else torch.nn.utils.stateless._functional_call
        a, b = lib.nn.Linear(2, 2, bias=False), lib.nn.Linear(2, 2, bias=False)
        b.weight = a.weight
        net = lib.nn.Sequential(a, b)
        x = lib.ones(1, 2)
        out = call(net, {"0.weight": lib.zeros(2, 2)}, x)            # tied: 1.weight follows
        np.testing.assert_array_equal(_numpy(out), 0)
        out = call(net, {"0.weight": lib.zeros(2, 2)}, (x,), tie_weights=False)
        np.testing.assert_array_equal(_numpy(out), 0)
        with pytest.raises(ValueError, match=r"multiple values for keys \['0.weight', '1.weight'\], which are tied"):
            call(net, {"0.weight": lib.zeros(2, 2), "1.weight": lib.ones(2, 2)}, x)
        with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Sequential:\n\t"
                                               "Unexpected key\\(s\\): 'foo'.\n\tMissing key\\(s\\): "):
            call(net, {"foo": lib.zeros(1)}, x, strict=True)
        with pytest.raises(RuntimeError, match="can't be used with nn.DataParallel"):
            call(lib.nn.DataParallel(net), {}, x)
        assert net[0].weight is net[1].weight
