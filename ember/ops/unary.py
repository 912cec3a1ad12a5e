"""Unary math: the one-line table of elementwise functions (exp, log, sin, sqrt, sigmoid, erf, abs, sign,
floor ... each a forward on arrays and a gradient on Tensors), round, nan_to_num, complex parts (real, imag,
conj, angle), clone, and the two-argument relatives of the table's functions: atan2, hypot, logaddexp."""
import math

import numpy as _np

from .. import _backends, _dtype as _dt
from .._backends import cpu as _cpu, errstate
from .._memory_format import iterator_layout
from .._tensor import Tensor
from ..amp._dispatch import AUTOCAST, AUTOCAST_NAMES, autocast_run
from ..autograd.function import Op
from ..sparse._kernels import zero_preserving
from ._common import _out, _tensor_pair, cast, nodiff, opmath, zeros_like_
from ._registry import export
from .comparison import isfinite, where

_STRIDED = _backends.STRIDED              # cpu and cuda array classes (Note [memory formats])
_ndarray = _np.ndarray
_exp = _np.exp

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

    hooked = name in AUTOCAST_NAMES        # on an autocast list (exp, log ... on CUDA's): only these look it up

    def public(input, *, out=None):
        if hooked and name in AUTOCAST and out is None:
            return autocast_run(name, public, input)
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
    return grad * (sgn(x) if x.dtype.is_complex else sign(x))    # (sign refuses complex, as PyTorch's)


def _neg(xp, x):
    if x.dtype == bool:                  # NumPy raises TypeError; PyTorch a RuntimeError with this advice
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return -x


neg = unary_op("neg", _neg, lambda g, _: -g, keeps=None, float_only=False, aliases=("negative",))
exp = unary_op("exp", lambda xp, x: xp.exp(x), lambda g, out: g * out, keeps="output")
exp2 = unary_op("exp2", lambda xp, x: xp.exp2(x), lambda g, out: g * out * math.log(2), keeps="output")
expm1 = unary_op("expm1", lambda xp, x: xp.expm1(x), lambda g, out: g * (out + 1), keeps="output")


def _clear_nan_sign(fn, below=0, itemsizes=(4, 8)):
    """fn (log, log2, log10, sqrt; log1p in float64) with PyTorch's NaN for an input below its domain, sign bit
    clear: NumPy's is x86's default NaN, -nan, which signbit and copysign see. One min() pass when no input is
    out of the domain (float16, and log1p's float32, keep -nan as PyTorch's kernels do)."""
    def forward(xp, x):
        out = fn(xp, x)
        if x.dtype.kind == "f" and x.itemsize in itemsizes and x.size and not x.min() >= below:
            out = xp.where(x < below, xp.copysign(out, 1.0), out)
        return out
    return forward


log = unary_op("log", _clear_nan_sign(lambda xp, x: xp.log(x)), lambda g, x: g / x)
log2 = unary_op("log2", _clear_nan_sign(lambda xp, x: xp.log2(x)), lambda g, x: g / (x * math.log(2)))
log10 = unary_op("log10", _clear_nan_sign(lambda xp, x: xp.log10(x)), lambda g, x: g / (x * math.log(10)))


def _log1p_grad(g, x):
    if x.is_sparse:              # PyTorch's formula for a sparse x: g / (x + 1) at x's entries (x + 1 is dense)
        from .sparse_coo_ops import map_sparse_values
        return g * map_sparse_values(x, lambda values: 1 / (values + 1))
    return g / (x + 1)


log1p = unary_op("log1p", zero_preserving("log1p")(_clear_nan_sign(lambda xp, x: xp.log1p(x), below=-1,
                                                                   itemsizes=(8,))), _log1p_grad)
_sqrt = zero_preserving("sqrt")(_clear_nan_sign(lambda xp, x: xp.sqrt(x)))      # (a sparse x: its values)
sqrt = unary_op("sqrt", _sqrt, lambda g, out: g / (out * 2), keeps="output")
rsqrt = unary_op("rsqrt", lambda xp, x: opmath(xp, lambda a: 1 / xp.sqrt(a), x), lambda g, out: g * (out ** 3) * -0.5, keeps="output")
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


# exp(-x) stays finite for x above these (float32 overflows past exp(88.72), float64 past exp(709.78)), by itemsize
_EXP_SAFE = {4: -88.0, 8: -709.0}
_min = _cpu.minimum_reduce                          # (x, None): over every axis
_reciprocal = _np.reciprocal                        # 1 / v, bit for bit
_ONE32 = _np.float32(1)                             # float32 + it stays float32, float64 + it float64


