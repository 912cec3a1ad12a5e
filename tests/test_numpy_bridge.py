"""The NumPy bridge both ways: from_numpy/as_tensor/numpy()/__array__ share memory; tensor() copies."""
import numpy as np
import pytest

import ember

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_,
          np.complex64, np.complex128]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_from_numpy_shares_memory_both_ways(dtype):
    a = np.zeros((2, 3), dtype=dtype)
    t = ember.from_numpy(a)
    assert t.dtype is ember._dtype.from_numpy(a.dtype) and t.shape == (2, 3)
    a[0, 1] = 1
    assert t[0, 1].item() == 1                               # NumPy write seen by the tensor
    t[1, 2] = 1
    assert a[1, 2] == 1                                      # tensor write seen by NumPy
    assert t.numpy() is a or np.shares_memory(t.numpy(), a)


def test_numpy_and_array_share_memory():
    t = ember.arange(6.0).reshape(2, 3)
    n = t.numpy()
    n[0, 0] = 42
    assert t[0, 0].item() == 42
    t.add_(1)
    assert n[0, 0] == 43
    view = np.asarray(t)
    assert np.shares_memory(view, n)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64 and not np.shares_memory(
        np.asarray(t, dtype=np.float64), n)
    assert not np.shares_memory(np.array(t), n)                  # np.array copies by default
    tv = t.t()
    assert np.shares_memory(tv.numpy(), n) and tv.numpy().shape == (3, 2)


def test_strided_arrays_keep_their_layout():
    a = np.arange(24.0).reshape(4, 6)[::2, 1::2]
    t = ember.from_numpy(a)
    assert t.stride() == (12, 2) and not t.is_contiguous()
    t.mul_(2)
    assert a[0, 0] == 2.0
    with pytest.raises(ValueError, match="negative"):
        ember.from_numpy(np.arange(5.0)[::-1])


def test_tensor_copies_and_as_tensor_shares():
    a = np.ones(3, dtype=np.float32)
    copied, shared = ember.tensor(a), ember.as_tensor(a)
    a[0] = 5
    assert copied[0].item() == 1 and shared[0].item() == 5
    assert ember.as_tensor(a, dtype=ember.float64)[0].item() == 5 and ember.asarray(a)[0].item() == 5
    assert ember.tensor(np.float64(2.5)).dtype is ember.float64            # NumPy scalars keep their dtype
    assert ember.tensor([np.int32(1), np.int32(2)]).dtype is ember.int32
    assert ember.tensor(np.array([1, 2], dtype=np.int16)).dtype is ember.int16


def test_numpy_refusals(torch):
    with pytest.raises(RuntimeError, match="detach"):
        ember.ones(2, requires_grad=True).numpy()
    assert ember.ones(2, requires_grad=True).numpy(force=True).tolist() == [1.0, 1.0]
    assert ember.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        ember.from_numpy(np.array(["a"]))
    with pytest.raises(TypeError):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError):
        ember.ones(2, dtype=ember.bfloat16).numpy()
    with pytest.raises(ValueError):
        ember.from_numpy(np.ones(2, dtype=">f4"))
    with pytest.raises(ValueError):
        torch.from_numpy(np.ones(2, dtype=">f4"))


def test_numpy_ufuncs_return_tensors(torch):
    t = ember.tensor([1.0, 2.0])
    for fn in (np.exp, np.sqrt, lambda x: np.add(np.ones(2), x)):
        e, w = fn(t), fn(torch.tensor([1.0, 2.0]))
        assert isinstance(e, ember.Tensor) and e.dtype.name == str(w.dtype).split(".")[1]
        assert np.allclose(e.numpy(), w.numpy())
    assert isinstance(np.ones(2) + t, ember.Tensor)


def test_bfloat16_round_trip():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    a = np.array([1.5, -2.25, 3.0], dtype=ml_dtypes.bfloat16)
    t = ember.from_numpy(a)
    assert t.dtype is ember.bfloat16 and t.tolist() == [1.5, -2.25, 3.0]
    assert t.numpy(force=True) is a


def test_zero_dim_and_empty():
    s = ember.from_numpy(np.array(3.5))
    assert s.shape == () and s.item() == 3.5
    e = ember.from_numpy(np.zeros((0, 4), dtype=np.int64))
    assert e.shape == (0, 4) and e.numel() == 0 and e.numpy().shape == (0, 4)
