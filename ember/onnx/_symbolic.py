"""Converters: each traced op (by its aten name, see ember/onnx/_tracer.py) becomes ONNX nodes.

A converter reads the op's arguments from `call` (call.bound() by parameter name; call.out is what the op
returned) and binds every output tensor to the value name that computes it (g.bind). Arguments that are
Python numbers become constants of the dtype the op computes in; sizes may be SymInts (dynamic dimensions,
see ember/onnx/_graph.py) and go through g.ints / g.int_scalar.
"""
import math

import numpy

from .._tensor import Tensor
from ._graph import SymInt, onnx_type
from ._tracer import UnsupportedOp, converts


# -- helpers ------------------------------------------------------------------------------------------------

def np_dtype(tensor):
    """The NumPy dtype a tensor computes in (bfloat16 as ml_dtypes' when present)."""
    return tensor._array.dtype


def value(g, x, dtype=None):
    """The value name of an argument: a tensor (cast to `dtype` when given and different) or a Python number (a
    constant of `dtype`)."""
    if isinstance(x, Tensor):
        name = g.name_of(x)
        if dtype is not None and np_dtype(x) != dtype:
            from onnx import helper
            name = g.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(numpy.dtype(dtype)))
        return name
    if isinstance(x, SymInt):
        name = g.sym(x)
        if dtype is not None and numpy.dtype(dtype) != numpy.int64:
            from onnx import helper
            name = g.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(numpy.dtype(dtype)))
        return name
    return g.scalar(x, dtype if dtype is not None else (numpy.float32 if isinstance(x, float) else numpy.int64))


def rank(x):
    return x._array.ndim


def dims(x, dim):
    """Normalised axes (a list) of an int / list / tuple / None (all axes)."""
    n = rank(x)
    if dim is None:
        return list(range(n))
    if isinstance(dim, (list, tuple)):
        return [d % n if n else 0 for d in dim]
    return [dim % n if n else 0]


def axes_const(g, axes):
    return g.constant(numpy.array(axes, dtype=numpy.int64), "axes")


def sizes_arg(call, name, index=1):
    """A varargs size (`view(2, 3)` or `view((2, 3))`) as a list."""
    bound = call.bound()
    value_ = bound.get(name) if bound else None
    keyword = bound.get("size") or bound.get("shape") if bound else None
    if keyword is not None and not value_:
        value_ = keyword
    if value_ is None:
        value_ = call.args[index:]
    if isinstance(value_, (list, tuple)) and len(value_) == 1 and isinstance(value_[0], (list, tuple)):
        value_ = value_[0]
    return list(value_)


def first(call):
    """The op's first tensor argument (input / self / tensor)."""
    return call.args[0] if call.args else next(iter(call.kwargs.values()))


def bind(g, call, name):
    g.bind(call.out, name)


def dim_of(g, x, axis):
    """x's size along axis as an int or a SymInt (so it follows a dynamic dimension)."""
    size = x._array.shape[axis]
    return SymInt(size, ("dim", g.name_of(x), axis)) if g.dynamic else size


# -- elementwise ----------------------------------------------------------------------------------------------

_REFLECTED = {"__rsub__", "__rtruediv__", "__rpow__", "__rfloordiv__", "__rmod__", "__rmatmul__"}


def _binary_operands(call):
    a, b = call.args[0], (call.args[1] if len(call.args) > 1 else
                          call.kwargs.get("other", call.kwargs.get("exponent")))
    if getattr(call.fn, "__name__", "") in _REFLECTED or call.name == "aten::rsub":
        a, b = b, a
    return a, b


def _binary(onnx_op):
    def convert(g, call):
        a, b = _binary_operands(call)
        dtype = np_dtype(call.out)
        left, right = value(g, a, dtype), value(g, b, dtype)
        alpha = call.arg(2, "alpha", None) if call.name in ("aten::add", "aten::sub", "aten::add_",
                                                            "aten::sub_", "aten::rsub") else None
        if alpha not in (None, 1):
            right = g.node("Mul", [right, value(g, alpha, dtype)])
        bind(g, call, g.node(onnx_op, [left, right]))
    return convert


for _names, _op in ((("add", "add_", "__add__", "__radd__", "__iadd__"), "Add"),
                    (("sub", "sub_", "subtract", "rsub", "__sub__", "__rsub__", "__isub__"), "Sub"),
                    (("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__"), "Mul"),
                    (("maximum", "fmax"), "Max"), (("minimum", "fmin"), "Min")):
    converts(*["aten::" + n for n in _names])(_binary(_op))


@converts("aten::div", "aten::div_", "aten::divide", "aten::true_divide", "aten::floor_divide",
          "aten::floor_divide_")
def _div(g, call):
    a, b = _binary_operands(call)
    dtype = np_dtype(call.out)
    mode = call.kwargs.get("rounding_mode", call.args[2] if len(call.args) > 2 else None)
    if call.name.startswith("aten::floor_divide"):
        mode = "floor"
    left, right = value(g, a, dtype), value(g, b, dtype)
    if mode == "floor" and numpy.issubdtype(dtype, numpy.integer):
        # (a - a mod b) / b: exact, and ONNX's integer Mod (fmod=0) has the divisor's sign, as Python's
        bind(g, call, g.node("Div", [g.node("Sub", [left, g.node("Mod", [left, right], fmod=0)]), right]))
        return
    q = g.node("Div", [left, right])
    if mode == "floor":
        q = g.node("Floor", [q])
    elif mode == "trunc" and not numpy.issubdtype(dtype, numpy.integer):
        q = g.node("Mul", [g.node("Sign", [q]), g.node("Floor", [g.node("Abs", [q])])])
    bind(g, call, q)


