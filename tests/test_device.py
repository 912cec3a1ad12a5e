"""Devices: device objects, the cuda stub without CuPy, mixing devices, and the meta backend (shapes
and dtypes only), checked against the CPU on every case of the op database."""
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import ember
from ember._backends import meta

sys.path.insert(0, str(Path(__file__).parent / "ops"))
from op_db import OP_CASES  # noqa: E402


def test_device_objects(torch):
    for spec in ["cpu", "cuda", "cuda:1", "meta"]:
        assert repr(ember.device(spec)) == repr(torch.device(spec)).replace("torch.", "")
        assert str(ember.device(spec)) == str(torch.device(spec))
    assert ember.device("cuda", 0) == ember.device("cuda:0") == "cuda:0"
    assert ember.device("cpu") is ember.device("cpu")
    assert ember.device(0) == ember.device("cuda:0")
    assert hash(ember.device("meta")) == hash(ember.device("meta"))
    assert ember.device("cuda:1").index == 1 and ember.device("cpu").index is None
    with pytest.raises(RuntimeError, match="tpu"):
        ember.device("tpu")
    with pytest.raises(RuntimeError):
        ember.device("cuda:x")
    assert ember.ones(2).device == ember.device("cpu") and ember.ones(2).is_cpu


def test_default_device():
    assert ember.get_default_device() == ember.device("cpu")
    ember.set_default_device("meta")
    try:
        assert ember.zeros(3).device.type == "meta" and ember.tensor([1, 2]).is_meta
    finally:
        ember.set_default_device(None)
    assert ember.zeros(3).device.type == "cpu"


def test_cuda_is_unavailable_without_cupy():
    if ember.cuda.is_available():
        pytest.skip("a GPU backend is present")
    assert ember.cuda.device_count() == 0
    for make in (lambda: ember.ones(2).to("cuda"), lambda: ember.ones(2).cuda(), lambda: ember.ones(2, device="cuda"),
                 lambda: ember.tensor([1.0], device="cuda:0")):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled") as info:
            make()                              # PyTorch's exception type on a CPU-only build
        assert "CuPy" in str(info.value)
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        ember.cuda.current_device()


def test_mixing_devices_names_both():
    a, b = ember.ones(2), ember.ones(2, device="meta")
    for fn in (lambda: a + b, lambda: ember.matmul(a, b), lambda: ember.cat([a, b]), lambda: ember.where(a > 0, a, b),
               lambda: a.add_(b)):
        with pytest.raises(RuntimeError) as info:
            fn()
        assert "cpu" in str(info.value) and "meta" in str(info.value), str(info.value)


# --- meta ---------------------------------------------------------------------------------------------

def test_meta_allocates_nothing():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        x = ember.empty(1000, 1000, device="meta")
        w = ember.randn(1000, 4000, device="meta") if False else ember.ones(1000, 4000, device="meta")
        y = (x @ w).tanh().sum(0)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert y.shape == (4000,) and y.dtype is ember.float32 and y.device.type == "meta"
    assert x.numel() == 10 ** 6 and x.nbytes == 4 * 10 ** 6         # logical sizes, like PyTorch's
    assert grown < 200_000, f"meta ops allocated {grown} bytes"


def test_meta_refuses_to_read_data():
    x = ember.ones(2, 3, device="meta")
    for read in (x.item, x.tolist, lambda: x.numpy(), lambda: np.asarray(x), lambda: x.cpu(), lambda: float(x[0, 0]),
                 lambda: bool(x.sum())):
        with pytest.raises((RuntimeError, NotImplementedError, TypeError)):
            read()
    assert repr(x) == "tensor(..., device='meta', size=(2, 3))"
    assert repr(ember.ones(2, dtype=ember.int64, device="meta")) == \
        "tensor(..., device='meta', size=(2,), dtype=ember.int64)"


def test_meta_repr_matches_torch(torch):
    for make in (lambda m: m.ones(2, 3, device="meta"), lambda m: m.zeros((), dtype=m.float64, device="meta"),
                 lambda m: m.ones(4, device="meta", requires_grad=True),
                 lambda m: m.ones(4, device="meta", requires_grad=True) * 2):
        assert repr(make(ember)) == repr(make(torch)).replace("torch.", "ember.")


def test_meta_autograd_gives_meta_gradients():
    w = ember.ones(5, 3, device="meta", requires_grad=True)
    x = ember.ones(4, 5, device="meta")
    loss = (x @ w).relu().sum()
    loss.backward()
    assert w.grad.shape == (5, 3) and w.grad.device.type == "meta"


