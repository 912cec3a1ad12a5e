"""Sparse COO tensors on cuda (issue 14): each case runs on the cpu and on cuda from the same inputs and must give the
same results (values, gradients of the values and of the dense operand), and the cuda results must live on cuda."""
import numpy as np
import pytest

import ember

_I = [[0, 1, 1, 2, 0], [2, 0, 2, 1, 2]]          # an uncoalesced pattern: (0, 2) twice
_V = [1.5, -2.0, 3.0, 0.5, 4.0]
_D = np.arange(12, dtype=np.float64).reshape(3, 4) / 7 - 0.5
_X = np.arange(12, dtype=np.float64).reshape(4, 3) / 5 - 1.0


def _sparse(device, requires_grad=False):
    values = ember.tensor(_V, dtype=ember.float64, device=device, requires_grad=requires_grad)
    return ember.sparse_coo_tensor(_I, values, (3, 3)), values


def _host(t):
    if t.is_sparse:
        t = t.to_dense()
    assert t.device.type in ("cpu", "cuda")
    return t.detach().cpu().numpy()


def _dense(device, array, requires_grad=False):
    return ember.tensor(array, device=device, requires_grad=requires_grad)


CASES = {
    "to_dense": lambda d: _sparse(d)[0].to_dense(),
    "coalesce": lambda d: _sparse(d)[0].coalesce(),
    "indices": lambda d: _sparse(d)[0].coalesce().indices(),
    "values": lambda d: _sparse(d)[0].coalesce().values(),
    "to_sparse": lambda d: _dense(d, _D).to_sparse(),
    "to_sparse_dims": lambda d: _dense(d, _D).to_sparse(1),
    "sin": lambda d: _sparse(d)[0].sin(),
    "abs": lambda d: _sparse(d)[0].abs(),
    "relu": lambda d: ember.relu(_sparse(d)[0]),
    "neg": lambda d: -_sparse(d)[0],
    "mul_scalar": lambda d: _sparse(d)[0] * 2.5,
    "div_scalar": lambda d: _sparse(d)[0] / 4,
    "add_sparse": lambda d: _sparse(d)[0] + _sparse(d)[0].t(),
    "mul_sparse": lambda d: _sparse(d)[0] * _sparse(d)[0].t(),
    "dense_plus_sparse": lambda d: _dense(d, _D[:, :3]) + _sparse(d)[0],
    "transpose": lambda d: _sparse(d)[0].t(),
    "sparse_mm_dense": lambda d: _sparse(d)[0] @ _dense(d, _X[:3]),
    "dense_mm_sparse": lambda d: _dense(d, _X[:, :3]) @ _sparse(d)[0],
    "sparse_mm_sparse": lambda d: ember.sparse.mm(_sparse(d)[0], _sparse(d)[0]),
    "torch_mm": lambda d: ember.mm(_sparse(d)[0], _dense(d, _X[:3])),
    "sparse_addmm": lambda d: ember.sparse.addmm(_dense(d, _D[:, :3]), _sparse(d)[0], _dense(d, _X[:3]),
                                                 beta=0.5, alpha=2.0),
    "sum": lambda d: _sparse(d)[0].sum(),
    "sparse_sum_dim": lambda d: ember.sparse.sum(_sparse(d)[0], 1),
    "sparse_sum_all_dims": lambda d: ember.sparse.sum(_sparse(d)[0], (0, 1)),
    "softmax": lambda d: ember.sparse.softmax(_sparse(d)[0], 1),
    "log_softmax": lambda d: ember.sparse.log_softmax(_sparse(d)[0], 0),
    "cat": lambda d: ember.cat([_sparse(d)[0], _sparse(d)[0]], 1),
    "stack": lambda d: ember.stack([_sparse(d)[0], _sparse(d)[0]]),
    "select": lambda d: _sparse(d)[0][1],
    "zeros_like": lambda d: ember.zeros_like(_sparse(d)[0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sparse_op_on_cuda_matches_cpu(cuda_device, name):
    expected, got = CASES[name]("cpu"), CASES[name](cuda_device)
    assert got.device.type == "cuda" and got.layout == expected.layout
    assert got.dtype is expected.dtype and tuple(got.shape) == tuple(expected.shape)
    if got.is_sparse:
        assert got.is_coalesced() == expected.is_coalesced()
        assert got._values().device.type == "cuda" and got._indices().device.type == "cuda"
    np.testing.assert_allclose(_host(got), _host(expected), rtol=1e-9, atol=0)


GRAD_CASES = {
    "to_dense": lambda s, m: (s.to_dense() * m[:, :3]).sum(),
    "sparse_mm": lambda s, m: ember.sparse.mm(s, m).pow(2).sum(),
    "torch_mm": lambda s, m: (s @ m).sin().sum(),
    "dense_mm_sparse": lambda s, m: (m.t() @ s).sum(),
    "addmm": lambda s, m: ember.sparse.addmm(m[:3, :3], s, m, alpha=0.5).sum(),
    "sparse_sum": lambda s, m: ember.sparse.sum(s, 0).to_dense().pow(2).sum() + m.sum(),
    "softmax": lambda s, m: (ember.sparse.softmax(s, 1).to_dense() * m[:, :3]).sum(),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_sparse_gradients_on_cuda_match_cpu(cuda_device, name):
    grads = {}
    for device in ("cpu", cuda_device):
        s, values = _sparse(device, requires_grad=True)
        m = _dense(device, _X[:3], requires_grad=True)
        GRAD_CASES[name](s, m).backward()
        assert values.grad.device.type == device and m.grad.device.type == device
        grads[device] = _host(values.grad), _host(m.grad)
    for got, expected in zip(grads[cuda_device], grads["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_sparse_device_moves(cuda_device):
    s, _ = _sparse("cpu")
    for moved in (s.to(cuda_device), s.cuda(), ember.sparse_coo_tensor(_I, _V, (3, 3), device=cuda_device)):
        assert moved.is_sparse and moved.device.type == "cuda" and moved._array.values.__class__ is not np.ndarray
        back = moved.cpu()
        assert back.device.type == "cpu" and back._array.indices.__class__ is np.ndarray
        np.testing.assert_array_equal(back.to_dense().numpy(), s.to_dense().numpy())
    empty = ember.sparse_coo_tensor((2, 3), device=cuda_device)
    assert empty.device.type == "cuda" and empty._nnz() == 0 and tuple(empty.shape) == (2, 3)


def test_sparse_cuda_and_cpu_operands_raise(cuda_device):
    s = _sparse(cuda_device)[0]
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        s @ ember.tensor(_X[:3])
    with pytest.raises(RuntimeError, match=r"device of indices \(-1\) must match device of values \(0\)"):
        ember.sparse_coo_tensor(ember.tensor(_I), ember.tensor(_V, device=cuda_device), (3, 3))


def test_sparse_cuda_ops_keep_the_cpu_reference_values_without_torch(cuda_device):
    s = _sparse(cuda_device)[0]
    dense = np.zeros((3, 3))
    np.add.at(dense, tuple(np.array(_I)), _V)
    np.testing.assert_array_equal(s.to_dense().cpu().numpy(), dense)
    np.testing.assert_allclose((s @ _dense(cuda_device, _X[:3])).cpu().numpy(), dense @ _X[:3], rtol=1e-12)


# --- CSR/CSC, index_select, uncoalesced inputs ------------------------------------------------------------------

_CROW, _COL, _CV = [0, 2, 3, 4], [0, 2, 1, 2], [1.5, -2.0, 3.0, 0.5]
_DZ = _D.copy()
_DZ[0, 1] = _DZ[2, 2] = 0.0                       # a dense operand with zeros, for to_sparse_csr/csc


def _csr(device, requires_grad=False):
    values = ember.tensor(_CV, dtype=ember.float64, device=device, requires_grad=requires_grad)
    return ember.sparse_csr_tensor(_CROW, _COL, values, (3, 3)), values


def _csc(device):
    return ember.sparse_csc_tensor(ember.tensor(_CROW, device=device), ember.tensor(_COL, device=device),
                                   ember.tensor(_CV, dtype=ember.float64, device=device), (3, 3))


def _compressed_host(t):
    return t.to_dense().cpu().numpy() if t.layout in (ember.sparse_csr, ember.sparse_csc) else _host(t)


COMPRESSED_CASES = {
    "csr_tensor": lambda d: _csr(d)[0],
    "csc_tensor": lambda d: _csc(d),
    "csr_tensor_device_kwarg": lambda d: ember.sparse_csr_tensor(_CROW, _COL, _CV, (3, 3), device=d),
    "csr_to_device": lambda d: _csr("cpu")[0].to(d),
    "crow_indices": lambda d: _csr(d)[0].crow_indices(),
    "col_indices": lambda d: _csr(d)[0].col_indices(),
    "ccol_indices": lambda d: _csc(d).ccol_indices(),
    "row_indices": lambda d: _csc(d).row_indices(),
    "csr_values": lambda d: _csr(d)[0].values(),
    "csr_to_dense": lambda d: _csr(d)[0].to_dense(),
    "csc_to_dense": lambda d: _csc(d).to_dense(),
    "dense_to_csr": lambda d: _dense(d, _DZ).to_sparse_csr(),
    "dense_to_csc": lambda d: _dense(d, _DZ).to_sparse_csc(),
    "coo_to_csr": lambda d: _sparse(d)[0].to_sparse_csr(),
    "coo_to_csc": lambda d: _sparse(d)[0].to_sparse_csc(),
    "csr_to_coo": lambda d: _csr(d)[0].to_sparse(),
    "csr_to_csc": lambda d: _csr(d)[0].to_sparse_csc(),
    "csr_t": lambda d: _csr(d)[0].t(),
    "csr_sin": lambda d: _csr(d)[0].sin(),
    "csr_mul_scalar": lambda d: _csr(d)[0] * 2.5,
    "csr_sum": lambda d: _csr(d)[0].sum(),
    "csr_mm_dense": lambda d: _csr(d)[0] @ _dense(d, _X[:3]),
    "csc_mm_dense": lambda d: _csc(d) @ _dense(d, _X[:3]),
    "csr_addmm": lambda d: ember.addmm(_dense(d, _D[:, :3]), _csr(d)[0], _dense(d, _X[:3]), beta=0.5, alpha=2.0),
    "csr_sparse_addmm": lambda d: ember.sparse.addmm(_dense(d, _D[:, :3]), _csr(d)[0], _dense(d, _X[:3])),
    "csr_zeros": lambda d: ember.zeros(3, 3, layout=ember.sparse_csr, device=d),
    "coo_index_select_sparse_dim": lambda d: _sparse(d)[0].index_select(0, ember.tensor([2, 0, 2], device=d)),
    "coo_index_select_dense_dim": lambda d: ember.sparse_coo_tensor(
        [_I[0]], ember.tensor(np.arange(15.0).reshape(5, 3) / 4, device=d), (3, 3)).index_select(
            1, ember.tensor([1, 0], device=d)),
    "coo_addmm_uncoalesced": lambda d: ember.addmm(_dense(d, _D[:, :3]), _sparse(d)[0], _dense(d, _X[:3]), beta=0.5),
    "coo_bmm_uncoalesced": lambda d: ember.bmm(ember.stack([_sparse(d)[0], _sparse(d)[0].t()]),
                                               _dense(d, np.stack([_X[:3], _X[1:]]))),
}


@pytest.mark.parametrize("name", sorted(COMPRESSED_CASES))
def test_sparse_compressed_and_more_on_cuda_match_cpu(cuda_device, name):
    expected, got = COMPRESSED_CASES[name]("cpu"), COMPRESSED_CASES[name](cuda_device)
    assert got.device.type == "cuda" and got.layout == expected.layout
    assert got.dtype is expected.dtype and tuple(got.shape) == tuple(expected.shape)
    if got.layout in (ember.sparse_csr, ember.sparse_csc):
        arrays = (got._array.compressed, got._array.plain, got._array.values)
        assert not any(a.__class__ is np.ndarray for a in arrays)          # every part on the device
        for part in ("compressed", "plain", "values"):
            np.testing.assert_array_equal(ember.tensor(0, device=cuda_device)._backend().to_numpy(
                getattr(got._array, part)), getattr(expected._array, part))
    np.testing.assert_allclose(_compressed_host(got), _compressed_host(expected), rtol=1e-9, atol=0)


COMPRESSED_GRAD_CASES = {
    "csr_mm": lambda s, m: (s @ m).sin().sum(),
    "csr_addmm": lambda s, m: ember.addmm(m[:3, :3], s, m, alpha=0.5).pow(2).sum(),
    "csr_to_dense": lambda s, m: (s.to_dense() * m[:, :3]).sum(),
    "csr_values": lambda s, m: (s.values() * m[0, :4]).sum() + m.sum(),
}


@pytest.mark.parametrize("name", sorted(COMPRESSED_GRAD_CASES))
def test_sparse_compressed_gradients_on_cuda_match_cpu(cuda_device, name):
    m_host = np.concatenate([_X[:3], _X[:3, :1]], axis=1)
    grads = {}
    for device in ("cpu", cuda_device):
        s, values = _csr(device, requires_grad=True)
        m = _dense(device, m_host[:, :3] if name != "csr_values" else m_host, requires_grad=True)
        COMPRESSED_GRAD_CASES[name](s, m).backward()
        assert values.grad.device.type == device and m.grad.device.type == device
        grads[device] = _compressed_host(values.grad), _host(m.grad)
    for got, expected in zip(grads[cuda_device], grads["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_sparse_compressed_cuda_errors_and_values_without_torch(cuda_device):
    with pytest.raises(RuntimeError, match="Values and crow_indices need to be on the same device"):
        ember.sparse_csr_tensor(ember.tensor(_CROW), _COL, ember.tensor(_CV, device=cuda_device), (3, 3))
    with pytest.raises(RuntimeError, match="Values and row_indices need to be on the same device"):
        ember.sparse_csc_tensor(_CROW, ember.tensor(_COL), ember.tensor(_CV, device=cuda_device), (3, 3))
    s = _csr(cuda_device)[0]
    dense = np.array([[1.5, 0, -2.0], [0, 3.0, 0], [0, 0, 0.5]])
    np.testing.assert_array_equal(s.to_dense().cpu().numpy(), dense)
    np.testing.assert_allclose((s @ _dense(cuda_device, _X[:3])).cpu().numpy(), dense @ _X[:3], rtol=1e-12)
    back = s.cpu()
    assert back.device.type == "cpu" and back._array.compressed.__class__ is np.ndarray
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor"):
        _sparse(cuda_device)[0].indices()
    for device in ("cpu", cuda_device):                   # PyTorch has no index_select kernel for CSR
        with pytest.raises(NotImplementedError, match="aten::index_select' with arguments from the 'SparseCsr"):
            _csr(device)[0].index_select(0, ember.tensor([1], device=device))


def test_sparse_cuda_index_select_without_torch(cuda_device):
    s = _sparse(cuda_device)[0]
    picked = s.index_select(1, ember.tensor([2, 0, 2], device=cuda_device))
    assert picked.is_sparse and picked.device.type == "cuda" and picked._array.indices.__class__ is not np.ndarray
    dense = np.zeros((3, 3))
    np.add.at(dense, tuple(np.array(_I)), _V)
    np.testing.assert_array_equal(picked.to_dense().cpu().numpy(), dense[:, [2, 0, 2]])
    # its backward needs index_add_ on a sparse gradient, which PyTorch's sparse backends lack: both devices refuse
    for device in ("cpu", cuda_device):
        s, values = _sparse(device, requires_grad=True)
        with pytest.raises(NotImplementedError):
            s.index_select(0, ember.tensor([1], device=device)).to_dense().sum().backward()


SAVED = {"coo": lambda d: _sparse(d)[0], "coalesced": lambda d: _sparse(d)[0].coalesce(), "csr": lambda d: _csr(d)[0],
         "csc": lambda d: _csc(d)}


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("map_location", [None, "cpu", "cuda"])
@pytest.mark.parametrize("name", sorted(SAVED))
def test_sparse_cuda_save_load(cuda_device, name, map_location, weights_only):
    import io
    original = SAVED[name](cuda_device)
    buffer = io.BytesIO()
    ember.save({"t": original, "dense": ember.ones(2, device=cuda_device)}, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer, map_location=map_location, weights_only=weights_only)["t"]
    assert loaded.layout == original.layout and loaded.dtype is original.dtype
    assert loaded.device.type == ("cpu" if map_location == "cpu" else "cuda")
    parts = [getattr(loaded._array, p) for p in
             (("indices", "values") if loaded.is_sparse else ("compressed", "plain", "values"))]
    assert all((a.__class__ is np.ndarray) == (map_location == "cpu") for a in parts)
    if loaded.is_sparse:
        assert loaded.is_coalesced() == original.is_coalesced()
    np.testing.assert_array_equal(loaded.to_dense().cpu().numpy(), original.to_dense().cpu().numpy())


@pytest.mark.filterwarnings("ignore:Sparse CSC tensor support is in beta state")
@pytest.mark.parametrize("name", sorted(SAVED))
def test_sparse_cuda_checkpoint_loads_in_torch(cuda_device, name):
    torch = pytest.importorskip("torch")
    import io
    buffer = io.BytesIO()
    original = SAVED[name](cuda_device)
    ember.save(original, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, map_location="cpu", weights_only=True)        # saved with location cuda:0
    assert str(loaded.layout).split(".")[1] == str(original.layout).split(".")[1]
    np.testing.assert_array_equal(loaded.to_dense().numpy(), original.to_dense().cpu().numpy())
    buffer.seek(0)
    assert b"cuda:0" in buffer.getvalue()


@pytest.mark.parametrize("name", sorted(SAVED))
def test_sparse_cuda_pickle_round_trip(cuda_device, name):
    import copy
    import pickle
    original = SAVED[name](cuda_device)
    for copied in (pickle.loads(pickle.dumps(original)), copy.copy(original)):
        assert copied.device.type == "cuda" and copied.layout == original.layout
        np.testing.assert_array_equal(copied.to_dense().cpu().numpy(), original.to_dense().cpu().numpy())
    host = SAVED[name]("cpu")
    assert len(host.__reduce_ex__(2)[1]) == len(original.__reduce_ex__(2)[1]) - 1      # the device, for cuda only


def test_sparse_cuda_kernels_avoid_array_repeats(cuda_device, monkeypatch):
    """CuPy before 14 refuses a device array as repeat's counts (NumPy and the emulation accept one): the sparse
    kernels that expand counts (CSR rows, index_select, sparse @ sparse) must not rely on it."""
    xp = ember.tensor(0, device=cuda_device)._backend().xp
    numpy_repeat = xp.repeat

    def repeat(a, repeats, axis=None):
        if isinstance(repeats, xp.ndarray):
            raise ValueError("cupy.ndaray cannot be specified as `repeats` argument.")
        return numpy_repeat(a, repeats, axis)
    monkeypatch.setattr(xp, "repeat", repeat)
    for name in ("csr_to_dense", "coo_to_csr", "csc_mm_dense", "coo_index_select_sparse_dim"):
        np.testing.assert_array_equal(_compressed_host(COMPRESSED_CASES[name](cuda_device)),
                                      _compressed_host(COMPRESSED_CASES[name]("cpu")))
    np.testing.assert_array_equal(_host(CASES["sparse_mm_sparse"](cuda_device)), _host(CASES["sparse_mm_sparse"]("cpu")))


def test_sparse_cuda_bmm_and_addmm_gradients_of_uncoalesced_match_cpu(cuda_device):
    grads = {}
    for device in ("cpu", cuda_device):
        s, values = _sparse(device, requires_grad=True)                     # uncoalesced: (0, 2) twice
        m = _dense(device, np.stack([_X[:3], _X[1:]]), requires_grad=True)
        out = ember.bmm(ember.stack([s, s * 2.0]), m).sin().sum() + ember.addmm(m[0], s, m[1], beta=0.5).pow(2).sum()
        out.backward()
        assert values.grad.device.type == device and m.grad.device.type == device
        grads[device] = _host(values.grad), _host(m.grad)
    for got, expected in zip(grads[cuda_device], grads["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_gradients_cross_device_moves(cuda_device, layout):
    for start, end in (("cpu", cuda_device), (cuda_device, "cpu")):
        s, values = _csr(start, requires_grad=True) if layout == "csr" else _sparse(start, requires_grad=True)
        moved = s.to(end)
        assert moved.device.type == end and moved.layout == s.layout
        (moved @ _dense(end, _X[:3])).sum().backward()
        assert values.grad.device.type == start
        dense = s.detach().to_dense().cpu().numpy()
        expected = _X[:3].sum(axis=1)[np.nonzero(dense)[1]] if layout == "csr" else _X[:3].sum(axis=1)[_I[1]]
        np.testing.assert_allclose(_host(values.grad), expected, rtol=1e-12)
