"""ember's random streams against PyTorch 2.13 (CPU): exact equality, not closeness.

The oracle tests run each case with `m` = ember and `m` = torch from the same seed and compare the
first draw and a second one (which checks the stream position and the cached Box-Muller normal).
tests/golden/random_streams.npz holds a few of PyTorch's streams so parity is also checked without
torch; `python tests/test_random.py` regenerates it (needs torch).
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "random_streams.npz")
SEEDS = range(10)
SIZES = (0, 1, 7, 15, 16, 17, 100, 1000, 4097)     # crosses the 16-element normal kernel switch
FLOATS = ("float32", "float64")


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _probs(m, n, dtype):
    """Deterministic non-negative weights (the same values in both libraries)."""
    return m.from_numpy(np.abs(np.sin(np.arange(1, n + 1))).astype(dtype))


# name -> fn(m, gen, n, dtype): one lambda serves ember and torch
CASES = {
    "rand": lambda m, g, n, dt: m.rand(n, generator=g, dtype=getattr(m, dt)),
    "randn": lambda m, g, n, dt: m.randn(n, generator=g, dtype=getattr(m, dt)),
    "uniform_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).uniform_(-1 / 3, 2 / 7, generator=g),
    "normal_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).normal_(0.3, 2.5, generator=g),
    "normal_std": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).normal_(0.0, 0.02, generator=g),
    "normal_floats": lambda m, g, n, dt: m.normal(1.5, 0.5, (n,), generator=g, dtype=getattr(m, dt)),
    "normal_tensor_tensor": lambda m, g, n, dt: m.normal(m.arange(n, dtype=getattr(m, dt)),
                                                         m.arange(n, dtype=getattr(m, dt)) / 7 + 0.1,
                                                         generator=g),
    "normal_tensor_float": lambda m, g, n, dt: m.normal(m.arange(n, dtype=getattr(m, dt)), 0.7, generator=g),
    "normal_float_tensor": lambda m, g, n, dt: m.normal(-2.0, m.arange(n, dtype=getattr(m, dt)) / 3,
                                                        generator=g),
    "exponential_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).exponential_(1.5, generator=g),
    "geometric_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).geometric_(0.3, generator=g),
    "log_normal_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).log_normal_(0.5, 0.7, generator=g),
    "cauchy_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).cauchy_(0.5, 1.7, generator=g),
    "bernoulli_p": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).bernoulli_(0.3, generator=g),
    "bernoulli_tensor": lambda m, g, n, dt: m.bernoulli(m.linspace(0, 1, n, dtype=getattr(m, dt)), generator=g),
    "bernoulli_float_p": lambda m, g, n, dt: m.bernoulli(m.zeros(n, dtype=getattr(m, dt)), 0.6, generator=g),
    "random_": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).random_(generator=g),
    "random_to": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).random_(100, generator=g),
    "rand_like": lambda m, g, n, dt: m.rand_like(m.empty(3, n, dtype=getattr(m, dt)), generator=g),
    "randn_like": lambda m, g, n, dt: m.randn_like(m.empty(n, dtype=getattr(m, dt)), generator=g),
    "randn_like_transposed": lambda m, g, n, dt: m.randn_like(m.empty(n, 3, dtype=getattr(m, dt)).t(),
                                                              generator=g),
    "normal_transposed": lambda m, g, n, dt: m.empty(n, 2, dtype=getattr(m, dt)).t().normal_(generator=g),
    "uniform_transposed": lambda m, g, n, dt: m.empty(n, 2, dtype=getattr(m, dt)).t().uniform_(generator=g),
    "multinomial": lambda m, g, n, dt: m.multinomial(_probs(m, n + 3, dt), 3, generator=g),
    "multinomial_1": lambda m, g, n, dt: m.multinomial(_probs(m, n + 1, dt), 1, generator=g),
    "multinomial_replacement": lambda m, g, n, dt: m.multinomial(_probs(m, n + 1, dt), 5, True, generator=g),
    "multinomial_2d": lambda m, g, n, dt: m.multinomial(_probs(m, 3 * (n + 2), dt).reshape(3, -1), 2,
                                                        generator=g),
    "multinomial_2d_replacement": lambda m, g, n, dt: m.multinomial(_probs(m, 3 * (n + 2), dt).reshape(3, -1),
                                                                    4, True, generator=g),
}
INT_CASES = {
    "randint": lambda m, g, n, dt: m.randint(2, 100, (n,), generator=g, dtype=getattr(m, dt)),
    "randint_high": lambda m, g, n, dt: m.randint(7, (n,), generator=g, dtype=getattr(m, dt)),
    "random_default": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).random_(generator=g),
    "random_from": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).random_(3, None, generator=g),
    "randperm": lambda m, g, n, dt: m.randperm(n, generator=g, dtype=getattr(m, dt)),
    "bernoulli_int": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).bernoulli_(0.5, generator=g),
    "geometric_int": lambda m, g, n, dt: m.empty(n, dtype=getattr(m, dt)).geometric_(0.2, generator=g),
}
INT_DTYPES = ("int64", "int32", "int16", "uint8")
WIDE_CASES = {   # 64-bit ranges switch to 64-bit draws
    "randint_2_28": lambda m, g, n: m.randint(0, 2**28, (n,), generator=g),
    "randint_2_28_minus_1": lambda m, g, n: m.randint(0, 2**28 - 1, (n,), generator=g),
    "randint_2_40": lambda m, g, n: m.randint(-2**40, 2**40, (n,), generator=g),
    "randint_int64": lambda m, g, n: m.randint(-2**63, 2**63 - 1, (n,), generator=g),
    "random_full_range": lambda m, g, n: m.empty(n, dtype=m.int64).random_(-2**63, None, generator=g),
    "random_bool": lambda m, g, n: m.empty(n, dtype=m.bool).random_(generator=g),
    "randperm_float": lambda m, g, n: m.randperm(n, generator=g, dtype=m.float32),
    "randn_half": lambda m, g, n: m.randn(n, generator=g, dtype=m.float16),
    "exponential_half": lambda m, g, n: m.empty(n, dtype=m.float16).exponential_(generator=g),
}


def _run(m, fn, seed, *args):
    """Draws for every size in turn from one fresh generator (so each draw also checks the stream
    position and the cached Box-Muller normal the previous one left), or the error type raised."""
    g = m.Generator().manual_seed(seed)
    try:
        return [_np(fn(m, g, n, *args)) for n in SIZES]
    except (RuntimeError, ValueError, TypeError, NotImplementedError) as error:
        return type(error)


def _assert_same(name, ours, theirs):
    if isinstance(ours, type) or isinstance(theirs, type):
        assert ours is theirs, (name, ours, theirs)
        return
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape, (name, a.dtype, b.dtype, a.shape, b.shape)
        assert np.array_equal(a, b, equal_nan=True), (name, int((a != b).sum()))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", list(CASES))
def test_float_streams_match_torch(torch, name, dtype):
    for seed in SEEDS:
        _assert_same((name, seed), _run(ember, CASES[name], seed, dtype), _run(torch, CASES[name], seed, dtype))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", list(INT_CASES))
def test_integer_streams_match_torch(torch, name, dtype):
    for seed in SEEDS:
        _assert_same((name, seed), _run(ember, INT_CASES[name], seed, dtype),
                     _run(torch, INT_CASES[name], seed, dtype))


@pytest.mark.parametrize("name", list(WIDE_CASES))
def test_wide_ranges_and_other_dtypes_match_torch(torch, name):
    for seed in SEEDS:
        _assert_same((name, seed), _run(ember, WIDE_CASES[name], seed), _run(torch, WIDE_CASES[name], seed))


def _sampler_order(m):
    """RandomSampler's recipe: a seed from random_(), then randperm with its own generator."""
    seed = int(m.empty((), dtype=m.int64).random_().item())
    return m.randperm(10, generator=m.Generator().manual_seed(seed))


