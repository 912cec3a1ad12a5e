"""Random numbers on cuda (Note [cuda random numbers] in ember/random.py): every factory and in-place sampler gives
a device array holding the numbers the cpu gives under the same seed, drawn by the device's own generator; the
seeding and state functions of ember.cuda and Generator(device="cuda") behave as PyTorch's."""
import importlib.util
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import random as ember_random
from ember._backends import _BACKENDS
from ember._backends import cuda as backend

P = np.array([[0.1, 0.5, 0.9, 0.0], [1.0, 0.25, 0.75, 0.3], [0.6, 0.2, 0.4, 0.8]])
WEIGHTS = np.array([[0.2, 0.3, 0.5, 0.0], [0.6, 0.1, 0.3, 1.0]])


def _t(values, dev, dtype=ember.float64):
    return ember.tensor(values, dtype=dtype, device=dev)


def _fill(method, *args, transposed=False, dtype=ember.float32, **kwargs):
    def run(dev):
        t = ember.empty(4, 3, dtype=dtype, device=dev)
        t = t.t() if transposed else t
        return getattr(t, method)(*args, **kwargs)
    return run


# name -> fn(device) drawing with the device's default generator
SAMPLERS = {
    "rand": lambda d: ember.rand(3, 5, device=d),
    "rand_float64": lambda d: ember.rand(40, dtype=ember.float64, device=d),
    "randn": lambda d: ember.randn(37, device=d),
    "randn_small": lambda d: ember.randn(3, dtype=ember.float64, device=d),
    "randn_complex": lambda d: ember.randn(5, dtype=ember.complex64, device=d),
    "randn_half": lambda d: ember.randn(20, dtype=ember.float16, device=d),
    "randint": lambda d: ember.randint(-3, 9, (4, 6), device=d),
    "randint_int8": lambda d: ember.randint(100, (7,), dtype=ember.int8, device=d),
    "randperm": lambda d: ember.randperm(30, device=d),
    "normal_numbers": lambda d: ember.normal(2.0, 3.0, (5, 4), device=d),
    "normal_tensors": lambda d: ember.normal(_t(P, d), _t(P, d) + 0.5),
    "normal_tensor_mean": lambda d: ember.normal(_t(P, d), 2.0),
    "normal_tensor_std": lambda d: ember.normal(1.0, _t(P, d)),
    "bernoulli": lambda d: ember.bernoulli(_t(P, d)),
    "bernoulli_p": lambda d: ember.bernoulli(_t(P, d), 0.3),
    "multinomial": lambda d: ember.multinomial(_t(WEIGHTS, d), 3),
    "multinomial_replacement": lambda d: ember.multinomial(_t(WEIGHTS, d), 9, True),
    "multinomial_one": lambda d: ember.multinomial(_t(WEIGHTS[0], d), 1),
    "poisson": lambda d: ember.poisson(_t(P * 20, d)),
    "binomial": lambda d: ember.binomial(_t(np.full((3, 4), 12.0), d), _t(P, d)),
    "standard_gamma": lambda d: ember._standard_gamma(_t(P + 0.2, d)),
    "sample_dirichlet": lambda d: ember._sample_dirichlet(_t(P + 0.2, d)),
    "dropout": lambda d: F.dropout(_t(P, d), 0.4),
    "dropout_transposed": lambda d: F.dropout(_t(P, d).t(), 0.4),
    "dropout2d": lambda d: F.dropout2d(ember.ones(2, 3, 4, 4, device=d), 0.5),
    "alpha_dropout": lambda d: F.alpha_dropout(_t(P, d), 0.3, True),
    "feature_alpha_dropout": lambda d: F.feature_alpha_dropout(ember.ones(2, 3, 4, device=d), 0.3, True),
    "rand_like": lambda d: ember.rand_like(_t(P, d)),
    "rand_like_transposed": lambda d: ember.rand_like(_t(P, d).t()),
    "randn_like": lambda d: ember.randn_like(_t(P, d).t()),
    "randint_like": lambda d: ember.randint_like(_t(P, d), 3, 10),
    "uniform_": _fill("uniform_", -2.0, 3.0),
    "uniform_transposed": _fill("uniform_", transposed=True),
    "normal_": _fill("normal_", 1.0, 2.0),
    "normal_transposed": _fill("normal_", transposed=True, dtype=ember.float64),
    "exponential_": _fill("exponential_", 1.5),
    "geometric_": _fill("geometric_", 0.3),
    "cauchy_": _fill("cauchy_", 0.5, 2.0),
    "log_normal_": _fill("log_normal_", 0.0, 0.5),
    "random_": _fill("random_", dtype=ember.int64),
    "random_to": _fill("random_", 10, dtype=ember.int32),
    "random_from_to": _fill("random_", -5, 5, transposed=True),
    "bernoulli_": _fill("bernoulli_", 0.3),
    "bernoulli_tensor": lambda d: ember.empty(3, 4, device=d).t().bernoulli_(_t(P, d).t()),
    "kaiming_uniform_": lambda d: ember.nn.init.kaiming_uniform_(ember.empty(5, 4, device=d)),
    "trunc_normal_": lambda d: ember.nn.init.trunc_normal_(ember.empty(5, 4, device=d)),
    "linear_init": lambda d: ember.nn.Linear(4, 3, device=d).weight,
    "randn_out": lambda d: ember.randn(2, 3, out=ember.empty(6, device=d)),
}


