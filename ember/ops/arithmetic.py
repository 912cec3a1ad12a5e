"""Binary arithmetic with PyTorch's type promotion: + - * / (and div's rounding modes), rsub, ** (pow,
float_power), floor_divide / fmod / remainder, the fused lerp / addcmul / addcdiv, and the reverse-operand
helpers the Tensor operators use (`_rdiv` for scalar / t, `_rpow` for scalar ** t)."""
import math
import operator as _operator

import numpy as _CPU_XP

from .. import _backends, _dtype as _dt
from .._device import CPU
from .._dtype import _FROM_NUMPY
from .._memory_format import iterator_layout
from .._tensor import Tensor, _make
from ..amp._dispatch import AUTOCAST, autocast_run
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ..sparse._coo_array import SparseCOOArray as _SparseCOO
from ..sparse._kernels import power as _sparse_power
from ._common import (_operand_cast, _out, _scalar_like, add_rounded_once, cast, is_scalar, nodiff, promote,
                      scalar_value, zeros_like_)
from ._registry import export
from .comparison import _select
from .unary import _sqrt, clone, log, reciprocal, trunc

_STRIDED = _backends.STRIDED              # cpu and cuda array classes (Note [memory formats])

# --- binary arithmetic ------------------------------------------------------------------------------

class Add(Op):
    """input + other. The engine sums each gradient back to its input's shape."""
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        out = input + other
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Op):
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        out = input - other
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad if ctx.needs_input_grad[1] else None


class AddScaled(Op):
    """input + alpha * other for two float32 tensors, rounded once as PyTorch's fused multiply-add kernel
    rounds (two roundings differ from it in the last bit of 5-25% of elements): the exact product and sum
    are formed in float64 and rounded to float32 once."""
    broadcasts = True
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, input, other, alpha):
        ctx.alpha = alpha
        out = add_rounded_once(ctx.xp, input, other, alpha)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, grad * ctx.alpha if ctx.needs_input_grad[1] else None, None


class SubScaled(AddScaled):
    """input - alpha * other, as AddScaled with -alpha (its own node name, as PyTorch's)."""
    node_name = "SubBackward0"


def _fused_alpha(input, other, alpha):
    """Whether input + alpha * other takes PyTorch's single-rounding float32 path."""
    return (alpha.__class__ is float or alpha.__class__ is int) and isinstance(input, Tensor) and \
        isinstance(other, Tensor) and input._array.dtype == other._array.dtype == _CPU_XP.float32


class Mul(Op):
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(input if needs[1] else None, other if needs[0] else None)
        out = input * other
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        shapes = ctx._in_shapes                    # the inputs' shapes, kept by the engine for un-broadcasting
        return (_times(grad, other, shapes[0]) if other is not None else None,
                _times(grad, input, shapes[1]) if input is not None else None)


class MulPromoted(Mul):
    """A product of two tensors of different dtypes that requires grad: promoted inside the kernel, and the
    operands themselves saved (not cast copies), as PyTorch does: a later `.data` write or detach_() of an
    operand is seen by the backward, which casts each gradient to its input's dtype."""
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, input, other, dtype):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(input if needs[1] else None, other if needs[0] else None)
        return _promoted_forward(ctx, _operator.mul, input, other, dtype)

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        return _cast_back(ctx, grad * other if other is not None else None, grad * input if input is not None else None)


def _promoted_forward(ctx, kernel, input, other, dtype):
    """kernel on the operands cast to `dtype` inside the op, as PyTorch promotes (MulPromoted, DivPromoted); the
    operands' dtypes are kept for _cast_back."""
    ctx.dtypes = (input.dtype, other.dtype)
    out = kernel(input.astype(dtype, copy=False), other.astype(dtype, copy=False))
    if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
        out = iterator_layout(out, input, other)
    return out


def _cast_back(ctx, grad_input, grad_other):
    """A promoted op's gradients, each in its operand's dtype."""
    return (cast(grad_input, _FROM_NUMPY[ctx.dtypes[0]]) if grad_input is not None else None,
            cast(grad_other, _FROM_NUMPY[ctx.dtypes[1]]) if grad_other is not None else None)