@converts("aten::remainder", "aten::remainder_", "aten::fmod")
def _remainder(g, call):
    a, b = _binary_operands(call)
    dtype = np_dtype(call.out)
    left, right = value(g, a, dtype), value(g, b, dtype)
    if numpy.issubdtype(dtype, numpy.integer):
        bind(g, call, g.node("Mod", [left, right], fmod=1 if call.name == "aten::fmod" else 0))
    elif call.name == "aten::fmod":
        bind(g, call, g.node("Mod", [left, right], fmod=1))
    else:                                           # Python's: a - floor(a / b) * b
        floor = g.node("Floor", [g.node("Div", [left, right])])
        bind(g, call, g.node("Sub", [left, g.node("Mul", [floor, right])]))


@converts("aten::pow", "aten::pow_", "aten::float_power")
def _pow(g, call):
    a, b = _binary_operands(call)
    dtype = np_dtype(call.out)
    exponent = value(g, b, dtype if isinstance(b, Tensor) or numpy.issubdtype(dtype, numpy.floating) else None)
    bind(g, call, g.node("Pow", [value(g, a, dtype), exponent]))


def _compare(onnx_op, negate=False):
    def convert(g, call):
        from .. import result_type
        a, b = _binary_operands(call)
        dtype = numpy.dtype(result_type(a, b)._numpy if hasattr(result_type(a, b), "_numpy") else
                            _numpy_of(result_type(a, b)))
        out = g.node(onnx_op, [value(g, a, dtype), value(g, b, dtype)])
        bind(g, call, g.node("Not", [out]) if negate else out)
    return convert


def _numpy_of(dtype):
    from .. import empty
    return empty(0, dtype=dtype)._array.dtype


for _names, _op, _neg in ((("eq", "__eq__"), "Equal", False), (("ne", "not_equal", "__ne__"), "Equal", True),
                          (("lt", "less", "__lt__"), "Less", False), (("le", "less_equal", "__le__"),
                                                                       "LessOrEqual", False),
                          (("gt", "greater", "__gt__"), "Greater", False),
                          (("ge", "greater_equal", "__ge__"), "GreaterOrEqual", False)):
    converts(*["aten::" + n for n in _names])(_compare(_op, _neg))


def _logical(onnx_op):
    def convert(g, call):
        a, b = _binary_operands(call)
        left = g.node("Cast", [value(g, a)], to=onnx_type("bool")) if np_dtype(a) != numpy.bool_ else value(g, a)
        right = g.node("Cast", [value(g, b)], to=onnx_type("bool")) if not isinstance(b, Tensor) or \
            np_dtype(b) != numpy.bool_ else value(g, b)
        bind(g, call, g.node(onnx_op, [left, right]))
    return convert


converts("aten::logical_and", "aten::__and__")(_logical("And"))
converts("aten::logical_or", "aten::__or__")(_logical("Or"))
converts("aten::logical_xor", "aten::__xor__")(_logical("Xor"))


def _unary(*ops):
    def convert(g, call):
        x = first(call)
        name = value(g, x, np_dtype(call.out))
        for op in ops:
            name = g.node(op, [name])
        bind(g, call, name)
    return convert


for _names, _ops in ((("neg", "negative", "__neg__", "neg_"), ("Neg",)), (("abs", "absolute", "__abs__"), ("Abs",)),
                     (("exp", "exp_"), ("Exp",)), (("log", "log_"), ("Log",)), (("sqrt", "sqrt_"), ("Sqrt",)),
                     (("rsqrt",), ("Sqrt", "Reciprocal")), (("reciprocal",), ("Reciprocal",)),
                     (("sin",), ("Sin",)), (("cos",), ("Cos",)), (("tan",), ("Tan",)),
                     (("tanh", "tanh_"), ("Tanh",)), (("sigmoid", "sigmoid_"), ("Sigmoid",)),
                     (("relu", "relu_"), ("Relu",)), (("floor",), ("Floor",)), (("ceil",), ("Ceil",)),
                     (("round",), ("Round",)), (("sign",), ("Sign",)), (("erf",), ("Erf",)),
                     (("asin", "arcsin"), ("Asin",)), (("acos", "arccos"), ("Acos",)), (("atan", "arctan"), ("Atan",)),
                     (("sinh",), ("Sinh",)), (("cosh",), ("Cosh",)), (("asinh",), ("Asinh",)),
                     (("acosh",), ("Acosh",)), (("atanh",), ("Atanh",)), (("softsign",), ("Softsign",)),
                     (("selu",), ("Selu",)), (("hardswish",), ("HardSwish",)),
                     (("clone", "contiguous", "detach", "positive", "alias", "resolve_conj", "resolve_neg"),
                      ("Identity",))):
    converts(*["aten::" + n for n in _names])(_unary(*_ops))


@converts("aten::isinf", "aten::isnan")
def _isinf(g, call):                # the input's own dtype (the output is bool)
    bind(g, call, g.node("IsInf" if call.name == "aten::isinf" else "IsNaN", [value(g, first(call))]))


@converts("aten::logical_not", "aten::bitwise_not", "aten::__invert__")
def _not(g, call):
    x = first(call)
    if np_dtype(call.out) == numpy.bool_:        # logical_not of any dtype, ~ of a bool tensor
        bind(g, call, g.node("Not", [value(g, x, numpy.bool_)]))
    elif g.opset >= 18:
        bind(g, call, g.node("BitwiseNot", [value(g, x)]))
    else:                                        # two's complement: ~x == -1 - x
        bind(g, call, g.node("Sub", [g.scalar(-1, np_dtype(x)), value(g, x)]))


