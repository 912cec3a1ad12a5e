"""Convolutions: im2col (Unfold) and col2im (Fold) are the primitives; a convolution is one matmul between, a
transposed one a matmul then Fold (Note [fused convolution]: each is one node, as PyTorch's, whose plain backward
works on arrays).

Note [window geometry]: every windowed op (conv, fold, pooling) works on a *canvas*: the input's
last `len(kernel)` dims padded by `padding = ((lo, hi), ...)`. `hi` may be negative (the tail of
the input that no window reaches is cut off, as in floor-mode pooling and output_padding). Window
`j` along a dim starts at `j * stride` and its taps sit `dilation` apart. A strided view of the
canvas with shape (*lead, *kernel, *out) exposes all windows without copying; reshaping it makes
the im2col matrix in one copy, and the backward adds columns back with one strided add per
kernel offset (prod(kernel) iterations, never a loop over pixels or batch).
"""
import itertools
import math

from .. import _memory_format as _mf
from .._tensor import Tensor, _make
from ..amp._dispatch import AUTOCAST, autocast_run
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._registry import export
from .linear import _product

__all__ = []


# --- geometry helpers (shared with pooling) ----------------------------------------------------------

def expand_arg(value, n, name, op="conv"):
    """An int or a sequence as an n-tuple of ints (PyTorch's _ntuple), with a clear error."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of {n} values "
                               f"to match the convolution dimensions, but got {name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def out_size(canvas, kernel, stride, dilation):
    """Number of windows along each dim of a canvas."""
    return tuple((c - d * (k - 1) - 1) // s + 1 for c, k, s, d in zip(canvas, kernel, stride, dilation))


def pad_canvas(xp, x, padding, value=0):
    """x with its last len(padding) dims padded by (lo, hi) pairs (negative entries crop)."""
    nd = len(padding)
    lead = x.ndim - nd
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        crop = tuple(slice(max(-lo, 0), s - max(-hi, 0)) for (lo, hi), s in zip(padding, x.shape[lead:]))
        x = x[(Ellipsis,) + crop]
        padding = tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding)
    if not any(lo or hi for lo, hi in padding):
        return x
    shape = x.shape[:lead] + tuple(s + lo + hi for (lo, hi), s in zip(padding, x.shape[lead:]))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for (lo, _), s in zip(padding, x.shape[lead:]))] = x
    return out


def window_view(xp, canvas, kernel, stride, dilation, out):
    """(*lead, *kernel, *out) strided view of all windows of a canvas (no copy)."""
    nd = len(kernel)
    lead = canvas.ndim - nd
    strides = canvas.strides[lead:]
    return xp.lib.stride_tricks.as_strided(
        canvas, canvas.shape[:lead] + tuple(kernel) + tuple(out),
        canvas.strides[:lead] + tuple(st * d for st, d in zip(strides, dilation))
        + tuple(st * s for st, s in zip(strides, stride)))


def window_at(offset, stride, dilation, out):
    """Index of the canvas elements that kernel tap `offset` reads in every window."""
    return (Ellipsis,) + tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                               for o, s, d, n in zip(offset, stride, dilation, out))


def offsets(kernel):
    return itertools.product(*[range(k) for k in kernel])


def new_canvas(xp, lead_shape, spatial, padding, dtype):
    """Zeros large enough for both the canvas and the (uncropped) input; see crop_canvas."""
    extent = tuple(lo + s + max(hi, 0) for (lo, hi), s in zip(padding, spatial))
    return xp.zeros(tuple(lead_shape) + extent, dtype=dtype)


def crop_canvas(xp, canvas, spatial, padding):
    """The input-sized region of a canvas made by new_canvas, contiguous."""
    if not any(padding_pair != (0, 0) for padding_pair in padding) and canvas.shape[-len(spatial):] == spatial:
        return canvas
    region = canvas[(Ellipsis,) + tuple(slice(lo, lo + s) for (lo, _), s in zip(padding, spatial))]
    return xp.ascontiguousarray(region)


def canvas_size(spatial, padding):
    return tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))


# --- primitives ---------------------------------------------------------------------------------------

class Unfold(Op):
    """im2col: (N, C, *spatial) -> (C * prod(kernel), N * L) columns of every window of the padded input.

    Channels-first columns (rather than F.unfold's (N, C*K, L)) make a convolution ONE matrix
    product for the whole batch: weight (C_out, C*K) @ columns (C*K, N*L). With a 2-core BLAS
    shared by other processes, one large GEMM beats N small ones by far (each call synchronises
    the BLAS threads).
    """
    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, input, kernel_size, dilation, padding, stride):
        xp = ctx.xp
        ctx.geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
        ctx.spatial = input.shape[2:]
        nd = len(kernel_size)
        canvas = pad_canvas(xp, input, padding)
        out = out_size(canvas.shape[2:], kernel_size, stride, dilation)
        windows = window_view(xp, canvas, kernel_size, stride, dilation, out)   # (N, C, *K, *O)
        order = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
        cols = windows.transpose(order).reshape(input.shape[1] * math.prod(kernel_size),
                                                input.shape[0] * math.prod(out))
        if xp.may_share_memory(cols, input):        # a 1x1 kernel can come back as a view: never alias
            cols = cols.copy()
        return cols

    @staticmethod
    def backward(ctx, grad):
        return Fold.apply(grad, output_size=ctx.spatial, **ctx.geometry)


class Fold(Op):
    """col2im: (C * prod(kernel), N * L) columns summed into (N, C, *output_size); Unfold's adjoint."""
    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, input, output_size, kernel_size, dilation, padding, stride, memory_format=None):
        xp = ctx.xp
        ctx.geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
        return _fold(xp, input, output_size, kernel_size, dilation, padding, stride, memory_format)

    @staticmethod
    def backward(ctx, grad):
        return Unfold.apply(grad, **ctx.geometry)


