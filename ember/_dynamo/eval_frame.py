"""OptimizedModule: what compiling a Module returns (Note [ember.compile] in __init__.py)."""
from ..nn.modules.module import Module

__all__ = ["OptimizedModule"]


class OptimizedModule(Module):
    """A compiled Module: the original is its submodule `_orig_mod` (so the state_dict's keys start with
    `_orig_mod.`, as PyTorch's do), calling it calls the original, `training` is the original's, and
    attributes it does not have itself are read from and written to the original, as in PyTorch."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    @property
    def training(self):
        return self._orig_mod.training

    @training.setter
    def training(self, mode):
        modules = self.__dict__.get("_modules")
        if modules and "_orig_mod" in modules:            # (Module.train sets it on every module it reaches)
            modules["_orig_mod"].training = mode

    def __getattr__(self, name):
        modules = self.__dict__.get("_modules")
        if modules is not None and "_orig_mod" in modules:
            if name == "_orig_mod":
                return modules["_orig_mod"]
            return getattr(modules["_orig_mod"], name)
        return super().__getattr__(name)

    def __setattr__(self, name, value):
        modules = self.__dict__.get("_modules")
        if name == "_orig_mod" or not modules or "_orig_mod" not in modules:
            return super().__setattr__(name, value)
        setattr(modules["_orig_mod"], name, value)