def _times(grad, factor, shape=None):
    """grad * factor, summed to `shape` () at once when the input was a broadcast scalar (a dot product:
    one BLAS call instead of a product and a reduction; the seed's scalar-parameter fits live on this)."""
    if factor.__class__ is Tensor and factor._array.dtype == grad._array.dtype:
        g = grad._array
        if shape == () and g.ndim and g.shape == factor._array.shape and g.dtype.kind == "f":
            if not _State.grad_enabled and grad._device is factor._device:      # Note [plain backward]
                xp = _CPU_XP if grad._device is CPU else grad._backend().xp
                return _make(xp.asarray(xp.vdot(g, factor._array)), grad._device)
            return MulSum.apply_binary(grad, factor)
        return Mul.apply_binary(grad, factor)
    return grad * factor


class MulSum(Op):
    """(input * other).sum() for equal shapes: the gradient of a scalar factor of a product."""
    node_name = "MulSumBackward0"

    @staticmethod
    def forward(ctx, input, other):
        ctx.save_for_backward(input, other)
        return ctx.xp.vdot(input, other)           # vdot flattens its arguments (NumPy's and CuPy's)

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        return grad * other, grad * input


class Div(Op):
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(input if needs[1] else None, other)
        out = input / other
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        grad_input = grad / other if ctx.needs_input_grad[0] else None
        # -grad * ((input / other) / other), PyTorch's order: rounded as its (x / x's gradient sums to 0 exactly)
        grad_other = -grad * (input / other / other) if ctx.needs_input_grad[1] else None
        return grad_input, grad_other


class DivPromoted(Div):
    """A quotient of two tensors of different dtypes that requires grad: promoted inside the kernel, the operands
    themselves saved (not cast copies), as MulPromoted; each gradient is cast to its input's dtype."""
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, input, other, dtype):
        ctx.save_for_backward(input if ctx.needs_input_grad[1] else None, other)
        return _promoted_forward(ctx, _operator.truediv, input, other, dtype)

    @staticmethod
    def backward(ctx, grad):
        return _cast_back(ctx, *Div.backward(ctx, grad))


# Note [half opmath]: PyTorch's CPU mul and div of a float16/bfloat16 tensor by a scalar operand (a Python number,
# or a 0-d tensor that leaves the result in the tensor's dtype) take the scalar as float32 and compute in float32
# (its "opmath" type), rounding once: f16 0.35 * 1e5 is 35008, not inf from 1e5 cast to float16 first (one product
# in three of f16 x * 0.1 differs in its last bit too). add and sub cast the scalar first, as ember does. Only
# the 2-byte float dtypes take this path: the float32/float64 paths do not look at it.
_HALF = "eE"                               # the NumPy type codes of float16 and (ml_dtypes) bfloat16


def _half_scalar(input, other):
    """The scalar operand of a float16/bfloat16 `input` as PyTorch's opmath takes it (a Python number), or None."""
    if other.__class__ is float or other.__class__ is int or other.__class__ is bool:
        return other
    if other.__class__ is Tensor and not other._array.ndim and other._device is input._device and \
            not (other._requires_grad and _State.grad_enabled) and other.dtype.category <= _dt.FLOAT and \
            _dt.result_type(input, other) is input.dtype:
        return other.item()
    return None


def _opmath(xp, kernel, input, other):
    out = kernel(input.astype(xp.float32), xp.float32(other)).astype(input.dtype)
    if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
        out = iterator_layout(out, input, input)
    return out


class MulHalfScalar(Mul):
    """A float16/bfloat16 tensor times a scalar, in float32 (Note [half opmath])."""
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, input, other):
        ctx.save_for_backward(None, other if ctx.needs_input_grad[0] else None)
        return _opmath(ctx.xp, _operator.mul, input, other)


class DivHalfScalar(Div):
    """A float16/bfloat16 tensor over a scalar, in float32 (Note [half opmath])."""
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, input, other):
        ctx.save_for_backward(None, other)
        return _opmath(ctx.xp, _operator.truediv, input, other)


def _same_dtype(input, other):
    """Two float tensors of one dtype need no promotion (the hot path of add/sub/mul)."""
    return input.__class__ is Tensor and other.__class__ is Tensor and \
        input._array.dtype is other._array.dtype and input._array.dtype.kind == "f"