# samplers that transform their draws with device math a GPU's libm may round differently (trunc_normal_'s erfinv)
DEVICE_MATH = {"trunc_normal_"}


def _host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_on_cuda_is_the_cpu_stream_on_the_device(name, cuda_device):
    ember.manual_seed(7)
    got = SAMPLERS[name](cuda_device)
    after_cuda = ember.cuda.get_rng_state()
    ember.manual_seed(7)
    want = SAMPLERS[name]("cpu")
    assert got.device.type == "cuda" and isinstance(got._array, backend.xp.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape
    if name in DEVICE_MATH and not backend.emulated():
        np.testing.assert_allclose(_host(got), _host(want), rtol=1e-6)
    else:
        np.testing.assert_array_equal(_host(got), _host(want))  # bit for bit
    # and the cuda generator ends where the cpu one does
    assert ember.equal(after_cuda, ember.get_rng_state())


def test_cuda_matches_pytorchs_cpu_stream(cuda_device):
    torch = pytest.importorskip("torch")
    torch.manual_seed(11)
    expected = [torch.rand(6), torch.randn(20, dtype=torch.float64), torch.randperm(9)]
    ember.manual_seed(11)
    actual = [ember.rand(6, device=cuda_device), ember.randn(20, dtype=ember.float64, device=cuda_device),
              ember.randperm(9, device=cuda_device)]
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(_host(a), e.numpy())


def test_manual_seed_makes_cuda_streams_reproducible(cuda_device):
    def draw():
        return [ember.rand(4, device=cuda_device), ember.randn(17, device=cuda_device),
                F.dropout(ember.ones(8, device=cuda_device), 0.5)]
    for seed_fn in (ember.manual_seed, ember.cuda.manual_seed, ember.cuda.manual_seed_all):
        seed_fn(123)
        first = draw()
        seed_fn(123)
        second = draw()
        for a, b in zip(first, second):
            assert ember.equal(a, b)
    ember.manual_seed(123)
    third = draw()
    ember.manual_seed(124)
    assert not ember.equal(third[1], draw()[1])


def test_seeded_cuda_streams_are_the_same_run_to_run(cuda_device):
    code = ("import ember; ember.manual_seed(42); a = ember.randn(5, device='cuda'); ember.cuda.manual_seed(3); "
            "b = ember.rand(4, device='cuda'); print(repr((a.tolist(), b.tolist())))")
    env = dict(os.environ, EMBER_EMULATE_CUDA="1" if backend.emulated() else "0")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
            for _ in range(2)]
    ember.manual_seed(42)
    a = ember.randn(5, device=cuda_device)
    ember.cuda.manual_seed(3)
    b = ember.rand(4, device=cuda_device)
    assert runs[0] == runs[1] == repr((a.tolist(), b.tolist())) + "\n"


def test_cuda_and_cpu_generators_are_separate(cuda_device):
    ember.manual_seed(3)
    cpu_state = ember.get_rng_state()
    ember.rand(100, device=cuda_device)
    ember.empty(10, device=cuda_device).normal_()
    assert ember.equal(ember.get_rng_state(), cpu_state)         # cuda draws leave the cpu generator alone
    cuda_state = ember.cuda.get_rng_state()
    ember.rand(100)
    assert ember.equal(ember.cuda.get_rng_state(), cuda_state)
    cpu_state = ember.get_rng_state()
    ember.cuda.manual_seed(5)                                     # seeds cuda only, as PyTorch's
    assert ember.equal(ember.get_rng_state(), cpu_state)
    assert ember.initial_seed() == 3 and ember.cuda.initial_seed() == 5
    ember.manual_seed(9)                                          # seeds both
    assert ember.initial_seed() == ember.cuda.initial_seed() == 9
    ember.seed()
    assert ember.cuda.initial_seed() == ember.initial_seed()


