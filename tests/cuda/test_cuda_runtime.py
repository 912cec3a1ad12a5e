"""The cuda device as PyTorch users meet it: ember.cuda's devices, streams, events and memory counters; tensors
moved to and from the device; host copies; device mismatches; and the emulated device's strictness (it must
refuse what CuPy refuses, or it would hide code that breaks on a GPU)."""
import numpy as np
import pytest

import ember
from ember._backends import cuda as backend


def test_device_queries(cuda_device):
    assert ember.cuda.is_available() and ember.cuda.device_count() >= 1
    assert ember.cuda.current_device() == 0
    assert isinstance(ember.cuda.get_device_name(), str) and ember.cuda.get_device_name()
    major, minor = ember.cuda.get_device_capability()
    assert isinstance(major, int) and isinstance(minor, int)
    free, total = ember.cuda.mem_get_info()
    assert 0 < free <= total
    with ember.cuda.device(0):
        assert ember.cuda.current_device() == 0
    ember.cuda.set_device("cuda:0")
    ember.cuda.set_device(ember.device("cuda", 0))
    with pytest.raises(ValueError, match="Expected a cuda device"):
        ember.cuda.set_device("cpu")


def test_memory_counters_follow_live_tensors(cuda_device):
    ember.cuda.synchronize()
    before = ember.cuda.memory_allocated()
    x = ember.ones(1 << 16, device=cuda_device)
    assert ember.cuda.memory_allocated() >= before + x.numel() * 4
    assert ember.cuda.max_memory_allocated() >= ember.cuda.memory_allocated()
    del x
    assert ember.cuda.memory_allocated() == before
    ember.cuda.reset_peak_memory_stats()
    assert ember.cuda.max_memory_allocated() == ember.cuda.memory_allocated()
    assert "Allocated memory" in ember.cuda.memory_summary()


def test_streams_and_events(cuda_device):
    s = ember.cuda.Stream()
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    with ember.cuda.stream(s):
        assert ember.cuda.current_stream() == s
        start.record()
        y = ember.ones(256, 256, device=cuda_device) @ ember.ones(256, 256, device=cuda_device)
        end.record()
    assert ember.cuda.current_stream() == ember.cuda.default_stream()
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0 and start.query() and s.query()
    assert y[0, 0].item() == 256.0
    untimed = ember.cuda.Event()
    untimed.record()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        untimed.elapsed_time(end)
    s.wait_stream(ember.cuda.current_stream())
    ember.cuda.synchronize()


def test_tensors_move_to_the_device_and_back(cuda_device):
    host = ember.arange(6.0).reshape(2, 3)
    x = host.to(cuda_device)
    assert x.is_cuda and x.device == ember.device("cuda", 0) and x.get_device() == 0
    assert isinstance(x._array, backend.xp.ndarray)
    assert host.cuda().device == x.device and x.cpu().device.type == "cpu"
    assert x.to("cuda", non_blocking=True) is x
    assert ember.equal(x.cpu(), host)
    assert x.tolist() == host.tolist() and x[1, 2].item() == 5.0 and float(x.sum()) == 15.0
    assert "device='cuda:0'" in repr(x)
    y = x.cpu()
    y += 1                                          # the host copy is its own memory
    assert x[0, 0].item() == 0.0
    n = host.numpy()
    x2 = ember.from_numpy(n).to(cuda_device)
    n += 10                                         # and so is the device copy
    assert x2[0, 0].item() == 0.0


def test_numpy_of_a_cuda_tensor_raises_as_torch(cuda_device):
    x = ember.ones(2, device=cuda_device)
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu"):
        x.numpy()


def test_mixing_devices_raises_as_torch(cuda_device):
    x, y = ember.ones(3, device=cuda_device), ember.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at least two "
                                           "devices, cuda:0 and cpu!"):
        x + y
    with pytest.raises(RuntimeError, match="same device"):
        ember.matmul(ember.ones(2, 2, device=cuda_device), ember.ones(2, 2))


