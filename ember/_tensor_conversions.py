"""Tensor's conversions, written in Python rather than bound from the ops registry: item/tolist/numpy, to()
and its argument parsing, cpu/cuda, the dtype casts (float, double, long, ...), type() with PyTorch's legacy
type names ("torch.FloatTensor", see _legacy_tensors.py), and the new_* factories (a new tensor with this
one's dtype and device). Like TensorProtocols (_tensor_protocols.py), TensorConversions is not a base
class: _tensor.py copies its entries into Tensor's own __dict__. This module imports ember.ops, so it is
imported at the end of _tensor.py."""
from numpy import ndarray as _np_ndarray

from . import _dtype as _dt, _legacy_tensors, ops
from ._device import to_device
from ._memory_format import memory_format as _memory_format
from ._tensor import Tensor
from ._layout import c10_name as _c10_name, strided as _strided
from .sparse._coo_array import SparseCOOArray as _SparseCOO


def _type_name(t):
    """'FloatTensor' for a float32 tensor (no module prefix; autograd's messages add their own)."""
    return _legacy_tensors.TYPE_NAMES[t.dtype.name]


def _size_arg(name, sizes, size):
    """new_zeros/new_ones/new_empty's sizes: positional (2, 3), one sequence ((2, 3)) or size=(2, 3)."""
    if size is not None and not hasattr(size, "__iter__"):
        raise TypeError(f"{name}(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    if not sizes and size is None:
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    return ops.views._shape_arg(sizes, name, keyword=size)


def _parse_to(tensor, args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    memory_format = kwargs.pop("memory_format", None)
    if memory_format is not None and memory_format.__class__ is not _memory_format:
        raise TypeError(f"to() received an invalid combination of arguments - got (memory_format="
                        f"{type(memory_format).__name__}): memory_format must be a torch.memory_format")
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg._device, arg.dtype
        elif isinstance(arg, _dt.dtype) or (arg in (float, int, bool, complex)):
            dtype = arg
        elif isinstance(arg, bool):
            copy = arg
        elif arg is not None:
            device = arg
    return (to_device(device) if device is not None else None,
            _dt.to_dtype(dtype) if dtype is not None else None, copy, memory_format)


class TensorConversions:
    """The conversion methods of Tensor; _tensor.py copies them into Tensor (see the module docstring)."""
    # --- to Python and NumPy ---------------------------------------------------------------------
    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted to Scalar")
        self._check_materialized("item")
        return self._backend().to_numpy(self._array).reshape(()).item()

    def tolist(self):
        self._check_materialized("tolist")
        return self._backend().to_numpy(self._array).tolist()

    def numpy(self, *, force=False):
        if self._device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                                "to copy the tensor to host memory first.")
            return self._backend().to_numpy(self._array)
        if (self._requires_grad or self._base is not None and self._base._requires_grad) and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if self._array.__class__ is not _np_ndarray and self.layout is not _strided:   # Note [sparse storage]
            raise TypeError(f"can't convert {_c10_name(self.layout)} layout tensor to numpy. Use Tensor.to_dense() "
                            "first.")
        if self.dtype is _dt.bfloat16 and not force:
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._array

    # --- to another dtype or device ---------------------------------------------------------------
    def type(self, dtype=None, non_blocking=False, *, memory_format=None):
        """With no dtype, PyTorch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor'); else this tensor
        as a legacy class (ember.LongTensor), its name ('torch.LongTensor') or a dtype: self if already so."""
        if dtype is None:
            return _legacy_tensors.type_string(self)
        return _legacy_tensors.convert(self, dtype, non_blocking, memory_format)

    def to(self, *args, **kwargs):
        device, dtype, copy, memory_format = _parse_to(self, args, kwargs)
        return ops.creation._to(self, device, dtype, copy, memory_format)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(to_device(device if device is not None else "cuda"))

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def bfloat16(self):
        _dt.check_bfloat16()
        return self.to(_dt.bfloat16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def short(self):
        return self.to(_dt.int16)

    def char(self):
        return self.to(_dt.int8)

    def byte(self):
        return self.to(_dt.uint8)

    def bool(self):
        return self.to(_dt.bool_)

    def cfloat(self):
        return self.to(_dt.complex64)

    def cdouble(self):
        return self.to(_dt.complex128)

    # new_* factories follow the source tensor's dtype and device by default.
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return ops.creation.tensor(data, dtype=dtype or self.dtype, device=device or self._device,
                                   requires_grad=requires_grad)

    # sizes as new_zeros(2, 3), new_zeros((2, 3)) or new_zeros(size=(2, 3)), as PyTorch takes them
    def new_zeros(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False):
        if self._array.__class__ is _SparseCOO:      # a sparse tensor's new tensors are sparse, as in PyTorch
            return ops.sparse_coo_ops.new_empty(self, _size_arg("new_zeros", sizes, size), dtype, device,
                                                requires_grad)
        return ops.creation.zeros(_size_arg("new_zeros", sizes, size), dtype=dtype or self.dtype,
                                  device=device or self._device, requires_grad=requires_grad)

    def new_ones(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False):
        return ops.creation.ones(_size_arg("new_ones", sizes, size), dtype=dtype or self.dtype,
                                 device=device or self._device, requires_grad=requires_grad)

    def new_empty(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False):
        if self._array.__class__ is _SparseCOO:
            return ops.sparse_coo_ops.new_empty(self, _size_arg("new_empty", sizes, size), dtype, device,
                                                requires_grad)
        return ops.creation.empty(_size_arg("new_empty", sizes, size), dtype=dtype or self.dtype,
                                  device=device or self._device, requires_grad=requires_grad)

    def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                          pin_memory=False):
        """empty_strided(size, stride) in this tensor's dtype and device unless given."""
        from ._aliases import empty_strided
        return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self._device,
                             requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return ops.creation.full(size, fill_value, dtype=dtype or self.dtype, device=device or self._device,
                                 requires_grad=requires_grad)
