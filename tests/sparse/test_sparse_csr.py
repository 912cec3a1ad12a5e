"""Sparse CSR (and CSC) tensors against PyTorch: construction and its invariant checks, conversions from and to
strided and COO tensors, crow_indices/col_indices/values/_nnz, products with strided tensors (mm, matmul, mv, addmm,
torch.sparse.mm) and their gradients, t() giving CSC, the unary ops PyTorch runs on them, the errors of the ops
it refuses, printing, and checkpoints both ways (PyTorch's _rebuild_sparse_tensor format) and pickling."""
import copy
import io
import pickle

import numpy as np
import pytest

import ember
from ember.serialization import CheckpointError

from sparse_helpers import check_like_torch, quiet_torch  # noqa: F401

CROW, COL, VALUES = [0, 2, 3, 4], [0, 2, 1, 2], [1.0, 2.0, 3.0, 4.0]


def csr(m, dtype=None, requires_grad=False):
    return m.sparse_csr_tensor(CROW, COL, m.tensor(VALUES, dtype=dtype or m.float32), (3, 3),
                               requires_grad=requires_grad)


def dense(m, dtype=None):
    return m.arange(6.0, dtype=dtype or m.float32).reshape(3, 2)


CONSTRUCTIONS = {
    "explicit size": lambda m: csr(m),
    "inferred size": lambda m: m.sparse_csr_tensor(CROW, COL, VALUES),
    "wider size": lambda m: m.sparse_csr_tensor(CROW, COL, VALUES, (3, 5)),
    "int32 indices": lambda m: m.sparse_csr_tensor(m.tensor(CROW, dtype=m.int32), m.tensor(COL, dtype=m.int32), VALUES,
                                                   (3, 3)),
    "mixed index dtypes": lambda m: m.sparse_csr_tensor(m.tensor(CROW, dtype=m.int32), m.tensor(COL), VALUES, (3, 3)),
    "dtype": lambda m: m.sparse_csr_tensor(CROW, COL, [1, 2, 3, 4], dtype=m.float64),
    "int values": lambda m: m.sparse_csr_tensor(CROW, COL, [1, 2, 3, 4]),
    "hybrid": lambda m: m.sparse_csr_tensor([0, 1, 2], [0, 1], m.ones(2, 2), (2, 2, 2)),
    "empty": lambda m: m.sparse_csr_tensor(m.zeros(4, dtype=m.long), m.zeros(0, dtype=m.long), m.zeros(0), (3, 3)),
    "requires_grad": lambda m: csr(m, requires_grad=True),
    "csc": lambda m: m.sparse_csc_tensor(CROW, COL, VALUES, (3, 3)),
    "compressed csr": lambda m: m.sparse_compressed_tensor(CROW, COL, VALUES, (3, 3), layout=m.sparse_csr),
    "compressed csc": lambda m: m.sparse_compressed_tensor(CROW, COL, VALUES, (3, 3), layout=m.sparse_csc),
    "compressed strided": lambda m: m.sparse_compressed_tensor(CROW, COL, VALUES, (3, 3), layout=m.strided),
    "int requires grad": lambda m: m.sparse_csr_tensor(CROW, COL, VALUES, (3, 3), dtype=m.long, requires_grad=True),
}


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_construction_matches_torch(torch, name):
    check_like_torch(torch, CONSTRUCTIONS[name])


INVALID = {
    "crow length": ([0, 2, 3], COL, VALUES, (3, 3)),
    "crow start": ([1, 2, 3, 4], COL, VALUES, (3, 3)),
    "col out of range": (CROW, [0, 5, 1, 2], VALUES, (3, 3)),
    "negative col": (CROW, [0, -1, 1, 2], VALUES, (3, 3)),
    "unsorted cols": (CROW, [2, 0, 1, 2], VALUES, (3, 3)),
    "repeated cols": (CROW, [0, 0, 1, 2], VALUES, (3, 3)),
}


@pytest.mark.parametrize("name", INVALID)
def test_invariants_are_always_checked_with_torch_messages(torch, name):
    """PyTorch checks them under check_invariants (unchecked, it reads out of bounds); ember always does."""
    crow, col, values, size = INVALID[name]
    with pytest.raises(RuntimeError) as theirs:
        torch.sparse_csr_tensor(crow, col, values, size, check_invariants=True)
    with pytest.raises(RuntimeError) as ours:
        ember.sparse_csr_tensor(crow, col, values, size)
    assert str(ours.value) == str(theirs.value)


