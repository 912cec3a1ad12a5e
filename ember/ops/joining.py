"""Joining and splitting tensors: cat/stack (and hstack/vstack/dstack/column_stack), split/chunk/unbind/
tensor_split (and hsplit/vsplit/dsplit, the unsafe_* splits), and the grids and combinations built from several
vectors: meshgrid, cartesian_prod, combinations, block_diag.
"""
import itertools

from .. import _dtype as _dt, _memory_format as _mf
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ..sparse._coo_array import SparseCOOArray as _SparseCOO
from ._common import cast
from ._registry import export
from ._shapes import wrap_dim
from .slicing import narrow
from .views import _as_view, atleast_1d, unsqueeze
from ..amp._dispatch import AUTOCAST, autocast_run, run_without_autocast


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
        if _State.grad_enabled:
            # PyTorch refuses in-place ops on these (Note [multi-output views] in inplace.py), with or without
            # history (made under no_grad they are views made in no_grad mode instead: Note [views] in views.py)
            piece._extra_dict()["multi_output_view"] = True
        out.append(piece)
        start += 1 if size is None else size
    return tuple(out)


@export(method=True)
def unbind(input, dim=0):
    dim = wrap_dim(dim, input.ndim)
    n = input.shape[dim]
    if not n:
        return ()
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
    if not tensor.ndim:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = wrap_dim(dim, tensor.ndim)
    sections = _split_sections(tensor, split_size_or_sections, dim)
    op = Split if isinstance(split_size_or_sections, int) else SplitWithSizes
    return _split_views(op, tensor, dim, sections, sizes=tuple(sections))


@export(method=True)
def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


@export(method=True)
def chunk(input, chunks, dim=0):
    if not input.ndim:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
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
    if not input.ndim:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
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
    def forward(ctx, *arrays, dim, skipped=None):
        ctx.dim = dim
        ctx.skipped = skipped
        if skipped is not None:                   # legacy 1-d empty inputs: in the graph, not in the result
            arrays = [a for a, skip in zip(arrays, skipped) if not skip] or arrays     # (all of them: empty)
        ctx.sizes = [a.shape[dim] for a in arrays]
        out = ctx.xp.concatenate(arrays, axis=dim)      # (sparse operands: their storage's concatenate)
        if out.__class__ is not _SparseCOO and not arrays[0].flags.c_contiguous:
            # PyTorch's cat keeps a channels-last format all its inputs' strides suggest (Note [memory formats])
            fmt = _mf.suggest(arrays[0])
            if fmt is not _mf.contiguous_format and all(_mf.suggest(a) is fmt for a in arrays[1:]):
                return _mf.as_format(out, fmt, ctx.xp)
        # PyTorch's cat is C-contiguous (NumPy may follow a transposed input): it decides later .view()s
        return out if out.flags.c_contiguous or out.__class__ is _SparseCOO else ctx.xp.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        skipped = ctx.skipped
        if skipped is None:
            return split(grad, ctx.sizes, ctx.dim)
        # PyTorch hands a legacy 1-d empty input zeros of size 0 (no history), whether or not it was skipped
        parts = iter(split(grad, ctx.sizes, ctx.dim) if not all(skipped) else ())
        empty = grad._backend().xp.zeros(0, dtype=grad._array.dtype)
        return tuple([_make(empty, grad._device) if skip else next(parts) for skip in skipped])


@export(method=False, aliases=("concat", "concatenate"))
def cat(tensors, dim=0, *, out=None):
    """Join tensors along an existing dim; every other dim must match (errors name the tensors)."""
    if "cat" in AUTOCAST and out is None and not isinstance(tensors, Tensor):
        return autocast_run("cat", cat, list(tensors), dim)
    if isinstance(tensors, Tensor):
        raise TypeError("cat() received an invalid combination of arguments - got (Tensor), expected a tuple "
                        "or list of Tensors")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    # legacy rule: 1-d empty tensors are skipped (they still get a gradient: Cat.backward)
    parts = [t for t in tensors if not (t._array.ndim == 1 and t._array.shape[0] == 0)]
    all_empty = not parts
    if all_empty:
        parts = tensors
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
    if len(parts) != len(tensors):                 # the skipped ones take part in the type promotion
        for t in tensors:
            if t.dtype is not dtype and t.ndim == 1 and t.shape[0] == 0:
                dtype = _dt.promote_types(dtype, t.dtype)
    if len(parts) == len(tensors):
        skipped = (True,) * len(parts) if all_empty else None
        result = Cat.apply(*[cast(t, dtype) for t in parts], dim=d, skipped=skipped)
    else:
        skipped = tuple(t.ndim == 1 and t.shape[0] == 0 for t in tensors)
        result = Cat.apply(*[t if skip else cast(t, dtype) for t, skip in zip(tensors, skipped)], dim=d,
                           skipped=skipped)
    if out is not None:
        from .inplace import write_out
        return write_out(out, result)
    return result


@export(method=False)
def stack(tensors, dim=0, *, out=None):
    if "stack" in AUTOCAST and out is None and not isinstance(tensors, Tensor):
        return autocast_run("stack", stack, list(tensors), dim)
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
        return out if out.flags.c_contiguous or out.__class__ is _SparseCOO else ctx.xp.ascontiguousarray(out)

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


@export(method=False)
def block_diag(*tensors):
    from .creation import zeros
    if AUTOCAST:                                     # one kernel in PyTorch: its cats are ember's own
        return run_without_autocast(block_diag, *tensors)
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    rows = sum(m.shape[0] for m in mats)
    cols = sum(m.shape[1] for m in mats)
    # PyTorch's result type over the list (a 0-d operand widens only across categories): folded pairwise, the
    # running result standing for a dimensioned operand once one has been seen
    from .. import result_type
    from .creation import empty
    acc = tensors[0]
    for t in tensors[1:]:
        acc = empty((1,) if acc.ndim or t.ndim else (), dtype=result_type(acc, t))
    dtype = acc.dtype
    out = zeros((rows, cols), dtype=dtype)
    parts = []
    c = 0
    for m in mats:
        left = zeros((m.shape[0], c), dtype=dtype)
        right = zeros((m.shape[0], cols - c - m.shape[1]), dtype=dtype)
        parts.append(cat([left, cast(m, dtype), right], 1))
        c += m.shape[1]
    return cat(parts, 0) if parts else out
