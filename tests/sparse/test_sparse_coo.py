"""Sparse COO tensors against PyTorch: construction and its checks, conversions, coalesce, indices/values,
products (sparse @ dense, dense @ sparse, sparse @ sparse, torch.sparse.mm/addmm, spmm), sums, softmax,
elementwise ops, transposes, select, in-place ops, the errors dense ops raise, printing, checkpoints both ways
and pickling. Gradients and the GCN example: test_sparse_coo_autograd.py."""
import copy
import io
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember.serialization import CheckpointError

from sparse_helpers import D, INDICES, VALUES, assert_same, quiet_torch, raises_like, sample  # noqa: F401


# --- construction --------------------------------------------------------------------------------------------

CONSTRUCTIONS = {
    "explicit size": lambda m: m.sparse_coo_tensor(m.tensor(INDICES), m.tensor(VALUES), (3, 4)),
    "inferred size": lambda m: m.sparse_coo_tensor(m.tensor(INDICES), m.tensor(VALUES)),
    "lists": lambda m: m.sparse_coo_tensor(INDICES, VALUES, [3, 3]),
    "int values": lambda m: m.sparse_coo_tensor(INDICES, [1, 2, 3, 4, 5]),
    "dtype": lambda m: m.sparse_coo_tensor(INDICES, [1, 2, 3, 4, 5], dtype=m.float64),
    "hybrid": lambda m: m.sparse_coo_tensor([[0, 2, 0]], m.arange(6.).reshape(3, 2), (4, 2)),
    "empty": lambda m: m.sparse_coo_tensor(m.zeros(2, 0, dtype=m.long), m.zeros(0), (3, 3)),
    "empty inferred": lambda m: m.sparse_coo_tensor(m.zeros(2, 0, dtype=m.long), m.zeros(0)),
    "numpy": lambda m: m.sparse_coo_tensor(np.array(INDICES), np.array(VALUES), (3, 3)),
    "int32 indices": lambda m: m.sparse_coo_tensor(m.tensor(INDICES, dtype=m.int32), m.tensor(VALUES), (3, 3)),
    "bool": lambda m: m.sparse_coo_tensor([[0, 1]], [True, False], (3,)),
    "complex": lambda m: m.sparse_coo_tensor([[0, 1]], [1 + 1j, 2], (3,)),
    "0-d": lambda m: m.sparse_coo_tensor(m.zeros(0, 1, dtype=m.long), m.tensor([5.0]), ()),
    "one entry": lambda m: m.sparse_coo_tensor([[1]], [2.0], (3,)),
    "size as Size": lambda m: m.sparse_coo_tensor([[0, 1]], [1.0, 2.0], m.Size([3])),
    "size only": lambda m: m.sparse_coo_tensor((2, 3)),
    "size only, dtype": lambda m: m.sparse_coo_tensor([2, 3], dtype=m.float64),
}


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_construction_matches_torch(torch, name):
    ours, theirs = CONSTRUCTIONS[name](ember), CONSTRUCTIONS[name](torch)
    assert_same(ours, theirs)
    assert ours.layout is ember.sparse_coo and ours.is_sparse
    np.testing.assert_array_equal(ours._indices().numpy(), theirs._indices().numpy())
    np.testing.assert_array_equal(ours._values().numpy(), theirs._values().numpy())
    assert ours._indices().dtype is ember.int64
    assert (ours._nnz(), ours.sparse_dim(), ours.dense_dim(), ours.is_coalesced()) == \
        (theirs._nnz(), theirs.sparse_dim(), theirs.dense_dim(), theirs.is_coalesced())


def test_construction_values_without_torch():
    s, _ = sample(ember)
    assert s.shape == (3, 3) and s.dtype is ember.float32 and s.layout is ember.sparse_coo
    assert s._nnz() == 5 and s.sparse_dim() == 2 and s.dense_dim() == 0 and not s.is_coalesced()
    assert s.to_dense().tolist() == [[0.0, 0.0, 9.0], [4.0, 0.0, 5.0], [0.0, 7.0, 0.0]]
    assert not ember.ones(2).is_sparse and ember.ones(2).layout is ember.strided and not ember.ones(2).is_sparse_csr


