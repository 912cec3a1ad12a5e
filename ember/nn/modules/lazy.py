"""LazyModuleMixin: modules whose parameter shapes are inferred from the first input."""
import itertools

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ..parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Put before the regular class: the first forward (or a load_state_dict) materialises the
    UninitializedParameter/Buffer placeholders, then the module turns into cls_to_become, as in PyTorch."""
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # placeholders go into the state_dict as they are (PyTorch's behaviour): there is nothing to detach
        for name, value in self._local_state():
            destination[prefix + name] = value if keep_vars or is_lazy(value) else value.detach()
        if self._has_extra_state():
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def _upgrade_state_dict(self, state_dict, prefix, version):
        # Loading a checkpoint of an initialised module gives each placeholder the checkpoint's shape.
        for name, value in itertools.chain(self._parameters.items(), self._buffers.items()):
            given = state_dict.get(prefix + name)
            if is_lazy(value) and isinstance(given, Tensor) and not is_lazy(given):
                with no_grad():
                    value.materialize(given.shape)
        super()._upgrade_state_dict(state_dict, prefix, version)

    def initialize_parameters(self, *args, **kwargs):
        """Materialise the placeholders from the first input (each lazy class defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self):
        """Whether any parameter or buffer is still a placeholder."""
        return any(is_lazy(v) for v in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        # by id in this module's own dicts: a deepcopied handle still points at the original's
        hook_id = module.__dict__.pop("_initialize_hook").id
        module._forward_pre_hooks.pop(hook_id, None)
        module._forward_pre_hooks_with_kwargs.pop(hook_id, None)
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with `DataParallel`. Run a dummy "
                           "forward pass to correctly initialize the modules")
