"""Comparison and selection: where, clamp, maximum / minimum / fmax / fmin, the comparisons (eq, lt ...),
logical and bitwise ops, and the NaN / infinity tests (isnan, isinf, isfinite ...)."""
import numbers

from .. import _backends, _dtype as _dt
from .._memory_format import iterator_layout
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..sparse._kernels import zero_preserving
from ._common import (_INT_RANGE, _out, _tensor_pair, cast, nodiff, not_a_tensor, promote, scalar_value,
                      to_tensor_operand, zeros_like_)
from ._registry import export, export_method
from ._shapes import broadcast_shapes

_STRIDED = _backends.STRIDED              # cpu and cuda array classes (Note [memory formats])
_INF = float("inf")

# --- where ----------------------------------------------------------------------------------------

class Where(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, condition, input, other):
        ctx.save_for_backward(condition)
        out = ctx.xp.where(condition, input, other)
        if condition.__class__ in _STRIDED and not condition.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, condition, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        zero = zeros_like_(grad)
        return (None,
                where(condition, grad, zero) if ctx.needs_input_grad[1] else None,
                where(condition, zero, grad) if ctx.needs_input_grad[2] else None)


@export(method=False)
def where(condition, input=None, other=None):
    """Pick input where condition holds, else other; one-argument form is nonzero(as_tuple=True)."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if condition.dtype is not _dt.bool_:
        if condition.dtype is _dt.uint8:
            condition = cast(condition, _dt.bool_)
        else:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{_dt.scalar_type_name(condition.dtype)}")
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else condition
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        dtype = _dt.result_type(input, other)
        input = _make(like._backend().xp.asarray(input, dtype=dtype.numpy), like._device)
    input, other, _ = _tensor_pair("where", input, other)
    if condition._requires_grad:
        condition = condition.detach()
    return Where.apply(condition, input, other)


# --- clamp -----------------------------------------------------------------------------------------

class Clamp(Op):
    """Clamp to scalar bounds; the gradient passes where min <= input <= max."""
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, input, min, max):
        ctx.save_for_backward(input)
        ctx.bounds = (min, max)
        if min is not None and max is not None and min > max:
            return ctx.xp.full_like(input, max)          # PyTorch: everything becomes max
        if input.dtype.kind == "f":
            # clip with both bounds keeps PyTorch's signed zeros (clamp(-0.0, min=0.0) is -0.0); one bound would
            # take maximum/minimum, which answer 0.0 there. The method skips np.clip's dispatch layer.
            return input.clip(-_INF if min is None else min, _INF if max is None else max)
        return ctx.xp.clip(input, min, max).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        a = input._array
        keep = None
        if lo is not None:
            keep = a >= lo
        if hi is not None:
            keep = a <= hi if keep is None else keep & (a <= hi)
        return _select(keep, grad, 0.0), None, None   # selected: a NaN gradient stays out of the clamped part


class ClampMin(Clamp):
    node_name = "ClampMinBackward0"


class ClampMax(Clamp):
    node_name = "ClampMaxBackward0"


class ClampTensor(Op):
    """Clamp to tensor bounds. Where min > max the result is max, so max gets the gradient there."""
    node_name = "ClampBackward0"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, min, max):
        xp = ctx.xp
        ctx.save_for_backward(input, min, max)
        out = input
        if min is not None:
            out = xp.maximum(out, min)
        if max is not None:
            out = xp.minimum(out, max)
        return out if out is not input else input.copy()

    @staticmethod
    def backward(ctx, grad):
        input, lo, hi = ctx.saved_tensors
        zero = zeros_like_(grad)
        inside = None
        if lo is not None:
            inside = input >= lo
        if hi is not None:
            inside = (input <= hi) if inside is None else inside & (input <= hi)
        grad_input = where(inside, grad, zero) if ctx.needs_input_grad[0] else None
        grad_lo = grad_hi = None
        if lo is not None and ctx.needs_input_grad[1]:
            below = input < lo if hi is None else (input < lo) & (lo <= hi)
            grad_lo = where(below, grad, zero)
        if hi is not None and ctx.needs_input_grad[2]:
            above = input > hi if lo is None else (input > hi) | (lo > hi)
            grad_hi = where(above, grad, zero)
        return grad_input, grad_lo, grad_hi


def _clamp_bound(value, dtype):
    """A scalar bound as PyTorch casts it to an integer input's dtype (integers wrap)."""
    if value is None or dtype.category != _dt.INT or isinstance(value, (bool, float)):
        return value
    lo, hi, span = _INT_RANGE[dtype]
    return (value - lo) % span + lo


