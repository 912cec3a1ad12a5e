"""Helpers shared by the op families: operand promotion, casting, non-differentiable results, out=."""
import builtins
import collections
import math
import numbers

import numpy as _np

from .. import _dtype as _dt
from .._device import CPU
from .._tensor import Tensor, _make
from ..autograd.function import Op, _device_error, null_ctx

_FROM_NUMPY = _dt._FROM_NUMPY


class ToCopy(Op):
    """Cast to another dtype (a copy); the gradient is cast back."""
    @staticmethod
    def forward(ctx, input, np_dtype):
        ctx.src = input.dtype
        return input.astype(np_dtype)

    @staticmethod
    def backward(ctx, grad):
        src = _FROM_NUMPY[ctx.src]
        if grad.dtype.is_complex and not src.is_complex:    # a real input's gradient is the real part
            grad = grad.real
        return cast(grad, src), None


def cast(t, dtype):
    """t converted to dtype (no copy when it already has it)."""
    if t._array.dtype is dtype.numpy or t._array.dtype == dtype.numpy:
        return t
    if dtype.numpy is None:
        _dt.check_bfloat16()
    if t._requires_grad and dtype.category < _dt.FLOAT:
        with_grad = False
    else:
        with_grad = True
    if not with_grad:
        return _make(t._array.astype(dtype.numpy), t._device)
    return ToCopy.apply(t, dtype.numpy)


def is_scalar(x):
    return isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def to_tensor_operand(x, like):
    """A Python/NumPy scalar or array-like as a tensor on like's device (for ops that need tensors)."""
    if isinstance(x, Tensor):
        return x
    from .creation import tensor
    return tensor(x, device=like._device)


def scalar_value(x):
    """Python scalar from a number-like (NumPy scalars too)."""
    if isinstance(x, bool):
        return x
    if hasattr(x, "item") and not isinstance(x, Tensor):
        return x.item()
    return x


