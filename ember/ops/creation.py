"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/empty/full (+ _like), arange, linspace, eye."""
import builtins
import functools
import itertools
import math
import numbers
import operator

import numpy as np

from .. import _dtype as _dt
from .._device import CPU, _default as _default_device, get_default_device, set_default_device, to_device
from .._tensor import _SPARSE_STORAGES, Tensor, _make
from ..autograd.function import Function, Op
from .._backends import backend_for
from ..storage import UntypedStorage
from .. import _memory_format as _mf
from .._backends import strided_module as _strided_module
from .._memory_format import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from ._common import checked_scalar
from ._registry import PUBLIC, export
from ._shapes import parse_shape, parse_size
from ..amp._dispatch import AUTOCAST, autocast_run


def _finish(array, device, requires_grad):
    t = _make(array, device)
    if requires_grad:
        t.requires_grad = True                     # validates float/complex like PyTorch
    return t


def _device_and_xp(device):
    device = to_device(device) if device is not None else _default_device[0]
    return device, backend_for(device).xp


# Note [tensor from data]: tensor(data) reads nested sequences as PyTorch does (torch/csrc/utils/tensor_new.cpp):
# the shape follows the first element at each level, and a Tensor is an element, not a sequence
# (tensor([t1, t2]) of one-element tensors has shape (2,)); without dtype, the dtype is the promotion of every
# element's (a Python float: the default dtype, an int: int64, NumPy scalars and arrays: their own); each
# element is then stored into the dtype with PyTorch's checks: an integer dtype refuses values out of its
# range (RuntimeError "value cannot be converted ... without overflow"; negative ints wrap into unsigned
# types down to -max, floats do not), Python ints past int64 (ValueError), complex numbers and non-integer
# tensors or NumPy floats other than float64 (TypeError), and a real dtype refuses Python complex numbers
# (TypeError). A NumPy array or a Tensor given as the data is cast as a whole instead, wrapping like .to().
# The common inputs (nested lists of Python numbers, NumPy scalars or arrays) go through np.asarray with
# whole-array checks (_from_numbers); anything else element by element (_from_elements).

_SEQUENCE_TYPES = frozenset((list, tuple))
_NUMBER_KINDS = {float: "f", int: "i", bool: "b", builtins.complex: "c"}   # how the element store reads each type
_INTEGER_KINDS = frozenset("bif")      # what an integer dtype accepts
_BOOL_KINDS = frozenset("bifcBZ")      # what bool accepts: not NumPy's float16/float32 ('x'), complex64 ('z')


def _leaf_level(data):
    """The elements at the bottom of nested lists and tuples and the set of their types; (None, None) when
    the branches have different depths."""
    level = data
    while True:
        types = set(map(type, level))
        if not types & _SEQUENCE_TYPES:
            return level, types
        if not types <= _SEQUENCE_TYPES:
            return None, None
        level = list(itertools.chain.from_iterable(level))


def _number_kind(tp):
    """The kind of a leaf type (see _NUMBER_KINDS; NumPy's: 'B' bool, 'i', 'f' float64 (a Python float),
    'x' other floats, 'Z' complex128 (a Python complex), 'z' other complex), or None for anything else."""
    kind = _NUMBER_KINDS.get(tp)
    if kind is not None or not issubclass(tp, np.generic):
        return kind
    if issubclass(tp, np.bool_):
        return "B"
    if issubclass(tp, np.integer):
        return "i"
    if issubclass(tp, np.floating):
        return "f" if tp is np.float64 else "x"
    if issubclass(tp, np.complexfloating):
        return "Z" if tp is np.complex128 else "z"
    return None


def _leaf_dtype(tp):
    """The dtype PyTorch infers for an element of type tp (a Python number or a NumPy scalar)."""
    if tp is float:
        return _dt.get_default_dtype()
    if tp is builtins.complex:
        return _dt.get_default_dtype().to_complex()
    if tp is int:
        return _dt.int64
    if tp is bool:
        return _dt.bool_
    return _dt.from_numpy(np.dtype(tp))


def _type_name(tp):
    return tp.__name__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__name__}"


def _overflow(dtype):
    return RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")