def _check_bool_sub(input, other):
    if isinstance(input, Tensor) and input._array.dtype.kind != "b" and other.__class__ is not bool and \
            not (isinstance(other, Tensor) and other._array.dtype.kind == "b"):    # fast exit: the usual case
        return
    bools = [x is True or x is False or getattr(x, "dtype", None) is _dt.bool_ for x in (input, other)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
                           "or `logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _scaled_by_alpha(name, input, other, alpha):
    """alpha * other, after PyTorch's check that alpha fits the result's dtype category."""
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    category = _dt.INT if isinstance(alpha, int) else _dt.FLOAT if isinstance(alpha, float) else _dt.COMPLEX
    dtype = promote(name, input, other)[2]        # the result's dtype: alpha takes no part in it
    if dtype is _dt.bool_:                        # bool arithmetic: alpha is cast to bool too
        alpha = bool(alpha)
    if category == _dt.FLOAT and dtype.category < _dt.FLOAT:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if category == _dt.COMPLEX and dtype.category < _dt.COMPLEX:
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a complex number.")
    if not isinstance(other, Tensor):
        return bool(other) and alpha if dtype is _dt.bool_ else other * alpha
    # other in the result's dtype first, as PyTorch's kernel computes: uint8 - int8 * 2 is int16 math, and
    # float16 - int64 * 0.5 stays float16
    return mul(other if other.dtype is dtype else cast(other, dtype), alpha)


@export(inplace=True)
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other with broadcasting and PyTorch's type promotion."""
    if alpha != 1:
        if _fused_alpha(input, other, alpha):
            result = AddScaled.apply(input, other, alpha=alpha)
            return result if out is None else _out(result, out)
        other = _scaled_by_alpha("add", input, other, alpha)
    if not _same_dtype(input, other):
        input, other, _ = promote("add", input, other)
    result = Add.apply_binary(input, other) if isinstance(input, Tensor) else Add.apply(input, other)
    return result if out is None else _out(result, out)


@export(inplace=True, aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _check_bool_sub(input, other)
    if alpha != 1:
        if _fused_alpha(input, other, alpha):
            result = SubScaled.apply(input, other, alpha=-alpha)
            return result if out is None else _out(result, out)
        other = _scaled_by_alpha("sub", input, other, alpha)
    if not _same_dtype(input, other):
        input, other, _ = promote("sub", input, other)
    result = Sub.apply_binary(input, other) if isinstance(input, Tensor) else Sub.apply(input, other)
    return result if out is None else _out(result, out)


class RsubScalar(Op):
    """scalar - input."""
    node_name = "RsubBackward1"

    @staticmethod
    def forward(ctx, input, other):
        return other - input

    @staticmethod
    def backward(ctx, grad):
        return -grad, None


class Rsub(Sub):
    node_name = "RsubBackward0"

    @staticmethod
    def forward(ctx, input, other):
        return other - input

    @staticmethod
    def backward(ctx, grad):
        return -grad if ctx.needs_input_grad[0] else None, grad


@export(method=False)                  # torch.rsub: no Tensor method
def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if alpha != 1:
        return sub(other if isinstance(other, Tensor) else _scalar_like(other, input), input, alpha=alpha)
    _check_bool_sub(other, input)
    input, other, _ = promote("rsub", input, other)
    return (Rsub if isinstance(other, Tensor) else RsubScalar).apply(input, other)


@export(inplace=True, aliases=("multiply",))
def mul(input, other, *, out=None):
    """Elementwise product with broadcasting and PyTorch's type promotion."""
    if not _same_dtype(input, other):
        if input.__class__ is Tensor and input._array.dtype.char in _HALF:         # Note [half opmath]
            scalar = _half_scalar(input, other)
            if scalar is not None:
                return _out(MulHalfScalar.apply(input, scalar), out)
        if input.__class__ is Tensor and other.__class__ is Tensor and _State.grad_enabled and \
                (input.requires_grad or other.requires_grad) and input._array.dtype != other._array.dtype:
            dtype = _dt.result_type(input, other)
            if dtype.numpy is not None and dtype.category == _dt.FLOAT:
                return _out(MulPromoted.apply(input, other, dtype=dtype.numpy), out)
        input, other, _ = promote("mul", input, other)
    result = Mul.apply_binary(input, other) if isinstance(input, Tensor) else Mul.apply(input, other)
    return result if out is None else _out(result, out)


@export(inplace=True, aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode=None, out=None):
    """input / other; integer inputs give the default float dtype unless rounding_mode is given."""
    if rounding_mode is None and input.__class__ is Tensor and input._array.dtype.char in _HALF:  # Note [half opmath]
        scalar = _half_scalar(input, other)
        if scalar is not None:
            return _out(DivHalfScalar.apply(input, scalar), out)
    if rounding_mode is None and input.__class__ is Tensor and other.__class__ is Tensor and _State.grad_enabled and \
            (input._requires_grad or other._requires_grad) and input._array.dtype != other._array.dtype:
        dtype = _dt.result_type(input, other)
        if dtype.numpy is not None and dtype.category == _dt.FLOAT:
            return _out(DivPromoted.apply(input, other, dtype=dtype.numpy), out)
    raw_input, raw_other = input, other
    input, other, dtype = promote("div", input, other)
    if rounding_mode is None:
        if dtype.category < _dt.FLOAT:
            # each operand goes to float from its own value: promote wrapped an int scalar (or cast a 0-d
            # tensor) into the other's integer type, which true division does not (uint8 / -1 is -3.0)
            dtype = _dt.get_default_dtype()
            input = cast(raw_input, dtype) if isinstance(raw_input, Tensor) else float(scalar_value(raw_input))
            other = cast(raw_other, dtype) if isinstance(raw_other, Tensor) else float(scalar_value(raw_other))
        return _out(Div.apply(input, other), out)
    if rounding_mode == "trunc":
        _no_bool_kernel("div_trunc_cpu", dtype, complex_too=True)
        if dtype.category == _dt.FLOAT:
            return _out(DivRounded.apply(input, other, floor=False), out)
        _check_int_zero("div", other, input)
        return _out(nodiff(lambda xp, a, b: _int_trunc_div(xp, a, b), input, other), out)
    if rounding_mode == "floor":
        if dtype.category == _dt.FLOAT:
            return _out(DivRounded.apply(input, other, floor=True), out)
        return _out(floor_divide(input, other), out)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                       f"'{rounding_mode}'")


class DivRounded(Op):
    """input / other rounded toward zero or down; PyTorch's gradient is zero for both inputs."""
    node_name = "DivBackward2"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other, floor):
        # Saved as PyTorch's DivBackward2 saves them (the gradient does not need them): a second backward
        # through it is refused as there
        ctx.save_for_backward(input if ctx.needs_input_grad[1] else None, other)
        ctx.floor = floor
        if floor:                                  # Python's floor division, as PyTorch's div_floor (1 // 0.1 == 9)
            out = ctx.xp.floor_divide(input, other)
        else:
            out = ctx.xp.trunc(input / other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                          # noqa: B018 (the version check, as PyTorch's unpack)
        needs = ctx.needs_input_grad
        return (zeros_like_(grad) if needs[0] else None), (zeros_like_(grad) if needs[1] else None)


def _int_trunc_div(xp, a, b):
    q = xp.floor_divide(a, b)
    r = xp.remainder(a, b)
    fix = (r != 0) & ((xp.asarray(a) < 0) != (xp.asarray(b) < 0))
    return q + fix


def _rdiv(input, other):
    if is_scalar(other):                          # PyTorch computes scalar / t as t.reciprocal() * scalar:
        return mul(reciprocal(input), other)      # the same rounding (and graph) as there
    return div(other, input)


# --- powers ----------------------------------------------------------------------------------------

class PowScalar(Op):
    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, input, exponent):
        ctx.save_for_backward(input)
        ctx.exponent = exponent
        if exponent == 2:
            return input * input
        if exponent == 3:                          # NumPy's generic power is ~10x slower; PyTorch cubes too
            return input * input * input
        return _power_scalar(ctx.xp, input, exponent)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        e = ctx.exponent
        if e == 0:
            return zeros_like_(grad), None                # not grad * 0: a NaN gradient stays out, as in PyTorch
        if e == 2:
            if not _State.grad_enabled:            # Note [plain backward]
                array = grad._array * (input._array * 2)
                return _make(array if array.shape else ctx.xp.asarray(array), grad._device), None
            return _times(grad, Mul.apply_binary(input, 2)), None
        return grad * (input ** (e - 1) * e), None


