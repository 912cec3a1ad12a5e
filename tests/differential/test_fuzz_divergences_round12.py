"""Regression tests for the divergences the differential fuzzer still found in issue 12 (h_fuzz12): each checks
ember's own expected value, and compares with PyTorch where it is installed."""
import pytest

from .oracle import outcome, same, torch  # noqa: F401


# --- 1. max pooling: max_pool1d's view, the saved indices, create_graph ----------------------------------

def test_max_pool1d_of_a_tensor_that_requires_grad_is_a_view():
    def run(m):
        y = m.nn.functional.max_pool1d(m.tensor([[[1.0, 3.0, 2.0, 0.0]]], requires_grad=True), 2)
        names = (type(y.grad_fn).__name__, type(y.grad_fn.next_functions[0][0]).__name__, y._is_view())
        y.detach_()
        return names
    same(run, "RuntimeError")
    same(lambda m: m.nn.functional.max_pool1d(m.tensor([[[1.0, 3.0, 2.0, 0.0]]], requires_grad=True), 2)
         .grad_fn.next_functions[0][0].name(), "MaxPool2DWithIndicesBackward0")
    # no grad: no view, detach_() runs
    same(lambda m: m.nn.functional.max_pool1d(m.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).detach_().tolist(),
         [[[3.0, 2.0]]])
    same(lambda m: [t._is_view() for t in m.nn.functional.max_pool1d(m.tensor([[1.0, 3.0, 2.0, 0.0]]), 2,
                                                                     return_indices=True)], [True, True])


@pytest.mark.parametrize("nd", [1, 2])
def test_max_pool_backward_uses_the_indices_saved_in_forward(nd):
    def run(m):
        x = m.tensor([[[1.0, 3.0, 2.0, 0.0]]], requires_grad=True)
        pool = m.nn.functional.max_pool1d if nd == 1 else \
            (lambda t, k: m.nn.functional.max_pool2d(t.unsqueeze(0), (1, k)).squeeze(0))
        y = pool(x, 2)
        x.data[0, 0, 0] = 3.0                      # a tie with the max after the forward: the grad does not move
        y.sum().backward()
        return x.grad.tolist()
    same(run, [[[0.0, 1.0, 1.0, 0.0]]])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_create_graph_grad_requires_grad(nd):
    def run(m):
        x = m.tensor([1.0, 3.0, 2.0, 0.0]).reshape((1, 1) + (1,) * (nd - 1) + (4,)).requires_grad_()
        pool = getattr(m.nn.functional, f"max_pool{nd}d")
        g, = m.autograd.grad(pool(x, (1,) * (nd - 1) + (2,)).sum(), x, create_graph=True)
        h, = m.autograd.grad(g.sum(), x)
        return g.requires_grad, g.flatten().tolist(), h.flatten().tolist()
    same(run, (True, [0.0, 1.0, 1.0, 0.0], [0.0] * 4))


# --- 2. softmax / log_softmax of a 0-d tensor ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_is_no_view(name):
    def run(m):
        y = getattr(m, name)(m.tensor(2.0, requires_grad=True), 0)
        names = (type(y.grad_fn).__name__, y._is_view(), y.item())
        y.detach_()
        return names
    same(run, ("SoftmaxBackward0" if name == "softmax" else "LogSoftmaxBackward0", False,
               1.0 if name == "softmax" else 0.0))


# --- 3. copy_ from a source with extra leading size-1 dims --------------------------------------------------

