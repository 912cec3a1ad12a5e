"""ember.sparse.FloatTensor & co: PyTorch's deprecated constructors of sparse COO tensors (torch.sparse.FloatTensor
(indices, values, size) in older graph-network code), with isinstance() by layout and dtype."""
import warnings

from .._layout import sparse_coo
from .._legacy_tensors import _DTYPE_OF, tensortype

_NAMES = ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor", "ShortTensor",
          "IntTensor", "LongTensor")


class sparse_tensortype(tensortype):
    """The class of ember.sparse.FloatTensor & co: calling one builds a sparse COO tensor, with PyTorch's warning."""

    def __call__(cls, *args, device=None):
        from .._tensor import Tensor
        from ..ops.sparse_ops import sparse_coo_tensor
        if args and isinstance(args[0], Tensor):          # (indices, values[, size]): values keep their dtype
            warnings.warn("torch.sparse.SparseTensor(indices, values, shape, *, device=) is deprecated.  Please use "
                          "torch.sparse_coo_tensor(indices, values, shape, dtype=, device=).", UserWarning, stacklevel=2)
            return sparse_coo_tensor(*args, device=device)
        if not args:
            warnings.warn("torch.sparse.SparseTensor() is deprecated.  Please use torch.sparse_coo_tensor((0,), "
                          "dtype=).", UserWarning, stacklevel=2)
        else:
            warnings.warn("torch.sparse.SparseTensor(shape, *, device=) is deprecated.  Please use "
                          "torch.sparse_coo_tensor(shape, dtype=, device=).", UserWarning, stacklevel=2)
        sizes = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else args
        return sparse_coo_tensor(sizes or (0,), dtype=cls._dtype, device=device)

    def __instancecheck__(cls, obj):
        from .._tensor import Tensor
        return isinstance(obj, Tensor) and obj.is_sparse and obj.dtype is cls._dtype

    @property
    def layout(cls):
        return sparse_coo


def _sparse_class(name):
    return sparse_tensortype(name, (), {"__module__": "ember.sparse", "__qualname__": name, "__slots__": (),
                                        "__doc__": f"Legacy constructor of sparse {_DTYPE_OF[name]} tensors.",
                                        "_dtype": _DTYPE_OF[name], "_device_type": "cpu"})


CLASSES = {name: _sparse_class(name) for name in _NAMES}