PRODUCTS = {
    "mm": lambda m, d: m.mm(csr(m, d), dense(m, d)),
    "matmul": lambda m, d: csr(m, d) @ dense(m, d),
    "mv": lambda m, d: m.mv(csr(m, d), dense(m, d)[:, 0]),
    "matmul vector": lambda m, d: csr(m, d) @ dense(m, d)[:, 1],
    "addmm": lambda m, d: m.addmm(m.ones(3, 2, dtype=d), csr(m, d), dense(m, d), beta=2, alpha=3),
    "addmm broadcast": lambda m, d: m.addmm(m.ones(2, dtype=d), csr(m, d), dense(m, d)),
    "sparse.mm": lambda m, d: m.sparse.mm(csr(m, d), dense(m, d)),
    "sparse.addmm": lambda m, d: m.sparse.addmm(m.ones(3, 2, dtype=d), csr(m, d), dense(m, d)),
    "dense @ csr": lambda m, d: dense(m, d).t() @ csr(m, d),
    "csr @ csr": lambda m, d: csr(m, d) @ csr(m, d),
    "csc @ dense": lambda m, d: csr(m, d).t() @ dense(m, d),
    "linear": lambda m, d: m.nn.functional.linear(dense(m, d).t(), csr(m, d)),
    "dtype mismatch": lambda m, d: csr(m, d) @ dense(m, m.float64 if d is m.float32 else m.float32),
    "shape mismatch": lambda m, d: csr(m, d) @ m.ones(4, 2, dtype=d),
    "batched": lambda m, d: csr(m, d) @ m.ones(2, 3, 2, dtype=d),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", PRODUCTS)
def test_products_match_torch(torch, name, dtype):
    check_like_torch(torch, lambda m: PRODUCTS[name](m, getattr(m, dtype)))


OPS = {
    "to_dense": lambda m: csr(m).to_dense(),
    "to_dense dtype": lambda m: csr(m).to_dense(m.float64),
    "to_sparse": lambda m: csr(m).to_sparse(),
    "to_sparse_coo": lambda m: csr(m).to_sparse_coo(),
    "to_sparse(2)": lambda m: csr(m).to_sparse(2),
    "to_sparse(1)": lambda m: csr(m).to_sparse(1),
    "to_sparse layout coo": lambda m: csr(m).to_sparse(layout=m.sparse_coo),
    "to_sparse layout strided": lambda m: csr(m).to_sparse(layout=m.strided),
    "csc to_sparse": lambda m: csr(m).t().to_sparse(),
    "dense to_sparse_csr": lambda m: dense(m).to_sparse_csr(),
    "dense to_sparse layout": lambda m: dense(m).to_sparse(layout=m.sparse_csr),
    "coo to_sparse_csr": lambda m: m.sparse_coo_tensor([[1, 0, 1], [0, 0, 0]], [1.0, 2.0, 3.0], (2, 2)).to_sparse_csr(),
    "csr to_sparse_csr": lambda m: csr(m).to_sparse_csr(),
    "csc to_sparse_csr": lambda m: csr(m).t().to_sparse_csr(),
    "dense to_sparse_csc": lambda m: dense(m).to_sparse_csc(),
    "csr to_sparse_csc": lambda m: csr(m).to_sparse_csc(),
    "hybrid to_sparse_csr": lambda m: m.arange(12.0).reshape(3, 2, 2).to_sparse_csr(dense_dim=1),
    "crow_indices": lambda m: csr(m).crow_indices(),
    "col_indices": lambda m: csr(m).col_indices(),
    "values": lambda m: csr(m).values(),
    "ccol_indices": lambda m: csr(m).t().ccol_indices(),
    "row_indices": lambda m: csr(m).t().row_indices(),
    "ccol_indices of csr": lambda m: csr(m).ccol_indices(),
    "crow_indices of csc": lambda m: csr(m).t().crow_indices(),
    "crow_indices of coo": lambda m: csr(m).to_sparse().crow_indices(),
    "crow_indices of strided": lambda m: m.ones(2, 2).crow_indices(),
    "col_indices of strided": lambda m: m.ones(2, 2).col_indices(),
    "values of strided": lambda m: m.ones(2, 2).values(),
    "_nnz, sparse_dim, dense_dim": lambda m: m.tensor([csr(m)._nnz(), csr(m).sparse_dim(), csr(m).dense_dim()]),
    "indices": lambda m: csr(m).indices(),
    "coalesce": lambda m: csr(m).coalesce(),
    "is_coalesced": lambda m: csr(m).is_coalesced(),
    "clone": lambda m: csr(m).clone(),
    "detach": lambda m: csr(m).detach(),
    "double": lambda m: csr(m).double(),
    "to int": lambda m: csr(m).to(m.int32),
    "neg": lambda m: -csr(m),
    "mul scalar": lambda m: csr(m) * 2,
    "dense + csr": lambda m: m.ones(3, 3) + csr(m),
    "csr + dense": lambda m: csr(m) + m.ones(3, 3),
    "csr + csr": lambda m: csr(m) + csr(m),
    "add alpha": lambda m: m.add(m.ones(3, 3), csr(m), alpha=2),
    "dense.add_(csr)": lambda m: m.ones(3, 3).add_(csr(m)),
    "csr + scalar": lambda m: csr(m) + 1,
    "broadcast + csr": lambda m: m.ones(3) + csr(m),
    "csr - csr": lambda m: csr(m) - csr(m),
    "csr * csr": lambda m: csr(m) * csr(m),
    "csr * dense": lambda m: csr(m) * m.arange(9.0).reshape(3, 3),
    "dense * csr": lambda m: m.arange(9.0).reshape(3, 3) * csr(m),
    "csr * broadcast": lambda m: csr(m) * m.ones(3),
    "div": lambda m: csr(m) / 2,
    "sin": lambda m: m.sin(csr(m)),
    "abs": lambda m: m.abs(-csr(m)),
    "relu": lambda m: m.relu(-csr(m)),
    "cos": lambda m: m.cos(csr(m)),
    "exp": lambda m: m.exp(csr(m)),
    "eq": lambda m: csr(m) == csr(m),
    "sum": lambda m: csr(m).sum(),
    "sum dim": lambda m: csr(m).sum(0),
    "select": lambda m: csr(m)[1],
    "select element": lambda m: csr(m)[0, 2],
    "t": lambda m: csr(m).t(),
    "t t": lambda m: csr(m).t().t(),
    "transpose": lambda m: csr(m).transpose(0, 1),
    "mT": lambda m: csr(m).mT,
    "zero_": lambda m: csr(m).zero_(),
    "mul_": lambda m: csr(m).mul_(2),
    "neg_": lambda m: csr(m).neg_(),
    "sin_": lambda m: csr(m).sin_(),
    "copy_": lambda m: csr(m).copy_(csr(m) * 3),
    "zeros_like": lambda m: m.zeros_like(csr(m)),
    "zeros sparse_csr": lambda m: m.zeros(2, 3, layout=m.sparse_csr),
    "zeros_like of strided in sparse_csr": lambda m: m.zeros_like(m.ones(2, 2), layout=m.sparse_csr),
    "reshape": lambda m: csr(m).reshape(9),
    "numpy": lambda m: csr(m).numpy(),
    "np.asarray": lambda m: np.asarray(csr(m)),
    "tolist": lambda m: csr(m).tolist(),
    "data_ptr": lambda m: csr(m).data_ptr(),
    "untyped_storage": lambda m: csr(m).untyped_storage(),
    "is_contiguous": lambda m: csr(m).is_contiguous(),
    "contiguous": lambda m: csr(m).contiguous(),
    "bool": lambda m: bool(csr(m)),
    "nbytes": lambda m: m.tensor(csr(m).nbytes),
    "len": lambda m: m.tensor(len(csr(m))),
    "max": lambda m: csr(m).max(),
    "unsqueeze": lambda m: csr(m).unsqueeze(0),
    "layout flags": lambda m: m.tensor([csr(m).is_sparse, csr(m).is_sparse_csr, csr(m).layout == m.sparse_csr,
                                        csr(m).t().is_sparse_csr]),
}


@pytest.mark.parametrize("name", OPS)
def test_ops_match_torch(torch, name):
    check_like_torch(torch, OPS[name])


def test_values_without_torch():
    c = csr(ember)
    assert c.layout is ember.sparse_csr and c.is_sparse_csr and not c.is_sparse and c._nnz() == 4
    assert c.to_dense().tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]]
    assert (c @ ember.ones(3, 2)).tolist() == [[3.0, 3.0], [3.0, 3.0], [4.0, 4.0]]
    assert c.t().layout is ember.sparse_csc and c.t().ccol_indices().tolist() == CROW
    assert c.to_sparse()._indices().tolist() == [[0, 0, 1, 2], [0, 2, 1, 2]]
    back = ember.tensor([[0.0, 5.0], [6.0, 0.0]]).to_sparse_csr()
    assert back.crow_indices().tolist() == [0, 1, 2] and back.col_indices().tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="col_indices < ncols"):
        ember.sparse_csr_tensor([0, 1], [4], [1.0], (1, 2))


