"""ember.distributions with cuda parameters: every family of tests/distributions/distribution_cases.py samples,
rsamples and evaluates (log_prob, entropy, cdf, icdf, moments, support, gradients) on the device, equal to the
cpu's under the same seed; every registered KL pair, every transform and constraint registry, and the gamma-family
gradients (_standard_gamma_grad, _dirichlet_grad, gammainc) run on the device too."""
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.utils._pytree import tensor_leaves
from ember._backends import cuda as backend

sys.path.insert(0, str(Path(__file__).parents[1] / "distributions"))
from distribution_cases import CASES, make_params  # noqa: E402
import test_distributions_kl as kl_cases  # noqa: E402
import test_distributions_transforms as transform_cases  # noqa: E402

_RTOL = {"float64": 1e-9, "float32": 2e-5}
_WHAT = ("sample", "rsample", "log_prob", "entropy", "cdf", "icdf", "mean", "variance", "mode", "stddev",
         "support", "grads")




def _outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")               # Wishart's "Singular sample detected", on both devices
            return tensor_leaves(fn())
    except Exception as error:  # noqa: BLE001 - the type is compared between devices
        return error


def _family(name, dtype, device, requires_grad):
    case = CASES[name]
    params = make_params(ember, case["params"], dtype, requires_grad)
    params = {k: (v.detach().to(device).requires_grad_(v.requires_grad) if isinstance(v, ember.Tensor) else v)
              for k, v in params.items()}
    return case["build"](ember.distributions, params), params


def _evaluate(name, dtype, device, what):
    """The tensors `what` gives for the family on device, after ember.manual_seed(5)."""
    def run():
        dist, params = _family(name, dtype, device, what == "grads")
        ember.manual_seed(5)
        value = dist.sample((2,))
        if what == "sample":
            return value
        if what == "rsample":
            return dist.rsample((2,)) if dist.has_rsample else []
        if what in ("log_prob", "cdf"):
            return getattr(dist, what)(value)
        if what == "entropy":
            return dist.entropy()
        if what == "icdf":
            return dist.icdf(ember.full(tuple(dist.batch_shape), 0.3, dtype=value.dtype, device=value.device))
        if what == "support":
            return dist.enumerate_support() if dist.has_enumerate_support else []
        if what == "grads":
            x = dist.rsample((2,)) if dist.has_rsample else value
            loss = dist.log_prob(x).sum()
            leaves = [v for v in params.values() if isinstance(v, ember.Tensor) and v.requires_grad]
            grads = ember.autograd.grad(loss, leaves, allow_unused=True)
            return [g for g in grads if g is not None]
        return getattr(dist, what)
    return _outcome(run)


def _same(got, want, rtol, where):
    if isinstance(want, Exception):
        assert type(got) is type(want), f"{where}: cpu raised {want!r}, cuda gave {got!r}"
        return
    assert not isinstance(got, Exception), f"{where}: cuda raised {got!r}, cpu ran"
    assert len(got) == len(want), where
    for g, w in zip(got, want):
        assert g.device.type == "cuda" and isinstance(g._array, backend.xp.ndarray), f"{where}: on {g.device}"
        assert g.dtype == w.dtype and g.shape == w.shape, where
        np.testing.assert_allclose(g.detach().cpu().numpy(), w.detach().cpu().numpy(), rtol=rtol, atol=rtol * 1e-3,
                                   equal_nan=True, err_msg=where)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_family_on_cuda_matches_cpu(name, dtype, cuda_device):
    if dtype == "float64" and not CASES[name].get("float64", True):
        pytest.skip("PyTorch cannot evaluate this family in float64")
    for what in _WHAT:
        want = _evaluate(name, dtype, "cpu", what)
        got = _evaluate(name, dtype, cuda_device, what)
        _same(got, want, _RTOL[dtype], f"{name} {what} ({dtype})")


def test_samples_on_cuda_are_exact(cuda_device):
    """Draws are the cpu stream: the discrete and pass-through samples are equal bit for bit."""
    for name in ("Bernoulli", "Categorical", "Poisson", "Binomial", "Multinomial", "Gamma", "Dirichlet", "Normal"):
        got = _evaluate(name, "float64", cuda_device, "sample")[0]
        want = _evaluate(name, "float64", "cpu", "sample")[0]
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy(), err_msg=name)


def _kl_pairs():
    registry = ember.distributions.kl._KL_REGISTRY
    names = set(kl_cases.FAMILIES)
    return sorted((p.__name__, q.__name__) for p, q in registry if p.__name__ in names and q.__name__ in names)


def _on(device):
    """ember, seen by the KL cases' builders, with tensor() making its tensors on device."""
    return types.SimpleNamespace(tensor=lambda value, dtype: ember.tensor(value, dtype=dtype, device=device),
                                 float64=ember.float64, distributions=ember.distributions)


