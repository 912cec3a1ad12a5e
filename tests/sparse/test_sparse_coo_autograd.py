"""Sparse COO gradients against PyTorch: w.r.t. the values of sparse_coo_tensor and the dense operands, sparse
leaves' (masked) .grad, first and second derivatives by finite differences, and a GCN layer trained as
graph-network code does it (a normalised adjacency D^-1/2 (A+I) D^-1/2 times the features)."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from sparse_helpers import D, INDICES, VALUES, assert_same, quiet_torch, sample  # noqa: F401


# --- gradients -----------------------------------------------------------------------------------------------

GRADIENTS = {
    "to_dense": lambda m, s, d: s.to_dense(),
    "sparse.mm": lambda m, s, d: m.sparse.mm(s, d),
    "mm": lambda m, s, d: m.mm(s, d),
    "matmul": lambda m, s, d: s @ d,
    "dense @ sparse": lambda m, s, d: d.t() @ s,
    "spmm": lambda m, s, d: m.spmm(s, d),
    "sparse @ sparse": lambda m, s, d: m.sparse.mm(s, s.t()),
    "sparse.addmm": lambda m, s, d: m.sparse.addmm(d[:, :1] * 2, s, d, beta=0.5, alpha=2.0),
    "sparse.sum": lambda m, s, d: m.sparse.sum(s),
    "sparse.sum dim 0": lambda m, s, d: m.sparse.sum(s, 0),
    "sparse.sum dim 1": lambda m, s, d: m.sparse.sum(s, 1),
    "sparse.sum all dims": lambda m, s, d: m.sparse.sum(s, (0, 1)),
    "sum": lambda m, s, d: s.sum(),
    "coalesce": lambda m, s, d: s.coalesce(),
    "values": lambda m, s, d: s.coalesce().values(),
    "t": lambda m, s, d: s.t(),
    "transpose": lambda m, s, d: s.transpose(0, 1),
    "mul": lambda m, s, d: s * 2,
    "div": lambda m, s, d: s / 2,
    "neg": lambda m, s, d: -s,
    "add": lambda m, s, d: s + s,
    "sub": lambda m, s, d: s - s.detach() * 0.5,
    "mul sparse": lambda m, s, d: s * s,
    "mul dense": lambda m, s, d: s * (d @ d.t()),
    "dense + sparse": lambda m, s, d: d @ d.t() + s,
    "softmax": lambda m, s, d: m.sparse.softmax(s, 1),
    "log_softmax": lambda m, s, d: m.sparse.log_softmax(s, 0),
    "clone": lambda m, s, d: s.clone(),
    "double": lambda m, s, d: s.double(),
    "select element": lambda m, s, d: s[1, 2],
}


@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients_match_torch(torch, name):
    """Gradients reach the values of sparse_coo_tensor and the dense operands, as PyTorch's do; the grad_fn
    names are PyTorch's."""
    ours, theirs = (_gradients(m, GRADIENTS[name]) for m in (ember, torch))
    assert ours[0] == theirs[0]                           # grad_fn name, layout
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10)
    assert (ours[2] is None) == (theirs[2] is None)
    if ours[2] is not None:
        np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-10)


def _gradients(m, fn):
    """((grad_fn name, sparse?), values.grad, dense.grad) of sum(fn(...)**2) in float64."""
    s, v = sample(m, m.float64, requires_grad=True)
    d = m.tensor(D, dtype=m.float64, requires_grad=True)
    out = fn(m, s, d)
    dense = out.to_dense() if out.is_sparse else out
    (dense * dense).sum().backward()
    return (out.grad_fn.name(), out.is_sparse), v.grad.numpy().copy(), None if d.grad is None else d.grad.numpy().copy()


def test_values_gradient_without_torch():
    s, v = sample(ember, requires_grad=True)
    s.to_dense().sum().backward()
    assert v.grad.tolist() == [1.0] * 5 and v.grad.shape == v.shape
    v.grad = None
    (ember.sparse.mm(s, ember.ones(3, 1)) * ember.tensor([[1.0], [2.0], [3.0]])).sum().backward()
    assert v.grad.tolist() == [1.0, 2.0, 2.0, 1.0, 3.0]         # each entry gets its row's gradient


@pytest.mark.parametrize("name", ["to_dense", "sparse.mm", "mm", "add", "mul", "sparse.sum dim 0", "softmax"])
def test_sparse_leaf_gradients_match_torch(torch, name):
    """A sparse leaf's .grad: masked and sparse where PyTorch's is (to_dense, sparse.mm), strided for torch.mm;
    a second backward accumulates into it."""
    grads = []
    for m in (ember, torch):
        s = m.sparse_coo_tensor(INDICES, VALUES, (3, 3), dtype=m.float64, requires_grad=True)
        d = m.tensor(D, dtype=m.float64)
        for _ in range(2):
            out = GRADIENTS[name](m, s, d)
            (out.to_dense() if out.is_sparse else out).pow(2).sum().backward()
        grads.append(s.grad)
    assert_same(grads[0], grads[1], rtol=1e-10)
    if grads[0].is_sparse:
        assert grads[0].coalesce()._nnz() == grads[1].coalesce()._nnz()