def _from_numbers(data, leaves, types, dtype):
    """(array, dtype) for data whose elements are Python numbers, NumPy scalars or NumPy arrays (checked as
    a whole, Note [tensor from data]); None where the element-by-element path must decide."""
    arrays = np.ndarray in types
    if arrays:
        if len(types) > 1 or any(a.ndim == 0 for a in leaves):
            return None
        types = {a.dtype.type for a in leaves}
    kinds = {}
    for tp in types:
        kind = _number_kind(tp)
        if kind is None:
            return None
        kinds[kind] = tp
    if dtype is None:
        if arrays:
            dtype = functools.reduce(_dt.promote_types, [_dt.from_numpy(a.dtype) for a in leaves])
        elif len(types) == 1:
            dtype = _leaf_dtype(tp)
        else:
            dtype = functools.reduce(_dt.promote_types, map(_leaf_dtype, types), _dt.bool_) if types \
                else _dt.get_default_dtype()
    category = dtype.category
    if category >= _dt.FLOAT:
        if "c" in kinds and category == _dt.FLOAT:
            raise TypeError("must be real number, not complex")
    else:
        allowed = _INTEGER_KINDS if category == _dt.INT else _BOOL_KINDS
        refused = next((tp for kind, tp in kinds.items() if kind not in allowed), None)
        if refused is not None:
            raise TypeError(f"'{_type_name(refused)}' object cannot be interpreted as an integer")
    try:
        arr = np.asarray(data)
    except ValueError:                                 # ragged: the element path says where
        return None
    if arr.dtype.kind not in "biufc":                  # Python ints past 64 bits: an object array
        return None
    if category == _dt.INT and arr.size:
        if "f" in kinds:
            if "i" in kinds or arr.dtype.kind != "f":  # ints and floats are checked by different rules
                return None
            info = np.iinfo(dtype.numpy)
            low, high = arr.min(), arr.max()
            if not (low >= float(info.min) and high <= float(info.max)):   # C++'s comparison, in double
                raise _overflow(dtype)
        elif "i" in kinds:
            if arr.dtype.kind not in "iub" or arr.dtype == np.uint64:   # Python ints past int64
                return None
            if dtype is not _dt.int64:
                info = np.iinfo(dtype.numpy)
                low, high = int(arr.min()), int(arr.max())
                if high > info.max or (low < -info.max if info.min == 0 else low < info.min):
                    raise _overflow(dtype)
    return arr, dtype


def _is_sequence(obj):
    """Python's sequence check (PySequence_Check) with PyTorch's exception: a Tensor is an element."""
    if isinstance(obj, (list, tuple, np.ndarray)):
        return True
    if isinstance(obj, (Tensor, np.generic, dict)):
        return False
    return hasattr(type(obj), "__getitem__")


def _sizes(data):
    sizes = []
    while _is_sequence(data):
        if isinstance(data, str) and data:             # 'a'[0] is 'a': PyTorch runs out of dimensions
            raise ValueError("too many dimensions 'str'")
        sizes.append(len(data))
        if not sizes[-1]:
            break
        data = data[0]
    return sizes