# --- gradients --------------------------------------------------------------------------------------------------

GRADIENTS = {
    "mm": lambda m, c, d: m.mm(c, d),
    "matmul": lambda m, c, d: c @ d,
    "addmm": lambda m, c, d: m.addmm(m.ones(3, 2, dtype=m.float64), c, d, beta=2, alpha=3),
    "sparse.mm": lambda m, c, d: m.sparse.mm(c, d),
    "sparse.addmm": lambda m, c, d: m.sparse.addmm(m.ones(3, 2, dtype=m.float64), c, d),
    "mv": lambda m, c, d: m.mv(c, d[:, 0]),
    "dense @ csr": lambda m, c, d: d.t() @ c,
    "csc @ dense": lambda m, c, d: c.t() @ d,
    "to_dense": lambda m, c, d: c.to_dense(),
    "values": lambda m, c, d: c.values(),
    "to_sparse": lambda m, c, d: c.to_sparse().to_dense(),
    "detached csr": lambda m, c, d: c.detach() @ d,
}


@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients_match_torch(torch, name):
    """The gradient of the strided operand, and of the values the CSR tensor was built from."""
    results = []
    for m in (ember, torch):
        values = m.tensor(VALUES, dtype=m.float64, requires_grad=True)
        d = dense(m, m.float64).requires_grad_()
        c = m.sparse_csr_tensor(CROW, COL, values, (3, 3))
        out = GRADIENTS[name](m, c, d)
        out.pow(2).sum().backward()
        results.append((None if values.grad is None else values.grad.tolist(),
                        None if d.grad is None else d.grad.tolist()))
    assert results[0] == results[1]


