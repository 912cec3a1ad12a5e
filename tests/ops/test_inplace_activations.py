"""In-place activations record PyTorch's nodes (Note [in-place activations] in
ember/ops/piecewise_activations.py): elu_, selu_, celu_, leaky_relu_ and rrelu_ save their result (EluBackward1,
CeluBackward1, LeakyReluBackward1, RreluWithNoiseBackward1), threshold_ a copy of its input (ThresholdBackward1).
Checked against PyTorch: the node's name, values, first and second derivatives, what a later in-place change of
the result does, and the refusal of a negative slope in backward; and, without PyTorch, against values worked
out by hand."""
import math

import numpy as np
import pytest

import ember

X = np.array([[-1.5, -0.25, 0.0, 0.5], [2.0, -3.0, 0.125, -0.75]])
WEIGHTS = np.array([[0.3, -1.1, 0.7, 1.9], [-0.4, 0.8, 1.3, -0.6]])


def F(m):
    return m.nn.functional


def _seeded(m, fn):
    m.manual_seed(0)                               # ember's generator draws PyTorch's numbers
    return fn()


# name -> (op on a non-leaf x, the node PyTorch records)
CASES = {
    "celu_": (lambda m, x: m.celu_(x, 0.7), "CeluBackward1"),
    "F.celu_inplace": (lambda m, x: F(m).celu(x, 1.3, inplace=True), "CeluBackward1"),
    "selu_": (lambda m, x: m.selu_(x), "EluBackward1"),
    "F.selu_inplace": (lambda m, x: F(m).selu(x, inplace=True), "EluBackward1"),
    "F.elu_": (lambda m, x: F(m).elu_(x, 0.5), "EluBackward1"),
    "F.elu_inplace": (lambda m, x: F(m).elu(x, inplace=True), "EluBackward1"),
    "F.leaky_relu_": (lambda m, x: F(m).leaky_relu_(x, 0.2), "LeakyReluBackward1"),
    "F.leaky_relu_inplace": (lambda m, x: F(m).leaky_relu(x, 0.0, inplace=True), "LeakyReluBackward1"),
    "rrelu_": (lambda m, x: m.rrelu_(x, 0.1, 0.3), "RreluWithNoiseBackward1"),
    "rrelu_train": (lambda m, x: _seeded(m, lambda: m.rrelu_(x, 0.1, 0.3, training=True)),
                    "RreluWithNoiseBackward1"),
    "F.rrelu_inplace_train": (lambda m, x: _seeded(m, lambda: F(m).rrelu(x, training=True, inplace=True)),
                              "RreluWithNoiseBackward1"),
    "threshold_": (lambda m, x: m.threshold_(x, 0.1, 20.0), "ThresholdBackward1"),
    "F.threshold_inplace": (lambda m, x: F(m).threshold(x, -0.5, -2.0, inplace=True), "ThresholdBackward1"),
    "relu_": (lambda m, x: m.relu_(x), "ReluBackward0"),
    "F.hardtanh_": (lambda m, x: F(m).hardtanh_(x), "HardtanhBackward0"),
    "nn.ELU_inplace": (lambda m, x: m.nn.ELU(inplace=True)(x), "EluBackward1"),
    "nn.LeakyReLU_inplace": (lambda m, x: m.nn.LeakyReLU(0.3, inplace=True)(x), "LeakyReluBackward1"),
}


def _run(m, name, dtype="float64"):
    """(leaf, non-leaf x, result): the op runs on x = leaf * 1, which it overwrites."""
    leaf = m.tensor(X, dtype=getattr(m, dtype), requires_grad=True)
    x = leaf * 1
    return leaf, x, CASES[name][0](m, x)


def _grads(m, name):
    """(first derivative, second derivative) of sum(WEIGHTS * f(x)) with respect to x."""
    leaf, _, out = _run(m, name)
    (g,) = m.autograd.grad((out * m.tensor(WEIGHTS)).sum(), leaf, create_graph=True)
    if not g.requires_grad:                        # a piecewise-linear activation: no second derivative
        return g.detach().numpy(), np.zeros_like(X)
    (gg,) = m.autograd.grad((g * g).sum(), leaf, allow_unused=True)
    return g.detach().numpy(), np.zeros_like(X) if gg is None else gg.numpy()


