"""In-place safety: version counters (AG-2), leaf checks (AG-3), view + in-place gradients (AG-4), detach (AG-8);
the ids are rows of docs/RELIABILITY.md."""
import numpy as np
import pytest

import ember
from tests.autograd.conftest import assert_same

X = [[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]]


def _message(m, program):
    with pytest.raises(RuntimeError) as info:
        program(m)
    return str(info.value).replace("torch.", "ember.").split(" Hint:")[0]


@pytest.mark.parametrize("program", [
    lambda m: (lambda x: (lambda y: (y.add_(1), y.sum().backward()))(x.exp()))(m.ones(3, requires_grad=True)),
    lambda m: (lambda a: (lambda b: (lambda c: (b.mul_(3), c.sum().backward()))(b * b))(a * 2))(
        m.ones(3, requires_grad=True)),
], ids=["exp_then_add_", "mul_saved_input"])
def test_modified_saved_tensor_error_matches_torch(torch, program):
    ours, theirs = _message(ember, program), _message(torch, program)
    assert ours == theirs
    assert "modified by an inplace operation" in ours and "is at version 1; expected version 0" in ours


def test_modified_error_names_op_shape_and_versions():
    x = ember.ones(2, 3, requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    message = str(info.value)
    for part in ("[ember.FloatTensor [2, 3]]", "output 0 of Exp", "is at version 1; expected version 0",
                 "set_detect_anomaly", "saved for ExpBackward0"):
        assert part in message


@pytest.mark.parametrize("case", ["leaf", "view_of_leaf", "view_made_under_no_grad"])
def test_leaf_errors_match_torch(torch, case):
    def program(m):
        x = m.ones(3, requires_grad=True)
        if case == "leaf":
            x.add_(1)
        elif case == "view_of_leaf":
            x[0:2].add_(1)
        else:
            y = x * 1
            with m.no_grad():
                view = y[0:2]
            view.mul_(2)
    ours, theirs = _message(ember, program), _message(torch, program)
    assert ours.startswith(theirs.rstrip(".")) or ours.split(" (")[0] == theirs.split(" (")[0]


MULTI_OUTPUT_VIEW_PROGRAMS = {
    "split": lambda m, y: y.split(2)[0].mul_(2),
    "split_with_sizes": lambda m, y: y.split([1, 3])[1].add_(1),
    "chunk": lambda m, y: y.chunk(2)[1].zero_(),
    "unbind": lambda m, y: y.reshape(2, 2).unbind(1)[1].add_(1),
    "slice_of_split": lambda m, y: y.split(2)[0][:1].mul_(2),
    "view_of_split": lambda m, y: y.split(2)[1].view(-1).mul_(2),
    "copy_into_split": lambda m, y: y.split(2)[0].copy_(m.ones(2)),
    "leaf_split": lambda m, y: y.detach().requires_grad_().split(2)[0].mul_(2),
}


@pytest.mark.parametrize("name", sorted(MULTI_OUTPUT_VIEW_PROGRAMS))
def test_in_place_on_multi_output_view_is_refused_like_torch(torch, name):
    def program(m):
        MULTI_OUTPUT_VIEW_PROGRAMS[name](m, m.arange(4.0, requires_grad=True) * 1)
    ours, theirs = _message(ember, program), _message(torch, program)
    assert ours.split(" (")[0] == theirs


def test_in_place_on_multi_output_view_allowed_without_history(both):
    def program(m):
        x = m.arange(4.0, requires_grad=True)
        y = x * 1
        a, b = y.split(2)
        with m.no_grad():
            a.mul_(2)                              # no history recorded: allowed
        b.detach().add_(1)                         # a detached alias has no view history
        plain = m.arange(4.0)
        plain.split(2)[0].mul_(3)                  # nothing requires grad
        (y * 1).sum().backward()
        return y.detach(), plain, x.grad
    ours, theirs = both(program)
    for o, t in zip(ours, theirs):
        assert_same(o, t)


def test_no_grad_in_place_on_leaf_bumps_version(both):
    def program(m):
        x = m.ones(3, requires_grad=True)
        with m.no_grad():
            x.add_(1)
            x[0:2].mul_(3)
        return x._version, x.detach().tolist(), x.requires_grad, x.is_leaf
    ours, theirs = both(program)
    assert ours == theirs


def _program(body):
    def run(m):
        x = m.tensor(X, dtype=m.float64, requires_grad=True)
        out = body(m, x)
        out.sum().backward()
        return x.grad
    return run


IN_PLACE_PROGRAMS = {
    "mul_": lambda m, x: (lambda y: (y.mul_(3), y * y)[1])(x * 1),
    "row_of_view": lambda m, x: (lambda y: (y[0].mul_(2), y)[1])(x * 1),
    "row_then_square": lambda m, x: (lambda y: (y[0].mul_(2), y * y)[1])(x * 1),
    "column_view": lambda m, x: (lambda y: (y[:, 1].mul_(3), y.exp())[1])(x * 1),
    "view_of_view": lambda m, x: (lambda y: (y.t()[0].add_(10), y * y)[1])(x * 1),
    "strided_chain": lambda m, x: (lambda y: (y.unsqueeze(0).squeeze(0)[1, ::2].mul_(5), y * y)[1])(x * 1),
    "flat_view": lambda m, x: (lambda y: (y.view(6).add_(1), y.pow(2))[1])(x * 2),
    "base_then_old_view": lambda m, x: (lambda y: (lambda v: (y.mul_(3), v * v)[1])(y[0]))(x * 2),
    "base_then_flat_view": lambda m, x: (lambda y: (lambda v: (y.add_(1), v * v)[1])(y.view(6)))(x * 2),
    "view_then_use_other_view": lambda m, x: (lambda y: (lambda v, w: (v.mul_(2), v * w)[1])(y[0], y[1]))(x * 1),
    "clamp_": lambda m, x: (lambda y: (y.clamp_(-3, 3), y * y)[1])(x * 2),
    "masked_fill_": lambda m, x: (lambda y: (y.masked_fill_(y < 0, 0.5), y * y)[1])(x * 2),
    "index_put_": lambda m, x: (lambda y: (y.index_put_((m.tensor([0, 1]), m.tensor([2, 0])),
                                                        m.tensor([7.0, 8.0], dtype=m.float64)), y * y)[1])(x * 2),
    "setitem_tensor": lambda m, x: (lambda y: (y.__setitem__(1, x[0] * 2), y * y)[1])(x * 1),
    "copy_into_view": lambda m, x: (lambda y: (y[0].copy_(x[1] * 2), y * y)[1])(x * 1),
    "sigmoid_tanh_": lambda m, x: (lambda y: (y.sigmoid_(), y * 3)[1])(x * 2),
    "div_sub_pow_": lambda m, x: (lambda y: (y.div_(2), y.sub_(x), y.pow_(2), y)[3])(x * 1),
    "augmented": lambda m, x: (lambda y: (y.__iadd__(2 * x), y.__imul__(x), y)[2])(x * 1),
    "zero_fill_": lambda m, x: (lambda y, z: (y.zero_(), z.fill_(2.0), y + x * z)[2])(x * 1, x * 1),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE_PROGRAMS))
