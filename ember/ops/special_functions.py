"""Special functions as primitives: the gamma family (lgamma, digamma, polygamma, mvlgamma, torch.special's zeta),
modified Bessel functions (i0; torch.special's i0e, i1, i1e), the normal distribution (ndtr, ndtri, log_ndtr),
xlogy / xlog1py / entr, logit, sinc, and the float helpers copysign, heaviside, ldexp, frexp, nextafter, gcd,
lcm, deg2rad, rad2deg, positive, float_power_.

The numerics live in ember/_backends/special.py. Names that PyTorch keeps under torch.special only (i0e, zeta,
ndtr, ...) are not exported as ember.<name>: ember/special.py collects them.
"""
import math

from .._backends import STRIDED as _STRIDED, errstate
from .. import _dtype as _dt
from .._memory_format import iterator_layout
from .._tensor import Tensor
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from .._backends import special as _sp
from ..sparse._kernels import zero_preserving
from ._common import cast, nodiff, promote, return_type, zeros_like_
from ._registry import export, export_method
from .arithmetic import float_power
from .comparison import where
from .unary import cos, exp, exp2, laid_as_input, log, sign, sin, unary_op

_SQRT_2PI = math.sqrt(2 * math.pi)


def _type_name(array):
    return _dt.scalar_type_name(_dt._FROM_NUMPY[array.dtype])


def _real(name, fn):
    """forward(xp, x) for a real-only function: complex inputs are refused, as in PyTorch. Its result is laid
    out as PyTorch's (unary.laid_as_input)."""
    fn = laid_as_input(fn)

    def forward(xp, x):
        if x.dtype.kind == "c":
            raise NotImplementedError(f"\"{name}\" not implemented for '{_type_name(x)}'")
        return fn(xp, x)
    return forward


def _in_float32(fn):
    """Compute half-precision inputs in float32 (PyTorch's opmath type) and round back."""
    def forward(xp, x):
        if x.dtype.itemsize < 4:
            return fn(xp, x.astype(xp.float32)).astype(x.dtype)
        return fn(xp, x)
    return forward


def _float_input(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return cast(input, _dt.get_default_dtype()) if input.dtype.category < _dt.FLOAT else input


def _require_tensor(name, arg, value, position=2):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not {type(value).__name__}")


def _float_operands(name, input, other):
    """PyTorch's promotion for a float-valued binary op: integer and bool results compute in the default float."""
    input, other, dtype = promote(name, input, other)
    if dtype.category < _dt.FLOAT:
        dtype = _dt.get_default_dtype()
        input, other = [cast(v, dtype) if isinstance(v, Tensor) else v for v in (input, other)]
    return input, other


# --- unary primitives -----------------------------------------------------------------------------

def _sinc(xp, x):
    # sin(pi x) / (pi x) in the input's precision (as PyTorch), 1 at 0
    product = x * math.pi
    return xp.where(x == 0, 1, xp.sin(product) / xp.where(x == 0, 1, product)).astype(x.dtype)


def _sinc_grad(grad, x):
    # PyTorch's formula, 0 selected where pi x^2 is 0 (so a NaN gradient stays out there too)
    x_pi = x * math.pi
    squared_pi = x * x * math.pi
    safe = where(squared_pi == 0, 1.0, squared_pi)      # keep the unused branch finite
    return where(squared_pi == 0, 0.0, grad * (x_pi * cos(x_pi) - sin(x_pi)) / safe)


def _angle(factor, name):
    def forward(xp, x):
        if x.dtype.kind == "c":
            raise RuntimeError(f"{name} is not supported for complex tensors.")
        return x * xp.asarray(factor, dtype=x.dtype)      # PyTorch multiplies by the constant in x's dtype
    return zero_preserving(name)(forward)               # a sparse x: its coalesced values, as PyTorch


lgamma = unary_op("lgamma", _real("lgamma", _sp.lgamma), lambda g, x: g * digamma(x))
digamma = unary_op("digamma", _real("digamma", _sp.digamma), lambda g, x: g * polygamma(1, x))
i0 = unary_op("i0", _real("i0", _sp.i0), lambda g, x: g * i1(x))
sinc = unary_op("sinc", _in_float32(_real("sinc", _sinc)), _sinc_grad)
deg2rad = unary_op("deg2rad", _angle(math.pi / 180, "deg2rad"), lambda g, _: g * (math.pi / 180), keeps=None)
rad2deg = unary_op("rad2deg", _angle(180 / math.pi, "rad2deg"), lambda g, _: g * (180 / math.pi), keeps=None)


def _special_unary(name, node_name, forward, backward, keeps="input"):
    """A torch.special-only unary primitive: ember.special.<name>, no ember.<name> or Tensor method."""
    def fwd(ctx, input):
        out = forward(ctx.xp, input)
        if keeps == "both":
            ctx.save_for_backward(input, out)
        elif keeps == "copy":                     # a private copy: PyTorch saves an intermediate, not input
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(input.copy())
        else:
            ctx.save_for_backward(input if keeps == "input" else out)
        return out

    def bwd(ctx, grad):
        if keeps == "both":
            return backward(grad, ctx.saved_tensors)
        (saved,) = ctx.saved_tensors
        return backward(grad, saved)

    op = type(name.title().replace("_", ""), (Op,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                                     "node_name": node_name})

    def public(input):
        return op.apply_unary(_float_input(name, input))
    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise torch.special.{name}."
    return public


def _i1_grad(grad, saved):
    x, out = saved                                        # PyTorch saves the input and the result
    safe = where(x == 0, 1.0, x)
    return grad * where(x == 0, 0.5, i0(safe) - out / safe)


def _i1e_grad(grad, saved):
    x, out = saved
    safe = where(x == 0, 1.0, x)
    return grad * where(x == 0, 0.5, i0e(safe) - out * (sign(safe) + 1 / safe))


def _entr(xp, x):
    with errstate(all="ignore"):
        out = xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1)), xp.where(x == 0, 0, -xp.inf))
    return xp.where(xp.isnan(x), x, out).astype(x.dtype)