def _infer(data):
    """The dtype PyTorch infers for data: the promotion of all its elements' dtypes."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return _dt.from_numpy(data.dtype)
    if isinstance(data, float):
        return _dt.get_default_dtype()
    if isinstance(data, bool):
        return _dt.bool_
    if isinstance(data, int):
        return _dt.int64
    if isinstance(data, builtins.complex):
        return _dt.get_default_dtype().to_complex()
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if not _is_sequence(data):
        raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")
    if not len(data):
        return _dt.get_default_dtype()
    result = None
    for item in data:
        if item is data:
            raise TypeError("new(): self-referential lists are incompatible")
        found = _infer(item)
        result = found if result is None else _dt.promote_types(result, found)
    return result


def _flatten(data, sizes, dim, store, out):
    """out += store(element) for each element of data, a sequence at dim < len(sizes) of the shape sizes."""
    try:
        items = list(data)
    except TypeError:
        raise TypeError("not a sequence") from None
    if len(items) != sizes[dim]:
        raise ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} (got {len(items)})")
    if dim + 1 == len(sizes):
        out.extend(map(store, items))
    else:
        for item in items:
            _flatten(item, sizes, dim + 1, store, out)


def _item(t):
    """t.item() for a one-element tensor (straight from the array on the CPU: a list of 0-d tensors is common)."""
    return t._array.item() if t._device is CPU else t.item()


def _tensor_index(t):
    # what Tensor.__index__ accepts in PyTorch: one element, integer or bool
    if t._array.size != 1 or t.dtype.category > _dt.INT:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(_item(t))


def _store_int(dtype):
    info = np.iinfo(dtype.numpy)
    low, high = float(info.min), float(info.max)
    wraps = info.min == 0                              # -1 is 255 in uint8, -256 overflows

    def store(x):
        if isinstance(x, float):
            if not low <= x <= high:
                raise _overflow(dtype)
            return int(x)
        value = _tensor_index(x) if isinstance(x, Tensor) else operator.index(x)
        if not -2 ** 63 <= value < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")
        if value > info.max or (value < -info.max if wraps else value < info.min):
            raise _overflow(dtype)
        return value
    return store


def _store_bool(x):
    if isinstance(x, (float, builtins.complex, np.bool_)):
        return bool(x)
    return bool(_tensor_index(x) if isinstance(x, Tensor) else operator.index(x))


def _store_float(x):
    if isinstance(x, Tensor):
        if x._array.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        x = _item(x)
        if isinstance(x, builtins.complex):
            if x.imag:
                raise RuntimeError("value cannot be converted to type double without overflow")
            x = x.real
    try:
        return float(x)
    except TypeError:
        raise TypeError(f"must be real number, not {type(x).__name__}") from None


def _store_complex(x):
    if isinstance(x, Tensor):
        if x._array.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        x = _item(x)
    return builtins.complex(x)


def _from_elements(data, dtype):
    """(array, dtype) for any data, element by element as PyTorch reads it (Note [tensor from data])."""
    sizes = _sizes(data)
    if dtype is None:
        dtype = _infer(data)
    category = dtype.category
    store, carrier = {_dt.BOOL: (_store_bool, np.bool_), _dt.FLOAT: (_store_float, np.float64),
                      _dt.COMPLEX: (_store_complex, np.complex128)}.get(category, (None, np.int64))
    store = store or _store_int(dtype)
    values = []
    if not sizes:
        values.append(store(data))
    elif math.prod(sizes):
        _flatten(data, sizes, 0, store, values)
    return np.array(values, dtype=carrier).reshape(sizes), dtype


def _data_to_array(data, dtype):
    """(array, dtype) of tensor(data, dtype=dtype), before the cast to dtype."""
    if isinstance(data, Tensor):
        return data._backend().to_numpy(data._array), dtype or data.dtype
    if isinstance(data, np.ndarray):
        return data, dtype or _dt.from_numpy(data.dtype)
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if data.__class__ in _SEQUENCE_TYPES:
        leaves, types = _leaf_level(data)
    else:
        leaves, types = (data,), {type(data)}
    found = _from_numbers(data, leaves, types, dtype) if types is not None else None
    return found if found is not None else _from_elements(data, dtype)


@export(method=False)
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor (always a copy) from nested lists, scalars, NumPy arrays or tensors."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else None
    if dtype is not None and dtype.numpy is None:
        _dt.check_bfloat16()
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "or sourceTensor.clone().detach().requires_grad_(True), rather than "
                      "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
        if device is None and _default_device[0] is CPU:
            device = data._device             # PyTorch keeps the data's device unless one is asked for
        if data._device.type == "cuda":
            return _tensor_of_device_tensor(data, dtype or data.dtype, device, requires_grad)
    arr, dtype = _data_to_array(data, dtype)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device, _ = _device_and_xp(device)
    backend = backend_for(device)
    # a fresh array from a list is not copied again
    arr = np.array(arr, dtype=dtype.numpy, copy=arr is data or isinstance(data, Tensor) or None)
    return _finish(backend.from_numpy(arr) if device.type != "cpu" else arr, device, requires_grad)


def _tensor_of_device_tensor(data, dtype, device, requires_grad):
    """tensor(t) for a device tensor t: the copy and cast (wrapping like .to()) run on t's device, then move."""
    if dtype.numpy is None:
        _dt.check_bfloat16()
    source = data._backend()
    array = source.xp.array(data._array, dtype=dtype.numpy, copy=True)
    device = to_device(device)
    if device != data._device:
        array = backend_for(device).from_numpy(source.to_numpy(array))
    return _finish(array, device, requires_grad)


@export(method=False)
def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a NumPy array or tensor when dtype and device allow."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None or device is not None:
            out = data.to(device=device, dtype=dtype)
        return out
    if isinstance(data, np.ndarray) and (to_device(device) if device is not None else _default_device[0]) is CPU:
        if dtype is None or _dt.to_dtype(dtype).numpy == data.dtype:
            return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


@export(method=False)
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    if copy:
        out = tensor(obj, dtype=dtype, device=device)
    else:
        out = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


export(get_default_device, method=False)
export(set_default_device, method=False)