CONSTRUCTION_ERRORS = {
    "nnz mismatch": lambda m: m.sparse_coo_tensor([[0, 1, 1]], [1.0, 2.0], (2,)),
    "size too short": lambda m: m.sparse_coo_tensor([[0, 1], [0, 1]], [1.0, 2.0], (2,)),
    "size too long": lambda m: m.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (2, 3)),
    "dense size": lambda m: m.sparse_coo_tensor([[0, 1]], m.ones(2, 3), (2, 4)),
    "negative inferred": lambda m: m.sparse_coo_tensor([[0, -1]], [1.0, 2.0]),
    "negative size": lambda m: m.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (-1,)),
    "int requires grad": lambda m: m.sparse_coo_tensor([[0, 1]], [1, 2], requires_grad=True),
    "out of range, checked": lambda m: m.sparse_coo_tensor([[0, 5]], [1.0, 2.0], (2,), check_invariants=True),
    "negative, checked": lambda m: m.sparse_coo_tensor([[0, -1]], [1.0, 2.0], (2,), check_invariants=True),
    "false coalesced claim": lambda m: m.sparse_coo_tensor([[1, 0]], [1.0, 2.0], (2,), is_coalesced=True,
                                                           check_invariants=True),
}


@pytest.mark.parametrize("name", CONSTRUCTION_ERRORS)
def test_construction_errors_match_torch(torch, name):
    raises_like(torch, CONSTRUCTION_ERRORS[name], exact=name != "int requires grad")


def test_indices_are_always_checked(torch):
    # PyTorch checks them only under check_invariants (unchecked, to_dense reads out of bounds); ember raises
    # PyTorch's check_invariants error always
    for indices in ([[0, 5]], [[0, -1]]):
        with pytest.raises(RuntimeError) as theirs:
            torch.sparse_coo_tensor(indices, [1.0, 2.0], (2,), check_invariants=True)
        with pytest.raises(RuntimeError, match="index") as ours:
            ember.sparse_coo_tensor(indices, [1.0, 2.0], (2,))
        assert str(ours.value) == str(theirs.value)


def test_coalesced_flag_and_invariants_switch(torch):
    for m in (ember, torch):
        assert not m.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (2,)).is_coalesced()
        assert m.sparse_coo_tensor([[0]], [1.0], (2,)).is_coalesced()                 # one entry: coalesced
        assert m.sparse_coo_tensor([[1, 0]], [1.0, 2.0], (2,), is_coalesced=True).is_coalesced()   # trusted
        assert not m.sparse.check_sparse_tensor_invariants.is_enabled()
        with m.sparse.check_sparse_tensor_invariants():
            assert m.sparse.check_sparse_tensor_invariants.is_enabled()
            with pytest.raises(RuntimeError, match="cannot set is_coalesced"):
                m.sparse_coo_tensor([[1, 0]], [1.0, 2.0], (2,), is_coalesced=True)
        assert not m.sparse.check_sparse_tensor_invariants.is_enabled()


def test_legacy_sparse_constructors_match_torch(torch):
    """torch.sparse.FloatTensor(indices, values, size), as older GCN code (pygcn) builds its adjacency."""
    for fn in (lambda m: m.sparse.FloatTensor(m.LongTensor(INDICES), m.FloatTensor(VALUES), m.Size([3, 3])),
               lambda m: m.sparse.DoubleTensor(2, 3), lambda m: m.sparse.FloatTensor()):
        with pytest.warns(UserWarning, match="is deprecated") as record:
            ours = fn(ember)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            expected = fn(torch)
        if theirs:          # PyTorch warns once per process: another test (tests/programs/gcn.py) may have had it
            assert str(theirs[0].message).startswith(str(record[0].message))     # PyTorch adds where it was raised
        assert repr(ours) == repr(expected).replace("torch.", "ember.")
    s = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3))
    assert isinstance(s, ember.sparse.FloatTensor) and not isinstance(s, ember.sparse.DoubleTensor)
    assert not isinstance(ember.ones(2), ember.sparse.FloatTensor)
    assert ember.sparse.FloatTensor.layout is ember.sparse_coo and ember.sparse.LongTensor.dtype is ember.int64


def test_requires_grad_makes_a_sparse_leaf(torch):
    for m in (ember, torch):
        s = m.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
        assert s.is_leaf and s.requires_grad and s.grad_fn is None
        v = m.tensor(VALUES, requires_grad=True)
        t = m.sparse_coo_tensor(INDICES, v, (3, 3), requires_grad=True)
        assert t.grad_fn.name() == "SparseCooTensorWithDimsAndTensorsBackward0"


