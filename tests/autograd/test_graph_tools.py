"""Walking the graph (grad_fn.next_functions, names like PyTorch's), saved-tensor hooks, ember.viz DOT output."""
import shutil

import pytest

import ember
from ember.autograd.graph import saved_tensors_hooks, walk


def _names(root):
    return [type(node).__name__ for node in walk([root])]


def test_next_functions_and_names_match_torch(torch):
    def program(m):
        x = m.ones(2, 3, requires_grad=True)
        w = m.ones(3, requires_grad=True)
        y = ((x * w).exp().sum(1) - 1).pow(2).mean()
        fn = y.grad_fn
        chain = []
        while fn is not None:
            chain.append(type(fn).__name__)
            nxt = [f for f, _ in fn.next_functions if f is not None]
            fn = nxt[0] if nxt else None
        leaf_edges = [type(f).__name__ for f, _ in (x * w).grad_fn.next_functions]
        return chain, leaf_edges
    assert program(ember) == program(torch)


SCALAR_PROGRAMS = {
    "x+2": lambda x: x + 2, "2+x": lambda x: 2 + x, "x-2": lambda x: x - 2, "2-x": lambda x: 2 - x,
    "x*2.5": lambda x: x * 2.5, "2*x": lambda x: 2 * x, "x/2": lambda x: x / 2, "2/x": lambda x: 2 / x,
    "x**2": lambda x: x ** 2, "2**x": lambda x: 2 ** x, "x.mul(2)": lambda x: x.mul(2),
    "x.add(2, alpha=3)": lambda x: x.add(2, alpha=3), "x.div(2)": lambda x: x.div(2),
    "x.clamp(0, 1)": lambda x: x.clamp(0, 1),
}


@pytest.mark.parametrize("name", sorted(SCALAR_PROGRAMS))
def test_python_scalar_operands_in_next_functions_match_torch(torch, name):
    # PyTorch wraps the scalar of + - * / in a tensor, listed as (None, 0); scalar / t is t.reciprocal() * t.
    def program(m):
        fn = SCALAR_PROGRAMS[name](m.ones(2, requires_grad=True)).grad_fn
        return fn.name(), [(type(f).__name__ if f is not None else None, nr) for f, nr in fn.next_functions]
    assert program(ember) == program(torch)


def test_scalar_divided_by_tensor_rounds_like_torch(torch):
    import numpy as np
    x = np.random.default_rng(0).random(10000).astype(np.float32) + 0.5
    np.testing.assert_array_equal((3.0 / ember.tensor(x)).numpy(), (3.0 / torch.tensor(x)).numpy())


def test_accumulate_grad_variable_and_walk():
    x = ember.ones(2, requires_grad=True)
    y = (x * 2 + x).sum()
    accumulators = [n for n in walk([y.grad_fn]) if type(n).__name__ == "AccumulateGrad"]
    assert len(accumulators) == 1 and accumulators[0].variable is x
    assert _names(y.grad_fn)[0] == "SumBackward0"


def test_saved_tensors_hooks():
    packed = []

    def pack(t):
        packed.append(tuple(t.shape))
        return t.detach().clone()

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(pack, lambda t: t):
        y = (x.exp() * x).sum()
    assert packed                                  # exp saved its output, mul its inputs
    y.backward()
    assert x.grad.tolist() == pytest.approx([2.718281828 * 2, 7.389056099 * 3], rel=1e-6)


def test_to_dot_names_nodes_and_labels_leaves():
    x = ember.randn(3, 4, requires_grad=True)
    w = ember.randn(4, requires_grad=True)
    loss = (x * w).exp().sum()
    dot = ember.viz.to_dot(loss, params={"x": x, "w": w})
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    for part in ("SumBackward0", "ExpBackward0", "MulBackward0", "AccumulateGrad", '"x\\n(3, 4)"', '"w\\n(4)"',
                 '"output\\n()"'):
        assert part in dot
    assert dot.count("AccumulateGrad") == 2 and dot.count("->") == 7


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_svg(tmp_path):
    x = ember.randn(2, requires_grad=True)
    path = ember.viz.render((x * 2).sum(), tmp_path / "graph.svg")
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith("<")
    assert str(path).endswith("graph.svg")


def test_render_without_dot_says_so(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz 'dot' program was not found"):
        ember.viz.render((ember.ones(1, requires_grad=True) * 2).sum(), "graph.svg")