@export(method=False)
def from_numpy(ndarray):
    """A tensor sharing memory with `ndarray`: writes through either side are seen by the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a "
                         "copy of your array  with array.copy().) ")
    if ndarray.dtype.byteorder == ">":
        raise ValueError("given numpy array has byte order different from the native byte order. Conversion "
                         "between byte orders is currently not supported.")
    _dt.from_numpy(ndarray.dtype)
    return _make(ndarray, CPU)


def _dtype_or_default(dtype):
    return _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()


def _filled(shape, fill, dtype, device, requires_grad):
    dtype = _dtype_or_default(dtype)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device, xp = _device_and_xp(device)
    backend = backend_for(device)
    if fill is None:
        arr = backend.empty_like_shape(shape, dtype.numpy)
    elif fill == 0 and not (type(fill) is float and math.copysign(1.0, fill) < 0):     # full(s, -0.0) keeps -0.0
        arr = xp.zeros(shape, dtype=dtype.numpy)
    elif fill == 1:
        arr = xp.ones(shape, dtype=dtype.numpy)
    else:
        arr = xp.full(shape, fill, dtype=dtype.numpy)
    return _finish(arr, device, requires_grad)


@export(method=False)
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False, **kwargs):
    shape = parse_size(size, kwargs, "zeros") if kwargs else parse_shape(size)
    if layout is not None:
        sparse = _in_layout("zeros", shape, False, dtype, layout, device, requires_grad)
        if sparse is not None:
            return sparse
    return _filled(shape, 0, dtype, device, requires_grad)


def _in_layout(name, shape, filled, dtype, layout, device, requires_grad):
    """A factory's result in a sparse layout (ember/ops/sparse_coo_ops.py; filled: ones/full, which have none);
    None for strided."""
    from .sparse_coo_ops import factory
    return factory(name, shape, filled, dtype, layout, device, requires_grad)


def _like_in_layout(name, input, filled, dtype, layout, device, requires_grad):
    """A *_like result of a sparse input or in a sparse layout (ember/ops/sparse_coo_ops.py); None for strided."""
    from .sparse_coo_ops import like
    return like(name, input, filled, dtype, layout, device, requires_grad)


@export(method=False)
def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False, **kwargs):
    shape = parse_size(size, kwargs, "ones") if kwargs else parse_shape(size)
    if layout is not None:
        _in_layout("ones", shape, True, dtype, layout, device, requires_grad)      # strided, or refused
    return _filled(shape, 1, dtype, device, requires_grad)


@export(method=False)
def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, **kwargs):
    """Uninitialised in PyTorch; ember zero-fills (reading garbage helps nobody)."""
    shape = parse_size(size, kwargs, "empty") if kwargs else parse_shape(size)
    if layout is not None:
        sparse = _in_layout("empty", shape, False, dtype, layout, device, requires_grad)
        if sparse is not None:
            return sparse
    if memory_format is None or memory_format is contiguous_format:
        return _filled(shape, 0, dtype, device, requires_grad)
    _mf.check_type(memory_format, "empty")
    if memory_format is preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    _mf.check_rank(memory_format, len(shape))
    dtype = _dtype_or_default(dtype)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device, xp = _device_and_xp(device)
    if device.type == "meta":
        return _filled(shape, 0, dtype, device, requires_grad)
    out = _mf.empty(shape, dtype.numpy, xp, memory_format)
    out[...] = 0
    return _finish(out, device, requires_grad)


@export(method=False)
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if layout is not None:
        _in_layout("full", (), True, dtype, layout, device, requires_grad)     # strided, or refused
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    shape = parse_shape((size,))
    if dtype is None:
        dtype = _dt.result_type(fill_value)
    else:
        fill_value = _checked_fill(fill_value, _dt.to_dtype(dtype), shape)
    return _filled(shape, fill_value, dtype, device, requires_grad)


def _checked_fill(value, dtype, shape):
    """A fill value checked as PyTorch's fill_ checks it (values the dtype cannot hold are refused), except that a
    float overflowing a one-element float16 tensor gives inf, as PyTorch's one-element fill path does."""
    if dtype is _dt.float16 and value.__class__ is float and math.prod(shape) == 1:
        return value
    return checked_scalar(value, dtype)


PUBLIC["memory_format"] = memory_format
PUBLIC["UntypedStorage"] = UntypedStorage
for _format in (contiguous_format, preserve_format, channels_last, channels_last_3d):
    PUBLIC[_format.name] = _format


def layout_order(shape, strides):
    """The dims of a tensor of these shape and strides from outermost to innermost in memory, as PyTorch
    orders an output that preserves its input's layout (empty_like, clone, TensorIterator's outputs):
    an insertion sort of the dims by stride, from the innermost of a contiguous tensor outwards, where a
    larger stride (or, at equal strides, a larger size) moves out and a stride of 0 compares as equal to
    anything and stays where it is."""
    perm = list(range(len(shape) - 1, -1, -1))     # innermost first
    for i in range(1, len(perm)):
        moving = i
        for j in range(i - 1, -1, -1):
            inner, outer = perm[j], perm[moving]
            s_inner, s_outer = strides[inner], strides[outer]
            if s_inner == 0 or s_outer == 0:
                continue
            if s_inner < s_outer:
                break
            if s_inner > s_outer or shape[inner] > shape[outer]:
                perm[j], perm[moving] = outer, inner
                moving = j
    perm.reverse()
    return perm