def test_leaf_gradients_match_torch(torch):
    results = []
    for m in (ember, torch):
        c = csr(m, m.float64, requires_grad=True)
        m.mm(c, dense(m, m.float64)).sum().backward()              # the gradient of a CSR operand is strided
        x = m.eye(3, requires_grad=True)
        r = x.to_sparse_csr()
        (r.to_dense() * m.arange(9.0).reshape(3, 3)).sum().backward()
        results.append((c.grad.layout == m.strided, c.grad.tolist(), type(r.grad_fn).__name__, x.grad.tolist()))
    assert results[0] == results[1]


def test_gradcheck():
    values = ember.tensor(VALUES, dtype=ember.float64, requires_grad=True)
    d = dense(ember, ember.float64).requires_grad_()

    def product(v, d):
        return ember.sparse_csr_tensor(CROW, COL, v, (3, 3)) @ d

    def to_dense(v):
        return ember.sparse_csr_tensor(CROW, COL, v, (3, 3)).t().to_dense() * 2
    assert ember.autograd.gradcheck(product, (values, d))
    assert ember.autograd.gradcheck(to_dense, (values,))
    nonzero = (d.detach() + 1).requires_grad_()           # (a zero element is no entry: its gradient is masked)
    assert ember.autograd.gradcheck(lambda d: d.to_sparse_csr().to_dense() * 3, (nonzero,))


# --- printing, checkpoints, pickling ------------------------------------------------------------------------------

PRINTED = {
    "default": lambda m: csr(m),
    "int32 indices": lambda m: m.sparse_csr_tensor(m.tensor(CROW, dtype=m.int32), m.tensor(COL, dtype=m.int32), VALUES),
    "csc": lambda m: csr(m).t(),
    "float64, requires_grad": lambda m: m.eye(3).to_sparse_csr().to(m.float64).requires_grad_(),
    "hybrid": lambda m: m.arange(12.0).reshape(3, 2, 2).to_sparse_csr(dense_dim=1),
    "empty": lambda m: m.sparse_csr_tensor(m.zeros(4, dtype=m.long), m.zeros(0, dtype=m.long), m.zeros(0), (3, 3)),
    "int": lambda m: m.sparse_csr_tensor([0, 1, 1], [0], [5], (2, 2)),
    "grad_fn": lambda m: m.sparse_csr_tensor([0, 1, 1], [0], m.tensor([5.0], requires_grad=True), (2, 2)),
    "summarized": lambda m: (m.arange(2000.0).reshape(40, 50) % 7).to_sparse_csr(),
    "zeros": lambda m: m.zeros(2, 3, layout=m.sparse_csr),
}


