"""Views and shape ops: view/reshape, permute, transpose, expand, squeeze, cat, stack, split, flip ...

View ops return tensors that share memory with their input; `_as_view` links the version counter
and records how to rebuild the view from its base (used when a view is modified in place).
"""
import itertools
import math

from .. import _dtype as _dt
from .._tensor import Size, Tensor, VersionCounter, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._common import cast
from ._registry import export, export_method
from ._shapes import broadcast_shapes, infer_size, normalize_dims, wrap_dim


def _as_view(out, input, view_fn):
    """Mark `out` as a view of `input`: shared version counter, base, and a replay function."""
    base = input._base if input._base is not None else input
    vc = input._vc
    if vc is None:
        vc = input._vc = VersionCounter()
    out._vc = vc
    out._base = base
    if not _State.grad_enabled:
        if input._requires_grad:
            # Made under no_grad from a tensor that requires grad: the view requires grad too, as in
            # PyTorch, but leads nowhere (ops record it with no edge, it never gets a .grad).
            out._requires_grad = True
            out._extra_dict()["no_grad_view"] = True
    else:
        parent_extra = input._extra
        if parent_extra is not None and "no_grad_view" in parent_extra:
            # A view of a no_grad view: it records history from its parent, but in-place ops on it are
            # refused (check_inplace), since its base's history cannot be replayed onto it.
            out._extra_dict()["view_of_no_grad_view"] = True
            return out
        parent = parent_extra.get("view_fn") if parent_extra is not None else None
        fn = view_fn if parent is None else (lambda b, p=parent, f=view_fn: f(p(b)))
        extra = out._extra
        if extra is None:
            extra = out._extra = {"view_fn": fn}
        else:
            extra["view_fn"] = fn
        if parent_extra is not None and "multi_output_view" in parent_extra:
            extra["multi_output_view"] = True          # a view of such a view inherits the restriction
        if input._requires_grad and input.grad_fn is None and input._base is not None and \
                not base._requires_grad:
            extra["leaf_view_base"] = input            # a view made a leaf by requires_grad_(): in-place refused
        elif base._requires_grad and base.grad_fn is None:
            extra["leaf_view_base"] = base             # still refused if the base is detach_()ed later
    return out


def _shape_arg(shape):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _exact_shape(shape, numel):
    """`shape` as is when it is non-negative Python ints multiplying to numel (the usual view/reshape
    call), else None: skips argument parsing and -1 inference, a third of a small view's cost."""
    known = 1
    for s in shape:
        if s.__class__ is not int or s < 0:
            return None
        known *= s
    return shape if known == numel else None


class View(Op):
    @staticmethod
    def forward(ctx, input, shape):
        ctx.input_shape = input.shape
        try:
            return input.reshape(shape, copy=False)    # the method: np.reshape adds a Python layer
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) "
                               "instead.") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape), None


class ReshapeCopy(Op):
    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, input, shape):
        ctx.input_shape = input.shape
        return input.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape), None


def _view_dtype(input, dtype):
    dtype = _dt.to_dtype(dtype)
    old, new = input.dtype.itemsize, dtype.itemsize
    if new != old:                                  # the last dim shrinks or grows by the size ratio
        names = f"view {_dt.scalar_type_name(input.dtype)} as {_dt.scalar_type_name(dtype)} (different element sizes)"
        if input.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to {names}")
        if input.stride(-1) != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 to {names}, but got {input.stride(-1)}")
        if (input.shape[-1] * old) % new:
            raise RuntimeError(f"self.size(-1) must be divisible by {new // old if new > old else 1} to {names}, "
                               f"but got {input.shape[-1]}")
    try:
        array = input._array.view(dtype.numpy)
    except ValueError as e:
        raise RuntimeError(f"view(dtype): cannot view {input.dtype} of shape {tuple(input.shape)} and strides "
                           f"{input.stride()} as {dtype}: {e}") from None
    out = _make(array, input._device)
    return _as_view(out, input, lambda b: b.view(dtype))


