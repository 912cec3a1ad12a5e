"""Views of a part of the input and the ops that write a part: basic indexing (ints, slices, None, Ellipsis:
the Slice/Select family behind t[...]), narrow/select, diagonal/diag/diag_embed/diagflat, as_strided, unfold,
narrow_copy, and select_scatter/slice_scatter/diagonal_scatter.
"""
import math

from ..autograd.function import Op
from ..sparse._coo_array import SparseCOOArray as _SparseCOO
from ._common import cast
from ._registry import export
from ._shapes import wrap_dim
from .views import _as_view, movedim


class Slice(Op):
    """Basic indexing (ints, slices, None, Ellipsis): a view; the gradient is scattered back."""
    node_name = "SliceBackward0"

    @staticmethod
    def forward(ctx, input, index):
        ctx.input_shape, ctx.index = input.shape, index
        # a trailing Ellipsis keeps NumPy returning a view (not a scalar copy) for all-int indices
        return input[index] if Ellipsis in index else input[index + (Ellipsis,)]

    @staticmethod
    def backward(ctx, grad):
        return SliceScatter.apply(grad, ctx.input_shape, ctx.index), None


class Select(Slice):
    node_name = "SelectBackward0"


class SliceScatter(Op):
    """zeros(shape) with `grad` written at `index`: the backward of basic indexing."""
    node_name = "SliceBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, shape, index):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=grad.dtype)
        out[index] = grad
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index], None, None


class Alias(Slice):
    node_name = "AliasBackward0"


class UnsqueezeIndex(Slice):
    node_name = "UnsqueezeBackward0"


def _basic_op(index):
    # Name the node after the last step PyTorch would take (x[:, 1] selects, x[1, 2:] slices).
    steps = [i for i in index if i is not Ellipsis and i != slice(None)]
    if not steps:
        return Alias
    if isinstance(steps[-1], int):
        return Select
    if all(i is None for i in steps):
        return UnsqueezeIndex
    return Slice


def basic_index(input, index):
    """input[index] for a tuple of ints/slices/None/Ellipsis (already validated)."""
    op = Select if len(index) == 1 and index[0].__class__ is int else _basic_op(index)
    out = op.apply(input, index)
    return _as_view(out, input, lambda b: b[index])


def slice_first_dim(input, item):
    """input[item] for one slice of ints (or None) with a positive step, as getitem checked: basic_index's
    steps for the usual call, without its node lookup, and apply_binary (Note [apply fast path]). The node is
    SliceBackward0 whatever the slice, x[:] included, as PyTorch's."""
    index = (item,)
    out = Slice.apply_binary(input, index)
    return _as_view(out, input, lambda b: b[index])


def _narrow_index(input, dim, start, length):
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, input.ndim)
    start, length = int(start), int(length)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    size = input.shape[dim]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return (slice(None),) * dim + (slice(start, start + length),)


@export(method=True)
def narrow(input, dim, start, length):
    return basic_index(input, _narrow_index(input, dim, start, length))


@export(method=True)
def select(input, dim, index):
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return basic_index(input, (slice(None),) * dim + (index % size,))