def test_to_meta_and_views():
    x = ember.arange(12.0).reshape(3, 4).to("meta")
    assert x.is_meta and x.shape == (3, 4) and x.dtype is ember.float32
    assert x.t().shape == (4, 3) and x[1:, ::2].shape == (2, 2) and x[None, ..., 0].shape == (1, 3)
    assert x[ember.tensor([0, 2], device="meta")].shape == (2, 4)
    assert ember.empty_like(x).is_meta and ember.zeros_like(x).shape == (3, 4)
    y = x.clone()
    y[0] = 5.0
    y.add_(1)
    assert y._version == 2
    with pytest.raises(NotImplementedError):
        x[x > 0]                                  # boolean masks have data-dependent shapes
    with pytest.raises(NotImplementedError):
        x.nonzero()


def test_meta_module_sizes_a_model():
    nn = ember.nn
    tracemalloc.start()
    try:
        model = nn.Sequential(nn.Linear(4096, 4096, device="meta"), nn.Linear(4096, 1000, device="meta"))
        out = model(ember.ones(8, 4096, device="meta"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (8, 1000) and out.is_meta
    assert sum(p.numel() for p in model.parameters()) == 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert peak < 16_000_000, f"building a 21M-parameter model on meta peaked at {peak} bytes"


def _meta_params():
    """Every case but those whose output shape depends on values (PyTorch's meta refuses them too) or whose
    lambda or ember's implementation reads values on the host (OpCase.data_dependent)."""
    return [pytest.param(case, id=str(case), marks=case.marks("meta")) for case in OP_CASES if not case.data_dependent]


def _describe(result):
    if isinstance(result, ember.Tensor):
        return ("tensor", tuple(result.shape), result.dtype)
    if isinstance(result, (tuple, list)):
        return tuple(_describe(r) for r in result)
    return ("value", type(result).__name__)


@pytest.mark.parametrize("case", _meta_params())
def test_meta_matches_cpu_shapes_and_dtypes(case):
    """Every op runs on meta and gives the shapes and dtypes it gives on the CPU."""
    dtype = case.dtypes[0]
    for sample in case.samples():
        arrays = case.arrays(sample, dtype)
        try:
            want = _describe(case.fn(ember, *[ember.from_numpy(a.copy()) for a in arrays]))
        except Exception as error:
            with pytest.raises(type(error)):
                _on_meta(case, arrays)
            continue
        got = _describe(_on_meta(case, arrays))
        assert got == want, f"{case} on {sample}: meta {got}, cpu {want}"


def _on_meta(case, arrays):
    ember.set_default_device("meta")
    try:
        inputs = [ember.from_numpy(a.copy()).to("meta") for a in arrays]
        return case.fn(ember, *inputs)
    finally:
        ember.set_default_device(None)


def test_meta_backend_pieces():
    a = meta.new((1000, 1000), np.float32)
    assert a.shape == (1000, 1000) and a.strides == (0, 0) and a.dtype == np.float32
    assert (a + 1.5).dtype == np.float32 and (a + np.float64(1)).dtype == np.float64     # NumPy's own rules
    assert (a.astype(np.int8) * 2).dtype == np.int8
    assert np.concatenate([a, a], 1).shape == (1000, 2000)
    assert np.einsum("ij,jk->ik", a, meta.new((1000, 7), np.float64)).dtype == np.float64
    assert a.sum(axis=0, keepdims=True).shape == (1, 1000) and np.argmax(a, 1).dtype == np.intp
    assert meta.xp.zeros((2, 3), dtype=np.int16).dtype == np.int16
    with pytest.raises(NotImplementedError):
        meta.to_numpy(a)


def test_accelerator_queries_on_a_machine_without_one(monkeypatch):
    # the tutorials' device choice: `torch.accelerator.current_accelerator().type if ... else "cpu"`
    monkeypatch.setattr(ember.cuda, "is_available", lambda: False)
    monkeypatch.setattr(ember.cuda, "device_count", lambda: 0)
    acc = ember.accelerator
    device = acc.current_accelerator().type if acc.is_available() else "cpu"
    assert device == "cpu" and acc.current_accelerator(check_available=True) is None
    assert acc.device_count() == 0
    for call in (acc.current_device_index, acc.current_device_idx, acc.synchronize, acc.empty_cache,
                 lambda: acc.set_device_index(0)):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            call()
    with acc.device_index(None):
        pass


def test_accelerator_matches_torch_without_a_gpu(torch):
    if torch.accelerator.is_available() or ember.accelerator.is_available():
        pytest.skip("compares CPU-only answers")
    assert ember.accelerator.device_count() == torch.accelerator.device_count() == 0
    assert ember.accelerator.current_accelerator(check_available=True) is None
    assert torch.accelerator.current_accelerator(check_available=True) is None