@export(method=True, public=False)
def view(input, *shape):
    """Same data, new shape; fails (suggesting reshape) when the strides cannot express it."""
    if len(shape) == 1 and (isinstance(shape[0], _dt.dtype) or isinstance(shape[0], str) or
                            shape[0] in (float, int, bool)):
        return _view_dtype(input, shape[0])
    target = _exact_shape(shape, input._array.size) if len(shape) > 1 else None
    shape = target or infer_size(_shape_arg(shape), input._array.size)
    out = View.apply(input, shape)
    return _as_view(out, input, lambda b: b.view(shape))


@export(method=True)
def reshape(input, *shape):
    """A view when the layout allows, otherwise a copy."""
    target = _exact_shape(shape, input._array.size) if len(shape) > 1 else None
    shape = target or infer_size(_shape_arg(shape), input._array.size)
    a = input._array
    if a.flags.c_contiguous or _viewable(a, shape):
        out = View.apply(input, shape)
        return _as_view(out, input, lambda b: b.reshape(shape))
    return ReshapeCopy.apply(input, shape)


def _viewable(array, shape):
    try:
        array.reshape(shape, copy=False)
        return True
    except (ValueError, TypeError):
        return False


@export(method=True)
def view_as(input, other):
    return view(input, other.shape)


@export(method=True)
def reshape_as(input, other):
    return reshape(input, other.shape)


@export(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, (1,))
    start, end = wrap_dim(start_dim, input.ndim), wrap_dim(end_dim, input.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:                              # nothing to merge: PyTorch returns input itself
        return input
    shape = input.shape
    new = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    return reshape(input, new)


@export(method=True)
def unflatten(input, dim, sizes):
    dim = wrap_dim(dim, input.ndim)
    sizes = tuple(sizes)
    shape = input.shape
    sizes = infer_size(sizes, shape[dim]) if -1 in sizes else sizes
    if math.prod(sizes) != shape[dim]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                           f"{dim} ({shape[dim]}) in the input tensor")
    return view(input, shape[:dim] + sizes + shape[dim + 1:]) if input._array.flags.c_contiguous else \
        reshape(input, shape[:dim] + sizes + shape[dim + 1:])


@export(method=True, public=False)
def ravel(input):
    return reshape(input, (-1,))


export(ravel, method=False)


class Permute(Op):
    @staticmethod
    def forward(ctx, input, dims):
        ctx.dims = dims
        return ctx.xp.transpose(input, dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.permute(tuple(inverse)), None


@export(method=True)
def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is "
                           f"not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    out = Permute.apply(input, dims)
    return _as_view(out, input, lambda b: b.permute(dims))


class Transpose(Op):
    @staticmethod
    def forward(ctx, input, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return ctx.xp.swapaxes(input, dim0, dim1)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims), None, None


@export(method=True, aliases=("swapaxes", "swapdims"))
def transpose(input, dim0, dim1):
    n = input.ndim
    if n == 0:
        return _as_view(View.apply(input, ()), input, lambda b: b.view(()))
    d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    out = Transpose.apply(input, d0, d1)
    return _as_view(out, input, lambda b: b.transpose(d0, d1))


class TOp(Op):
    node_name = "TBackward0"

    @staticmethod
    def forward(ctx, input):
        return input.T

    @staticmethod
    def backward(ctx, grad):
        return grad.t()


@export(method=True)
def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    out = TOp.apply(input)
    return _as_view(out, input, lambda b: b.t())


@export(method=True)
def adjoint(input):
    return transpose(input, -2, -1).conj()


@export(method=True, aliases=("moveaxis",))
def movedim(input, source, destination):
    n = input.ndim
    src = [wrap_dim(s, n) for s in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [wrap_dim(d, n) for d in (destination if isinstance(destination, (list, tuple)) else [destination])]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
                           f"the same number of dims as destination ({dst} dims)")
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    if n == 0:                                    # 0-d: dims 0 and -1 name the tensor itself; an alias
        return basic_index(input, ())
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, tuple(order))


