"""Shape helpers with PyTorch's errors: broadcasting, dim normalisation."""
import operator


def wrap_dim(dim, ndim, name=None):
    n = ndim if ndim > 0 else 1
    if not isinstance(dim, int):
        dim = int(dim)
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def normalize_dims(dim, ndim):
    """None -> all dims; int or sequence -> sorted tuple of non-negative dims; refuses repeats."""
    if dim.__class__ is int and -ndim <= dim < ndim:      # the usual call, one dim in range: no wrap_dim call
        return (dim + ndim if dim < 0 else dim,)
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(wrap_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
        if not ndim:                     # a 0-d tensor accepts dim 0 / -1 and has no axis to reduce
            return ()
        return tuple(sorted(dims)) if dims else tuple(range(ndim))
    dim = wrap_dim(dim, ndim)
    return (dim,) if ndim else ()


def broadcast_shapes(*shapes, op="broadcast"):
    """The broadcast of several shapes; RuntimeError naming both shapes when they cannot broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for shape in shapes:
        offset = ndim - len(shape)
        for i, size in enumerate(shape):
            current = result[offset + i]
            if size == current or size == 1:
                continue
            if current == 1:
                result[offset + i] = size
            else:
                raise RuntimeError(_mismatch_message(op, shapes, offset + i, current, size))
    return tuple(result)


def _mismatch_message(op, shapes, dim, size_a, size_b):
    # as PyTorch: a is the broadcast of the shapes before the one that does not fit, b that one
    listed = " and ".join(str(tuple(s)) for s in shapes)
    return (f"{op}: the size of tensor a ({size_a}) must match the size of tensor b ({size_b}) at "
            f"non-singleton dimension {dim}: shapes {listed} cannot be broadcast together")


def parse_shape(args):
    """size arguments as PyTorch takes them: f(2, 3), f((2, 3)), f([2, 3]), f(Size)."""
    if len(args) == 1 and not isinstance(args[0], int):
        args = args[0]
        if getattr(args, "ndim", None) == 0 or not hasattr(args, "__iter__"):
            args = (args,)
    shape = tuple(_size_int(s) for s in args)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


def parse_size(size, kwargs, fn):
    """The shape of f(2, 3) / f((2, 3)) / f([2, 3]) / f(size=(2, 3)); TypeError for another keyword."""
    if "size" in kwargs:
        if size:
            raise TypeError(f"{fn}() got multiple values for argument 'size'")
        size = (kwargs.pop("size"),)
    if kwargs:
        raise TypeError(f"{fn}() got an unexpected keyword argument '{next(iter(kwargs))}'")
    return parse_shape(size)


def _size_int(s):
    """An int size (Python/NumPy ints, integer 0-d tensors); PyTorch refuses floats with a TypeError."""
    try:
        return operator.index(s)
    except TypeError:
        raise TypeError(f"argument 'size' must be tuple of ints, but found element of type {type(s).__name__}") \
            from None


def infer_size(shape, numel):
    """Resolve one -1 in a view/reshape target; errors like PyTorch's, naming both shapes."""
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)
