"""Transforms against PyTorch's: forward, inverse, log|det J| and their gradients, domains, codomains, shapes,
reprs, equality, caching; biject_to / transform_to; TransformedDistribution built from them."""
import numpy as np
import pytest

import ember

ET = ember.distributions.transforms


def _transforms(M, t):
    T = M.transforms
    return {
        "exp": (T.ExpTransform(), [[0.5, -1.0, 2.0]]),
        "exp_inv": (T.ExpTransform().inv, [[0.5, 1.0, 2.0]]),
        "sigmoid": (T.SigmoidTransform(), [[0.5, -1.0, 20.0]]),
        "softplus": (T.SoftplusTransform(), [[0.5, -1.0, 30.0]]),
        "tanh": (T.TanhTransform(), [[0.5, -1.0, 2.0]]),
        "abs": (T.AbsTransform(), [[0.5, -1.0, 2.0]]),
        "power": (T.PowerTransform(t(2.5)), [[0.5, 1.5, 2.0]]),
        "power_vector": (T.PowerTransform(t([2.5, -1.0, 0.5])), [[0.5, 1.5, 2.0]]),
        "affine": (T.AffineTransform(1.0, -2.0), [[0.5, -1.0, 2.0]]),
        "affine_tensor": (T.AffineTransform(t([1.0, 0.0, -1.0]), t([2.0, 0.5, -3.0])), [[0.5, -1.0, 2.0]]),
        "affine_event": (T.AffineTransform(t([1.0, 0.0, -1.0]), t([2.0, 0.5, -3.0]), event_dim=1),
                         [[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]]),
        "softmax": (T.SoftmaxTransform(), [[0.5, -1.0, 2.0]]),
        "stick_breaking": (T.StickBreakingTransform(), [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]),
        "lower_cholesky": (T.LowerCholeskyTransform(), [[[0.5, 3.0], [-1.0, 2.0]]]),
        "positive_definite": (T.PositiveDefiniteTransform(), [[[0.5, 3.0], [-1.0, 2.0]]]),
        "corr_cholesky": (T.CorrCholeskyTransform(), [[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]]),
        "compose": (T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform()]), [[0.5, -1.0, 2.0]]),
        "compose_event": (T.ComposeTransform([T.ExpTransform(), T.StickBreakingTransform()]),
                          [[0.5, -1.0, 2.0]]),
        "identity": (T.identity_transform, [[0.5, -1.0, 2.0]]),
        "independent": (T.IndependentTransform(T.ExpTransform(), 1), [[0.5, -1.0, 2.0], [0.0, 1.0, 2.0]]),
        "reshape": (T.ReshapeTransform((2, 3), (3, 2)), [[[0.5, -1.0, 2.0], [0.0, 1.0, 2.0]]]),
        "cat": (T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)], dim=-1, lengths=[1, 2]),
                [[0.5, -1.0, 2.0], [0.0, 1.0, 2.0]]),
        "stack": (T.StackTransform([T.ExpTransform(), T.TanhTransform(), T.AbsTransform()], dim=-1),
                  [[0.5, -1.0, 2.0], [0.0, 1.0, 2.0]]),
        "cdf": (T.CumulativeDistributionTransform(M.Normal(t(0.0), t(2.0))), [[0.5, -1.0, 2.0]]),
    }


NAMES = sorted(_transforms(ember.distributions, ember.tensor))


def _np(x):
    return np.asarray(x.detach().numpy())


def _close(a, b, rtol=1e-9, atol=1e-10):
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)


def _outcome(fn):
    try:
        return fn()
    except (NotImplementedError, ValueError) as e:
        return type(e)


