"""Views that reshape or reorder the dims of their input: view/reshape, flatten/unflatten, permute, transpose,
t, movedim, expand/broadcast_to, squeeze/unsqueeze, atleast_*d, view_as_real/view_as_complex, and the in-place
t_/transpose_/squeeze_/unsqueeze_; also contiguous and the metadata queries (is_conj, is_same_size ...). View ops
return tensors that share memory with their input; `_as_view` links the version counter and records how to
rebuild the view from its base (used when a view is modified in place). Views of a part of the input (indexing,
narrow, diagonal, as_strided, unfold) are in slicing.py.
"""
import math
import operator

from .._backends import STRIDED as _STRIDED
from .. import _dtype as _dt, _memory_format as _mf
from .._layout import strided as _strided
from .._tensor import Size, Tensor, VersionCounter, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from ._registry import export, export_method
from ._shapes import broadcast_shapes, infer_size, normalize_dims, wrap_dim
from ..amp._dispatch import AUTOCAST, autocast_run


def _as_view(out, input, view_fn):
    """Mark `out` as a view of `input`: shared version counter, base, and a replay function.

    Note [views]: as in PyTorch, a view's autograd state is its own plus its base's (`_base`, always the root):
      - requires grad: its own `_requires_grad` (requires_grad_(), or a grad_fn) or its base's. Ops test both
        (Op.apply), so a view made under no_grad, or before its base required grad, records the ops it enters,
        with no edge to it (PyTorch's edge for it is invalid too): nothing is copied into the view, so that
        base.detach_() or base.requires_grad_(False) takes effect on its views.
      - grad_fn: its node, regenerated from the base's history after an in-place change of the base or of
        another view of it (Note [stale views] in autograd/graph.py). The node remembers the version it was
        recorded at; a view without a node keeps the version it was made at as _extra["view_version"] (none
        kept: version 0).
      - how it was made (PyTorch's CreationMeta): in grad mode by a single-output view op, it has
        _extra["view_fn"], the replay of the whole chain of views from the base, used to regenerate its node
        and to record an in-place op on it (CopySlices); made in no_grad mode (or as a view of such a view) it
        has none; split/unbind/chunk outputs made in grad mode (and views of them) are marked
        "multi_output_view". Only the first kind may get new history: autograd/graph.py check_view_rebase
        refuses the others with PyTorch's messages.
    """
    base = input._base if input._base is not None else input
    vc = input._vc
    if vc is None:
        vc = input._vc = VersionCounter()
    out._vc = vc
    out._base = base
    parent_extra = input._extra
    if not _State.grad_enabled or input._base is not None and (parent_extra is None or "view_fn" not in parent_extra):
        # made in no_grad mode, or a view of such a view: no replay. The version it was made at tells when its
        # base changed in place since (then PyTorch refuses it where it would regenerate its node); version 0 is
        # not stored, sparing the common no_grad view of an unmodified plain tensor a dict.
        if vc.value:
            out._extra_dict()["view_version"] = vc.value
        if _State.grad_enabled and parent_extra is not None and "multi_output_view" in parent_extra:
            out._extra_dict()["multi_output_view"] = True
        return out
    parent = parent_extra.get("view_fn") if parent_extra is not None else None
    fn = view_fn if parent is None else (lambda b, p=parent, f=view_fn: f(p(b)))
    extra = out._extra
    if extra is None:
        extra = out._extra = {"view_fn": fn}
    else:
        extra["view_fn"] = fn
    if out._grad_fn is None and vc.value:
        extra["view_version"] = vc.value
    if parent_extra is not None and "multi_output_view" in parent_extra:
        extra["multi_output_view"] = True          # a view of such a view inherits the restriction
    return out


def _shape_arg(shape, name="view", arg="size", keyword=None):
    """Sizes (or dims) as PyTorch takes them: f(2, 3), f((2, 3)), f([2, 3]), f(Size), f(0-d int tensor), or by
    keyword (f(size=...)); each an int by __index__ (NumPy ints, int tensors), never a bool or a float."""
    if keyword is not None:
        if shape:
            raise TypeError(f"{name}() got multiple values for argument '{arg}'")
        shape = (keyword,)
    if len(shape) == 1 and not isinstance(shape[0], int):
        only = shape[0]
        shape = (only,) if getattr(only, "ndim", None) == 0 or not hasattr(only, "__iter__") else only
    out = []
    for i, s in enumerate(shape):
        if s.__class__ is not int:
            try:
                if isinstance(s, bool):
                    raise TypeError
                s = operator.index(s)
            except TypeError:
                raise TypeError(f"{name}(): argument '{arg}' failed to unpack the object at pos {i + 1} with error "
                                f"\"type must be tuple of ints,but got {type(s).__name__}\"") from None
        out.append(s)
    return tuple(out)


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
        if not input.flags.c_contiguous and not _viewable(input, shape):
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) "
                               "instead.")
        return input.reshape(shape)     # then a view (the method: np.reshape adds a Python layer)

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
def view(input, *shape, size=None, dtype=None):
    """Same data, new shape; fails (suggesting reshape) when the strides cannot express it."""
    if dtype is not None and not shape and size is None:
        shape = (dtype,)
    if len(shape) == 1 and isinstance(shape[0], (_dt.dtype, str, type)):      # view(dtype), view(float)
        return _view_dtype(input, shape[0])
    target = _exact_shape(shape, input._array.size) if len(shape) > 1 else None
    shape = target or infer_size(_shape_arg(shape, "view", "size", size), input._array.size)
    out = View.apply_binary(input, shape)             # one Tensor and the shape (Note [apply fast path])
    return _as_view(out, input, lambda b: b.view(shape))


