"""RemovableHandle, PyTorch's torch.utils.hooks.RemovableHandle: what every register_*hook in ember returns
(tensors, grad_fn nodes, modules, optimizers). A hook lives in an OrderedDict under its handle's id."""
import weakref

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Unregisters one hook: `remove()` deletes entry `id` from the hooks dict (and from the extra dicts,
    which keep per-hook flags such as with_kwargs). Usable as a context manager that removes on exit.

    The dicts are referenced weakly: a handle does not keep its module, tensor or node alive, and removing
    after they are gone does nothing. `id` comes from one counter shared by all handles (`next_id`)."""
    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if extra_dict is None:
            extra_dict = ()
        elif not isinstance(extra_dict, (list, tuple)):
            extra_dict = (extra_dict,)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self):
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __getstate__(self):
        # Weak references do not pickle (nor deepcopy): the state holds the dicts themselves.
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        hooks_dict, self.id, extra_dicts = state
        self.hooks_dict_ref = _weak(hooks_dict)
        self.extra_dict_ref = tuple(_weak(d) for d in extra_dicts)
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _gone():
    return None


def _weak(hooks):
    """A weak reference to a hooks dict; for one already collected when pickled, a reference to nothing."""
    return _gone if hooks is None else weakref.ref(hooks)