i0e = _special_unary("i0e", "SpecialI0EBackward0", _real("i0e", _sp.i0e),
                     lambda g, saved: g * (i1e(saved[0]) - sign(saved[0]) * saved[1]), keeps="both")
i1 = _special_unary("i1", "SpecialI1Backward0", _real("i1", _sp.i1), _i1_grad, keeps="both")
i1e = _special_unary("i1e", "SpecialI1EBackward0", _real("i1e", _sp.i1e), _i1e_grad, keeps="both")
entr = _special_unary("entr", "SpecialEntrBackward0", _in_float32(_real("entr", _entr)),
                      lambda g, x: g * -(log(x) + 1))


def _erfcx(xp, x):
    if x.dtype.kind == "c" or x.dtype.itemsize < 4:          # PyTorch's kernel has float and double only
        raise NotImplementedError(f"\"erfcx_cpu\" not implemented for '{_type_name(x)}'")
    return laid_as_input(_sp.erfcx)(xp, x)


# d/dx erfcx(x) = 2x erfcx(x) - 2/sqrt(pi): PyTorch saves the input and the result, and reads both
erfcx = _special_unary("erfcx", "SpecialErfcxBackward0", _erfcx,
                       lambda g, saved: g * (2 * saved[0] * saved[1] - 2 / math.sqrt(math.pi)), keeps="both")
# PyTorch composes ndtr as erfc(-x / sqrt 2) * 0.5, so its grad_fn is that product's node.
ndtr = _special_unary("ndtr", "MulBackward1", _real("ndtr", _sp.ndtr),
                      lambda g, x: g * exp(x * x * -0.5) / _SQRT_2PI, keeps="copy")
ndtri = _special_unary("ndtri", "SpecialNdtriBackward0", _real("ndtri", _sp.ndtri),
                       lambda g, out: g * exp(out * out * 0.5) * _SQRT_2PI, keeps="output")
log_ndtr = _special_unary("log_ndtr", "SpecialLogNdtrBackward0", _real("log_ndtr", _sp.log_ndtr),
                          lambda g, saved: g * exp(-(saved[0] * saved[0] * 0.5 + saved[1])) / _SQRT_2PI,
                          keeps="both")


# --- polygamma, mvlgamma, logit: unary with an attribute ----------------------------------------------