def _power_scalar(xp, input, exponent):
    """input ** exponent for a Python number, as PyTorch's CPU kernel takes it: in float32, float64 and bfloat16,
    sqrt for 0.5, 1 / sqrt for -0.5 ((-0.) ** -0.5 is -inf, (-inf) ** -0.5 nan), 1 / x for -1 and 1 / (x * x)
    for -2; float16 takes pow for all of them (NumPy's ** takes sqrt for 0.5 in every dtype). A sparse input:
    its coalesced values."""
    if input.__class__ is _SparseCOO:
        return _sparse_power(input, exponent, lambda values: _power_scalar(xp, values, exponent))
    if input.dtype.kind == "c":
        return input ** exponent
    if input.dtype == xp.float16:
        return xp.power(input, exponent)
    if exponent == 0.5:
        return _sqrt(xp, input)                    # (PyTorch's sqrt: +nan below 0)
    if exponent == -0.5:
        return 1 / xp.sqrt(input)
    if exponent == -1:
        return 1 / input
    if exponent == -2:
        return 1 / (input * input)
    return input ** exponent


class Pow(Op):
    node_name = "PowBackward1"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, exponent):
        out = input ** exponent
        if exponent.size == 1 and out.dtype.kind == "f" and exponent.reshape(-1)[0] == 0.5:
            # NumPy takes sqrt for a one-element exponent of 0.5 (as PyTorch's values, and its -nan below 0), but
            # PyTorch's tensor pow gives inf for (-inf) ** 0.5 and 0 for (-0.) ** 0.5 (adding 0 clears -0.)
            out = ctx.xp.where(input == -math.inf, math.inf, out + out.dtype.type(0)).astype(out.dtype, copy=False)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, exponent)
        ctx.save_for_backward(input, exponent, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, exponent, out = ctx.saved_tensors
        grad_input = grad_exponent = None
        if ctx.needs_input_grad[0]:                    # PyTorch: exactly 0 where the exponent is 0 (selected)
            grad_input = _select(exponent._array == 0, 0.0, grad * (exponent * input ** (exponent - 1)))
        if ctx.needs_input_grad[1]:
            # d/dy x^y = x^y log x, taken as 0 where x == 0 and y >= 0 (PyTorch's convention)
            zero_base = (input._array == 0) & (exponent._array >= 0)
            grad_exponent = grad * _select(zero_base, 0.0, out * log(input))
        return grad_input, grad_exponent


class RPowScalar(Op):
    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, base, exponent):
        out = base ** exponent
        ctx.base = base
        ctx.save_for_backward(out, exponent)      # PyTorch saves the exponent whatever the base
        return out

    @staticmethod
    def backward(ctx, grad):
        out, exponent = ctx.saved_tensors
        if ctx.base == 0:                              # PyTorch: 0 where exponent >= 0, out * log(0) elsewhere
            return None, grad * _select(exponent._array >= 0, 0.0, out * float("-inf"))
        factor = math.log(ctx.base) if ctx.base > 0 else float("nan")
        return None, grad * (out * factor)