@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("shape, message", [
    ((1, 2, 3), "output with shape [2, 3] doesn't match the broadcast shape [1, 2, 3]"),
    ((2, 1, 3), "output with shape [2, 3] doesn't match the broadcast shape [2, 2, 3]"),
    ((4,), "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
])
def test_copy_from_a_source_that_does_not_broadcast_to_self_raises(requires_grad, shape, message):
    def run(m):
        self = m.zeros(2, 3, requires_grad=requires_grad).clone()
        try:
            self.copy_(m.ones(shape))
        except RuntimeError as e:
            return str(e)
        return "runs"
    same(run, message)
    same(lambda m: m.zeros(2, 3).copy_(m.ones(1, 3)).tolist(), [[1.0] * 3] * 2)


# --- 4. a mixed-dtype mul saves its operands, not cast copies -------------------------------------------------

def test_mixed_dtype_mul_saves_the_operands_themselves():
    def run(m):
        a = m.ones(3, requires_grad=True)
        b = m.full((3,), 0.5, dtype=m.float64, requires_grad=True)
        y = a * b
        a.data.fill_(3.0)                          # seen by b's gradient: the saved a is a itself
        b.data.fill_(1.0)
        y.sum().backward()
        return (y.dtype is m.float64, [type(f[0]).__name__ for f in y.grad_fn.next_functions],
                a.grad.dtype is m.float32, a.grad.tolist(), b.grad.tolist())
    same(run, (True, ["AccumulateGrad"] * 2, True, [1.0] * 3, [3.0] * 3))


def test_mul_by_an_integer_tensor_sees_its_later_data_write():
    def run(m):
        a = m.ones(3, requires_grad=True)
        b = m.full((3,), 2, dtype=m.int64)
        y = m.mul(a, b)
        b.data.fill_(5)
        y.sum().backward()
        return y.dtype is m.float32, a.grad.tolist()
    same(run, (True, [5.0] * 3))


def test_mixed_dtype_mul_create_graph_grads_keep_the_input_dtypes():
    def run(m):
        a = m.ones(2, 3, requires_grad=True)
        b = m.full((3,), 0.1, dtype=m.float64, requires_grad=True)
        ga, gb = m.autograd.grad((b * a).sum(), (a, b), create_graph=True)
        return ga.dtype is m.float32, gb.dtype is m.float64, ga.requires_grad, ga.tolist(), gb.tolist()
    same(run, (True, True, True, [[0.10000000149011612] * 3] * 2, [2.0] * 3))


# --- 6. div's gradient for other is -grad * ((self / other) / other), rounded as PyTorch's -------------------

def test_div_backward_rounds_as_pytorch():
    import numpy as np
    xs = np.random.RandomState(0).uniform(-3, 3, 2000).astype(np.float32)
    ys = np.random.RandomState(1).uniform(-3, 3, 2000).astype(np.float32)

    def run(m):
        x = m.tensor(xs, requires_grad=True)
        y = m.tensor(ys, requires_grad=True)
        (x / x).sum().backward()                   # grad / x - grad * ((x / x) / x): exactly 0 in this order
        self_ratio = x.grad.tolist()
        x.grad = None
        (x / y).sum().backward()
        return self_ratio, x.grad.tolist(), y.grad.tolist()
    results = outcome(run)
    assert results[0][0] == [0.0] * 2000
    assert all(r == results[0] for r in results)


# --- 5. a basic setitem in the graph is a copy_ into the view (CopySlices), as PyTorch's ----------------------

@pytest.mark.parametrize("value", ["tensor", "scalar"])
def test_basic_setitem_with_grad_is_copy_slices(value):
    def run(m):
        x = m.ones(4, requires_grad=True)
        y = m.full((2,), 3.0, requires_grad=True)
        z = x * 2
        z[1:3] = y if value == "tensor" else 3.0
        s = (z * z).sum()
        s.backward(retain_graph=True)
        s.backward()                               # a second backward runs, as PyTorch's
        return z.grad_fn.name().split("::")[-1], x.grad.tolist(), y.grad.tolist() if value == "tensor" else None
    same(run, ("CopySlices", [16.0, 0.0, 0.0, 16.0], [12.0, 12.0] if value == "tensor" else None))


def test_basic_setitem_with_grad_of_a_value_of_another_shape_raises_expand_error():
    def run(m):
        z = m.ones(4, requires_grad=True) * 2
        try:
            z[1:3] = m.ones(3)
        except RuntimeError as e:
            return str(e).split(".")[0]
        return "runs"
    same(run, "The expanded size of the tensor (2) must match the existing size (3) at non-singleton dimension 0")


# --- found by the fuzzer this round: logit's gradient at 0 and 1 is grad * inf (also at -0.0) -------------------

def test_logit_backward_at_zero_and_one_is_grad_times_inf():
    def run(m):
        x = m.tensor([0.5, 0.0, -0.0, 1.0, 2.0, 0.0], requires_grad=True)
        m.logit(x).backward(m.tensor([0.5] * 5 + [-1.0]))
        return x.grad.tolist()
    inf = float("inf")
    results = outcome(run)
    assert results[0][:4] == [2.0, inf, inf, inf] and results[0][5] == -inf
    assert str(results) == str([results[0]] * len(results))    # nan compares unequal: by its repr