@converts("aten::log1p")
def _log1p(g, call):
    x = first(call)
    bind(g, call, g.node("Log", [g.node("Add", [value(g, x), g.scalar(1, np_dtype(call.out))])]))


@converts("aten::expm1")
def _expm1(g, call):
    x = first(call)
    bind(g, call, g.node("Sub", [g.node("Exp", [value(g, x)]), g.scalar(1, np_dtype(call.out))]))


@converts("aten::square")
def _square(g, call):
    x = value(g, first(call), np_dtype(call.out))
    bind(g, call, g.node("Mul", [x, x]))


@converts("aten::log2", "aten::log10")
def _log_base(g, call):
    base = 2.0 if call.name == "aten::log2" else 10.0
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Div", [g.node("Log", [value(g, first(call), dtype)]), g.scalar(math.log(base), dtype)]))


@converts("aten::clamp", "aten::clip", "aten::clamp_", "aten::clip_", "aten::clamp_min", "aten::clamp_max")
def _clamp(g, call):
    x = first(call)
    dtype = np_dtype(call.out)
    low = call.arg(1, "min") if call.name != "aten::clamp_max" else None
    high = call.arg(2, "max") if call.name not in ("aten::clamp_min", "aten::clamp_max") else \
        (call.arg(1, "max") if call.name == "aten::clamp_max" else None)
    name = value(g, x, dtype)
    if isinstance(low, Tensor) or isinstance(high, Tensor):
        if low is not None:
            name = g.node("Max", [name, value(g, low, dtype)])
        if high is not None:
            name = g.node("Min", [name, value(g, high, dtype)])
    else:
        name = g.node("Clip", [name, value(g, low, dtype) if low is not None else "",
                               value(g, high, dtype) if high is not None else ""])
    bind(g, call, name)


@converts("aten::where")
def _where(g, call):
    cond, a, b = call.arg(0, "condition"), call.arg(1, "input"), call.arg(2, "other")
    if a is None:
        raise UnsupportedOp(f"ember.onnx.export: where(condition) with one argument (in {call.module}) has a "
                            "data-dependent shape")
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Where", [value(g, cond, numpy.bool_), value(g, a, dtype), value(g, b, dtype)]))


@converts("aten::masked_fill", "aten::masked_fill_")
def _masked_fill(g, call):
    x, mask, fill = call.arg(0, "input"), call.arg(1, "mask"), call.arg(2, "value")
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Where", [value(g, mask, numpy.bool_), value(g, fill, dtype), value(g, x, dtype)]))


# -- type conversions ---------------------------------------------------------------------------------------

@converts("aten::to", "aten::type_as", "aten::type")
def _to(g, call):
    x = first(call)
    out = call.out
    if np_dtype(out) == np_dtype(x):
        bind(g, call, g.node("Identity", [g.name_of(x)]))
    else:
        bind(g, call, g.node("Cast", [g.name_of(x)], to=onnx_type(out.dtype)))


# -- activations --------------------------------------------------------------------------------------------

@converts("aten::relu6")
def _relu6(g, call):
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Clip", [value(g, first(call), dtype), g.scalar(0, dtype), g.scalar(6, dtype)]))


@converts("aten::hardtanh", "aten::hardtanh_")
def _hardtanh(g, call):
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Clip", [value(g, first(call), dtype), g.scalar(call.arg(1, "min_val", -1.0), dtype),
                                  g.scalar(call.arg(2, "max_val", 1.0), dtype)]))


def _alpha(op_type, name, default):
    """A one-node activation whose `alpha` attribute is the op's argument `name` (position 1)."""
    def convert(g, call):
        bind(g, call, g.node(op_type, [value(g, first(call))], alpha=float(call.arg(1, name, default))))
    return convert


converts("aten::leaky_relu", "aten::leaky_relu_")(_alpha("LeakyRelu", "negative_slope", 0.01))
converts("aten::elu", "aten::elu_")(_alpha("Elu", "alpha", 1.0))
converts("aten::celu")(_alpha("Celu", "alpha", 1.0))


@converts("aten::gelu")
def _gelu(g, call):
    x = value(g, first(call))
    dtype = np_dtype(call.out)
    if call.arg(1, "approximate", "none") == "tanh":
        inner = g.node("Mul", [g.scalar(math.sqrt(2 / math.pi), dtype), g.node("Add", [x, g.node(
            "Mul", [g.scalar(0.044715, dtype), g.node("Pow", [x, g.scalar(3, dtype)])])])])
        half = g.node("Mul", [g.scalar(0.5, dtype), x])
        bind(g, call, g.node("Mul", [half, g.node("Add", [g.scalar(1, dtype), g.node("Tanh", [inner])])]))
        return
    erf = g.node("Erf", [g.node("Mul", [x, g.scalar(1 / math.sqrt(2), dtype)])])
    bind(g, call, g.node("Mul", [g.node("Mul", [x, g.scalar(0.5, dtype)]), g.node("Add", [erf, g.scalar(1, dtype)])]))


@converts("aten::silu", "aten::silu_")
def _silu(g, call):
    x = value(g, first(call))
    bind(g, call, g.node("Mul", [x, g.node("Sigmoid", [x])]))


@converts("aten::mish")
def _mish(g, call):
    x = value(g, first(call))
    bind(g, call, g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])]))