@export(method=True)
def reshape(input, *sizes, shape=None):
    """A view when the layout allows, otherwise a copy."""
    target = _exact_shape(sizes, input._array.size) if len(sizes) > 1 else None
    return _reshape_to(input, target or infer_size(_shape_arg(sizes, "reshape", "shape", shape), input._array.size))


def _reshape_to(input, shape):
    """reshape to `shape`, a tuple of Python ints with input's element count."""
    a = input._array
    if a.flags.c_contiguous or _viewable(a, shape):
        out = View.apply_binary(input, shape)
        return _as_view(out, input, lambda b: b.reshape(shape))
    return ReshapeCopy.apply(input, shape)


def _viewable(array, shape):
    """Whether `array` reshaped to `shape` can share its memory (then reshape is a view, as in PyTorch)."""
    if array.size <= 1 or array.ndim == 0:
        return True
    return _view_strides(array.shape, array.strides, shape) is not None


def _view_strides(old_shape, old_strides, new_shape):
    """The strides of old reshaped to new_shape without a copy, or None when no such strides exist.

    Going from the last dim to the first, old's dims fall into chunks that are contiguous with each other
    (stride[d-1] == size[d] * stride[d]); the new dims must then split each chunk exactly, and inside a chunk
    they get strides counted from the chunk's innermost stride. Size-1 new dims may sit anywhere."""
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base_stride = old_strides[-1]
    chunk_numel = view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        chunk_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != chunk_numel * base_stride):
            while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != chunk_numel:
                return None
            if d > 0:
                base_stride = old_strides[d - 1]
                chunk_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


@export(public=False)                  # a Tensor method only, as in PyTorch
def view_as(input, other):
    return view(input, other.shape)


@export(public=False)                  # a Tensor method only, as in PyTorch
def reshape_as(input, other):
    return reshape(input, other.shape)


@export(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    shape = input._array.shape                    # the array's plain tuple: slicing a Size costs ~0.5 us a slice
    ndim = len(shape)
    if ndim == 0:
        return reshape(input, (1,))
    start, end = wrap_dim(start_dim, ndim), wrap_dim(end_dim, ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:                              # nothing to merge: PyTorch returns input itself
        return input
    return _reshape_to(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


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
def permute(input, *args, dims=None):
    dims = _shape_arg(args, "permute", "dims", dims)
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
        from .slicing import basic_index
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


@export(public=False)                  # a Tensor method only, as in PyTorch
def expand(input, *sizes, size=None):
    sizes = _shape_arg(sizes, "expand", "size", size)
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


@export(public=False)                  # a Tensor method only, as in PyTorch
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
    elif isinstance(dim, (tuple, list)) and not dim:
        dims = ()                                   # squeeze(x, ()): no dim named, nothing squeezed (PyTorch)
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
        if input.__class__ not in _STRIDED or input.flags.c_contiguous or not input.ndim:
            return ctx.xp.expand_dims(input, dim)
        # PyTorch's stride for the new dim: size * stride of the dim it goes before (1 element at the end), where
        # NumPy's reshape would pick another (x.t().unsqueeze(2))
        strides = input.strides
        new = strides[dim] * input.shape[dim] if dim < input.ndim else input.itemsize
        return ctx.xp.lib.stride_tricks.as_strided(input, input.shape[:dim] + (1,) + input.shape[dim:],
                                                   strides[:dim] + (new,) + strides[dim:])

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


@export(public=False)                  # a Tensor method only, as in PyTorch
def contiguous(input, *, memory_format=_mf.contiguous_format):
    """input itself when it is contiguous in memory_format, else a copy that is (a channels_last copy of
    a 4-d tensor: Note [memory formats])."""
    if memory_format is not _mf.contiguous_format:
        _mf.check_type(memory_format, "contiguous")
        if input.is_contiguous(memory_format=memory_format):
            return input
        if memory_format is _mf.preserve_format:
            raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
        if input.layout is not _strided:
            raise RuntimeError(f"unsupported memory format option {_mf.cpp_name(memory_format)}")
        _mf.check_rank(memory_format, input.ndim)
        return input.clone(memory_format=memory_format)
    if input.is_contiguous():
        return input
    return input.clone(memory_format=_mf.contiguous_format)


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
    if "view_as_complex" in AUTOCAST:
        return autocast_run("view_as_complex", view_as_complex, input)
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
    from .slicing import basic_index
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
        check_inplace(self, name, overlap=False)      # only metadata changes: an expanded self is fine
        out = view_fn(self, *args, **kwargs)
        self._array = out._array
        node = out._grad_fn
        if node is not None:
            self._grad_fn, self._out_nr = node, out._out_nr
        if self._base is not None and out._extra is not None and "view_fn" in out._extra:
            self._extra["view_fn"] = out._extra["view_fn"]     # its replay from the base ends with this op now
        self._bump_version()
        if node is not None:
            node._in_version = self._vc.value          # the node is current: no regeneration (Note [stale views])
        elif self._base is not None:
            self._extra_dict()["view_version"] = self._vc.value
        return self
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = f"In-place version of {view_fn.__name__}(): changes self's shape and strides."
    return export_method(inplace, name)


for _name, _fn in (("t_", t), ("transpose_", transpose), ("swapdims_", transpose), ("swapaxes_", transpose),
                   ("squeeze_", squeeze), ("unsqueeze_", unsqueeze)):
    _restride_inplace(_name, _fn)