@export(inplace=True)
def pow(input, exponent, *, out=None):
    """input ** exponent (tensor or scalar on either side)."""
    if exponent.__class__ is int and exponent != 1 and out is None and isinstance(input, Tensor) and \
            input._array.dtype.char in "fd":      # fast path: float32/64 tensor to a Python int power
        return PowScalar.apply_binary(input, exponent)        # (autocast casts only 16-bit floats for pow)
    if "pow" in AUTOCAST and out is None:
        return autocast_run("pow", pow, input, exponent)
    if not isinstance(input, Tensor):
        return _out(_rpow(exponent, input), out)
    if is_scalar(exponent):
        exponent = scalar_value(exponent)
        dtype = input.dtype
        if isinstance(exponent, float) and dtype.category < _dt.FLOAT:
            input = cast(input, _dt.get_default_dtype())
        elif isinstance(exponent, complex) and not dtype.is_complex:
            input = cast(input, _dt._combine(dtype, _dt._category_default(_dt.COMPLEX)))
        elif dtype is _dt.bool_ and exponent is False:    # bool ** False stays bool (all True), as in PyTorch
            return _out(nodiff(lambda xp, a: xp.ones_like(a), input), out)
        elif dtype is _dt.bool_ and exponent.__class__ is int:
            input = cast(input, _dt.int64)                # bool ** int is int64, as in PyTorch
        elif dtype is _dt.bfloat16 and isinstance(exponent, float):
            exponent = dtype.numpy.type(exponent)         # keep ml_dtypes from computing in float32
        if dtype.category <= _dt.INT and exponent.__class__ is int and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if exponent == 1:
            if input._array.__class__ is _SparseCOO:     # PyTorch's pow of a sparse tensor coalesces it
                input = input.coalesce()
            return _out(mul(input, 1), out) if input._requires_grad else _out(clone(input), out)
        return _out(PowScalar.apply(input, exponent), out)
    input, exponent, dtype = promote("pow", input, exponent)
    if dtype.category <= _dt.INT:
        _no_bool_kernel("pow", dtype)
        return _out(nodiff(_int_pow, input, exponent), out)
    return _out(Pow.apply(input, exponent), out)


def _no_bool_kernel(name, dtype, complex_too=False):
    """PyTorch has no kernel for some ops on bool (and complex) results: NotImplementedError, as there."""
    if dtype is _dt.bool_ or (complex_too and dtype.is_complex):
        raise NotImplementedError(f"\"{name}\" not implemented for '{_dt.scalar_type_name(dtype)}'")


