"""One line per op: how to call it (a lambda over the module `m`, ember or torch), on which shapes,
in which domain and for which dtypes. tests/ops/test_ops.py runs the generic checks on every case.

`fn(m, *inputs)` receives one tensor per entry of a sample; constants that are not differentiated
(index tensors, masks, scalars) are built inside the lambda from `m`, so one lambda serves both.
`shapes` lists samples; for one-input ops a sample may be written as a bare shape tuple.

What the generic tests need to know about one op lives on its case (the fields of OpCase): composite
(no grad_fn-name check), data_dependent (no meta run), the PyTorch failures a comparison tolerates
(torch_backward_fails, torch_strided_fails) and the known divergences (diverges). Exported ops without a
case name the test file that covers them in TESTED_ELSEWHERE; test_ops.py's coverage test checks both.
"""
import inspect
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest

FLOAT = ("float32", "float64")
HALF = ("float16", "bfloat16")
INT = ("int64", "int32", "int16", "int8", "uint8")
SIGNED = ("int64", "int32", "int16", "int8")
NUMERIC = FLOAT + INT
ALL = ("bool",) + NUMERIC
COMPLEX = ("complex64", "complex128")

# Shapes for elementwise ops: matrix, 0-d, empty (and for binary ops, broadcasting in several ways).
UNARY = [(3, 4), (), (0, 2), (5,)]
BINARY = [((3, 4), (3, 4)), ((2, 3), (3,)), ((), (2, 2)), ((2, 1), (1, 3)), ((0, 3), (3,)), ((4,), ())]
TERNARY = [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), (2, 1)), ((), (2,), ())]

# The generic tests run on every case (OpCase.diverges names them)
TESTS = {
    "forward": "tests/ops/test_ops.py::test_forward_matches_torch",
    "noncontiguous": "tests/ops/test_ops.py::test_noncontiguous_matches_torch",
    "gradient": "tests/ops/test_ops.py::test_gradient_matches_finite_differences",
    "backward": "tests/ops/test_ops.py::test_backward_matches_torch",
    "grad_fn": "tests/ops/test_ops.py::test_grad_fn_name_matches_torch",
    "gradgrad": "tests/ops/test_ops.py::test_gradgrad",
    "saved": "tests/ops/test_saved_values.py::test_saves_what_pytorch_saves",
    "meta": "tests/test_device.py::test_meta_matches_cpu_shapes_and_dtypes",
}


@dataclass
class OpCase:
    name: str                      # the public op (ember.<name> or Tensor.<name>) this case covers
    fn: object                     # lambda m, *inputs: ...
    shapes: list = field(default_factory=lambda: [(3, 4)])
    dtypes: tuple = FLOAT          # dtypes the forward check runs (values and result dtype vs torch)
    low: float = -2.0              # inputs are drawn uniformly from [low, high]
    high: float = 2.0
    grad: bool = True              # differentiable with respect to its float inputs
    gradgrad: bool = False         # also check second derivatives
    noncontig: bool = True         # also run on transposed / strided inputs
    variant: str = ""              # distinguishes several cases of one op in test ids
    rtol: float = None
    atol: float = None
    unique: bool = False           # draw distinct values (sorting, max with indices)
    grad_shapes: list = None       # samples for gradient checks (default: the non-empty ones of shapes)
    # known divergences from PyTorch, {test: why}, for the generic tests named in TESTS: those tests of this
    # case are xfail(strict=True), so the fix makes them XPASS (a failure) and the entry goes with the fix
    diverges: dict = None
    # ember composes this op from other primitives, so its grad_fn is the last primitive's node rather than
    # the one PyTorch names (values and gradients are still checked against PyTorch)
    composite: bool = False
    # the output's shape depends on the input's values, or ember reads values on the host: no meta run
    data_dependent: bool = False
    # why PyTorch 2.13's backward raises on some inputs of this case that ember differentiates: comparisons
    # with PyTorch's gradients skip those inputs (finite differences still check ember's); unset, a PyTorch
    # backward that raises fails the test
    torch_backward_fails: str = None
    # why PyTorch's kernel refuses transposed/strided views of these inputs: ember's result on them is
    # compared with PyTorch's on contiguous copies
    torch_strided_fails: str = None

    def __post_init__(self):
        unknown = set(self.diverges or ()) - set(TESTS)
        assert not unknown, f"{self}: diverges names tests {sorted(unknown)} that are not in TESTS"

    def __str__(self):
        return self.name + (f"-{self.variant}" if self.variant else "")

    def marks(self, test):
        """pytest marks of this case in the generic test `test` (a key of TESTS)."""
        assert test in TESTS, test
        why = (self.diverges or {}).get(test)
        return [pytest.mark.xfail(strict=True, reason=why)] if why else []

    @property
    def arity(self):
        return len(inspect.signature(self.fn).parameters) - 1

    def samples(self):
        out = []
        for s in self.shapes:
            if self.arity == 1 and (not s or isinstance(s[0], int)):
                s = (s,)
            out.append(tuple(tuple(x) for x in s))
        return out

    def gradient_samples(self):
        if self.grad_shapes is not None:
            return [s if self.arity != 1 or (s and not isinstance(s[0], int)) else (s,) for s in self.grad_shapes]
        return [s for s in self.samples() if all(int(np.prod(x)) > 0 for x in s)][:2]

    def arrays(self, sample, dtype, layout="contiguous", seed=0):
        """NumPy inputs for one sample (same values for ember and torch)."""
        rng = np.random.default_rng(zlib.crc32(f"{self}-{seed}".encode()))
        return [make_array(rng, shape, dtype, self.low, self.high, layout, self.unique) for shape in sample]


def make_array(rng, shape, dtype, low, high, layout="contiguous", unique=False):
    """Random values of `dtype` in [low, high]; `layout` makes a transposed or strided view."""
    if layout == "transposed" and len(shape) >= 2:
        full = shape[:-2] + (shape[-1], shape[-2])
    elif layout == "strided" and len(shape) >= 1:
        full = shape[:-1] + (shape[-1] * 2,)
    else:
        full, layout = shape, "contiguous"
    n = int(np.prod(full))
    if dtype == "bool":
        data = rng.random(n) < 0.5
    elif dtype in INT:
        lo = max(int(np.floor(low)), 0) if dtype == "uint8" else int(np.floor(low))
        hi = int(np.ceil(high))
        if unique:
            data = (rng.permutation(n) + lo).astype(dtype)
        else:
            data = rng.integers(lo, hi + 1, n).astype(dtype)
    elif dtype in COMPLEX:
        data = (rng.uniform(low, high, n) + 1j * rng.uniform(low, high, n)).astype(dtype)
    else:
        if unique:
            # distinct values, and distinct magnitudes too (no x and -x pair ties under abs)
            data = rng.permutation(np.linspace(low, high, n) + 0.0123 * (high - low)) if n else np.zeros(0)
        else:
            data = rng.uniform(low, high, n)
        data = data.astype(np.float64)
    array = data.reshape(full)
    if dtype not in INT + ("bool",) + COMPLEX:
        array = _cast(array, dtype)
    if layout == "transposed":
        array = np.swapaxes(array, -1, -2)
    elif layout == "strided":
        array = array[..., ::2]
    return array


def _cast(array, dtype):
    if dtype == "bfloat16":
        import ml_dtypes
        return array.astype(ml_dtypes.bfloat16)
    return array.astype(dtype)


def _idx(m, values):
    return m.tensor(values, dtype=m.int64)


def _mask(m, values):
    return m.tensor(values, dtype=m.bool)


def _pos_def(m, x):
    return x @ x.mT + m.eye(x.shape[-1], dtype=x.dtype) * x.shape[-1]