@converts("aten::softplus")
def _softplus(g, call):
    x = first(call)
    dtype = np_dtype(call.out)
    beta, threshold = float(call.arg(1, "beta", 1.0)), float(call.arg(2, "threshold", 20.0))
    scaled = g.node("Mul", [value(g, x), g.scalar(beta, dtype)]) if beta != 1 else value(g, x)
    soft = g.node("Softplus", [scaled])
    if beta != 1:
        soft = g.node("Div", [soft, g.scalar(beta, dtype)])
    # above the threshold PyTorch returns the input itself
    bind(g, call, g.node("Where", [g.node("Greater", [scaled, g.scalar(threshold, dtype)]), value(g, x), soft]))


@converts("aten::hardsigmoid")
def _hardsigmoid(g, call):
    bind(g, call, g.node("HardSigmoid", [value(g, first(call))], alpha=1 / 6, beta=0.5))


@converts("aten::logsigmoid")
def _logsigmoid(g, call):
    x = value(g, first(call))
    bind(g, call, g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])]))


@converts("aten::tanhshrink")
def _tanhshrink(g, call):
    x = value(g, first(call))
    bind(g, call, g.node("Sub", [x, g.node("Tanh", [x])]))


@converts("aten::threshold", "aten::threshold_")
def _threshold(g, call):
    x, th, fill = first(call), call.arg(1, "threshold"), call.arg(2, "value")
    dtype = np_dtype(call.out)
    name = value(g, x, dtype)
    bind(g, call, g.node("Where", [g.node("Greater", [name, g.scalar(th, dtype)]), name, g.scalar(fill, dtype)]))


@converts("aten::prelu")
def _prelu(g, call):
    x, weight = call.arg(0, "input"), call.arg(1, "weight")
    w = value(g, weight)
    if rank(x) > 2 and weight.numel() > 1:          # per channel (dim 1): broadcast as (C, 1, ..., 1)
        w = g.node("Reshape", [w, g.constant(numpy.array([-1] + [1] * (rank(x) - 2), dtype=numpy.int64))])
    bind(g, call, g.node("PRelu", [value(g, x), w]))


@converts("aten::softmax", "aten::log_softmax", "aten::_softmax", "aten::softmin")
def _softmax(g, call):
    x = first(call)
    dim = call.arg(1, "dim")
    if dim is None:
        dim = 0 if rank(x) in (0, 1, 3) else 1            # PyTorch's legacy implicit dim
    name = value(g, x, np_dtype(call.out))
    if call.name == "aten::softmin":
        name = g.node("Neg", [name])
    op = "LogSoftmax" if call.name == "aten::log_softmax" else "Softmax"
    bind(g, call, g.node(op, [name], axis=int(dim) % max(rank(x), 1)))


@converts("aten::dropout", "aten::dropout_", "aten::alpha_dropout", "aten::feature_alpha_dropout",
          "aten::dropout1d", "aten::dropout2d", "aten::dropout3d")
def _dropout(g, call):
    if call.arg(2, "training", True) and call.arg(1, "p", 0.5):
        raise UnsupportedOp(f"ember.onnx.export: dropout in training mode (in {call.module}); export in eval mode")
    bind(g, call, g.node("Identity", [g.name_of(first(call))]))


# -- linear algebra -----------------------------------------------------------------------------------------

@converts("aten::linear")
def _linear(g, call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    product = g.node("MatMul", [value(g, x), g.node("Transpose", [value(g, weight)], perm=[1, 0])]) \
        if rank(weight) == 2 else g.node("Mul", [value(g, x), value(g, weight)])
    bind(g, call, g.node("Add", [product, value(g, bias)]) if bias is not None else product)


@converts("aten::matmul", "aten::mm", "aten::bmm", "aten::__matmul__", "aten::__rmatmul__", "aten::mv")
def _matmul(g, call):
    a, b = _binary_operands(call)
    bind(g, call, g.node("MatMul", [value(g, a), value(g, b)]))


@converts("aten::addmm")
def _addmm(g, call):
    c, a, b = call.arg(0, "input"), call.arg(1, "mat1"), call.arg(2, "mat2")
    beta, alpha = call.arg(None, "beta", 1), call.arg(None, "alpha", 1)
    bind(g, call, g.node("Gemm", [value(g, a), value(g, b), value(g, c)], alpha=float(alpha), beta=float(beta)))


@converts("aten::einsum")
def _einsum(g, call):
    equation = call.args[0]
    operands = call.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    bind(g, call, g.node("Einsum", [value(g, o) for o in operands], equation=equation.replace(" ", "")))


# -- convolution, normalisation, pooling, embedding ---------------------------------------------------------

def _tuple(v, n):
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


def _conv_pads(padding, kernel, dilation, n):
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * (2 * n)
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]          # "same"
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    pads = _tuple(padding, n)
    return pads + pads