def test_factories_take_the_device(cuda_device):
    for t in (ember.zeros(2, device=cuda_device), ember.randn(2, device=cuda_device),
              ember.arange(3, device=cuda_device), ember.full((2,), 1.5, device="cuda:0"),
              ember.empty(2, 2, device=ember.device("cuda")), ember.tensor([1, 2], device=cuda_device),
              ember.zeros_like(ember.ones(2, device=cuda_device)), ember.eye(2, device=cuda_device)):
        assert t.is_cuda and isinstance(t._array, backend.xp.ndarray)
    ember.set_default_device(cuda_device)
    try:
        assert ember.ones(2).is_cuda
    finally:
        ember.set_default_device(None)


def test_save_from_cuda_and_load_with_map_location(cuda_device, tmp_path):
    path = tmp_path / "x.pt"
    x = ember.arange(4.0, device=cuda_device)
    ember.save({"x": x}, path)
    assert ember.load(path)["x"].is_cuda
    cpu = ember.load(path, map_location="cpu")["x"]
    assert cpu.device.type == "cpu" and cpu.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert ember.load(path, map_location=lambda storage, loc: storage)["x"].device.type == "cpu"


def test_emulated_arrays_refuse_host_conversion(cuda_device):
    if not backend.emulated():
        pytest.skip("checks the emulated device")
    backend.check_available()
    xp = backend.xp
    a = xp.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        a + np.ones(3)                              # host arrays do not mix with device arrays
    assert not hasattr(a.flags, "writeable")        # CuPy has no read-only arrays
    assert not hasattr(xp, "errstate")              # nor errstate (ember._backends.errstate is NumPy's alone)
    assert isinstance(a.sum(), xp.ndarray) and a.sum().shape == ()     # reductions give 0-d arrays
    assert isinstance(a[0], xp.ndarray) and a[0].shape == ()
    assert isinstance(np.exp(a), xp.ndarray) and isinstance(np.concatenate([a, a]), xp.ndarray)
    host = np.zeros(2)
    dev = xp.asarray(host)
    host[0] = 1                                     # asarray copied to the device
    assert dev.get()[0] == 0 and xp.asnumpy(dev).tolist() == [0.0, 0.0]


def test_accelerator_reports_cuda(cuda_device):
    acc = ember.accelerator
    assert acc.is_available() and acc.device_count() == ember.cuda.device_count()
    assert acc.current_accelerator(check_available=True) == ember.device("cuda")
    assert acc.current_device_index() == 0
    acc.set_device_index("cuda:0")
    acc.synchronize(0)
    with pytest.raises(RuntimeError, match="Invalid device index 3"):
        acc.synchronize(3)
    with pytest.raises(ValueError, match="doesn't match the current accelerator"):
        acc.set_device_index("cpu")


def test_a_cpu_scalar_tensor_joins_cuda_tensors(cuda_device):
    """PyTorch reads a cpu 0-d tensor beside cuda tensors as a scalar (its grad stays on the cpu); a cpu tensor
    of more dims, or a cuda scalar beside cpu tensors, is refused."""
    x = ember.arange(3.0, device=cuda_device, requires_grad=True)
    s = ember.tensor(2.0, requires_grad=True)
    y = x * s + ember.tensor(1.0)
    assert y.is_cuda and y.tolist() == [1.0, 3.0, 5.0]
    y.sum().backward()
    assert s.grad.device.type == "cpu" and s.grad.item() == 3.0
    assert x.grad.is_cuda and x.grad.tolist() == [2.0, 2.0, 2.0]
    assert ember.where(x > 0, x, ember.tensor(0.0)).is_cuda
    z = ember.ones(3, device=cuda_device)
    z.add_(ember.tensor(2.0))
    assert z.tolist() == [3.0, 3.0, 3.0]
    both = ember.tensor(1.0, device=cuda_device) + ember.tensor(2.0)
    assert both.is_cuda and both.item() == 3.0
    with pytest.raises(RuntimeError, match="same device"):
        ember.ones(3) + ember.tensor(1.0, device=cuda_device)
    with pytest.raises(RuntimeError, match="same device"):
        z.add_(ember.ones(3))


def test_index_bounds_are_checked_on_the_device(cuda_device):
    x = ember.arange(4.0, device=cuda_device)
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 4"):
        x[ember.tensor([0, 7], device=cuda_device)]
    with pytest.raises(IndexError, match="out of bounds"):
        x[ember.tensor([-5], device=cuda_device)] = 1.0
    assert x[ember.tensor([3, -1], device=cuda_device)].tolist() == [3.0, 3.0]