def _sigmoid(xp, x):
    # PyTorch's kernel: 1 / (1 + exp(-x)), which is 1 / inf = 0 where exp(-x) overflows (float32 x below -88.72:
    # not the subnormal e^x / (1 + e^x) would give); NumPy's overflow warning is silenced there
    kind = x.dtype.kind
    if x.itemsize == 2 and kind in "fV":           # half precision: in float32, rounded once (opmath)
        return _sigmoid(xp, x.astype(xp.float32)).astype(x.dtype)
    # (new arrays rather than out=: a ufunc's out keyword costs more than the allocation at these sizes; the
    # ufuncs called directly and a NumPy scalar 1 rather than x.min() and Python's 1: less dispatch, same bits)
    if x.__class__ is _ndarray and kind == "f" and (not x.size or _min(x, None) >= _EXP_SAFE[x.itemsize]):
        return _reciprocal(_exp(-x) + _ONE32)      # exp(-x) finite: nothing to silence (a NaN min: below)
    with errstate(over="ignore"):                  # other backends, complex: no ordering to test
        return 1 / (1 + xp.exp(-x))


sigmoid = unary_op("sigmoid", _sigmoid, lambda g, out: g * (out * (1 - out)), keeps="output")


def laid_as_input(fn):
    """forward(xp, x, *args) of an elementwise function computed on a work copy or through `where` (the special
    functions of _backends/special.py), whose result NumPy lays out its own way for a non-contiguous x (the
    float64 copy of an expanded x comes out column-major, `where` answers C-contiguous): laid out as PyTorch's
    TensorIterator lays out x's elementwise result (Note [memory formats]). The C-contiguous path costs a
    flag test."""
    def forward(xp, x, *args):
        out = fn(xp, x, *args)
        if x.__class__ in _STRIDED and not x.flags.c_contiguous and out.__class__ is x.__class__:
            out = iterator_layout(out, x)
        return out
    forward.__name__, forward.__doc__ = fn.__name__, fn.__doc__
    return forward


@zero_preserving("erf")
@laid_as_input
def _erf(xp, x):
    from .._backends.special import erf as erf_fn
    return erf_fn(xp, x)


@laid_as_input
def _erfc(xp, x):
    from .._backends.special import erfc as erfc_fn
    return erfc_fn(xp, x)


@zero_preserving("erfinv")
@laid_as_input
def _erfinv(xp, x):
    from .._backends.special import erfinv as erfinv_fn
    return erfinv_fn(xp, x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf = unary_op("erf", _erf, lambda g, x: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI)
erfc = unary_op("erfc", _erfc, lambda g, x: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI)
# PyTorch saves the input and computes erfinv again in backward
erfinv = unary_op("erfinv", _erfinv, lambda g, x: g * exp(erfinv(x) ** 2) * (math.sqrt(math.pi) / 2))
reciprocal = unary_op("reciprocal", lambda xp, x: 1 / x, lambda g, out: -g * out * out, keeps="output")


def _square(xp, x):
    if x.dtype == bool:                  # PyTorch's square is pow(x, 2), whose bool input promotes to int64
        return x.astype(xp.int64)
    return x * x


square = unary_op("square", _square, lambda g, x: g * (x * 2), float_only=False, node_name="PowBackward0")
abs = unary_op("abs", lambda xp, x: xp.abs(x), _sign_grad, float_only=False, aliases=("absolute",))


def _zero_grad(grad, _):
    """The gradient of a step function: zeros, not grad * 0 (a NaN/inf gradient must not leak), as in PyTorch."""
    return zeros_like_(grad)


@zero_preserving("sign")
def _sign(xp, x):
    if x.dtype == bool:
        return x.copy()
    out = xp.sign(x)
    if x.dtype.kind not in "iu":
        if x.dtype.kind == "c":
            raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex numbers. "
                                      "Please use torch.sgn instead.")
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


@zero_preserving("sgn")
def _sgn(xp, x):
    if x.dtype.kind != "c":
        return _sign(xp, x)
    return xp.where(x == 0, 0, x / xp.where(x == 0, 1, xp.abs(x)))


def _rounding(name):
    """floor, ceil, trunc: NumPy's ufunc of that name; integers are their own value (a copy)."""
    return zero_preserving(name)(lambda xp, x: getattr(xp, name)(x) if x.dtype.kind not in "biu" else x.copy())


# PyTorch's sgn saves its input and result, also for real inputs (sign saves nothing)
sgn = unary_op("sgn", _sgn, _sgn_grad, keeps="both", float_only=False)
floor = unary_op("floor", _rounding("floor"), _zero_grad, keeps=None, float_only=False)
ceil = unary_op("ceil", _rounding("ceil"), _zero_grad, keeps=None, float_only=False)
trunc = unary_op("trunc", _rounding("trunc"), _zero_grad, keeps=None, float_only=False, aliases=("fix",))
frac = unary_op("frac", zero_preserving("frac")(lambda xp, x: x - xp.trunc(x)), lambda g, _: g, keeps=None)
signbit = unary_op("signbit", lambda xp, x: xp.signbit(x), None, keeps=None, float_only=False,
                   differentiable=False, inplace=False)


def _round_half_even(xp, x, decimals):
    if decimals == 0:
        return xp.round(x)
    return xp.round(x, decimals)


@zero_preserving("round")
def _round(xp, x):
    return x.copy() if x.dtype.kind in "biu" else _round_half_even(xp, x, 0)