@converts("aten::conv1d", "aten::conv2d", "aten::conv3d")
def _conv(g, call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    n = rank(weight) - 2
    kernel = list(weight.shape[2:])
    dilation = _tuple(call.arg(5, "dilation", 1), n)
    inputs = [value(g, x), value(g, weight)] + ([value(g, bias)] if bias is not None else [])
    bind(g, call, g.node("Conv", inputs, kernel_shape=kernel, strides=_tuple(call.arg(3, "stride", 1), n),
                         pads=_conv_pads(call.arg(4, "padding", 0), kernel, dilation, n), dilations=dilation,
                         group=int(call.arg(6, "groups", 1))))


@converts("aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d")
def _conv_transpose(g, call):
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    n = rank(weight) - 2
    pads = _tuple(call.arg(4, "padding", 0), n)
    inputs = [value(g, x), value(g, weight)] + ([value(g, bias)] if bias is not None else [])
    bind(g, call, g.node("ConvTranspose", inputs, kernel_shape=list(weight.shape[2:]),
                         strides=_tuple(call.arg(3, "stride", 1), n), pads=pads + pads,
                         output_padding=_tuple(call.arg(5, "output_padding", 0), n),
                         group=int(call.arg(6, "groups", 1)), dilations=_tuple(call.arg(7, "dilation", 1), n)))


@converts("aten::batch_norm")
def _batch_norm(g, call):
    b = call.bound()
    x = b["input"]
    if b["training"] or b["running_mean"] is None:
        raise UnsupportedOp(f"ember.onnx.export: batch_norm with batch statistics (training mode, or no running "
                            f"statistics) in {call.module}; export in eval mode")
    channels = x.shape[1]
    dtype = np_dtype(x)
    weight = value(g, b["weight"]) if b["weight"] is not None else g.constant(numpy.ones(channels, dtype))
    bias = value(g, b["bias"]) if b["bias"] is not None else g.constant(numpy.zeros(channels, dtype))
    bind(g, call, g.node("BatchNormalization", [value(g, x), weight, bias, value(g, b["running_mean"]),
                                                value(g, b["running_var"])], epsilon=float(b["eps"])))


@converts("aten::layer_norm")
def _layer_norm(g, call):
    b = call.bound()
    x, shape = b["input"], list(b["normalized_shape"]) if isinstance(b["normalized_shape"], (list, tuple)) else \
        [b["normalized_shape"]]
    dtype = np_dtype(x)
    weight = value(g, b["weight"]) if b["weight"] is not None else g.constant(numpy.ones(shape, dtype))
    inputs = [value(g, x), weight] + ([value(g, b["bias"])] if b["bias"] is not None else [])
    bind(g, call, g.node("LayerNormalization", inputs, axis=-len(shape), epsilon=float(b["eps"])))


@converts("aten::group_norm")
def _group_norm(g, call):
    b = call.bound()
    x, groups, eps = b["input"], int(b["num_groups"]), float(b["eps"])
    dtype = np_dtype(x)
    name = value(g, x)
    grouped = g.node("Reshape", [name, g.ints([0, groups, -1])])
    mean = g.node("ReduceMean", [grouped, axes_const(g, [2])], keepdims=1)
    centred = g.node("Sub", [grouped, mean])
    var = g.node("ReduceMean", [g.node("Mul", [centred, centred]), axes_const(g, [2])], keepdims=1)
    normed = g.node("Div", [centred, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype)])])])
    out = g.node("Reshape", [normed, g.node("Shape", [name])])
    channel_shape = g.constant(numpy.array([-1] + [1] * (rank(x) - 2), dtype=numpy.int64))
    if b["weight"] is not None:
        out = g.node("Mul", [out, g.node("Reshape", [value(g, b["weight"]), channel_shape])])
    if b["bias"] is not None:
        out = g.node("Add", [out, g.node("Reshape", [value(g, b["bias"]), channel_shape])])
    bind(g, call, out)


def _pool_args(call, n):
    kernel = _tuple(call.arg(1, "kernel_size"), n)
    stride = call.arg(2, "stride")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _tuple(stride, n)
    pads = _tuple(call.arg(3, "padding", 0), n)
    return kernel, stride, pads + pads


@converts("aten::max_pool1d", "aten::max_pool2d", "aten::max_pool3d")
def _max_pool(g, call):
    n = int(call.name[-2])
    if call.arg(6, "return_indices", False):
        raise UnsupportedOp(f"ember.onnx.export: max_pool with return_indices (in {call.module})")
    kernel, stride, pads = _pool_args(call, n)
    bind(g, call, g.node("MaxPool", [value(g, first(call))], kernel_shape=kernel, strides=stride, pads=pads,
                         dilations=_tuple(call.arg(4, "dilation", 1), n),
                         ceil_mode=int(bool(call.arg(5, "ceil_mode", False)))))


@converts("aten::avg_pool1d", "aten::avg_pool2d", "aten::avg_pool3d")
def _avg_pool(g, call):
    n = int(call.name[-2])
    if call.arg(6, "divisor_override") is not None:
        raise UnsupportedOp(f"ember.onnx.export: avg_pool with divisor_override (in {call.module})")
    kernel, stride, pads = _pool_args(call, n)
    bind(g, call, g.node("AveragePool", [value(g, first(call))], kernel_shape=kernel, strides=stride, pads=pads,
                         ceil_mode=int(bool(call.arg(4, "ceil_mode", False))),
                         count_include_pad=int(bool(call.arg(5, "count_include_pad", True)))))


@converts("aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d", "aten::adaptive_avg_pool3d",
          "aten::adaptive_max_pool1d", "aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d")
