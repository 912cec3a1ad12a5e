"""ember.utils.hooks.RemovableHandle: the one handle every register_*hook returns, as in PyTorch."""
import copy
import gc
import weakref

import pytest

import ember
from ember.utils.hooks import RemovableHandle


def _registrations(m):
    """One hook of each kind ember and PyTorch register: (what, handle)."""
    leaf = m.ones(2, requires_grad=True)
    nonleaf = leaf * 2
    module = m.nn.Linear(2, 1)
    optimizer = m.optim.SGD(module.parameters(), lr=0.1)
    return [
        ("leaf tensor hook", leaf.register_hook(lambda g: None)),
        ("non-leaf tensor hook", nonleaf.register_hook(lambda g: None)),
        ("post-accumulate hook", leaf.register_post_accumulate_grad_hook(lambda t: None)),
        ("grad_fn hook", nonleaf.grad_fn.register_hook(lambda grad_inputs, grad_outputs: None)),
        ("grad_fn prehook", nonleaf.grad_fn.register_prehook(lambda grad_outputs: None)),
        ("module forward hook", module.register_forward_hook(lambda *args: None, with_kwargs=True)),
        ("module backward hook", module.register_full_backward_hook(lambda *args: None)),
        ("optimizer step hook", optimizer.register_step_pre_hook(lambda *args: None)),
    ]


def test_every_register_hook_returns_the_one_handle_class(torch):
    for m, handle_class in ((ember, RemovableHandle), (torch, torch.utils.hooks.RemovableHandle)):
        handles = _registrations(m)
        for what, handle in handles:
            assert type(handle) is handle_class, what
            with handle:                           # a context manager that removes on exit
                pass
            handle.remove()                        # a second removal does nothing
        ids = [handle.id for _, handle in handles]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)       # one counter for all kinds
        assert handle_class.next_id > ids[-1]
    assert ember.utils.hooks.RemovableHandle is RemovableHandle


def _hook_order(m, remove):
    """Register A, B, A on a tensor, remove one of the three by its handle, return the order hooks run in."""
    calls = []

    def hook_a(grad):
        calls.append("A")

    def hook_b(grad):
        calls.append("B")
    x = m.ones(2, requires_grad=True)
    y = x * 2
    handles = [y.register_hook(hook) for hook in (hook_a, hook_b, hook_a)]
    handles[remove].remove()
    y.sum().backward()
    return calls


@pytest.mark.parametrize("remove", [0, 1, 2])
def test_remove_unregisters_its_own_registration(torch, remove):
    # Removing the second registration of hook_a leaves the first one in place: a handle removes its own
    # registration (by id), not the first one of the same function.
    assert _hook_order(ember, remove) == _hook_order(torch, remove)
    assert _hook_order(ember, 2) == ["A", "B"]


def test_handle_does_not_keep_the_tensor_alive():
    x = ember.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g: g)
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None
    handle.remove()                                # the hooks are gone with the tensor: nothing to do


def test_deepcopy_of_a_handle_refers_to_the_copied_hooks(torch):
    def program(m):
        module = m.nn.Linear(2, 1)
        module.handle = module.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
        twin = copy.deepcopy(module)               # the stored handle is copied along with the module
        twin.handle.remove()                       # removes the twin's hook only
        x = m.ones(1, 2)
        return (module(x) - module.bias).abs().sum().item(), (twin(x) - twin.bias).abs().sum().item() > 0
    assert program(ember) == program(torch) == (0.0, True)
