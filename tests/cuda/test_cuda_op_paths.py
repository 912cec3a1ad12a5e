"""Op paths converted to the device's array module (issue 14: creation, indexing, in-place, pooling, as_strided):
each runs on cuda, keeps its result on the device, and gives the cpu's values exactly."""
import warnings

import numpy as np
import pytest

import ember
from ember._backends import cpu as cpu_backend
from ember._backends import cuda as backend


def _on_device(t):
    assert isinstance(t._array, backend.xp.ndarray) and t.device.type == "cuda"
    return t


def _same(cpu, cuda):
    _on_device(cuda)
    assert cuda.dtype == cpu.dtype and cuda.shape == cpu.shape
    np.testing.assert_array_equal(cuda.detach().cpu().numpy(), cpu.detach().numpy())


def _pair(fn, device):
    cpu, cuda = fn("cpu"), fn(device)
    _same(cpu, cuda)
    return cpu, cuda


# --- creation --------------------------------------------------------------------------------------------------

def test_tensor_from_a_list_of_cuda_tensors(cuda_device):
    items = [ember.tensor(v, device=cuda_device) for v in (1.5, -2.0, 3.25)]
    out = ember.tensor(items)                          # the default device, as PyTorch
    assert out.device.type == "cpu" and out.tolist() == [1.5, -2.0, 3.25]
    on_device = ember.tensor(items, device=cuda_device)
    _same(out, on_device)
    ints = ember.tensor([ember.tensor(3, device=cuda_device), 4], dtype=ember.int8, device=cuda_device)
    _same(ember.tensor([3, 4], dtype=ember.int8), ints)