def test_cuda_rng_state_functions(cuda_device):
    ember.cuda.manual_seed(21)
    state = ember.cuda.get_rng_state()
    assert state.dtype == ember.uint8 and state.device.type == "cpu" and state.shape == (5056,)
    assert ember.equal(ember.cuda.get_rng_state(0), state) and ember.equal(ember.cuda.get_rng_state("cuda:0"), state)
    a = ember.randn(9, device=cuda_device)
    ember.cuda.set_rng_state(state)
    assert ember.equal(ember.randn(9, device=cuda_device), a)
    states = ember.cuda.get_rng_state_all()
    assert len(states) == ember.cuda.device_count() and ember.equal(states[0], ember.cuda.get_rng_state())
    b = ember.rand(3, device=cuda_device)
    ember.cuda.set_rng_state_all(states)
    assert ember.equal(ember.rand(3, device=cuda_device), b)
    ember.cuda.seed()
    seeded = ember.cuda.initial_seed()
    assert seeded != 21 and ember.cuda.default_generators[0].initial_seed() == seeded
    ember.cuda.seed_all()
    assert ember.cuda.initial_seed() != seeded
    gens = ember.cuda.default_generators
    assert len(gens) == ember.cuda.device_count() and gens[0].device == ember.device("cuda", 0)
    assert list(gens)[0] is gens[0] and gens[-1] is gens[len(gens) - 1]
    with pytest.raises(RuntimeError, match="Invalid mt19937 state|Expected a CPUGeneratorImplState"):
        ember.cuda.set_rng_state(ember.zeros(16, dtype=ember.uint8))   # PyTorch's 16-byte Philox state


def test_two_devices_have_their_own_generators(cuda_device, monkeypatch):
    if not backend.emulated() and ember.cuda.device_count() < 2:
        pytest.skip("needs two GPUs (or the emulated device)")
    if backend.emulated():
        monkeypatch.setenv("EMBER_EMULATE_CUDA", "2")
    ember.manual_seed(4)                                          # every device, as PyTorch's manual_seed_all
    first = ember.rand(5, device="cuda:1")
    assert first.device == ember.device("cuda", 1)
    assert ember.equal(first.cpu(), ember.rand(5, device="cuda:0").cpu())
    ember.cuda.manual_seed(8)                                     # the current device (0) only
    assert ember.cuda.default_generators[1].initial_seed() == 4 and ember.cuda.initial_seed() == 8
    with ember.cuda.device(1):
        assert ember.cuda.initial_seed() == 4
    assert len(ember.cuda.get_rng_state_all()) == 2


def test_cuda_generator_object(cuda_device):
    gen = ember.Generator(device=cuda_device)
    assert gen.device == ember.device("cuda", 0)
    gen.manual_seed(17)
    ember.manual_seed(1)
    default_state = ember.cuda.get_rng_state()
    drawn = ember.randn(12, device=cuda_device, generator=gen)
    assert drawn.device.type == "cuda"
    assert ember.equal(ember.cuda.get_rng_state(), default_state)   # the default generator did not move
    assert ember.equal(drawn.cpu(), ember.randn(12, generator=ember.Generator().manual_seed(17)))
    filled = ember.empty(6, device=cuda_device).uniform_(generator=gen)
    copy = pickle.loads(pickle.dumps(gen))
    clone = gen.clone_state()
    assert copy.device == clone.device == gen.device
    assert ember.equal(ember.rand(4, device=cuda_device, generator=copy),
                       ember.rand(4, device=cuda_device, generator=clone))
    assert filled.device.type == "cuda"
    assert ember.multinomial(_t(WEIGHTS, cuda_device), 2, generator=gen).device.type == "cuda"
    assert ember.poisson(_t(P, cuda_device), generator=gen).device.type == "cuda"
    # a generator must be on the tensor's device type: PyTorch's check and words
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        ember.rand(3, device=cuda_device, generator=ember.Generator())
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        ember.empty(3, device=cuda_device).normal_(generator=ember.Generator())
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator but found 'cuda'"):
        ember.bernoulli(_t(P, "cpu"), generator=gen)
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator but found 'cuda'"):
        ember._standard_gamma(_t(P, "cpu"), generator=gen)
    with pytest.raises(RuntimeError, match="does not use offset"):
        gen.get_offset()
    with pytest.raises(RuntimeError, match="CPU Generator does not use offset"):
        ember.Generator().set_offset(0)