def empty_array_like(array, np_dtype, xp, memory_format=None):
    """An uninitialised array of array's shape laid out as PyTorch's empty_like(memory_format) lays it out:
    preserve_format (the default) keeps a non-contiguous input's dim order (a transposed input gives a
    transposed result), contiguous_format is C order, channels_last is NHWC (NDHWC)."""
    shape = array.shape
    if memory_format is channels_last or memory_format is channels_last_3d:
        _mf.check_rank(memory_format, len(shape))
        return _mf.empty(shape, np_dtype, xp, memory_format)
    if len(shape) < 2 or memory_format is contiguous_format or array.flags.c_contiguous:
        return xp.empty(shape, dtype=np_dtype)
    else:
        order = layout_order(shape, array.strides)
    out = xp.empty(tuple(shape[d] for d in order), dtype=np_dtype)
    inverse = [0] * len(order)
    for position, d in enumerate(order):
        inverse[d] = position
    return out.transpose(inverse)


def copy_array(array, memory_format=None):
    """array.copy() laid out as PyTorch's clone(memory_format) lays it out (see empty_array_like): the
    default keeps a non-contiguous CPU array's dim order, so clone() of a transposed tensor is transposed."""
    if (memory_format is None and (array.ndim < 2 or array.flags.c_contiguous)) or memory_format is contiguous_format:
        return array.copy()
    xp = np if array.__class__ is np.ndarray else _strided_module(array)
    if xp is None:
        return array.copy()
    out = empty_array_like(array, array.dtype, xp, memory_format)
    out[...] = array
    return out


def _like(input, dtype, device):
    return (_dt.to_dtype(dtype) if dtype is not None else input.dtype,
            device if device is not None else input.device)


def _filled_like(input, fill, dtype, device, requires_grad, memory_format):
    """_filled(input.shape, ...) laid out like input (Note: PyTorch's *_like keep a non-contiguous
    input's layout, which decides whether a later .view() works)."""
    array = input._array
    if (memory_format is None or memory_format is preserve_format) and (array.ndim < 2 or array.flags.c_contiguous):
        return _filled(tuple(input.shape), fill, dtype, device, requires_grad)
    dtype, device = _like(input, dtype, device)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device, xp = _device_and_xp(device)
    if device.type == "meta" or input._device.type == "meta":
        return _filled(tuple(input.shape), fill, dtype, device, requires_grad)
    out = empty_array_like(array, dtype.numpy, xp, memory_format)
    out[...] = 0 if fill is None else fill
    return _finish(out, device, requires_grad)


@export(method=False)
def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    if layout is not None or input._array.__class__ in _SPARSE_STORAGES:
        sparse = _like_in_layout("zeros_like", input, False, dtype, layout, device, requires_grad)
        if sparse is not None:
            return sparse
    dtype, device = _like(input, dtype, device)
    return _filled_like(input, 0, dtype, device, requires_grad, memory_format)


@export(method=False)
def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    if layout is not None or input._array.__class__ in _SPARSE_STORAGES:
        _like_in_layout("ones_like", input, True, dtype, layout, device, requires_grad)     # strided, or refused
    dtype, device = _like(input, dtype, device)
    return _filled_like(input, 1, dtype, device, requires_grad, memory_format)


@export(method=False)
def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    if layout is not None or input._array.__class__ in _SPARSE_STORAGES:
        sparse = _like_in_layout("empty_like", input, False, dtype, layout, device, requires_grad)
        if sparse is not None:
            return sparse
    dtype, device = _like(input, dtype, device)
    return _filled_like(input, 0, dtype, device, requires_grad, memory_format)