def _int_pow(xp, base, exponent):
    # NumPy refuses negative integer powers; PyTorch gives the truncated result (0, or +-1 for base +-1).
    negative = exponent < 0
    if not xp.any(negative):
        return base ** exponent
    out = base ** xp.where(negative, 0, exponent)
    odd = exponent % 2 != 0
    special = xp.where(base == 1, 1, xp.where(base == -1, xp.where(odd, -1, 1), 0))
    return xp.where(negative, special, out).astype(out.dtype, copy=False)


def _rpow(input, base):
    """base ** input where base is a scalar."""
    if "pow" in AUTOCAST:
        return autocast_run("pow", _rpow, input, base)
    base = scalar_value(base)
    if isinstance(base, (int, float)) and not isinstance(base, bool) and input.dtype.category >= _dt.FLOAT:
        if input.dtype is _dt.bfloat16:
            base = input.dtype.numpy.type(base)          # keep ml_dtypes from computing in float32
        return RPowScalar.apply(float(base) if isinstance(base, float) else base, input)
    b, e, dtype = promote("pow", base, input)
    if not isinstance(b, Tensor):
        b = _scalar_like(b, e)
    if dtype.category <= _dt.INT:
        _no_bool_kernel("pow", dtype)
        return nodiff(_int_pow, b, e)
    return Pow.apply(b, e)


@export(method=True)
def float_power(input, exponent):
    """pow computed in float64 (complex128 for complex inputs)."""
    target = _dt.complex128 if (getattr(input, "dtype", _dt.float64).is_complex or
                                getattr(exponent, "dtype", _dt.float64).is_complex) else _dt.float64
    input = cast(input, target) if isinstance(input, Tensor) else input
    exponent = cast(exponent, target) if isinstance(exponent, Tensor) else exponent
    return pow(input, exponent)


# --- remainders and floor division ------------------------------------------------------------------