def _adaptive_pool(g, call):
    x = first(call)
    n = int(call.name[-2])
    spatial = list(x._array.shape[-n:])         # the traced sizes: the pooling kernel is fixed by them
    wanted = _tuple(call.arg(1, "output_size"), n)
    wanted = [s if w is None else w for w, s in zip(wanted, spatial)]
    is_max = "max" in call.name
    if call.arg(2, "return_indices", False):
        raise UnsupportedOp(f"ember.onnx.export: adaptive max pool with return_indices (in {call.module})")
    if all(w == 1 for w in wanted):
        bind(g, call, g.node("GlobalMaxPool" if is_max else "GlobalAveragePool", [value(g, x)]))
        return
    if any(s % w for s, w in zip(spatial, wanted)):
        raise UnsupportedOp(f"ember.onnx.export: adaptive pooling from {spatial} to {wanted} (in {call.module}): "
                            "ONNX pools with one kernel, which needs sizes that divide evenly (the spatial sizes "
                            "of the trace are kept)")
    kernel = [s // w for s, w in zip(spatial, wanted)]
    bind(g, call, g.node("MaxPool" if is_max else "AveragePool", [value(g, x)], kernel_shape=kernel, strides=kernel))


@converts("aten::embedding")
def _embedding(g, call):
    indices, weight = call.arg(0, "input"), call.arg(1, "weight")
    if call.arg(3, "max_norm") is not None:
        raise UnsupportedOp(f"ember.onnx.export: embedding with max_norm (in {call.module}) renormalises the weight")
    bind(g, call, g.node("Gather", [value(g, weight), value(g, indices)], axis=0))


# -- shapes ---------------------------------------------------------------------------------------------------

@converts("aten::view", "aten::reshape", "aten::_reshape_alias")
def _reshape(g, call):
    x = first(call)
    shape = sizes_arg(call, "shape" if call.name == "aten::view" else "sizes")
    if call.name == "aten::view" and len(shape) == 1 and not isinstance(shape[0], int):   # view(dtype)
        raise UnsupportedOp(f"ember.onnx.export: view(dtype) reinterprets bytes (in {call.module})")
    bind(g, call, g.node("Reshape", [value(g, x), g.ints(shape)]))


@converts("aten::view_as", "aten::reshape_as")
def _reshape_as(g, call):
    x, other = call.args[0], call.args[1]
    bind(g, call, g.node("Reshape", [value(g, x), g.node("Shape", [value(g, other)])]))


@converts("aten::flatten")
def _flatten(g, call):
    x = first(call)
    n = rank(x)
    if n == 0:
        bind(g, call, g.node("Reshape", [value(g, x), g.ints([1])]))
        return
    start, end = call.arg(1, "start_dim", 0) % n, call.arg(2, "end_dim", -1) % n
    shape = [dim_of(g, x, i) for i in range(start)] + [-1] + [dim_of(g, x, i) for i in range(end + 1, n)]
    bind(g, call, g.node("Reshape", [value(g, x), g.ints(shape)]))


@converts("aten::permute")
def _permute(g, call):
    x = first(call)
    perm = sizes_arg(call, "args") if call.arg(None, "dims") is None else list(call.arg(None, "dims"))
    bind(g, call, g.node("Transpose", [value(g, x)], perm=[p % rank(x) for p in perm]))


@converts("aten::transpose", "aten::swapaxes", "aten::swapdims")
def _transpose(g, call):
    x = first(call)
    n = rank(x)
    a, b = call.args[1] % n, call.args[2] % n
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    bind(g, call, g.node("Transpose", [value(g, x)], perm=perm))


@converts("aten::t", "aten::numpy_T", "aten::T", "aten::mT")
def _t(g, call):
    x = first(call)
    n = rank(x)
    perm = list(range(n))[::-1] if call.name in ("aten::numpy_T", "aten::T") or n < 2 else \
        list(range(n - 2)) + [n - 1, n - 2]
    bind(g, call, g.node("Transpose", [value(g, x)], perm=perm) if n > 1 else g.node("Identity", [value(g, x)]))


@converts("aten::unsqueeze", "aten::unsqueeze_")
def _unsqueeze(g, call):
    x = first(call)
    dim = call.arg(1, "dim") % (rank(x) + 1)
    bind(g, call, g.node("Unsqueeze", [value(g, x), axes_const(g, [dim])]))


@converts("aten::squeeze", "aten::squeeze_")
def _squeeze(g, call):
    x = first(call)
    dim = call.arg(1, "dim")
    axes = [d for d in (range(rank(x)) if dim is None else dims(x, dim)) if x.shape[d] == 1]
    bind(g, call, g.node("Squeeze", [value(g, x), axes_const(g, axes)]) if axes else
         g.node("Identity", [value(g, x)]))


@converts("aten::expand", "aten::broadcast_to", "aten::expand_as")
def _expand(g, call):
    x = first(call)
    if call.name == "aten::expand_as":
        target = call.args[1]
        bind(g, call, g.node("Expand", [value(g, x), g.node("Shape", [value(g, target)])]))
        return
    sizes = sizes_arg(call, "sizes" if call.name == "aten::expand" else "size")
    offset = len(sizes) - rank(x)
    sizes = [dim_of(g, x, i - offset) if s == -1 else s for i, s in enumerate(sizes)]
    bind(g, call, g.node("Expand", [value(g, x), g.ints(sizes)]))


@converts("aten::repeat")
def _repeat(g, call):
    x = first(call)
    reps = sizes_arg(call, "sizes")
    name = value(g, x)
    if len(reps) > rank(x):                     # leading dims of size 1
        name = g.node("Unsqueeze", [name, axes_const(g, list(range(len(reps) - rank(x))))])
    bind(g, call, g.node("Tile", [name, g.ints(reps)]))


@converts("aten::cat", "aten::concat", "aten::concatenate")
def _cat(g, call):
    tensors = [t for t in call.arg(0, "tensors") if not (rank(t) == 1 and t.shape[0] == 0)]
    dtype = np_dtype(call.out)
    dim = call.arg(1, "dim", 0) % rank(call.out)
    bind(g, call, g.node("Concat", [value(g, t, dtype) for t in tensors], axis=dim))


@converts("aten::stack")
def _stack(g, call):
    tensors = call.arg(0, "tensors")
    dim = call.arg(1, "dim", 0) % rank(call.out)
    dtype = np_dtype(call.out)
    parts = [g.node("Unsqueeze", [value(g, t, dtype), axes_const(g, [dim])]) for t in tensors]
    bind(g, call, g.node("Concat", parts, axis=dim))


def _split_outputs(g, call, x, sizes, dim):
    outs = call.out
    if len(outs) == 1:
        g.bind(outs[0], g.node("Identity", [value(g, x)]))
        return
    names = g.node("Split", [value(g, x), g.ints(sizes)], outputs=len(outs), axis=dim)
    for t, name in zip(outs, names):
        g.bind(t, name)


@converts("aten::split", "aten::split_with_sizes")
def _split(g, call):
    x = first(call)
    dim = call.arg(2, "dim", 0) % rank(x)
    _split_outputs(g, call, x, [t.shape[dim] for t in call.out], dim)


@converts("aten::chunk")
def _chunk(g, call):
    x = first(call)
    dim = call.arg(2, "dim", 0) % rank(x)
    _split_outputs(g, call, x, [t.shape[dim] for t in call.out], dim)


@converts("aten::unbind")
def _unbind(g, call):
    x = first(call)
    dim = call.arg(1, "dim", 0) % rank(x)
    for i, t in enumerate(call.out):
        g.bind(t, g.node("Gather", [value(g, x), g.scalar(i, numpy.int64)], axis=dim))


@converts("aten::narrow")
def _narrow(g, call):
    x, dim, start, length = first(call), call.arg(1, "dim"), call.arg(2, "start"), call.arg(3, "length")
    dim %= rank(x)
    bind(g, call, g.node("Slice", [value(g, x), g.ints([start]), g.ints([start + length]), axes_const(g, [dim])]))


@converts("aten::select")
def _select_method(g, call):
    x, dim, index = first(call), call.arg(1, "dim"), call.arg(2, "index")
    if isinstance(dim, int) and not isinstance(index, tuple):
        bind(g, call, g.node("Gather", [value(g, x), g.int_scalar(index)], axis=dim % rank(x)))
        return
    _getitem(g, call)


@converts("aten::slice", "aten::index")
def _getitem(g, call):
    x, index = call.args[0], call.args[1]
    parts = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(p, (Tensor, list)) for p in parts):
        tensors = [i for i, p in enumerate(parts) if isinstance(p, (Tensor, list))]
        rest = [p for p in parts if not isinstance(p, (Tensor, list))]
        if len(tensors) == 1 and all(p == slice(None) or p is Ellipsis for p in rest):
            axis = tensors[0] if Ellipsis not in parts[:tensors[0]] else \
                rank(x) - (len(parts) - tensors[0])
            ix = parts[tensors[0]]
            if isinstance(ix, list):
                from .. import tensor
                ix = tensor(ix)
            if ix.dtype.__repr__() == "ember.bool":
                raise UnsupportedOp(f"ember.onnx.export: indexing with a boolean mask (in {call.module}) has a "
                                    "data-dependent shape; use where() or masked_fill()")
            bind(g, call, g.node("Gather", [value(g, x), value(g, ix)], axis=axis))
            return
        raise UnsupportedOp(f"ember.onnx.export: advanced indexing {index!r} (in {call.module}): one index tensor "
                            "with full slices elsewhere is supported")
    # basic indexing: Ellipsis, None, ints, slices
    n_real = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        parts = parts[:at] + [slice(None)] * (rank(x) - n_real) + parts[at + 1:]
    parts += [slice(None)] * (rank(x) - sum(1 for p in parts if p is not None))
    name = value(g, x)
    starts, ends, axes, steps, gathers, news = [], [], [], [], [], []
    axis = 0
    out_axis = 0
    for p in parts:
        if p is None:
            news.append(out_axis)
            out_axis += 1
            continue
        if isinstance(p, slice):
            if p != slice(None):
                step = 1 if p.step is None else p.step
                start = p.start if p.start is not None else (0 if step > 0 else -1)
                stop = p.stop if p.stop is not None else (2 ** 62 if step > 0 else -2 ** 62)
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:
            gathers.append((axis, p))
        axis += 1
    if axes:
        name = g.node("Slice", [name, g.ints(starts), g.ints(ends), axes_const(g, axes), g.ints(steps)])
    for removed, (a, i) in enumerate(gathers):
        name = g.node("Gather", [name, g.int_scalar(i)], axis=a - removed)
    if news:
        name = g.node("Unsqueeze", [name, axes_const(g, news)])
    bind(g, call, name if name != g.name_of(x) else g.node("Identity", [name]))


