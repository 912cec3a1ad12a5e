"""Accuracy of the special functions against PyTorch over wide ranges (float64 to ~1e-13 relative, float32
within 1 ulp of PyTorch's double result), their edge values, and the ember.special namespace."""
import numpy as np
import pytest

import ember
import ember.special as special
from ember.ops import special_functions as sf   # ember.<name> once ember/ops/__init__.py imports it

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(7)


def _grid(lo, hi, n=4000, log=False):
    if log:
        return np.exp(RNG.uniform(np.log(lo), np.log(hi), n))
    return RNG.uniform(lo, hi, n)


POSITIVE = np.concatenate([_grid(1e-8, 1e6, log=True), _grid(0, 15), [0.5, 1, 2, 1 + 1e-9, 2 - 1e-9, 2.5, 12]])
NEGATIVE = -_grid(0.01, 40)
WIDE = np.concatenate([_grid(-700, 700), _grid(-25, 25), _grid(1e-10, 1, 300, log=True)])
PROBABILITY = np.concatenate([_grid(1e-300, 0.5, 2000, log=True), _grid(0, 1), 1 - _grid(1e-16, 0.5, 300, log=True)])

# (name, ember function, torch function, inputs, rtol, atol): atol covers the zeros of lgamma and digamma,
# where only absolute accuracy is meaningful (for PyTorch too)
SWEEPS = [
    ("lgamma", sf.lgamma, torch.lgamma, POSITIVE, 1e-13, 0),
    ("lgamma-negative", sf.lgamma, torch.lgamma, NEGATIVE, 1e-13, 1e-14),
    ("digamma", sf.digamma, torch.digamma, POSITIVE, 1e-13, 1e-15),
    ("digamma-negative", sf.digamma, torch.digamma, NEGATIVE, 1e-12, 1e-13),
    ("polygamma2", lambda x: sf.polygamma(2, x), lambda x: torch.polygamma(2, x), POSITIVE, 1e-13, 0),
    ("polygamma3-negative", lambda x: sf.polygamma(3, x), lambda x: torch.polygamma(3, x), NEGATIVE[:500],
     1e-13, 0),
    ("zeta", lambda x: special.zeta(x, 0.75), lambda x: torch.special.zeta(x, 0.75), _grid(1.01, 60), 1e-13, 0),
    ("zeta-q", lambda q: special.zeta(3.5, q), lambda q: torch.special.zeta(3.5, q), POSITIVE, 1e-13, 0),
    ("i0", sf.i0, torch.i0, WIDE, 1e-14, 0),
    ("i0e", special.i0e, torch.special.i0e, np.concatenate([WIDE, _grid(700, 1e8, 200, log=True)]), 1e-14, 0),
    ("i1", special.i1, torch.special.i1, WIDE, 1e-14, 0),
    ("i1e", special.i1e, torch.special.i1e, np.concatenate([WIDE, -_grid(700, 1e8, 200, log=True)]), 1e-14, 0),
    # PyTorch's ndtr loses accuracy to cancellation below -2 (0 below -9.4): its tail is checked against log_ndtr below
    ("ndtr", special.ndtr, torch.special.ndtr, _grid(-2, 9), 1e-13, 0),
    ("log_ndtr", special.log_ndtr, torch.special.log_ndtr, np.concatenate([_grid(-40, 10), -_grid(40, 1e10, 300,
                                                                                                 log=True)]), 1e-13, 0),
    ("ndtri", special.ndtri, torch.special.ndtri, PROBABILITY, 1e-14, 0),
    ("entr", special.entr, torch.special.entr, _grid(0, 100), 1e-15, 0),
    ("sinc", sf.sinc, torch.sinc, _grid(-50, 50), 1e-13, 1e-15),
    ("xlog1py", lambda x: special.xlog1py(x, x), lambda x: torch.special.xlog1py(x, x), _grid(-0.99, 50), 1e-15, 0),
]


