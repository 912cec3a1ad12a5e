"""ember.backends: PyTorch's torch.backends, the switches and queries for the libraries behind the kernels
(cudnn, cuda.matmul, mkldnn, mps, opt_einsum ...). `torch.backends.cudnn.benchmark = True` and friends read
back what was set; since ember's kernels are NumPy (CuPy on a GPU) array code, most flags steer nothing, and
each one's docstring says so. The array backends themselves (NumPy, CuPy, meta) are private: ember/_backends/.

The submodules load on first use (`ember.backends.cudnn`, `import ember.backends.cudnn`), so `import ember`
pays nothing for them. This file also holds what they share: the flag descriptor and disable_global_flags().
"""
import contextlib
import importlib

__all__ = ["cpu", "cuda", "cudnn", "cusparselt", "kleidiai", "mha", "miopen", "mkl", "mkldnn", "mps", "nnpack",
           "openmp", "opt_einsum", "disable_global_flags", "flags_frozen"]

_SUBMODULES = ("cpu", "cuda", "cudnn", "cusparselt", "kleidiai", "mha", "miopen", "mkl", "mkldnn", "mps",
               "nnpack", "openmp", "opt_einsum")

_frozen = False                 # set by disable_global_flags(); the flags() context managers still work


def disable_global_flags():
    """From now on, assigning a flag (`ember.backends.cudnn.benchmark = True`) raises RuntimeError; the
    flags() context managers, which restore what they change, still work. PyTorch's own test suite calls it
    to catch flags set and never restored."""
    global _frozen
    _frozen = True


def flags_frozen():
    """True after disable_global_flags()."""
    return _frozen


@contextlib.contextmanager
def _unfrozen():
    # the flags() context managers may set flags while they are frozen, as PyTorch's may
    global _frozen
    old, _frozen = _frozen, False
    try:
        yield
    finally:
        _frozen = old


def _type_name(value):
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _check_bool(setter):
    """A check for a bool flag, with PyTorch's words (its setter's C++ name): ints and NumPy bools are refused."""
    def check(value):
        if type(value) is not bool:
            raise RuntimeError(f"{setter} expects a bool, but got {_type_name(value)}")
    return check


class _Flag:
    """A flag on a backend module (`ember.backends.cudnn.benchmark`), kept in the module's `_state` dict:
    reading gives what was last set; assigning checks the value, and is refused after disable_global_flags().
    Lives on the module's class (a types.ModuleType subclass), so plain attribute syntax reaches it."""

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        return module._state[self.name]

    def __set__(self, module, value):
        if _frozen:
            raise RuntimeError(f"not allowed to set {module.__name__} flags after disable_global_flags; "
                               "please use flags() context manager instead")
        self.check(value)
        module._state[self.name] = value


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")     # the import binds it here too
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


def __dir__():
    return sorted({*globals(), *_SUBMODULES})