@pytest.mark.parametrize("name", CASES)
def test_inplace_activation_matches_torch(torch, name):
    for dtype in ("float32", "float64"):
        _, x, out = _run(ember, name, dtype)
        _, tx, tout = _run(torch, name, dtype)
        assert out is x and tout is tx
        assert type(out.grad_fn).__name__ == tout.grad_fn.name() == CASES[name][1]
        tol = 1e-6 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    (g, gg), (tg, tgg) = _grads(ember, name), _grads(torch, name)
    np.testing.assert_allclose(g, tg.detach().numpy() if hasattr(tg, "detach") else tg, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gg, tgg, rtol=1e-12, atol=1e-12)


def _modified_result_raises(m, name):
    _, _, out = _run(m, name)
    with m.no_grad():
        out.mul_(2)
    try:
        out.sum().backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return True
    return False


@pytest.mark.parametrize("name", CASES)
def test_changing_the_result_later_is_caught_as_in_torch(torch, name):
    # a node that saves the result must see the change; one that keeps a copy of the input must not
    assert _modified_result_raises(ember, name) is _modified_result_raises(torch, name)


NEGATIVE = {
    "elu": (lambda m, x: F(m).elu_(x, -1.0), "In-place elu backward"),
    "celu": (lambda m, x: m.celu_(x, -0.5), "In-place elu backward"),
    "leaky_relu": (lambda m, x: F(m).leaky_relu_(x, -0.1), "In-place leakyReLu backward"),
    "rrelu": (lambda m, x: m.rrelu_(x, -0.5, -0.2), "In-place leakyReLu backward"),
}


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_slope_is_refused_in_backward(name):
    make, message = NEGATIVE[name]
    x = ember.tensor([-1.0, 2.0], requires_grad=True) * 1
    out = make(ember, x)                           # the forward runs, as in PyTorch
    assert type(out.grad_fn).__name__.endswith("Backward1")
    with pytest.raises(RuntimeError, match=message):
        out.sum().backward()


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_slope_refusal_matches_torch(torch, name):
    make, _ = NEGATIVE[name]
    errors = []
    for m in (ember, torch):
        x = m.tensor([-1.0, 2.0], requires_grad=True) * 1
        out = make(m, x)
        with pytest.raises(RuntimeError) as info:
            out.sum().backward()
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_rrelu_training_gradient_is_the_noise_even_for_a_narrow_range(torch):
    # PyTorch 2.13 multiplies by the drawn noise whatever upper - lower is (no mean-slope special case)
    for inplace in (False, True):
        grads = []
        for m in (ember, torch):
            x = m.tensor([-1.0, -2.0, 3.0], dtype=m.float64, requires_grad=True)
            out = _seeded(m, lambda: F(m).rrelu(x * 1, 0.2, 0.2 + 1e-7, training=True, inplace=inplace))
            (g,) = m.autograd.grad(out.sum(), x)
            assert g[:2].tolist() == (out[:2] / x[:2]).tolist()
            grads.append(g.tolist())
        assert grads[0] == grads[1]


# --- without torch: the formulas worked out by hand ---------------------------------------------------------

def test_inplace_elu_family_by_hand():
    # elu_(x, alpha) at x < 0: alpha (e^x - 1), slope alpha e^x = result + alpha, second derivative alpha e^x
    x = ember.tensor([-1.0, 2.0], dtype=ember.float64, requires_grad=True)
    y = x * 1
    out = ember.nn.functional.elu_(y, 0.5)
    assert out is y and type(out.grad_fn).__name__ == "EluBackward1"
    assert out.tolist() == pytest.approx([0.5 * (math.exp(-1) - 1), 2.0], rel=1e-15)
    (g,) = ember.autograd.grad(out.sum(), x, create_graph=True)
    assert g.tolist() == pytest.approx([0.5 * math.exp(-1), 1.0], rel=1e-15)
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.tolist() == pytest.approx([0.5 * math.exp(-1), 0.0], rel=1e-15)
    # celu_(x, alpha) = elu with input_scale 1 / alpha: slope e^(x / alpha), second derivative e^(x / alpha) / alpha
    y = x * 1
    out = ember.celu_(y, 2.0)
    assert type(out.grad_fn).__name__ == "CeluBackward1"
    (g,) = ember.autograd.grad(out.sum(), x, create_graph=True)
    assert g.tolist() == pytest.approx([math.exp(-0.5), 1.0], rel=1e-15)
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.tolist() == pytest.approx([math.exp(-0.5) / 2, 0.0], rel=1e-15)
    # selu_: scale * elu(x, alpha)
    out = ember.selu_(x * 1)
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    (g,) = ember.autograd.grad(out.sum(), x)
    assert g.tolist() == pytest.approx([scale * alpha * math.exp(-1), scale], rel=1e-15)