def promote(name, a, b):
    """PyTorch's type promotion for a binary op. Returns (a, b, dtype); Python scalars stay scalars."""
    # Fast path: a float tensor with a Python float or int (the commonest mixed case) keeps its dtype.
    if b.__class__ is float or b.__class__ is int:
        if isinstance(a, Tensor):
            dtype = _FROM_NUMPY[a._array.dtype]
            if dtype.category == _dt.FLOAT and dtype is not _dt.bfloat16:
                return a, b, dtype
    elif a.__class__ is float or a.__class__ is int:
        if isinstance(b, Tensor):
            dtype = _FROM_NUMPY[b._array.dtype]
            if dtype.category == _dt.FLOAT and dtype is not _dt.bfloat16:
                return a, b, dtype
    a_is_t = isinstance(a, Tensor)
    b_is_t = isinstance(b, Tensor)
    if a_is_t and b_is_t:
        da, db = a._array.dtype, b._array.dtype
        if da is db or da == db:
            return a, b, _FROM_NUMPY[da]
        dtype = _dt.result_type(a, b)
        return cast(a, dtype), cast(b, dtype), dtype
    if not a_is_t and not b_is_t:
        raise TypeError(f"{name}(): expected at least one Tensor argument, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    t, s = (a, b) if a_is_t else (b, a)
    if not isinstance(s, numbers.Number):
        if hasattr(s, "__array__") or isinstance(s, (list, tuple)):
            s = to_tensor_operand(s, t)
            return promote(name, a if a_is_t else s, b if b_is_t else s)
        raise TypeError(f"{name}(): unsupported operand type(s): '{type(a).__name__}' and '{type(b).__name__}'")
    s = scalar_value(s)
    dtype = _FROM_NUMPY[t._array.dtype]
    category = 0 if s is True or s is False else 1 if isinstance(s, int) else 2 if isinstance(s, float) else 3
    if category > dtype.category:
        dtype = _dt._combine(dtype, _dt._category_default(category))
        t = cast(t, dtype)
    elif category == 1 and dtype.category == _dt.INT:
        lo, hi, span = _INT_RANGE[dtype]
        if not lo <= s <= hi:                         # integer arithmetic wraps, as in PyTorch
            s = (s - lo) % span + lo
    elif category == 2 and dtype is _dt.bfloat16:
        s = dtype.numpy.type(s)                       # ml_dtypes would promote a Python float to float32
    return (t, s, dtype) if a_is_t else (s, t, dtype)


def _scalar_like(value, like):
    """A Python scalar as a 0-d tensor, typed so that promotion treats it as a weak scalar."""
    value = scalar_value(value)
    if isinstance(value, bool):
        dtype = _dt.bool_
    elif isinstance(value, int):
        dtype = like.dtype if like.dtype.category >= _dt.INT else _dt.int64
        if dtype.category == _dt.INT:
            lo, hi, span = _INT_RANGE[dtype]
            value = (value - lo) % span + lo          # integers wrap into the tensor's type, as in PyTorch
    elif isinstance(value, float):
        dtype = like.dtype if like.dtype.category >= _dt.FLOAT else _dt.get_default_dtype()
    else:
        dtype = like.dtype if like.dtype.is_complex else _dt.get_default_dtype().to_complex()
    xp = like._backend().xp
    return _make(xp.asarray(value, dtype=dtype.numpy), like._device)


def _tensor_pair(name, input, other):
    """Both operands as tensors (a scalar becomes a weak-typed 0-d tensor), promoted for op `name`."""
    if not isinstance(other, Tensor):
        other = _scalar_like(other, input) if is_scalar(other) else to_tensor_operand(other, input)
    if not isinstance(input, Tensor):
        input = _scalar_like(input, other) if is_scalar(input) else to_tensor_operand(input, other)
    input, other, dtype = promote(name, input, other)
    return input, other, dtype


_INT_RANGE = {d: (int(_np.iinfo(d.numpy).min), int(_np.iinfo(d.numpy).max), 1 << (8 * d.itemsize))
              for d in (_dt.uint8, _dt.int8, _dt.int16, _dt.int32, _dt.int64)}
_C_TYPE = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
           "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
           "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def checked_scalar(value, dtype):
    """A Python scalar converted for storing into a `dtype` tensor (fill, masked_fill, full ...).

    Like PyTorch, refuse values the type cannot hold, except that integers may wrap into an
    unsigned type from its negative mirror range (-255 stores into uint8 as 1)."""
    value = scalar_value(value)
    if dtype.category == _dt.INT:
        lo, hi, span = _INT_RANGE[dtype]
        if isinstance(value, complex):
            fits = False
        elif isinstance(value, float):
            fits = math.isfinite(value) and lo <= value <= hi
        else:
            fits = lo <= value <= hi or (lo == 0 and -hi <= value < 0)
        if not fits:
            raise RuntimeError(f"value cannot be converted to type {_C_TYPE[dtype.name]} without overflow")
        value = int(value)
        return (value - lo) % span + lo
    if dtype.category == _dt.FLOAT:
        if isinstance(value, complex):
            raise RuntimeError(f"value cannot be converted to type {_C_TYPE[dtype.name]} without overflow")
        if math.isfinite(value) and dtype is not _dt.float64 and builtins.abs(value) > _dt.finfo(dtype).max:
            raise RuntimeError(f"value cannot be converted to type {_C_TYPE[dtype.name]} without overflow")
        return float(value)
    if dtype.category == _dt.BOOL:
        return bool(value)
    return complex(value)


class SavesFor(Op):
    """Identity (a copy) whose node saves `watch` and its own output for the version check: the last node of a
    composite standing for a fused PyTorch node that saves those (scaled_dot_product_attention's flash kernel,
    grid_sampler). Use it only while recording (it costs a copy)."""
    @staticmethod
    def forward(ctx, input, watch, keep_output):
        out = input.copy()
        ctx.save_for_backward(out if keep_output else None, *watch)
        return out

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                          # noqa: B018 (the version check)
        return grad


def saves_for(output, watch, node_name, keep_output=True):
    """output through a SavesFor node named node_name (PyTorch's fused node's name), saving the tensors of
    watch and (keep_output) the output."""
    cls = _SAVES_FOR.get(node_name)
    if cls is None:
        cls = _SAVES_FOR[node_name] = type("SavesFor", (SavesFor,), {"node_name": node_name})
    return cls.apply(output, watch=tuple(watch), keep_output=keep_output)


_SAVES_FOR = {}


def nodiff(fn, *inputs):
    """Apply an array function to tensors' arrays and wrap the result with no autograd history."""
    device = None
    arrays = []
    for t in inputs:
        if isinstance(t, Tensor):
            if device is None:
                device = t._device
            elif t._device is not device:
                _device_error(getattr(fn, "__name__", "op"), inputs)
            arrays.append(t._array)
        else:
            arrays.append(t)
    device = device or CPU
    out = fn(null_ctx(device).xp, *arrays)
    if out.__class__ is tuple:
        return tuple(_wrap_array(o, device) for o in out)
    return _wrap_array(out, device)


def _wrap_array(out, device):
    xp = null_ctx(device).xp
    if not isinstance(out, xp.ndarray):
        out = xp.asarray(out)
    return _make(out, device)


def zeros_like_(t):
    """Zeros shaped like t (a gradient that is exactly zero, not grad * 0)."""
    return _make(t._backend().xp.zeros_like(t._array), t._device)


def _out(result, out):
    """Honour out=: write into `out` (resizing like PyTorch when it is empty) and return it."""
    if out is None:
        return result
    from .inplace import write_out
    return write_out(out, result)


def exact_scaled(xp, array, alpha):
    """alpha * array for a float32 array, formed exactly in float64 (a float32 times the float32 alpha needs
    48 bits). Added to a float32 and cast back, it rounds once, as PyTorch's fused `add(alpha=)` kernel."""
    return array.astype(xp.float64) * float(xp.float32(alpha))


def add_rounded_once(xp, a, b, alpha):
    """a + alpha * b for float32 arrays with one rounding (see exact_scaled)."""
    return (a.astype(xp.float64) + exact_scaled(xp, b, alpha)).astype(a.dtype)


def xp_of(t):
    return null_ctx(t._device).xp


_RETURN_TYPES = {}


def return_type(name, fields=("values", "indices")):
    """The named tuple an op returns (PyTorch's torch.return_types.<name>), with PyTorch's repr."""
    key = (name, tuple(fields))
    cls = _RETURN_TYPES.get(key)
    if cls is None:
        cls = collections.namedtuple(name, fields)

        def __repr__(self):
            body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
            return f"ember.return_types.{type(self).__name__}(\n{body})"
        cls.__repr__ = __repr__
        cls.__qualname__ = f"return_types_{name}"      # importable for pickling
        cls.__module__ = __name__
        globals()[cls.__qualname__] = cls
        _RETURN_TYPES[key] = cls
    return cls