@pytest.mark.parametrize("name", NAMES)
def test_transform_matches_torch(torch, name):
    tt, values = _transforms(torch.distributions, lambda v: torch.tensor(v, dtype=torch.float64))[name]
    et, _ = _transforms(ember.distributions, lambda v: ember.tensor(v, dtype=ember.float64))[name]
    assert type(et).__name__ == type(tt).__name__
    assert repr(et) == repr(tt)
    assert repr(et.domain) == repr(tt.domain) and repr(et.codomain) == repr(tt.codomain)
    assert et.bijective == tt.bijective
    assert _outcome(lambda: et.event_dim) == _outcome(lambda: tt.event_dim)
    sign = _outcome(lambda: tt.sign)
    if sign is NotImplementedError or isinstance(sign, int):
        assert _outcome(lambda: et.sign) == sign
    else:
        _close(et.sign, sign)
    x_t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    x_e = ember.tensor(values, dtype=ember.float64, requires_grad=True)
    y_t, y_e = tt(x_t), et(x_e)
    _close(y_e, y_t)
    assert tuple(tt.forward_shape(x_t.shape)) == tuple(et.forward_shape(ember.Size(x_e.shape)))
    assert tuple(tt.inverse_shape(y_t.shape)) == tuple(et.inverse_shape(ember.Size(y_e.shape)))
    _close(et.inv(y_e), tt.inv(y_t))
    ladj_t = _outcome(lambda: tt.log_abs_det_jacobian(x_t, y_t))
    ladj_e = _outcome(lambda: et.log_abs_det_jacobian(x_e, y_e))
    if ladj_t is NotImplementedError:
        assert ladj_e is NotImplementedError
        total_t, total_e = y_t.sum(), y_e.sum()
    else:
        _close(ladj_e, ladj_t)
        total_t, total_e = y_t.sum() + ladj_t.sum(), y_e.sum() + ladj_e.sum()
    total_t.backward()
    total_e.backward()
    _close(x_e.grad, x_t.grad, rtol=1e-8, atol=1e-10)


def test_transform_equality_and_inverse_identity(torch):
    assert ET.ExpTransform() == ET.ExpTransform()
    assert ET.ExpTransform() != ET.SigmoidTransform()
    assert ET.ExpTransform().inv == ET.ExpTransform().inv
    t = ET.AffineTransform(1.0, 2.0)
    assert t.inv.inv is t
    assert t == ET.AffineTransform(1.0, 2.0) and t != ET.AffineTransform(1.0, 3.0)
    assert ET.AffineTransform(ember.tensor([1.0]), 2.0) == ET.AffineTransform(ember.tensor([1.0]), 2.0)
    assert ET.PowerTransform(ember.tensor(2.0)) == ET.PowerTransform(ember.tensor(2.0))
    c = ET.ComposeTransform([ET.ExpTransform(), ET.AffineTransform(0.0, 2.0)])
    assert c.inv.inv is c
    assert c == ET.ComposeTransform([ET.ExpTransform(), ET.AffineTransform(0.0, 2.0)])
    with pytest.raises(TypeError):
        hash(ET.ExpTransform())                # PyTorch's transforms define __eq__ only
    with pytest.raises(TypeError):
        hash(torch.distributions.ExpTransform())


def test_transform_cache():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    cached = ET.ExpTransform(cache_size=1)
    y = cached(x)
    assert cached(x) is y and cached.inv(y) is x
    plain = ET.ExpTransform()
    assert plain.inv(plain(x)) is not x
    assert plain.with_cache(1)._cache_size == 1 and plain.with_cache(0) is plain
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        ET.ExpTransform(cache_size=2)
    class Custom(ET.Transform):
        def __init__(self):
            super().__init__()

    with pytest.raises(NotImplementedError, match="with_cache is not implemented"):
        Custom().with_cache(1)
    composed = ET.ComposeTransform([ET.ExpTransform(), ET.AffineTransform(1.0, 2.0)], cache_size=1)
    assert all(part._cache_size == 1 for part in composed.parts)


def test_shape_errors_match_torch(torch):
    for M in (torch.distributions, ember.distributions):
        T = M.transforms
        with pytest.raises(ValueError, match="different numbers of elements"):
            T.ReshapeTransform((2, 3), (4,))
        with pytest.raises(ValueError, match="Too few dimensions on input"):
            T.StickBreakingTransform().forward_shape(())
        with pytest.raises(ValueError, match="not a flattened lower-diagonal number"):
            T.CorrCholeskyTransform().forward_shape((4,))
        with pytest.raises(ValueError, match="Input is not square"):
            T.CorrCholeskyTransform().inverse_shape((2, 3))
        with pytest.raises(ValueError, match="Please use either .domain.event_dim"):
            getattr(T.ReshapeTransform((6,), (2, 3)), "event_dim")
        with pytest.raises(AssertionError, match="All elements of tseq must be Transform instances"):
            T.CatTransform([1])


