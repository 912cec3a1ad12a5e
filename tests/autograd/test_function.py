"""Custom autograd.Function: both styles, ctx API, several outputs, once_differentiable, double backward."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import Function, gradcheck, gradgradcheck, once_differentiable
from tests.autograd.conftest import assert_same


def _legendre(m):
    class LegendrePolynomial3(m.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)
    return LegendrePolynomial3


def test_seed_legendre_example_final_result():
    """The seed's custom-Function example: deterministic result given in the issue (PyTorch 2.13, float32)."""
    P3 = _legendre(ember)
    x = ember.linspace(-math.pi, math.pi, 2000)
    y = ember.sin(x)
    a, b, c, d = (ember.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
    for _ in range(2000):
        loss = (a + b * P3.apply(c + d * x) - y).pow(2).sum()
        loss.backward()
        with ember.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    assert round(loss.item(), 2) == 8.94
    assert round(b.item(), 4) == -2.2085
    assert round(d.item(), 4) == 0.2555


def test_legendre_matches_torch_and_gradchecks(both):
    def program(m):
        x = m.tensor([-1.5, -0.2, 0.4, 2.0], dtype=m.float64, requires_grad=True)
        y = _legendre(m).apply(x * 0.7)
        y.sum().backward()
        return y, x.grad, type(y.grad_fn).__name__
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0])
    assert_same(ours[1], theirs[1])
    assert ours[2] == theirs[2] == "LegendrePolynomial3Backward"
    x = ember.tensor([-1.5, 0.4, 2.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(_legendre(ember).apply, (x,))
    assert gradgradcheck(_legendre(ember).apply, (x,))     # its backward uses ember ops: double backward


def _scale_shift(m, setup_style):
    """f(x, k, b) = (k*x + b, x*x) with an int argument k and tensor b; ctx.needs_input_grad is recorded."""
    def forward_ctx(ctx, x, k, b):
        ctx.k = k
        ctx.save_for_backward(x)
        ctx.needs = tuple(ctx.needs_input_grad)
        return x * k + b, x * x

    def forward_plain(x, k, b):
        return x * k + b, x * x

    def setup_context(ctx, inputs, output):
        x, k, b = inputs
        ctx.k = k
        ctx.save_for_backward(x)
        ctx.needs = tuple(ctx.needs_input_grad)

    def backward(ctx, grad_a, grad_b):
        (x,) = ctx.saved_tensors
        grad_x = grad_a * ctx.k + grad_b * 2 * x if ctx.needs_input_grad[0] else None
        grad_bias = grad_a.sum(0) if ctx.needs_input_grad[2] else None
        return grad_x, None, grad_bias

    attrs = {"backward": staticmethod(backward)}
    if setup_style:
        attrs.update(forward=staticmethod(forward_plain), setup_context=staticmethod(setup_context))
    else:
        attrs["forward"] = staticmethod(forward_ctx)
    return type("ScaleShift", (m.autograd.Function,), attrs)


@pytest.mark.parametrize("setup_style", [False, True])
def test_both_styles_several_outputs_non_tensor_args(both, setup_style):
    def program(m):
        x = m.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
        b = m.tensor([0.5, -0.5], requires_grad=True)
        fn = _scale_shift(m, setup_style)
        out_a, out_b = fn.apply(x, 3, b)
        (out_a.sum() + (out_b * out_b).sum()).backward()
        only_b = fn.apply(x.detach(), 3, b)[0]
        needs = only_b.grad_fn.needs
        only_b.sum().backward()
        return x.grad, b.grad, needs, len(out_a.grad_fn.next_functions)
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0])
    assert_same(ours[1], theirs[1])
    assert ours[2] == theirs[2] == (False, False, True)
    assert ours[3] == 2                           # edges for the tensor inputs only (x, b)


def test_gradcheck_custom_function_with_two_outputs():
    x = ember.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.5, -0.5], dtype=ember.float64, requires_grad=True)
    fn = _scale_shift(ember, False)
    assert gradcheck(lambda x, b: fn.apply(x, 3, b), (x, b))
    assert gradgradcheck(lambda x, b: fn.apply(x, 3, b), (x, b))


def test_materialize_grads_and_unused_output(both):
    def program(m):
        received = []

        class Split(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, materialize):
                ctx.set_materialize_grads(materialize)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, grad_a, grad_b):
                received.append((grad_a is None, grad_b is None))
                grad = grad_a * 2 if grad_a is not None else 0
                return grad + (grad_b * 3 if grad_b is not None else 0), None

        x = m.ones(2, requires_grad=True)
        Split.apply(x, True)[0].sum().backward()
        Split.apply(x, False)[0].sum().backward()
        return received, x.grad
    ours, theirs = both(program)
    assert ours[0] == theirs[0] == [(False, False), (False, True)]
    assert_same(ours[1], theirs[1])


