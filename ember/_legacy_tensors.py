"""PyTorch's legacy typed tensor classes: ember.FloatTensor, LongTensor ... on the CPU and
ember.cuda.FloatTensor ... on CUDA. Each makes tensors of one dtype and device type (from data, from sizes, as
an alias of a tensor or over a storage), and isinstance() matches a tensor by its dtype and device; no tensor
is an instance of one by its class (they are not Tensor subclasses, as in PyTorch). Also here: the legacy
constructor behind them and behind ember.Tensor(...), set_default_tensor_type, and the type strings of
Tensor.type() ('torch.FloatTensor', 'torch.cuda.LongTensor'): PyTorch's spelling, which user code compares
against."""
import importlib
import numbers
import warnings
from collections.abc import Mapping

import numpy as np

from . import _dtype as _dt, ops
from ._device import CPU, to_device
from ._layout import strided
from ._size import Size
from ._tensor import Tensor

# dtype name -> the name PyTorch gives tensors of that dtype; complex ones have a name but no class
TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
              "bfloat16": "BFloat16Tensor", "uint8": "ByteTensor", "int8": "CharTensor",
              "int16": "ShortTensor", "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor",
              "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor"}
_DTYPE_OF = {name: _dt._BY_NAME[dtype_name] for dtype_name, name in TYPE_NAMES.items()}


def type_string(tensor):
    """Tensor.type(): 'torch.FloatTensor' on the CPU, 'torch.cuda.FloatTensor', 'torch.meta.FloatTensor',
    'torch.sparse.FloatTensor' for a sparse COO tensor."""
    kind = tensor._device.type
    name = TYPE_NAMES[tensor.dtype.name]
    if tensor.is_sparse:
        return f"torch.sparse.{name}"
    return f"torch.{name}" if kind == "cpu" else f"torch.{kind}.{name}"


class tensortype(type):
    """The class of the legacy classes (PyTorch's torch.tensortype). Calling one runs the legacy constructor;
    isinstance() compares dtype and device type; Tensor's attributes are reachable through the class
    (ember.FloatTensor.add is ember.Tensor.add, as in PyTorch)."""

    def __call__(cls, *args, **kwargs):
        _check_available(cls)
        return legacy_new(cls._dtype, cls._device_type, args, kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls._dtype and obj._device.type == cls._device_type \
            and obj.layout is strided              # a sparse tensor is an ember.sparse.FloatTensor & co

    @property
    def dtype(cls):
        return cls._dtype

    @property
    def layout(cls):
        return strided

    @property
    def is_sparse(cls):
        return cls.layout is not strided

    @property
    def is_cuda(cls):
        return cls._device_type == "cuda"

    def __getattr__(cls, name):
        found = getattr(Tensor, name, None) if not name.startswith("__") else None
        if found is None:
            raise AttributeError(f"type object '{cls.__module__}.{cls.__name__}' has no attribute '{name}'")
        return found

    def __dir__(cls):
        return sorted({*type.__dir__(cls), *dir(Tensor)})


def _legacy_class(name, device_type):
    module = "ember" if device_type == "cpu" else f"ember.{device_type}"
    doc = f"Legacy constructor of {_DTYPE_OF[name]} tensors on {device_type}."
    return tensortype(name, (), {"__module__": module, "__qualname__": name, "__slots__": (), "__doc__": doc,
                                 "_dtype": _DTYPE_OF[name], "_device_type": device_type})


def _check_available(cls):
    if cls._device_type == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise TypeError(f"type torch.cuda.{cls.__name__} not available. Torch not compiled with CUDA "
                            "enabled.")


_CLASS_NAMES = ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
                "ShortTensor", "IntTensor", "LongTensor", "BoolTensor")
CPU_TYPES = {name: _legacy_class(name, "cpu") for name in _CLASS_NAMES}      # ember.FloatTensor ...
CUDA_TYPES = {name: _legacy_class(name, "cuda") for name in _CLASS_NAMES}    # ember.cuda.FloatTensor ...

(FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor, ShortTensor, IntTensor,
 LongTensor, BoolTensor) = CPU_TYPES.values()


# --- the legacy constructor -------------------------------------------------------------------------------