@pytest.mark.parametrize("name", PRINTED)
def test_printing_matches_torch(torch, name):
    assert repr(PRINTED[name](ember)) == repr(PRINTED[name](torch)).replace("torch.", "ember.")


def test_printing_without_torch():
    assert repr(csr(ember)) == ("tensor(crow_indices=tensor([0, 2, 3, 4]),\n       col_indices=tensor([0, 2, 1, 2]),\n"
                                "       values=tensor([1., 2., 3., 4.]), size=(3, 3), nnz=4,\n"
                                "       layout=ember.sparse_csr)")


def _saved(m, obj):
    buffer = io.BytesIO()
    m.save(obj, buffer)
    return buffer.getvalue()


def _checkpoint(m):
    c = csr(m)
    return {"c": c, "int32": m.sparse_csr_tensor(m.tensor([0, 1, 1], dtype=m.int32), m.tensor([1], dtype=m.int32),
                                                 [5.0], (2, 2)),
            "csc": c.t(), "hybrid": m.arange(12.0).reshape(3, 2, 2).to_sparse_csr(dense_dim=1).double(),
            "empty": m.zeros(2, 2, layout=m.sparse_csr), "p": m.nn.Parameter(c)}


def _check_loaded(loaded, original, m):
    for key, expected in original.items():
        got = loaded[key]
        assert str(got.layout).split(".")[-1] == str(expected.layout).split(".")[-1]
        assert np.array_equal(got.to_dense().detach().numpy(), expected.to_dense().detach().numpy())
        names = ("crow_indices", "col_indices") if "csr" in str(got.layout) else ("ccol_indices", "row_indices")
        for name in names:
            assert getattr(got, name)().tolist() == getattr(expected, name)().tolist()
            assert str(getattr(got, name)().dtype).split(".")[-1] == str(getattr(expected, name)().dtype).split(".")[-1]
    assert type(loaded["p"]).__name__ == "Parameter" and loaded["p"].requires_grad


@pytest.mark.parametrize("weights_only", [True, False])
def test_ember_checkpoint_loads_in_torch(torch, weights_only):
    loaded = torch.load(io.BytesIO(_saved(ember, _checkpoint(ember))), weights_only=weights_only)
    _check_loaded(loaded, _checkpoint(torch), torch)


@pytest.mark.parametrize("weights_only", [True, False])
def test_torch_checkpoint_loads_in_ember(torch, weights_only):
    loaded = ember.load(io.BytesIO(_saved(torch, _checkpoint(torch))), weights_only=weights_only)
    _check_loaded(loaded, _checkpoint(ember), ember)
    assert repr(loaded["c"]) == repr(csr(ember))


def test_checkpoint_round_trip_without_torch():
    loaded = ember.load(io.BytesIO(_saved(ember, {"c": csr(ember), "t": csr(ember).t()})))
    assert loaded["c"].layout is ember.sparse_csr and loaded["t"].layout is ember.sparse_csc
    assert loaded["c"].to_dense().tolist() == csr(ember).to_dense().tolist()


def test_load_refuses_an_invalid_compressed_tensor(torch):
    """PyTorch writes a CSR tensor with a column out of range when its checks are off; loading refuses it."""
    bad = torch.sparse_csr_tensor([0, 1, 2], [0, 7], [1.0, 2.0], (2, 2), check_invariants=False)
    data = _saved(torch, {"c": bad})
    for weights_only in (True, False):
        with pytest.raises(CheckpointError, match="col_indices"):
            ember.load(io.BytesIO(data), weights_only=weights_only)


def test_pickle_and_deepcopy_keep_a_csr_tensor():
    c = csr(ember, requires_grad=True)
    for copied in (pickle.loads(pickle.dumps(c)), copy.deepcopy(c)):
        assert copied.layout is ember.sparse_csr and copied.requires_grad
        assert copied.crow_indices().tolist() == CROW and copied.values().tolist() == VALUES
