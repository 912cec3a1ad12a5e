"""ember.cuda's memory and device queries: without a GPU they answer as PyTorch's CPU-only build (0, an empty
stats table, or AssertionError); with CuPy and a GPU they read CuPy's memory pool."""
import warnings

import pytest

import ember

no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="checks the answers of a machine without a GPU")

COUNTERS = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"]
NEEDS_DEVICE = ["mem_get_info", "synchronize", "current_device", "get_device_name", "get_device_properties",
                "get_device_capability", "init"]


@pytest.fixture
def cpu_torch(torch):
    if torch.cuda.is_available():
        pytest.skip("the oracle must be a machine without a GPU")
    return torch


@no_gpu
def test_counters_are_zero_without_a_gpu(cpu_torch):
    for name in COUNTERS:
        assert getattr(ember.cuda, name)() == getattr(cpu_torch.cuda, name)() == 0
        assert getattr(ember.cuda, name)(0) == 0
    assert ember.cuda.memory_stats() == cpu_torch.cuda.memory_stats() == {}
    assert type(ember.cuda.memory_stats()).__name__ == "OrderedDict"
    assert ember.cuda.empty_cache() is None and cpu_torch.cuda.empty_cache() is None
    assert ember.cuda.device_count() == cpu_torch.cuda.device_count() == 0
    assert ember.cuda.is_initialized() is cpu_torch.cuda.is_initialized() is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert ember.cuda.memory_cached() == cpu_torch.cuda.memory_cached() == 0
        assert ember.cuda.max_memory_cached() == cpu_torch.cuda.max_memory_cached() == 0


@no_gpu
@pytest.mark.parametrize("name", NEEDS_DEVICE)
def test_device_queries_raise_assertion_error_as_torch(cpu_torch, name):
    for m in (ember, cpu_torch):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            getattr(m.cuda, name)()


@no_gpu
def test_peak_reset_and_summary_need_a_device():
    # Deviation: PyTorch's CPU build fails here with AttributeError / KeyError from its missing internals.
    for name in ("reset_peak_memory_stats", "memory_summary"):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            getattr(ember.cuda, name)()
    with pytest.warns(FutureWarning, match="reset_peak_memory_stats"), pytest.raises(AssertionError):
        ember.cuda.reset_max_memory_allocated()


def test_signatures_match_torch(torch):
    import inspect
    for name in COUNTERS + ["memory_stats", "memory_summary", "mem_get_info", "reset_peak_memory_stats",
                            "synchronize", "get_device_name", "get_device_capability", "get_device_properties",
                            "empty_cache", "device_count", "current_device"]:
        ours = list(inspect.signature(getattr(ember.cuda, name)).parameters)
        theirs = list(inspect.signature(getattr(torch.cuda, name)).parameters)
        assert ours == theirs, name


@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")
def test_counters_follow_allocations_on_a_gpu():
    ember.cuda.empty_cache()
    ember.cuda.reset_peak_memory_stats()
    before = ember.cuda.memory_allocated()
    x = ember.ones(1024, 1024, device="cuda")
    assert ember.cuda.memory_allocated() >= before + 4 * 1024 * 1024
    assert ember.cuda.max_memory_allocated() >= ember.cuda.memory_allocated()
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    del x
    free, total = ember.cuda.mem_get_info()
    assert 0 < free <= total
    assert isinstance(ember.cuda.get_device_name(), str) and len(ember.cuda.get_device_capability()) == 2
    assert "Allocated memory" in ember.cuda.memory_summary()
    ember.cuda.synchronize()
    with pytest.raises(ValueError, match="Expected a cuda device"):
        ember.cuda.memory_allocated("cpu")
