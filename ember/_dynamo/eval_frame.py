"""OptimizedModule: what compiling a Module returns (Note [ember.compile] in __init__.py)."""
from ..nn.modules.module import Module

__all__ = ["OptimizedModule"]


class OptimizedModule(Module):
    """A compiled Module: the original is its submodule `_orig_mod` (so the state_dict's keys start with
    `_orig_mod.`, as PyTorch's do), calling it calls the original, and attributes it does not have
    itself are read from the original."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod
        self.training = mod.training

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        modules = self.__dict__.get("_modules")
        if modules is not None and "_orig_mod" in modules:
            if name == "_orig_mod":
                return modules["_orig_mod"]
            return getattr(modules["_orig_mod"], name)
        return super().__getattr__(name)