class Expand(Op):
    @staticmethod
    def forward(ctx, input, shape):
        ctx.input_shape = input.shape
        out = ctx.backend.broadcast_to(input, shape)
        try:
            # PyTorch's expanded tensors are writable memory: fill_, writes through non-overlapping views
            # (e[0] = ...) and .numpy() work; in-place ops that would write one location twice are refused
            # by check_overlap (ops/inplace.py) and setitem. NumPy hands out broadcasts read-only.
            out.flags.writeable = True
        except (ValueError, AttributeError):        # a read-only input (or a backend without the flag)
            pass
        return out

    @staticmethod
    def backward(ctx, grad):
        from .reduction import sum_to_shape
        return sum_to_shape(grad, ctx.input_shape), None


@export(method=True)
def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    shape = input.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            target.append(s)
            continue
        cur = shape[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(shape)}")
        target.append(s)
    target = tuple(target)
    if target == tuple(shape):
        out = View.apply(input, target)
    else:
        out = Expand.apply(input, target)
    return _as_view(out, input, lambda b: b.expand(target))


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
        import numpy as np
        from .creation import tensor, zeros
        (in_shape, in_stride, in_offset), (size, stride, offset) = ctx.geometry
        if not grad.numel() or not math.prod(in_shape):
            return zeros(in_shape, dtype=grad.dtype, device=grad.device), None, None, None
        out_pos = _positions(size, stride, offset).reshape(-1)
        in_pos = _positions(in_shape, in_stride, in_offset)
        low = min(int(out_pos.min()), int(in_pos.min()))
        span = max(int(out_pos.max()), int(in_pos.max())) + 1 - low
        storage = zeros(span, dtype=grad.dtype, device=grad.device).index_add(
            0, tensor(out_pos - low, device=grad.device), grad.reshape(-1))
        counts = np.bincount((in_pos - low).reshape(-1), minlength=span)
        if counts.max() > 1:                      # the input covers some positions several times
            storage = storage / tensor(np.maximum(counts, 1), dtype=grad.dtype, device=grad.device)
        return storage.take(tensor(in_pos - low, device=grad.device)), None, None, None


def _positions(shape, strides, offset):
    """The storage position of every element of a strided geometry, as an int64 array of that shape."""
    import numpy as np
    pos = np.full(tuple(shape), offset, dtype=np.int64)
    for d, (n, st) in enumerate(zip(shape, strides)):
        pos += (np.arange(n, dtype=np.int64) * st).reshape((n,) + (1,) * (len(shape) - d - 1))
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

    def replay(b):
        if (b.stride(), b.storage_offset()) == geometry and (
                nbytes is None or b.untyped_storage().nbytes() >= nbytes):
            return b.as_strided(size, stride, offset)
        from .creation import zeros
        holder = zeros(nbytes // b.itemsize if nbytes is not None else base.numel() + geometry[1],
                       dtype=b.dtype, device=b.device)
        holder = holder.as_strided(tuple(base.shape), geometry[0], geometry[1])
        holder.copy_(b)
        return holder.as_strided(size, stride, offset)
    return replay


@export(method=True)
def expand_as(input, other):
    return expand(input, other.shape)


@export(method=True)
def broadcast_to(input, size):
    return expand(input, tuple(size))


@export(method=False)
def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


class Squeeze(Op):
    @staticmethod
    def forward(ctx, input, dims):
        ctx.input_shape = input.shape
        return ctx.xp.squeeze(input, axis=dims) if dims else input.reshape(input.shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape), None


@export(method=True)
def squeeze(input, dim=None):
    """Drop size-1 dims (all, or those in `dim` that have size 1)."""
    shape = input.shape
    if dim is None:
        dims = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        dims = normalize_dims(dim, input.ndim) if input.ndim else ()
        dims = tuple(d for d in dims if shape[d] == 1)
    op = Squeeze if dim is None else SqueezeDim if isinstance(dim, int) else SqueezeDims
    out = op.apply(input, dims)
    return _as_view(out, input, lambda b: b.squeeze(dim) if dim is not None else b.squeeze())


class SqueezeDim(Squeeze):
    node_name = "SqueezeBackward1"