def _constraints(M, t):
    c = M.constraints
    return [c.real, c.positive, c.nonnegative, c.greater_than(1.5), c.greater_than_eq(-1.0), c.less_than(2.0),
            c.unit_interval, c.interval(-1.0, 3.0), c.half_open_interval(0.0, 2.0), c.simplex, c.real_vector,
            c.independent(c.positive, 1), c.lower_cholesky, c.positive_definite, c.corr_cholesky,
            c.interval(t([0.0, 1.0, 2.0]), t([1.0, 3.0, 5.0])),
            c.cat([c.positive, c.real], dim=-1, lengths=[1, 2]), c.stack([c.positive, c.real, c.unit_interval], -1)]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registry_matches_torch(torch, registry):
    t_reg = getattr(torch.distributions, registry)
    e_reg = getattr(ember.distributions, registry)
    for tc, ec in zip(_constraints(torch.distributions, torch.tensor), _constraints(ember.distributions, ember.tensor)):
        tt = _outcome(lambda: t_reg(tc))
        et = _outcome(lambda: e_reg(ec))
        if tt is NotImplementedError:
            assert et is NotImplementedError
            continue
        assert repr(et) == repr(tt)
        n = 3 if tc.event_dim < 2 else 4
        x = np.linspace(-0.7, 0.9, 2 * n * (n if tc.event_dim == 2 and repr(tc) != "CorrCholesky()" else 1))
        shape = (2, n, n) if tc.event_dim == 2 and repr(tc) != "CorrCholesky()" else (2, n)
        if repr(tc) == "CorrCholesky()":
            shape, x = (2, 3), x[:6]
        if repr(tc) == "Simplex()" and registry == "biject_to":
            shape = (2, 3)
        x = x.reshape(shape)
        y_t, y_e = tt(torch.tensor(x)), et(ember.tensor(x))
        _close(y_e, y_t)
        assert bool(ec.check(y_e).all())
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        e_reg(ember.distributions.constraints.boolean)
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass"):
        e_reg.register(int, lambda c: None)


def test_transformed_distribution_matches_torch(torch):
    def build(M, t):
        T = M.transforms
        base = M.Normal(t([0.0, 1.0, -1.0]), t([1.0, 0.5, 2.0]))
        return M.TransformedDistribution(base, [T.AffineTransform(t(1.0), t(-2.0)), T.ExpTransform().inv.inv,
                                                T.StickBreakingTransform()])
    td = build(torch.distributions, lambda v: torch.tensor(v, dtype=torch.float64))
    ed = build(ember.distributions, lambda v: ember.tensor(v, dtype=ember.float64))
    assert tuple(ed.batch_shape) == tuple(td.batch_shape) and tuple(ed.event_shape) == tuple(td.event_shape)
    assert repr(ed.support) == repr(td.support)
    torch.manual_seed(0)
    ember.manual_seed(0)
    ts, es = td.sample((3,)), ed.sample((3,))
    _close(es, ts, rtol=1e-12, atol=1e-14)
    _close(ed.log_prob(ember.tensor(ts.numpy())), td.log_prob(ts))
    # a decreasing chain flips the cdf
    tn = torch.distributions.TransformedDistribution(torch.distributions.Normal(0.0, 1.0),
                                                      [torch.distributions.transforms.AffineTransform(0.0, -2.0)])
    en = ember.distributions.TransformedDistribution(ember.distributions.Normal(0.0, 1.0),
                                                      [ET.AffineTransform(0.0, -2.0)])
    value = [-1.0, 0.5, 3.0]
    _close(en.cdf(ember.tensor(value)), tn.cdf(torch.tensor(value)), rtol=1e-6, atol=1e-7)
    _close(en.icdf(ember.tensor([0.2, 0.7])), tn.icdf(torch.tensor([0.2, 0.7])), rtol=1e-6, atol=1e-6)


def test_transforms_without_torch():
    x = ember.tensor([0.0, 1.0, -1.0])
    np.testing.assert_allclose(ET.ExpTransform()(x).numpy(), np.exp([0.0, 1.0, -1.0]), rtol=1e-6)
    y = ET.StickBreakingTransform()(x)
    assert y.shape == (4,)
    np.testing.assert_allclose(float(y.sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ET.StickBreakingTransform()(ember.zeros(3)).numpy(), [0.25] * 4, rtol=1e-6)
    np.testing.assert_allclose(ET.StickBreakingTransform().inv(y).numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(ET.AffineTransform(1.0, 2.0).log_abs_det_jacobian(x, x).numpy(), [np.log(2.0)] * 3,
                               rtol=1e-6)