@pytest.mark.parametrize("name, ours, theirs, x, rtol, atol", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_float64_matches_torch(name, ours, theirs, x, rtol, atol):
    got = ours(ember.tensor(x, dtype=ember.float64)).numpy()
    want = theirs(torch.tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


# digamma and trigamma follow PyTorch's float32 algorithm instead (ember/_backends/special.py, Note [PyTorch's psi
# family]); tests/ops/test_divergences_numerics.py compares them with PyTorch's float32 results
FLOAT32_SWEEPS = [s for s in SWEEPS[:-3] if not s[0].startswith("digamma")]


@pytest.mark.parametrize("name, ours, theirs, x, rtol, atol", FLOAT32_SWEEPS, ids=[s[0] for s in FLOAT32_SWEEPS])
def test_float32_within_one_ulp_of_the_double_result(name, ours, theirs, x, rtol, atol):
    x32 = x.astype(np.float32)
    got = ours(ember.tensor(x32)).numpy()
    assert got.dtype == np.float32
    want = theirs(torch.tensor(x32.astype(np.float64))).numpy()
    finite = np.isfinite(want.astype(np.float32)) & (np.abs(want) > 1e-30)
    if atol:                                   # near zeros of the function only absolute accuracy counts
        finite &= np.abs(want) > 1e-5
    rounded = want[finite].astype(np.float32)
    ulps = np.abs(got[finite].astype(np.float64) - rounded) / np.spacing(np.abs(rounded)).astype(np.float64)
    assert ulps.max() <= 1.0


EDGES = np.array([0.0, -0.0, 1.0, 2.0, -1.0, -2.0, -2.5, 0.3, np.inf, -np.inf, np.nan, 1e-320, 1e306, -1e306])


@pytest.mark.parametrize("ours, theirs", [
    (sf.lgamma, torch.lgamma), (sf.digamma, torch.digamma), (sf.i0, torch.i0),
    (special.i0e, torch.special.i0e), (special.i1, torch.special.i1), (special.i1e, torch.special.i1e),
    (special.entr, torch.special.entr), (special.ndtri, torch.special.ndtri), (special.log_ndtr, torch.special.log_ndtr),
    (special.ndtr, torch.special.ndtr), (sf.sinc, torch.sinc), (sf.logit, torch.logit),
    (lambda x: sf.polygamma(3, x), lambda x: torch.polygamma(3, x)),
    (lambda x: sf.xlogy(x, x.flip(0)), lambda x: torch.xlogy(x, x.flip(0))),
    (lambda x: sf.copysign(x, x.flip(0)), lambda x: torch.copysign(x, x.flip(0))),
    (lambda x: sf.frexp(x)[0], lambda x: torch.frexp(x)[0]), (lambda x: sf.frexp(x)[1], lambda x: torch.frexp(x)[1]),
], ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_edge_values_match_torch(ours, theirs, dtype):
    x = EDGES.astype(dtype)
    np.testing.assert_allclose(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6,
                               equal_nan=True)


def test_ndtr_lower_tail_agrees_with_log_ndtr():
    x = ember.tensor(_grid(-37, -2), dtype=ember.float64)
    np.testing.assert_allclose(np.log(special.ndtr(x).numpy()),
                               torch.special.log_ndtr(torch.tensor(x.numpy())).numpy(), rtol=1e-13)


def test_zeta_edge_values_match_torch():
    s = np.array([1.0, 0.5, -1.0, 2.0, 2.0, 2.5, 2.0, 3.0, np.inf, np.inf, np.inf, 2.0, np.nan])
    q = np.array([1.0, 1.0, 1.0, 0.0, -1.0, -1.5, -1.5, -1.5, 0.5, 1.0, 2.0, -np.inf, 1.0])
    np.testing.assert_allclose(special.zeta(ember.tensor(s), ember.tensor(q)).numpy(),
                               torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy(), rtol=1e-14, equal_nan=True)


def test_namespace_mirrors_torch_special():
    assert ember.special is special
    for name in special.__all__:
        assert callable(getattr(special, name)) and hasattr(torch.special, name), name
    assert special.psi is special.digamma and special.expit is ember.sigmoid and special.gammaln is sf.lgamma


def test_tensor_methods_and_inplace_variants():
    x = ember.tensor([0.5, 1.5, 2.5], dtype=ember.float64)
    assert np.allclose(x.polygamma(1).numpy(), sf.polygamma(1, x).numpy())
    y = x.clone()
    assert y.mvlgamma_(2) is y and np.allclose(y.numpy(), sf.mvlgamma(x, 2).numpy())
    assert sf.positive(x) is x
    mantissa, exponent = sf.frexp(x)
    assert sf.frexp(x).mantissa is not None and exponent.dtype is ember.int32
    assert np.array_equal(sf.ldexp(mantissa, exponent).numpy(), x.numpy())
