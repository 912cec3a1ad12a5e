"""retain_grad, tensor hooks (leaf and non-leaf), post-accumulate hooks, node hooks, the non-leaf .grad warning."""
import warnings

import pytest

import ember
from tests.autograd.conftest import assert_same


def test_retain_grad_and_nonleaf_warning(both):
    def program(m):
        x = m.tensor([1.0, -2.0], requires_grad=True)
        h = x * 3
        k = x * 2
        h.retain_grad()
        h.retain_grad()                            # twice is harmless
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert k.grad is None
        assert any("not a leaf Tensor" in str(w.message) for w in caught)
        (h * h + k).sum().backward()
        return h.grad, x.grad, h.retains_grad, k.retains_grad, h.is_leaf
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0])
    assert_same(ours[1], theirs[1])
    assert ours[2:] == theirs[2:]


def test_retained_grad_is_not_shared_with_leaf_grad():
    x = ember.ones(2, requires_grad=True)
    h = x + 0                                      # Add passes the same gradient tensor on to x
    h.retain_grad()
    h.sum().backward()
    (x + 0).sum().backward()                       # accumulates into x.grad in place
    assert h.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


def test_hooks_replace_gradients(both):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(g.tolist()))
        x.register_hook(lambda g: g * 10)          # leaf hook: changes what is accumulated
        h = x.exp()
        handle = h.register_hook(lambda g: g + 1)  # non-leaf hook: changes what flows on
        h.register_hook(lambda g: seen.append(g.tolist()))
        (h * 2).sum().backward(retain_graph=True)
        first = x.grad.clone()
        handle.remove()
        x.grad = None
        (h * 2).sum().backward()
        return first, x.grad, seen
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0], rtol=1e-6)
    assert_same(ours[1], theirs[1], rtol=1e-6)
    for a, b in zip(ours[2], theirs[2]):
        assert a == pytest.approx(b)


def test_hook_on_tensor_without_grad_is_refused(both):
    messages = []
    for m in both(lambda m: m):
        with pytest.raises(RuntimeError) as info:
            m.ones(2).register_hook(lambda g: g)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_post_accumulate_grad_hook(both):
    def program(m):
        p = m.tensor([1.0, 2.0], requires_grad=True)
        calls = []

        def hook(t):
            calls.append(t.grad.tolist())
            with m.no_grad():
                t.sub_(0.1 * t.grad)               # an optimizer step inside the hook
        p.register_post_accumulate_grad_hook(hook)
        (p * p).sum().backward()
        (p * p).sum().backward()
        return calls, p.detach().tolist()
    ours, theirs = both(program)
    for a, b in zip(ours[0], theirs[0]):
        assert a == pytest.approx(b)
    assert ours[1] == pytest.approx(theirs[1])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (ember.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_node_hooks(both):
    def program(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        seen = []
        y.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0] * 2,))
        y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: seen.append(len(grad_inputs)))
        y.sum().backward()
        return x.grad, seen
    ours, theirs = both(program)
    assert_same(ours[0], theirs[0])


def test_hooks_run_for_autograd_grad(both):
    def program(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: g * 3)
        h = x * x
        h.register_hook(lambda g: g * 5)
        return m.autograd.grad(h.sum(), [x, h])
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        assert_same(a, b)


def test_hook_handle_context_manager():
    x = ember.ones(2, requires_grad=True)
    y = x * 2
    with y.grad_fn.register_prehook(lambda g: (g[0] * 0,)):
        pass                                       # removed on exit
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