class Round(Op):
    @staticmethod
    def forward(ctx, input, decimals):
        if decimals == 0:
            return _round(ctx.xp, input)
        if input.dtype.kind in "biu":
            return input.copy()
        return _round_half_even(ctx.xp, input, decimals)      # (a sparse input: NumPy's round refuses it)

    @staticmethod
    def backward(ctx, grad):
        return zeros_like_(grad), None


@export(inplace=True)
def round(input, *, decimals=0):
    """Round half to even (PyTorch's rule), optionally to `decimals` places."""
    return (Round if decimals == 0 else RoundDecimals).apply(input, decimals)


class RoundDecimals(Round):
    node_name = "RoundBackward1"


@zero_preserving("nan_to_num")
def _nan_to_num(xp, x, nan, posinf, neginf):
    if x.dtype.kind in "biu":
        return x.copy()
    work = x if x.dtype.kind in "fc" else x.astype(xp.float32)   # bfloat16
    return xp.nan_to_num(work, nan=nan, posinf=posinf, neginf=neginf).astype(x.dtype, copy=False)


class NanToNum(Op):
    @staticmethod
    def forward(ctx, input, nan, posinf, neginf):
        ctx.save_for_backward(input)
        return _nan_to_num(ctx.xp, input, nan, posinf, neginf)

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


# --- two-argument relatives: atan2, hypot, logaddexp -----------------------------------------------

def _binary_float(name, input, other):
    input, other, dtype = _tensor_pair(name, input, other, scalars=False)     # Tensors only, as PyTorch
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
        out = ctx.xp.arctan2(y, x)
        if y.__class__ in _STRIDED and not y.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, y, x)
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula: 1 / (x^2 + y^2) taken as 0 where it is infinite (so 0 at (0, 0), not NaN)
        y, x = ctx.saved_tensors
        recip = (x * x + y * y).reciprocal()
        recip = where(recip == math.inf, 0.0, recip)
        return grad * x * recip, grad * -y * recip


class Hypot(Op):
    """sqrt(input^2 + other^2), one node as PyTorch's: the gradients are taken at the broadcast shape and then
    summed, so an operand broadcast against an empty tensor gets 0 (a composite would give it 0 * nan)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        out = _half_in_float32(ctx.xp.hypot, input, other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        needs = ctx.needs_input_grad                  # as PyTorch: each operand for its own gradient
        ctx.save_for_backward(input if needs[0] else None, other if needs[1] else None, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, other, result = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (grad * input / result if needs[0] else None,
                grad * other / result if needs[1] else None)


@export(inplace=True)
def hypot(input, other):
    a, b = _binary_float("hypot", input, other)
    return Hypot.apply(a, b)


class Logaddexp(Op):
    """log(exp(input) + exp(other)) without overflow; PyTorch saves both operands (not the result)."""
    broadcasts = True

    ufunc, power = "logaddexp", staticmethod(lambda x: exp(x))

    @classmethod
    def forward(cls, ctx, input, other):
        ctx.save_for_backward(input, other)
        out = _half_in_float32(getattr(ctx.xp, cls.ufunc), input, other)
        if input.__class__ in _STRIDED and not input.flags.c_contiguous:     # Note [memory formats]
            out = iterator_layout(out, input, other)
        return out

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


# --- complex parts ---------------------------------------------------------------------------------

# real and imag of a complex tensor are views of it, made as PyTorch makes them: view_as_real(z).select(-1, 0 or 1)
# (so their grad_fn is SelectBackward0, the gradient flows back as a complex tensor, and writes reach z)

@export(method=False)
def real(input):
    if not input.is_complex():
        return input
    from .views import view_as_real
    return view_as_real(input).select(-1, 0)


@export(method=False)
def imag(input):
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    from .views import view_as_real
    return view_as_real(input).select(-1, 1)


class Conj(Op):
    """The complex conjugate (computed, not a lazy conj bit); PyTorch's gradient is the conjugated grad."""
    holomorphic = False

    @staticmethod
    def forward(ctx, input):
        return ctx.xp.conj(input)

    @staticmethod
    def backward(ctx, grad):
        return Conj.apply(grad)


@export(method=True)
def conj(input):
    if not input.is_complex():
        return input
    return Conj.apply(input)


class Angle(Op):
    """Argument of a complex number (0 or pi for reals). PyTorch's gradient: zeros for real input,
    grad * z / |z|^2 * i (0 at z == 0) for complex input."""
    holomorphic = False

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        xp = ctx.xp
        if input.dtype.kind == "c":
            return xp.angle(input)
        # a real x: pi where x < 0, else 0 (-0. too: NumPy's atan2 gives pi), NaN kept
        out = xp.where(input < 0, math.pi, xp.where(input == input, 0.0, input))
        return out.astype(input.dtype, copy=False)

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
        if input.__class__ in _STRIDED and input.ndim > 1 and not input.flags.c_contiguous or memory_format:
            from .creation import copy_array  # keeps a non-contiguous input's layout, as PyTorch
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