@pytest.mark.parametrize("pair", _kl_pairs(), ids="-".join)
def test_kl_divergence_on_cuda_matches_cpu(pair, cuda_device):
    def run(device):
        def kl():
            p, p_params = kl_cases._build(_on(device), pair[0], "p", requires_grad=True)
            q, q_params = kl_cases._build(_on(device), pair[1], "q", requires_grad=True)
            value = ember.distributions.kl_divergence(p, q)
            grads = ember.autograd.grad(value.sum(), p_params + q_params, allow_unused=True)
            return [value] + [g for g in grads if g is not None]
        return _outcome(kl)
    _same(run(cuda_device), run("cpu"), 1e-9, f"kl {pair}")


@pytest.mark.parametrize("name", transform_cases.NAMES)
def test_transform_on_cuda_matches_cpu(name, cuda_device):
    def run(device):
        def apply():
            def t(values):
                return ember.tensor(values, dtype=ember.float64, device=device)
            transform, data = transform_cases._transforms(ember.distributions, t)[name]
            x = t(data).requires_grad_()
            y = transform(x)
            outs = [y, transform.inv(y.detach())]
            try:
                outs.append(transform.log_abs_det_jacobian(x, y))
            except NotImplementedError:
                pass
            loss = sum(o.sum() for o in outs if o.requires_grad)
            return outs + [ember.autograd.grad(loss, x)[0]]
        return _outcome(apply)
    _same(run(cuda_device), run("cpu"), 1e-9, f"transform {name}")


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registries_on_cuda(registry, cuda_device):
    C = ember.distributions.constraints
    lookup = getattr(ember.distributions, registry)
    constraints = [C.real, C.positive, C.unit_interval, C.simplex, C.corr_cholesky, C.greater_than(1.5),
                   C.interval(-1.0, 2.0), C.less_than(0.5)]
    if registry == "transform_to":
        constraints += [C.lower_cholesky, C.positive_definite]
    for constraint in constraints:
        def run(device):
            def apply():
                transform = lookup(constraint)
                x = ember.tensor(np.linspace(-2, 2, 9).reshape(3, 3), dtype=ember.float64, device=device)
                y = transform(x)
                assert bool(constraint.check(y).all())
                return [y, constraint.check(y), transform.inv(y)]
            return _outcome(apply)
        _same(run(cuda_device), run("cpu"), 1e-9, f"{registry}({constraint})")


def test_gamma_family_gradients_on_cuda(cuda_device):
    """_standard_gamma_grad, _dirichlet_grad and gammainc (Gamma.cdf) compute on the device's arrays."""
    from ember.ops.incomplete_gamma import gammainc
    alpha = np.array([0.01, 0.5, 1.0, 3.0, 9.0, 50.0, 0.7, 120.0])
    x = np.array([1e-3, 0.3, 2.0, 2.5, 9.5, 40.0, 0.9, 125.0])
    total = alpha + np.array([0.3, 0.5, 7.0, 2.0, 8.0, 60.0, 0.2, 200.0])
    unit = np.array([0.01, 0.3, 0.6, 0.45, 0.5, 0.4, 0.97, 0.38])
    for dtype in (ember.float64, ember.float32):
        rtol = 1e-9 if dtype is ember.float64 else 2e-5
        calls = [lambda d: ember._standard_gamma_grad(ember.tensor(alpha, dtype=dtype, device=d),
                                                      ember.tensor(x, dtype=dtype, device=d)),
                 lambda d: ember._dirichlet_grad(ember.tensor(unit, dtype=dtype, device=d),
                                                 ember.tensor(alpha, dtype=dtype, device=d),
                                                 ember.tensor(total, dtype=dtype, device=d)),
                 lambda d: gammainc(ember.tensor(alpha, dtype=dtype, device=d), ember.tensor(x, dtype=dtype, device=d))]
        for call in calls:
            _same(_outcome(lambda: call(cuda_device)), _outcome(lambda: call("cpu")), rtol, f"{call} {dtype}")
    # the reparameterised gradients flow back to cuda parameters
    concentration = ember.tensor([0.5, 2.0, 30.0], dtype=ember.float64, device=cuda_device, requires_grad=True)
    ember.manual_seed(0)
    ember.distributions.Beta(concentration, concentration.detach() + 1).rsample().sum().backward()
    assert concentration.grad.device.type == "cuda"
    value = ember.distributions.Gamma(concentration, 2.0).cdf(ember.tensor([0.2, 3.0, 16.0], device=cuda_device))
    assert value.device.type == "cuda" and value.dtype == ember.float64
