"""set_num_threads/get_num_threads steering NumPy's BLAS, and small products on one BLAS thread
(Note [BLAS threads per product] in ember/_backends/cpu.py). No timing asserts: the switch is observed by
spying on the thread-count calls."""
import os
import sys
import threading

import numpy as np
import pytest

import ember
from ember import _settings
from ember._backends import cpu


def _torch():
    """The PyTorch oracle when installed, else None (the ember-side checks run either way)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@pytest.fixture(autouse=True)
def _restore_threads():
    """Put back ember's recorded count, BLAS's count and the backend's looked-up BLAS after each test."""
    recorded, looked_up = _settings._Settings.threads, cpu._openblas
    blas = cpu._find_openblas() if looked_up is cpu._UNKNOWN else looked_up
    before = blas[0]() if blas is not None else None
    yield
    _settings._Settings.threads, cpu._openblas = recorded, looked_up
    if before is not None:
        blas[1](before)


@pytest.fixture
def openblas():
    """NumPy's OpenBLAS (get, set) as the backend found it, or skip (another BLAS, or no threadpoolctl)."""
    pytest.importorskip("threadpoolctl")
    blas = cpu._find_openblas()
    if blas is None:
        pytest.skip("NumPy's BLAS is not a pthreads OpenBLAS: products run as BLAS decides")
    return blas


@pytest.fixture
def spy(openblas, monkeypatch):
    """The BLAS thread-count calls the backend makes, in order; BLAS starts at 2 threads."""
    get, put = openblas
    put(2)
    calls = []

    def spy_get():
        calls.append("get")
        return get()

    def spy_set(n):
        calls.append(n)
        put(n)
    monkeypatch.setattr(cpu, "_openblas", (spy_get, spy_set))
    return calls


def test_set_get_round_trip():
    ember.set_num_threads(1)
    assert ember.get_num_threads() == 1
    ember.set_num_threads(3)
    assert ember.get_num_threads() == 3
    ember.set_num_threads(np.int64(2))                 # NumPy integers are ints to PyTorch too
    assert ember.get_num_threads() == 2 and type(ember.get_num_threads()) is int


def test_default_is_blas_count_or_cpu_count(monkeypatch):
    monkeypatch.setattr(_settings._Settings, "threads", None)
    blas = cpu.blas_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expected = blas if blas is not None else cpus
    assert ember.get_num_threads() == expected >= 1


@pytest.mark.parametrize("value, error, message", [
    (0, RuntimeError, "set_num_threads expects a positive integer"),
    (-1, RuntimeError, "set_num_threads expects a positive integer"),
    (1.5, RuntimeError, "set_num_threads expects an int, but got float"),
    ("2", RuntimeError, "set_num_threads expects an int, but got str"),
    (True, RuntimeError, "set_num_threads expects an int, but got bool"),
    (None, RuntimeError, "set_num_threads expects an int, but got NoneType"),
    (np.float64(2.0), RuntimeError, "set_num_threads expects an int, but got numpy.float64"),
    (2 ** 31, ValueError, "Overflow when unpacking long"),
], ids=repr)
def test_errors_match_torch(value, error, message):
    before = ember.get_num_threads()
    with pytest.raises(error) as caught:
        ember.set_num_threads(value)
    assert str(caught.value) == message
    assert ember.get_num_threads() == before           # raised before any state changed
    torch = _torch()
    if torch is None:
        return
    with pytest.raises(error) as expected:
        torch.set_num_threads(value)
    assert str(expected.value) == str(caught.value)


def test_set_num_threads_sets_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_counts():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"}
    if not blas_counts():
        pytest.skip("threadpoolctl finds no BLAS library")
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert set(blas_counts().values()) == {1}
        ember.set_num_threads(2)
        assert set(blas_counts().values()) == {2}
        assert ember.get_num_threads() == 2
    finally:
        ember.set_num_threads(before)


def test_small_product_runs_on_one_thread_and_restores(spy):
    a, w = ember.randn(16, 96), ember.randn(384, 96)
    ember.nn.functional.linear(a, w)                   # 16 x 96 x 384 float32: small
    assert spy == ["get", 1, 2]
    spy.clear()
    ember.randn(8, 16, 96) @ ember.randn(8, 96, 384)   # batched: each of the 8 products is small
    assert spy == ["get", 1, 2]
    spy.clear()
    ember.randn(512, 32) @ ember.randn(32, 384)        # 6.3M multiply-adds x 4 bytes: below 2**26
    ember.randn(128, 128, dtype=ember.float64) @ ember.randn(128, 256, dtype=ember.float64)  # 4.2M x 8 bytes
    assert spy == ["get", 1, 2] * 2
    spy.clear()
    x = ember.randn(64, 96, requires_grad=True)
    ember.nn.functional.linear(x, ember.randn(384, 96, requires_grad=True)).sum().backward()
    assert spy == ["get", 1, 2] * 3                    # forward, grad_input, grad_weight


def test_large_tiny_and_vector_products_keep_blas_choice(spy):
    ember.randn(512, 512) @ ember.randn(512, 512)      # large: the configured count
    ember.randn(256, 256, dtype=ember.float64) @ ember.randn(256, 256, dtype=ember.float64)  # 16.8M x 8 bytes
    ember.randn(512, 96) @ ember.randn(96, 384)        # 18.9M x 4 bytes
    ember.randn(4, 4) @ ember.randn(4, 4)              # tiny: OpenBLAS keeps one thread itself
    ember.randn(1024, 1024) @ ember.randn(1024)        # matrix-vector: memory-bound, threads pay early
    ember.randn(1, 1024) @ ember.randn(1024, 1024)
    assert spy == []


def test_small_product_respects_one_thread_already_set(spy, openblas):
    openblas[1](1)                                     # an enclosing threadpool_limits(1), or set_num_threads(1)
    ember.randn(32, 96) @ ember.randn(96, 384)
    assert spy == ["get"]
    assert openblas[0]() == 1


def test_only_the_main_thread_switches(spy):
    out = []
    worker = threading.Thread(target=lambda: out.append(ember.randn(32, 96) @ ember.randn(96, 384)))
    worker.start()
    worker.join()
    assert out[0].shape == (32, 384) and spy == []


@pytest.mark.parametrize("shape", [(32, 96, 384), (384, 512, 256)], ids=["small", "large"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_unchanged(shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    expected = a @ b
    out = ember.from_numpy(a) @ ember.from_numpy(b)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-4)
    linear = ember.nn.functional.linear(ember.from_numpy(a), ember.from_numpy(np.ascontiguousarray(b.T)))
    np.testing.assert_allclose(linear.numpy(), expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-4)
    torch = _torch()
    if torch is not None:
        np.testing.assert_allclose(out.numpy(), (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(),
                                   rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-3)


def test_without_threadpoolctl_only_records(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import threadpoolctl raises ImportError
    monkeypatch.setattr(cpu, "_openblas", cpu._UNKNOWN)
    ember.set_num_threads(3)
    assert ember.get_num_threads() == 3
    a, b = np.ones((32, 96), "float32"), np.ones((96, 384), "float32")
    assert (ember.from_numpy(a) @ ember.from_numpy(b)).numpy().tolist() == (a @ b).tolist()
    assert cpu._openblas is None and cpu.blas_threads() is None
    monkeypatch.setattr(_settings._Settings, "threads", None)
    assert ember.get_num_threads() >= 1                # the CPUs this process may use