def test_tensor_of_a_cuda_tensor_stays_on_its_device(cuda_device):
    src = ember.tensor([[1.5, -2.7], [300.0, 4.0]], device=cuda_device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        copy = ember.tensor(src)
        cast = ember.tensor(src, dtype=ember.int32)
        host = ember.tensor(src, device="cpu")
    _on_device(copy)
    assert copy.dtype == ember.float32 and copy.tolist() == src.tolist()
    copy[0, 0] = 9.0                                   # a copy: the source is untouched
    assert src[0, 0].item() == 1.5
    _same(ember.tensor([[1, -2], [300, 4]], dtype=ember.int32), cast)
    assert host.device.type == "cpu" and host.tolist() == src.tolist()
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = torch.tensor(torch.tensor([[1.5, -2.7], [300.0, 4.0]]), dtype=torch.int32)
    assert cast.tolist() == ref.tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int16"])
def test_linspace_on_cuda_is_the_cpu_kernel(cuda_device, dtype):
    dt = getattr(ember, dtype)
    for start, end, steps in ((-3.3, 7.1, 11), (0.1, 1.0, 50), (5, -20, 8), (2.0, 2.0, 3)):
        _pair(lambda d: ember.linspace(start, end, steps, dtype=dt, device=d), cuda_device)
    torch = pytest.importorskip("torch")
    ref = torch.linspace(0.1, 1.0, 50, dtype=getattr(torch, dtype))
    out = ember.linspace(0.1, 1.0, 50, dtype=dt, device=cuda_device)
    np.testing.assert_array_equal(out.cpu().numpy(), ref.numpy())


def test_logspace_arange_range_full_eye_on_cuda(cuda_device):
    _pair(lambda d: ember.logspace(-2, 3, 9, base=2.0, device=d), cuda_device)
    _pair(lambda d: ember.arange(-1.5, 4.0, 0.5, dtype=ember.float64, device=d), cuda_device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cpu, cuda = _pair(lambda d: ember.range(0, 2, 0.25, device=d), cuda_device)
        assert cpu.tolist() == [i / 4 for i in range(9)]
        _pair(lambda d: ember.range(1.7, 6, dtype=ember.int64, device=d), cuda_device)
        out = ember.empty(0, device=cuda_device)
        ember.range(0, 3, out=out)
        _same(ember.tensor([0.0, 1.0, 2.0, 3.0]), out)
    _pair(lambda d: ember.full((2, 3), 7, dtype=ember.int16, device=d), cuda_device)
    _pair(lambda d: ember.eye(3, 5, dtype=ember.float64, device=d), cuda_device)


def test_triangle_indices_on_cuda(cuda_device):
    cpu, _ = _pair(lambda d: ember.tril_indices(4, 3, -1, device=d), cuda_device)
    assert cpu.tolist() == [[1, 2, 2, 3, 3, 3], [0, 0, 1, 0, 1, 2]]
    _pair(lambda d: ember.triu_indices(3, 5, 1, dtype=ember.int32, device=d), cuda_device)


# --- as_strided's backward --------------------------------------------------------------------------------------

def test_as_strided_overlapping_backward_on_cuda(cuda_device):
    def run(d):
        x = ember.arange(6.0, dtype=ember.float64, device=d).requires_grad_()
        y = x.as_strided((3, 3), (1, 1), 1)            # overlapping windows
        (y * ember.arange(1.0, 10.0, dtype=ember.float64, device=d).reshape(3, 3)).sum().backward()
        return x.grad
    cpu, _ = _pair(run, cuda_device)
    torch = pytest.importorskip("torch")
    x = torch.arange(6.0, dtype=torch.float64, requires_grad=True)
    (x.as_strided((3, 3), (1, 1), 1) * torch.arange(1.0, 10.0, dtype=torch.float64).reshape(3, 3)).sum().backward()
    assert cpu.tolist() == x.grad.tolist()


def test_as_strided_of_an_overlapping_input_backward_on_cuda(cuda_device):
    def run(d):
        x = ember.arange(4.0, dtype=ember.float64, device=d).requires_grad_()
        y = x.expand(3, 4).as_strided((2, 2), (1, 2))   # the input itself covers positions several times
        (y * 2).sum().backward()
        return x.grad
    _pair(run, cuda_device)


# --- pooling ------------------------------------------------------------------------------------------------------

def test_pooling_on_cuda(cuda_device):
    data = np.random.default_rng(3).standard_normal((2, 3, 7, 6))
    F = ember.nn.functional

    def maxpool(d):
        out, idx = F.max_pool2d(ember.tensor(data, device=d), 3, 2, 1, return_indices=True)
        return ember.cat([out.reshape(-1), idx.reshape(-1).double()])

    def avgpool(d, **kw):
        x = ember.tensor(data, device=d, requires_grad=True)
        out = F.avg_pool2d(x, 3, 2, 1, **kw)
        out.sum().backward()
        return ember.cat([out.detach().reshape(-1), x.grad.reshape(-1)])

    def adaptive(d):
        x = ember.tensor(data, device=d, requires_grad=True)
        out = F.adaptive_avg_pool2d(x, (4, 5))            # windows of unequal sizes: the averaging matrix
        (out * out).sum().backward()
        return ember.cat([out.detach().reshape(-1), x.grad.reshape(-1)])
    _pair(maxpool, cuda_device)
    _pair(lambda d: avgpool(d, count_include_pad=False), cuda_device)
    _pair(lambda d: avgpool(d, divisor_override=5), cuda_device)
    _pair(lambda d: avgpool(d, ceil_mode=True), cuda_device)
    cpu, _ = _pair(adaptive, cuda_device)
    torch = pytest.importorskip("torch")
    x = torch.tensor(data, requires_grad=True)
    out = torch.nn.functional.adaptive_avg_pool2d(x, (4, 5))
    (out * out).sum().backward()
    np.testing.assert_allclose(cpu.numpy(), torch.cat([out.detach().reshape(-1), x.grad.reshape(-1)]).numpy(),
                               rtol=1e-12)


# --- index_put(accumulate=True), setitem, masked fills and overlapping writes ------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                                   "bool", "complex64", "complex128"])
def test_backend_add_at_matches_numpy(cuda_device, dtype):
    ember.zeros(1, device=cuda_device)                  # starts the backend
    rng = np.random.default_rng(4)
    base = (rng.standard_normal((5, 3)) * 50).astype(dtype)
    if np.dtype(dtype).kind == "c":
        base = base + 1j * base[::-1]
    idx = (np.array([0, 4, 0, 0, 2]), np.array([1, 2, 1, 1, 0]))
    values = (rng.standard_normal(5) * 100).astype(dtype)
    expected = base.copy()
    cpu_backend.add_at(expected, idx, values)
    dev = backend.from_numpy(base)
    backend.add_at(dev, tuple(backend.from_numpy(i) for i in idx), backend.from_numpy(values))
    np.testing.assert_array_equal(backend.to_numpy(dev), expected)


@pytest.mark.parametrize("dtype", ["float64", "int64", "int8", "bool"])
def test_index_put_accumulate_on_cuda(cuda_device, dtype):
    dt = getattr(ember, dtype)

    def run(d):
        x = ember.zeros(4, 3, dtype=dt, device=d)
        idx = ember.tensor([0, 3, 0, 0], device=d), ember.tensor([1, 2, 1, 2], device=d)
        return x.index_put_(idx, ember.tensor([1, 2, 3, 4], device=d).to(dt), accumulate=True)
    cpu, _ = _pair(run, cuda_device)
    expected = [[0, 4, 4], [0, 0, 0], [0, 0, 0], [0, 0, 2]]
    assert cpu.tolist() == ([[bool(v) for v in row] for row in expected] if dtype == "bool" else expected)


def test_index_put_accumulate_into_an_expanded_tensor_on_cuda(cuda_device):
    def run(d):
        x = ember.zeros(1, dtype=ember.float64, device=d).expand(4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            x.index_put_((ember.tensor([0, 2, 2], device=d),), ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64,
                                                                             device=d), accumulate=True)
        return x.contiguous()
    cpu, _ = _pair(run, cuda_device)
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, dtype=torch.float64).expand(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x.index_put_((torch.tensor([0, 2, 2]),), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), accumulate=True)
    assert cpu.tolist() == x.tolist()


def test_setitem_with_index_tensors_on_cuda(cuda_device):
    def run(d):
        x = ember.arange(12.0, device=d).reshape(3, 4)
        x[ember.tensor([2, 0], device=d), ember.tensor([1, 3], device=d)] = ember.tensor([-1.0, -2.0], device=d)
        x[ember.tensor([True, False, True], device=d)] += 100
        x[True] *= 2                                 # a Python bool index: a device 0-d bool array
        x[[1, 1]] = ember.tensor(7.0, device=d)       # a host list index, copied to the device
        x[x > 215] = 0
        return x
    cpu, _ = _pair(run, cuda_device)
    assert cpu.tolist() == [[200.0, 202.0, 204.0, 196.0], [7.0, 7.0, 7.0, 7.0], [0.0, 198.0, 0.0, 0.0]]


def test_masked_fill_into_an_expanded_tensor_on_cuda(cuda_device):
    def run(d):
        x = ember.zeros(3, 1, device=d).expand(3, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            x.masked_fill_(ember.tensor([True, False, True], device=d)[:, None], 5.0)
        return x.contiguous()
    cpu, _ = _pair(run, cuda_device)
    assert cpu[:, 0].tolist() == [5.0, 0.0, 5.0]


def test_serial_overlapping_writes_on_cuda(cuda_device):
    """The serial writers of overlapping in-place ops (Note [overlapping operands]) run on device arrays."""
    from ember.ops.inplace import _sequential_masked_scatter, _sequential_write

    def add(d):
        x = ember.arange(9.0, device=d).reshape(3, 3)
        _sequential_write(x[:, 1], x[0], "add", alpha=2)    # x[0, 1] is written first, then read
        _sequential_write(x[2], 1.5, "multiply")
        return x

    def copy(d):
        x = ember.arange(6.0, device=d)
        _sequential_write(x[1:], x[:-1], None)
        return x

    def masked_scatter(d):
        x = ember.arange(6.0, device=d)
        _sequential_masked_scatter(x[1:4], ember.tensor([True, False, True], device=d)[None].expand(1, 3)[0],
                                   x[:3])
        return x
    cpu, _ = _pair(add, cuda_device)
    assert cpu.tolist() == [[0.0, 1.0, 2.0], [3.0, 6.0, 5.0], [9.0, 16.5, 12.0]]
    cpu, _ = _pair(copy, cuda_device)
    assert cpu.tolist() == [0.0] * 6
    cpu, _ = _pair(masked_scatter, cuda_device)
    assert cpu.tolist() == [0.0, 0.0, 2.0, 0.0, 4.0, 5.0]     # x[3] reads x[1] as written


@pytest.mark.parametrize("dtype", ["float64", "int64", "int16", "bool"])
def test_accumulating_index_ops_on_cuda(cuda_device, dtype):
    """index_put(accumulate=True), its gradient and put_(accumulate=True) add through the backend's add_at."""
    dt = getattr(ember, dtype)

    def run(d):
        x = ember.ones(3, 4, dtype=dt, device=d)
        rows, cols = ember.tensor([2, 0, 2], device=d), ember.tensor([1, 3, 1], device=d)
        values = ember.tensor([5, 6, 7], device=d).to(dt)
        put = x.index_put((rows, cols), values, accumulate=True)
        flat = x.clone().put_(ember.tensor([1, 1, 11], device=d), values, accumulate=True)
        return ember.cat([put.reshape(-1), flat.reshape(-1)])
    cpu, _ = _pair(run, cuda_device)
    if dtype == "int64":
        assert cpu.tolist() == [1, 1, 1, 7, 1, 1, 1, 1, 1, 13, 1, 1] + [1, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8]


def test_index_gradient_accumulates_on_cuda(cuda_device):
    def run(d):
        x = ember.arange(5.0, dtype=ember.float64, device=d).requires_grad_()
        (x[ember.tensor([0, 3, 0, 0], device=d)] * ember.tensor([1.0, 2.0, 3.0, 4.0], dtype=ember.float64,
                                                                 device=d)).sum().backward()
        return x.grad
    cpu, _ = _pair(run, cuda_device)
    assert cpu.tolist() == [8.0, 0.0, 0.0, 2.0, 0.0]