class Polygamma(Op):
    @staticmethod
    def forward(ctx, input, n):
        ctx.n = n
        ctx.save_for_backward(input)
        return _real("polygamma", lambda xp, x: _sp.polygamma(xp, n, x))(ctx.xp, input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return grad * polygamma(ctx.n + 1, input)


class PolygammaInplace(Polygamma):
    node_name = "PolygammaBackward1"              # PyTorch's in-place polygamma_ has a node of its own


@export(method=False)
def polygamma(n, input, _op=Polygamma):
    """The n-th derivative of digamma (n = 0 is digamma itself)."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _op.apply(_float_input("polygamma", input), n=int(n))


def _polygamma_method(self, n):
    return polygamma(n, self)


def _polygamma_(self, n):
    from .inplace import apply_inplace
    return apply_inplace(self, lambda input, n: polygamma(n, input, PolygammaInplace), "polygamma_", (n,), {})


export(_polygamma_method, name="polygamma", public=False)                # Tensor.polygamma(n)
export_method(_polygamma_, "polygamma_")


class Mvlgamma(Op):
    @staticmethod
    def forward(ctx, input, p):
        ctx.p = p
        ctx.save_for_backward(input)
        lgamma_ = _real("mvlgamma", _sp.lgamma)
        out = sum(lgamma_(ctx.xp, input - i / 2) for i in range(p)) + p * (p - 1) / 4 * math.log(math.pi)
        return out.astype(input.dtype, order="C")     # PyTorch's sums a (..., p) tensor: a contiguous result

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return grad * sum(digamma(input - i / 2) for i in range(ctx.p))


@export(inplace=True)
def mvlgamma(input, p):
    """Multivariate log-gamma of dimension p: sum of lgamma(x - i/2) for i < p, plus p(p-1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return Mvlgamma.apply(_float_input("mvlgamma", input), p=int(p))


class Logit(Op):
    @staticmethod
    def forward(ctx, input, eps):
        ctx.eps = eps
        ctx.save_for_backward(input)

        half = input.dtype.itemsize < 4

        def fn(xp, x):
            if eps is not None:
                x = xp.clip(x, eps, 1 - eps)
            ratio = x / (1 - x)
            out = xp.log(ratio)
            if ratio.size and not ratio.min() >= 0:
                # outside (0, 1): PyTorch's NaN, sign bit clear (NumPy's log gives -nan), and a NaN ratio kept as
                # it is (NumPy's float32 log drops its sign); half precision rounds every NaN to -nan
                if half:
                    return xp.where(ratio >= 0, out, -xp.nan).astype(out.dtype, copy=False)
                out = xp.where(ratio >= 0, out, xp.where(ratio < 0, xp.nan, ratio)).astype(out.dtype, copy=False)
            return out
        return _in_float32(_real("logit", fn))(ctx.xp, input)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        out = grad / (x * (1 - x))
        if ctx.eps is None:
            # at 0 (-0.0 too) and 1: grad * inf, as PyTorch's kernel (not grad / -0.0 = -inf)
            # (grad detached: that branch's own derivative, 0 * inf, would be NaN where it is not selected)
            out = where((x == 0) | (x == 1), grad.detach() * math.inf, out)
            return where((x < 0) | (x > 1), math.nan, out)         # outside the domain: NaN, as in PyTorch
        if _State.grad_enabled:
            # create_graph: PyTorch's differentiable formula keeps the gradient inside [eps, 1 - eps] only, so NaN
            # gets 0 there (its kernel, below, tests the outside and lets NaN through)
            return where((x >= ctx.eps) & (x <= 1 - ctx.eps), out, 0.0)
        return where((x < ctx.eps) | (x > 1 - ctx.eps), 0.0, out)   # clamped: no gradient, as in PyTorch


@export(inplace=True)
def logit(input, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given (a negative eps clamps nothing)."""
    return Logit.apply(_float_input("logit", input), eps=None if eps is None or eps < 0 else float(eps))


# --- binary primitives whose operand may be a Python scalar ------------------------------------------

def _keep(ctx, input, other):
    """Save the array operands for backward; keep a Python scalar operand as it is."""
    ctx.scalars = tuple(None if hasattr(v, "shape") else v for v in (input, other))
    ctx.save_for_backward(*(v if hasattr(v, "shape") else None for v in (input, other)))


def _operands(ctx):
    return tuple(s if t is None else t for t, s in zip(ctx.saved_tensors, ctx.scalars))


def _variants(op, name):
    """op's node per operand kind, as PyTorch names them: tensor/tensor (0), scalar input (1), scalar other (2)."""
    return [type(f"{op.__name__}{k}", (op,), {"node_name": f"{name}Backward{k}"}) for k in range(3)]


def _apply_variant(variants, input, other, **attrs):
    k = 1 if not isinstance(input, Tensor) else 2 if not isinstance(other, Tensor) else 0
    return variants[k].apply(input, other, **attrs)


class Xlogy(Op):
    """input * log(other) (log1p(other) when shift), 0 where input == 0 unless other is nan."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other, shift):
        xp = ctx.xp
        _keep(ctx, input, other)
        ctx.shift = shift
        dtype = (input if hasattr(input, "dtype") else other).dtype
        with errstate(all="ignore"):
            out = xp.where(input == 0, 0, input * (xp.log1p(other) if shift else xp.log(other)))
        out = xp.where(xp.isnan(other), xp.nan, out).astype(dtype)
        if not shift and out.dtype == xp.float64 and out.size and not xp.min(other) >= 0:
            # PyTorch's float64 xlogy: +nan for other < 0 (NumPy's log gives -nan; float32 keeps it in both)
            out = xp.where(other < 0, xp.copysign(out, 1.0), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, other = _operands(ctx)
        needs = ctx.needs_input_grad
        grad_input = grad_other = None
        if needs[0]:
            # PyTorch's formula: xlogy(grad, other) (xlog1py), so 0 where grad is 0 (unless other is NaN), and
            # 0 selected where input == 0 and the log's argument is not positive
            bound = -1 if ctx.shift else 0
            grad_input = (xlog1py if ctx.shift else xlogy)(grad, other)
            if isinstance(other, Tensor):
                grad_input = where((input == 0) & (other <= bound), 0.0, grad_input)
            elif other <= bound:
                grad_input = where(input == 0, 0.0, grad_input)
        if needs[1]:
            grad_other = grad * input / (other + 1 if ctx.shift else other)
        return grad_input, grad_other


_XLOGY = _variants(Xlogy, "Xlogy")
_XLOG1PY = _variants(Xlogy, "SpecialXlog1Py")


@export(inplace=True)
def xlogy(input, other):
    """input * log(other), and 0 where input == 0 (even for other == 0), unless other is nan."""
    return _apply_variant(_XLOGY, *_float_operands("xlogy", input, other), shift=False)


def xlog1py(input, other):
    """input * log1p(other), and 0 where input == 0, unless other is nan."""
    return _apply_variant(_XLOG1PY, *_float_operands("xlog1py", input, other), shift=True)


class Zeta(Op):
    """Hurwitz zeta(input, other); differentiable in other (q) only, as in PyTorch."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        _keep(ctx, input, other)
        dtype = (input if hasattr(input, "dtype") else other).dtype
        out = _sp.zeta(ctx.xp, input, other).astype(dtype)
        arrays = [a for a in (input, other) if a.__class__ in _STRIDED and a.ndim]
        if arrays and not all(a.flags.c_contiguous for a in arrays):     # Note [memory formats]
            out = iterator_layout(out, *arrays)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = _operands(ctx)
        return None, grad * -x * zeta(x + 1, q)


_ZETA = _variants(Zeta, "SpecialZeta")


def zeta(input, other):
    """Hurwitz zeta function: the sum over k >= 0 of (other + k) ** -input."""
    return _apply_variant(_ZETA, *_float_operands("zeta", input, other))


class Copysign(Op):
    """|input| with the sign of other; the gradient flows to input only."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        out = ctx.xp.copysign(input, other).astype(input.dtype)
        ctx.save_for_backward(input if ctx.needs_input_grad[0] else None, out)     # as PyTorch: not other
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        grad_input = None
        if ctx.needs_input_grad[0]:
            # PyTorch's slope out / input, 0 where input == 0 (NaN at an infinite or NaN input), multiplied
            grad_input = grad * where(input == 0, 0.0, out / input)
        return grad_input, (zeros_like_(grad) if ctx.needs_input_grad[1] else None)


_COPYSIGN = _variants(Copysign, "Copysign")


@export(inplace=True)
def copysign(input, other):
    """Magnitude of input, sign of other (the sign bit: -0.0 counts as negative)."""
    input, other = _float_operands("copysign", input, other)
    return (_COPYSIGN[0] if isinstance(other, Tensor) else _COPYSIGN[1]).apply(input, other)


class Ldexp(Op):
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        out = input * ctx.xp.exp2(other)                  # PyTorch's definition: it overflows like this too
        ctx.save_for_backward(other if ctx.needs_input_grad[0] else None, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        other, out = ctx.saved_tensors
        return (grad * exp2(other) if ctx.needs_input_grad[0] else None,
                grad * out * math.log(2) if ctx.needs_input_grad[1] else None)


@export(inplace=True)
def ldexp(input, other):
    """input * 2 ** other."""
    _require_tensor("ldexp", "other", other)
    return Ldexp.apply(*_float_operands("ldexp", input, other))


class Frexp(Op):
    non_differentiable_outputs = (1,)

    @staticmethod
    def forward(ctx, input):
        xp = ctx.xp
        work = input if input.dtype.itemsize >= 4 else input.astype(xp.float32)    # exact: same exponents
        mantissa, exponent = xp.frexp(work)
        exponent = exponent.astype(xp.int32, copy=False)
        ctx.save_for_backward(exponent)                # the exponent output: version checked, as in PyTorch
        return mantissa.astype(input.dtype), exponent

    @staticmethod
    def backward(ctx, grad, grad_exponent):
        (exponent,) = ctx.saved_tensors
        return grad / exp2(cast(exponent, grad.dtype))


@export()
def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent and 0.5 <= |mantissa| < 1."""
    if input.dtype.category != _dt.FLOAT:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return return_type("frexp", ("mantissa", "exponent"))(*Frexp.apply(input))


# --- non-differentiable elementwise ops ----------------------------------------------------------------

class Heaviside(Op):
    """PyTorch records heaviside in the graph without a derivative: the output requires grad, backward raises."""
    node_name = "NotImplemented"
    broadcasts = True

    @staticmethod
    def forward(ctx, input, values):
        return ctx.xp.where(input == 0, values, input > 0).astype(input.dtype)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::heaviside is not implemented")


@export(inplace=True)
def heaviside(input, values):
    """Step function: 0 for input < 0, values where input == 0, 1 for input > 0."""
    _require_tensor("heaviside", "values", values)
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return Heaviside.apply(input, values)


def _integer_op(name, fn):
    def op(input, other):
        _require_tensor(name, "other", other)
        input, other, dtype = promote(name, input, other)
        if dtype.category != _dt.INT:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
        return nodiff(fn, input, other)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} of integers (non-negative, as in PyTorch)."
    return export(op, inplace=True)


gcd = _integer_op("gcd", lambda xp, a, b: xp.gcd(a, b))
lcm = _integer_op("lcm", lambda xp, a, b: xp.lcm(a, b))


@export(inplace=True)
def nextafter(input, other):
    """The next float after input in the direction of other."""
    _require_tensor("nextafter", "other", other)
    input, other, dtype = promote("nextafter", input, other)
    if dtype.category != _dt.FLOAT:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
    return Nextafter.apply(input, other)


class Nextafter(Op):
    """The gradient passes to input as if nextafter were the identity, none to other (PyTorch's formula)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, other):
        ctx.save_for_backward(input, other)      # as PyTorch's NextafterBackward0 (for the version check)
        return ctx.xp.nextafter(input, other)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                        # noqa: B018 (the version check, as PyTorch's unpack)
        return grad, (zeros_like_(grad) if ctx.needs_input_grad[1] else None)


@export()
def positive(input):
    """input itself (unary plus); refused for bool, as in PyTorch."""
    if input.dtype is _dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def _float_power_(self, exponent):
    """In-place float_power: self must already have the result's dtype (float64, or complex128)."""
    from .inplace import apply_inplace
    is_complex = self.dtype.is_complex or getattr(exponent, "dtype", _dt.float64).is_complex or \
        isinstance(exponent, complex)
    target = _dt.complex128 if is_complex else _dt.float64
    if self.dtype is not target:
        raise RuntimeError(f"the base given to float_power_ has dtype {_dt.scalar_type_name(self.dtype)} but the "
                           f"operation's result requires dtype {_dt.scalar_type_name(target)}")
    return apply_inplace(self, float_power, "float_power_", (exponent,), {})


export_method(_float_power_, "float_power_")