def test_in_place_gradients_match_torch(both, name):
    ours, theirs = both(_program(IN_PLACE_PROGRAMS[name]))
    assert_same(ours, theirs, rtol=1e-12, atol=0)


def test_in_place_matches_out_of_place_exactly():
    """AG-4: the same program written out of place gives the same gradients (float64, exact)."""
    def in_place(x):
        y = x * 1
        y[0].mul_(2)
        y.mul_(3)                 # not exp_(): its saved output would then be modified, which is refused
        y[:, 1].add_(x[:, 0])
        return (y * y).sum()

    def out_of_place(x):
        y = x * 1
        y = ember.cat([y[:1] * 2, y[1:]], 0) * 3
        col = y[:, 1:2] + x[:, 0:1]
        y = ember.cat([y[:, :1], col, y[:, 2:]], 1)
        return (y * y).sum()

    grads = []
    for program in (in_place, out_of_place):
        x = ember.tensor(X, dtype=ember.float64, requires_grad=True) * 0.1
        x.retain_grad()
        program(x).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


CHAINS = {
    "clamp_relu": (lambda y: (y.clamp_(-3, 3), ember.nn.functional.relu(y, inplace=True), y * y)[2],
                   lambda y: ember.nn.functional.relu(y.clamp(-3, 3)) ** 2),
    "masked_fill_index_put": (
        lambda y: (y.masked_fill_(y < 0, 0.5), y.index_put_((ember.tensor([1]), ember.tensor([2])),
                                                            ember.tensor(7.0, dtype=ember.float64)), y.exp())[2],
        lambda y: y.masked_fill(y < 0, 0.5).index_put((ember.tensor([1]), ember.tensor([2])),
                                                      ember.tensor(7.0, dtype=ember.float64)).exp()),
    "clamp_mul_view": (lambda y: (y.clamp_(max=2.0), y[1].mul_(3), y * y)[2],
                       lambda y: (lambda c: ember.stack([c[0], c[1] * 3]) ** 2)(y.clamp(max=2.0))),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_in_place_chain_equals_out_of_place(name):
    """AG-4: in-place chains give exactly the out-of-place program's gradients (PyTorch refuses some)."""
    grads = []
    for program in CHAINS[name]:
        x = ember.tensor(X, dtype=ember.float64, requires_grad=True)
        program(x * 1.5).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_detach_shares_storage_and_version():
    x = ember.ones(3, requires_grad=True)
    y = x.exp()
    d = y.detach()
    assert d._base is None and not d.requires_grad
    d.add_(1)
    assert y._version == 1 and y.tolist() == d.tolist()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_modified_through_a_view_is_caught():
    x = ember.ones(2, 3, requires_grad=True)
    y = x.exp()
    y[0, 1] = 0.0
    with pytest.raises(RuntimeError, match="output 0 of Exp, is at version 1; expected version 0"):
        y.sum().backward()


@pytest.mark.parametrize("program", [
    lambda y: (y.tanh_(), y[1].exp_()),
    lambda y: (y.exp_(), y.mul_(2)),
    lambda y: (ember.nn.functional.relu(y, inplace=True), y.clamp_(-3, 3)),
    lambda y: (y.sigmoid_(), y.zero_()),
], ids=["tanh_then_view_exp_", "exp_then_mul_", "relu_then_clamp_", "sigmoid_then_zero_"])
def test_output_saved_by_an_in_place_op_is_version_checked(program):
    """Note [in-place saved outputs]: an in-place op that saves its output saves self; a later in-place
    change of self is refused at backward, as PyTorch refuses it (before, ember silently used a copy)."""
    x = ember.tensor(np.array(X) * 0.3, dtype=ember.float64, requires_grad=True)
    y = x * 1
    program(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_in_place_under_no_grad_then_backward_uses_new_values():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3                                      # saves nothing of w's values
    with ember.no_grad():
        w.mul_(10)
    h.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
