"""gradcheck / gradgradcheck: verdicts, messages, input checks, and agreement with PyTorch's."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.autograd.gradcheck import GradcheckError


def _leaf(shape, seed=0, dtype=ember.float64):
    values = np.random.default_rng(seed).standard_normal(shape)
    return ember.tensor(values, dtype=dtype, requires_grad=True)


def _scaled(m, factor, name="Scaled"):
    """A custom Function computing 2*x whose backward multiplies by `factor` (2 is correct)."""
    def forward(ctx, x):
        return x * 2

    def backward(ctx, grad):
        return grad * factor
    return type(name, (m.autograd.Function,), {"forward": staticmethod(forward),
                                               "backward": staticmethod(backward)})


def test_public_names():
    assert ember.autograd.gradcheck is gradcheck
    from ember.autograd.gradcheck import gradcheck as module_gradcheck, gradgradcheck as module_gg
    assert module_gradcheck is gradcheck and module_gg is gradgradcheck
    assert issubclass(GradcheckError, RuntimeError)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "zero_dim", "broadcast"])
def test_passes_on_layouts(layout):
    base = _leaf((4, 6))
    if layout == "contiguous":
        inputs, fn = (base,), lambda x: (x * x).exp()
    elif layout == "transposed":
        inputs, fn = (base.detach().t().requires_grad_(),), lambda x: x.sin() * x
    elif layout == "strided":
        inputs, fn = (base.detach()[::2, 1::3].requires_grad_(),), lambda x: x.tanh()
    elif layout == "zero_dim":
        inputs, fn = (_leaf(()), _leaf((3,), 1)), lambda s, v: s * v + s.exp()
    else:
        inputs, fn = (_leaf((4, 1)), _leaf((6,), 2)), lambda a, b: a * b - b
    assert gradcheck(fn, inputs)
    assert gradcheck(fn, inputs, fast_mode=True)


def test_inputs_left_as_found():
    x = _leaf((3, 2))
    before = x.detach().numpy().copy()
    version = x._version
    gradcheck(lambda t: t.exp(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x._version == version and x.grad is None


def test_several_outputs_and_non_tensor_args():
    x, y = _leaf((3,)), _leaf((3,), 1)
    assert gradcheck(lambda a, k, b: (a * k, a * b, (b * 0).detach()), (x, 3.0, y))
    assert gradcheck(lambda a: a.exp(), x)                    # a bare tensor is one input


def test_mismatch_names_output_input_and_both_jacobians():
    wrong = _scaled(ember, 3)
    x, y = _leaf((3,)), _leaf((2,), 1)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: (b.exp(), wrong.apply(a)), (x, y))
    message = str(info.value)
    assert message.startswith("Jacobian mismatch for output 1 with respect to input 0,\nnumerical:")
    assert "analytical:" in message and "3." in message and "2.0000" in message
    assert gradcheck(lambda a: wrong.apply(a), (x,), raise_exception=False) is False


def test_fast_mode_catches_a_wrong_gradient():
    x = _leaf((5,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(_scaled(ember, 2.5).apply, (x,), fast_mode=True)
    assert gradcheck(_scaled(ember, 2).apply, (x,), fast_mode=True)


def test_warns_on_single_precision():
    x = _leaf((3,), dtype=ember.float32)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision"):
        gradcheck(lambda a: a * 2, (x,), eps=1e-3, atol=1e-3)


def test_refuses_expanded_inputs_and_no_grad_inputs():
    x = ember.tensor([1.0, 2.0], dtype=ember.float64).expand(3, 2).requires_grad_()
    with pytest.raises(RuntimeError, match="The 0th input has a dimension with stride 0"):
        gradcheck(lambda a: a * 2, (x,))
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (ember.ones(2, dtype=ember.float64),))


def test_nondeterministic_backward_is_reported():
    rng = np.random.default_rng(1)

    class Noisy(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad * (1 + 1e-9 * float(rng.standard_normal()))

    x = _leaf((3,))
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(Noisy.apply, (x,))
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-6)


def test_no_differentiable_outputs():
    x = _leaf((3,))
    assert gradcheck(lambda a: (a > 0).to(ember.float64), (x,))
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be zero"):
        gradcheck(lambda a: a.detach() * 2, (x,))


def test_gradgradcheck_passes_and_catches_wrong_second_derivative():
    x, y = _leaf((3, 2)), _leaf((2,), 1)
    assert gradgradcheck(lambda a, b: (a * b).sin(), (x, y))
    assert gradgradcheck(lambda a, b: (a * b).sin(), (x, y), gen_non_contig_grad_outputs=True)
    assert gradgradcheck(lambda a: a.exp().sum(), (x,), (ember.tensor(1.5, dtype=ember.float64),))

    class FirstOrderOnly(ember.autograd.Function):   # right first derivative, second derivative lost
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 2 * a.detach()

    assert gradcheck(FirstOrderOnly.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(FirstOrderOnly.apply, (x,))


def test_complex_convention_via_custom_function():
    """A holomorphic square whose backward uses PyTorch's convention grad * conj(f'(z)) passes."""
    values = np.array([1 + 2j, -0.5 + 0.3j, 0.7 - 1.1j])

    def square(m, conj):
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z * z

        def backward(ctx, grad):
            (z,) = ctx.saved_tensors
            derivative = z * 2
            return grad * (derivative.conj() if conj else derivative)
        return type("Square", (m.autograd.Function,), {"forward": staticmethod(forward),
                                                       "backward": staticmethod(backward)})

    z = ember.tensor(values, requires_grad=True)
    assert gradcheck(square(ember, True).apply, (z,))
    assert not gradcheck(square(ember, False).apply, (z,), raise_exception=False)


def test_same_verdicts_as_torch(torch):
    cases = [
        (lambda m: _scaled(m, 2).apply, [(3,)]),
        (lambda m: _scaled(m, 2.001).apply, [(3,)]),
        (lambda m: (lambda a, b: (a * b).exp()), [(2, 3), (3,)]),
        (lambda m: (lambda a: a.pow(3).sum()), [(4,)]),
    ]
    for make_fn, shapes in cases:
        verdicts = []
        for m in (ember, torch):
            inputs = [m.tensor(np.random.default_rng(i).standard_normal(s), dtype=m.float64,
                               requires_grad=True) for i, s in enumerate(shapes)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                verdicts.append((m.autograd.gradcheck(make_fn(m), inputs, raise_exception=False),
                                 m.autograd.gradcheck(make_fn(m), inputs, raise_exception=False,
                                                      fast_mode=True)))
        assert verdicts[0] == verdicts[1]