API_CASES = {
    "random_sampler": _sampler_order,
    "randint_forms": lambda m: (m.randint(low=2, high=5, size=(4,)), m.randint(high=5, size=(4,)),
                                m.randint(5, size=(4,)), m.randint(3, 10, (2, 2))),
    "rand_size_forms": lambda m: (m.rand(size=(2, 3)), m.randn((2, 3)), m.rand([4]), m.randn(2, 2, 2)),
    "scalar_tensor": lambda m: m.empty(()).normal_(),
    "empty_and_single": lambda m: (m.rand(0), m.randn(0), m.randperm(0), m.randperm(1), m.rand(2)),
    "dropout_mask": lambda m: m.empty(4, 5).bernoulli_(0.8).div_(0.8),
    "dropout2d_mask": lambda m: m.empty(2, 3, 1, 1).bernoulli_(0.5),
    "bernoulli_broadcast_p": lambda m: m.empty(3, 5).bernoulli_(m.rand(5)),
    "bernoulli_transposed": lambda m: m.empty(5, 3).t().bernoulli_(m.rand(3, 5)),
    "multinomial_transposed": lambda m: m.multinomial(m.rand(5, 3).t(), 2),
    "random_strided": lambda m: m.zeros(4, 6)[:, ::2].random_(0, 10),
    "normal_strided": lambda m: m.zeros(8, 6)[:, ::2].normal_(),
    "exponential_transposed": lambda m: m.empty(4, 3).t().exponential_(),
    "normal_broadcast": lambda m: m.normal(m.zeros(3, 1), m.ones(4)),
    "normal_mean_requires_grad": lambda m: m.normal(m.zeros(3, requires_grad=True), m.ones(3)),
    "uniform_half": lambda m: m.empty(20, dtype=m.float16).uniform_(-2, 3),
    "randint_like": lambda m: (m.randint_like(m.zeros(3, 2), 10), m.randint_like(m.zeros(3, 2), 3, 10)),
    "randint_float64_wide": lambda m: m.randint(0, 2**40, (5,), dtype=m.float64),
}


