"""Elementwise math: arithmetic with PyTorch's promotion, unary functions, comparisons, logic, clamp."""
import math

import numpy as _CPU_XP

from .. import _dtype as _dt
from .._device import CPU
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import _INT_RANGE, cast, is_scalar, nodiff, promote, scalar_value, to_tensor_operand
from ._registry import export

_FROM_NUMPY = _dt._FROM_NUMPY


# --- binary arithmetic ------------------------------------------------------------------------------

class Add(Op):
    """input + other. The engine sums each gradient back to its input's shape."""
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        return input + other

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Op):
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        return input - other

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad if ctx.needs_input_grad[1] else None


class Mul(Op):
    broadcasts = True
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, other):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(input if needs[1] else None, other if needs[0] else None)
        return input * other

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        shapes = ctx._in_shapes                    # the inputs' shapes, kept by the engine for un-broadcasting
        return (_times(grad, other, shapes[0]) if other is not None else None,
                _times(grad, input, shapes[1]) if input is not None else None)


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
        return input / other

    @staticmethod
    def backward(ctx, grad):
        input, other = ctx.saved_tensors
        grad_input = grad / other if ctx.needs_input_grad[0] else None
        grad_other = -grad * input / (other * other) if ctx.needs_input_grad[1] else None
        return grad_input, grad_other


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


@export(inplace=True)
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other with broadcasting and PyTorch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if not _same_dtype(input, other):
        input, other, _ = promote("add", input, other)
    result = Add.apply_binary(input, other) if isinstance(input, Tensor) else Add.apply(input, other)
    return result if out is None else _out(result, out)


@export(inplace=True, aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _check_bool_sub(input, other)
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
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


@export(inplace=False)
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
        input, other, _ = promote("mul", input, other)
    result = Mul.apply_binary(input, other) if isinstance(input, Tensor) else Mul.apply(input, other)
    return result if out is None else _out(result, out)


@export(inplace=True, aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode=None, out=None):
    """input / other; integer inputs give the default float dtype unless rounding_mode is given."""
    input, other, dtype = promote("div", input, other)
    if rounding_mode is None:
        if dtype.category < _dt.FLOAT:
            dtype = _dt.get_default_dtype()
            input = cast(input, dtype) if isinstance(input, Tensor) else float(input)
            other = cast(other, dtype) if isinstance(other, Tensor) else float(other)
        return _out(Div.apply(input, other), out)
    if rounding_mode == "trunc":
        _no_bool_kernel("div_trunc_cpu", dtype, complex_too=True)
        if dtype.category == _dt.FLOAT:
            return _out(DivRounded.apply(input, other, floor=False), out)
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
        if floor:                                  # Python's floor division, as PyTorch's div_floor (1 // 0.1 == 9)
            return ctx.xp.floor_divide(input, other)
        return ctx.xp.trunc(input / other)

    @staticmethod
    def backward(ctx, grad):
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
        return input ** exponent

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


class Pow(Op):
    node_name = "PowBackward1"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, exponent):
        out = input ** exponent
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


def zeros_like_(t):
    return _make(t._backend().xp.zeros_like(t._array), t._device)


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
            input._array.dtype.kind == "f":       # fast path: float tensor to a Python int power
        return PowScalar.apply_binary(input, exponent)
    if not isinstance(input, Tensor):
        return _out(_rpow(exponent, input), out)
    if is_scalar(exponent):
        exponent = scalar_value(exponent)
        dtype = input.dtype
        if isinstance(exponent, float) and dtype.category < _dt.FLOAT:
            input = cast(input, _dt.get_default_dtype())
        elif isinstance(exponent, complex) and not dtype.is_complex:
            input = cast(input, _dt._combine(dtype, _dt._category_default(_dt.COMPLEX)))
        elif dtype is _dt.bool_ and exponent.__class__ is int:
            input = cast(input, _dt.int64)                # bool ** int is int64, as in PyTorch
        elif dtype is _dt.bfloat16 and isinstance(exponent, float):
            exponent = dtype.numpy.type(exponent)         # keep ml_dtypes from computing in float32
        if dtype.category <= _dt.INT and exponent.__class__ is int and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if exponent == 1:
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


def _out(result, out):
    """Honour out=: write into `out` (resizing like PyTorch when it is empty) and return it."""
    if out is None:
        return result
    from .inplace import write_out
    return write_out(out, result)


# --- unary ops --------------------------------------------------------------------------------------

