"""Helpers shared by the op families: operand promotion, casting, non-differentiable results, out=."""
import builtins
import collections
import math
import numbers
import weakref

import numpy as _np

from .._backends import errstate
from .. import _dtype as _dt
from .._device import CPU
from .._tensor import Tensor, VersionCounter, _make
from ..autograd.function import Op, _on_one_device, null_ctx
from ..sparse._coo_array import SparseCOOArray as _SparseCOO

_FROM_NUMPY = _dt._FROM_NUMPY


def _astype(array, np_dtype):
    """array cast to np_dtype (a copy). An expanded (zero-stride) array comes out C-contiguous, as PyTorch's copy
    of an overlapping tensor does: NumPy's order='K' would lay it out transposed, and elementwise ops that follow
    their first operand's layout (Note [memory formats]) would pass that on."""
    if 0 in array.strides:
        return array.astype(np_dtype, order="C")
    return array.astype(np_dtype)


class ToCopy(Op):
    """Cast to another dtype (a copy); the gradient is cast back."""
    @staticmethod
    def forward(ctx, input, np_dtype):
        ctx.src = input.dtype
        return _astype(input, np_dtype)

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
        return _make(_astype(t._array, dtype.numpy), t._device)
    return ToCopy.apply(t, dtype.numpy)


def _operand_cast(t, dtype):
    """cast() of an op's operand to the promoted dtype. PyTorch promotes inside the kernel and saves the operand
    itself for backward, so the copy shares t's version counter: an in-place change of t after the op is caught
    by the version check of a node that saved the copy, as PyTorch's."""
    out = cast(t, dtype)
    if out is not t:
        vc = t._vc
        if vc is None:
            vc = t._vc = VersionCounter()
        out._vc = vc
        out._extra = {"operand_of": weakref.ref(t)}      # the check's message names t (graph._raise_modified)
    return out


def is_scalar(x):
    return isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def not_a_tensor(name, value, position):
    """PyTorch's TypeError for an operand that is no tensor, number or array (a list, a tuple, None, a str)."""
    return TypeError(f"{name}(): argument '{'other' if position == 2 else 'input'}' (position {position}) must be "
                     f"Tensor, not {type(value).__name__}")


def operand(name, x, like, position=2):
    """x as a tensor operand of op `name` (see to_tensor_operand); a list or tuple is refused, as PyTorch does."""
    if isinstance(x, Tensor):
        return x
    if not isinstance(x, numbers.Number) and not hasattr(x, "__array__"):
        raise not_a_tensor(name, x, position)
    return to_tensor_operand(x, like)


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
        return _operand_cast(a, dtype), _operand_cast(b, dtype), dtype
    if not a_is_t and not b_is_t:
        raise TypeError(f"{name}(): expected at least one Tensor argument, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    t, s = (a, b) if a_is_t else (b, a)
    if not isinstance(s, numbers.Number):
        if hasattr(s, "__array__"):
            s = to_tensor_operand(s, t)
            return promote(name, a if a_is_t else s, b if b_is_t else s)
        raise not_a_tensor(name, s, 2 if a_is_t else 1)
    s = scalar_value(s)
    dtype = _FROM_NUMPY[t._array.dtype]
    category = 0 if s is True or s is False else 1 if isinstance(s, int) else 2 if isinstance(s, float) else 3
    if category > dtype.category:
        dtype = _dt._combine(dtype, _dt._category_default(category))
        t = _operand_cast(t, dtype)
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


def _tensor_pair(name, input, other, scalars=True):
    """Both operands as tensors (a scalar becomes a weak-typed 0-d tensor), promoted for op `name`. With
    scalars=False a number is refused too, as PyTorch's Tensor-only signatures (maximum, atan2 ...) do."""
    if not scalars:
        for position, value in ((1, input), (2, other)):
            if not isinstance(value, Tensor):
                raise not_a_tensor(name, value, position)
    if not isinstance(other, Tensor):
        other = _scalar_like(other, input) if is_scalar(other) else operand(name, other, input)
    if not isinstance(input, Tensor):
        input = _scalar_like(input, other) if is_scalar(input) else operand(name, input, other, 1)
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
    unsigned type from its negative mirror range (-255 stores into uint8 as 1). A complex value with no
    imaginary part stores into a real type as its real part, as in PyTorch."""
    value = scalar_value(value)
    if isinstance(value, complex) and not value.imag and dtype.category < _dt.COMPLEX:
        value = value.real
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
                return nodiff(fn, *_on_one_device(getattr(fn, "__name__", "op"), inputs))
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
    if not isinstance(out, xp.ndarray) and out.__class__ is not _SparseCOO:    # (isnan & co of a sparse tensor)
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


def opmath(xp, fn, *arrays):
    """fn(*arrays), computed in float32 when the first array is float16 or bfloat16 and rounded once to its dtype:
    PyTorch's CPU kernels compute half-precision elementwise ops in float32 (their opmath type), where NumPy
    would round every step in half precision."""
    dtype = arrays[0].dtype
    if dtype.itemsize == 2 and dtype.kind in "fV":
        return fn(*(a.astype(xp.float32) for a in arrays)).astype(dtype)
    return fn(*arrays)


def exact_scaled(xp, array, alpha):
    """alpha * array for a float32 array, formed exactly in float64 (a float32 times the float32 alpha needs
    48 bits). Added to a float32 and cast back, it rounds once, as PyTorch's fused `add(alpha=)` kernel."""
    return array.astype(xp.float64) * float(xp.float32(alpha))


_VELTKAMP = 134217729.0                           # 2**27 + 1: splits a float64 into two 26-bit halves


def fused_multiply_add(xp, a, b, c):
    """a * b + c for float64 arrays (or numbers) with one rounding, as a hardware fma: PyTorch's CPU kernels fuse
    `self + alpha * other` (add_ with alpha) into an fma in float64 too. Error-free transformations: the product's
    rounding error from Veltkamp-Dekker splitting, the sum's from TwoSum, added back before the last rounding.
    Where an intermediate overflows (|a| or |b| beyond ~1e299, infinities, NaN), the plain a * b + c."""
    a, b, c = xp.asarray(a, xp.float64), xp.asarray(b, xp.float64), xp.asarray(c, xp.float64)
    with errstate(all="ignore"):
        p = a * b
        t = _VELTKAMP * a
        a_hi = t - (t - a)
        a_lo = a - a_hi
        t = _VELTKAMP * b
        b_hi = t - (t - b)
        b_lo = b - b_hi
        product_error = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
        s = p + c
        back = s - p
        sum_error = (p - (s - back)) + (c - back)
        out = s + (product_error + sum_error)
        return xp.where(xp.isfinite(out), out, p + c)


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
