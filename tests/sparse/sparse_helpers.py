"""Shared by the sparse tests: the sample tensor, comparisons with PyTorch (check_like_torch: the same result or the
same exception type), and PyTorch's warnings muted."""
import warnings

import numpy as np
import pytest

import ember

INDICES = [[0, 1, 1, 0, 2], [2, 0, 2, 2, 1]]          # (0, 2) twice: an uncoalesced tensor
VALUES = [3.0, 4.0, 5.0, 6.0, 7.0]
D = np.arange(6.0).reshape(3, 2)


@pytest.fixture(autouse=True)
def quiet_torch():
    # PyTorch warns once that its invariant checks are off; ember always checks the indices
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse invariant checks", UserWarning)
        warnings.filterwarnings("ignore", "Sparse CSR tensor support", UserWarning)
        yield


def sample(m, dtype=None, requires_grad=False):
    values = m.tensor(VALUES, dtype=dtype or m.float32, requires_grad=requires_grad)
    return m.sparse_coo_tensor(m.tensor(INDICES), values, (3, 3)), values


def dense_of(t):
    t = t.to_dense() if t.is_sparse else t
    return np.asarray(t.detach().numpy())


def assert_same(ours, theirs, rtol=1e-6, atol=1e-6):
    """Same layout, shape, dtype name and (dense) values (theirs: a torch tensor, or an ember one)."""
    assert ours.is_sparse == theirs.is_sparse
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(dense_of(ours), dense_of(theirs), rtol=rtol, atol=atol)


def raises_like(torch, fn, exact=True):
    """fn(ember) raises what fn(torch) raises: the same exception type and (exact=True) message."""
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(ember)
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)
    if exact:       # PyTorch's "Could not run 'aten::...'" goes on to list its dispatch keys: ours stops before
        assert str(theirs.value).startswith(str(ours.value)) and len(str(ours.value)) > 20, (ours.value, theirs.value)
    return ours.value


def summary(t):
    """What check_like_torch compares: layout, dtype, coalesced flag (COO) or index arrays (CSR/CSC), nnz and the
    dense values."""
    layout = str(t.layout).split(".")[-1]
    if layout in ("sparse_csr", "sparse_csc"):      # both index arrays (their dtype too) and the values
        names = ("crow_indices", "col_indices") if layout == "sparse_csr" else ("ccol_indices", "row_indices")
        compressed, plain = (getattr(t, name)() for name in names)
        return (layout, str(t.dtype).split(".")[-1], t._nnz(), str(compressed.dtype).split(".")[-1],
                compressed.tolist(), plain.tolist(), np.asarray(t.to_dense().detach().numpy(), dtype=complex))
    if not t.is_sparse:
        return ("strided", str(t.dtype).split(".")[-1], np.asarray(t.detach().numpy(), dtype=complex))
    return ("sparse_coo", str(t.dtype).split(".")[-1], t.is_coalesced(), t._nnz(),
            np.asarray(t.to_dense().detach().numpy(), dtype=complex))


def assert_summaries_equal(ours, theirs):
    assert len(ours) == len(theirs) and ours[:-1] == theirs[:-1], (ours[:-1], theirs[:-1])
    np.testing.assert_allclose(ours[-1], theirs[-1], rtol=1e-5, atol=1e-6, equal_nan=True)


def outcome(m, fn):
    try:
        return summary(fn(m))
    except Exception as error:                      # noqa: BLE001 - compared with torch's exception
        return type(error)


def check_like_torch(torch, fn):
    ours, theirs = outcome(ember, fn), outcome(torch, fn)
    if isinstance(theirs, type):
        assert ours is theirs or (isinstance(ours, type) and issubclass(ours, theirs)), (ours, theirs)
    else:
        assert not isinstance(ours, type), (ours, theirs)
        assert_summaries_equal(ours, theirs)
