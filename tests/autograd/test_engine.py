"""backward(), autograd.grad, retain_graph, create_graph, inputs=, error messages (AG-6, AG-8 in
docs/RELIABILITY.md)."""
import numpy as np
import pytest

import ember
from tests.autograd.conftest import assert_same


def _raises_like(both, program):
    """Both libraries raise the same exception type with the same message (module name aside)."""
    messages = []
    for m in both(lambda m: m):
        with pytest.raises(Exception) as info:
            program(m)
        messages.append((type(info.value), str(info.value).replace("torch.", "ember.")))
    assert messages[0] == messages[1]


def test_second_backward_names_retain_graph(both):
    def program(m):
        x = m.ones(3, requires_grad=True)
        loss = (x * x).sum()
        loss.backward()
        loss.backward()
    _raises_like(both, program)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        program(ember)


def test_retain_graph_accumulates_twice(both):
    def program(m):
        x = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
        loss = (x * x.exp()).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        return x.grad
    assert_same(*both(program), rtol=1e-6)


@pytest.mark.parametrize("case", ["non_scalar", "wrong_shape", "no_history", "int_requires_grad"])
def test_error_messages_match_torch(both, case):
    def program(m):
        x = m.ones(3, requires_grad=True)
        if case == "non_scalar":
            (x * 2).backward()
        elif case == "wrong_shape":
            (x * 2).backward(m.ones(2))
        elif case == "no_history":
            m.ones(3).sum().backward()
        else:
            m.ones(3, dtype=m.int64).requires_grad_()
    _raises_like(both, program)


def test_backward_with_gradient_and_accumulation(both):
    def program(m):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x.sin() * x
        y.backward(m.tensor([[1.0, -1.0], [0.5, 2.0]]))
        (x * 3).sum().backward()
        return x.grad
    assert_same(*both(program), rtol=1e-6)


def test_backward_inputs_only_accumulates_there(both):
    def program(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = m.tensor([3.0, 4.0], requires_grad=True)
        h = x * y
        h.retain_grad()
        (h * h).sum().backward(inputs=[x, h])
        return x.grad, y.grad, h.grad
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        assert_same(a, b)
    with pytest.raises(RuntimeError, match="'inputs' argument to backward\\(\\) cannot be empty"):
        x = ember.ones(2, requires_grad=True)
        (x * 2).sum().backward(inputs=[])


def test_create_graph_gives_differentiable_grad(both):
    def program(m):
        x = m.tensor([1.0, 2.0, -0.5], requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        first = x.grad
        assert first.requires_grad
        x.grad = None
        first.sum().backward()
        return first, x.grad
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0])
    assert_same(ours[1], theirs[1])


def test_grad_allow_unused_and_materialize(both):
    def program(m):
        x = m.ones(3, requires_grad=True)
        y = m.ones(2, requires_grad=True)
        loss = (x * 2).sum()
        unused = m.autograd.grad(loss, (x, y), allow_unused=True, retain_graph=True)
        zeros = m.autograd.grad(loss, (x, y), materialize_grads=True)
        return unused, zeros
    ours, theirs = both(program)
    assert ours[0][1] is None and theirs[0][1] is None
    assert_same(ours[0][0], theirs[0][0])
    for a, b in zip(ours[1], theirs[1]):
        assert_same(a, b)

    def unused_error(m):
        x, y = m.ones(3, requires_grad=True), m.ones(2, requires_grad=True)
        m.autograd.grad((x * 2).sum(), (x, y))
    _raises_like(both, unused_error)


def test_grad_does_not_touch_dot_grad_and_returns_tuple():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ember.autograd.grad((x * x).sum(), x)
    assert x.grad is None and not g.requires_grad
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_of_intermediate_and_several_outputs(both):
    def program(m):
        x = m.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x.exp()
        a, b = (h * x).sum(), (h * h).sum()
        return m.autograd.grad([a, b], [h, x], grad_outputs=[m.tensor(2.0), m.tensor(-1.0)])
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        assert_same(a, b, rtol=1e-5)


def test_grads_batched(both):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        return m.autograd.grad(x.sin() * x, x, m.eye(3), is_grads_batched=True)[0]
    assert_same(*both(program), rtol=1e-6)