def legacy_new(dtype, device_type, args, kwargs, any_tensor=False):
    """PyTorch's legacy constructor (FloatTensor(...), Tensor(...)) for `dtype` on `device_type`:
    () an empty 1-D tensor; (*sizes) or (Size) an uninitialised tensor (zero-filled in ember); (tensor) an
    alias of it (autograd sees AliasBackward0), which must have this dtype and device type unless
    `any_tensor`; (storage) a tensor over an UntypedStorage; (sequence) a copy of the data. The only keyword
    is device=, of this device type; other devices and the default device are not used."""
    given = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new() received an invalid combination of arguments: unexpected keyword argument "
                        f"'{next(iter(kwargs))}' (the legacy constructor takes data or sizes, and device=)")
    if given is None:
        device = CPU if device_type == "cpu" else to_device(device_type)
    else:
        device = to_device(given)
        if device.type != device_type:
            raise RuntimeError(f"legacy constructor expects device type: {device_type} but device type: "
                               f"{device.type} was passed")
    if not args:
        return ops.creation.empty(0, dtype=dtype, device=device)
    if len(args) > 1:
        return ops.creation.empty(ops.views._shape_arg(args, "new"), dtype=dtype, device=device)
    arg = args[0]
    if isinstance(arg, Tensor):
        if given is not None:
            raise RuntimeError("Legacy tensor constructor of the form torch.Tensor(tensor, device=device) is "
                               "not supported.  Use torch.tensor(...) or torch.as_tensor(...) instead.")
        if not any_tensor and (arg.dtype is not dtype or arg._device.type != device_type):
            expected, got = _options(dtype, device_type), _options(arg.dtype, arg._device.type)
            raise TypeError(f"expected {expected} (got {got})")
        return ops.slicing.basic_index(arg, (Ellipsis,))          # an alias: a view of all of it
    if isinstance(arg, Size) or isinstance(arg, numbers.Integral) and not isinstance(arg, (bool, np.bool_)):
        return ops.creation.empty(ops.views._shape_arg((arg,), "new"), dtype=dtype, device=device)
    from .storage import UntypedStorage
    if isinstance(arg, UntypedStorage):
        if device_type != "cpu":
            raise TypeError(f"new(): a CPU storage cannot back a {device_type} tensor")
        return ops.creation.empty(0, dtype=dtype).set_(arg)
    if isinstance(arg, str):
        raise TypeError("new(): invalid data type 'str'")
    if not _is_sequence(arg):
        raise TypeError(f"new(): data must be a sequence (got {_qualified_name(type(arg))})")
    return ops.creation.tensor(arg, dtype=dtype, device=device)


def _options(dtype, device_type):
    from .ops.sampling import _CPP_NAME
    cpp_name = _CPP_NAME.get(dtype.name, dtype.name)
    return f"TensorOptions(dtype={cpp_name}, device={device_type}, layout=Strided)"


def _is_sequence(obj):
    # What Python's C API calls a sequence (PySequence_Check): indexable by position, not a mapping. NumPy's
    # scalars are indexable (x[()]) but no sequence there; NumPy arrays, 0-d ones too, are data.
    return isinstance(obj, np.ndarray) or (hasattr(type(obj), "__getitem__") and not isinstance(obj, Mapping)
                                           and not isinstance(obj, np.generic))


def _qualified_name(cls):
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


# --- the default tensor type: what ember.Tensor(...) makes -----------------------------------------------

_default_device_type = ["cpu"]          # set_default_tensor_type(ember.cuda.FloatTensor) makes it "cuda"
_WARNED = []                            # PyTorch warns once per process about set_default_tensor_type


def default_new(args, kwargs):
    """ember.Tensor(...): the legacy constructor in the default dtype; Tensor(tensor) aliases any dtype."""
    return legacy_new(_dt.get_default_dtype(), _default_device_type[0], args, kwargs, any_tensor=True)


def set_default_tensor_type(t, /):
    """Deprecated in PyTorch (2.1): make the floating-point legacy class `t` (or its name,
    'torch.DoubleTensor') the default: its dtype becomes the default dtype (set_default_dtype), a cuda class
    also makes cuda the default device. Use set_default_dtype and set_default_device instead."""
    if not _WARNED:
        _WARNED.append(True)
        warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                      "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                      UserWarning, stacklevel=2)
    if isinstance(t, str):
        t = _import_dotted_name(t)
    if not isinstance(t, tensortype):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    if not t._dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _check_available(t)
    _dt.set_default_dtype(t._dtype)
    if t._device_type != _default_device_type[0]:
        ops.creation.set_default_device(None if t._device_type == "cpu" else t._device_type)
        _default_device_type[0] = t._device_type


def _import_dotted_name(name):
    """The object a dotted name names, as PyTorch resolves it; 'torch.' names resolve in ember."""
    first, *rest = name.split(".")
    obj = importlib.import_module("ember" if first == "torch" else first)
    for part in rest:
        obj = getattr(obj, part)
    return obj


# --- Tensor.type(dtype) ---------------------------------------------------------------------------------

def convert(tensor, target, non_blocking=False, memory_format=None):
    """Tensor.type(target): target is a legacy class, its name ('torch.cuda.LongTensor'), ember.Tensor (the
    default type) or a dtype; the result is tensor itself when nothing changes."""
    if isinstance(target, _dt.dtype):
        return tensor.to(target, non_blocking=non_blocking, memory_format=memory_format)
    if isinstance(target, str):
        dtype, device_type = _parse_type_name(target)
    elif isinstance(target, tensortype):
        dtype, device_type = target._dtype, target._device_type
    elif target is Tensor:
        dtype, device_type = _dt.get_default_dtype(), _default_device_type[0]
    elif isinstance(target, type):
        raise ValueError(f"invalid type: '{_qualified_name(target)}'")
    else:
        raise TypeError("dtype must be a type, str, or dtype object")
    device = tensor._device if tensor._device.type == device_type else to_device(device_type)
    return tensor.to(device, dtype, non_blocking=non_blocking, memory_format=memory_format)


def _parse_type_name(name):
    module, _, short = name.rpartition(".")
    prefix, _, device_type = module.partition(".")
    if device_type == "sparse":                   # 'torch.sparse.DoubleTensor': the dtype (the layout is kept)
        device_type = ""
    if prefix in ("torch", "ember") and device_type in ("", "cuda"):
        if short == "Tensor":
            return _dt.get_default_dtype(), device_type or "cpu"
        if short in _DTYPE_OF:
            return _DTYPE_OF[short], device_type or "cpu"
    raise ValueError(f"invalid type: {name!r}")
