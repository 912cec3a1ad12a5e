"""More converters (see ember/onnx/_symbolic.py for the helpers and the conventions): padding, resizing, pixel
shuffles, normalisations, shrinks, flips and rolls, gathers, sorting, the smaller arithmetic ops, vector norms,
and assignment into slices (x[:, 0] = y)."""
import math

import numpy

from .._tensor import Tensor
from ._graph import onnx_type
from ._symbolic import (_getitem, _tuple, axes_const, bind, dim_of, dims, first, np_dtype, rank, value)
from ._tracer import UnsupportedOp, converts

_BIG = 2 ** 62                     # "to the end" in Slice


def _slice(g, name, start, end, axis, step=None):
    inputs = [name, g.ints([start]), g.ints([end]), axes_const(g, [axis])]
    if step is not None:
        inputs.append(g.ints([step]))
    return g.node("Slice", inputs)


# -- padding ------------------------------------------------------------------------------------------------------

@converts("aten::pad")
def _pad(g, call):
    x, pad = call.arg(0, "input"), list(call.arg(1, "pad"))
    mode, fill = call.arg(2, "mode", "constant"), call.arg(3, "value")
    n = rank(x)
    if len(pad) % 2 or len(pad) // 2 > n:
        raise UnsupportedOp(f"ember.onnx.export: pad {pad} for a {n}-d input (in {call.module})")
    # F.pad lists (left, right) pairs from the last dim backwards; ONNX wants all begins, then all ends
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):
        begins[n - 1 - i], ends[n - 1 - i] = pad[2 * i], pad[2 * i + 1]
    name = value(g, x)
    if mode == "circular" and g.opset < 19:        # wrap padding is opset 19: slices of the other end instead
        for axis in range(n):
            left, right = begins[axis], ends[axis]
            if left < 0 or right < 0:
                raise UnsupportedOp(f"ember.onnx.export: circular pad with negative sizes (in {call.module})")
            parts = ([_slice(g, name, -left, _BIG, axis)] if left else []) + [name] + \
                ([_slice(g, name, 0, right, axis)] if right else [])
            if len(parts) > 1:
                name = g.node("Concat", parts, axis=axis)
        bind(g, call, name)
        return
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if onnx_mode is None:
        raise UnsupportedOp(f"ember.onnx.export: pad mode {mode!r} (in {call.module})")
    inputs = [name, g.ints(begins + ends)]
    if mode == "constant" and fill not in (None, 0):
        inputs.append(g.scalar(fill, np_dtype(x)))
    bind(g, call, g.node("Pad", inputs, mode=onnx_mode))


# -- resizing -----------------------------------------------------------------------------------------------------