# -- reductions -------------------------------------------------------------------------------------------------

def _reduce(onnx_op):
    def convert(g, call):
        x = first(call)
        dim, keepdim = call.arg(1, "dim"), bool(call.arg(2, "keepdim", False))
        dtype = np_dtype(call.out)
        name = value(g, x, dtype)
        if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
            out = g.node(onnx_op, [name], keepdims=0)
        else:
            out = g.node(onnx_op, [name, axes_const(g, dims(x, dim))], keepdims=int(keepdim))
        bind(g, call, out)
    return convert


converts("aten::sum")(_reduce("ReduceSum"))
converts("aten::mean")(_reduce("ReduceMean"))
converts("aten::amax")(_reduce("ReduceMax"))
converts("aten::amin")(_reduce("ReduceMin"))
converts("aten::prod")(_reduce("ReduceProd"))
converts("aten::logsumexp")(_reduce("ReduceLogSumExp"))


@converts("aten::max", "aten::min")
def _max(g, call):
    x = first(call)
    dim = call.arg(1, "dim")
    is_max = call.name == "aten::max"
    if isinstance(dim, Tensor):                      # max(a, b): elementwise
        dtype = np_dtype(call.out)
        bind(g, call, g.node("Max" if is_max else "Min", [value(g, x, dtype), value(g, dim, dtype)]))
        return
    if dim is None:
        g.bind(call.out, g.node("ReduceMax" if is_max else "ReduceMin", [value(g, x)], keepdims=0))
        return
    keepdim = int(bool(call.arg(2, "keepdim", False)))
    axis = dim % rank(x)
    values = g.node("ReduceMax" if is_max else "ReduceMin", [value(g, x), axes_const(g, [axis])], keepdims=keepdim)
    indices = g.node("ArgMax" if is_max else "ArgMin", [value(g, x)], axis=axis, keepdims=keepdim,
                     select_last_index=0)
    g.bind(call.out[0], values)
    g.bind(call.out[1], indices)