def test_mark_non_differentiable(both):
    def program(m):
        class SortWithIndex(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                values, index = x.sort()
                ctx.mark_non_differentiable(index)
                ctx.save_for_backward(index)
                return values, index

            @staticmethod
            def backward(ctx, grad_values, grad_index):
                (index,) = ctx.saved_tensors
                grad = m.zeros_like(grad_values)
                grad[index] = grad_values
                return grad

        x = m.tensor([3.0, 1.0, 2.0], requires_grad=True)
        values, index = SortWithIndex.apply(x)
        (values * m.tensor([1.0, 2.0, 3.0])).sum().backward()
        return values.requires_grad, index.requires_grad, x.grad
    ours, theirs = both(program)
    assert ours[:2] == theirs[:2] == (True, False)
    assert_same(ours[2], theirs[2])


def test_mark_dirty(both):
    def program(m):
        class AddOneInPlace(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.add_(1)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad * 1

        leaf = m.tensor([1.0, 2.0], requires_grad=True)
        h = leaf * 2
        out = AddOneInPlace.apply(h)
        (out * out).sum().backward()
        return out is h, h._version, leaf.grad, type(h.grad_fn).__name__
    ours, theirs = both(program)
    assert ours[0] == theirs[0] and ours[1] == theirs[1] and ours[3] == theirs[3]
    assert_same(ours[2], theirs[2])

    class Dirty(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        Dirty.apply(ember.ones(2, requires_grad=True))


def test_input_returned_as_is_gets_new_history(both):
    def program(m):
        class Identity(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad * 5

        x = m.ones(2, requires_grad=True)
        y = Identity.apply(x)
        y.sum().backward()
        return y is x, y.is_leaf, x.grad
    ours, theirs = both(program)
    assert ours[:2] == theirs[:2] == (False, False)
    assert_same(ours[2], theirs[2])


def test_once_differentiable(both):
    def program(m):
        class Cube(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @once_differentiable_for(m)
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * 3 * x * x

        x = m.tensor([1.0, 2.0], requires_grad=True)
        (g,) = m.autograd.grad(Cube.apply(x).sum(), x)
        first = g.clone()
        seed = m.tensor(1.0, requires_grad=True)      # makes the backward's inputs require grad
        (g2,) = m.autograd.grad(Cube.apply(x).sum(), x, seed, create_graph=True)
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g2.sum().backward()
        return first
    assert_same(*both(program))


def once_differentiable_for(m):
    if m is ember:
        return once_differentiable
    from torch.autograd.function import once_differentiable as torch_once
    return torch_once


def test_backward_errors(both):
    def wrong_count(m):
        class Bad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, grad):
                return grad, grad, grad
        x = m.ones(2, requires_grad=True)
        Bad.apply(x, x).sum().backward()

    def grad_for_non_tensor(m):
        class Bad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, grad):
                return grad, grad
        Bad.apply(m.ones(2, requires_grad=True), 2.0).sum().backward()

    def bad_shape(m):
        class Bad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return m.ones(3)
        Bad.apply(m.ones(2, requires_grad=True)).sum().backward()

    for program in (wrong_count, grad_for_non_tensor, bad_shape):
        messages = []
        for m in both(lambda m: m):
            with pytest.raises(RuntimeError) as info:
                program(m)
            messages.append(str(info.value))
        assert messages[0] == messages[1], program.__name__


def test_extra_trailing_none_and_dtype_cast(both):
    def program(m):
        class Loose(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return (grad * 2).double(), None     # float64 grad for a float32 input; an extra None
        x = m.ones(2, requires_grad=True)
        Loose.apply(x).sum().backward()
        return x.grad
    ours, theirs = both(program)
    assert_same(ours, theirs)
    assert ours.dtype is ember.float32


def test_broadcast_grad_from_custom_backward_is_reduced(both):
    def program(m):
        class Broadcast(m.autograd.Function):
            @staticmethod
            def forward(ctx, bias, x):
                return x + bias

            @staticmethod
            def backward(ctx, grad):
                return grad, grad                  # bias's gradient still has x's shape
        bias = m.zeros(3, requires_grad=True)
        x = m.ones(4, 3, requires_grad=True)
        Broadcast.apply(bias, x).sum().backward()
        return bias.grad
    assert_same(*both(program))


def test_function_under_no_grad_records_nothing():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = Double.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        Double()


def test_saved_tensor_modified_in_place_is_caught():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x
    leaf = ember.ones(2, requires_grad=True)
    h = leaf * 1
    out = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        out.sum().backward()


def test_function_output_saved_and_double_backward():
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved_tensors
            return grad * out
    x = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(Exp.apply, (x,))
    assert gradgradcheck(Exp.apply, (x,))
    np.testing.assert_allclose(ember.autograd.grad(Exp.apply(x).sum(), x)[0].numpy(), np.exp([0.5, -1.0]))