class SqueezeDims(Squeeze):
    node_name = "SqueezeBackward2"


class Unsqueeze(Op):
    @staticmethod
    def forward(ctx, input, dim):
        ctx.dim = dim
        return ctx.xp.expand_dims(input, dim)

    @staticmethod
    def backward(ctx, grad):
        return grad.squeeze(ctx.dim), None


@export(method=True)
def unsqueeze(input, dim):
    dim = wrap_dim(dim, input.ndim + 1)
    out = Unsqueeze.apply(input, dim)
    return _as_view(out, input, lambda b: b.unsqueeze(dim))


def _atleast(tensors, fn):
    """fn on each tensor: one tensor gives one result, several (or a list or tuple) give a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(fn(t) for t in tensors[0])
    out = tuple(fn(t) for t in tensors)
    return out[0] if len(out) == 1 else out


@export(method=False)
def atleast_1d(*tensors):
    return _atleast(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


@export(method=False)
def atleast_2d(*tensors):
    return _atleast(tensors, lambda t: t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t)


def _to_3d(t):
    if t.ndim == 0:
        return t.reshape(1, 1, 1)
    if t.ndim == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if t.ndim == 2 else t


@export(method=False)
def atleast_3d(*tensors):
    return _atleast(tensors, _to_3d)


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


class Split(Op):
    """Consecutive views of `input` along `dim` with the given sizes. One multi-output node, so that the
    backward is a single concatenation: a node per piece would write each piece's gradient into its own
    zeros of the input's size, k times the work for k pieces (qkv.split in attention)."""
    node_name = "SplitBackward0"

    @staticmethod
    def forward(ctx, input, sizes, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        pieces, start = [], 0
        for size in sizes:
            pieces.append(input[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):                   # the engine fills missing grads with zeros
        return cat(list(grads), ctx.dim)


class SplitWithSizes(Split):
    node_name = "SplitWithSizesBackward0"


class Unbind(Op):
    """The views input[..., i, ...] along `dim`; the gradient is one stack (see Split)."""
    node_name = "UnbindBackward0"

    @staticmethod
    def forward(ctx, input, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        return tuple(input[lead + (i, Ellipsis)] for i in range(input.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(list(grads), ctx.dim)


def _split_views(op, input, dim, lengths, **attrs):
    """The pieces of a multi-output split op, each marked as the view input[index] (for in-place replay);
    a length of None stands for a selected (removed) dim."""
    pieces = op.apply(input, dim=dim, **attrs)
    lead = (slice(None),) * dim
    out, start = [], 0
    for piece, size in zip(pieces, lengths):
        index = lead + ((slice(start, start + size),) if size is not None else (start,))
        piece = _as_view(piece, input, lambda b, index=index: b[index])
        if piece.grad_fn is not None:
            # PyTorch refuses in-place ops on these (Note [multi-output views] in inplace.py)
            piece._extra["multi_output_view"] = True
        out.append(piece)
        start += 1 if size is None else size
    return tuple(out)


@export(method=True)
def unbind(input, dim=0):
    dim = wrap_dim(dim, input.ndim)
    n = input.shape[dim]
    if n <= 1:
        return tuple(select(input, dim, i) for i in range(n))
    return _split_views(Unbind, input, dim, [None] * n)


def _split_sections(tensor, split_size_or_sections, dim):
    size = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of "
                               f"{size}")
        return [min(step, size - s) for s in range(0, size, step)] if size else [0]
    sections = [int(s) for s in split_size_or_sections]
    if sum(sections) != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                           f"size at dimension {dim}), but got split_sizes={sections}")
    return sections


@export(method=True)
def split(tensor, split_size_or_sections, dim=0):
    dim = wrap_dim(dim, tensor.ndim)
    sections = _split_sections(tensor, split_size_or_sections, dim)
    if len(sections) == 1:
        return (narrow(tensor, dim, 0, sections[0]),)
    op = Split if isinstance(split_size_or_sections, int) else SplitWithSizes
    return _split_views(op, tensor, dim, sections, sizes=tuple(sections))


@export(method=True)
def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


@export(method=True)
def chunk(input, chunks, dim=0):
    dim, step = _chunk_step(input, chunks, dim)
    if not input.shape[dim]:                      # an empty dim gives `chunks` empty pieces, as in PyTorch
        return _split_views(SplitWithSizes, input, dim, [0] * chunks, sizes=(0,) * chunks)
    return split(input, step, dim)


def _chunk_step(input, chunks, dim):
    """(dim, piece size) of chunk(input, chunks, dim): ceil(size / chunks), 1 for an empty dim."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    return dim, (-(-size // chunks) if size else 1)


@export(method=True)
def tensor_split(input, indices_or_sections, dim=0):
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        t = indices_or_sections
        if t.dtype is not _dt.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{_dt.scalar_type_name(t.dtype)}")
        if t.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {t.ndim} dims")
        indices_or_sections = int(t.item()) if t.ndim == 0 else t.tolist()
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {indices_or_sections}")
        base, extra = divmod(size, indices_or_sections)
        ends = list(itertools.accumulate(base + 1 if i < extra else base for i in range(indices_or_sections)))
        bounds = [0] + ends
    else:                                       # input[a:b] between consecutive indices (empty when b < a)
        bounds = [0] + [min(max(int(i) + size if int(i) < 0 else int(i), 0), size)
                        for i in indices_or_sections] + [size]
    return tuple(narrow(input, dim, a, max(b - a, 0)) for a, b in zip(bounds, bounds[1:]))


class Cat(Op):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        out = ctx.xp.concatenate(arrays, axis=dim)
        # PyTorch's cat is C-contiguous (NumPy may follow a transposed input): it decides later .view()s
        return out if out.flags.c_contiguous else ctx.xp.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        return split(grad, ctx.sizes, ctx.dim)


@export(method=False, aliases=("concat", "concatenate"))
def cat(tensors, dim=0, *, out=None):
    """Join tensors along an existing dim; every other dim must match (errors name the tensors)."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat() received an invalid combination of arguments - got (Tensor), expected a tuple "
                        "or list of Tensors")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    # legacy rule: 1-d empty tensors are skipped
    parts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors   # all empty: all get grads
    ref = parts[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    dtype = ref.dtype
    for i, t in enumerate(parts):
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim} "
                               f"(tensor 0 has shape {tuple(ref.shape)}, tensor {i} has shape {tuple(t.shape)})")
        for k in range(ref.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list "
                                   f"(shapes {tuple(ref.shape)} and {tuple(t.shape)})")
        if t.dtype is not dtype:
            dtype = _dt.promote_types(dtype, t.dtype)
    parts = [cast(t, dtype) for t in parts]
    result = Cat.apply(*parts, dim=d)
    if out is not None:
        from .inplace import write_out
        return write_out(out, result)
    return result


@export(method=False)
def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    dtype = tensors[0].dtype
    if out is not None or any(t.dtype is not dtype for t in tensors):
        return cat([unsqueeze(t, d) for t in tensors], d, out=out)     # promotion and out= live in cat
    return Stack.apply(*tensors, dim=d)


class Stack(Op):
    """Tensors of one shape and dtype joined along a new dim (its own node, StackBackward0, as in PyTorch)."""
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        out = ctx.xp.stack(arrays, axis=dim)
        return out if out.flags.c_contiguous else ctx.xp.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        return unbind(grad, ctx.dim)


@export(method=False)
def hstack(tensors):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


@export(method=False, aliases=("row_stack",))
def vstack(tensors):
    tensors = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    return cat(tensors, 0)


@export(method=False)
def dstack(tensors):
    out = []
    for t in tensors:
        if t.ndim == 0:
            t = t.reshape(1, 1, 1)
        elif t.ndim == 1:
            t = t.reshape(1, -1, 1)
        elif t.ndim == 2:
            t = t.unsqueeze(-1)
        out.append(t)
    return cat(out, 2)


@export(method=False)
def column_stack(tensors):
    return hstack([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors])


class Flip(Op):
    @staticmethod
    def forward(ctx, input, dims):
        ctx.dims = dims
        if input.flags.c_contiguous:
            return ctx.xp.flip(input, axis=dims).copy()
        from .creation import empty_array_like     # PyTorch's flip keeps the input's memory layout
        out = empty_array_like(input, input.dtype, ctx.xp)
        out[...] = ctx.xp.flip(input, axis=dims)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims), None


