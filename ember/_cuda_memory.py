"""ember.cuda's memory and device queries: memory_allocated / reserved and their peaks, memory_stats,
memory_summary, reset_peak_memory_stats, mem_get_info, get_device_name / capability / properties.

Without a GPU they answer as PyTorch's CPU-only build: the byte counters are 0 and memory_stats() is empty
(nothing was ever allocated), the device queries raise AssertionError("Torch not compiled with CUDA enabled").
Two differ on purpose: reset_peak_memory_stats and memory_summary raise that AssertionError too, where the CPU
build fails with AttributeError (a missing torch._C function) and KeyError (an empty stats table).
With CuPy and a GPU the counters read CuPy's default memory pool of the device: allocated = bytes held by live
arrays, reserved = bytes the pool keeps from the driver. CuPy keeps no peaks: the max_* values are the highest
seen by these queries since the last reset_peak_memory_stats().
"""
import collections
import warnings

from ._backends import cuda as _backend

__all__ = ["memory_stats", "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached", "memory_cached",
           "max_memory_cached", "memory_summary", "mem_get_info", "get_device_name", "get_device_capability",
           "get_device_properties", "is_initialized", "init"]

_peaks = {}                        # device index -> {"allocated": bytes, "reserved": bytes}


def _index(device):
    """The CUDA device index of None / int / "cuda[:i]" / ember.device; ValueError for another device type."""
    if device is None:
        return 0
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    from ._device import device as _device
    dev = _device(device)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return dev.index or 0


def _device_index(device):
    """The CUDA device index of device, once the backend has started (else AssertionError, as PyTorch's CPU build)."""
    _backend.check_available()
    return _index(device)


def memory_stats(device=None):
    """{"allocated_bytes.all.current": ..., "...peak", "reserved_bytes.all.current", "...peak",
    "active_bytes.all.current"}; empty (PyTorch's answer before CUDA starts) without a GPU."""
    if not _backend.available():
        return collections.OrderedDict()
    index = _device_index(device)
    allocated, reserved = _backend.memory_pool_bytes(index)
    peaks = _peaks.setdefault(index, {"allocated": 0, "reserved": 0})
    peaks["allocated"] = max(peaks["allocated"], allocated)
    peaks["reserved"] = max(peaks["reserved"], reserved)
    return collections.OrderedDict([
        ("active_bytes.all.current", allocated),
        ("allocated_bytes.all.current", allocated), ("allocated_bytes.all.peak", peaks["allocated"]),
        ("reserved_bytes.all.current", reserved), ("reserved_bytes.all.peak", peaks["reserved"])])


def memory_allocated(device=None):
    """Bytes held by tensors on the device (0 without a GPU)."""
    return memory_stats(device).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device=None):
    return memory_stats(device).get("allocated_bytes.all.peak", 0)


def memory_reserved(device=None):
    """Bytes the caching allocator holds on the device (0 without a GPU)."""
    return memory_stats(device).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device=None):
    return memory_stats(device).get("reserved_bytes.all.peak", 0)


def reset_peak_memory_stats(device=None):
    """Start the max_* peaks again from the current values."""
    _peaks.pop(_device_index(device), None)
    memory_stats(device)


def reset_max_memory_allocated(device=None):
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls torch.cuda.reset_peak_memory_stats, which resets "
                  "/all/ peak memory stats.", FutureWarning, stacklevel=2)
    return reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None):
    warnings.warn("torch.cuda.reset_max_memory_cached now calls torch.cuda.reset_peak_memory_stats, which resets "
                  "/all/ peak memory stats.", FutureWarning, stacklevel=2)
    return reset_peak_memory_stats(device)


def memory_cached(device=None):
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`", FutureWarning,
                  stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None):
    warnings.warn("`torch.cuda.max_memory_cached` has been renamed to `torch.cuda.max_memory_reserved`",
                  FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def memory_summary(device=None, abbreviated=False):
    """A short table of the counters above (PyTorch's lists its allocator's pools too)."""
    index = _device_index(device)
    stats = memory_stats(device)
    rule = "=" * 75
    rows = [rule, f"{'ember CUDA memory summary (CuPy memory pool), device ID ' + str(index):^75}", rule,
            f"{'Metric':^22}| {'Cur Usage':^11}| {'Peak Usage':^11}", "-" * 75]
    for key, label in (("allocated_bytes", "Allocated memory"), ("reserved_bytes", "GPU reserved memory")):
        rows.append(f"{label:<22}| {_format_bytes(stats[key + '.all.current']):>10} | "
                    f"{_format_bytes(stats[key + '.all.peak']):>10}")
    rows.append(rule)
    return "\n".join(rows) + "\n"


def _format_bytes(n):
    if n < 1024:
        return f"{n} B  "
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.2f} {unit}"


def mem_get_info(device=None):
    """(free bytes, total bytes) of the device, from the CUDA driver."""
    return _backend.mem_get_info(_device_index(device))


class _CudaDeviceProperties:
    """The fields of PyTorch's _CudaDeviceProperties that CuPy reports."""

    def __init__(self, props):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else name
        self.major, self.minor = props["major"], props["minor"]
        self.total_memory = props["totalGlobalMem"]
        self.multi_processor_count = props["multiProcessorCount"]
        self.is_integrated = props.get("integrated", 0)
        self.is_multi_gpu_board = props.get("isMultiGpuBoard", 0)

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    return _CudaDeviceProperties(_backend.device_properties(_device_index(device)))


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    props = get_device_properties(device)
    return props.major, props.minor


def is_initialized():
    """Whether ember's CUDA backend has started (it starts with the first CUDA tensor, or init())."""
    return _backend.xp is not None


def init():
    """Start the CUDA backend now (AssertionError without CuPy and a GPU)."""
    _backend.check_available()