@export(method=False)
def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    if layout is not None or input._array.__class__ in _SPARSE_STORAGES:
        _like_in_layout("full_like", input, True, dtype, layout, device, requires_grad)     # strided, or refused
    dtype, device = _like(input, dtype, device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    fill_value = _checked_fill(fill_value, _dt.to_dtype(dtype), input._array.shape)
    return _filled_like(input, fill_value, dtype, device, requires_grad, memory_format)


@export(method=False)
def arange(start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Values in [start, end) with step; int64 for integer arguments, else the default float dtype."""
    if end is None:
        start, end = 0, start
    start, end, step = (s.item() if isinstance(s, Tensor) else s for s in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = _dt.int64 if is_int else _dt.get_default_dtype()
    dtype = _dt.to_dtype(dtype)
    if dtype is _dt.bool_:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    if dtype is _dt.int64 and not all(isinstance(v, numbers.Integral) for v in (start, end, step)):
        # PyTorch's int64 arange truncates all three arguments first (a step of 0.5 becomes 0: its ValueError)
        start, end, step = builtins.int(start), builtins.int(end), builtins.int(step)
        if step == 0:
            raise ValueError("step must be nonzero")
    device, xp = _device_and_xp(device)
    n = max(0, math.ceil((end - start) / step))
    if dtype.category >= _dt.FLOAT:
        # computed in float64 like PyTorch's accumulate type, then rounded once
        arr = (xp.arange(n, dtype=np.float64) * step + start).astype(dtype.numpy)
    else:
        # the other integer dtypes: the length from the float arguments, the values start + i * step in the
        # int64 accumulate type from the truncated start and step (so arange(0, 2.5, 0.5) is five zeros), wrapping
        arr = (xp.arange(n, dtype=np.int64) * builtins.int(step) + builtins.int(start)).astype(dtype.numpy)
    return _finish(arr, device, requires_grad)


@export(method=False, name="range")
def range_(start, end, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """torch.range (deprecated there, with a UserWarning): start, start + step, ... up to end included; the
    default float dtype even for int arguments; integer dtypes truncate start, end and step first."""
    import warnings
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    start, end, step = (s.item() if isinstance(s, Tensor) else s for s in (start, end, step))
    dtype = _dt.to_dtype(dtype) if dtype is not None else \
        out.dtype if out is not None else _dt.get_default_dtype()
    if dtype.category < _dt.FLOAT:
        start, end, step = builtins.int(start), builtins.int(end), builtins.int(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = math.floor((end - start) / step) + 1
    acc = np.int64 if dtype.category < _dt.FLOAT else np.float64      # PyTorch's accumulate type
    if out is not None:
        values = out._backend().xp.arange(n, dtype=acc) * acc(step) + acc(start)
        return out.resize_(n).copy_(_make(values, out._device))
    device, xp = _device_and_xp(device)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    return _finish((xp.arange(n, dtype=acc) * acc(step) + acc(start)).astype(dtype.numpy), device, requires_grad)


range_.__name__ = range_.__qualname__ = "range"


@export(method=False)
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end, computed symmetrically from both ends like PyTorch."""
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, numbers.Integral):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    start, end = (s.item() if isinstance(s, Tensor) else s for s in (start, end))
    if dtype is None and (isinstance(start, builtins.complex) or isinstance(end, builtins.complex)):
        dtype = _dt.get_default_dtype().to_complex()
    dtype = _dtype_or_default(dtype)
    device, xp = _device_and_xp(device)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    if dtype is _dt.bool_:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if dtype.category in (_dt.INT, _dt.FLOAT) and steps > 1:
        return _finish(_linspace_kernel(xp, start, end, steps, dtype), device, requires_grad)
    if steps == 1:
        arr = xp.asarray([start], dtype=np.float64 if dtype.category <= _dt.FLOAT else np.complex128)
    else:
        step = (end - start) / (steps - 1) if steps > 1 else 0.0
        idx = xp.arange(steps, dtype=np.float64)
        half = steps // 2
        arr = xp.where(idx < half, start + step * idx, end - step * (steps - 1 - idx))
    if dtype.category < _dt.FLOAT:
        arr = xp.trunc(arr)
    return _finish(arr.astype(dtype.numpy), device, requires_grad)


def _linspace_kernel(xp, start, end, steps, dtype):
    """PyTorch's CPU linspace, bit for bit: step = (end - start) / (steps - 1) in the dtype's arithmetic
    (double for integer dtypes); element i is start + step * i in the first half and end - step * (steps -
    1 - i) in the second, each a fused multiply-add (one rounding) as the compiler contracts them; half
    types (float16, bfloat16) round after every operation instead. Computed with the array module xp (each
    operation its own kernel on a device, so none is contracted into an FMA and the error terms stay exact)."""
    i = xp.arange(steps)
    first = i < steps // 2
    count = xp.where(first, i, steps - 1 - i)
    if dtype.category == _dt.INT:
        s, e = float(int(start)), float(int(end))          # the ends convert to the integer type first
        step = (e - s) / (steps - 1)
        values = _fma64(xp.where(first, step, -step), count.astype(np.float64), xp.where(first, s, e))
        return xp.trunc(values).astype(dtype.numpy)
    t = dtype.numpy
    s, e = t.type(start), t.type(end)
    if dtype.itemsize < 4:                                    # c10::Half / BFloat16: every operation rounds
        step = t.type(t.type(e - s) / t.type(steps - 1))
        c = count.astype(t)
        return xp.where(first, s + step * c, e - step * c).astype(t)
    step = (e - s) / t.type(steps - 1)
    c = count.astype(t).astype(np.float64)                   # the index converts to the dtype first
    base = xp.where(first, np.float64(s), np.float64(e))
    signed = xp.where(first, np.float64(step), -np.float64(step))
    if t == np.float64:
        return _fma64(signed, c, base)
    # float32: the product is exact in double; the sum, rounded to odd in double, rounds correctly to float
    product = signed * c
    hi = base + product
    lo = _two_sum_error(base, product, hi)
    even = (hi.view(np.int64) & 1) == 0
    hi = xp.where((lo != 0) & even, xp.nextafter(hi, xp.where(lo > 0, np.inf, -np.inf)), hi)
    return hi.astype(np.float32)


def _two_sum_error(a, b, s):
    """The exact rounding error of s = fl(a + b) (Knuth's TwoSum)."""
    bb = s - a
    return (a - (s - bb)) + (b - bb)


def _split(a):
    """Veltkamp's split of doubles into 26-bit halves: a = hi + lo exactly."""
    c = a * 134217729.0
    hi = c - (c - a)
    return hi, a - hi


def _fma64(a, b, c):
    """a * b + c with (nearly always) a single rounding: the product and sum errors are recovered exactly
    (Dekker's TwoProduct, TwoSum) and added back."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    ep = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    return s + (_two_sum_error(p, c, s) + ep)


@export(method=False)
def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    exps = linspace(start, end, steps, dtype=_dt.float64, device=device)
    dtype = _dtype_or_default(dtype)
    return _finish((base ** exps._array).astype(dtype.numpy), exps.device, requires_grad)


@export(method=False)
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    for name, value in (("n", n), ("m", m)):
        if value is not None and value < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {value}")
    dtype = _dtype_or_default(dtype)
    device, xp = _device_and_xp(device)
    return _finish(xp.eye(n, m if m is not None else n, dtype=dtype.numpy), device, requires_grad)


@export(method=False)
def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    return _triangle_indices("tril_indices", row, col, offset, dtype, device)


@export(method=False)
def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    return _triangle_indices("triu_indices", row, col, offset, dtype, device)


def _triangle_indices(fn, row, col, offset, dtype, device):
    for name, value in (("row", row), ("col", col)):
        if value < 0:
            raise RuntimeError(f"{name} must be non-negative, got{value}")
    device, xp = _device_and_xp(device)
    r, c = getattr(xp, fn)(row, offset, col)
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    return _finish(xp.asarray(xp.stack([r, c]).astype(dtype.numpy)), device, False)   # (meta's are NumPy's)


@export(method=False)
def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return full((), s, dtype=dtype or _dt.get_default_dtype(), device=device, requires_grad=requires_grad)


# --- complex numbers from real parts --------------------------------------------------------------------

def _complex_result(xp, real, imag):
    """real + i imag, each part written in place (a product with 1j would turn an infinite part into NaN)."""
    out = xp.empty(xp.broadcast_shapes(real.shape, imag.shape), dtype=np.result_type(real.dtype, np.complex64))
    out.real = real
    out.imag = imag
    return out


def _parts(grad):
    """The real and imaginary parts of a complex gradient, differentiably (views of view_as_real)."""
    from .views import view_as_real
    parts = view_as_real(grad)
    return parts[..., 0], parts[..., 1]


class Complex(Op):
    """real + i imag. Each part's gradient is the matching part of the (complex) gradient. PyTorch's
    ComplexBackward0 saves the parts whose gradients it computes, though its formula reads neither: saving them
    too makes a later in-place change of one an error in backward, as there."""
    broadcasts = True
    holomorphic = False                            # the gradient is taken apart, not conjugated

    @staticmethod
    def forward(ctx, real, imag):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(real if needs[0] else None, imag if needs[1] else None)
        return _complex_result(ctx.xp, real, imag)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                          # noqa: B018 (the version check)
        grad_real, grad_imag = _parts(grad)
        needs = ctx.needs_input_grad
        return grad_real if needs[0] else None, grad_imag if needs[1] else None


class Polar(Op):
    """abs * (cos(angle) + i sin(angle)). PyTorch's PolarBackward0 saves the result r and takes, for a gradient
    g, real(conj(g) * sgn(r)) for abs (0 where r is 0; the sign flips for a negative abs, as there) and
    real(conj(g) * i r) for angle; written here on real and imaginary parts, so it differentiates again."""
    broadcasts = True
    holomorphic = False

    @staticmethod
    def forward(ctx, abs, angle):
        xp = ctx.xp
        out = _complex_result(xp, abs * xp.cos(angle), abs * xp.sin(angle))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        from .comparison import where
        (result,) = ctx.saved_tensors
        g_re, g_im = _parts(grad)
        r_re, r_im = _parts(result)
        needs = ctx.needs_input_grad
        grad_abs = grad_angle = None
        if needs[0]:
            squared = r_re * r_re + r_im * r_im
            zero = squared == 0
            grad_abs = where(zero, 0.0, (g_re * r_re + g_im * r_im) / where(zero, 1.0, squared).sqrt())
        if needs[1]:
            grad_angle = g_im * r_re - g_re * r_im
        return grad_abs, grad_angle


_COMPLEX_PARTS = (_dt.float16, _dt.float32, _dt.float64)


def _check_parts(name, first, second, names):
    for position, (arg, value) in enumerate(zip(names, (first, second)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                            f"{type(value).__name__}")
    a, b = first.dtype, second.dtype
    if a not in _COMPLEX_PARTS or b not in _COMPLEX_PARTS:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{_dt.scalar_type_name(a)} and {_dt.scalar_type_name(b)}")
    if a is not b:
        raise RuntimeError(f"Expected object of scalar type {_dt.scalar_type_name(a)} but got scalar type "
                           f"{_dt.scalar_type_name(b)} for second argument")


@export(method=False)
def complex(real, imag):
    """real + i imag, broadcast; both float16/32/64 of one dtype (float16 gives complex64: ember has no
    complex32)."""
    _check_parts("complex", real, imag, ("real", "imag"))
    return Complex.apply(real, imag)


@export(method=False)
def polar(abs, angle):
    """abs * (cos(angle) + i sin(angle)), broadcast; both float32 or both float64."""
    if "polar" in AUTOCAST:
        return autocast_run("polar", polar, abs, angle)
    _check_parts("polar", abs, angle, ("abs", "angle"))
    if abs.dtype is _dt.float16:
        raise NotImplementedError("\"polar_cpu\" not implemented for 'Half'")
    return Polar.apply(abs, angle)


# --- conversion between devices and dtypes ------------------------------------------------------------

class ToDevice(Function):
    """A differentiable copy to another device (the gradient goes back to the source device). A custom Function,
    not an Op: an Op's outputs live on its inputs' device."""

    @staticmethod
    def forward(ctx, input, device):
        ctx.src = input._device
        return _copy_to_device(input, device)

    @staticmethod
    def backward(ctx, grad):
        return grad.to(ctx.src), None


ToDevice._node_cls.__name__ = ToDevice._node_cls.__qualname__ = "ToCopyBackward0"


def _to(t, device, dtype, copy, memory_format=None):
    if memory_format is not None and memory_format is not preserve_format:
        return _to_format(t, device, dtype, copy, memory_format)
    out = t
    if dtype is not None and dtype is not t.dtype:
        from ._common import cast
        out = cast(out, dtype)
    if device is not None and device is not t._device:
        backend_for(device)                       # raises a clear error when the backend is missing
        out = _device_copy(out, device)
    if copy and out is t:
        from .unary import clone
        out = clone(t)
    return out


def _to_format(t, device, dtype, copy, memory_format):
    """t.to(..., memory_format=fmt): t itself when nothing changes and t's strides already suggest fmt (as
    PyTorch decides), else a copy laid out contiguous in fmt."""
    sparse = t._array.__class__ in _SPARSE_STORAGES
    if not copy and (dtype is None or dtype is t.dtype) and (device is None or device == t._device) \
            and (_mf.contiguous_format if sparse else _mf.suggest(t._array)) is memory_format:
        return t
    if sparse:
        raise RuntimeError(f"to(options): COO only supports memory format Preserve, but got "
                           f"{_mf.cpp_name(memory_format)} instead.")
    _mf.check_rank(memory_format, t._array.ndim)
    out = _to(t, device, dtype, False)
    if out is t or out.stride() != _mf.format_strides(out._array.shape, memory_format):
        out = _ToFormat().apply(out, memory_format=memory_format)
    return out


@functools.cache
def _ToFormat():
    """Clone with PyTorch's node name for to(memory_format=...) (a class made on first use: unary.py
    imports this module)."""
    from .unary import Clone
    return type("ToFormat", (Clone,), {"node_name": "ToCopyBackward0", "__module__": __name__})


def _device_copy(t, device):
    if t._requires_grad:
        from ..autograd.grad_mode import _State
        if _State.grad_enabled:
            return ToDevice.apply(t, device)
    return _copy_to_device(t, device)


def _copy_to_device(t, device):
    if t._array.__class__ in _SPARSE_STORAGES:      # a sparse storage copies its arrays
        return _make(t._array.moved(backend_for(t._device), backend_for(device)), device)
    array = backend_for(device).from_numpy(backend_for(t._device).to_numpy(t._array))
    if t._device.type != "cpu" and device.type == "cpu":
        array = np.array(array, copy=True)
    return _make(array, device)
