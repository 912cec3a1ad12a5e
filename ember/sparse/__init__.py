"""ember.sparse: PyTorch's torch.sparse for sparse COO tensors (layout ember.sparse_coo): mm, addmm, sum,
softmax, log_softmax, check_sparse_tensor_invariants and the deprecated FloatTensor & co constructors. The
tensors themselves are ember.Tensor (Note [sparse storage] in ember/sparse/_coo_array.py); their primitives
are in ember/ops/sparse_ops.py, which this module's functions come from on first use (ember._tensor imports
this package before ember.ops exists)."""

__all__ = ["addmm", "check_sparse_tensor_invariants", "log_softmax", "mm", "softmax", "sum", "BFloat16Tensor",
           "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor", "LongTensor",
           "ShortTensor"]
_LEGACY = tuple(__all__[6:])

# name here -> name in ember.ops.sparse_ops
_FUNCTIONS = {"mm": "sparse_mm", "addmm": "sparse_addmm", "sum": "sparse_sum", "softmax": "sparse_softmax",
              "log_softmax": "sparse_log_softmax"}


class check_sparse_tensor_invariants:
    """Whether sparse_coo_tensor checks its invariants by default (PyTorch's switch, a context manager too).
    ember checks the indices against the size always; the switch decides whether an is_coalesced=True claim
    is verified, as in PyTorch."""
    _enabled = False

    def __init__(self, enable=True):
        self.state = enable
        self.saved_state = None

    @staticmethod
    def is_enabled():
        return check_sparse_tensor_invariants._enabled

    @staticmethod
    def enable():
        check_sparse_tensor_invariants._enabled = True

    @staticmethod
    def disable():
        check_sparse_tensor_invariants._enabled = False

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a different context "
                               "manager instance for context nesting.")
        self.saved_state = check_sparse_tensor_invariants._enabled
        check_sparse_tensor_invariants._enabled = self.state

    def __exit__(self, *exc):
        check_sparse_tensor_invariants._enabled = self.saved_state
        self.saved_state = None

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with check_sparse_tensor_invariants(self.state):
                return fn(*args, **kwargs)
        return run


def __getattr__(name):
    if name in _FUNCTIONS:
        from ..ops import sparse_ops
        fn = getattr(sparse_ops, _FUNCTIONS[name])
        globals()[name] = fn
        return fn
    if name in _LEGACY:
        from ._legacy import CLASSES
        globals().update(CLASSES)
        return CLASSES[name]
    raise AttributeError(f"module 'ember.sparse' has no attribute '{name}'")


def __dir__():
    return sorted({*globals(), *__all__})
