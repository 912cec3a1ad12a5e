"""Hook plumbing for Module: the full-backward-hook wrapper (handles: ember.utils.hooks.RemovableHandle)."""
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import _State

__all__ = ["BackwardHook"]


class _HookIdentity(Op):
    """Passes tensors through unchanged; its grad_fn is where module backward hooks attach."""
    node_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, *arrays):
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        return grads


class BackwardHook:
    """Routes gradients of a module's tensor outputs and inputs through its full backward hooks."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0

    @staticmethod
    def _wrap(values, on_grads):
        positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not positions or not _State.grad_enabled:
            return values, False
        wrapped = _HookIdentity.apply(*[values[i] for i in positions])
        wrapped[0].grad_fn.register_prehook(on_grads)
        values = list(values)
        for i, w in zip(positions, wrapped):
            values[i] = w
        return values, True

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        self.positions = [i for i, v in enumerate(args) if isinstance(v, Tensor) and v.requires_grad]
        if not self.module._backward_hooks:
            return args
        return tuple(self._wrap(args, self._on_input_grads)[0])

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        values = [output] if single else list(output) if isinstance(output, (tuple, list)) else None
        if values is None:
            return output
        values, wrapped = self._wrap(values, self._on_output_grads)
        if not wrapped:
            return output
        if single:
            return values[0]
        return type(output)(values)

    def _on_output_grads(self, grads):
        module = self.module
        for hook in module._backward_pre_hooks.values():
            result = hook(module, grads)
            if result is not None:
                grads = tuple(result)
        self.grad_output = grads
        if not self.positions and module._backward_hooks:     # no input needs grad: report Nones now
            grad_input = (None,) * self.n_inputs
            for hook in module._backward_hooks.values():
                hook(module, grad_input, grads)
        return grads

    def _on_input_grads(self, grads):
        module = self.module
        grad_input = [None] * self.n_inputs
        for i, g in zip(self.positions, grads):
            grad_input[i] = g
        grad_input = tuple(grad_input)
        for hook in module._backward_hooks.values():
            result = hook(module, grad_input, self.grad_output)
            if result is not None:
                if len(result) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(result)}, but expected {len(grad_input)}")
                grad_input = tuple(result)
        return tuple(grad_input[i] for i in self.positions)