def unary_op(name, forward, backward, keeps="input", float_only=True, node_name=None, method=True,
             inplace=True, differentiable=True, aliases=()):
    """Build a unary primitive: forward(xp, x) on arrays, backward(grad, saved) on Tensors.

    `keeps` is what PyTorch's node saves: "input", "output", "both" (saved is then (input, output)) or None."""
    def fwd(ctx, input):
        out = forward(ctx.xp, input)
        if keeps == "input":
            ctx.save_for_backward(input)
        elif keeps == "output":
            ctx.save_for_backward(out)
        elif keeps == "both":
            ctx.save_for_backward(input, out)
        return out

    def bwd(ctx, grad):
        if keeps is None:
            return backward(grad, None)
        if keeps == "both":
            return backward(grad, ctx.saved_tensors)
        (saved,) = ctx.saved_tensors
        return backward(grad, saved)

    op = type(name.capitalize().replace("_", ""), (Op,), {
        "holomorphic": name not in ("abs", "sgn"),       # |z| and z/|z| have their own complex formulas
        "forward": staticmethod(fwd), "backward": staticmethod(bwd),
        "node_name": node_name or name.replace("_", " ").title().replace(" ", "") + "Backward0"})

    def public(input, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        if float_only and input._array.dtype.kind in "biu":
            input = cast(input, _dt.get_default_dtype())
        if not differentiable:
            return _out(nodiff(forward, input), out)
        return _out(op.apply_unary(input), out)
    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {name}."
    public.op = op
    export(public, method=method, inplace=inplace, aliases=aliases)
    return public


def _sign_grad(grad, x):
    return grad * sign(x)


def _neg(xp, x):
    if x.dtype == bool:                  # NumPy raises TypeError; PyTorch a RuntimeError with this advice
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return -x


neg = unary_op("neg", _neg, lambda g, _: -g, keeps=None, float_only=False, aliases=("negative",))
exp = unary_op("exp", lambda xp, x: xp.exp(x), lambda g, out: g * out, keeps="output")
exp2 = unary_op("exp2", lambda xp, x: xp.exp2(x), lambda g, out: g * out * math.log(2), keeps="output")
expm1 = unary_op("expm1", lambda xp, x: xp.expm1(x), lambda g, out: g * (out + 1), keeps="output")
log = unary_op("log", lambda xp, x: xp.log(x), lambda g, x: g / x)
log2 = unary_op("log2", lambda xp, x: xp.log2(x), lambda g, x: g / (x * math.log(2)))
log10 = unary_op("log10", lambda xp, x: xp.log10(x), lambda g, x: g / (x * math.log(10)))
log1p = unary_op("log1p", lambda xp, x: xp.log1p(x), lambda g, x: g / (x + 1))
sqrt = unary_op("sqrt", lambda xp, x: xp.sqrt(x), lambda g, out: g / (out * 2), keeps="output")
rsqrt = unary_op("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda g, out: g * (out ** 3) * -0.5, keeps="output")
sin = unary_op("sin", lambda xp, x: xp.sin(x), lambda g, x: g * cos(x))
cos = unary_op("cos", lambda xp, x: xp.cos(x), lambda g, x: g * -sin(x))
tan = unary_op("tan", lambda xp, x: xp.tan(x), lambda g, out: g * (out * out + 1), keeps="output")
asin = unary_op("asin", lambda xp, x: xp.arcsin(x), lambda g, x: g * rsqrt(1 - x * x), aliases=("arcsin",))
acos = unary_op("acos", lambda xp, x: xp.arccos(x), lambda g, x: -g * rsqrt(1 - x * x), aliases=("arccos",))
atan = unary_op("atan", lambda xp, x: xp.arctan(x), lambda g, x: g / (x * x + 1), aliases=("arctan",))
sinh = unary_op("sinh", lambda xp, x: xp.sinh(x), lambda g, x: g * cosh(x))
cosh = unary_op("cosh", lambda xp, x: xp.cosh(x), lambda g, x: g * sinh(x))
tanh = unary_op("tanh", lambda xp, x: xp.tanh(x), lambda g, out: g * (1 - out * out), keeps="output")
asinh = unary_op("asinh", lambda xp, x: xp.arcsinh(x), lambda g, x: g * rsqrt(x * x + 1), aliases=("arcsinh",))
acosh = unary_op("acosh", lambda xp, x: xp.arccosh(x), lambda g, x: g * rsqrt(x * x - 1), aliases=("arccosh",))
atanh = unary_op("atanh", lambda xp, x: xp.arctanh(x), lambda g, x: g / (1 - x * x), aliases=("arctanh",))


# exp(-x) stays finite for x above these (float16 overflows past exp(11.09), float32 past exp(88.7)).
_EXP_SAFE = {"e": -11.0, "f": -88.0, "d": -708.0}        # by dtype.char: half, float, double


def _sigmoid(xp, x):
    # 1 / (1 + exp(-x)) is exact enough and cheap; when exp(-x) could overflow (very negative x) use
    # the split form, where neither branch overflows: e^x / (1 + e^x) for x < 0.
    safe = _EXP_SAFE.get(x.dtype.char)             # dtype.char is cheap; dtype.name costs microseconds
    if x.dtype.kind == "c" or safe is not None and x.size and x.min() > safe:
        return 1 / (1 + xp.exp(-x))                # complex: no ordering, so no split form
    e = xp.exp(-xp.abs(x))
    return (xp.where(x >= 0, 1, e) / (1 + e)).astype(x.dtype, copy=False)


sigmoid = unary_op("sigmoid", _sigmoid, lambda g, out: g * (out * (1 - out)), keeps="output")


def _erf(xp, x):
    from ..backends.special import erf as erf_fn
    return erf_fn(xp, x)


def _erfc(xp, x):
    from ..backends.special import erfc as erfc_fn
    return erfc_fn(xp, x)


def _erfinv(xp, x):
    from ..backends.special import erfinv as erfinv_fn
    return erfinv_fn(xp, x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf = unary_op("erf", _erf, lambda g, x: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI)
erfc = unary_op("erfc", _erfc, lambda g, x: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI)
# PyTorch saves the input and computes erfinv again in backward
erfinv = unary_op("erfinv", _erfinv, lambda g, x: g * exp(erfinv(x) ** 2) * (math.sqrt(math.pi) / 2))
reciprocal = unary_op("reciprocal", lambda xp, x: 1 / x, lambda g, out: -g * out * out, keeps="output")
square = unary_op("square", lambda xp, x: x * x, lambda g, x: g * (x * 2), float_only=False,
                  node_name="PowBackward0")
abs = unary_op("abs", lambda xp, x: xp.abs(x), _sign_grad, float_only=False, aliases=("absolute",))
def _zero_grad(grad, _):
    """The gradient of a step function: zeros, not grad * 0 (a NaN/inf gradient must not leak), as in PyTorch."""
    return zeros_like_(grad)


def _sign(xp, x):
    if x.dtype == bool:
        return x.copy()
    out = xp.sign(x)
    if x.dtype.kind not in "iu":
        out = xp.where(out != out, 0, out).astype(x.dtype, copy=False)     # PyTorch: sign(NaN) is 0
    return out


sign = unary_op("sign", _sign, _zero_grad, keeps=None, float_only=False)


def _sgn_grad(grad, saved):
    """Zero for real inputs; for complex z, (g - Re(g conj(s)) s) / |z| with s = sgn(z), 0 at z = 0."""
    x, out = saved
    if not x.dtype.is_complex:
        return zeros_like_(grad)
    magnitude = abs(x)
    zero = magnitude == 0
    return where(zero, 0.0, (grad - real(grad * out.conj()) * out) / where(zero, 1.0, magnitude))


# PyTorch's sgn saves its input and result, also for real inputs (sign saves nothing)
sgn = unary_op("sgn", lambda xp, x: _sign(xp, x) if x.dtype.kind != "c" else
               xp.where(x == 0, 0, x / xp.where(x == 0, 1, xp.abs(x))), _sgn_grad, keeps="both",
               float_only=False)
floor = unary_op("floor", lambda xp, x: xp.floor(x) if x.dtype.kind not in "biu" else x.copy(),
                 _zero_grad, keeps=None, float_only=False)
ceil = unary_op("ceil", lambda xp, x: xp.ceil(x) if x.dtype.kind not in "biu" else x.copy(), _zero_grad,
                keeps=None, float_only=False)
trunc = unary_op("trunc", lambda xp, x: xp.trunc(x) if x.dtype.kind not in "biu" else x.copy(),
                 _zero_grad, keeps=None, float_only=False, aliases=("fix",))
frac = unary_op("frac", lambda xp, x: x - xp.trunc(x), lambda g, _: g, keeps=None)
signbit = unary_op("signbit", lambda xp, x: xp.signbit(x), None, keeps=None, float_only=False,
                   differentiable=False, inplace=False)


def _round_half_even(xp, x, decimals):
    if decimals == 0:
        return xp.round(x)
    return xp.round(x, decimals)


class Round(Op):
    @staticmethod
    def forward(ctx, input, decimals):
        if input.dtype.kind in "biu":
            return input.copy()
        return _round_half_even(ctx.xp, input, decimals)

    @staticmethod
    def backward(ctx, grad):
        return zeros_like_(grad), None


@export(inplace=True)
def round(input, *, decimals=0):
    """Round half to even (PyTorch's rule), optionally to `decimals` places."""
    return (Round if decimals == 0 else RoundDecimals).apply(input, decimals)


class RoundDecimals(Round):
    node_name = "RoundBackward1"


def _isnan(xp, x):
    return xp.isnan(x) if x.dtype.kind not in "biu" else xp.zeros(x.shape, dtype=bool)


@export(method=True)
def isnan(input):
    return nodiff(_isnan, input)


@export(method=True)
def isinf(input):
    return nodiff(lambda xp, x: xp.isinf(x) if x.dtype.kind not in "biu" else xp.zeros(x.shape, dtype=bool), input)


@export(method=True)
def isposinf(input):
    return nodiff(lambda xp, x: xp.isposinf(x) if x.dtype.kind not in "biuc" else xp.zeros(x.shape, dtype=bool),
                  input)


@export(method=True)
def isneginf(input):
    return nodiff(lambda xp, x: xp.isneginf(x) if x.dtype.kind not in "biuc" else xp.zeros(x.shape, dtype=bool),
                  input)


@export(method=True)
def isfinite(input):
    return nodiff(lambda xp, x: xp.isfinite(x) if x.dtype.kind not in "biu" else xp.ones(x.shape, dtype=bool),
                  input)


@export(method=True)
def isreal(input):
    return nodiff(lambda xp, x: xp.isreal(x), input)


class NanToNum(Op):
    @staticmethod
    def forward(ctx, input, nan, posinf, neginf):
        xp = ctx.xp
        ctx.save_for_backward(input)
        if input.dtype.kind in "biu":
            return input.copy()
        work = input if input.dtype.kind in "fc" else input.astype(xp.float32)   # bfloat16
        out = xp.nan_to_num(work, nan=nan, posinf=posinf, neginf=neginf)
        return out.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return grad * isfinite(input), None, None, None


@export(inplace=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN, +inf and -inf by finite numbers (default: 0 and the dtype's extremes)."""
    if input.dtype.category >= _dt.FLOAT:
        info = _dt.finfo(input.dtype.to_real())
        posinf = info.max if posinf is None else posinf
        neginf = info.min if neginf is None else neginf
    return NanToNum.apply(input, nan, posinf, neginf)


# --- binary math ------------------------------------------------------------------------------------

class Maximum(Op):
    broadcasts = True
    ufunc, is_max = "maximum", True

    @classmethod
    def forward(cls, ctx, input, other):
        ctx.save_for_backward(input, other)
        return getattr(ctx.xp, cls.ufunc)(input, other)

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


def _tensor_pair(name, input, other):
    if not isinstance(other, Tensor):
        other = _scalar_like(other, input) if is_scalar(other) else to_tensor_operand(other, input)
    if not isinstance(input, Tensor):
        input = _scalar_like(input, other) if is_scalar(input) else to_tensor_operand(input, other)
    input, other, dtype = promote(name, input, other)
    return input, other, dtype


@export(method=True)
def maximum(input, other, *, out=None):
    input, other, dtype = _tensor_pair("maximum", input, other)
    if dtype.is_complex:
        raise RuntimeError("maximum not implemented for complex tensors.")
    return _out(Maximum.apply(input, other), out)


@export(method=True)
def minimum(input, other, *, out=None):
    input, other, dtype = _tensor_pair("minimum", input, other)
    if dtype.is_complex:
        raise RuntimeError("minimum not implemented for complex tensors.")
    return _out(Minimum.apply(input, other), out)


@export(method=True)
def fmax(input, other):
    input, other, dtype = _tensor_pair("fmax", input, other)
    if dtype.is_complex:
        raise RuntimeError("fmax not implemented for complex tensors.")
    return Fmax.apply(input, other)


@export(method=True)
def fmin(input, other):
    input, other, dtype = _tensor_pair("fmin", input, other)
    if dtype.is_complex:
        raise RuntimeError("fmin not implemented for complex tensors.")
    return Fmin.apply(input, other)


def _binary_float(name, input, other):
    input, other, dtype = _tensor_pair(name, input, other)
    if dtype.category < _dt.FLOAT:
        input, other = cast(input, _dt.get_default_dtype()), cast(other, _dt.get_default_dtype())
    return input, other


@export(inplace=True, aliases=("arctan2",))
def atan2(input, other):
    """Angle of (other, input); gradients of atan(input/other) written stably."""
    y, x = _binary_float("atan2", input, other)
    return Atan2.apply(y, x)


class Atan2(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, y, x):
        ctx.save_for_backward(y, x)
        return ctx.xp.arctan2(y, x)

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula: 1 / (x^2 + y^2) taken as 0 where it is infinite (so 0 at (0, 0), not NaN)
        y, x = ctx.saved_tensors
        recip = (x * x + y * y).reciprocal()
        recip = where(recip == math.inf, 0.0, recip)
        return grad * x * recip, grad * -y * recip


@export(inplace=True)
def hypot(input, other):
    a, b = _binary_float("hypot", input, other)
    return sqrt(a * a + b * b)


class Logaddexp(Op):
    """log(exp(input) + exp(other)) without overflow; PyTorch saves both operands (not the result)."""
    broadcasts = True

    ufunc, power = "logaddexp", staticmethod(lambda x: exp(x))

    @classmethod
    def forward(cls, ctx, input, other):
        ctx.save_for_backward(input, other)
        return _half_in_float32(getattr(ctx.xp, cls.ufunc), input, other)

    @classmethod
    def backward(cls, ctx, grad):
        input, other = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (grad / (cls.power(other - input) + 1) if needs[0] else None,
                grad / (cls.power(input - other) + 1) if needs[1] else None)


class Logaddexp2(Logaddexp):
    """log2(2**input + 2**other), the same way."""
    ufunc, power = "logaddexp2", staticmethod(lambda x: exp2(x))


def _half_in_float32(fn, a, b):
    """fn on float16/bfloat16 operands computed in float32 (PyTorch's opmath type) and rounded back."""
    if a.dtype.itemsize < 4:
        return fn(a.astype("float32"), b.astype("float32")).astype(a.dtype)
    return fn(a, b)


def _complex_logaddexp(name, input, other):
    if input.dtype.is_complex:
        raise RuntimeError(f"{name} not implemented for complex tensors.")


@export(method=True)
def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow."""
    a, b = _binary_float("logaddexp", input, other)
    _complex_logaddexp("logaddexp", a, b)
    return Logaddexp.apply(a, b)


@export(method=True)
def logaddexp2(input, other):
    a, b = _binary_float("logaddexp2", input, other)
    _complex_logaddexp("logaddexp2", a, b)
    return Logaddexp2.apply(a, b)


class Fmod(Op):
    node_name = "FmodBackward1"                 # PyTorch: FmodBackward0 has a scalar divisor
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        if ctx.needs_input_grad[1]:                # the input's gradient is grad itself: nothing saved for it
            ctx.save_for_backward(input, other)
        return ctx.xp.fmod(input, other)

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


def _check_int_zero(name, other):
    if isinstance(other, Tensor):
        if other.dtype.category <= _dt.INT and bool((other._array == 0).any()):
            raise RuntimeError("ZeroDivisionError")
    elif isinstance(other, int) and other == 0:
        raise RuntimeError("ZeroDivisionError")


@export(inplace=True)
def fmod(input, other):
    """Remainder with the sign of the dividend (C's fmod)."""
    input, other, dtype = promote("fmod", input, other)
    _no_bool_kernel("fmod_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("fmod", other)
    return (Fmod if isinstance(other, Tensor) else FmodScalar).apply(input, other)


@export(inplace=True)
def remainder(input, other):
    """Python's modulus: the result has the sign of the divisor."""
    input, other, dtype = promote("remainder", input, other)
    _no_bool_kernel("remainder_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("remainder", other)
    return (Remainder if isinstance(other, Tensor) else RemainderScalar).apply(input, other)


@export(inplace=True)
def floor_divide(input, other):
    """floor(input / other), PyTorch's // (floors, like Python)."""
    input, other, dtype = promote("floor_divide", input, other)
    _no_bool_kernel("div_floor_cpu", dtype, complex_too=True)
    if dtype.category <= _dt.INT:
        _check_int_zero("floor_divide", other)
        return nodiff(lambda xp, a, b: xp.floor_divide(a, b), input, other)
    return FloorDivide.apply(input, other)


class FloorDivide(Op):
    """Python's floor division (PyTorch's div_floor: 1 // 0.1 == 9, not floor(1 / 0.1) == 10)."""
    node_name = "NotImplemented"                  # PyTorch records floor_divide without a derivative
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        return ctx.xp.floor_divide(input, other)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class Lerp(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, input, end, weight):
        # PyTorch saves the weight, and input and end only for the weight's gradient
        if ctx.needs_input_grad[2]:
            ctx.save_for_backward(input, end, weight)
        else:
            ctx.save_for_backward(None, None, weight)
        return input + weight * (end - input)

    @staticmethod
    def backward(ctx, grad):
        input, end, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_weight = grad * (end - input) if needs[2] else None
        return (grad * (1 - weight) if needs[0] else None), (grad * weight if needs[1] else None), grad_weight


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
    product = mul(tensor1, tensor2)
    if value != 1 and _dt.result_type(input, product).category <= _dt.INT:
        value = int(value)
    return add(input, product, alpha=value) if value != 1 else add(input, product)


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
            return out.astype(input.dtype)
        return input + value * tensor1 / tensor2

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
    if input.dtype.category < _dt.FLOAT and (isinstance(min, float) or isinstance(max, float)):
        input = cast(input, _dt.get_default_dtype())
    dtype = input.dtype
    return _out(op.apply(input, _clamp_bound(min, dtype), _clamp_bound(max, dtype)), out)


@export(inplace=True)
def clamp_min(input, min):
    return _clamp(input, min, None, None, ClampMin)


@export(inplace=True)
def clamp_max(input, max):
    return _clamp(input, None, max, None, ClampMax)


# --- comparisons and logic (no gradients) -----------------------------------------------------------

def _compare(name, fn):
    def compare(input, other, *, out=None):
        a, b, _ = promote(name, input, other)
        return _out(nodiff(fn, a, b), out)
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
        if not isinstance(other, Tensor):
            other = to_tensor_operand(other, input)
        return nodiff(fn, input, other)
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
        return nodiff(fn, a, b)
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


# --- where ----------------------------------------------------------------------------------------

class Where(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, condition, input, other):
        ctx.save_for_backward(condition)
        return ctx.xp.where(condition, input, other)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        zero = zeros_like_(grad)
        return (None,
                where(condition, grad, zero) if ctx.needs_input_grad[1] else None,
                where(condition, zero, grad) if ctx.needs_input_grad[2] else None)


@export(method=True)
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


# --- complex parts ---------------------------------------------------------------------------------

class Real(Op):
    @staticmethod
    def forward(ctx, input):
        return input.real

    @staticmethod
    def backward(ctx, grad):
        return grad.to(_dt.float32.to_complex() if grad.dtype is _dt.float32 else _dt.complex128)


@export(method=False)
def real(input):
    if not input.is_complex():
        return input
    return Real.apply_unary(input)


@export(method=False)
def imag(input):
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return nodiff(lambda xp, a: a.imag, input)


@export(method=True)
def conj(input):
    if not input.is_complex():
        return input
    return nodiff(lambda xp, a: xp.conj(a), input)


class Angle(Op):
    """Argument of a complex number (0 or pi for reals). PyTorch's gradient: zeros for real input,
    grad * z / |z|^2 * i (0 at z == 0) for complex input."""
    holomorphic = False

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        out = ctx.xp.angle(input)
        return out if input.dtype.kind == "c" else out.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        if not z.is_complex():
            return zeros_like_(z)
        zero = z == 0
        return where(zero, 0.0, grad * z / where(zero, 1.0, z.abs() ** 2) * 1j)


@export(method=True)
def angle(input):
    if input.dtype.category < _dt.FLOAT:
        input = cast(input, _dt.get_default_dtype())
    return Angle.apply_unary(input)


# --- cloning and copying ----------------------------------------------------------------------------

class Clone(Op):
    @staticmethod
    def forward(ctx, input, memory_format=None):
        if input.__class__ is _CPU_XP.ndarray and input.ndim > 1 and not input.flags.c_contiguous or memory_format:
            from .creation import copy_array           # keeps a non-contiguous input's layout, as PyTorch
            return copy_array(input, memory_format)
        return input.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


@export(method=True)
def clone(input, *, memory_format=None):
    """A copy with its own storage, differentiable; laid out like input unless memory_format says otherwise."""
    if memory_format is None or getattr(memory_format, "name", None) == "preserve_format":
        return Clone.apply_unary(input)
    from .creation import memory_format as _memory_format
    if not isinstance(memory_format, _memory_format):
        raise TypeError(f"clone(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(memory_format).__name__}")
    return Clone.apply(input, memory_format=memory_format)