def test_set_default_device_applies_to_the_random_factories(cuda_device):
    ember.set_default_device(cuda_device)
    try:
        ember.manual_seed(2)
        made = [ember.rand(3), ember.randn(2, 2), ember.randint(5, (4,)), ember.randperm(6),
                ember.normal(0.0, 1.0, (3,))]
    finally:
        ember.set_default_device(None)
    assert all(t.device.type == "cuda" for t in made)
    ember.manual_seed(2)
    want = [ember.rand(3), ember.randn(2, 2), ember.randint(5, (4,)), ember.randperm(6), ember.normal(0.0, 1.0, (3,))]
    for a, b in zip(made, want):
        assert ember.equal(a.cpu(), b)


def test_fork_rng_forks_the_cuda_generators(cuda_device):
    ember.manual_seed(6)
    cpu_state, cuda_state = ember.get_rng_state(), ember.cuda.get_rng_state()
    with ember.random.fork_rng():
        ember.rand(5, device=cuda_device)
        ember.rand(5)
    assert ember.equal(ember.get_rng_state(), cpu_state) and ember.equal(ember.cuda.get_rng_state(), cuda_state)
    with ember.random.fork_rng(devices=[]):                       # the cpu generator only
        ember.rand(5, device=cuda_device)
    assert not ember.equal(ember.cuda.get_rng_state(), cuda_state)
    assert ember.equal(ember.get_rng_state(), cpu_state)
    with ember.random.fork_rng(device_type="meta"):
        ember.rand(2)
    assert not ember.equal(ember.get_rng_state(), cpu_state)


def test_fork_rng_warns_once_with_several_devices(cuda_device, monkeypatch):
    if not backend.emulated():
        pytest.skip("sets the emulated device count")
    monkeypatch.setenv("EMBER_EMULATE_CUDA", "2")
    monkeypatch.setattr(ember_random, "_fork_rng_warned_already", False)
    with pytest.warns(UserWarning, match="CUDA reports that you have 2 available devices"):
        with ember.random.fork_rng():
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.random.fork_rng():
            pass


def test_without_a_gpu_the_cuda_random_functions_answer_as_pytorchs_cpu_build(cuda_device, monkeypatch):
    if not backend.emulated() or importlib.util.find_spec("cupy") is not None:
        pytest.skip("checks a machine without CuPy")
    monkeypatch.setenv("EMBER_EMULATE_CUDA", "0")
    monkeypatch.setattr(backend, "xp", None)
    monkeypatch.delitem(_BACKENDS, "cuda", raising=False)
    monkeypatch.setattr(ember_random, "_cuda_seed", [None])
    assert not ember.cuda.is_available()
    ember.cuda.manual_seed(1)                                     # silently ignored, as PyTorch's
    ember.cuda.seed()
    ember.cuda.seed_all()
    ember.cuda.set_rng_state(ember.zeros(5056, dtype=ember.uint8))
    ember.cuda.set_rng_state_all([])
    assert ember.cuda.get_rng_state_all() == [] and len(ember.cuda.default_generators) == 0
    assert tuple(ember.cuda.default_generators) == ()
    ember.cuda.manual_seed_all(12)                                # remembered for devices that come later
    assert ember_random._cuda_seed == [12]
    for fn in (ember.cuda.get_rng_state, ember.cuda.initial_seed):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            fn()
    with pytest.raises(RuntimeError, match="Cannot get CUDA generator"):
        ember.Generator(device="cuda")
    with ember.random.fork_rng():                                  # no cuda device to fork
        ember.rand(2)
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():                             # the same answers from PyTorch's CPU build
        assert torch.cuda.get_rng_state_all() == [] and torch.cuda.default_generators == ()
        with pytest.raises(AssertionError):
            torch.cuda.initial_seed()
        with pytest.raises(RuntimeError):
            torch.Generator(device="cuda")