@pytest.mark.parametrize("name", list(API_CASES))
def test_call_forms_and_layouts_match_torch(torch, name):
    results = []
    for m in (ember, torch):
        m.manual_seed(0)
        out = API_CASES[name](m)
        results.append([_np(t) for t in (out if isinstance(out, tuple) else (out,))])
    for a, b in zip(*results):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name


def test_random_ranges_match_torch(torch):
    ranges = [(0, 5000), (2**25 + 1, 2**26 + 3), (-2**26 - 3, -2**25 + 1), (-70000, 3), (2049, 4097),
              (2**53 + 1, 2**53 + 9), (0, 2**60), (-2**62, 2**62), (5, None), (-3, None), (2**30, None), (0, 2)]
    for dtype in ("float16", "float32", "float64", "int64", "int16", "uint8", "bool"):
        for low, high in ranges:
            results = []
            for m in (ember, torch):
                m.manual_seed(1)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        results.append(_np(m.empty(6, dtype=getattr(m, dtype)).random_(low, high)))
                except RuntimeError as error:
                    results.append(str(error))
            a, b = results
            same = a == b if isinstance(a, str) else not isinstance(b, str) and np.array_equal(a, b)
            assert same, (dtype, low, high, a, b)


def test_large_randperm_and_normals_match_torch(torch):
    for m in (ember, torch):
        m.manual_seed(123)
    assert np.array_equal(_np(ember.randperm(100_000)), _np(torch.randperm(100_000)))
    assert np.array_equal(_np(ember.randn(300_001)), _np(torch.randn(300_001)))
    assert np.array_equal(_np(ember.randn(131_072)), _np(torch.randn(131_072)))
    assert np.array_equal(_np(ember.randn(100_003, dtype=ember.float64)),
                          _np(torch.randn(100_003, dtype=torch.float64)))


