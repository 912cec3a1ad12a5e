"""Walking the graph (grad_fn.next_functions, names like PyTorch's), saved-tensor hooks (ember.viz: tests/test_viz.py)."""
import pytest

import ember
from ember.autograd.graph import (FREED, SAVED_CONSTANT, SAVED_INPUT, SAVED_OUTPUT, SAVED_PACKED,
                                  saved_tensors_hooks, walk)


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


def test_saved_entries_say_what_they_keep():
    """Note [saved entries]: an input as itself and its version, an output as its array (the node never
    holds its own output), a Python scalar as a constant, a pack hook's result, and FREED after backward."""
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    w = ember.tensor([3.0, 4.0], requires_grad=True)
    product, exp, scaled = x * w, x.exp(), x * 2.0
    assert product.grad_fn._saved == ((SAVED_INPUT, x, 0), (SAVED_INPUT, w, 0))
    kind, array, _, version, _, output_nr = exp.grad_fn._saved[0]
    assert (kind, array is exp._array, version, output_nr) == (SAVED_OUTPUT, True, 0, 0)
    (kind, constant), = [entry for entry in scaled.grad_fn._saved if entry is not None]
    assert kind == SAVED_CONSTANT and constant.tolist() == 2.0 and constant.dtype == ember.float32
    with saved_tensors_hooks(lambda t: ("packed", t), lambda packed: packed[1]):
        hooked_product, hooked_scaled = x * w, x * 2.0
    saved = hooked_product.grad_fn._saved
    assert [(kind, packed[0]) for kind, packed, _ in saved] == [(SAVED_PACKED, "packed")] * 2
    assert [entry[0] for entry in hooked_scaled.grad_fn._saved if entry is not None] == [SAVED_CONSTANT]
    product.sum().backward()
    assert product.grad_fn._saved is FREED
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _ = product.grad_fn.saved_tensors