@converts("aten::argmax", "aten::argmin")
def _argmax(g, call):
    x = first(call)
    dim, keepdim = call.arg(1, "dim"), int(bool(call.arg(2, "keepdim", False)))
    op = "ArgMax" if call.name == "aten::argmax" else "ArgMin"
    name = value(g, x)
    if dim is None:
        name = g.node("Reshape", [name, g.ints([-1])])
        out = g.node(op, [name], axis=0, keepdims=0)
        if keepdim:
            out = g.node("Reshape", [out, g.ints([1] * rank(x))])
    else:
        out = g.node(op, [name], axis=dim % rank(x), keepdims=keepdim)
    bind(g, call, out)


@converts("aten::var", "aten::std")
def _var(g, call):
    x = first(call)
    b = call.bound() or {}
    dim, keepdim = b.get("dim"), int(bool(b.get("keepdim", False)))
    correction = b.get("correction")
    if correction is None:
        unbiased = b.get("unbiased")
        correction = 0 if unbiased is False else 1
    axes = dims(x, dim)
    dtype = np_dtype(call.out)
    name = value(g, x, dtype)
    mean = g.node("ReduceMean", [name, axes_const(g, axes)], keepdims=1)
    centred = g.node("Sub", [name, mean])
    total = g.node("ReduceSum", [g.node("Mul", [centred, centred]), axes_const(g, axes)], keepdims=keepdim)
    count = 1
    for a in axes:
        count = count * dim_of(g, x, a)
    var = g.node("Div", [total, g.node("Sub", [value(g, count, dtype), g.scalar(correction, dtype)])])
    bind(g, call, g.node("Sqrt", [var]) if call.name == "aten::std" else var)


@converts("aten::cumsum")
def _cumsum(g, call):
    x = first(call)
    dim = call.arg(1, "dim") % max(rank(x), 1)
    bind(g, call, g.node("CumSum", [value(g, x, np_dtype(call.out)), g.scalar(dim, numpy.int64)]))


@converts("aten::all", "aten::any")
def _all(g, call):
    x = first(call)
    dim, keepdim = call.arg(1, "dim"), int(bool(call.arg(2, "keepdim", False)))
    as_int = g.node("Cast", [value(g, x)], to=onnx_type("int32"))
    op = "ReduceMin" if call.name == "aten::all" else "ReduceMax"
    reduced = g.node(op, [as_int], keepdims=0) if dim is None else \
        g.node(op, [as_int, axes_const(g, dims(x, dim))], keepdims=keepdim)
    bind(g, call, g.node("Cast", [reduced], to=onnx_type("bool")))


# -- tensors made in forward (live only when their size is dynamic) ---------------------------------------------

def _fill(g, call, sizes, fill):
    dtype = np_dtype(call.out)
    from onnx import numpy_helper
    bind(g, call, g.node("ConstantOfShape", [g.ints(sizes)],
                         value=numpy_helper.from_array(numpy.array([fill], dtype=dtype))))


@converts("aten::zeros", "aten::ones", "aten::empty")
def _zeros(g, call):
    _fill(g, call, sizes_arg(call, "size", 0), 1 if call.name == "aten::ones" else 0)


@converts("aten::full")
def _full(g, call):
    size = call.arg(0, "size")
    _fill(g, call, list(size), call.arg(1, "fill_value"))


@converts("aten::zeros_like", "aten::ones_like", "aten::empty_like", "aten::full_like")
def _like(g, call):
    x = first(call)
    fill = {"aten::zeros_like": 0, "aten::ones_like": 1, "aten::empty_like": 0}.get(call.name)
    if fill is None:
        fill = call.arg(1, "fill_value")
    from onnx import numpy_helper
    bind(g, call, g.node("ConstantOfShape", [g.node("Shape", [value(g, x)])],
                         value=numpy_helper.from_array(numpy.array([fill], dtype=np_dtype(call.out)))))


@converts("aten::arange")
def _arange(g, call):
    start, end, step = call.arg(0, "start"), call.arg(1, "end"), call.arg(2, "step", 1)
    if end is None:
        start, end = 0, start
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Range", [value(g, start, dtype), value(g, end, dtype), value(g, step, dtype)]))


@converts("aten::tril", "aten::triu")
def _tril(g, call):
    x = first(call)
    k = call.arg(1, "diagonal", 0)
    bind(g, call, g.node("Trilu", [value(g, x), g.int_scalar(k)], upper=int(call.name == "aten::triu")))


from . import _sequence  # noqa: E402,F401
from . import _ops_more  # noqa: E402,F401