def _fold(xp, input, output_size, kernel_size, dilation, padding, stride, memory_format=None):
    """Fold on arrays: (C * prod(kernel), N * L) columns summed into a new (N, C, *output_size) array."""
    nd = len(kernel_size)
    out = out_size(canvas_size(output_size, padding), kernel_size, stride, dilation)
    channels = input.shape[0] // math.prod(kernel_size)
    n = input.shape[1] // math.prod(out)
    cols = input.reshape((channels,) + tuple(kernel_size) + (n,) + out)
    # Sum on a (C, N, *spatial) canvas so every add reads its columns contiguously; one
    # input-sized transpose at the end is far cheaper than prod(kernel) transposed reads.
    canvas = new_canvas(xp, (channels, n), output_size, padding, input.dtype)
    for offset in offsets(kernel_size):           # prod(kernel) strided adds
        target = canvas[window_at(offset, stride, dilation, out)]
        target += cols[(slice(None),) + offset]
    region = canvas[(Ellipsis,) + tuple(slice(lo, lo + s) for (lo, _), s in zip(padding, output_size))]
    region = region.transpose((1, 0) + tuple(range(2, 2 + nd)))
    if memory_format is not None:              # a transposed convolution's channels-last output
        return _mf.as_format(region, memory_format, xp)
    return xp.ascontiguousarray(region)


