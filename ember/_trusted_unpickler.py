"""Full unpickling for checkpoints the user trusts: what `ember.load(f, weights_only=False)` runs.

Like torch.load(weights_only=False) this executes whatever the file's pickle names (it imports modules
and calls their functions), so it is only used when the caller asks for it explicitly (weights_only=False,
a pickle_module, or TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD). torch.* globals never import torch: they resolve
to ember's objects (ember/_torch_globals.py), so a model pickled by PyTorch comes back as ember modules.
Storages still go through ember/serialization.py's validating reader. The default, weights-only path is
ember/_weights_only_unpickler.py, which never runs code.
"""
from . import _torch_globals
from ._weights_only_globals import (_PY2_MODULES, _defaults, _make_parameter, _rebuild_tensor,
                                    _rebuild_tensor_v2, _rebuild_tensor_v3)
from ._weights_only_unpickler import CheckpointError


def _set_state(obj, state):
    """Restore Python attributes pickled with a tensor (torch._utils._set_obj_state)."""
    from ._tensor import Tensor
    setstate = getattr(type(obj), "__setstate__", None)
    if state and setstate is not None and setstate is not getattr(Tensor, "__setstate__", None):
        obj.__setstate__(state)                  # a tensor subclass with its own __setstate__
        return obj
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for part in (state, slots):
        for key, value in (part or {}).items():
            setattr(obj, key, value)
    return obj


def _trusted_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                               metadata=None):
    hooks = list(backward_hooks.values()) if isinstance(backward_hooks, dict) else []
    tensor = _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, {}, metadata)
    for hook in hooks:                            # PyTorch pickles tensor hooks (with a warning); restore them
        tensor.register_hook(hook)
    return tensor


def _trusted_rebuild_parameter(data, requires_grad, backward_hooks):
    param = _make_parameter(data, requires_grad)
    for hook in (backward_hooks or {}).values():
        param.register_hook(hook)
    return param


def _trusted_rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_trusted_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _trusted_rebuild_from_type_v2(func, new_type, args, state):
    from ._tensor import Tensor
    result = func(*args)
    if isinstance(new_type, type) and type(result) is not new_type:
        from .nn import Parameter
        if issubclass(new_type, Parameter):
            result = new_type(result.detach(), result.requires_grad)
        elif issubclass(new_type, Tensor) and new_type is not Tensor:
            raise CheckpointError(f"_rebuild_from_type_v2: cannot rebuild a {new_type.__qualname__}: ember tensors "
                                  "have no as_subclass()")
    return _set_state(result, state)


def _trusted_table():
    from ._tensor import Tensor
    from .nn import Parameter
    table = dict(_defaults())
    table.update({
        "torch.Tensor": Tensor,
        "torch.nn.parameter.Parameter": Parameter,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _trusted_rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _trusted_rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _trusted_rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _trusted_rebuild_from_type_v2,
    })
    return {name: obj for name, obj in table.items() if name.startswith("torch.")}   # the rest import normally


_TABLE = []


def find_torch_global(module, name):
    """The object a trusted pickle's GLOBAL module.name stands for, or None to import it normally."""
    module = _PY2_MODULES.get(module, module)
    if module != "torch" and not module.startswith("torch."):
        return None
    if not _TABLE:
        _TABLE.append(_trusted_table())
    full = f"{module}.{name}"
    found = _TABLE[0].get(full)
    if found is None:
        found = _torch_globals.ember_object(module, name)
    if found is None:
        raise CheckpointError(f"the checkpoint names {full}, which has no counterpart in ember (torch globals "
                              "resolve to ember's objects; torch itself is never imported)")
    return found


def make_unpickler(pickle_module, file, persistent_load, **pickle_load_args):
    """pickle_module.Unpickler over `file`, with torch.* names mapped to ember's and storages from persistent_load."""

    class TrustedUnpickler(pickle_module.Unpickler):
        def find_class(self, module, name):
            found = find_torch_global(module, name) if isinstance(module, str) and isinstance(name, str) else None
            if found is not None:
                return found
            return super().find_class(module, name)

    unpickler = TrustedUnpickler(file, **pickle_load_args)
    unpickler.persistent_load = persistent_load
    return unpickler