def test_global_functions_and_state_bytes_match_torch(torch):
    for seed in (0, 1, 2**32 + 7, 2**64 - 1, -1, 67280421310721):
        ember.manual_seed(seed)
        torch.manual_seed(seed)
        assert ember.initial_seed() == torch.initial_seed()
        assert np.array_equal(_np(ember.get_rng_state()), _np(torch.get_rng_state()))
        for m in (ember, torch):                     # leaves a cached normal and a mid-block position
            m.randn(3, dtype=m.float64)
            m.rand(5)
        assert np.array_equal(_np(ember.get_rng_state()), _np(torch.get_rng_state()))
    torch_state = torch.get_rng_state()
    ember.set_rng_state(ember.from_numpy(torch_state.numpy().copy()))
    assert np.array_equal(_np(ember.randn(5, dtype=ember.float64)), _np(torch.randn(5, dtype=torch.float64)))
    assert np.array_equal(_np(ember.randn(50)), _np(torch.randn(50)))


def test_default_initial_seed_of_a_new_generator_matches_torch(torch):
    assert ember.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721


ERRORS = [
    lambda m: m.empty(3).uniform_(2, 1),
    lambda m: m.empty(3).uniform_(-3e38, 3e38),
    lambda m: m.empty(3, dtype=m.int64).uniform_(),
    lambda m: m.empty(3).normal_(0, -1),
    lambda m: m.empty(3, dtype=m.int64).normal_(),
    lambda m: m.normal(m.zeros(3), -m.ones(3)),
    lambda m: m.normal(m.zeros(3), -1.0),
    lambda m: m.normal(0.0, 1.0),
    lambda m: m.empty(3).exponential_(0),
    lambda m: m.empty(3, dtype=m.int64).exponential_(),
    lambda m: m.empty(3).geometric_(1),
    lambda m: m.empty(3).log_normal_(0, 0),
    lambda m: m.empty(3).cauchy_(0, 0),
    lambda m: m.empty(3).bernoulli_(1.5),
    lambda m: m.bernoulli(m.full((3,), 1.5)),
    lambda m: m.bernoulli(m.ones(3, dtype=m.int64)),
    lambda m: m.randint(5, 5, (3,)),
    lambda m: m.randint(0, 300, (3,), dtype=m.uint8),
    lambda m: m.randint(-1, 3, (3,), dtype=m.uint8),
    lambda m: m.empty(3, dtype=m.int8).random_(-2**63, None),
    lambda m: m.empty(3, dtype=m.float16).random_(0, 70000),
    lambda m: m.randperm(-1),
    lambda m: m.randperm(3, dtype=m.bool),
    lambda m: m.randperm(3000, dtype=m.float16),
    lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1),
    lambda m: m.multinomial(m.tensor([1.0, -1.0]), 2, True),
    lambda m: m.multinomial(m.tensor([1.0, float("inf")]), 2, True),
    lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
    lambda m: m.multinomial(m.tensor([1.0, 1.0]), 3),
    lambda m: m.multinomial(m.tensor([1.0, 1.0]), 0),
    lambda m: m.multinomial(m.tensor([1, 1]), 1),
    lambda m: m.rand(3, dtype=m.int64),
    lambda m: m.randn(-1),
    lambda m: m.Generator().manual_seed(2**64),
    lambda m: m.Generator().manual_seed(1.5),
    lambda m: m.set_rng_state(m.zeros(10, dtype=m.uint8)),
    lambda m: m.set_rng_state(m.zeros(5056, dtype=m.float32)),
    lambda m: m.set_rng_state(m.zeros(5056, dtype=m.uint8)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_error_types_and_messages_match_torch(torch, case):
    errors = []
    for m in (ember, torch):
        with pytest.raises(Exception) as info:
            ERRORS[case](m)
        errors.append(info.value)
    assert type(errors[0]) is type(errors[1])
    ours, theirs = (str(e).splitlines()[0][:60].rstrip() for e in errors)
    assert theirs.startswith(ours), (ours, theirs)


# --- without torch ---------------------------------------------------------------------------------

def _golden_streams(m):
    """The streams stored in the golden file, computed with module m."""
    out = {}
    for seed in (0, 7, 2**40 + 3):
        m.manual_seed(seed)
        out[f"{seed}/rand"] = m.rand(17)
        out[f"{seed}/rand64"] = m.rand(5, dtype=m.float64)
        out[f"{seed}/randn15"] = m.randn(15)
        out[f"{seed}/randn37"] = m.randn(37)
        out[f"{seed}/randn64_17"] = m.randn(17, dtype=m.float64)
        out[f"{seed}/uniform_"] = m.empty(4, 5).uniform_(-0.4472136, 0.4472136)
        out[f"{seed}/normal_"] = m.empty(33).normal_(0.0, 0.02)
        out[f"{seed}/randint"] = m.randint(0, 10, (12,))
        out[f"{seed}/randint_wide"] = m.randint(-2**40, 2**40, (4,))
        out[f"{seed}/randperm"] = m.randperm(20)
        out[f"{seed}/bernoulli"] = m.empty(16).bernoulli_(0.5)
        out[f"{seed}/bernoulli_t"] = m.bernoulli(m.full((9,), 0.25, dtype=m.float64))
        out[f"{seed}/multinomial"] = m.multinomial(m.tensor([0.1, 0.2, 0.3, 0.4]), 3)
        out[f"{seed}/multinomial_r"] = m.multinomial(m.tensor([0.1, 0.2, 0.3, 0.4]), 6, True)
        out[f"{seed}/exponential_"] = m.empty(6, dtype=m.float64).exponential_()
        out[f"{seed}/randn_after"] = m.randn(3, dtype=m.float64)
    return {key: _np(value) for key, value in out.items()}


def test_golden_streams():
    golden = np.load(GOLDEN)
    ours = _golden_streams(ember)
    assert sorted(golden.files) == sorted(ours)
    for key in golden.files:
        assert golden[key].dtype == ours[key].dtype and np.array_equal(golden[key], ours[key]), key


def test_generator_api():
    g = ember.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert str(g.device) == "cpu"
    state = g.get_state()
    assert state.dtype == ember.uint8 and tuple(state.shape) == (5056,)
    first = ember.randn(20, generator=g)
    g.set_state(state)
    assert ember.equal(first, ember.randn(20, generator=g))
    seed = g.seed()
    assert g.initial_seed() == seed and 0 <= seed < 2**64
    assert ember.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    with pytest.raises(ValueError):
        g.manual_seed(2**64)
    with pytest.raises(RuntimeError):
        g.manual_seed(1.5)


def test_generator_pickles_and_deep_copies_with_its_state():
    import copy
    import pickle
    g = ember.Generator().manual_seed(3)
    ember.randn(3, generator=g, dtype=ember.float64)            # leaves a cached normal behind
    clones = [pickle.loads(pickle.dumps(g)), copy.deepcopy(g), g.clone_state()]
    expected = ember.randn(5, generator=g, dtype=ember.float64)
    for clone in clones:
        assert clone.initial_seed() == 3
        assert ember.equal(ember.randn(5, generator=clone, dtype=ember.float64), expected)


def test_exact_fused_multiply_add():
    from fractions import Fraction
    from ember._mt_sampling import fma32, fma64
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, 500))
    c[::2] *= 1e-12                                       # cancellation and tiny addends too
    for x, y, z, r in zip(a, b, c, fma64(a, b, c)):
        assert float(Fraction(x) * Fraction(y) + Fraction(z)) == r
    a, b, c = rng.standard_normal((3, 500)).astype(np.float32)
    for x, y, z, r in zip(a, b, c, fma32(a, b, c)):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        candidates = (np.nextafter(r, np.float32(-np.inf)), r, np.nextafter(r, np.float32(np.inf)))
        errors = [abs(Fraction(float(v)) - exact) for v in candidates]
        assert errors[1] <= min(errors)                       # r is the nearest float32