class Convolution(Op):
    """A whole convolution (groups included) as one node, PyTorch's ConvolutionBackward0: it saves the input and
    the weight, and its edges lead to the input, the weight and the bias.

    Note [fused convolution]: forward builds the im2col columns of the input (Unfold's layout, (C*K, N*L)) in a
    scratch buffer (Note [scratch buffers]), makes the product with the flattened weight and lays the result out
    as (N, C_out, *out) with the bias, in one pass. The columns are not kept: a plain backward
    (Note [plain backward]) builds them again for the weight's gradient (one copy, cheaper than holding C*K/C times
    the input's memory from forward to backward, and faulting it in again), and the column gradient weight^T @ grad
    in another scratch buffer, summed into the input's canvas tap by tap (Fold's sums). With create_graph the same
    formulas run as differentiable ops (Unfold, matmul, Fold), so higher-order gradients go through."""
    node_name = "ConvolutionBackward0"
    scalar_operand_edge = True           # no bias: (None, 0) among next_functions, as PyTorch's

    @staticmethod
    def forward(ctx, input, weight, bias, geometry, groups, out_shape, memory_format=None):
        ctx.save_for_backward(input, weight)
        ctx.geometry, ctx.groups, ctx.out_shape = geometry, groups, out_shape
        ctx.bias_sizes = (0,) if bias is None else bias.shape     # PyTorch's _saved_bias_sym_sizes_opt
        cols = _columns(ctx, input, geometry, 0)
        out_channels = weight.shape[0]
        output = _grouped_product(ctx, weight.reshape(groups, out_channels // groups, -1),
                                  cols.reshape(groups, -1, cols.shape[-1]), 1)
        return _lay_out(ctx.xp, output, bias, out_shape, memory_format)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        if _State.grad_enabled or grad.__class__ is not Tensor:
            return _convolution_backward_graph(ctx, grad, input, weight)
        needs = ctx.needs_input_grad
        device = grad._device
        g = grad._array
        groups = ctx.groups
        out_channels, n = weight.shape[0], g.shape[0]
        g2 = ctx.xp.ascontiguousarray(g.swapaxes(0, 1)).reshape(out_channels, -1)     # (C_out, N*L)
        grad_input = grad_weight = grad_bias = None
        if needs[1]:
            cols = _columns(ctx, input._array, ctx.geometry, 0)
            gw = _products_transposed(ctx, g2.reshape(groups, out_channels // groups, -1),
                                      cols.reshape(groups, -1, cols.shape[-1]))
            grad_weight = _make(gw.reshape(weight.shape), device)
        if needs[0]:
            grad_input = _make(_input_gradient(ctx, g2, weight._array, input._array, n), device)
        if needs[2]:
            grad_bias = grad.sum((0,) + tuple(range(2, g.ndim)))
        return grad_input, grad_weight, grad_bias


class TransposedConvolution(Op):
    """A whole transposed convolution as one node, PyTorch's ConvolutionBackward0 with transposed=True
    (Note [fused convolution]): the input as (C_in, N*L) rows, the product weight^T @ rows as columns (C_out*K, N*L), both in
    scratch buffers, folded into the output with the bias. Its plain backward is a convolution of the output
    gradient: Unfold's columns of it (scratch), weight @ columns for the input, rows @ columns^T for the weight."""
    node_name = "ConvolutionBackward0"
    scalar_operand_edge = True

    @staticmethod
    def forward(ctx, input, weight, bias, geometry, groups, spatial, padding, output_padding, memory_format=None):
        ctx.save_for_backward(input, weight)
        ctx.geometry, ctx.groups, ctx.spatial = geometry, groups, spatial
        ctx.padding, ctx.output_padding = padding, output_padding
        ctx.bias_sizes = (0,) if bias is None else bias.shape
        kernel, stride, dilation, fold_pads = geometry
        rows = _rows(ctx, input, 0)
        w = weight.reshape(groups, weight.shape[0] // groups, -1).swapaxes(1, 2)   # (G, C_out*K/G, C_in/G)
        cols = _grouped_product(ctx, w, rows.reshape(groups, w.shape[2], -1), 1)
        out = _fold(ctx.xp, cols, spatial, kernel, dilation, fold_pads, stride, memory_format)
        if bias is not None:
            out += bias.reshape((-1,) + (1,) * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        if _State.grad_enabled or grad.__class__ is not Tensor:
            return _transposed_backward_graph(ctx, grad, input, weight)
        needs = ctx.needs_input_grad
        device = grad._device
        groups = ctx.groups
        x = input._array
        channels = x.shape[1]
        cols = _columns(ctx, grad._array, ctx.geometry, 0)                           # (C_out*K, N*L)
        cols3 = cols.reshape(groups, -1, cols.shape[-1])
        grad_input = grad_weight = grad_bias = None
        if needs[0]:
            w = weight._array.reshape(groups, channels // groups, -1)                  # (G, C_in/G, C_out*K/G)
            gi = _grouped_product(ctx, w, cols3, 1)
            grad_input = _make(_lay_out(ctx.xp, gi, None, x.shape), device)
        if needs[1]:
            rows = _rows(ctx, x, 1).reshape(groups, channels // groups, -1)
            grad_weight = _make(_products_transposed(ctx, rows, cols3).reshape(weight.shape), device)
        if needs[2]:
            grad_bias = grad.sum((0,) + tuple(range(2, grad._array.ndim)))
        return grad_input, grad_weight, grad_bias


def _rows(ctx, input, slot):
    """An (N, C, *spatial) array as (C, N*L) rows, in scratch buffer `slot`."""
    n, channels = input.shape[0], input.shape[1]
    rows = ctx.backend.scratch((channels, n) + tuple(input.shape[2:]), input.dtype, slot)
    rows[...] = input.swapaxes(0, 1)
    return rows.reshape(channels, -1)


def _transposed_backward_graph(ctx, grad, input, weight):
    """TransposedConvolution.backward as differentiable ops (create_graph): the same formulas."""
    kernel, stride, dilation, fold_pads = ctx.geometry
    groups = ctx.groups
    needs = ctx.needs_input_grad
    n, channels = input.shape[0], input.shape[1]
    cols = unfold_columns(grad, kernel, dilation, fold_pads, stride).reshape(groups, -1, n * math.prod(
        input.shape[2:]))
    grad_input = grad_weight = grad_bias = None
    if needs[0]:
        gi = (weight.reshape(groups, channels // groups, -1) @ cols).reshape(channels, n, *input.shape[2:])
        grad_input = gi.transpose(0, 1)
    if needs[1]:
        rows = input.transpose(0, 1).reshape(groups, channels // groups, -1)
        grad_weight = (rows @ cols.mT).reshape(weight.shape)
    if needs[2]:
        grad_bias = grad.sum((0,) + tuple(range(2, grad.ndim)))
    return grad_input, grad_weight, grad_bias


def _columns(ctx, input, geometry, slot):
    """Unfold's (C*K, N*L) columns of an input array, in the backend's scratch buffer `slot`."""
    kernel, stride, dilation, padding = geometry
    xp = ctx.xp
    nd = len(kernel)
    canvas = pad_canvas(xp, input, padding)
    out = out_size(canvas.shape[2:], kernel, stride, dilation)
    windows = window_view(xp, canvas, kernel, stride, dilation, out)               # (N, C, *K, *O)
    cols = ctx.backend.scratch((input.shape[1],) + tuple(kernel) + (input.shape[0],) + out, input.dtype, slot)
    cols[...] = windows.transpose((1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd)))
    return cols.reshape(input.shape[1] * math.prod(kernel), input.shape[0] * math.prod(out))


def _input_gradient(ctx, g2, weight, input, n):
    """The input's gradient from the (C_out, N*L) output gradient: the column gradient weight^T @ g2, (C*K, N*L),
    in scratch buffer 1 for the BLAS dtypes, folded into (N, C, *spatial)."""
    kernel, stride, dilation, padding = ctx.geometry
    groups, out_channels = ctx.groups, weight.shape[0]
    w = weight.reshape(groups, out_channels // groups, -1).swapaxes(1, 2)       # (groups, C*K/groups, C_out/groups)
    cols = _grouped_product(ctx, w, g2.reshape(groups, out_channels // groups, -1), 1)
    return _fold(ctx.xp, cols, input.shape[2:], kernel, dilation, padding, stride)


def _products_transposed(ctx, a, b):
    """a @ b^T per group, (groups, m, L) and (groups, k, L) to (groups, m, k) (a weight's gradient); one 2-d
    product for one group."""
    return _product(ctx, a[0], b[0].T)[None] if a.shape[0] == 1 else _product(ctx, a, b.swapaxes(1, 2))


def _grouped_product(ctx, a, b, slot):
    """(groups, m, k) @ (groups, k, n) as a (groups * m, n) array: in scratch buffer `slot` for the BLAS dtypes,
    2-d for one group."""
    if b.dtype.kind in "fc" and b.dtype.itemsize >= 4:
        into = ctx.backend.scratch((a.shape[0], a.shape[1], b.shape[2]), b.dtype, slot)
        out = ctx.backend.matmul(a[0], b[0], into[0]) if a.shape[0] == 1 else ctx.backend.matmul(a, b, into)
    else:
        out = _product(ctx, a[0], b[0]) if a.shape[0] == 1 else _product(ctx, a, b)
    return out.reshape(-1, b.shape[2])


def _convolution_backward_graph(ctx, grad, input, weight):
    """Convolution.backward as differentiable ops (create_graph): Unfold, matmul and Fold, the same formulas."""
    kernel, stride, dilation, padding = ctx.geometry
    groups = ctx.groups
    needs = ctx.needs_input_grad
    out_channels = weight.shape[0]
    g2 = grad.transpose(0, 1).reshape(out_channels, -1)
    grad_input = grad_weight = grad_bias = None
    if needs[1]:
        cols = unfold_columns(input, kernel, dilation, padding, stride)
        if groups == 1:
            grad_weight = (g2 @ cols.mT).reshape(weight.shape)
        else:
            grad_weight = (g2.reshape(groups, out_channels // groups, -1) @
                           cols.reshape(groups, -1, cols.shape[-1]).mT).reshape(weight.shape)
    if needs[0]:
        if groups == 1:
            grad_cols = weight.reshape(out_channels, -1).mT @ g2
        else:
            grad_cols = (weight.reshape(groups, out_channels // groups, -1).mT @
                         g2.reshape(groups, out_channels // groups, -1)).reshape(-1, g2.shape[-1])
        grad_input = fold_columns(grad_cols, input.shape[2:], kernel, dilation, padding, stride)
    if needs[2]:
        grad_bias = grad.sum((0,) + tuple(range(2, grad.ndim)))
    return grad_input, grad_weight, grad_bias


def _lay_out(xp, output, bias, out_shape, memory_format=None):
    """A (C_out, N*L) product (a scratch buffer: always copied) as a new (N, C_out, *out) array (or channels last),
    plus the bias, in one pass."""
    n, channels = out_shape[0], out_shape[1]
    moved = output.reshape((channels, n) + tuple(out_shape[2:])).swapaxes(0, 1)
    result = xp.empty(out_shape, dtype=output.dtype) if memory_format is None else \
        _mf.empty(out_shape, output.dtype, xp, memory_format)
    if bias is None:
        result[...] = moved
        return result
    return xp.add(moved, bias.reshape((channels,) + (1,) * (len(out_shape) - 2)), out=result)


def unfold_columns(input, kernel_size, dilation, padding, stride):
    """Unfold with geometry tuples (padding as (lo, hi) pairs): (C*K, N*L) columns."""
    return Unfold.apply(input, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold_columns(input, output_size, kernel_size, dilation, padding, stride):
    """Fold of (C*K, N*L) columns into (N, C, *output_size)."""
    return Fold.apply(input, output_size=tuple(output_size), kernel_size=kernel_size, dilation=dilation,
                      padding=padding, stride=stride)


# --- convolutions ---------------------------------------------------------------------------------------

def _fmt(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _batched(name, input, nd):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
                           f"input of size: {_fmt(input.shape)}")
    return input, False


def _check_dtypes(input, weight, bias):
    """PyTorch's CPU messages (its dtype names: ScalarType for the weight, C types for the bias)."""
    from .. import _dtype as _dt
    from .arithmetic import _TYPE_META
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                           f"{_dt.scalar_type_name(weight.dtype)}")
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({_TYPE_META[input.dtype.name]}) and bias type ({_TYPE_META[bias.dtype.name]}) "
                           "should be the same")


def conv_padding(name, padding, kernel, stride, dilation):
    """Padding argument ('valid', 'same', int, tuple) as (lo, hi) pairs."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")   # (the modules: ValueError)
        pairs = []
        for k, d in zip(kernel, dilation):         # PyTorch puts the odd extra element on the high side
            total = d * (k - 1)
            pairs.append((total // 2, total - total // 2))
        return tuple(pairs)
    pads = expand_arg(padding, nd, "padding", name)
    if any(p < 0 for p in pads):
        raise RuntimeError(f"{name}: negative padding is not supported (padding={list(pads)})")
    return tuple((p, p) for p in pads)


def convolution(name, input, weight, bias, stride, padding, dilation, groups, nd):
    """N-d convolution (cross-correlation): Unfold, then one matmul with the flattened weight."""
    if name in AUTOCAST:
        return autocast_run(name, convolution, name, input, weight, bias, stride, padding, dilation, groups, nd)
    input, unbatched = _batched(name, input, nd)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected weight to be {nd + 2}-dimensional (out_channels, in_channels/groups"
                           f", *kernel), but got weight of size {_fmt(weight.shape)}")
    if groups < 1:
        raise RuntimeError("non-positive groups is not supported")
    kernel = tuple(weight.shape[2:])
    stride = expand_arg(stride, nd, "stride", name)
    dilation = expand_arg(dilation, nd, "dilation", name)
    if any(s < 1 for s in stride):
        raise RuntimeError(f"{name}: non-positive stride is not supported (stride={list(stride)})")
    pads = conv_padding(name, padding, kernel, stride, dilation)
    n, channels = input.shape[0], input.shape[1]
    out_channels = weight.shape[0]
    if weight.shape[1] * groups != channels:
        raise RuntimeError(f"Given groups={groups}, weight of size {_fmt(weight.shape)}, expected "
                           f"input{_fmt(input.shape)} to have {weight.shape[1] * groups} channels, but got "
                           f"{channels} channels instead")
    if out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {_fmt(weight.shape)} instead")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given weight of size {_fmt(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {_fmt(bias.shape)} instead")
    _check_dtypes(input, weight, bias)
    canvas = canvas_size(input.shape[2:], pads)
    if any(c < d * (k - 1) + 1 for c, k, d in zip(canvas, kernel, dilation)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, canvas))}). Kernel "
                           f"size: ({' x '.join(str(d * (k - 1) + 1) for k, d in zip(kernel, dilation))}). "
                           "Kernel size can't be greater than actual input size")
    out = out_size(canvas, kernel, stride, dilation)
    output = Convolution.apply(input, weight, bias, geometry=(kernel, stride, dilation, pads), groups=groups,
                               out_shape=(n, out_channels) + out, memory_format=_conv_format(input, weight, nd))
    return output.squeeze(0) if unbatched else output


def _conv_format(input, weight, nd):
    """The channels-last format of a 2-d (3-d) convolution's output when PyTorch's CPU kernels make it: the
    input's or the weight's strides suggest it (Note [memory formats]); None for contiguous. PyTorch's 3-d
    channels-last kernels (oneDNN's) take float32 and bfloat16 only: float64 and float16 come out contiguous."""
    if nd == 1 or input._array.flags.c_contiguous and weight._array.flags.c_contiguous:
        return None
    if nd == 3 and input._array.dtype.name not in ("float32", "bfloat16"):
        return None
    for t in (input, weight):
        fmt = _mf.suggest(t._array)
        if fmt is not _mf.contiguous_format:
            return fmt
    return None


def transposed_convolution(name, input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    """N-d transposed convolution: one matmul with the weight, then Fold (the adjoint of convolution)."""
    if name in AUTOCAST:
        return autocast_run(name, transposed_convolution, name, input, weight, bias, stride, padding,
                            output_padding, groups, dilation, nd)
    input, unbatched = _batched(name, input, nd)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected weight to be {nd + 2}-dimensional (in_channels, out_channels/"
                           f"groups, *kernel), but got weight of size {_fmt(weight.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = expand_arg(stride, nd, "stride", name)
    dilation = expand_arg(dilation, nd, "dilation", name)
    pads = expand_arg(padding, nd, "padding", name)
    extra = expand_arg(output_padding, nd, "output_padding", name)
    channels = input.shape[1]
    if weight.shape[0] != channels:
        raise RuntimeError(f"Given transposed=1, weight of size {_fmt(weight.shape)}, expected "
                           f"input{_fmt(input.shape)} to have {weight.shape[0]} channels, but got {channels} "
                           "channels instead")
    if channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {_fmt(weight.shape)} instead")
    for e, s, d in zip(extra, stride, dilation):
        if e >= s and e >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(extra)}, stride={list(stride)}, dilation={list(dilation)}")
    _check_dtypes(input, weight, bias)
    spatial = tuple((i - 1) * s - 2 * p + d * (k - 1) + e + 1
                    for i, s, p, d, k, e in zip(input.shape[2:], stride, pads, dilation, kernel, extra))
    if any(s <= 0 for s in spatial):
        raise RuntimeError(f"{name}: the computed output size {list(spatial)} is too small")
    # The windows cover (in - 1) * stride + span elements; output_padding adds uncovered ones at the end.
    fold_pads = tuple((p, p - e) for p, e in zip(pads, extra))
    output = TransposedConvolution.apply(input, weight, bias, geometry=(kernel, stride, dilation, fold_pads),
                                         groups=groups, spatial=tuple(spatial), padding=pads, output_padding=extra,
                                         memory_format=_conv_format(input, weight, nd))
    return output.squeeze(0) if unbatched else output


@export(method=False)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over (N, C, L) inputs."""
    return convolution("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


@export(method=False)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution over (N, C, H, W) inputs: im2col + one matmul."""
    return convolution("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


@export(method=False)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution over (N, C, D, H, W) inputs."""
    return convolution("conv3d", input, weight, bias, stride, padding, dilation, groups, 3)


@export(method=False)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution (the gradient of conv1d with respect to its input)."""
    return transposed_convolution("conv_transpose1d", input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 1)


@export(method=False)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution."""
    return transposed_convolution("conv_transpose2d", input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 2)


@export(method=False)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution."""
    return transposed_convolution("conv_transpose3d", input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 3)


# --- constant padding --------------------------------------------------------------------------------------

class ConstantPadNd(Op):
    """Pad (or crop, for negative entries) the last len(padding) dims with a constant."""
    @staticmethod
    def forward(ctx, input, padding, value):
        ctx.padding = padding
        out = pad_canvas(ctx.xp, input, padding, value)
        if out is input or not any(lo > 0 or hi > 0 for lo, hi in padding):
            return out.copy(order="K")            # (a crop keeps the input's layout, as PyTorch's clone)
        return _mf.keep_format(out, input)        # see Note [memory formats]; a channels-last input's layout

    @staticmethod
    def backward(ctx, grad):
        return ConstantPadNd.apply(grad, padding=tuple((-lo, -hi) for lo, hi in ctx.padding), value=0)


@export(method=False)
def constant_pad_nd(input, pad, value=0):
    """PyTorch's constant_pad_nd: pad = (last_lo, last_hi, second_last_lo, ...), negative entries crop."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise RuntimeError(f"Length of pad should be no more than twice the number of dimensions of the input. "
                           f"Pad length is {len(pad)} while the input has {input.ndim} dimensions.")
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in reversed(range(dims)))
    for (lo, hi), size in zip(pairs, input.shape[input.ndim - dims:]):
        if size + lo + hi < 0:
            raise RuntimeError(f"The input size {size}, plus negative padding {lo} and {hi} resulted in a negative "
                               f"output size, which is invalid. Check dimension of your input.")
    return ConstantPadNd.apply(input, padding=pairs, value=value)