@export(method=True)
def flip(input, *dims):
    dims = _shape_arg(dims) if dims else ()
    dims = normalize_dims(list(dims), input.ndim) if dims else ()
    if not dims:
        return input.clone()
    return Flip.apply(input, dims)


@export(method=True)
def fliplr(input):
    return flip(input, 1)


@export(method=True)
def flipud(input):
    return flip(input, 0)


class Roll(Op):
    @staticmethod
    def forward(ctx, input, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        out = ctx.xp.roll(input, shifts, axis=dims)
        return out if out.flags.c_contiguous else ctx.xp.ascontiguousarray(out)      # as PyTorch's roll

    @staticmethod
    def backward(ctx, grad):
        shifts = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(grad, shifts, ctx.dims), None, None


@export(method=True)
def roll(input, shifts, dims=None):
    if dims is None:
        return Roll.apply(input.flatten(), shifts if isinstance(shifts, int) else tuple(shifts), 0) \
            .reshape(input.shape)
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else tuple(dims)
    shifts = tuple(shifts)
    dims = tuple(wrap_dim(d, input.ndim) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, dims)


@export(method=True)
def repeat(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    lead = len(sizes) - input.ndim
    x = input.reshape((1,) * lead + tuple(input.shape))
    # repeat == expand over an inserted axis per dim, then merge: differentiable through expand/reshape
    inter, final = [], []
    for r, s in zip(sizes, x.shape):
        inter += [1, s]
        final.append(r * s)
    expanded_shape = []
    for r, s in zip(sizes, x.shape):
        expanded_shape += [r, s]
    return x.reshape(inter).expand(expanded_shape).reshape(final)


@export(method=True)
def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


@export(method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    from .indexing import index_select
    from .creation import arange, tensor
    if repeats is None:                         # repeat_interleave(repeats_tensor): indices form
        counts = input
        return nodiff_repeat(counts)
    if dim is None:
        input = input.flatten()
        dim = 0
    dim = wrap_dim(dim, input.ndim)
    n = input.shape[dim]
    if isinstance(repeats, int):
        idx = arange(n, device=input.device).reshape(-1, 1).expand(n, repeats).reshape(-1)
    else:
        reps = repeats if isinstance(repeats, Tensor) else tensor(repeats)
        if reps.numel() == 1:
            reps = reps.reshape(1).expand(n)
        if reps.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{reps.shape[0]} and input.size({dim}) = {n}")
        idx = nodiff_repeat(reps)
    return index_select(input, dim, idx)


def nodiff_repeat(counts):
    from ._common import nodiff
    return nodiff(lambda xp, c: xp.repeat(xp.arange(c.shape[0]), c).astype(xp.int64), counts)


class Tril(Op):
    @staticmethod
    def forward(ctx, input, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (ctx.xp.triu if upper else ctx.xp.tril)(input, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return Tril.apply(grad, ctx.diagonal, ctx.upper), None, None


class Triu(Tril):
    node_name = "TriuBackward0"


@export(inplace=True)
def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal, False)


@export(inplace=True)
def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal, True)


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


@export(method=False)
def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a {t.ndim}-D "
                               f"tensor of shape {list(t.shape)}")
    shape = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(tensors):
        pos = i
        if swap and i < 2:
            pos = 1 - i
        view_shape = [1] * len(tensors)
        view_shape[pos] = t.numel()
        out.append(t.reshape(view_shape).expand(shape))
    return tuple(out)


@export(method=True)
def contiguous(input, memory_format=None):
    if input.is_contiguous():
        return input
    from .creation import contiguous_format
    return input.clone(memory_format=contiguous_format)


@export(method=False)
def block_diag(*tensors):
    from .creation import zeros
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    rows = sum(m.shape[0] for m in mats)
    cols = sum(m.shape[1] for m in mats)
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = _dt.promote_types(dtype, m.dtype)
    out = zeros((rows, cols), dtype=dtype)
    parts = []
    c = 0
    for m in mats:
        left = zeros((m.shape[0], c), dtype=dtype)
        right = zeros((m.shape[0], cols - c - m.shape[1]), dtype=dtype)
        parts.append(cat([left, cast(m, dtype), right], 1))
        c += m.shape[1]
    return cat(parts, 0) if parts else out


# --- rotation, diagflat, hsplit/vsplit/dsplit, products of vectors ------------------------------------------

class Rot90(Op):
    @staticmethod
    def forward(ctx, input, k, dims):
        ctx.k, ctx.dims = k, dims
        return ctx.xp.rot90(input, k, axes=dims).copy()      # a copy, as in PyTorch

    @staticmethod
    def backward(ctx, grad):
        return Rot90.apply(grad, -ctx.k % 4, ctx.dims), None, None


@export(method=True)
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by k quarter turns in the plane of dims, from dims[0] towards dims[1]."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = wrap_dim(dims[0], input.ndim), wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    return Rot90.apply(input, k % 4, (d0, d1))


@export(method=True)
def diagflat(input, offset=0):
    """A square matrix with the flattened input on diagonal `offset`."""
    flat = input.reshape(-1)
    n = flat.shape[0] + builtins_abs(offset)
    return DiagEmbed.apply(flat, (n, n), offset, 0, 1)


def _split_along(name, input, indices_or_sections, dim, min_ndim):
    if input.ndim < min_ndim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension, but got a tensor "
                           f"with {input.ndim} dimensions!")
    if isinstance(indices_or_sections, int):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


@export(method=True)
def hsplit(input, indices_or_sections):
    """tensor_split along dim 1 (dim 0 for 1-D input); an int must divide the size."""
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


@export(method=True)
def vsplit(input, indices_or_sections):
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


@export(method=True)
def dsplit(input, indices_or_sections):
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def _check_vectors(tensors):
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")


@export(method=False)
def cartesian_prod(*tensors):
    """Every tuple taking one element of each 1-D tensor, as rows in lexicographic order."""
    _check_vectors(tensors)
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if len(tensors) == 1:
        return tensors[0]
    if any(t.dtype is not tensors[0].dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


@export(method=False)
def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of a 1-D tensor's elements as rows (like itertools.combinations)."""
    from .indexing import take
    from ._common import nodiff
    _check_vectors((input,))
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:                                  # PyTorch: an empty vector without history
        return _make(input._array[:0].copy(), input._device)
    n = input.shape[0]

    def positions(xp, _):
        grid = xp.indices((n,) * r).reshape(r, -1)           # every r-tuple of positions, lexicographic
        ordered = grid[1:] >= grid[:-1] if with_replacement else grid[1:] > grid[:-1]
        return grid[:, ordered.all(axis=0)].T.reshape(-1).astype(xp.int64)
    # take, whose node saves the input as PyTorch's masked_select does here (a later in-place change is caught)
    return take(input, nodiff(positions, input)).reshape(-1, r)


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


# --- unfold, complex views, narrow_copy, unsafe splits --------------------------------------------------------

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


class ViewAsReal(Op):
    @staticmethod
    def forward(ctx, input):
        return input[..., None].view(_dt.from_numpy(input.dtype).to_real().numpy)

    @staticmethod
    def backward(ctx, grad):
        return ViewAsComplex.apply(grad.contiguous())


class ViewAsComplex(Op):
    holomorphic = False                            # a reinterpretation: the gradient is view_as_real(grad)

    @staticmethod
    def forward(ctx, input):
        return input.view(_dt.from_numpy(input.dtype).to_complex().numpy)[..., 0]

    @staticmethod
    def backward(ctx, grad):
        return ViewAsReal.apply(grad)


@export(method=False)
def view_as_real(input):
    """A complex tensor's memory seen as real numbers, with a last dim of 2 (real, imaginary)."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return _as_view(ViewAsReal.apply_unary(input), input, view_as_real)


@export(method=False)
def view_as_complex(input):
    """A real tensor whose last dim is 2 seen as complex numbers (a view)."""
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, but got a tensor "
                           f"of scalar type: {_dt.scalar_type_name(input.dtype)}")
    if input.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.stride(-1) != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in input.stride()[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return _as_view(ViewAsComplex.apply_unary(input), input, view_as_complex)


class NarrowCopy(Slice):
    @staticmethod
    def forward(ctx, input, index):
        ctx.input_shape, ctx.index = input.shape, index
        return input[index].copy()


@export(method=True)
def narrow_copy(input, dim, start, length):
    """narrow() as a new tensor rather than a view."""
    return NarrowCopy.apply(input, _narrow_index(input, dim, start, length))


class UnsafeSplit(Split):
    node_name = "UnsafeSplitBackward0"


class UnsafeSplitWithSizes(Split):
    node_name = "UnsafeSplitWithSizesBackward0"


@export(method=True)
def unsafe_split(input, split_size, dim=0):
    """split() whose pieces are not tracked as views of input, so in-place ops on them are allowed
    (they still share its memory, as in PyTorch)."""
    dim = wrap_dim(dim, input.ndim)
    sections = tuple(_split_sections(input, split_size, dim))
    return (UnsafeSplit if isinstance(split_size, int) else UnsafeSplitWithSizes).apply(input, sizes=sections,
                                                                                          dim=dim)


@export(method=True)
def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return unsafe_split(input, list(split_sizes), dim)


@export(method=True)
def unsafe_chunk(input, chunks, dim=0):
    dim, step = _chunk_step(input, chunks, dim)
    if not input.shape[dim]:
        return UnsafeSplitWithSizes.apply(input, sizes=(0,) * chunks, dim=dim)
    return unsafe_split(input, step, dim)


# --- metadata: ember keeps no lazy conjugate or negative bits ---------------------------------------------

@export(method=True)
def is_nonzero(input):
    """bool(input) for a one-element tensor."""
    if input.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


@export(method=True)
def is_same_size(input, other):
    return input.shape == other.shape


@export(method=True)
def resolve_conj(input):
    """input itself: conj() already materialises."""
    return input


@export(method=True)
def resolve_neg(input):
    return input


@export(method=True)
def is_conj(input):
    return False


@export(method=True)
def is_neg(input):
    return False


def new(self, *args, device=None):
    """Legacy constructor in self's dtype: new() is empty, new(*sizes) uninitialised, new(tensor) an alias
    of it, new(data) a copy of a sequence."""
    from .creation import empty, tensor
    device = self._device if device is None else device
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype is not self.dtype:
            raise TypeError(f"new(): expected a tensor of dtype {self.dtype}, got {args[0].dtype}")
        return basic_index(args[0], (Ellipsis,))
    if not args or isinstance(args[0], Size) or all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return empty(*(args or (0,)), dtype=self.dtype, device=device)
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return tensor(args[0], dtype=self.dtype, device=device)
    raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")


export_method(new)


# --- in-place metadata ops: t_, transpose_, squeeze_, unsqueeze_, swapdims_ ------------------------------

def _restride_inplace(name, view_fn):
    """self takes the layout (and the history) of a view of itself, like PyTorch's t_() and friends."""
    def inplace(self, *args, **kwargs):
        from .inplace import check_inplace
        check_inplace(self, name)
        out = view_fn(self, *args, **kwargs)
        self._array = out._array
        if out.grad_fn is not None:
            self.grad_fn, self._out_nr = out.grad_fn, out._out_nr
        self._bump_version()
        return self
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = f"In-place version of {view_fn.__name__}(): changes self's shape and strides."
    return export_method(inplace, name)


for _name, _fn in (("t_", t), ("transpose_", transpose), ("swapdims_", transpose), ("swapaxes_", transpose),
                   ("squeeze_", squeeze), ("unsqueeze_", unsqueeze)):
    _restride_inplace(_name, _fn)