GRADCHECKS = {
    "to_dense": lambda s, d: s.to_dense(),
    "sparse.mm": lambda s, d: ember.sparse.mm(s, d),
    "mm": lambda s, d: ember.mm(s, d),
    "dense @ sparse": lambda s, d: d.t() @ s,
    "sparse @ sparse": lambda s, d: ember.sparse.mm(s, s.t()).to_dense(),
    "sparse.addmm": lambda s, d: ember.sparse.addmm(d, s, d, beta=0.5, alpha=2.0),
    "sparse.sum": lambda s, d: ember.sparse.sum(s),
    "sparse.sum dim": lambda s, d: ember.sparse.sum(s, 0).to_dense(),
    "softmax": lambda s, d: ember.sparse.softmax(s, 1).to_dense(),
    "log_softmax": lambda s, d: ember.sparse.log_softmax(s, 0).to_dense(),
    "coalesce values": lambda s, d: s.coalesce().values(),
    "add mul": lambda s, d: (s + s * 3 - s / 2).to_dense(),
    "mul sparse": lambda s, d: (s * s).to_dense(),
    "mul dense": lambda s, d: (s * (d @ d.t())).to_dense(),
    "t": lambda s, d: s.t().to_dense(),
    "to_sparse": lambda s, d: ((d @ d.t()).to_sparse() * s).to_dense(),
    "sparse_mask": lambda s, d: (d @ d.t()).sparse_mask(s.detach().coalesce()).to_dense(),
}


@pytest.mark.parametrize("name", GRADCHECKS)
def test_gradcheck_float64(name):
    """First and second derivatives w.r.t. the values and the dense operand, by finite differences."""
    values = ember.tensor(VALUES, dtype=ember.float64, requires_grad=True)
    d = ember.tensor(D, dtype=ember.float64, requires_grad=True)

    def fn(values, d):
        return GRADCHECKS[name](ember.sparse_coo_tensor(INDICES, values, (3, 3)), d)
    assert gradcheck(fn, (values, d))
    assert gradgradcheck(fn, (values, d))


# --- a GCN layer, as graph-network code writes it -----------------------------------------------------------

def _normalized_adjacency(m, edges, n, edge_weight=None):
    """D^-1/2 (A + I) D^-1/2 as a sparse tensor, built the way GCN examples build it."""
    loops = m.arange(n)
    index = m.stack([m.cat([edges[0], loops]), m.cat([edges[1], loops])])
    weight = m.ones(index.shape[1], dtype=m.float64) if edge_weight is None else \
        m.cat([edge_weight, m.ones(n, dtype=m.float64)])
    adjacency = m.sparse_coo_tensor(index, weight, (n, n)).coalesce()
    degree = m.sparse.sum(adjacency, dim=1).to_dense()
    scale = degree.pow(-0.5)
    row, col = adjacency.indices()
    return m.sparse_coo_tensor(adjacency.indices(), scale[row] * adjacency.values() * scale[col], (n, n))


def _gcn_run(m, steps=5, learn_edges=False):
    rng = np.random.default_rng(0)
    n, features, hidden, classes = 12, 5, 8, 3
    edges = rng.integers(0, n, size=(2, 30))
    x = m.tensor(rng.normal(size=(n, features)))
    y = m.tensor(rng.integers(0, classes, size=n))
    w1 = m.tensor(rng.normal(size=(features, hidden)) * 0.3, requires_grad=True)
    w2 = m.tensor(rng.normal(size=(hidden, classes)) * 0.3, requires_grad=True)
    edge_weight = m.tensor(rng.uniform(0.5, 1.5, size=30), requires_grad=True)
    params = [w1, w2] + ([edge_weight] if learn_edges else [])
    optimizer = m.optim.Adam(params, lr=0.05)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        a_hat = _normalized_adjacency(m, m.tensor(edges), n, edge_weight if learn_edges else None)
        h = m.relu(m.sparse.mm(a_hat, x @ w1))             # sparse.mm, as in PyG-free GCN code
        logits = m.spmm(a_hat, h @ w2)                     # torch.spmm, as pygcn writes it
        loss = m.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in params], a_hat


@pytest.mark.parametrize("learn_edges", [False, True])
def test_gcn_training_matches_torch(torch, learn_edges):
    ours, theirs = _gcn_run(ember, learn_edges=learn_edges), _gcn_run(torch, learn_edges=learn_edges)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    for p, q in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    assert_same(ours[2], theirs[2])


def test_gcn_adjacency_without_torch():
    a_hat = _normalized_adjacency(ember, ember.tensor([[0, 1], [1, 2]]), 3)
    dense = a_hat.to_dense().numpy()
    # node 1 has degree 2 (the edge 0 -> 1 lands in row 0; row 1 holds 1 -> 2 and its loop)
    expected = np.array([[1 / 2, 1 / np.sqrt(2 * 2), 0], [0, 1 / 2, 1 / np.sqrt(2)], [0, 0, 1]])
    np.testing.assert_allclose(dense, expected)
    losses = _gcn_run(ember, steps=8)[0]
    assert losses[-1] < losses[0]