class Fmod(Op):
    node_name = "FmodBackward1"                 # PyTorch: FmodBackward0 has a scalar divisor
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        if ctx.needs_input_grad[1]:                # the input's gradient is grad itself: nothing saved for it
            ctx.save_for_backward(input, other)
        out = ctx.xp.fmod(input, other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[1]:
            return grad, None
        input, other = ctx.saved_tensors
        return grad, -grad * trunc(input / other)


class Remainder(Op):
    node_name = "RemainderBackward1"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        if ctx.needs_input_grad[1]:                # the input's gradient is grad itself: nothing saved for it
            ctx.save_for_backward(input, other)
        out = ctx.xp.remainder(input, other)
        if out.dtype.kind == "f":                  # a zero result has the dividend's sign in PyTorch (fmod's),
            zero = out == 0                        # the divisor's in NumPy
            if zero.any():
                out = ctx.xp.where(zero, ctx.xp.copysign(out.dtype.type(0), input), out)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[1]:
            return grad, None
        input, other = ctx.saved_tensors            # PyTorch's formula: floor division, not floor(a / b)
        return grad, -grad * div(input, other, rounding_mode="floor")


class FmodScalar(Fmod):
    node_name = "FmodBackward0"


class RemainderScalar(Remainder):
    node_name = "RemainderBackward0"


def _check_int_zero(name, other, input=None):
    """PyTorch's integer-division error for a zero divisor; none when the (broadcast) result is empty."""
    if isinstance(input, Tensor) and not input._array.size:
        return
    if isinstance(other, Tensor):
        if other.dtype.category <= _dt.INT and bool((other._array == 0).any()):
            raise RuntimeError("ZeroDivisionError")
    elif isinstance(other, int) and other == 0:
        raise RuntimeError("ZeroDivisionError")


@export(inplace=True)
def fmod(input, other):
    """Remainder with the sign of the dividend (C's fmod)."""
    if not isinstance(input, Tensor):                 # PyTorch takes a number as the divisor only
        raise TypeError(f"fmod(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    input, other, dtype = promote("fmod", input, other)
    _no_bool_kernel("fmod_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("fmod", other, input)
    return (Fmod if isinstance(other, Tensor) else FmodScalar).apply(input, other)


@export(inplace=True)
def remainder(input, other):
    """Python's modulus: the result has the sign of the divisor."""
    input, other, dtype = promote("remainder", input, other)
    _no_bool_kernel("remainder_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("remainder", other, input)
    return (Remainder if isinstance(other, Tensor) else RemainderScalar).apply(input, other)


@export(inplace=True)
def floor_divide(input, other):
    """floor(input / other), PyTorch's // (floors, like Python)."""
    input, other, dtype = promote("floor_divide", input, other)
    _no_bool_kernel("div_floor_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("floor_divide", other, input)
        return nodiff(lambda xp, a, b: xp.floor_divide(a, b), input, other)
    return FloorDivide.apply(input, other)


class FloorDivide(Op):
    """Python's floor division (PyTorch's div_floor: 1 // 0.1 == 9, not floor(1 / 0.1) == 10)."""
    node_name = "NotImplemented"                  # PyTorch records floor_divide without a derivative
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        out = ctx.xp.floor_divide(input, other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


# --- fused arithmetic: lerp, addcmul, addcdiv ------------------------------------------------------

class Lerp(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, input, end, weight):
        # PyTorch's LerpBackward1 saves the weight tensor, and input and end only for the weight's gradient;
        # LerpBackward0 keeps a scalar weight as a value, no saved tensor (a second backward through it runs)
        if ctx.needs_input_grad[2]:
            ctx.save_for_backward(input, end, weight)
        elif isinstance(weight, ctx.xp.ndarray):
            ctx.save_for_backward(None, None, weight)
        else:
            ctx.weight = weight
        out = _lerp(ctx.xp, input, end, weight)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, end, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, end, weight = ctx.saved_tensors or (None, None, ctx.weight)
        needs = ctx.needs_input_grad
        grad_weight = grad * (end - input) if needs[2] else None
        return (grad * (1 - weight) if needs[0] else None), (grad * weight if needs[1] else None), grad_weight


def _lerp(xp, input, end, weight):
    """PyTorch's lerp kernel: one multiply-add, start + w (end - start) where |w| < 0.5, else end + (w - 1)
    (end - start), so w = 1 gives end exactly (and infinities as PyTorch: lerp(inf, 2, .5) is inf). float32 and
    half precision work in float32 (PyTorch's opmath type) with the multiply-add formed in float64 and rounded
    once, as its fused kernel; float64 and complex round twice."""
    work = input.dtype
    if work.kind == "V" or work.kind == "f" and work.itemsize < 8:
        f32 = xp.float32
        if work.itemsize == 4 and work.kind == "f" and weight.__class__ in (float, int):
            # float32 with a Python weight (the common call): the same arithmetic in place, no mixed-type
            # temporaries (bit for bit the general path below; a + b == b + a in IEEE arithmetic)
            w = f32(weight)
            out = (end - input).astype(xp.float64)
            if abs(w) < 0.5:
                out *= float(w)
                out += input
            else:
                out *= float(w - f32(1))
                out += end
            return out.astype(f32)
        start, end, w = input.astype(f32, copy=False), end.astype(f32, copy=False), xp.asarray(weight, f32)
        diff = (end - start).astype(xp.float64)
        if w.ndim == 0:
            out = start + float(w) * diff if abs(w) < 0.5 else end + float(w - f32(1)) * diff
        else:
            out = xp.where(xp.abs(w) < 0.5, start + w * diff, end + (w - f32(1)) * diff)
        return out.astype(f32).astype(work, copy=False)              # (half precision: via float32, as there)
    diff = end - input
    if getattr(weight, "ndim", 0) == 0:
        return input + weight * diff if abs(weight) < 0.5 else end - diff * (1 - weight)
    return xp.where(xp.abs(weight) < 0.5, input + weight * diff, end - diff * (1 - weight))


@export(inplace=True)
def lerp(input, end, weight):
    """input + weight * (end - input)."""
    # PyTorch does not promote: end, and a weight with dimensions, must have input's dtype (a 0-d weight
    # is cast to it)
    if isinstance(input, Tensor) and isinstance(end, Tensor):
        for name, t in (("end", end), ("weight", weight)):
            if isinstance(t, Tensor) and t.dtype is not input.dtype and (name == "end" or t.ndim):
                raise RuntimeError(f"expected dtype {_TYPE_META[input.dtype.name]} for `{name}` but got dtype "
                                   f"{_TYPE_META[t.dtype.name]}")
        if input.dtype.category < _dt.FLOAT:
            kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    else:
        input, end, _ = promote("lerp", input, end)
    if isinstance(weight, Tensor):
        weight = cast(weight, input.dtype)
    return (LerpTensor if isinstance(weight, Tensor) else Lerp).apply(input, end, weight)


# dtype names as PyTorch's messages print them (caffe2::TypeMeta)
_TYPE_META = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


class LerpTensor(Lerp):
    node_name = "LerpBackward1"


@export(inplace=True)
def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (value is truncated to an integer for integer tensors, as in PyTorch)."""
    if _State.grad_enabled and (getattr(input, "_requires_grad", False) or getattr(tensor1, "_requires_grad", False)
                                or getattr(tensor2, "_requires_grad", False)):
        _State.grad_enabled = False               # the values, as below; recorded as PyTorch's one node
        try:
            result = addcmul(input, tensor1, tensor2, value=value)
        finally:
            _State.grad_enabled = True
        dtype = result.dtype
        return Addcmul.apply(_operand_cast(input, dtype), _operand_cast(tensor1, dtype),
                             _operand_cast(tensor2, dtype), value=value, result=result._array)
    if isinstance(input, Tensor) and isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor):
        dtype = _dt.result_type(input, tensor1, tensor2)
        if dtype is _dt.float32 or dtype is _dt.float16 or dtype is _dt.bfloat16:
            value = scalar_value(value)
            return nodiff(lambda xp, a, b, c: _addcmul_fused(xp, a, b, c, value), cast(input, dtype),
                          cast(tensor1, dtype), cast(tensor2, dtype))
    product = mul(tensor1, tensor2)
    if value != 1 and _dt.result_type(input, product).category <= _dt.INT:
        value = int(value)
    return add(input, product, alpha=value) if value != 1 else add(input, product)


def _addcmul_fused(xp, input, tensor1, tensor2, value):
    """PyTorch's CPU addcmul for float32 (and, in float32, for float16 / bfloat16): value * tensor1 rounded, then
    one fused multiply-add with tensor2 and input (formed in float64, rounded once to float32)."""
    f32, f64 = xp.float32, xp.float64
    scaled = tensor1.astype(f32, copy=False) * f32(value)
    out = input.astype(f64) + scaled.astype(f64) * tensor2.astype(f64)
    out = out.astype(f32).astype(input.dtype, copy=False)
    if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
        out = iterator_layout(out, input, tensor1, tensor2)
    return out


class Addcmul(Op):
    """input + value * tensor1 * tensor2 in a graph: PyTorch's one node (AddcmulBackward0), which saves tensor2
    for tensor1's gradient and tensor1 for tensor2's, so that a second backward or an in-place change of them
    is refused before anything reaches input. The values come from addcmul's unrecorded path (its rounding)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, tensor1, tensor2, value, result):
        needs = ctx.needs_input_grad
        ctx.value = value
        ctx.save_for_backward(tensor1 if needs[2] else None, tensor2 if needs[1] else None)
        return result

    @staticmethod
    def backward(ctx, grad):
        tensor1, tensor2 = ctx.saved_tensors
        needs = ctx.needs_input_grad
        value = ctx.value
        return (grad if needs[0] else None, grad * (tensor2 * value) if needs[1] else None,
                grad * (tensor1 * value) if needs[2] else None)


class Addcdiv(Op):
    """input + value * tensor1 / tensor2, computed in float32 for the half types (PyTorch's opmath).
    PyTorch saves tensor2 always and tensor1 for tensor2's gradient."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, tensor1, tensor2, value):
        ctx.value = value
        ctx.save_for_backward(tensor1 if ctx.needs_input_grad[2] else None, tensor2)
        if input.dtype.itemsize < 4 and input.dtype.kind in "fV":   # float16, bfloat16 (kind V in ml_dtypes)
            wide = "float32"
            out = input.astype(wide) + value * tensor1.astype(wide) / tensor2.astype(wide)
            out = out.astype(input.dtype)
        else:
            out = input + value * tensor1 / tensor2
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, tensor1, tensor2)
        return out

    @staticmethod
    def backward(ctx, grad):
        tensor1, tensor2 = ctx.saved_tensors
        needs = ctx.needs_input_grad
        value = ctx.value
        return (grad if needs[0] else None, grad * value / tensor2 if needs[1] else None,
                -grad * value * tensor1 / (tensor2 * tensor2) if needs[2] else None, None)


@export(inplace=True)
def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    if tensor1.dtype.category <= _dt.INT and tensor2.dtype.category <= _dt.INT:
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future  release "
                           "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
                           "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
                           ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter implementation: "
                           "(input + value * tensor1 / tensor2), for all dtypes.")
    dtype = _dt.result_type(input, tensor1, tensor2)
    if value.__class__ is not int and value.__class__ is not float:
        value = scalar_value(value)
    return Addcdiv.apply(cast(input, dtype), cast(tensor1, dtype), cast(tensor2, dtype), value)