@export(inplace=True, aliases=("clip",))
def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; the gradient is 0 outside (and passes at the bounds)."""
    return _clamp(input, min, max, out, Clamp)


def _clamp(input, min, max, out, op):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (Tensor, numbers.Number)):
            raise TypeError(f"clamp(): expected min and max to be Tensors or Numbers, got {type(bound).__name__}")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo = to_tensor_operand(min, input) if min is not None else None
        hi = to_tensor_operand(max, input) if max is not None else None
        dtype = _dt.result_type(*(x for x in (input, lo, hi) if x is not None))
        input = cast(input, dtype)
        lo = cast(lo, dtype) if lo is not None else None
        hi = cast(hi, dtype) if hi is not None else None
        return _out(ClampTensor.apply(input, lo, hi), out)
    min = scalar_value(min) if min is not None else None
    max = scalar_value(max) if max is not None else None
    if input.dtype.category < _dt.FLOAT:
        if isinstance(min, float) or isinstance(max, float):
            input = cast(input, _dt.get_default_dtype())
        elif input.dtype is _dt.bool_:          # PyTorch promotes with the bounds: an int bound gives int64
            if not (min.__class__ is bool or min is None) or not (max.__class__ is bool or max is None):
                input = cast(input, _dt.int64)
            else:
                kernel = "clamp" if min is not None and max is not None else "clamp_min" if max is None else \
                    "clamp_max"
                raise NotImplementedError(f"\"{kernel}_scalar_cpu\" not implemented for 'Bool'")
    dtype = input.dtype
    return _out(op.apply(input, _clamp_bound(min, dtype), _clamp_bound(max, dtype)), out)


@export(inplace=True)
def clamp_min(input, min):
    return _clamp(input, min, None, None, ClampMin)


@export(inplace=True)
def clamp_max(input, max):
    return _clamp(input, None, max, None, ClampMax)


# --- maximum and minimum ---------------------------------------------------------------------------

class Maximum(Op):
    broadcasts = True
    ufunc, is_max = "maximum", True

    @classmethod
    def forward(cls, ctx, input, other):
        ctx.save_for_backward(input, other)
        out = getattr(ctx.xp, cls.ufunc)(input, other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        input, other = ctx.saved_tensors
        return _extreme_grads(ctx, grad, input, other, is_max=cls.is_max)


def _extreme_grads(ctx, grad, input, other, is_max):
    """PyTorch's maximum/minimum gradient: ties split it evenly, the losing side gets a selected 0 (so a
    NaN gradient stays out of it), and a NaN input (no winner) passes it to both sides."""
    a, b = input._array, other._array
    tie = a == b
    shared = _select(tie, grad * 0.5, grad) if tie.any() else grad
    lose_a, lose_b = (a < b, a > b) if is_max else (a > b, a < b)
    needs = ctx.needs_input_grad
    return (_select(lose_a, 0.0, shared) if needs[0] else None,
            _select(lose_b, 0.0, shared) if needs[1] else None)


def _select(mask, input, other):
    """where(mask, input, other) for a bool array mask (a gradient formula's selection)."""
    return Where.apply(mask, input, other)


class Minimum(Maximum):
    ufunc, is_max = "minimum", False


class Fmax(Maximum):
    """maximum ignoring NaN. The whole gradient goes to input where input >= other or other is NaN, else to
    other (ties are not split, unlike maximum), as in PyTorch."""
    ufunc, is_max = "fmax", True

    @classmethod
    def backward(cls, ctx, grad):
        input, other = ctx.saved_tensors
        a, b = input._array, other._array
        to_input = (a >= b) if cls.is_max else (a <= b)
        to_input |= b != b
        needs = ctx.needs_input_grad
        return (_select(to_input, grad, 0.0) if needs[0] else None,
                _select(to_input, 0.0, grad) if needs[1] else None)


class Fmin(Fmax):
    ufunc, is_max = "fmin", False


@export(method=True)
def maximum(input, other, *, out=None):
    input, other, dtype = _tensor_pair("maximum", input, other, scalars=False)
    if dtype.is_complex:
        raise RuntimeError("maximum not implemented for complex tensors.")
    return _out(Maximum.apply(input, other), out)


@export(method=True)
def minimum(input, other, *, out=None):
    input, other, dtype = _tensor_pair("minimum", input, other, scalars=False)
    if dtype.is_complex:
        raise RuntimeError("minimum not implemented for complex tensors.")
    return _out(Minimum.apply(input, other), out)


@export(method=True)
def fmax(input, other):
    input, other, dtype = _tensor_pair("fmax", input, other, scalars=False)
    if dtype.is_complex:
        raise RuntimeError("fmax not implemented for complex tensors.")
    return Fmax.apply(input, other)


@export(method=True)
def fmin(input, other):
    input, other, dtype = _tensor_pair("fmin", input, other, scalars=False)
    if dtype.is_complex:
        raise RuntimeError("fmin not implemented for complex tensors.")
    return Fmin.apply(input, other)


# --- comparisons and logic (no gradients) -----------------------------------------------------------

def _elementwise(name, fn, a, b):
    """nodiff(fn, a, b), NumPy's broadcasting ValueError raised as PyTorch's RuntimeError naming the sizes."""
    try:
        out = nodiff(fn, a, b)
    except ValueError:
        broadcast_shapes(*(tuple(x.shape) for x in (a, b) if isinstance(x, Tensor)), op=name)
        raise
    if a.__class__ is Tensor and a._array.__class__ in _STRIDED and not a._array.flags.c_contiguous:
        out._array = iterator_layout(out._array, a._array, b._array if isinstance(b, Tensor) else b)
    return out


def _compare(name, fn):
    ordering = name not in ("eq", "ne")             # complex numbers have no order: PyTorch has no kernel

    def compare(input, other, *, out=None):
        if not isinstance(input, Tensor):          # PyTorch takes a number as `other` only
            raise not_a_tensor(name, input, 1)
        a, b, dtype = promote(name, input, other)
        if ordering and dtype.is_complex:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
        return _out(_elementwise(name, fn, a, b), out)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise {name} comparison, a bool tensor."
    export(compare, inplace=True)
    return compare


eq = _compare("eq", lambda xp, a, b: xp.equal(a, b))
ne = _compare("ne", lambda xp, a, b: xp.not_equal(a, b))
lt = _compare("lt", lambda xp, a, b: xp.less(a, b))
le = _compare("le", lambda xp, a, b: xp.less_equal(a, b))
gt = _compare("gt", lambda xp, a, b: xp.greater(a, b))
ge = _compare("ge", lambda xp, a, b: xp.greater_equal(a, b))
export(ne, name="not_equal", inplace=True)
export(lt, name="less", inplace=True)
export(le, name="less_equal", inplace=True)
export(gt, name="greater", inplace=True)
export(ge, name="greater_equal", inplace=True)


def _logical(name, fn):
    def logical(input, other):
        for position, value in ((1, input), (2, other)):
            if not isinstance(value, Tensor):
                raise not_a_tensor(name, value, position)
        return _elementwise(name, fn, input, other)
    logical.__name__ = logical.__qualname__ = name
    export(logical, inplace=True)
    return logical


logical_and = _logical("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _logical("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _logical("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))


@export(inplace=True)
def logical_not(input):
    return nodiff(lambda xp, a: xp.logical_not(a), input)


def _bitwise(name, fn):
    def bitwise(input, other):
        a, b, dtype = promote(name, input, other)
        if dtype.category > _dt.INT:            # PyTorch: NotImplementedError for a missing kernel
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
        return _elementwise(name, fn, a, b)
    bitwise.__name__ = bitwise.__qualname__ = name
    export(bitwise, inplace=True)
    return bitwise


bitwise_and = _bitwise("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))
bitwise_or = _bitwise("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))
bitwise_xor = _bitwise("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))
bitwise_left_shift = _bitwise("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b))
bitwise_right_shift = _bitwise("bitwise_right_shift", lambda xp, a, b: xp.right_shift(a, b))


@export(inplace=True)
def bitwise_not(input):
    if input.dtype.category > _dt.INT:
        raise TypeError(f"bitwise_not: not supported for {input.dtype}: only integers and bool")
    return nodiff(lambda xp, a: xp.logical_not(a) if a.dtype == bool else xp.invert(a), input)


# --- NaN and infinity tests (no gradients) --------------------------------------------------------

@zero_preserving("isnan")
def _isnan(xp, x):
    return xp.isnan(x) if x.dtype.kind not in "biu" else xp.zeros(x.shape, dtype=bool)


@export(method=True)
def isnan(input):
    return nodiff(_isnan, input)


# PyTorch's isnan/isinf/isposinf/isneginf of a sparse tensor: a bool sparse tensor of its (coalesced) pattern
_isinf = zero_preserving("isinf")(lambda xp, x: xp.isinf(x) if x.dtype.kind not in "biu" else
                                  xp.zeros(x.shape, dtype=bool))
_isposinf = zero_preserving("isposinf")(lambda xp, x: xp.isposinf(x) if x.dtype.kind not in "biuc" else
                                        xp.zeros(x.shape, dtype=bool))
_isneginf = zero_preserving("isneginf")(lambda xp, x: xp.isneginf(x) if x.dtype.kind not in "biuc" else
                                        xp.zeros(x.shape, dtype=bool))


@export(method=True)
def isinf(input):
    return nodiff(_isinf, input)


@export(method=True)
def isposinf(input):
    return nodiff(_isposinf, input)


@export(method=True)
def isneginf(input):
    return nodiff(_isneginf, input)


@export(method=True)
def isfinite(input):
    return nodiff(lambda xp, x: xp.isfinite(x) if x.dtype.kind not in "biu" else xp.ones(x.shape, dtype=bool),
                  input)


@export(method=True)
def isreal(input):
    return nodiff(lambda xp, x: xp.isreal(x), input)


def _where_method(self, condition, other):
    """Tensor.where(condition, other): self where condition holds, else other (PyTorch's method order)."""
    return where(condition, self, other)


_where_method.__name__ = "where"
export_method(_where_method, "where")