class AsStrided(Op):
    """A view of input's storage with the given size, stride and storage offset (all in elements).

    The gradient goes through the storage: grad is added at every storage position the output reads
    (several times where the output overlaps itself), then read back at the positions the input covers,
    divided by how often the input covers each (an expanded input), as PyTorch's as_strided_backward."""
    @staticmethod
    def forward(ctx, input, size, stride, offset):
        itemsize = input.itemsize
        ctx.geometry = ((input.shape, tuple(s // itemsize for s in input.strides), _storage_offset(input)),
                        (size, stride, offset))
        if ctx.backend.name == "meta":
            return ctx.backend.empty_like_shape(size, input.dtype)
        if ctx.backend.name == "cpu":
            from ..storage import UntypedStorage
            return UntypedStorage.of(input).view(input.dtype, size, stride, offset)
        root = input
        while root.base is not None:
            root = root.base
        return ctx.xp.lib.stride_tricks.as_strided(root.reshape(-1)[offset:], size,
                                                   tuple(s * itemsize for s in stride))

    @staticmethod
    def backward(ctx, grad):
        from .._tensor import _make
        from .creation import zeros
        (in_shape, in_stride, in_offset), (size, stride, offset) = ctx.geometry
        if not grad.numel() or not math.prod(in_shape):
            return zeros(in_shape, dtype=grad.dtype, device=grad.device), None, None, None
        xp, device = ctx.xp, grad.device
        out_pos = _positions(xp, size, stride, offset).reshape(-1)
        in_pos = _positions(xp, in_shape, in_stride, in_offset)
        low = min(int(out_pos.min()), int(in_pos.min()))
        span = max(int(out_pos.max()), int(in_pos.max())) + 1 - low
        storage = zeros(span, dtype=grad.dtype, device=device).index_add(
            0, _make(out_pos - low, device), grad.reshape(-1))
        counts = xp.bincount((in_pos - low).reshape(-1), minlength=span)
        if int(counts.max()) > 1:                 # the input covers some positions several times
            storage = storage / _make(xp.maximum(counts, 1).astype(storage._array.dtype), device)
        return storage.take(_make(in_pos - low, device)), None, None, None


def _positions(xp, shape, strides, offset):
    """The storage position of every element of a strided geometry, as an int64 array of that shape (made with
    the array module xp)."""
    pos = xp.full(tuple(shape), offset, dtype=xp.int64)
    for d, (n, st) in enumerate(zip(shape, strides)):
        pos += (xp.arange(n, dtype=xp.int64) * st).reshape((n,) + (1,) * (len(shape) - d - 1))
    return pos


def _storage_offset(array):
    """array's offset (in elements) from the start of the array at the root of its .base chain."""
    root = array
    while root.base is not None and hasattr(root.base, "shape"):
        root = root.base
    return (_pointer(array) - _pointer(root)) // array.itemsize


def _pointer(array):
    interface = getattr(array, "__array_interface__", None) or array.__cuda_array_interface__
    return interface["data"][0]


@export(method=True)
def as_strided(input, size, stride, storage_offset=None):
    """A view of input's storage with any size, stride and storage offset (default: input's own offset)."""
    size = tuple(int(n) for n in size)
    stride = tuple(int(st) for st in stride)
    offset = input.storage_offset() if storage_offset is None else int(storage_offset)
    if input._device.type == "cpu":
        from ..storage import UntypedStorage, check_bounds
        check_bounds(size, stride, offset, input.itemsize, UntypedStorage.of(input._array).nbytes())
    out = AsStrided.apply(input, size=size, stride=stride, offset=offset)
    return _as_view(out, input, _as_strided_replay(input, size, stride, offset))


def _as_strided_replay(input, size, stride, offset):
    """The view function of an as_strided view: storage positions mean something only in the base's own
    geometry, so a tensor laid out otherwise (a gradient shaped like the base) is first copied into the
    base's geometry over a storage of the base's size (PyTorch's CopySlices does the same)."""
    base = input._base if input._base is not None else input
    geometry = (base.stride(), base.storage_offset())
    nbytes = base.untyped_storage().nbytes() if base._device.type == "cpu" else None
    count = nbytes // base.itemsize if nbytes is not None else base.numel() + geometry[1]   # storage elements

    def replay(b):
        if (b.stride(), b.storage_offset()) == geometry and (
                nbytes is None or b.untyped_storage().nbytes() >= count * b.itemsize):
            return b.as_strided(size, stride, offset)
        from .creation import zeros
        holder = zeros(count, dtype=b.dtype, device=b.device)     # b's dtype may not be the base's (a gradient)
        holder = holder.as_strided(tuple(base.shape), geometry[0], geometry[1])
        holder.copy_(b)
        return holder.as_strided(size, stride, offset)
    return replay


class Diagonal(Op):
    @staticmethod
    def forward(ctx, input, offset, dim1, dim2):
        ctx.input_shape, ctx.args = input.shape, (offset, dim1, dim2)
        out = ctx.xp.diagonal(input, offset, dim1, dim2)
        if not getattr(out.flags, "writeable", True) and input.flags.writeable:
            out.flags.writeable = True        # NumPy hands out a read-only view; PyTorch's diagonal is writable
        return out

    @staticmethod
    def backward(ctx, grad):
        return DiagonalScatter.apply(grad, ctx.input_shape, *ctx.args), None, None, None


class DiagonalScatter(Op):
    node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, shape, offset, dim1, dim2):
        xp = ctx.xp
        ctx.args = (offset, dim1, dim2)
        out = xp.zeros(shape, dtype=grad.dtype)
        moved = xp.moveaxis(out, (dim1, dim2), (-2, -1))     # a view: writes land in `out`
        n1, n2 = moved.shape[-2], moved.shape[-1]
        length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
        i = xp.arange(length) + (0 if offset >= 0 else -offset)
        j = xp.arange(length) + (offset if offset >= 0 else 0)
        moved[..., i, j] = grad
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.diagonal(*ctx.args), None, None, None, None


@export(method=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = Diagonal.apply(input, offset, d1, d2)
    return _as_view(out, input, lambda b: b.diagonal(offset, d1, d2))


def diagonal_(input, offset):
    return diagonal(input, offset, 0, 1)


@export(method=True)
def diag(input, diagonal=0):
    if input.ndim == 1:
        n = input.shape[0] + builtins_abs(diagonal)
        return DiagEmbed.apply(input, (n, n), diagonal, 0, 1)
    if input.ndim == 2:
        return diagonal_(input, diagonal).clone()
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " f"{input.ndim}D")


builtins_abs = abs


@export(method=True)
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1] + builtins_abs(offset)
    ndim = input.ndim + 1
    d1, d2 = wrap_dim(dim1, ndim), wrap_dim(dim2, ndim)
    out = DiagEmbed.apply(input, tuple(input.shape[:-1]) + (n, n), offset, ndim - 2, ndim - 1)
    return movedim(out, (ndim - 2, ndim - 1), (d1, d2)) if (d1, d2) != (ndim - 2, ndim - 1) else out


class DiagEmbed(DiagonalScatter):
    node_name = "DiagEmbedBackward0"


@export(method=True)
def diagflat(input, offset=0):
    """A square matrix with the flattened input on diagonal `offset`."""
    flat = input.reshape(-1)
    n = flat.shape[0] + builtins_abs(offset)
    return DiagEmbed.apply(flat, (n, n), offset, 0, 1)


class Unfold(Op):
    """Windows of `size` every `step` along dim, as a new last dim: a strided view."""
    @staticmethod
    def forward(ctx, input, dim, size, step):
        ctx.input_shape, ctx.args = input.shape, (dim, size, step)
        shape, strides = input.shape, input.strides
        n = (shape[dim] - size) // step + 1
        return ctx.xp.lib.stride_tricks.as_strided(
            input, shape[:dim] + (n,) + shape[dim + 1:] + (size,),
            strides[:dim] + (strides[dim] * step,) + strides[dim + 1:] + (strides[dim],))

    @staticmethod
    def backward(ctx, grad):
        return UnfoldBackward.apply(grad, ctx.input_shape, *ctx.args), None, None, None


class UnfoldBackward(Op):
    """Each window's gradient summed back onto the positions it covers."""
    @staticmethod
    def forward(ctx, grad, shape, dim, size, step):
        ctx.args = (dim, size, step)
        out = ctx.xp.zeros(shape, dtype=grad.dtype)
        n = grad.shape[dim]
        lead = (slice(None),) * dim
        for j in range(size):                    # one strided add per offset in the window, over all windows
            out[lead + (slice(j, j + (n - 1) * step + 1, step),)] += grad[..., j]
        return out

    @staticmethod
    def backward(ctx, grad):
        return unfold(grad, *ctx.args), None, None, None, None


@export(method=True, public=False)
def unfold(input, dimension, size, step):
    """A view of all windows of `size` elements every `step` along `dimension` (a new last dim)."""
    dim = wrap_dim(dimension, input.ndim)
    length = input.shape[dim] if input.ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if input.ndim == 0:
        return narrow(input.reshape(1), 0, 0, size)
    out = Unfold.apply(input, dim, size, step)
    return _as_view(out, input, lambda b: b.unfold(dim, size, step))


class NarrowCopy(Slice):
    @staticmethod
    def forward(ctx, input, index):
        ctx.input_shape, ctx.index = input.shape, index
        return input[index].copy()


@export(method=True)
def narrow_copy(input, dim, start, length):
    """narrow() as a new tensor rather than a view."""
    if input._array.__class__ is _SparseCOO:
        from .sparse_coo_ops import narrow_copy as sparse_narrow_copy
        return sparse_narrow_copy(input, dim, start, length)
    return NarrowCopy.apply(input, _narrow_index(input, dim, start, length))


# --- writing into a region: select_scatter, slice_scatter, diagonal_scatter ----------------------------------

class _Diagonal(tuple):
    """diagonal_scatter's region key: (offset, dim1, dim2)."""


def _region(x, key):
    """The part of x (an array or a Tensor) that a *_scatter op writes."""
    return x.diagonal(*key) if key.__class__ is _Diagonal else x[key]


class SelectScatter(Op):
    """A copy of input with src written into one region; the gradient is split between them likewise."""
    @staticmethod
    def forward(ctx, input, src, key):
        ctx.key, ctx.src_shape = key, src.shape
        out = input.copy()
        region = _region(out, key)
        if not getattr(region.flags, "writeable", True):
            region.flags.writeable = True             # NumPy's diagonal() is a read-only view
        region[...] = src
        return out

    @staticmethod
    def backward(ctx, grad):
        from .creation import zeros
        grad_input = grad_src = None
        if ctx.needs_input_grad[0]:
            zero = zeros(ctx.src_shape, dtype=grad.dtype, device=grad.device)
            grad_input = ctx._op.apply(grad, zero, ctx.key)
        if ctx.needs_input_grad[1]:
            grad_src = _region(grad, ctx.key)
        return grad_input, grad_src, None


class SliceScatterInto(SelectScatter):            # (SliceScatter is basic indexing's backward)
    node_name = "SliceScatterBackward0"


class DiagonalScatterInto(SelectScatter):
    node_name = "DiagonalScatterBackward0"


def _scatter_into(op, input, src, key):
    region = tuple(_region(input._array, key).shape)
    if tuple(src.shape) != region:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region)}")
    return op.apply(input, cast(src, input.dtype), key)


@export(method=True)
def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src (out of place)."""
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return _scatter_into(SelectScatter, input, src, (slice(None),) * dim + (index % size, Ellipsis))


@export(method=True)
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[..., start:end:step, ...] (along dim) replaced by src (out of place)."""
    dim = wrap_dim(dim, input.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return _scatter_into(SliceScatterInto, input, src, (slice(None),) * dim + (slice(start, end, step), Ellipsis))


@export(method=True)
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with input.diagonal(offset, dim1, dim2) replaced by src (out of place)."""
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _scatter_into(DiagonalScatterInto, input, src, _Diagonal((offset, d1, d2)))