def test_generators_are_independent_of_the_default_one():
    ember.manual_seed(3)
    expected = ember.rand(8)
    ember.manual_seed(3)
    other = ember.Generator().manual_seed(3)
    ember.randn(100, generator=other)              # must not move the default stream
    assert ember.equal(ember.rand(8), expected)
    assert ember.equal(ember.rand(8, generator=ember.Generator().manual_seed(3)), expected)
    assert not ember.equal(ember.rand(8, generator=ember.Generator().manual_seed(4)), expected)


def test_fork_rng_restores_the_state():
    ember.manual_seed(11)
    with ember.random.fork_rng():
        ember.randn(10)
    after = ember.randn(10)
    ember.manual_seed(11)
    assert ember.equal(after, ember.randn(10))


def test_same_seed_same_numbers_in_a_fresh_process():
    code = ("import ember, hashlib; ember.manual_seed(1234); "
            "a = [ember.rand(50), ember.randn(50), ember.randint(0, 9, (50,)), ember.randperm(50), "
            "ember.multinomial(ember.ones(10), 5), ember.bernoulli(ember.full((50,), 0.5))]; "
            "print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in a)).hexdigest())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import hashlib
    ember.manual_seed(1234)
    a = [ember.rand(50), ember.randn(50), ember.randint(0, 9, (50,)), ember.randperm(50),
         ember.multinomial(ember.ones(10), 5), ember.bernoulli(ember.full((50,), 0.5))]
    assert run.stdout.strip() == hashlib.sha256(b"".join(t.numpy().tobytes() for t in a)).hexdigest()


def test_linear_default_init_matches_torch(torch):
    nn = ember.nn
    for m in (ember, torch):
        m.manual_seed(0)
    ours = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert np.array_equal(_np(a), _np(b)), name


if __name__ == "__main__":               # regenerate the golden file from PyTorch
    import torch
    np.savez_compressed(GOLDEN, **_golden_streams(torch))


@pytest.mark.parametrize("n", [0, 3, 17, 100])
@pytest.mark.parametrize("name", ["complex64", "complex128"])
def test_complex_randn_matches_torch(torch, name, n):
    # real and imaginary parts are one float draw of shape (..., 2) with std 1/sqrt(2)
    for seed in range(3):
        ember.manual_seed(seed)
        torch.manual_seed(seed)
        ours = ember.randn(n, dtype=getattr(ember, name)).numpy()
        theirs = torch.randn(n, dtype=getattr(torch, name)).numpy()
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["log", "log1p", "exp", "tan"])
@pytest.mark.parametrize("numpy_agrees", [True, False])
def test_libm_rounds_as_the_c_library(monkeypatch, name, numpy_agrees):
    """Samplers' float64 math is the C library's, as in PyTorch's kernels, on any NumPy build: where
    NumPy's vectorised loops round differently (AVX-512 builds), the element-wise path takes over."""
    import math
    from ember import _mt_sampling as mts
    x = np.random.default_rng(1).random(3000)
    x = {"log": x, "log1p": -x, "exp": 30 * x - 15, "tan": np.pi * (x - 0.5)}[name]
    if not numpy_agrees:
        monkeypatch.setitem(mts._NUMPY_AGREES, name, False)
    got = mts.libm(name, x)
    expected = [getattr(math, name)(v) for v in x.tolist()]
    assert np.array_equal(got, expected)        # whichever path the probe picked
    if not numpy_agrees:
        edges = {"log": [0.0, -1.0], "log1p": [-1.0, -2.0], "exp": [1e4, -1e4], "tan": [0.0, 1.0]}[name]
        out = mts.libm(name, np.array(edges))
        assert out.shape == (2,) and out.dtype == np.float64