_LINEAR = {"linear": "linear", "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}


@converts("aten::interpolate", "aten::upsample", "aten::upsample_nearest", "aten::upsample_bilinear")
def _interpolate(g, call):
    b = call.bound() or {}
    x, scale = b.get("input"), b.get("scale_factor")
    mode = {"aten::upsample_nearest": "nearest", "aten::upsample_bilinear": "bilinear"}.get(
        call.name, b.get("mode", "nearest"))
    align = True if call.name == "aten::upsample_bilinear" else bool(b.get("align_corners"))
    n = rank(x) - 2
    out_spatial = list(call.out._array.shape[2:])
    name = value(g, x)
    if mode == "area":                             # adaptive average pooling
        spatial = list(x._array.shape[2:])
        if any(s % o for s, o in zip(spatial, out_spatial)):
            raise UnsupportedOp(f"ember.onnx.export: interpolate(mode='area') from {spatial} to {out_spatial} (in "
                                f"{call.module}): ONNX pools with one kernel, which needs sizes that divide evenly")
        kernel = [s // o for s, o in zip(spatial, out_spatial)]
        bind(g, call, g.node("AveragePool", [name], kernel_shape=kernel, strides=kernel))
        return
    if mode in ("nearest", "nearest-exact"):
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric" if mode == "nearest" else
                     "half_pixel", nearest_mode="floor" if mode == "nearest" else "round_prefer_ceil")
    else:
        attrs = dict(mode=_LINEAR[mode], coordinate_transformation_mode="align_corners" if align else "half_pixel")
        if mode == "bicubic":
            attrs.update(cubic_coeff_a=-0.75, exclude_outside=0)
    if scale is not None and not b.get("recompute_scale_factor"):
        # PyTorch maps output index i to input position i / scale_factor: the scales input does the same
        scales = [float(s) for s in _tuple(scale, n)]
        inputs = [name, "", g.constant(numpy.array([1.0, 1.0] + scales, dtype=numpy.float32), "scales")]
    else:
        inputs = [name, "", "", g.ints([dim_of(g, x, 0), dim_of(g, x, 1)] + out_spatial)]
    bind(g, call, g.node("Resize", inputs, **attrs))


@converts("aten::pixel_shuffle", "aten::pixel_unshuffle")
def _pixel_shuffle(g, call):
    x = first(call)
    lead = rank(x) - 3
    c, h, w = x._array.shape[-3:]           # Reshape's 0s keep the leading (batch) dims as they are
    name = value(g, x)
    if call.name == "aten::pixel_shuffle":
        r = int(call.arg(1, "upscale_factor"))
        parts = g.node("Reshape", [name, g.ints([0] * lead + [c // (r * r), r, r, h, w])])
        perm = list(range(lead)) + [lead + i for i in (0, 3, 1, 4, 2)]       # (C, H, r, W, r)
        out = [c // (r * r), h * r, w * r]
    else:
        r = int(call.arg(1, "downscale_factor"))
        parts = g.node("Reshape", [name, g.ints([0] * lead + [c, h // r, r, w // r, r])])
        perm = list(range(lead)) + [lead + i for i in (0, 2, 4, 1, 3)]       # (C, r, r, H, W)
        out = [c * r * r, h // r, w // r]
    moved = g.node("Transpose", [parts], perm=perm)
    bind(g, call, g.node("Reshape", [moved, g.ints([0] * lead + out)]))


# -- normalisation ------------------------------------------------------------------------------------------------

def _vector_norm(g, name, ord_, axes, keepdim, dtype):
    """|x|_ord over `axes` (None: all) of the value `name`."""
    axes_in = [axes_const(g, axes)] if axes is not None else []
    keep = int(bool(keepdim))
    if ord_ in (2, 2.0, "fro", None):
        return g.node("ReduceL2", [name] + axes_in, keepdims=keep)
    if ord_ in (1, 1.0):
        return g.node("ReduceL1", [name] + axes_in, keepdims=keep)
    if ord_ == math.inf:
        return g.node("ReduceMax", [g.node("Abs", [name])] + axes_in, keepdims=keep)
    if ord_ == -math.inf:
        return g.node("ReduceMin", [g.node("Abs", [name])] + axes_in, keepdims=keep)
    if ord_ == 0:
        nonzero = g.node("Cast", [g.node("Not", [g.node("Equal", [name, g.scalar(0, dtype)])])],
                         to=onnx_type(numpy.dtype(dtype)))
        return g.node("ReduceSum", [nonzero] + axes_in, keepdims=keep)
    if isinstance(ord_, str):
        raise UnsupportedOp(f"ember.onnx.export: norm of order {ord_!r} (a matrix norm)")
    powered = g.node("Pow", [g.node("Abs", [name]), g.scalar(ord_, dtype)])
    return g.node("Pow", [g.node("ReduceSum", [powered] + axes_in, keepdims=keep), g.scalar(1.0 / ord_, dtype)])


@converts("aten::norm", "aten::linalg_vector_norm", "aten::linalg_norm")
def _norm(g, call):
    b = call.bound() or {}
    x = b.get("input", first(call))
    ord_ = b.get("ord") if "ord" in b else b.get("p", "fro")
    dim = b.get("dim")
    if call.name == "aten::linalg_norm" and (ord_ is not None and (dim is None and rank(x) == 2 or
                                                                   isinstance(dim, (list, tuple)) and len(dim) == 2)):
        if ord_ != "fro":
            raise UnsupportedOp(f"ember.onnx.export: linalg.norm with the matrix order {ord_!r} (in {call.module})")
    if isinstance(ord_, str) and ord_ != "fro":
        raise UnsupportedOp(f"ember.onnx.export: norm of order {ord_!r} (in {call.module}): a matrix norm")
    dtype = np_dtype(call.out)
    name = value(g, x, dtype)
    axes = None if dim is None else dims(x, dim)
    try:
        bind(g, call, _vector_norm(g, name, ord_, axes, b.get("keepdim", False), dtype))
    except UnsupportedOp as error:
        raise UnsupportedOp(f"{error} (in {call.module})") from None


@converts("aten::normalize")
def _normalize(g, call):
    b = call.bound()
    x, p, dim, eps = b["input"], b["p"], b["dim"], b["eps"]
    dtype = np_dtype(call.out)
    name = value(g, x)
    norm = _vector_norm(g, name, float(p), dims(x, dim), True, dtype)
    bind(g, call, g.node("Div", [name, g.node("Max", [norm, g.scalar(eps, dtype)])]))


@converts("aten::cosine_similarity")
def _cosine_similarity(g, call):
    b = call.bound()
    x1, x2, dim, eps = b["x1"], b["x2"], b["dim"], b["eps"]
    dtype = np_dtype(call.out)
    n = max(rank(x1), rank(x2))
    axes = [dim % n]
    a, c = value(g, x1, dtype), value(g, x2, dtype)
    n1 = g.node("Max", [_vector_norm(g, a, 2, axes, True, dtype), g.scalar(eps, dtype)])
    n2 = g.node("Max", [_vector_norm(g, c, 2, axes, True, dtype), g.scalar(eps, dtype)])
    product = g.node("Mul", [g.node("Div", [a, n1]), g.node("Div", [c, n2])])
    bind(g, call, g.node("ReduceSum", [product, axes_const(g, axes)], keepdims=0))


@converts("aten::instance_norm")
def _instance_norm(g, call):
    b = call.bound()
    x, eps = b["input"], float(b["eps"])
    channels = x._array.shape[1]
    dtype = np_dtype(x)
    weight = value(g, b["weight"]) if b["weight"] is not None else g.constant(numpy.ones(channels, dtype))
    bias = value(g, b["bias"]) if b["bias"] is not None else g.constant(numpy.zeros(channels, dtype))
    if not b["use_input_stats"]:                 # running statistics: a batch norm in eval mode
        if b["running_mean"] is None:
            raise UnsupportedOp(f"ember.onnx.export: instance_norm without input statistics nor running ones (in "
                                f"{call.module})")
        bind(g, call, g.node("BatchNormalization", [value(g, x), weight, bias, value(g, b["running_mean"]),
                                                    value(g, b["running_var"])], epsilon=eps))
        return
    bind(g, call, g.node("InstanceNormalization", [value(g, x), weight, bias], epsilon=eps))


@converts("aten::local_response_norm")
def _local_response_norm(g, call):
    b = call.bound()
    x, size, alpha, beta, k = b["input"], int(b["size"]), float(b["alpha"]), float(b["beta"]), float(b["k"])
    dtype = np_dtype(x)
    name = value(g, x)
    if size % 2:                                 # ONNX's LRN window is PyTorch's for odd sizes
        bind(g, call, g.node("LRN", [name], size=size, alpha=alpha, beta=beta, bias=k))
        return
    # even sizes: PyTorch's window over channels is [c - size // 2, c + (size - 1) // 2]
    square = g.node("Mul", [name, name])
    pads = [0] * rank(x) * 2
    pads[1], pads[rank(x) + 1] = size // 2, (size - 1) // 2
    padded = g.node("Pad", [square, g.ints(pads)], mode="constant")
    channels = x._array.shape[1]
    total = None
    for i in range(size):
        part = _slice(g, padded, i, i + channels, 1)
        total = part if total is None else g.node("Add", [total, part])
    scale = g.node("Add", [g.node("Mul", [total, g.scalar(alpha / size, dtype)]), g.scalar(k, dtype)])
    bind(g, call, g.node("Div", [name, g.node("Pow", [scale, g.scalar(beta, dtype)])]))


# -- activations ----------------------------------------------------------------------------------------------------

@converts("aten::glu")
def _glu(g, call):
    x = first(call)
    axis = call.arg(1, "dim", -1) % rank(x)
    half = x._array.shape[axis] // 2
    a, b = g.node("Split", [value(g, x), g.ints([half, half])], outputs=2, axis=axis)
    bind(g, call, g.node("Mul", [a, g.node("Sigmoid", [b])]))


@converts("aten::hardshrink", "aten::softshrink")
def _shrink(g, call):
    lambd = float(call.arg(1, "lambd", 0.5))
    bias = lambd if call.name == "aten::softshrink" else 0.0
    bind(g, call, g.node("Shrink", [value(g, first(call))], lambd=lambd, bias=bias))


@converts("aten::logit")
def _logit(g, call):
    x, eps = first(call), call.arg(1, "eps")
    dtype = np_dtype(call.out)
    name = value(g, x, dtype)
    if eps is not None:
        name = g.node("Clip", [name, g.scalar(eps, dtype), g.scalar(1 - eps, dtype)])
    bind(g, call, g.node("Log", [g.node("Div", [name, g.node("Sub", [g.scalar(1, dtype), name])])]))


# -- elementwise ----------------------------------------------------------------------------------------------------

@converts("aten::erfc")
def _erfc(g, call):
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Sub", [g.scalar(1, dtype), g.node("Erf", [value(g, first(call), dtype)])]))


@converts("aten::exp2")
def _exp2(g, call):
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Pow", [g.scalar(2, dtype), value(g, first(call), dtype)]))


@converts("aten::atan2", "aten::arctan2")
def _atan2(g, call):
    y, x = call.arg(0, "input"), call.arg(1, "other")
    dtype = np_dtype(call.out)
    y, x = value(g, y, dtype), value(g, x, dtype)
    zero, one = g.scalar(0, dtype), g.scalar(1, dtype)

    def negative(v):                             # v < 0 or v is -0.0 (1 / -0.0 is -inf)
        return g.node("Or", [g.node("Less", [v, zero]), g.node("Less", [g.node("Div", [one, v]), zero])])
    # atan2(|y|, x) in [0, pi], then y's sign (atan2's result always has it, -0.0 included: a multiplication
    # keeps the sign of a zero where onnxruntime's Where would not)
    ratio = g.node("Atan", [g.node("Div", [g.node("Abs", [y]), g.node("Abs", [x])])])
    angle = g.node("Where", [g.node("Equal", [y, zero]), zero, ratio])         # 0 / 0 is nan: y == 0 gives 0
    angle = g.node("Where", [negative(x), g.node("Sub", [g.scalar(math.pi, dtype), angle]), angle])
    sign = g.node("Where", [negative(y), g.scalar(-1, dtype), one])
    bind(g, call, g.node("Mul", [angle, sign]))


@converts("aten::lerp")
def _lerp(g, call):
    start, end, weight = call.arg(0, "input"), call.arg(1, "end"), call.arg(2, "weight")
    dtype = np_dtype(call.out)
    a, b, w = value(g, start, dtype), value(g, end, dtype), value(g, weight, dtype)
    diff = g.node("Sub", [b, a])
    # PyTorch's two-sided formula: exact at both ends
    low = g.node("Add", [a, g.node("Mul", [w, diff])])
    high = g.node("Sub", [b, g.node("Mul", [diff, g.node("Sub", [g.scalar(1, dtype), w])])])
    bind(g, call, g.node("Where", [g.node("Less", [g.node("Abs", [w]), g.scalar(0.5, dtype)]), low, high]))


@converts("aten::addcmul", "aten::addcdiv")
def _addc(g, call):
    x, t1, t2 = call.arg(0, "input"), call.arg(1, "tensor1"), call.arg(2, "tensor2")
    scale = call.arg(None, "value", 1)
    dtype = np_dtype(call.out)
    term = g.node("Mul" if call.name == "aten::addcmul" else "Div", [value(g, t1, dtype), value(g, t2, dtype)])
    if scale != 1:
        term = g.node("Mul", [term, g.scalar(scale, dtype)])
    bind(g, call, g.node("Add", [value(g, x, dtype), term]))


@converts("aten::baddbmm", "aten::addbmm")
def _baddbmm(g, call):
    x, b1, b2 = call.arg(0, "input"), call.arg(1, "batch1"), call.arg(2, "batch2")
    beta, alpha = call.arg(None, "beta", 1), call.arg(None, "alpha", 1)
    dtype = np_dtype(call.out)
    product = g.node("MatMul", [value(g, b1, dtype), value(g, b2, dtype)])
    if call.name == "aten::addbmm":
        product = g.node("ReduceSum", [product, axes_const(g, [0])], keepdims=0)
    if alpha != 1:
        product = g.node("Mul", [product, g.scalar(alpha, dtype)])
    if beta == 0:                                # PyTorch ignores input then (nan and inf in it too)
        bind(g, call, product)
        return
    term = value(g, x, dtype) if beta == 1 else g.node("Mul", [value(g, x, dtype), g.scalar(beta, dtype)])
    bind(g, call, g.node("Add", [term, product]))


@converts("aten::outer", "aten::ger")
def _outer(g, call):
    a, b = call.arg(0, "input"), call.arg(1, "vec2")
    dtype = np_dtype(call.out)
    bind(g, call, g.node("Mul", [g.node("Unsqueeze", [value(g, a, dtype), axes_const(g, [1])]),
                                 g.node("Unsqueeze", [value(g, b, dtype), axes_const(g, [0])])]))


# -- reordering, gathering, sorting -----------------------------------------------------------------------------------

@converts("aten::flip", "aten::fliplr", "aten::flipud")
def _flip(g, call):
    x = first(call)
    if call.name == "aten::fliplr":
        axes = [1]
    elif call.name == "aten::flipud":
        axes = [0]
    else:
        dims_ = call.args[1:] if len(call.args) > 1 else call.kwargs.get("dims")
        if len(dims_) == 1 and isinstance(dims_[0], (list, tuple)):
            dims_ = dims_[0]
        axes = dims(x, list(dims_))
    k = len(axes)
    bind(g, call, g.node("Slice", [value(g, x), g.ints([-1] * k), g.ints([-_BIG] * k), axes_const(g, axes),
                                   g.ints([-1] * k)]))


@converts("aten::roll")
def _roll(g, call):
    x, shifts, dims_ = call.arg(0, "input"), call.arg(1, "shifts"), call.arg(2, "dims")
    shifts = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    name = value(g, x)
    if dims_ is None or (isinstance(dims_, (list, tuple)) and not dims_):   # over the flattened tensor
        shape = g.node("Shape", [name])
        flat = g.node("Reshape", [name, g.ints([-1])])
        size = x._array.size
        shift = shifts[0] % size if size else 0
        if shift:
            flat = g.node("Concat", [_slice(g, flat, -shift, _BIG, 0), _slice(g, flat, 0, -shift, 0)], axis=0)
        bind(g, call, g.node("Reshape", [flat, shape]))
        return
    dims_ = list(dims_) if isinstance(dims_, (list, tuple)) else [dims_]
    for shift, axis in zip(shifts, dims(x, dims_)):
        size = x._array.shape[axis]
        shift = shift % size if size else 0
        if shift:                                # cat(x[-shift:], x[:-shift]); the negative ends follow the size
            name = g.node("Concat", [_slice(g, name, -shift, _BIG, axis), _slice(g, name, 0, -shift, axis)],
                          axis=axis)
    bind(g, call, name if name != g.name_of(x) else g.node("Identity", [name]))


@converts("aten::gather", "aten::take_along_dim")
def _gather(g, call):
    x = first(call)
    if call.name == "aten::take_along_dim":
        index, dim = call.arg(1, "indices"), call.arg(2, "dim")
        if dim is None:
            flat = g.node("Reshape", [value(g, x), g.ints([-1])])
            bind(g, call, g.node("GatherElements", [flat, g.node("Reshape", [value(g, index), g.ints([-1])])],
                                 axis=0))
            return
        if tuple(index._array.shape[:dim % rank(x)]) != tuple(x._array.shape[:dim % rank(x)]) or \
                rank(index) != rank(x):
            raise UnsupportedOp(f"ember.onnx.export: take_along_dim with broadcasting indices (in {call.module})")
    else:
        dim, index = call.arg(1, "dim"), call.arg(2, "index")
    bind(g, call, g.node("GatherElements", [value(g, x), value(g, index, numpy.int64)], axis=dim % rank(x)))


@converts("aten::index_select")
def _index_select(g, call):
    x, dim, index = call.arg(0, "input"), call.arg(1, "dim"), call.arg(2, "index")
    index = value(g, index, numpy.int64)
    if rank(call.arg(2, "index")) == 0:         # a 0-d index keeps the dim (of size 1)
        index = g.node("Reshape", [index, g.ints([1])])
    bind(g, call, g.node("Gather", [value(g, x), index], axis=dim % max(rank(x), 1)))


@converts("aten::one_hot")
def _one_hot(g, call):
    indices = call.arg(0, "tensor")
    depth = call.out._array.shape[-1]            # num_classes=-1 takes max + 1 of this trace's values
    values = g.constant(numpy.array([0, 1], dtype=numpy.int64), "one_hot_values")
    bind(g, call, g.node("OneHot", [value(g, indices), g.scalar(depth, numpy.int64), values], axis=-1))


@converts("aten::topk")
def _topk(g, call):
    x, k = call.arg(0, "input"), call.arg(1, "k")
    axis = call.arg(2, "dim", -1) % max(rank(x), 1)
    largest = int(bool(call.arg(3, "largest", True)))
    values, indices = g.node("TopK", [value(g, x), g.ints([k])], outputs=2, axis=axis, largest=largest, sorted=1)
    g.bind(call.out[0], values)
    g.bind(call.out[1], indices)


@converts("aten::sort", "aten::argsort", "aten::msort")
def _sort(g, call):
    x = first(call)
    if call.name == "aten::msort":
        axis, descending = 0, False
    else:
        axis, descending = call.arg(1, "dim", -1), call.arg(2, "descending", False)
        if isinstance(axis, bool):              # sort(x, descending) is not PyTorch's order of arguments
            axis, descending = -1, axis
    axis %= max(rank(x), 1)
    values, indices = g.node("TopK", [value(g, x), g.ints([dim_of(g, x, axis)])], outputs=2, axis=axis,
                             largest=int(bool(descending)), sorted=1)
    if call.name == "aten::sort":
        g.bind(call.out[0], values)
        g.bind(call.out[1], indices)
    else:
        bind(g, call, indices if call.name == "aten::argsort" else values)


# -- shapes ------------------------------------------------------------------------------------------------------------

@converts("aten::new_zeros", "aten::new_ones", "aten::new_empty", "aten::new_full")
def _new_filled(g, call):
    """x.new_zeros(size) and friends: live only when the size follows a dynamic dimension."""
    from onnx import numpy_helper
    size = list(call.arg(1, "size"))
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = list(size[0])
    fill = {"aten::new_zeros": 0, "aten::new_ones": 1, "aten::new_empty": 0}.get(call.name)
    if fill is None:
        fill = call.arg(2, "fill_value")
    bind(g, call, g.node("ConstantOfShape", [g.ints(size)],
                         value=numpy_helper.from_array(numpy.array([fill], dtype=np_dtype(call.out)))))


@converts("aten::unflatten")
def _unflatten(g, call):
    x, dim, sizes = call.arg(0, "input"), call.arg(1, "dim"), list(call.arg(2, "sizes"))
    n = rank(x)
    dim %= n
    shape = [0] * dim + sizes + [dim_of(g, x, i) for i in range(dim + 1, n)]
    bind(g, call, g.node("Reshape", [value(g, x), g.ints(shape)]))


# -- assignment into a slice: x[index] = value ----------------------------------------------------------------------

@converts("aten::copy_", "aten::fill_", "aten::index_put_", "aten::index_put")
def _setitem(g, call):
    """x[index] = v (and x.copy_(v), x.fill_(v), x.index_put_(indices, v, accumulate)): the flat positions the
    index selects are found by indexing an arange of x's shape with the same index; ScatterElements writes v
    (broadcast to the selection) there, or adds it (accumulate)."""
    x = call.args[0]
    dtype = np_dtype(x)
    accumulate = False
    if getattr(call.fn, "__name__", "") == "__setitem__":
        index, new = call.args[1], call.args[2]
    elif call.name in ("aten::index_put_", "aten::index_put"):
        index, new = tuple(call.arg(1, "indices")), call.arg(2, "values")
        accumulate = bool(call.arg(3, "accumulate", False))
    else:                                        # x.copy_(v) / x.fill_(v): all of x
        source = call.arg(1, "src" if call.name == "aten::copy_" else "value")
        shape = g.node("Shape", [value(g, x)])
        bind(g, call, g.node("Expand", [value(g, source, dtype), shape]))
        return
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and isinstance(parts[0], Tensor) and parts[0].dtype.__repr__() == "ember.bool" and \
            rank(parts[0]) == rank(x) and (not isinstance(new, Tensor) or new.numel() == 1) and not accumulate:
        # x[mask] = scalar: a Where (the mask has the data-dependent count, the result has x's shape)
        fill = value(g, new, dtype) if not isinstance(new, Tensor) else \
            g.node("Reshape", [value(g, new, dtype), g.ints([])])
        bind(g, call, g.node("Where", [value(g, parts[0]), fill, value(g, x)]))
        return
    name = value(g, x)
    shape = g.node("Shape", [name])
    count = g.node("ReduceProd", [shape], keepdims=1)
    positions = g.node("Reshape", [g.node("Range", [g.scalar(0, numpy.int64), g.node("Squeeze", [count]),
                                                    g.scalar(1, numpy.int64)]), shape])

    class _Index:                                # x[index] traced again, on the positions instead of x
        args, module, name = (x, index), call.module, "aten::index"

    saved = g.names[id(x)]
    g.names[id(x)] = positions
    holder = _Index()
    holder.out = object()                        # a stand-in the converter binds a name to
    try:
        _getitem(g, holder)
    finally:
        g.names[id(x)] = saved
    selected = g.names[id(holder.out)]
    flat_positions = g.node("Reshape", [selected, g.ints([-1])])
    updates = g.node("Reshape", [g.node("Expand", [value(g, new, dtype), g.node("Shape", [selected])]),
                                 g.ints([-1])])
    flat = g.node("Reshape", [name, g.ints([-1])])
    written = g.node("ScatterElements", [flat, flat_positions, updates], axis=0,
                     reduction="add" if accumulate else None)
    bind(g, call, g.node("Reshape", [written, shape]))

