"""Helpers shared by the op families: operand promotion, casting, non-differentiable results."""
import numbers

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
        return cast(grad, _FROM_NUMPY[ctx.src]), None


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
            if dtype.category == _dt.FLOAT:
                return a, b, dtype
    elif a.__class__ is float or a.__class__ is int:
        if isinstance(b, Tensor):
            dtype = _FROM_NUMPY[b._array.dtype]
            if dtype.category == _dt.FLOAT:
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
    elif dtype.category == _dt.INT and category == 1 and not dtype.is_signed and s < 0 and dtype is _dt.uint8:
        s = s % 256                                   # uint8 arithmetic wraps, as in PyTorch
    return (t, s, dtype) if a_is_t else (s, t, dtype)


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


def xp_of(t):
    return null_ctx(t._device).xp