def _range(m, *args):
    """torch.range (deprecated: both libraries warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return m.range(*args)


C = OpCase
FACTORY = dict(shapes=[()], dtypes=("float32",), grad=False, noncontig=False)    # cases without tensor inputs


OP_CASES = [
    # convolution and pooling primitives (ember/ops/conv.py, pooling.py, adaptive_pooling.py)
    C("conv1d", lambda m, x, w, b: m.conv1d(x, w, b, stride=2, padding=1), [((2, 3, 7), (4, 3, 3), (4,))],
      gradgrad=True),
    C("conv2d", lambda m, x, w: m.conv2d(x, w, padding=1, groups=2), [((1, 4, 5, 4), (2, 2, 3, 3))], gradgrad=True),
    C("conv3d", lambda m, x, w: m.conv3d(x, w, stride=2), [((1, 2, 4, 3, 3), (2, 2, 2, 2, 2))]),
    C("conv_transpose1d", lambda m, x, w: m.conv_transpose1d(x, w, stride=2, output_padding=1),
      [((1, 2, 4), (2, 3, 3))], gradgrad=True, composite=True),
    C("conv_transpose2d", lambda m, x, w, b: m.conv_transpose2d(x, w, b, stride=2, padding=1),
      [((1, 2, 3, 3), (2, 3, 3, 3), (3,))]),
    C("conv_transpose3d", lambda m, x, w: m.conv_transpose3d(x, w), [((1, 2, 2, 2, 2), (2, 1, 2, 2, 2))],
      composite=True),
    C("constant_pad_nd", lambda m, x: m.constant_pad_nd(x, (1, -1, 2, 0), 0.5), [(3, 4)], gradgrad=True),
    C("max_pool1d", lambda m, x: m.max_pool1d(x, 3, 2, 1), [(2, 3, 8)], unique=True, composite=True),
    C("max_pool2d", lambda m, x: m.max_pool2d(x, 2, ceil_mode=True), [(1, 2, 5, 5)], unique=True, gradgrad=True),
    C("max_pool3d", lambda m, x: m.max_pool3d(x, 2), [(1, 2, 4, 4, 4)], unique=True),
    C("avg_pool1d", lambda m, x: m.avg_pool1d(x, 3, 2, 1), [(2, 3, 8)], gradgrad=True, composite=True),
    C("adaptive_avg_pool1d", lambda m, x: m.adaptive_avg_pool1d(x, 3), [(2, 3, 8)], composite=True),
    C("adaptive_max_pool1d", lambda m, x: m.adaptive_max_pool1d(x, 3)[0], [(2, 3, 8)], unique=True, composite=True),
    # --- arithmetic -------------------------------------------------------------------------------------
    C("add", lambda m, x, y: m.add(x, y), BINARY, NUMERIC + HALF + ("bool",) + COMPLEX, gradgrad=True),
    C("add", lambda m, x, y: m.add(x, y, alpha=2), BINARY[:2], NUMERIC, variant="alpha"),
    C("add", lambda m, x: x + 2, UNARY, ALL + HALF, variant="int_scalar"),
    C("add", lambda m, x: x + 2.5, UNARY, ALL + HALF, variant="float_scalar"),
    C("add", lambda m, x: 1.5 + x, UNARY, NUMERIC, variant="radd"),
    C("add", lambda m, x: x + True, UNARY, ALL, variant="bool_scalar"),
    C("add", lambda m, x: x + (1 + 2j), UNARY, FLOAT + ("int64",), variant="complex_scalar", grad=False),
    C("sub", lambda m, x, y: m.sub(x, y), BINARY, NUMERIC + HALF + COMPLEX),
    C("sub", lambda m, x: 3 - x, UNARY, NUMERIC, variant="rsub"),
    C("sub", lambda m, x: x - 0.5, UNARY, NUMERIC, variant="scalar"),
    C("subtract", lambda m, x, y: m.subtract(x, y, alpha=3), BINARY[:2], NUMERIC),
    C("rsub", lambda m, x, y: m.rsub(x, y), BINARY[:2], NUMERIC),
    C("mul", lambda m, x, y: m.mul(x, y), BINARY, ALL + HALF + COMPLEX, gradgrad=True),
    C("mul", lambda m, x: x * 2.5, UNARY, ALL, variant="float_scalar"),
    C("mul", lambda m, x: 3 * x, UNARY, ALL, variant="rmul"),
    C("multiply", lambda m, x, y: m.multiply(x, y), BINARY[:2], NUMERIC),
    C("div", lambda m, x, y: m.div(x, y), BINARY, NUMERIC + HALF + COMPLEX, low=0.5, high=3, gradgrad=True),
    C("div", lambda m, x: 2 / x, UNARY, NUMERIC, low=0.5, high=3, variant="rdiv", composite=True),
    C("div", lambda m, x: x / 4, UNARY, NUMERIC, variant="int_scalar", composite=True),
    C("div", lambda m, x, y: m.div(x, y, rounding_mode="trunc"), BINARY[:4], SIGNED + FLOAT, low=-6, high=6,
      grad=False, variant="trunc"),
    C("div", lambda m, x, y: m.div(x - 3, y, rounding_mode="floor"), BINARY[:4], NUMERIC, low=1, high=6,
      grad=False, variant="floor"),
    C("divide", lambda m, x, y: m.divide(x, y), BINARY[:2], FLOAT, low=0.5, high=3),
    C("true_divide", lambda m, x, y: m.true_divide(x, y), BINARY[:2], NUMERIC, low=1, high=3),
    C("floor_divide", lambda m, x, y: m.floor_divide(x - 2.5, y), BINARY[:4], FLOAT, low=0.5, high=3,
      grad=False),
    C("floor_divide", lambda m, x, y: x // y, BINARY[:4], SIGNED, low=1, high=5, variant="op", grad=False),
    C("floor_divide", lambda m, x: x // 3, UNARY, SIGNED + FLOAT, low=-7, high=7, variant="scalar",
      grad=False),
    C("floor_divide", lambda m, x: 7 // x, UNARY, SIGNED + FLOAT, low=1, high=4, variant="rfloordiv",
      grad=False),
    C("remainder", lambda m, x, y: m.remainder(x, y), BINARY[:4], SIGNED + FLOAT, low=1, high=5),
    C("remainder", lambda m, x: x % -3, UNARY, SIGNED + FLOAT, low=-7, high=7, variant="mod"),
    C("remainder", lambda m, x: 7 % x, UNARY, SIGNED + FLOAT, low=1, high=4, variant="rmod", grad=False),
    C("fmod", lambda m, x, y: m.fmod(x - 3, y), BINARY[:4], SIGNED + FLOAT, low=1, high=5),
    C("fmod", lambda m, x: m.fmod(x, 1.5), UNARY, FLOAT, low=-4, high=4, variant="scalar"),
    C("pow", lambda m, x, y: m.pow(x, y), BINARY, FLOAT + COMPLEX, low=0.5, high=2, gradgrad=True),
    C("pow", lambda m, x: x ** 2, UNARY, NUMERIC, variant="square", gradgrad=True),
    C("pow", lambda m, x: x ** 3, UNARY, NUMERIC, variant="cube", low=-1.5, high=1.5),
    C("pow", lambda m, x: x ** 0.5, UNARY, NUMERIC, low=0.5, high=3, variant="sqrt"),
    C("pow", lambda m, x: x ** -1.5, UNARY, FLOAT, low=0.5, high=3, variant="negative"),
    C("pow", lambda m, x: x ** 0, UNARY, NUMERIC, variant="zero"),
    C("pow", lambda m, x: 2 ** x, UNARY, NUMERIC, variant="rpow"),
    C("pow", lambda m, x: 2.5 ** x, UNARY, NUMERIC, variant="rpow_float"),
    C("pow", lambda m, x: m.pow(2, x), UNARY, FLOAT, variant="scalar_base"),
    C("float_power", lambda m, x, y: m.float_power(x, y), BINARY[:2], FLOAT + ("int64",), low=0.5, high=2),
    C("neg", lambda m, x: -x, UNARY, SIGNED + FLOAT + HALF + COMPLEX),
    C("negative", lambda m, x: m.negative(x), UNARY, SIGNED + FLOAT),
    C("abs", lambda m, x: abs(x), UNARY, SIGNED + FLOAT + HALF),
    C("absolute", lambda m, x: m.absolute(x), UNARY, SIGNED + FLOAT),
    C("square", lambda m, x: m.square(x), UNARY, NUMERIC + HALF),
    C("clone", lambda m, x: m.clone(x), UNARY, ALL + HALF + COMPLEX),
    C("lerp", lambda m, x, y: m.lerp(x, y, 0.3), BINARY[:3], FLOAT),
    C("lerp", lambda m, x, y, w: m.lerp(x, y, w), TERNARY, FLOAT, variant="tensor_weight"),
    C("addcmul", lambda m, x, y, z: m.addcmul(x, y, z, value=0.5), TERNARY, FLOAT + SIGNED, composite=True),
    C("addcdiv", lambda m, x, y, z: m.addcdiv(x, y, z, value=2), TERNARY, FLOAT, low=0.5, high=2),
    C("hypot", lambda m, x, y: m.hypot(x, y), BINARY, FLOAT, low=0.5, high=2, composite=True),
    C("atan2", lambda m, x, y: m.atan2(x, y), BINARY, FLOAT + ("int64",), low=0.5, high=2),
    C("arctan2", lambda m, x, y: m.arctan2(x, y), BINARY[:2], FLOAT, low=0.5, high=2),
    C("logaddexp", lambda m, x, y: m.logaddexp(x, y), BINARY, FLOAT),
    C("logaddexp2", lambda m, x, y: m.logaddexp2(x, y), BINARY[:3], FLOAT),
    C("maximum", lambda m, x, y: m.maximum(x, y), BINARY, NUMERIC + ("bool",)),
    C("minimum", lambda m, x, y: m.minimum(x, y), BINARY, NUMERIC + ("bool",)),
    C("fmax", lambda m, x, y: m.fmax(x, y), BINARY[:3], FLOAT),
    C("fmin", lambda m, x, y: m.fmin(x, y), BINARY[:3], FLOAT),
    C("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), UNARY, NUMERIC, low=-3, high=3),
    C("clamp", lambda m, x: m.clamp(x, min=0.1), UNARY, FLOAT, variant="min"),
    C("clamp", lambda m, x: x.clamp(max=1), UNARY, NUMERIC, variant="max"),
    C("clamp", lambda m, x, lo, hi: m.clamp(x, lo - 1, hi + 1), TERNARY, FLOAT, variant="tensor",
      torch_backward_fails="its clamp backward refuses a 0-d input that min/max broadcast to a larger shape"),
    C("clip", lambda m, x: m.clip(x, -1, 1), UNARY, NUMERIC),
    C("clamp_min", lambda m, x: m.clamp_min(x, 0.5), UNARY, FLOAT),
    C("clamp_max", lambda m, x: m.clamp_max(x, 0.5), UNARY, FLOAT),
    C("nan_to_num", lambda m, x: m.nan_to_num(m.log(x)), UNARY, FLOAT, low=-1, high=1, grad=False),
    C("nan_to_num", lambda m, x: m.nan_to_num(m.where(x > 1, m.tensor(float("inf"), dtype=x.dtype),
                                                      m.where(x < -1, m.tensor(float("nan"), dtype=x.dtype), x)),
                                              nan=1.5, posinf=9.0), [(3, 4)], FLOAT, variant="values"),
    C("nan_to_num", lambda m, x: m.nan_to_num(x), UNARY, NUMERIC, variant="plain"),

    # --- unary math ---------------------------------------------------------------------------------------
    C("exp", lambda m, x: m.exp(x), UNARY, NUMERIC + HALF + COMPLEX, gradgrad=True),
    C("exp2", lambda m, x: m.exp2(x), UNARY, NUMERIC),
    C("expm1", lambda m, x: m.expm1(x), UNARY, NUMERIC),
    C("log", lambda m, x: m.log(x), UNARY, NUMERIC + HALF, low=0.1, high=4, gradgrad=True),
    C("log", lambda m, x: m.log(x), [(3, 4)], FLOAT, low=-1, high=1, grad=False, variant="nan"),
    C("log2", lambda m, x: m.log2(x), UNARY, NUMERIC, low=0.1, high=4),
    C("log10", lambda m, x: m.log10(x), UNARY, NUMERIC, low=0.1, high=4),
    C("log1p", lambda m, x: m.log1p(x), UNARY, NUMERIC, low=-0.5, high=3),
    C("sqrt", lambda m, x: m.sqrt(x), UNARY, NUMERIC + HALF, low=0.1, high=4, gradgrad=True),
    C("rsqrt", lambda m, x: m.rsqrt(x), UNARY, NUMERIC, low=0.1, high=4),
    C("sin", lambda m, x: m.sin(x), UNARY, NUMERIC + HALF, gradgrad=True),
    C("cos", lambda m, x: m.cos(x), UNARY, NUMERIC),
    C("tan", lambda m, x: m.tan(x), UNARY, NUMERIC, low=-1.2, high=1.2),
    C("asin", lambda m, x: m.asin(x), UNARY, FLOAT, low=-0.9, high=0.9),
    C("arcsin", lambda m, x: m.arcsin(x), UNARY[:1], FLOAT, low=-0.9, high=0.9),
    C("acos", lambda m, x: m.acos(x), UNARY, FLOAT, low=-0.9, high=0.9),
    C("arccos", lambda m, x: m.arccos(x), UNARY[:1], FLOAT, low=-0.9, high=0.9),
    C("atan", lambda m, x: m.atan(x), UNARY, NUMERIC),
    C("arctan", lambda m, x: m.arctan(x), UNARY[:1], FLOAT),
    C("sinh", lambda m, x: m.sinh(x), UNARY, NUMERIC),
    C("cosh", lambda m, x: m.cosh(x), UNARY, NUMERIC),
    C("tanh", lambda m, x: m.tanh(x), UNARY, NUMERIC + HALF, gradgrad=True),
    C("asinh", lambda m, x: m.asinh(x), UNARY, FLOAT),
    C("arcsinh", lambda m, x: m.arcsinh(x), UNARY[:1], FLOAT),
    C("acosh", lambda m, x: m.acosh(x), UNARY, FLOAT, low=1.2, high=4),
    C("arccosh", lambda m, x: m.arccosh(x), UNARY[:1], FLOAT, low=1.2, high=4),
    C("atanh", lambda m, x: m.atanh(x), UNARY, FLOAT, low=-0.9, high=0.9),
    C("arctanh", lambda m, x: m.arctanh(x), UNARY[:1], FLOAT, low=-0.9, high=0.9),
    C("sigmoid", lambda m, x: m.sigmoid(x), UNARY, NUMERIC + HALF, gradgrad=True),
    C("sigmoid", lambda m, x: m.sigmoid(x * 500), [(3, 4)], FLOAT, variant="saturated", grad=False),
    C("erf", lambda m, x: m.erf(x), UNARY, NUMERIC + HALF, low=-4, high=4, gradgrad=True),
    C("erf", lambda m, x: m.erf(x), [(64,)], FLOAT, low=-0.5, high=0.5, variant="small"),
    C("erf", lambda m, x: m.erf(x), [(64,)], FLOAT, low=-7, high=7, variant="wide", grad=False),
    C("erfc", lambda m, x: m.erfc(x), UNARY, NUMERIC, low=-4, high=4),
    C("erfc", lambda m, x: m.erfc(x), [(64,)], FLOAT, low=-7, high=9, variant="wide", grad=False),
    C("erfinv", lambda m, x: m.erfinv(x), UNARY, FLOAT, low=-0.95, high=0.95),
    C("reciprocal", lambda m, x: m.reciprocal(x), UNARY, NUMERIC, low=0.5, high=3),
    C("floor", lambda m, x: m.floor(x), UNARY, NUMERIC + HALF, low=-5, high=5),
    C("ceil", lambda m, x: m.ceil(x), UNARY, NUMERIC, low=-5, high=5),
    C("trunc", lambda m, x: m.trunc(x), UNARY, NUMERIC, low=-5, high=5),
    C("fix", lambda m, x: m.fix(x), UNARY[:1], FLOAT, low=-5, high=5),
    C("frac", lambda m, x: m.frac(x), UNARY, FLOAT, low=-5, high=5),
    C("round", lambda m, x: m.round(x), UNARY, NUMERIC, low=-5, high=5),
    C("round", lambda m, x: m.round(x * 2) / 2, [(3, 4)], FLOAT, low=-5, high=5, variant="half_even"),
    C("round", lambda m, x: m.round(x, decimals=2), UNARY, FLOAT, low=-5, high=5, variant="decimals"),
    C("sign", lambda m, x: m.sign(x), UNARY, NUMERIC + ("bool",)),
    C("sgn", lambda m, x: m.sgn(x), UNARY, SIGNED + FLOAT),
    C("signbit", lambda m, x: m.signbit(x), UNARY, NUMERIC, grad=False),
    C("isnan", lambda m, x: m.isnan(m.log(x)), UNARY, FLOAT, low=-1, high=1, grad=False),
    C("isinf", lambda m, x: m.isinf(1 / m.round(x)), UNARY, FLOAT, grad=False),
    C("isinf", lambda m, x: m.isinf(x), UNARY, ALL, grad=False, variant="plain"),
    C("isposinf", lambda m, x: m.isposinf(1 / m.round(x)), UNARY, FLOAT, grad=False),
    C("isneginf", lambda m, x: m.isneginf(1 / m.round(x)), UNARY, FLOAT, grad=False),
    C("isfinite", lambda m, x: m.isfinite(m.log(x)), UNARY, FLOAT, low=-1, high=1, grad=False),
    C("isfinite", lambda m, x: m.isfinite(x), UNARY, ALL, grad=False, variant="plain"),
    C("isreal", lambda m, x: m.isreal(x), UNARY, FLOAT + COMPLEX, grad=False),

    # --- comparisons, logic, bits -----------------------------------------------------------------------
    C("eq", lambda m, x, y: m.eq(m.round(x), m.round(y)), BINARY, FLOAT, grad=False),
    C("eq", lambda m, x, y: x == y, BINARY, ALL, grad=False, variant="op"),
    C("eq", lambda m, x: x == 1, UNARY, ALL, grad=False, variant="scalar"),
    C("ne", lambda m, x, y: x != y, BINARY, ALL, grad=False),
    C("not_equal", lambda m, x, y: m.not_equal(x, y), BINARY[:2], NUMERIC, grad=False),
    C("lt", lambda m, x, y: x < y, BINARY, ALL, grad=False),
    C("lt", lambda m, x: x < 0.5, UNARY, NUMERIC, grad=False, variant="scalar"),
    C("less", lambda m, x, y: m.less(x, y), BINARY[:2], NUMERIC, grad=False),
    C("le", lambda m, x, y: x <= y, BINARY, ALL, grad=False),
    C("less_equal", lambda m, x, y: m.less_equal(x, y), BINARY[:2], NUMERIC, grad=False),
    C("gt", lambda m, x, y: x > y, BINARY, ALL, grad=False),
    C("gt", lambda m, x: 0 > x, UNARY, NUMERIC, grad=False, variant="reflected"),
    C("greater", lambda m, x, y: m.greater(x, y), BINARY[:2], NUMERIC, grad=False),
    C("ge", lambda m, x, y: x >= y, BINARY, ALL, grad=False),
    C("greater_equal", lambda m, x, y: m.greater_equal(x, y), BINARY[:2], NUMERIC, grad=False),
    C("logical_and", lambda m, x, y: m.logical_and(x, y), BINARY, ALL, grad=False),
    C("logical_or", lambda m, x, y: m.logical_or(x, y), BINARY, ALL, grad=False),
    C("logical_xor", lambda m, x, y: m.logical_xor(x, y), BINARY, ALL, grad=False),
    C("logical_not", lambda m, x: m.logical_not(x), UNARY, ALL, grad=False),
    C("bitwise_and", lambda m, x, y: x & y, BINARY, INT + ("bool",), low=-20, high=20, grad=False),
    C("bitwise_and", lambda m, x: x & 6, UNARY, INT + ("bool",), low=-20, high=20, grad=False,
      variant="scalar"),
    C("bitwise_or", lambda m, x, y: x | y, BINARY, INT + ("bool",), low=-20, high=20, grad=False),
    C("bitwise_or", lambda m, x: 6 | x, UNARY, INT, low=-20, high=20, grad=False, variant="reflected"),
    C("bitwise_xor", lambda m, x, y: m.bitwise_xor(x, y), BINARY, INT + ("bool",), low=-20, high=20,
      grad=False),
    C("bitwise_xor", lambda m, x, y: x ^ y, BINARY[:2], INT + ("bool",), low=-20, high=20, grad=False,
      variant="op"),
    C("bitwise_not", lambda m, x: ~x, UNARY, INT + ("bool",), low=-20, high=20, grad=False),
    C("bitwise_left_shift", lambda m, x, y: x << (y % 4), BINARY[:3], SIGNED, low=0, high=20, grad=False),
    C("bitwise_right_shift", lambda m, x, y: x >> (y % 4), BINARY[:3], SIGNED, low=-20, high=20, grad=False),
    C("where", lambda m, x, y: m.where(x > 0, x, y), BINARY, NUMERIC),
    C("where", lambda m, x: m.where(x > 0, x, 0.0), UNARY, FLOAT, variant="scalar"),
    C("where", lambda m, x: m.where(x > 0, 1.0, 0.0), UNARY, FLOAT, variant="scalars", grad=False),
    C("where", lambda m, x: m.where(x > 0), [(3, 4), (5,)], FLOAT, variant="nonzero", grad=False,
      data_dependent=True),
    C("real", lambda m, x: m.real(x), UNARY, FLOAT + COMPLEX, grad=False),
    C("imag", lambda m, x: m.imag(x), UNARY, COMPLEX, grad=False),
    C("conj", lambda m, x: m.conj(x).resolve_conj(), UNARY, FLOAT + COMPLEX),
    C("angle", lambda m, x: m.angle(x), UNARY, FLOAT + COMPLEX, grad=False),

    # --- reductions --------------------------------------------------------------------------------------
    C("sum", lambda m, x: m.sum(x), UNARY, ALL + HALF, gradgrad=True),
    C("sum", lambda m, x: x.sum(1), [(3, 4), (2, 3, 4)], NUMERIC, variant="dim"),
    C("sum", lambda m, x: x.sum((0, 2), keepdim=True), [(2, 3, 4), (0, 3, 2)], NUMERIC, variant="dims_keepdim"),
    C("sum", lambda m, x: x.sum(-1, dtype=m.float64), [(3, 4)], NUMERIC, variant="dtype"),
    C("sum", lambda m, x: x.sum(()), [(3, 4)], FLOAT, variant="empty_dims"),
    C("nansum", lambda m, x: m.nansum(m.log(x), 1), [(3, 4)], FLOAT, low=-0.5, high=2, grad=False, composite=True),
    C("mean", lambda m, x: m.mean(x), UNARY[:2] + [(5,)], FLOAT + HALF),
    C("mean", lambda m, x: x.mean((0, -1), keepdim=True), [(2, 3, 4)], FLOAT, variant="dims"),
    C("mean", lambda m, x: x.mean(1, dtype=m.float64), [(2, 3)], FLOAT + ("int64",), variant="dtype"),
    C("nanmean", lambda m, x: m.nanmean(m.log(x), 1), [(3, 4)], FLOAT, low=-0.5, high=2, grad=False, composite=True),
    C("prod", lambda m, x: m.prod(x), UNARY, NUMERIC),
    C("prod", lambda m, x: x.prod(1, keepdim=True), [(3, 4), (2, 3, 4)], NUMERIC, variant="dim"),
    C("prod", lambda m, x: (x * m.tensor([1.0, 0.0, 1.0, 0.0], dtype=x.dtype)).prod(0), [(3, 4)], FLOAT,
      variant="zeros"),
    C("max", lambda m, x: m.max(x), UNARY[:2] + [(5,)], NUMERIC + ("bool",), unique=True),
    C("max", lambda m, x: x.max(1), [(3, 4), (2, 3, 4)], NUMERIC, unique=True, variant="dim"),
    C("max", lambda m, x: m.max(x, 0, keepdim=True), [(3, 4), ()], NUMERIC, unique=True, variant="keepdim",
      composite=True),
    C("max", lambda m, x, y: m.max(x, y), BINARY[:2], FLOAT, variant="binary"),
    C("max", lambda m, x: m.max(m.round(x)), [(3, 4)], FLOAT, low=-0.4, high=1.4, variant="ties"),
    C("min", lambda m, x: m.min(x), UNARY[:2] + [(5,)], NUMERIC, unique=True),
    C("min", lambda m, x: x.min(-1), [(3, 4), (2, 3, 4)], NUMERIC, unique=True, variant="dim"),
    C("amax", lambda m, x: m.amax(x, (0, 1)), [(3, 4), (2, 3, 4)], NUMERIC, unique=True),
    C("amax", lambda m, x: m.amax(m.round(x), 1), [(3, 4)], FLOAT, low=-0.4, high=1.4, variant="ties"),
    C("amax", lambda m, x: x.amax(), [(3, 4), ()], FLOAT, variant="all"),
    C("amin", lambda m, x: m.amin(x, -1, keepdim=True), [(3, 4), (2, 3, 4)], NUMERIC, unique=True),
    C("aminmax", lambda m, x: m.aminmax(x, dim=1), [(3, 4)], NUMERIC, unique=True, composite=True),
    C("aminmax", lambda m, x: m.aminmax(x), [(3, 4)], NUMERIC, unique=True, variant="all", composite=True),
    C("argmax", lambda m, x: m.argmax(x), UNARY[:2] + [(5,)], NUMERIC, unique=True, grad=False),
    C("argmax", lambda m, x: x.argmax(1, keepdim=True), [(3, 4)], NUMERIC, unique=True, grad=False,
      variant="dim"),
    C("argmin", lambda m, x: m.argmin(x, 0), [(3, 4)], NUMERIC, unique=True, grad=False),
    C("argmin", lambda m, x: m.argmin(x), [(3, 4), ()], NUMERIC, unique=True, grad=False, variant="all"),
    C("var", lambda m, x: m.var(x), UNARY[:2] + [(5,)], FLOAT, grad_shapes=[(3, 4), (5,)]),
    C("var", lambda m, x: x.var(1, keepdim=True), [(3, 4)], FLOAT, variant="dim"),
    C("var", lambda m, x: x.var(1, correction=0), [(3, 4)], FLOAT, variant="correction0"),
    C("var", lambda m, x: x.var((0, 1), unbiased=False), [(2, 3, 4)], FLOAT, variant="unbiased"),
    C("var", lambda m, x: x.var(-1, correction=2), [(3, 5)], FLOAT, variant="correction2"),
    C("std", lambda m, x: m.std(x), [(3, 4), (5,)], FLOAT),
    C("std", lambda m, x: x.std(0, correction=0, keepdim=True), [(3, 4)], FLOAT, variant="dim"),
    C("var_mean", lambda m, x: m.var_mean(x, 1), [(3, 4)], FLOAT, composite=True),
    C("std_mean", lambda m, x: m.std_mean(x, 1, keepdim=True), [(3, 4)], FLOAT, composite=True),
    C("logsumexp", lambda m, x: m.logsumexp(x, 1), [(3, 4), (2, 3, 4)], FLOAT, gradgrad=True),
    C("logsumexp", lambda m, x: m.logsumexp(x * 500, (0, 1), keepdim=True), [(3, 4)], FLOAT, variant="big"),
    C("logsumexp", lambda m, x: m.logsumexp(x, 0), [(5,), ()], NUMERIC, variant="int"),
    C("cumsum", lambda m, x: m.cumsum(x, 1), [(3, 4), (2, 3, 4)], NUMERIC, composite=True),
    C("cumsum", lambda m, x: x.cumsum(0), [(), (5,), (0,)], NUMERIC + ("bool",), variant="1d", composite=True),
    C("cumsum", lambda m, x: x.cumsum(-1, dtype=m.float64), [(3, 4)], NUMERIC, variant="dtype", composite=True),
    C("cumprod", lambda m, x: m.cumprod(x, 1), [(3, 4), (2, 3, 4)], NUMERIC, low=0.5, high=1.5),
    C("cumprod", lambda m, x: (x * m.tensor([1.0, 0.0, 1.0, 1.0], dtype=x.dtype)).cumprod(1), [(3, 4)], FLOAT,
      variant="zeros"),
    C("cumprod", lambda m, x: x.cumprod(0), [(), (5,)], NUMERIC, low=0.5, high=1.5, variant="1d"),
    C("logcumsumexp", lambda m, x: m.logcumsumexp(x, 1), [(3, 4)], FLOAT),
    C("cummax", lambda m, x: m.cummax(x, 1), [(3, 4)], NUMERIC, unique=True),
    C("cummin", lambda m, x: m.cummin(x, 0), [(3, 4)], NUMERIC, unique=True),
    C("all", lambda m, x: m.all(x), UNARY, ALL, grad=False),
    C("all", lambda m, x: x.all(1, keepdim=True), [(3, 4)], ALL, grad=False, variant="dim"),
    C("all", lambda m, x: m.all(x, (0, 2)), [(2, 3, 4)], ALL, grad=False, variant="dims"),
    C("any", lambda m, x: m.any(x), UNARY, ALL, grad=False),
    C("any", lambda m, x: x.any(0), [(3, 4)], ALL, grad=False, variant="dim"),
    C("count_nonzero", lambda m, x: m.count_nonzero(x), UNARY, ALL, grad=False, low=-1, high=1),
    C("count_nonzero", lambda m, x: m.count_nonzero(x, 1), [(3, 4)], ALL, grad=False, low=-1, high=1,
      variant="dim"),
    C("count_nonzero", lambda m, x: m.count_nonzero(x, (0, 1)), [(2, 3, 4)], ALL, grad=False, low=-1, high=1,
      variant="dims"),
    C("median", lambda m, x: m.median(x), [(3, 4), (5,), ()], NUMERIC, unique=True),
    C("median", lambda m, x: x.median(1), [(3, 4), (3, 5)], NUMERIC, unique=True, variant="dim", composite=True),
    C("median", lambda m, x: x.median(0, keepdim=True), [(3, 4)], FLOAT, unique=True, variant="keepdim",
      composite=True),
    C("nanmedian", lambda m, x: m.nanmedian(x), [(3, 4)], FLOAT, unique=True),
    C("mode", lambda m, x: m.mode(m.round(x)), [(3, 6), (2, 3, 7)], FLOAT, low=-1.4, high=1.4, grad=False,
      data_dependent=True),
    C("mode", lambda m, x: m.mode(x, 0), [(3, 6)], INT, low=0, high=2, grad=False, variant="int",
      data_dependent=True),
    C("norm", lambda m, x: m.norm(x), [(3, 4), (5,), ()], FLOAT, composite=True),
    C("norm", lambda m, x: x.norm(1, dim=1), [(3, 4)], FLOAT, variant="p1", composite=True),
    C("norm", lambda m, x: x.norm(3, dim=(0, 1), keepdim=True), [(3, 4)], FLOAT, variant="p3", composite=True),
    C("norm", lambda m, x: x.norm(float("inf")), [(3, 4)], FLOAT, unique=True, variant="inf", composite=True),
    C("norm", lambda m, x: x.norm(p="fro", dim=1), [(3, 4)], FLOAT, variant="fro", composite=True),
    C("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x), [(3, 4), ()], FLOAT, composite=True),
    C("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x, 0.5, dim=-1), [(3, 4)], FLOAT, low=0.5, high=2,
      variant="p", composite=True),
    C("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x, float("-inf"), dim=0), [(3, 4)], FLOAT, unique=True,
      variant="neg_inf", composite=True),
    C("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x, 0), [(3, 4)], FLOAT, variant="zero", grad=False,
      composite=True),
    C("softmax", lambda m, x: m.softmax(x, 1), [(3, 4), (2, 3, 4)], FLOAT + HALF, gradgrad=True, composite=True),
    C("softmax", lambda m, x: x.softmax(-1), [(3, 4), (), (0, 3)], FLOAT, variant="method", composite=True),
    C("softmax", lambda m, x: m.softmax(x * 1000, 0), [(3, 4)], FLOAT, variant="big", composite=True),
    C("softmax", lambda m, x: m.softmax(x, 0, dtype=m.float64), [(3, 4)], FLOAT, variant="dtype", composite=True),
    C("log_softmax", lambda m, x: m.log_softmax(x, 1), [(3, 4), (2, 3, 4)], FLOAT, gradgrad=True, composite=True),
    C("log_softmax", lambda m, x: x.log_softmax(0), [(3, 4), ()], FLOAT, variant="method", composite=True),
    C("log_softmax", lambda m, x: m.log_softmax(x * 1000, -1), [(3, 4)], FLOAT, variant="big", composite=True),

    # --- linear algebra ----------------------------------------------------------------------------------
    C("matmul", lambda m, x, y: m.matmul(x, y),
      [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
       ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((0, 4), (4, 2)), ((3, 0), (0, 2))],
      FLOAT + SIGNED + COMPLEX, gradgrad=True, composite=True),
    C("matmul", lambda m, x, y: x @ y, [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5))], FLOAT, variant="op",
      composite=True),
    C("mm", lambda m, x, y: m.mm(x, y), [((3, 4), (4, 5)), ((1, 4), (4, 1))], FLOAT + ("int64",)),
    C("bmm", lambda m, x, y: m.bmm(x, y), [((2, 3, 4), (2, 4, 5))], FLOAT + ("int64",)),
    C("mv", lambda m, x, y: m.mv(x, y), [((3, 4), (4,))], FLOAT + ("int64",), composite=True),
    C("dot", lambda m, x, y: m.dot(x, y), [((4,), (4,)), ((0,), (0,))], FLOAT + ("int64",)),
    C("vdot", lambda m, x, y: m.vdot(x, y), [((4,), (4,))], FLOAT + COMPLEX, composite=True),
    C("inner", lambda m, x, y: m.inner(x, y), [((3, 4), (2, 4)), ((4,), (4,))], FLOAT, composite=True),
    C("outer", lambda m, x, y: m.outer(x, y), [((3,), (4,))], FLOAT + ("int64",)),
    C("ger", lambda m, x, y: m.ger(x, y), [((3,), (4,))], FLOAT),
    C("addmm", lambda m, x, y, z: m.addmm(x, y, z), [((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5))], FLOAT,
      composite=True),
    C("addmm", lambda m, x, y, z: m.addmm(x, y, z, beta=0.5, alpha=2), [((3, 5), (3, 4), (4, 5))], FLOAT,
      variant="scaled", composite=True),
    C("addmv", lambda m, x, y, z: m.addmv(x, y, z, alpha=2), [((3,), (3, 4), (4,))], FLOAT, composite=True),
    C("addr", lambda m, x, y, z: m.addr(x, y, z, beta=2), [((3, 4), (3,), (4,))], FLOAT, composite=True),
    C("baddbmm", lambda m, x, y, z: m.baddbmm(x, y, z), [((2, 3, 5), (2, 3, 4), (2, 4, 5)),
                                                         ((3, 5), (2, 3, 4), (2, 4, 5))], FLOAT, composite=True),
    C("baddbmm", lambda m, x, y, z: m.baddbmm(x, y, z, beta=0.5, alpha=-1), [((2, 3, 5), (2, 3, 4), (2, 4, 5))],
      FLOAT, variant="scaled", composite=True),
    C("addbmm", lambda m, x, y, z: m.addbmm(x, y, z), [((3, 5), (2, 3, 4), (2, 4, 5))], FLOAT, composite=True),
    C("einsum", lambda m, x, y: m.einsum("ij,jk->ik", x, y), [((3, 4), (4, 5))], FLOAT, gradgrad=True,
      composite=True),
    C("einsum", lambda m, x, y: m.einsum("bij,bkj->bik", x, y), [((2, 3, 4), (2, 5, 4))], FLOAT, variant="batch",
      composite=True),
    C("einsum", lambda m, x: m.einsum("ii->i", x), [(3, 3)], FLOAT, variant="diagonal", composite=True),
    C("einsum", lambda m, x: m.einsum("ii", x), [(3, 3)], FLOAT, variant="trace", composite=True),
    C("einsum", lambda m, x, y: m.einsum("i,j", x, y), [((3,), (4,))], FLOAT, variant="implicit", composite=True),
    C("einsum", lambda m, x, y: m.einsum("...ij,...jk", x, y), [((2, 3, 4), (4, 5))], FLOAT, variant="ellipsis",
      composite=True),
    C("einsum", lambda m, x, y, z: m.einsum("ij,jk,kl->il", x, y, z), [((2, 3), (3, 4), (4, 2))], FLOAT,
      variant="three", composite=True),
    C("einsum", lambda m, x: m.einsum("ijk->kj", x), [(2, 3, 4)], FLOAT, variant="sum_permute", composite=True),
    C("tensordot", lambda m, x, y: m.tensordot(x, y), [((2, 3, 4), (3, 4, 5))], FLOAT, composite=True),
    C("tensordot", lambda m, x, y: m.tensordot(x, y, dims=([0, 2], [2, 0])), [((2, 3, 4), (4, 5, 2))], FLOAT,
      variant="dims", composite=True),
    C("tensordot", lambda m, x, y: m.tensordot(x, y, dims=0), [((2,), (3,))], FLOAT, variant="outer", composite=True),
    C("kron", lambda m, x, y: m.kron(x, y), [((2, 3), (3, 2)), ((2,), (3, 2))], FLOAT + ("int64",),
      torch_strided_fails="its kron calls view() on a transposed input"),
    C("trace", lambda m, x: m.trace(x), [(3, 3), (3, 4)], FLOAT + ("int64",), composite=True),
    C("linalg.norm", lambda m, x: m.linalg.norm(x), [(3, 4), (5,)], FLOAT, composite=True),
    C("linalg.norm", lambda m, x: m.linalg.norm(x, 1, dim=1), [(3, 4)], FLOAT, variant="vector", composite=True),
    C("linalg.norm", lambda m, x: m.linalg.norm(x, "fro"), [(3, 4)], FLOAT, variant="fro", composite=True),
    C("linalg.norm", lambda m, x: m.linalg.norm(x, float("inf")), [(3, 4)], FLOAT, unique=True, variant="inf",
      composite=True),
    C("linalg.norm", lambda m, x: m.linalg.norm(x, 1, dim=(0, 1)), [(3, 4)], FLOAT, unique=True,
      variant="matrix1", composite=True),
    C("linalg.matrix_norm", lambda m, x: m.linalg.matrix_norm(x), [(3, 4), (2, 3, 4)], FLOAT, composite=True),
    C("linalg.inv", lambda m, x: m.linalg.inv(_pos_def(m, x)), [(3, 3), (2, 3, 3)], FLOAT),
    C("linalg.det", lambda m, x: m.linalg.det(x), [(3, 3), (2, 4, 4)], FLOAT),
    C("linalg.slogdet", lambda m, x: m.linalg.slogdet(_pos_def(m, x)), [(3, 3)], FLOAT),
    C("linalg.solve", lambda m, x, y: m.linalg.solve(_pos_def(m, x), y), [((3, 3), (3, 2)), ((3, 3), (3,)),
                                                                        ((2, 3, 3), (2, 3, 1))], FLOAT),
    C("linalg.cross", lambda m, x, y: m.linalg.cross(x, y), [((4, 3), (4, 3)), ((3,), (3,))], FLOAT),
    C("linalg.pinv", lambda m, x: m.linalg.pinv(x), [(3, 4)], FLOAT, grad=False, data_dependent=True),

    # --- sorting and searching ----------------------------------------------------------------------------
    C("sort", lambda m, x: m.sort(x), [(3, 4), (5,), ()], NUMERIC, unique=True, composite=True),
    C("sort", lambda m, x: x.sort(0, descending=True), [(3, 4)], NUMERIC, unique=True, variant="descending",
      composite=True),
    C("sort", lambda m, x: m.sort(x, stable=True), [(10,)], INT, low=0, high=3, variant="stable", grad=False,
      composite=True),
    C("sort", lambda m, x: m.sort(x, descending=True, stable=True), [(10,)], INT, low=0, high=3,
      variant="stable_descending", grad=False, composite=True),
    C("argsort", lambda m, x: m.argsort(x, 1), [(3, 4)], NUMERIC, unique=True, grad=False),
    C("argsort", lambda m, x: x.argsort(descending=True), [(5,)], NUMERIC, unique=True, grad=False,
      variant="descending"),
    C("msort", lambda m, x: m.msort(x), [(3, 4)], FLOAT, unique=True, composite=True),
    C("topk", lambda m, x: m.topk(x, 2), [(3, 4), (5,)], NUMERIC, unique=True, composite=True),
    C("topk", lambda m, x: x.topk(2, dim=0, largest=False), [(3, 4)], NUMERIC, unique=True, variant="smallest",
      composite=True),
    C("kthvalue", lambda m, x: m.kthvalue(x, 2), [(3, 4), (5,)], NUMERIC, unique=True, composite=True),
    C("kthvalue", lambda m, x: x.kthvalue(1, 0, keepdim=True), [(3, 4)], FLOAT, unique=True, variant="keepdim",
      composite=True),
    C("unique", lambda m, x: m.unique(x), [(3, 4), (0,)], INT + FLOAT, low=0, high=4, grad=False,
      data_dependent=True),
    C("unique", lambda m, x: m.unique(x, return_inverse=True, return_counts=True), [(3, 4)], INT, low=0, high=4,
      grad=False, variant="inverse", data_dependent=True),
    C("unique", lambda m, x: m.unique(x, dim=0, return_counts=True), [(5, 2)], ("int64",), low=0, high=1,
      grad=False, variant="dim", data_dependent=True),
    C("unique_consecutive", lambda m, x: m.unique_consecutive(x, return_counts=True, return_inverse=True),
      [(10,)], ("int64",), low=0, high=2, grad=False, data_dependent=True),
    C("searchsorted", lambda m, x: m.searchsorted(m.tensor([-1.0, 0.0, 0.5, 1.5], dtype=x.dtype), x),
      [(3, 4), ()], FLOAT, grad=False),
    C("searchsorted", lambda m, x: m.searchsorted(m.tensor([[-1.0, 0.0, 1.0], [0.0, 0.5, 1.5]], dtype=x.dtype),
                                                  x, right=True), [(2, 5)], FLOAT, grad=False, variant="batched"),
    C("searchsorted", lambda m, x: m.searchsorted(m.tensor([0, 1, 1, 3]), x, side="right"), [(6,)], ("int64",),
      low=0, high=4, grad=False, variant="side"),
    C("bucketize", lambda m, x: m.bucketize(x, m.tensor([-1.0, 0.0, 1.0], dtype=x.dtype)), [(3, 4)], FLOAT,
      grad=False),
    C("bincount", lambda m, x: m.bincount(x), [(10,), (0,)], ("int64", "int32", "uint8"), low=0, high=5,
      grad=False, data_dependent=True),
    C("bincount", lambda m, x: m.bincount(m.tensor([0, 2, 2, 4]), x, minlength=6), [(4,)], FLOAT, grad=False,
      variant="weights", data_dependent=True),
    C("histc", lambda m, x: m.histc(x, bins=5), [(20,)], FLOAT, grad=False, data_dependent=True),
    C("histc", lambda m, x: m.histc(x, bins=4, min=-1, max=1), [(20,)], FLOAT, grad=False, variant="range",
      data_dependent=True),
    C("isclose", lambda m, x, y: m.isclose(x, x + y * 1e-6), BINARY[:2], FLOAT, grad=False),
    C("allclose", lambda m, x, y: m.allclose(x, x + y * 1e-6), BINARY[:2], FLOAT, grad=False, data_dependent=True),
    C("allclose", lambda m, x, y: m.allclose(x, y), BINARY[:1], FLOAT, grad=False, variant="false",
      data_dependent=True),
    C("equal", lambda m, x, y: (m.equal(x, y), m.equal(x, x.clone())), BINARY[:2], ALL, grad=False,
      data_dependent=True),

    # --- views and shapes ---------------------------------------------------------------------------------
    C("view", lambda m, x: x.view(4, 3), [(3, 4), (2, 6)], ALL + HALF, noncontig=False),
    C("view", lambda m, x: x.view(-1), [(3, 4), ()], FLOAT, variant="flat", noncontig=False),
    C("view", lambda m, x: x.view(m.int32), [(3, 4)], FLOAT, grad=False, noncontig=False, variant="dtype"),
    C("view_as", lambda m, x, y: x.view_as(y), [((3, 4), (2, 6))], FLOAT, noncontig=False),
    C("reshape", lambda m, x: m.reshape(x, (2, -1)), [(3, 4), (2, 6)], ALL),
    C("reshape", lambda m, x: x.reshape(()), [(1, 1), ()], FLOAT, variant="scalar"),
    C("reshape_as", lambda m, x, y: x.reshape_as(y), [((3, 4), (2, 6))], FLOAT),
    C("flatten", lambda m, x: m.flatten(x), [(2, 3, 4), (), (3,)], FLOAT),
    C("flatten", lambda m, x: x.flatten(1, 2), [(2, 3, 4, 2)], FLOAT, variant="range"),
    C("ravel", lambda m, x: m.ravel(x), [(3, 4)], FLOAT),
    C("unflatten", lambda m, x: m.unflatten(x, 1, (2, -1)), [(3, 4)], FLOAT),
    C("squeeze", lambda m, x: m.squeeze(x), [(3, 1, 4, 1), (1,), ()], FLOAT),
    C("squeeze", lambda m, x: x.squeeze(1), [(3, 1, 4), (3, 2)], FLOAT, variant="dim"),
    C("squeeze", lambda m, x: x.squeeze((0, 2)), [(1, 3, 1)], FLOAT, variant="dims"),
    C("unsqueeze", lambda m, x: m.unsqueeze(x, 0), [(3, 4), ()], FLOAT),
    C("unsqueeze", lambda m, x: m.unsqueeze(x, 1), [(3, 4)], FLOAT, variant="middle"),
    C("unsqueeze", lambda m, x: x.unsqueeze(-1), [(3, 4)], FLOAT, variant="negative"),
    C("permute", lambda m, x: m.permute(x, (2, 0, 1)), [(2, 3, 4)], ALL),
    C("permute", lambda m, x: x.permute(1, 0), [(3, 4)], FLOAT, variant="varargs"),
    C("transpose", lambda m, x: m.transpose(x, 0, -1), [(2, 3, 4), (3,)], FLOAT),
    C("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), [(2, 3)], FLOAT),
    C("swapdims", lambda m, x: m.swapdims(x, 0, 1), [(2, 3)], FLOAT),
    C("t", lambda m, x: m.t(x), [(3, 4), (3,), ()], FLOAT),
    C("t", lambda m, x: x.T, [(3, 4)], FLOAT, variant="T"),
    C("t", lambda m, x: x.mT, [(2, 3, 4)], FLOAT, variant="mT"),
    C("adjoint", lambda m, x: m.adjoint(x), [(2, 3, 4)], FLOAT),
    C("movedim", lambda m, x: m.movedim(x, 0, -1), [(2, 3, 4)], FLOAT),
    C("movedim", lambda m, x: m.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)], FLOAT, variant="many"),
    C("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [(2, 3, 4)], FLOAT),
    C("expand", lambda m, x: x.expand(2, 3, 4), [(3, 1), (1,), ()], FLOAT),
    C("expand", lambda m, x: x.expand(-1, 4), [(3, 1)], FLOAT, variant="minus_one"),
    C("expand_as", lambda m, x, y: x.expand_as(y), [((3, 1), (2, 3, 4))], FLOAT),
    C("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(3, 1), (4,)], FLOAT),
    C("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), BINARY[:4], FLOAT),
    C("narrow", lambda m, x: m.narrow(x, 1, 1, 2), [(3, 4)], FLOAT),
    C("narrow", lambda m, x: x.narrow(0, -2, 2), [(3, 4)], FLOAT, variant="negative"),
    C("select", lambda m, x: m.select(x, 1, -1), [(3, 4)], FLOAT),
    C("unbind", lambda m, x: m.unbind(x, 1), [(3, 4)], FLOAT),
    C("split", lambda m, x: m.split(x, 2, 1), [(3, 5)], FLOAT),
    C("split", lambda m, x: x.split([1, 3], dim=1), [(3, 4)], FLOAT, variant="sizes"),
    C("split_with_sizes", lambda m, x: x.split_with_sizes([2, 1], 0), [(3, 4)], FLOAT),
    C("chunk", lambda m, x: m.chunk(x, 3, 1), [(3, 5), (3, 6)], FLOAT),
    C("tensor_split", lambda m, x: m.tensor_split(x, 3, 1), [(3, 5)], FLOAT),
    C("tensor_split", lambda m, x: m.tensor_split(x, [1, 3], 1), [(3, 5)], FLOAT, variant="indices"),
    C("cat", lambda m, x, y: m.cat([x, y], 1), [((3, 4), (3, 2)), ((3, 0), (3, 2))], ALL + HALF),
    C("cat", lambda m, x, y: m.cat((x, y)), [((3, 4), (2, 4))], NUMERIC, variant="dim0"),
    C("cat", lambda m, x, y: m.cat([x, y.to(m.float64)], 0), [((3, 4), (2, 4))], FLOAT, variant="promote"),
    C("cat", lambda m, x, y: m.cat([x, y], 0), [((0,), (3, 4))], FLOAT, variant="legacy_empty"),
    C("concat", lambda m, x, y: m.concat([x, y], -1), [((3, 4), (3, 2))], FLOAT),
    C("concatenate", lambda m, x, y: m.concatenate([x, y], 0), [((3, 4), (3, 4))], FLOAT),
    C("stack", lambda m, x, y: m.stack([x, y]), [((3, 4), (3, 4)), ((), ())], ALL),
    C("stack", lambda m, x, y: m.stack([x, y], -1), [((3, 4), (3, 4))], FLOAT, variant="last"),
    C("hstack", lambda m, x, y: m.hstack([x, y]), [((3, 4), (3, 2)), ((3,), (2,)), ((), (2,))], FLOAT),
    C("vstack", lambda m, x, y: m.vstack([x, y]), [((3, 4), (2, 4)), ((3,), (3,))], FLOAT),
    C("row_stack", lambda m, x, y: m.row_stack([x, y]), [((3,), (3,))], FLOAT),
    C("dstack", lambda m, x, y: m.dstack([x, y]), [((3, 4), (3, 4)), ((3,), (3,))], FLOAT),
    C("column_stack", lambda m, x, y: m.column_stack([x, y]), [((3,), (3, 2)), ((3,), (3,))], FLOAT),
    C("atleast_1d", lambda m, x: m.atleast_1d(x), [(), (3,)], FLOAT),
    C("flip", lambda m, x: m.flip(x, (0, 1)), [(3, 4), (2, 3, 4)], ALL),
    C("flip", lambda m, x: x.flip(-1), [(3, 4), (5,)], FLOAT, variant="one"),
    C("fliplr", lambda m, x: m.fliplr(x), [(3, 4)], FLOAT),
    C("flipud", lambda m, x: m.flipud(x), [(3, 4), (3,)], FLOAT),
    C("roll", lambda m, x: m.roll(x, 1, 1), [(3, 4)], ALL, composite=True),
    C("roll", lambda m, x: m.roll(x, (1, -2), (0, 1)), [(3, 4)], FLOAT, variant="dims", composite=True),
    C("roll", lambda m, x: m.roll(x, 5), [(3, 4)], FLOAT, variant="flat", composite=True),
    C("repeat", lambda m, x: x.repeat(2, 3), [(3, 4), (4,), ()], ALL, gradgrad=True),
    C("repeat", lambda m, x: x.repeat(2, 1, 2), [(3, 4)], FLOAT, variant="more_dims"),
    C("tile", lambda m, x: m.tile(x, (2,)), [(3, 4), (4,)], FLOAT),
    C("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2), [(3, 4), ()], FLOAT, composite=True),
    C("repeat_interleave", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0), [(3, 4)], FLOAT,
      variant="tensor", composite=True, data_dependent=True),
    C("repeat_interleave", lambda m, x: x.repeat_interleave(3, dim=1), [(3, 4)], FLOAT, variant="dim",
      composite=True),
    C("repeat_interleave", lambda m, x: m.repeat_interleave(x), [(4,)], ("int64",), low=0, high=3, grad=False,
      variant="counts", composite=True, data_dependent=True),
    C("tril", lambda m, x: m.tril(x), [(3, 4), (2, 3, 3)], ALL),
    C("tril", lambda m, x: x.tril(-1), [(4, 3)], FLOAT, variant="offset"),
    C("triu", lambda m, x: m.triu(x, 1), [(3, 4), (2, 3, 3)], ALL),
    C("diag", lambda m, x: m.diag(x), [(3,), (3, 4)], NUMERIC, composite=True),
    C("diag", lambda m, x: m.diag(x, -1), [(3,), (3, 4)], FLOAT, variant="offset", composite=True),
    C("diagonal", lambda m, x: m.diagonal(x), [(3, 4), (2, 3, 4)], FLOAT),
    C("diagonal", lambda m, x: x.diagonal(1, -2, -1), [(3, 4), (2, 3, 4)], FLOAT, variant="offset"),
    C("diag_embed", lambda m, x: m.diag_embed(x), [(2, 3)], FLOAT, composite=True),
    C("diag_embed", lambda m, x: m.diag_embed(x, 1, 0, 2), [(2, 3)], FLOAT, variant="dims", composite=True),
    C("meshgrid", lambda m, x, y: m.meshgrid(x, y, indexing="ij"), [((3,), (4,))], FLOAT),
    C("meshgrid", lambda m, x, y, z: m.meshgrid(x, y, z, indexing="xy"), [((3,), (4,), (2,))], FLOAT,
      variant="xy"),
    C("contiguous", lambda m, x: x.contiguous(), [(3, 4)], FLOAT),
    C("block_diag", lambda m, x, y: m.block_diag(x, y), [((2, 3), (1, 2)), ((2,), ())], FLOAT, composite=True),

    # --- indexing -----------------------------------------------------------------------------------------
    C("getitem", lambda m, x: x[1], [(3, 4)], ALL, variant="int"),
    C("getitem", lambda m, x: x[-1, 1:3], [(3, 4)], FLOAT, variant="negative"),
    C("getitem", lambda m, x: x[::2, 1::2], [(5, 6)], FLOAT, variant="steps"),
    C("getitem", lambda m, x: x[None, ..., None, 1], [(3, 4)], FLOAT, variant="none_ellipsis"),
    C("getitem", lambda m, x: x[..., 2:], [(2, 3, 4)], FLOAT, variant="ellipsis"),
    C("getitem", lambda m, x: x[5:], [(3, 4)], FLOAT, variant="past_end"),
    C("getitem", lambda m, x: x[m.tensor([0, 2, 2])], [(3, 4)], FLOAT, variant="tensor"),
    C("getitem", lambda m, x: x[[0, -1], [1, 3]], [(3, 4)], FLOAT, variant="lists"),
    C("getitem", lambda m, x: x[:, [[0, 1], [3, 3]]], [(3, 4)], FLOAT, variant="slice_then_2d"),
    C("getitem", lambda m, x: x[[0, 1], :, [1, 2]], [(2, 3, 4)], FLOAT, variant="separated"),
    C("getitem", lambda m, x: x[x > 0], [(3, 4)], FLOAT, variant="mask", data_dependent=True),
    C("getitem", lambda m, x: x[x[:, 0] > 0], [(3, 4)], FLOAT, variant="row_mask", data_dependent=True),
    C("getitem", lambda m, x: x[m.tensor(1)], [(3, 4)], FLOAT, variant="0d_tensor"),
    C("getitem", lambda m, x: x[..., m.tensor([True, False, True, True])], [(3, 4)], FLOAT, variant="bool_list",
      data_dependent=True),
    C("getitem", lambda m, x: x[()], [(3, 4), ()], FLOAT, variant="empty_tuple", composite=True),
    C("getitem", lambda m, x: x[range(3), [0, 2, 3]], [(3, 4)], FLOAT, variant="range"),  # "What is torch.nn really?"
    C("getitem", lambda m, x: x[[]], [(3, 4)], FLOAT, variant="empty_list"),
    C("setitem", lambda m, x: _setitem(x, (range(1, 3),), 2.5), [(3, 4)], FLOAT, variant="range", composite=True),
    C("setitem", lambda m, x, y: _setitem(x, (slice(None), 1), y), [((3, 4), (3,)), ((3, 4), ())], FLOAT,
      composite=True),
    C("setitem", lambda m, x, y: _setitem(x, (slice(None, None, 2),), y), [((5, 4), (4,))], FLOAT,
      variant="broadcast", composite=True),
    C("setitem", lambda m, x, y: _setitem(x, x > 0, y), [((3, 4), ())], FLOAT, variant="mask",
      composite=True, data_dependent=True),
    C("setitem", lambda m, x: _setitem(x, (m.tensor([0, 2]),), 1.5), [(3, 4)], FLOAT, variant="tensor_scalar",
      composite=True),
    C("setitem", lambda m, x, y: _setitem(x, ([0, 2], [1, 3]), y), [((3, 4), (2,))], FLOAT, variant="lists",
      composite=True),
    C("setitem", lambda m, x: _setitem(x, (Ellipsis, 0), 7), [(3, 4)], NUMERIC, variant="int_value", composite=True),
    C("index_select", lambda m, x: m.index_select(x, 1, _idx(m, [3, 0, 0])), [(3, 4)], ALL),
    C("index_select", lambda m, x: x.index_select(0, _idx(m, [1])), [(3, 4), (2,)], FLOAT, variant="dim0"),
    C("gather", lambda m, x: m.gather(x, 1, _idx(m, [[0, 1], [3, 3], [2, 0]])), [(3, 4)], NUMERIC),
    C("gather", lambda m, x: x.gather(0, _idx(m, [[0, 1, 2, 0]])), [(3, 4)], FLOAT, variant="dim0"),
    C("gather", lambda m, x: x.gather(0, _idx(m, x.numel() - 1)), [(5,), ()], FLOAT, variant="0d_index"),
    C("take_along_dim", lambda m, x: m.take_along_dim(x, _idx(m, [[0], [3], [1]]), 1), [(3, 4)], FLOAT),
    C("scatter", lambda m, x: x.scatter(0, _idx(m, 0), 1.5), [(5,), ()], FLOAT, variant="0d_index_value"),
    C("scatter", lambda m, x, y: x.scatter(0, _idx(m, 3), y), [((5,), ())], FLOAT, variant="0d_index"),
    C("scatter_add", lambda m, x, y: x.scatter_add(0, _idx(m, 0), y), [((5,), ()), ((), ())], FLOAT,
      variant="0d_index"),
    C("scatter", lambda m, x, y: m.scatter(x, 1, _idx(m, [[0, 1], [3, 2], [2, 0]]), y), [((3, 4), (3, 2)),
                                                                                        ((3, 4), (3, 3))], NUMERIC,
      torch_backward_fails="its backward gives src's gradient index's shape, then refuses it, when src is larger"),
    C("scatter", lambda m, x: x.scatter(0, _idx(m, [[0, 2, 1, 0]]), 2.5), [(3, 4)], FLOAT, variant="value"),
    C("scatter", lambda m, x, y: m.scatter(x, 1, _idx(m, [[0, 0], [1, 1], [2, 2]]), y, reduce="add"),
      [((3, 4), (3, 2))], FLOAT, variant="reduce_add", grad=False),
    C("scatter_add", lambda m, x, y: m.scatter_add(x, 1, _idx(m, [[0, 0], [3, 1], [2, 2]]), y),
      [((3, 4), (3, 2))], NUMERIC),
    C("scatter_reduce", lambda m, x, y: m.scatter_reduce(x, 1, _idx(m, [[0, 0], [3, 1], [2, 2]]), y, "sum"),
      [((3, 4), (3, 2))], FLOAT),
    C("scatter_reduce", lambda m, x, y: m.scatter_reduce(x, 1, _idx(m, [[0, 0], [3, 1], [2, 2]]), y, "mean",
                                                         include_self=False),
      [((3, 4), (3, 2))], FLOAT, variant="mean"),
    C("scatter_reduce", lambda m, x, y: m.scatter_reduce(x, 0, _idx(m, [[0, 1, 2, 0], [0, 1, 1, 0]]), y, "amax"),
      [((3, 4), (2, 4))], FLOAT, unique=True, variant="amax"),
    C("scatter_reduce", lambda m, x, y: m.scatter_reduce(x, 0, _idx(m, [[0, 1, 2, 0], [0, 1, 1, 0]]), y, "amin",
                                                         include_self=False),
      [((3, 4), (2, 4))], FLOAT, unique=True, variant="amin"),
    C("scatter_reduce", lambda m, x, y: m.scatter_reduce(x, 1, _idx(m, [[0, 0], [3, 1], [2, 2]]), y, "prod"),
      [((3, 4), (3, 2))], FLOAT, low=0.5, high=2, variant="prod"),
    C("masked_fill", lambda m, x: m.masked_fill(x, x > 0, -1.0), [(3, 4), ()], NUMERIC),
    C("masked_fill", lambda m, x: x.masked_fill(_mask(m, [True, False, False, True]), m.tensor(2.0)), [(3, 4)],
      FLOAT, variant="broadcast_tensor_value"),
    C("masked_select", lambda m, x: m.masked_select(x, x > 0), [(3, 4)], NUMERIC,
      composite=True, data_dependent=True),
    C("masked_select", lambda m, x: x.masked_select(_mask(m, [True, False, False, True])), [(3, 4)], FLOAT,
      variant="broadcast", composite=True, data_dependent=True),
    C("masked_scatter", lambda m, x, y: x.masked_scatter(x > 0, y), [((3, 4), (3, 4))], FLOAT, data_dependent=True),
    C("nonzero", lambda m, x: m.nonzero(x > 0), [(3, 4), (5,), ()], FLOAT, grad=False, data_dependent=True),
    C("nonzero", lambda m, x: m.nonzero(x, as_tuple=True), [(3, 4), ()], NUMERIC, low=-1, high=1, grad=False,
      variant="tuple", data_dependent=True),
    C("argwhere", lambda m, x: m.argwhere(x), [(3, 4)], NUMERIC, low=-1, high=1, grad=False, data_dependent=True),
    C("take", lambda m, x: m.take(x, _idx(m, [[0, 5], [-1, 2]])), [(3, 4)], NUMERIC, composite=True),
    C("put", lambda m, x, y: x.put(_idx(m, [[0, 5], [-1, 2]]), y), [((3, 4), (2, 2))], NUMERIC),
    C("put", lambda m, x, y: m.put(x, _idx(m, [1, 1, 7]), y, accumulate=True), [((3, 4), (3,))], FLOAT,
      variant="accumulate"),
    C("index_add", lambda m, x, y: m.index_add(x, 0, _idx(m, [0, 2, 0]), y), [((3, 4), (3, 4))], NUMERIC),
    C("index_add", lambda m, x, y: x.index_add(1, _idx(m, [1, 3]), y, alpha=2), [((3, 4), (3, 2))], FLOAT,
      variant="alpha"),
    C("index_copy", lambda m, x, y: m.index_copy(x, 1, _idx(m, [3, 0]), y), [((3, 4), (3, 2))], NUMERIC),
    C("index_fill", lambda m, x: m.index_fill(x, 1, _idx(m, [3, 0]), -1.0), [(3, 4)], NUMERIC),
    C("index_put", lambda m, x, y: m.index_put(x, (_idx(m, [0, 2]), _idx(m, [1, 1])), y), [((3, 4), (2,)),
                                                                                          ((3, 4), ())], FLOAT),
    C("index_put", lambda m, x, y: x.index_put((_idx(m, [0, 0, 2]),), y, accumulate=True), [((3, 4), (4,))],
      FLOAT, variant="accumulate"),

    # --- in-place variants (computed on a clone so gradients flow to the leaf) -----------------------------
    C("add_", lambda m, x, y: x.clone().add_(y), BINARY[:2], NUMERIC),
    C("sub_", lambda m, x, y: x.clone().sub_(y, alpha=2), BINARY[:2], NUMERIC),
    C("mul_", lambda m, x, y: x.clone().mul_(y), BINARY[:2], NUMERIC),
    C("div_", lambda m, x, y: x.clone().div_(y), BINARY[:2], FLOAT, low=0.5, high=2),
    C("pow_", lambda m, x: x.clone().pow_(2), UNARY[:2], NUMERIC),
    C("clamp_", lambda m, x: x.clone().clamp_(-0.5, 0.5), UNARY[:2], NUMERIC),
    C("exp_", lambda m, x: x.clone().exp_(), UNARY[:2], FLOAT),
    C("sigmoid_", lambda m, x: x.clone().sigmoid_(), UNARY[:2], FLOAT),
    C("neg_", lambda m, x: x.clone().neg_(), UNARY[:2], FLOAT + SIGNED),
    C("masked_fill_", lambda m, x: x.clone().masked_fill_(x > 0, 0.5), UNARY[:2], FLOAT),
    C("index_put_", lambda m, x, y: x.clone().index_put_((_idx(m, [0, 2]),), y), [((3, 4), (4,))], FLOAT),
    C("fill_", lambda m, x: x.clone().fill_(3), UNARY[:2], NUMERIC),
    C("zero_", lambda m, x: x.clone().zero_(), UNARY[:2], NUMERIC),
    C("copy_", lambda m, x, y: x.clone().copy_(y), [((3, 4), (4,)), ((3, 4), ())], FLOAT, composite=True),
    C("scatter_", lambda m, x, y: x.clone().scatter_(1, _idx(m, [[0], [3], [1]]), y), [((3, 4), (3, 1))], FLOAT),
    C("index_add_", lambda m, x, y: x.clone().index_add_(0, _idx(m, [1, 1]), y), [((3, 4), (2, 4))], FLOAT),
    C("tril_", lambda m, x: x.clone().tril_(), [(3, 4)], FLOAT),
    C("addmm_", lambda m, x, y, z: x.clone().addmm_(y, z), [((3, 5), (3, 4), (4, 5))], FLOAT, composite=True),
    C("iadd", lambda m, x, y: _iop(x, y, "__iadd__"), BINARY[:2], NUMERIC),
    C("isub", lambda m, x, y: _iop(x, y, "__isub__"), BINARY[:2], NUMERIC),
    C("imul", lambda m, x, y: _iop(x, y, "__imul__"), BINARY[:2], NUMERIC),
    C("itruediv", lambda m, x, y: _iop(x, y, "__itruediv__"), BINARY[:2], FLOAT, low=0.5, high=2),

    # --- creation: values fixed by the arguments (FACTORY: no tensor input); *_like take the input's shape,
    # dtype and layout ----------------------------------------------------------------------------------------
    C("zeros", lambda m: m.zeros(2, 3), **FACTORY),
    C("zeros", lambda m: m.zeros((2, 0), dtype=m.int64), **FACTORY, variant="empty_int"),
    C("ones", lambda m: m.ones(2, 3), **FACTORY),
    C("ones", lambda m: m.ones((), dtype=m.bool), **FACTORY, variant="bool_0d"),
    C("empty", lambda m: m.empty(2, 3, dtype=m.float64).fill_(1), **FACTORY),
    C("full", lambda m: m.full((2, 3), 1.5), **FACTORY),
    C("full", lambda m: (m.full((2,), 7), m.full((1,), True), m.full((), 2.5, dtype=m.float64)), **FACTORY,
      variant="inferred_dtype"),
    C("arange", lambda m: (m.arange(5), m.arange(1, 2.5, 0.5), m.arange(0, -3, -1), m.arange(3, dtype=m.float32),
                          m.arange(0, 1, 0.1)), **FACTORY),
    C("range", lambda m: _range(m, 0, 2, 0.5), **FACTORY),
    C("linspace", lambda m: (m.linspace(-1, 1, 7), m.linspace(0, 1, 1), m.linspace(2, 3, 0),
                            m.linspace(0, 10, 5, dtype=m.int64)), **FACTORY),
    C("logspace", lambda m: (m.logspace(-1, 1, 5), m.logspace(0, 3, 4, base=2), m.logspace(0, 2, 3, dtype=m.float64)),
      **FACTORY),
    C("eye", lambda m: (m.eye(3), m.eye(2, 4, dtype=m.int64), m.eye(0)), **FACTORY),
    C("tril_indices", lambda m: (m.tril_indices(3, 4, 1), m.tril_indices(4, 3, -1), m.tril_indices(0, 2)), **FACTORY),
    C("triu_indices", lambda m: (m.triu_indices(3, 4, 1), m.triu_indices(4, 3, -1), m.triu_indices(2, 0)), **FACTORY),
    C("scalar_tensor", lambda m: (m.scalar_tensor(2.5), m.scalar_tensor(3, dtype=m.int32)), **FACTORY),
    C("zeros_like", lambda m, x: m.zeros_like(x), UNARY, ALL + HALF + COMPLEX, grad=False),
    C("ones_like", lambda m, x: m.ones_like(x), UNARY, ALL + HALF + COMPLEX, grad=False),
    C("full_like", lambda m, x: m.full_like(x, 2), UNARY, ALL + COMPLEX, grad=False),
    C("empty_like", lambda m, x: (m.empty_like(x).fill_(3), m.empty_like(x).stride()), UNARY, ALL, grad=False),
    C("complex", lambda m, x, y: m.complex(x, y), BINARY[:3], FLOAT, grad=False),
    C("complex", lambda m, x, y: m.view_as_real(m.complex(x, y)), BINARY[:3], FLOAT, variant="real_view",
      gradgrad=True),
    C("complex", lambda m, x, y: m.complex(x, y).abs(), BINARY[:3], FLOAT, variant="abs", gradgrad=True),
    C("polar", lambda m, r, theta: m.polar(r, theta), BINARY[:3], FLOAT, low=0.1, grad=False),
    C("polar", lambda m, r, theta: m.view_as_real(m.polar(r, theta)), BINARY[:3], FLOAT, low=0.1,
      variant="real_view", gradgrad=True),
    C("polar", lambda m, r, theta: m.polar(r, theta).abs(), BINARY[:3], FLOAT, low=0.1, variant="abs"),

    # --- activations' in-place functions (the activations themselves: TESTED_ELSEWHERE) ----------------------
    # (their nodes save the result, or a copy of the input: Note [in-place activations] in
    # ember/ops/piecewise_activations.py)
    C("relu_", lambda m, x: m.relu_(x.clone()), UNARY, FLOAT),
    C("celu_", lambda m, x: m.celu_(x.clone(), 0.7), UNARY, FLOAT, gradgrad=True),
    C("selu_", lambda m, x: m.selu_(x.clone()), UNARY, FLOAT, gradgrad=True),
    C("threshold_", lambda m, x: m.threshold_(x.clone(), 0.1, 20.0), UNARY, FLOAT + INT, gradgrad=True),
    C("rrelu_", lambda m, x: m.rrelu_(x.clone()), UNARY, FLOAT, gradgrad=True),
    # (training draws one number per element <= 0, read on the host: data_dependent)
    C("rrelu_", lambda m, x: _seeded(m, m.rrelu_, x.clone(), training=True), UNARY, FLOAT, gradgrad=True,
      variant="train", data_dependent=True),
    C("rrelu_", lambda m, x: _seeded(m, m.rrelu_, x.clone(), 0.2, 0.2 + 1e-7, training=True), UNARY, FLOAT,
      gradgrad=True, variant="narrow_train", data_dependent=True),   # the gradient is the noise, not the mean
]

# Exported ops without an OpCase, and the test file (relative to the repository) that checks each against
# PyTorch instead; tests/ops/test_ops.py checks that the file exists and uses the name.
TESTED_ELSEWHERE = {
    # tensors from Python data and NumPy arrays
    "tensor": "tests/test_tensor.py",
    **dict.fromkeys(["as_tensor", "asarray", "from_numpy"], "tests/test_numpy_bridge.py"),
    # random sampling: the draws equal PyTorch's generator stream for the same seed
    **dict.fromkeys(["rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like",
                     "randn_like", "randint_like", "uniform_", "random_", "cauchy_", "exponential_",
                     "geometric_", "log_normal_"], "tests/test_random.py"),
    # the gamma family's samplers: bit for bit against PyTorch's CPU kernels, gradients, statistics
    **dict.fromkeys(["poisson", "binomial"], "tests/distributions/test_distributions_gamma_sampling.py"),
    # activations: checked with the rest of torch.nn.functional
    **dict.fromkeys(["relu", "celu", "selu", "threshold", "hardshrink", "prelu", "rrelu"],
                    "tests/nn/test_functional_basic.py"),
    # torch.fft: values across n/s/dim/norm/dtypes, gradients (gradcheck and PyTorch's backward), errors
    **dict.fromkeys([f"fft.{name}" for name in (
        "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
        "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift")],
        "tests/test_fft.py"),
    # short-time Fourier transform and the window functions: values, dtypes, gradients, warnings and errors
    **dict.fromkeys(["stft", "istft", "hann_window", "hamming_window", "blackman_window", "bartlett_window",
                     "kaiser_window"], "tests/test_stft.py"),
    # sparse COO tensors: construction, conversions, products, sums, gradients and printing against PyTorch
    **dict.fromkeys(["sparse_coo_tensor", "spmm", "to_dense", "to_sparse", "to_sparse_coo", "coalesce",
                     "is_coalesced", "indices", "values", "sparse_dim", "dense_dim", "sparse_mask"],
                    "tests/sparse/test_sparse_coo.py"),
    # sparse CSR/CSC tensors: construction, conversions, accessors, products, gradients, printing, checkpoints
    **dict.fromkeys(["sparse_csr_tensor", "sparse_csc_tensor", "sparse_compressed_tensor", "to_sparse_csr",
                     "to_sparse_csc", "crow_indices", "col_indices", "ccol_indices", "row_indices"],
                    "tests/sparse/test_sparse_csr.py"),
}


def _setitem(x, index, value):
    """x.clone() with out[index] = value (the clone keeps gradients flowing to x)."""
    out = x.clone()
    out[index] = value
    return out


def _iop(x, y, name):
    out = x.clone()
    return getattr(out, name)(y)


def _seeded(m, fn, *args, **kwargs):
    """fn(*args, **kwargs) right after manual_seed(0): ember's generator draws PyTorch's numbers, so random ops
    compare value for value (and finite differences see the same draws on every call)."""
    m.manual_seed(0)
    return fn(*args, **kwargs)


@dataclass
class ErrorCase:
    name: str
    fn: object                     # lambda m: ... that must raise
    error: type                    # ember's exception type (checked to be torch's too)
    match: str = None              # a regex ember's message must contain
    torch_error: type = None       # when torch raises a different (documented) type


ERROR_CASES = [
    ErrorCase("add_shapes", lambda m: m.ones(2, 3) + m.ones(2, 4), RuntimeError, r"\(2, 3\).*\(2, 4\)"),
    ErrorCase("add_inplace_broadcast", lambda m: m.ones(3).add_(m.ones(2, 3)), RuntimeError, r"\(3,\).*\(2, 3\)|"
              r"\[3\].*\[2, 3\]"),
    ErrorCase("mul_shapes", lambda m: m.ones(3, 1, 2) * m.ones(4, 3), RuntimeError, r"\(3, 1, 2\).*\(4, 3\)"),
    ErrorCase("matmul_shapes", lambda m: m.ones(2, 3) @ m.ones(4, 5), RuntimeError, r"\(2, 3\).*\(4, 5\)"),
    ErrorCase("matmul_batch", lambda m: m.ones(2, 2, 3) @ m.ones(3, 3, 5), RuntimeError, r"\(2, 2, 3\).*\(3, 3, 5\)"),
    ErrorCase("matmul_dtypes", lambda m: m.ones(2, 3) @ m.ones(3, 2, dtype=m.float64), RuntimeError,
              r"float32.*float64|Float.*Double"),
    ErrorCase("matmul_0d", lambda m: m.matmul(m.tensor(1.0), m.ones(2)), RuntimeError, r"0D"),
    ErrorCase("mm_1d", lambda m: m.mm(m.ones(3), m.ones(3, 2)), RuntimeError),
    ErrorCase("bmm_batch", lambda m: m.bmm(m.ones(2, 3, 4), m.ones(3, 4, 5)), RuntimeError),
    ErrorCase("dot_sizes", lambda m: m.dot(m.ones(3), m.ones(4)), RuntimeError, r"3.*4"),
    ErrorCase("cat_shapes", lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)]), RuntimeError,
              r"tensor number 1.*\(2, 3\).*\(2, 4\)"),
    ErrorCase("cat_ndim", lambda m: m.cat([m.ones(2, 3), m.ones(3)]), RuntimeError),
    ErrorCase("cat_empty_list", lambda m: m.cat([]), ValueError),
    ErrorCase("stack_shapes", lambda m: m.stack([m.ones(2, 3), m.ones(3, 2)]), RuntimeError, r"\[2, 3\].*\[3, 2\]"),
    ErrorCase("reshape_numel", lambda m: m.ones(2, 3).reshape(4), RuntimeError, r"\[4\].*6"),
    ErrorCase("view_numel", lambda m: m.ones(2, 3).view(-1, 4), RuntimeError),
    ErrorCase("view_layout", lambda m: m.ones(2, 3).t().view(6), RuntimeError, r"reshape"),
    ErrorCase("view_two_minus_one", lambda m: m.ones(2, 3).view(-1, -1), RuntimeError),
    ErrorCase("expand_bad", lambda m: m.ones(2, 3).expand(3, 3), RuntimeError, r"3.*2"),
    ErrorCase("index_out_of_range", lambda m: m.ones(3)[5], IndexError, r"5.*size 3"),
    ErrorCase("index_negative_out_of_range", lambda m: m.ones(3, 2)[:, -3], IndexError, r"-3"),
    ErrorCase("index_tensor_out_of_range", lambda m: m.ones(3)[m.tensor([0, 3])], IndexError, r"3"),
    ErrorCase("index_too_many", lambda m: m.ones(3)[0, 0], IndexError),
    ErrorCase("index_float", lambda m: m.ones(3)[m.tensor([0.0])], IndexError),
    ErrorCase("index_0d", lambda m: m.tensor(1.0)[0], IndexError),
    ErrorCase("mask_shape", lambda m: m.ones(3, 2)[m.tensor([True, False])], IndexError, r"\[2\]"),
    ErrorCase("dim_out_of_range", lambda m: m.ones(2, 3).sum(2), IndexError, r"\[-2, 1\].*2"),
    ErrorCase("dim_repeat", lambda m: m.ones(2, 3).sum((1, 1)), RuntimeError),
    ErrorCase("squeeze_dim", lambda m: m.ones(2, 3).squeeze(3), IndexError),
    ErrorCase("permute_len", lambda m: m.ones(2, 3).permute(0), RuntimeError),
    ErrorCase("int_add_float_inplace", lambda m: m.ones(3, dtype=m.int64).add_(0.5), RuntimeError,
              r"Float.*Long"),
    ErrorCase("int_mul_float_tensor_inplace", lambda m: m.ones(3, dtype=m.int32).mul_(m.ones(3)), RuntimeError,
              r"Float.*Int"),
    ErrorCase("int_div_inplace", lambda m: m.ones(3, dtype=m.int64).div_(2), RuntimeError),
    ErrorCase("bool_inplace_add", lambda m: m.ones(3, dtype=m.bool).add_(m.ones(3, dtype=m.int64)), RuntimeError),
    ErrorCase("float_exp_into_int", lambda m: m.ones(3, dtype=m.int64).exp_(), RuntimeError),
    ErrorCase("bool_sub", lambda m: m.ones(3, dtype=m.bool) - m.ones(3, dtype=m.bool), RuntimeError, r"logical_xor"),
    ErrorCase("bool_neg", lambda m: -m.ones(3, dtype=m.bool), RuntimeError),
    ErrorCase("bitwise_float", lambda m: m.ones(3) & m.ones(3), RuntimeError),
    ErrorCase("int_pow_negative", lambda m: m.ones(3, dtype=m.int64) ** -1, RuntimeError),
    ErrorCase("mean_int", lambda m: m.ones(3, dtype=m.int64).mean(), RuntimeError, r"Long"),
    ErrorCase("bool_ambiguous", lambda m: bool(m.ones(3)), RuntimeError, r"ambiguous"),
    ErrorCase("item_many", lambda m: m.ones(3).item(), RuntimeError, r"3 elements"),
    ErrorCase("requires_grad_int", lambda m: m.ones(3, dtype=m.int64).requires_grad_(), RuntimeError,
              r"floating point"),
    ErrorCase("numpy_requires_grad", lambda m: m.ones(3, requires_grad=True).numpy(), RuntimeError, r"detach"),
    ErrorCase("where_cond_float", lambda m: m.where(m.ones(3), m.ones(3), m.zeros(3)), RuntimeError),
    ErrorCase("gather_ndim", lambda m: m.gather(m.ones(3, 4), 1, m.tensor([0, 1])), RuntimeError),
    ErrorCase("gather_out_of_range", lambda m: m.gather(m.ones(3, 4), 1, m.tensor([[5]])), RuntimeError, r"5"),
    ErrorCase("index_select_range", lambda m: m.index_select(m.ones(3, 4), 0, m.tensor([3])), IndexError, r"3"),
    ErrorCase("index_select_2d", lambda m: m.index_select(m.ones(3, 4), 0, m.tensor([[0]])), IndexError),
    ErrorCase("masked_fill_float_mask", lambda m: m.ones(3).masked_fill(m.ones(3), 0.0), RuntimeError),
    ErrorCase("topk_k", lambda m: m.topk(m.ones(3), 4), RuntimeError, r"k"),
    ErrorCase("kthvalue_k", lambda m: m.kthvalue(m.ones(3), 4), (IndexError, RuntimeError)),
    ErrorCase("max_empty", lambda m: m.ones(0).max(), RuntimeError, r"numel"),
    ErrorCase("max_empty_dim", lambda m: m.ones(0, 3).max(0), IndexError),
    ErrorCase("inv_nonsquare", lambda m: m.linalg.inv(m.ones(2, 3)), RuntimeError),
    ErrorCase("inv_singular", lambda m: m.linalg.inv(m.zeros(2, 2)), RuntimeError, r"singular"),
    ErrorCase("solve_singular", lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2)), RuntimeError, r"singular"),
    ErrorCase("clamp_none", lambda m: m.clamp(m.ones(3)), RuntimeError),
    ErrorCase("softmax_int", lambda m: m.softmax(m.ones(3, dtype=m.int64), 0), RuntimeError),
    ErrorCase("split_sizes", lambda m: m.ones(5).split([2, 2]), RuntimeError, r"5"),
    ErrorCase("chunk_zero", lambda m: m.ones(5).chunk(0), RuntimeError),
    ErrorCase("narrow_range", lambda m: m.ones(5).narrow(0, 3, 4), (IndexError, RuntimeError), r"3.*4.*5"),
    ErrorCase("unflatten_sizes", lambda m: m.ones(6).unflatten(0, (4, 2)), RuntimeError),
    ErrorCase("flatten_order", lambda m: m.ones(2, 3).flatten(1, 0), RuntimeError),
    ErrorCase("arange_sign", lambda m: m.arange(0, 5, -1), RuntimeError),
    ErrorCase("negative_size", lambda m: m.ones(-1), RuntimeError, r"-1"),
    ErrorCase("setitem_shape", lambda m: m.ones(3, 4).__setitem__(0, m.ones(3)), RuntimeError, r"3"),
    ErrorCase("copy_shape", lambda m: m.ones(3, 4).copy_(m.ones(3)), RuntimeError),
    ErrorCase("bincount_negative", lambda m: m.bincount(m.tensor([-1, 0])), RuntimeError),
    ErrorCase("unknown_device", lambda m: m.ones(2, device="tpu"), RuntimeError, r"tpu"),
    ErrorCase("diagonal_same_dims", lambda m: m.ones(3, 3).diagonal(0, 1, 1), RuntimeError),
    ErrorCase("tril_1d", lambda m: m.ones(3).tril(), RuntimeError),
    ErrorCase("repeat_fewer_dims", lambda m: m.ones(2, 3).repeat(2), RuntimeError),
    ErrorCase("remainder_int_zero", lambda m: m.ones(3, dtype=m.int64) % 0, RuntimeError, r"ZeroDivision"),
    ErrorCase("floor_divide_int_zero", lambda m: m.ones(3, dtype=m.int64) // m.zeros(3, dtype=m.int64),
              RuntimeError, r"ZeroDivision"),
    ErrorCase("len_0d", lambda m: len(m.tensor(1.0)), TypeError),
    ErrorCase("iter_0d", lambda m: iter(m.tensor(1.0)), TypeError),
    ErrorCase("index_of_float", lambda m: [1, 2][m.tensor(1.0)], TypeError),
]

# Later op families keep their cases in their own files; they join the database here.
import cases_linalg  # noqa: E402
import cases_shape  # noqa: E402
import cases_special  # noqa: E402

for _module in (cases_linalg, cases_shape, cases_special):
    OP_CASES.extend(_module.CASES)
    ERROR_CASES.extend(_module.ERROR_CASES)