def test_inplace_nodes_save_the_result_or_a_copy_by_hand():
    x = ember.tensor([-1.0, 2.0], requires_grad=True)
    out = ember.nn.functional.leaky_relu_(x * 1, 0.25)
    assert type(out.grad_fn).__name__ == "LeakyReluBackward1"
    with ember.no_grad():
        out.add_(1)                                # the saved result changed: backward refuses it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    out = ember.threshold_(x * 1, 0.0, 5.0)        # keeps a copy of the input: a later change is fine
    assert type(out.grad_fn).__name__ == "ThresholdBackward1" and out.tolist() == [5.0, 2.0]
    with ember.no_grad():
        out.add_(1)
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name", ["threshold_", "celu_", "selu_", "rrelu_"])
def test_torch_level_inplace_activations_are_not_tensor_methods(name):
    assert callable(getattr(ember, name)) and not hasattr(ember.Tensor, name)    # as torch.celu_ and Tensor


OUT_OF_PLACE = {
    "elu": (lambda m, x: F(m).elu(x, 0.5), "EluBackward0"),
    "selu": (lambda m, x: m.selu(x), "EluBackward0"),
    "celu": (lambda m, x: m.celu(x, 0.7), "CeluBackward0"),
}


@pytest.mark.parametrize("name", OUT_OF_PLACE)
def test_out_of_place_elu_family_derivatives_match_torch(torch, name):
    # the second derivative is 0 at x == 0 (PyTorch's formula selects x < 0 there), and celu's backward uses
    # 1 / float32(alpha) as PyTorch's does (its forward 1 / alpha)
    make, node = OUT_OF_PLACE[name]
    found = []
    for m in (ember, torch):
        x = m.tensor(X, dtype=m.float64, requires_grad=True)
        out = make(m, x)
        assert out.grad_fn.name() == node
        (g,) = m.autograd.grad((out * m.tensor(WEIGHTS)).sum(), x, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), x)
        found.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(found[0][0], found[1][0], rtol=1e-13, atol=0)
    np.testing.assert_allclose(found[0][1], found[1][1], rtol=1e-13, atol=0)
    assert found[0][1][0, 2] == 0.0                # X[0, 2] is 0


ON_VIEWS = {
    "elu_columns": lambda m, base: F(m).elu_(base[:, 1:], 0.7),
    "celu_row": lambda m, base: m.celu_(base[0], 1.3),
    "leaky_relu_transposed_row": lambda m, base: F(m).leaky_relu_(base.t()[1], 0.2),
    "rrelu_row": lambda m, base: m.rrelu_(base[1]),
    "threshold_column": lambda m, base: m.threshold_(base[:, 0], 0.0, 3.0),
    "selu_transposed": lambda m, base: m.selu_(base.t()),
}


@pytest.mark.parametrize("name", ON_VIEWS)
def test_inplace_activation_on_a_view_matches_torch(torch, name):
    # the base gets a CopySlices history through the activation's node; first and second derivatives agree
    found = []
    for m in (ember, torch):
        leaf = m.tensor(X, requires_grad=True)
        base = leaf * 2
        ON_VIEWS[name](m, base)
        (g,) = m.autograd.grad((base * base).sum(), leaf, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), leaf)
        found.append((base.grad_fn.name().replace("torch::autograd::", ""), g.detach().numpy(), gg.numpy()))
    assert found[0][0] == found[1][0] == "CopySlices"
    np.testing.assert_allclose(found[0][1], found[1][1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(found[0][2], found[1][2], rtol=1e-12, atol=1e-14)