def test_no_grad_detach_data(both):
    def program(m):
        x = m.ones(2, requires_grad=True)
        with m.no_grad():
            y = x * 2
        d = x.detach()
        data = x.data
        d.add_(1)                                 # shares storage and version with x
        return y.requires_grad, d.requires_grad, data.requires_grad, x._version, x.tolist()
    assert both(program)[0] == both(program)[1]


def test_grad_mode_decorators_and_queries(both):
    def program(m):
        @m.no_grad()
        def doubled(t):
            return t * 2

        @m.enable_grad()
        def tripled(t):
            return t * 3

        @m.inference_mode()
        def inference(t):
            return t * 4, m.is_inference_mode_enabled()

        @m.no_grad
        def bare(t):
            return t * 5

        x = m.ones(1, requires_grad=True)
        with m.no_grad():
            inside = tripled(x).requires_grad
        out, inference_flag = inference(x)
        with m.set_grad_enabled(False):
            disabled = m.is_grad_enabled()
        m.set_grad_enabled(False)
        turned_off = m.is_grad_enabled()
        m.set_grad_enabled(True)

        def generator():
            yield (x * 2).requires_grad
        no_grad_gen = m.no_grad()(generator)
        return (doubled(x).requires_grad, inside, out.requires_grad, inference_flag, bare(x).requires_grad,
                disabled, turned_off, m.is_grad_enabled(), list(no_grad_gen()))
    ours, theirs = both(program)
    assert ours == theirs


def test_zero_grad_sets_none():
    p = ember.nn.Parameter(ember.ones(2))
    (p * 2).sum().backward()
    opt = ember.optim.SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None


def test_backward_through_shared_subgraph_and_diamond(both):
    def program(m):
        x = m.tensor([0.3, -0.7], requires_grad=True)
        h = x.tanh()
        y = h * h + h.exp() - (h * x).sin()
        y.sum().backward()
        return x.grad
    assert_same(*both(program), rtol=1e-6)


def test_leaf_grad_is_not_aliased_to_another_tensor():
    a = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    for _ in range(2):
        ((a + b) * 2).sum().backward()
    assert a.grad is not b.grad
    np.testing.assert_allclose(a.grad.numpy(), [4.0] * 3)
    given = ember.ones(3)
    c = ember.ones(3, requires_grad=True)
    c.backward(given)
    c.backward(given)
    np.testing.assert_allclose(given.numpy(), [1.0] * 3)    # .grad did not alias the given gradient


def test_float64_and_broadcast_grads(both):
    def program(m):
        x = m.tensor([[1.0], [2.0]], dtype=m.float64, requires_grad=True)
        w = m.tensor([0.5, -0.5, 2.0], dtype=m.float64, requires_grad=True)
        s = m.tensor(3.0, dtype=m.float64, requires_grad=True)
        ((x * w + s) ** 2).sum().backward()
        return x.grad, w.grad, s.grad
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        assert_same(a, b)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_plain_backward_shortcuts_match_the_differentiable_formulas(dtype):
    # Note [plain backward]: without create_graph, sum's expand, x**2 and a scalar factor's dot product
    # compute on arrays; with create_graph the same gradients come from recorded ops. Both must agree.
    x = ember.linspace(-3, 3, 50, dtype=dtype)
    y = ember.sin(x)
    params = [ember.tensor(v, dtype=dtype, requires_grad=True) for v in (0.1, -0.7, 0.2, 0.05)]

    def loss():
        a, b, c, d = params
        return (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()

    plain = ember.autograd.grad(loss(), params)
    recorded = ember.autograd.grad(loss(), params, create_graph=True)
    for p, r in zip(plain, recorded):
        assert not p.requires_grad and r.requires_grad
        np.testing.assert_allclose(p.numpy(), r.detach().numpy(), rtol=1e-6 if dtype is ember.float32 else 1e-12)
    assert ember.autograd.gradcheck(lambda b: (b * x.double()).pow(2).sum(),
                                    (ember.tensor(0.3, dtype=ember.float64, requires_grad=True),))