# --- conversions, coalesce, indices and values ---------------------------------------------------------------

DENSE = [[0.0, 1.0, 0.0], [2.0, 0.0, 3.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("args", [(), (1,), (2,)])
def test_to_sparse_matches_torch(torch, args):
    ours, theirs = ember.tensor(DENSE).to_sparse(*args), torch.tensor(DENSE).to_sparse(*args)
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours._indices().numpy(), theirs._indices().numpy())
    np.testing.assert_array_equal(ours._values().numpy(), theirs._values().numpy())
    assert ours.is_coalesced() and theirs.is_coalesced()


def test_to_sparse_variants(torch):
    for fn in (lambda m: m.tensor(DENSE).to_sparse_coo(), lambda m: m.tensor(DENSE).to_sparse(layout=m.sparse_coo),
               lambda m: m.tensor(DENSE).to_sparse(sparse_dim=1), lambda m: m.tensor(5.0).to_sparse(),
               lambda m: m.tensor(0.0).to_sparse(), lambda m: m.tensor([[float("nan"), 0.0]]).to_sparse()):
        assert_same(fn(ember), fn(torch))
    assert_same(ember.tensor(DENSE).to_sparse(layout=ember.strided), torch.tensor(DENSE))
    s = ember.tensor(DENSE).to_sparse()
    assert s.to_sparse() is s and ember.tensor(DENSE).to_dense().is_sparse is False
    d = ember.tensor(DENSE)
    assert d.to_dense() is d
    raises_like(torch, lambda m: m.tensor(DENSE).to_sparse(0))
    raises_like(torch, lambda m: m.tensor(DENSE).to_sparse(3))
    raises_like(torch, lambda m: m.tensor(DENSE).to_sparse().to_sparse(1))
    raises_like(torch, lambda m: m.tensor(DENSE).to_sparse().to_dense(m.float64))


def test_coalesce_matches_torch(torch):
    ours, theirs = sample(ember)[0].coalesce(), sample(torch)[0].coalesce()
    assert ours.is_coalesced() and ours.coalesce() is ours
    np.testing.assert_array_equal(ours.indices().numpy(), theirs.indices().numpy())
    np.testing.assert_array_equal(ours.values().numpy(), theirs.values().numpy())
    assert ours.indices().tolist() == [[0, 1, 1, 2], [2, 0, 2, 1]] and ours.values().tolist() == [9, 4, 5, 7]


def test_indices_and_values_need_a_coalesced_tensor(torch):
    raises_like(torch, lambda m: sample(m)[0].indices())
    raises_like(torch, lambda m: sample(m)[0].values())
    s = sample(ember)[0]
    assert s._indices().tolist() == INDICES and s._values().tolist() == VALUES
    c = s.coalesce()
    assert c.values()._is_view() and c.values()._base is c and not c.indices().requires_grad


@pytest.mark.parametrize("method", ["is_coalesced", "coalesce", "indices", "values", "_indices", "_values",
                                    "_nnz"])
def test_sparse_methods_on_a_strided_tensor_match_torch(torch, method):
    raises_like(torch, lambda m: getattr(m.ones(2, 3), method)(), exact=not method.startswith("_"))


def test_sparse_and_dense_dims_of_a_strided_tensor():
    assert ember.ones(2, 3).sparse_dim() == 0 and ember.ones(2, 3).dense_dim() == 2


def test_sparse_mask_matches_torch(torch):
    def fn(m, self_sparse=False):
        mask = m.sparse_coo_tensor([[1, 0, 1], [2, 0, 2]], [1.0, 1.0, 1.0], (2, 3))
        x = m.arange(6.).reshape(2, 3)
        return (x.to_sparse() if self_sparse else x).sparse_mask(mask.coalesce())
    assert_same(fn(ember), fn(torch))
    assert_same(fn(ember, True), fn(torch, True))
    raises_like(torch, lambda m: m.ones(2, 3).sparse_mask(m.sparse_coo_tensor([[0]], [1.0], (2, 4)).coalesce()))


# --- products ------------------------------------------------------------------------------------------------

PRODUCTS = {                                             # d: D in the sparse operand's dtype
    "mm": lambda m, s, d: m.mm(s, d),
    "matmul": lambda m, s, d: s @ d,
    "dense @ sparse": lambda m, s, d: d.t() @ s,
    "mm dense sparse": lambda m, s, d: m.mm(d.t(), s),
    "mv": lambda m, s, d: m.mv(s, d[:, 0]),
    "sparse @ vector": lambda m, s, d: s @ d[:, 1],
    "vector @ sparse": lambda m, s, d: d[:, 1] @ s,
    "spmm": lambda m, s, d: m.spmm(s, d),
    "sparse.mm": lambda m, s, d: m.sparse.mm(s, d),
    "sparse.mm dense first": lambda m, s, d: m.sparse.mm(d.t(), s),
    "sparse @ sparse": lambda m, s, d: s @ s.t(),
    "mm sparse sparse": lambda m, s, d: m.mm(s, s),
    "sparse.mm sparse sparse": lambda m, s, d: m.sparse.mm(s, s.t()),
    "sparse.addmm": lambda m, s, d: m.sparse.addmm(d.new_ones(3, 2), s, d, beta=2.0, alpha=3.0),
    "sparse.addmm broadcast": lambda m, s, d: m.sparse.addmm(d.new_ones(1, 2), s, d),
    "sparse.addmm beta 0 ignores nan": lambda m, s, d: m.sparse.addmm(d.new_full((3, 2), float("nan")), s, d, beta=0),
    "addmm": lambda m, s, d: m.addmm(d.new_ones(3, 2), s, d, beta=2.0, alpha=3.0),
    "linear": lambda m, s, d: m.nn.functional.linear(d.t(), s),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", PRODUCTS)
def test_products_match_torch(torch, name, dtype):
    ours, theirs = ((PRODUCTS[name](m, sample(m, getattr(m, dtype))[0], m.tensor(D, dtype=getattr(m, dtype))))
                    for m in (ember, torch))
    assert_same(ours, theirs)


def test_product_values_without_torch():
    s = sample(ember)[0]
    assert (s @ ember.tensor(D, dtype=ember.float32)).tolist() == [[36.0, 45.0], [20.0, 29.0], [14.0, 21.0]]
    assert (ember.ones(3) @ s).tolist() == [4.0, 7.0, 14.0]
    assert ember.mm(s, s).is_sparse and not ember.mm(s, ember.eye(3)).is_sparse


def test_integer_products_match_torch(torch):
    fn = lambda m: m.mm(m.sparse_coo_tensor([[0, 1], [0, 1]], [2, 3], (2, 2)), m.ones(2, 2, dtype=m.long))  # noqa: E731
    assert_same(fn(ember), fn(torch))


def test_product_errors_match_torch(torch):
    raises_like(torch, lambda m: m.sparse.mm(sample(m)[0], m.ones(4, 2)))
    raises_like(torch, lambda m: m.sparse.mm(sample(m)[0], m.ones(3, 2, dtype=m.float64)))
    with pytest.raises(RuntimeError):
        ember.mm(sample(ember)[0], ember.ones(4, 2))
    with pytest.raises(RuntimeError):                 # hybrid tensors have no matrix product (PyTorch: addmm)
        ember.mm(ember.sparse_coo_tensor([[0, 2]], ember.ones(2, 2), (3, 2)), ember.ones(2, 2))


# --- elementwise, transposes, sums, softmax, select ------------------------------------------------------------

ELEMENTWISE = {
    "sparse + sparse": lambda m, s: s + s,
    "add alpha": lambda m, s: m.add(s, s, alpha=2),
    "sparse - sparse": lambda m, s: s - s * 0.5,
    "sparse * scalar": lambda m, s: s * 2,
    "scalar * sparse": lambda m, s: 2 * s,
    "sparse / scalar": lambda m, s: s / 2,
    "int / scalar": lambda m, s: s.long() / 2,
    "int * float": lambda m, s: s.long() * 2.5,
    "neg": lambda m, s: -s,
    "sparse * sparse": lambda m, s: s * s,
    "sparse * dense": lambda m, s: s * m.arange(9.).reshape(3, 3),
    "dense * sparse": lambda m, s: m.arange(9.).reshape(3, 3) * s,
    "sparse * broadcast dense": lambda m, s: s * m.arange(3.),
    "dense + sparse": lambda m, s: m.ones(3, 3) + s,
    "mixed dtypes": lambda m, s: s + s.double(),
    "t": lambda m, s: s.t(),
    "T": lambda m, s: s.T,
    "transpose": lambda m, s: s.transpose(0, 1),
    "permute": lambda m, s: s.permute(1, 0),
    "unsqueeze": lambda m, s: s.unsqueeze(1),
    "clone": lambda m, s: s.clone(),
    "double": lambda m, s: s.double(),
    "to dtype": lambda m, s: s.to(m.float64),
    "detach": lambda m, s: s.detach(),
    "sum": lambda m, s: s.sum(),
    "sum dim": lambda m, s: s.sum(0),
    "sum all dims": lambda m, s: s.sum((0, 1)),
    "sum keepdim": lambda m, s: s.sum(1, keepdim=True),
    "sum dtype": lambda m, s: s.sum(dtype=m.float64),
    "sparse.sum": lambda m, s: m.sparse.sum(s),
    "sparse.sum dim": lambda m, s: m.sparse.sum(s, 1),
    "sparse.sum dims": lambda m, s: m.sparse.sum(s, (0, 1)),
    "sparse.sum dtype": lambda m, s: m.sparse.sum(s, 0, dtype=m.float64),
    "softmax": lambda m, s: m.sparse.softmax(s, 1),
    "softmax dim 0": lambda m, s: m.sparse.softmax(s, 0),
    "log_softmax": lambda m, s: m.sparse.log_softmax(s, -1),
    "softmax dtype": lambda m, s: m.sparse.softmax(s, 1, dtype=m.float64),
    "select": lambda m, s: s[1],
    "select column": lambda m, s: s[:, 2],
    "select element": lambda m, s: s[0, 2],
    "select dim": lambda m, s: s.select(1, 0),
    "zero_": lambda m, s: s.clone().zero_(),
    "mul_": lambda m, s: s.clone().mul_(2),
    "add_": lambda m, s: s.clone().add_(s),
    "div_": lambda m, s: s.clone().div_(4),
    "copy_": lambda m, s: s.clone().copy_(s.coalesce() * 3),
    "contiguous flag": lambda m, s: m.tensor(s.is_contiguous()),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_and_reductions_match_torch(torch, name):
    ours, theirs = ELEMENTWISE[name](ember, sample(ember)[0]), ELEMENTWISE[name](torch, sample(torch)[0])
    assert_same(ours, theirs, rtol=1e-5)


HYBRID = {
    "to_dense": lambda m, h: h.to_dense(),
    "coalesce": lambda m, h: h.coalesce(),
    "sum dense dim": lambda m, h: m.sparse.sum(h, 2),
    "sum sparse dims": lambda m, h: m.sparse.sum(h, (0, 1)),
    "sum mixed": lambda m, h: m.sparse.sum(h, (1, 2)),
    "softmax dense dim": lambda m, h: m.sparse.softmax(h, 2),
    "softmax sparse dim": lambda m, h: m.sparse.softmax(h, 1),
    "times dense": lambda m, h: h * m.arange(12.).reshape(2, 3, 2),
    "select dense dim": lambda m, h: h[:, :, 1],
    "unsqueeze dense": lambda m, h: h.unsqueeze(3),
}


@pytest.mark.parametrize("name", HYBRID)
def test_hybrid_tensors_match_torch(torch, name):
    def hybrid(m):
        return m.sparse_coo_tensor([[0, 1, 1, 0], [2, 0, 2, 2]], m.arange(8.).reshape(4, 2), (2, 3, 2))
    assert_same(HYBRID[name](ember, hybrid(ember)), HYBRID[name](torch, hybrid(torch)), rtol=1e-5)


def test_transpose_errors_match_torch(torch):
    def hybrid(m):
        return m.sparse_coo_tensor([[0, 1]], m.ones(2, 2, 1), (2, 2, 1))
    raises_like(torch, lambda m: hybrid(m).transpose(1, 2))
    raises_like(torch, lambda m: hybrid(m).permute(1, 0, 2))
    raises_like(torch, lambda m: m.sparse_coo_tensor([[0, 1], [0, 1]], m.ones(2, 2), (2, 2, 2)).t(), exact=False)


def test_sparse_plus_dense_is_the_strided_sum():
    # PyTorch refuses add(sparse, dense); ember computes it, as the autograd engine needs to when a sparse and a
    # strided gradient meet (documented in ember/sparse/_coo_array.py)
    s, d = sample(ember)[0], ember.arange(9.).reshape(3, 3)
    assert not (s + d).is_sparse and (s + d).tolist() == (d + s).tolist() == (d + s.to_dense()).tolist()


def test_elementwise_errors_match_torch(torch):
    raises_like(torch, lambda m: sample(m)[0] + 1)
    raises_like(torch, lambda m: sample(m)[0] / sample(m)[0].to_dense())
    raises_like(torch, lambda m: 1 / sample(m)[0], exact=False)
    raises_like(torch, lambda m: sample(m)[0] + m.sparse_coo_tensor([[0], [0]], [1.0], (3, 4)))
    raises_like(torch, lambda m: -m.sparse_coo_tensor([[0]], [True], (2,)))
    raises_like(torch, lambda m: m.sparse.softmax(m.sparse_coo_tensor([[0]], [1], (2,)), 0))
    raises_like(torch, lambda m: m.sparse.log_softmax(m.ones(2), 0), exact=False)
    raises_like(torch, lambda m: m.sparse.sum(m.ones(2), 0))


# --- what PyTorch refuses on a sparse tensor ------------------------------------------------------------------

REFUSED = {
    "view": (lambda m, s: s.view(9), True),
    "reshape": (lambda m, s: s.reshape(9), False),
    "flatten": (lambda m, s: s.flatten(), False),
    "slice": (lambda m, s: s[0:1], True),
    "tensor index": (lambda m, s: s[m.tensor([0])], True),
    "numpy": (lambda m, s: s.numpy(), True),
    "np.asarray": (lambda m, s: np.asarray(s), True),
    "tolist": (lambda m, s: s.tolist(), True),
    "item": (lambda m, s: s.item(), True),
    "data_ptr": (lambda m, s: s.data_ptr(), True),
    "nbytes": (lambda m, s: s.nbytes, True),
    "untyped_storage": (lambda m, s: s.untyped_storage(), True),
    "expand": (lambda m, s: s.expand(2, 3, 3), True),
    "exp": (lambda m, s: s.exp(), True),
    "cos": (lambda m, s: m.cos(s), True),
    "eq": (lambda m, s: s == s, True),
    "max": (lambda m, s: s.max(), True),
    "fill_": (lambda m, s: s.fill_(1.0), True),
    "copy_ dense into sparse": (lambda m, s: s.copy_(m.ones(3, 3)), True),
    "copy_ sparse into dense": (lambda m, s: m.ones(3, 3).copy_(s), True),
    "sparse + dense scalar": (lambda m, s: s - 1, True),
    "bool": (lambda m, s: bool(s), True),
}


@pytest.mark.parametrize("name", REFUSED)
def test_dense_ops_raise_torch_errors(torch, name):
    fn, exact = REFUSED[name]
    raises_like(torch, lambda m: fn(m, sample(m)[0]), exact=exact)


# --- printing ------------------------------------------------------------------------------------------------

PRINTED = {
    "default": lambda m: m.sparse_coo_tensor(INDICES, VALUES, (3, 3)),
    "float64": lambda m: m.sparse_coo_tensor(INDICES, VALUES, (3, 3), dtype=m.float64),
    "int": lambda m: m.sparse_coo_tensor(INDICES, [1, 2, 3, 4, 5]),
    "requires_grad": lambda m: m.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True),
    "grad_fn": lambda m: m.sparse_coo_tensor(INDICES, m.tensor(VALUES, requires_grad=True), (3, 3)).coalesce(),
    "empty": lambda m: m.sparse_coo_tensor(m.zeros(2, 0, dtype=m.long), m.zeros(0), (3, 3)),
    "hybrid": lambda m: m.eye(3).to_sparse(1),
    "0-d": lambda m: m.tensor(5.0).to_sparse(),
    "summarized": lambda m: (m.arange(2000.).reshape(40, 50) % 7).to_sparse(),
    "float16": lambda m: m.sparse_coo_tensor(INDICES, VALUES, (3, 3), dtype=m.float16),
    "scientific": lambda m: m.sparse_coo_tensor(INDICES, [1e-8, 4.0, 5e6, 6.0, 7.0], (3, 3)),
}


@pytest.mark.parametrize("name", PRINTED)
def test_printing_matches_torch(torch, name):
    assert repr(PRINTED[name](ember)) == repr(PRINTED[name](torch)).replace("torch.", "ember.")


def test_printing_without_torch():
    assert repr(ember.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (3,))) == (
        "tensor(indices=tensor([[0, 2]]),\n       values=tensor([1., 2.]),\n       size=(3,), nnz=2, "
        "layout=ember.sparse_coo)")


# --- checkpoints and pickling --------------------------------------------------------------------------------

def _saved(m, obj):
    buffer = io.BytesIO()
    m.save(obj, buffer)
    return buffer.getvalue()


def _checkpoint(m):
    s = m.sparse_coo_tensor(INDICES, VALUES, (3, 3))
    return {"s": s, "c": s.coalesce(), "h": m.eye(3).to_sparse(1).double(),
            "e": m.sparse_coo_tensor(m.zeros(2, 0, dtype=m.long), m.zeros(0), (2, 2)), "p": m.nn.Parameter(s.coalesce())}


def _check_loaded(loaded, original):
    for key in original:
        assert_same(loaded[key], original[key])
        assert loaded[key].is_coalesced() == original[key].is_coalesced()
        np.testing.assert_array_equal(loaded[key]._indices().numpy(), original[key]._indices().numpy())
    assert type(loaded["p"]).__name__ == "Parameter" and loaded["p"].requires_grad and loaded["p"].is_sparse


def test_ember_checkpoint_loads_in_torch(torch):
    original = _checkpoint(torch)
    data = _saved(ember, _checkpoint(ember))
    _check_loaded(torch.load(io.BytesIO(data), weights_only=True), original)
    _check_loaded(torch.load(io.BytesIO(data), weights_only=False), original)


@pytest.mark.parametrize("weights_only", [True, False])
def test_torch_checkpoint_loads_in_ember(torch, weights_only):
    data = _saved(torch, _checkpoint(torch))
    loaded = ember.load(io.BytesIO(data), weights_only=weights_only)
    _check_loaded(loaded, _checkpoint(ember))


def test_checkpoint_round_trip_without_torch():
    s = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    loaded = ember.load(io.BytesIO(_saved(ember, {"s": s})))["s"]
    assert loaded.is_sparse and not loaded.requires_grad          # PyTorch does not save it for sparse tensors
    assert loaded._indices().tolist() == INDICES and loaded._values().tolist() == VALUES


@pytest.mark.parametrize("indices", [[[0, 7]], [[0, -1]]])
def test_load_refuses_indices_out_of_range_as_torch_does(torch, indices):
    """A file whose sparse tensor has indices outside its size (PyTorch writes one when its checks are off) is
    refused before any kernel reads it, as torch.load refuses it."""
    data = _saved(torch, {"s": torch.sparse_coo_tensor(indices, [1.0, 2.0], (3,), check_invariants=False)})
    with torch.sparse.check_sparse_tensor_invariants(), pytest.raises(RuntimeError) as theirs:
        torch.load(io.BytesIO(data), weights_only=True)  # unchecked, PyTorch would load it and read out of bounds
    assert "index" in str(theirs.value)
    for weights_only in (True, False):
        with pytest.raises(CheckpointError, match="index"):
            ember.load(io.BytesIO(data), weights_only=weights_only)


@pytest.mark.parametrize("values_shape, size", [((2,), (3, 3)), ((3,), (3,)), ((2, 2), (3, 3))])
def test_load_refuses_inconsistent_sparse_tensors(values_shape, size):
    from ember._tensor import _make
    from ember.sparse._coo_array import SparseCOOArray
    broken = _make(SparseCOOArray(np.array([[0, 1]]), np.ones(values_shape, np.float32), size))   # no checks
    data = _saved(ember, {"s": broken})
    with pytest.raises(CheckpointError, match="sparse"):
        ember.load(io.BytesIO(data))


def test_pickle_and_deepcopy_keep_a_sparse_tensor():
    s = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    for copied in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert copied.is_sparse and copied.requires_grad and not copied.is_coalesced()
        assert copied._indices().tolist() == INDICES and copied._values().tolist() == VALUES


def test_namespace():
    assert set(ember.sparse.__all__) <= set(dir(ember.sparse))
    assert ember.sparse.mm is ember.sparse.mm and callable(ember.sparse.sum)
    assert ember.spmm is not None and not hasattr(ember.Tensor, "spmm")
    with pytest.raises(AttributeError):
        ember.sparse.no_such_function  # noqa: B018
