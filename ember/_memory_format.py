"""Memory formats: the memory_format class and its four instances, and PyTorch's rules on layouts.

Note [memory formats]: a Tensor's storage is a backend array whose strides are the tensor's strides, so a
channels_last tensor is an NCHW-shaped array whose memory runs NHWC (the transposed view of an NHWC array;
NDHWC for channels_last_3d) and stride(), is_contiguous(memory_format=...) and save() read it from the
array. Where a layout goes, as PyTorch 2.13 on the CPU decides it:
- elementwise ops: NumPy's order='K' lays an output out like a single operand, as PyTorch's TensorIterator
  does. With several operands NumPy lets C order win a conflict where PyTorch lets the first operand decide,
  so the elementwise binary ops call `iterator_layout` when their first operand is not C-contiguous;
- conv (2-d; 3-d in float32/bfloat16), max/avg/adaptive pooling (2-d; max_pool3d too), batch and group norm,
  upsampling, constant/reflection/replication padding, cat and the pixel/channel shuffles lay their output
  out in the format the input's strides suggest (`suggest`, PyTorch's suggest_memory_format), conv also when
  only the weight is channels-last: `keep_format` re-lays a result out by one transposed copy (conv writes
  its output into NHWC memory directly);
- reductions and softmax give contiguous results whatever the input's layout (`reduced`);
- a leaf's .grad has the leaf's strides (PyTorch's AccumulateGrad layout contract, `grad_layout`, used by
  autograd/engine.py), so input.grad and the parameters' grads of a channels-last model are channels-last.
Each check costs one flag test on the C-contiguous path; the layout work runs only past it.
"""
import numpy as np

from ._backends import strided_module

__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last", "channels_last_3d"]


class memory_format:
    """PyTorch's memory formats: ember.contiguous_format, preserve_format, channels_last, channels_last_3d."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name                           # the module-level instance of that name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

# The dims of a channels-last tensor from innermost to outermost in memory: C, then W, H (D), then N.
_INNER_FIRST = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}
_RANK = {channels_last: 4, channels_last_3d: 5}


def cpp_name(fmt):
    """The name PyTorch's C++ messages give a format (ChannelsLast ...)."""
    return {"contiguous_format": "Contiguous", "preserve_format": "Preserve", "channels_last": "ChannelsLast",
            "channels_last_3d": "ChannelsLast3d"}[fmt.name]


def check_type(value, fn):
    """PyTorch's TypeError for a memory_format argument that is not one (None included)."""
    if value.__class__ is not memory_format:
        raise TypeError(f"{fn}(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(value).__name__}")


def check_rank(fmt, ndim):
    """PyTorch's RuntimeError for channels_last on a tensor that is not 4-d (channels_last_3d: 5-d)."""
    rank = _RANK.get(fmt)
    if rank is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt.name} format")


def element_strides(array):
    itemsize = array.dtype.itemsize
    return tuple(s // itemsize for s in array.strides)


def is_contiguous_as(shape, strides, fmt):
    """Whether shape/strides (in elements) are contiguous in fmt; size-1 dims may have any stride, as in
    PyTorch. preserve_format reads as contiguous_format (PyTorch's is_contiguous does the same)."""
    rank = _RANK.get(fmt)
    if rank is None:
        order = range(len(shape) - 1, -1, -1)
    elif len(shape) != rank:
        return False
    else:
        order = _INNER_FIRST[rank]
    expected = 1
    for d in order:
        size = shape[d]
        if size != 1:
            if strides[d] != expected:
                return False
            expected *= size
    return True


def _strides_like_channels_last(shape, strides):
    """PyTorch's is_channels_last_strides_2d/3d: whether strides order the dims C, W, H(, D), N from
    innermost out (not necessarily densely). Ambiguous cases (size-1 dims, N111) fall back to NCHW."""
    if strides[1] == 0:
        return False
    smallest = 0
    for d in _INNER_FIRST[len(shape)]:
        size = shape[d]
        if size == 0 or strides[d] < smallest:
            return False
        if d == 0 and smallest == strides[1]:
            return False
        smallest = strides[d] * size if size > 1 else strides[d]
    return True


def suggest(array):
    """PyTorch's suggest_memory_format: channels_last(_3d) when a 4-d (5-d) array's strides order its dims
    as that format does, else contiguous_format."""
    ndim = array.ndim
    if (ndim == 4 or ndim == 5) and _strides_like_channels_last(array.shape, element_strides(array)):
        return channels_last if ndim == 4 else channels_last_3d
    return contiguous_format


def empty(shape, np_dtype, xp, fmt):
    """An uninitialised array of `shape` contiguous in fmt (contiguous_format or a channels-last one,
    whose rank the caller has checked), with PyTorch's strides: a zero-size channels-last array gets the
    strides PyTorch computes without clamping sizes to 1."""
    rank = _RANK.get(fmt)
    if rank is None:
        return xp.empty(shape, dtype=np_dtype)
    nhwc = xp.empty((shape[0], *shape[2:], shape[1]), dtype=np_dtype)
    out = nhwc.transpose(0, rank - 1, *range(1, rank - 1))
    if 0 in shape and strided_module(out) is xp:
        strides, step = [0] * rank, out.itemsize
        for d in _INNER_FIRST[rank][:-1]:
            strides[d] = step
            step *= shape[d]
        strides[0] = step
        out = xp.lib.stride_tricks.as_strided(out, shape, strides)
    return out


def format_strides(shape, fmt):
    """The strides (in elements) PyTorch gives a new tensor of shape contiguous in fmt (size-1 dims
    included: they take the stride the dims inside them span)."""
    rank = _RANK.get(fmt)
    strides = [0] * len(shape)
    step = 1
    if rank is None:
        for d in range(len(shape) - 1, -1, -1):
            strides[d] = step
            step *= max(shape[d], 1)
    else:
        for d in _INNER_FIRST[rank]:
            strides[d] = step
            step *= shape[d]
    return tuple(strides)


def as_format(array, fmt, xp):
    """array with the strides of a new tensor contiguous in fmt: the array itself when it has them, else
    one copy. (A zero-size array keeps NumPy's zero strides for contiguous_format.)"""
    if element_strides(array) == format_strides(array.shape, fmt) or (array.size == 0 and fmt is contiguous_format):
        return array
    out = empty(array.shape, array.dtype, xp, fmt)
    out[...] = array
    return out


def keep_format(out, input, weight=None):
    """out laid out in the format input's strides suggest (or weight's, for conv: either channels-last
    operand makes a channels-last output), as PyTorch's conv, pooling and normalization kernels allocate
    their outputs. The C-contiguous path costs two flag tests."""
    if input.flags.c_contiguous and out.flags.c_contiguous and (weight is None or weight.flags.c_contiguous):
        return out
    xp = np if out.__class__ is np.ndarray else strided_module(out)
    if out.ndim != input.ndim or xp is None:
        return out
    fmt = suggest(input)
    if fmt is contiguous_format and weight is not None:
        fmt = suggest(weight) if weight.ndim == out.ndim else contiguous_format
    return as_format(out, fmt, xp)


def _iterator_perm(shape, operand_strides):
    """The order (outermost first) PyTorch's TensorIterator lays out an elementwise output of `shape` in,
    from its operands' strides (broadcast dims read as stride 0): an insertion sort of the dims from the
    innermost of a contiguous tensor outwards, where the first operand with two nonzero, different strides
    decides, and at equal strides a larger size moves out. The same rule as creation.layout_order, over
    several operands."""
    ndim = len(shape)
    perm = list(range(ndim - 1, -1, -1))           # innermost first
    for i in range(1, ndim):
        moving = i
        for j in range(i - 1, -1, -1):
            inner, outer = perm[j], perm[moving]
            swap = 0
            for strides in operand_strides:
                s_inner, s_outer = strides[inner], strides[outer]
                if s_inner == 0 or s_outer == 0:
                    continue
                if s_inner < s_outer:
                    swap = -1
                    break
                if s_inner > s_outer or shape[inner] > shape[outer]:
                    swap = 1
                    break
            if swap < 0:
                break
            if swap:                               # ambiguous (0): compare with the next dim further out
                perm[j], perm[moving] = outer, inner
                moving = j
    perm.reverse()
    return perm


def _broadcast_strides(array, shape):
    """array's element strides against the broadcast shape: 0 for new and broadcast dims."""
    lead = len(shape) - array.ndim
    strides = [0] * lead
    itemsize = array.dtype.itemsize
    for size, full, stride in zip(array.shape, shape[lead:], array.strides):
        strides.append(0 if size == 1 and full != 1 else stride // itemsize)
    return strides


def iterator_layout(out, *operands):
    """out (an elementwise result NumPy laid out) laid out as PyTorch's TensorIterator lays it out for
    these operands (arrays or scalars, in the op's order): the first operand's order wins a conflict.
    Called when the first operand is not C-contiguous; one copy when the layouts differ."""
    cls = out.__class__
    xp = np if cls is np.ndarray else strided_module(out)
    if xp is None or out.ndim < 2:
        return out
    shape = out.shape
    first = operands[0]
    if first.shape == shape and element_strides(first) == element_strides(out):
        return out                                 # NumPy followed the first operand (the usual case)
    arrays = [a for a in operands if a.__class__ is cls and a.ndim]
    if all(a.shape == shape for a in arrays):      # PyTorch's fast setup: same shapes, one shared format
        strides = [element_strides(a) for a in arrays]
        for fmt in (contiguous_format, channels_last, channels_last_3d):
            if is_contiguous_as(shape, strides[0], fmt) and all(is_contiguous_as(shape, s, fmt) for s in strides[1:]):
                return as_format(out, fmt, xp)
    perm = _iterator_perm(shape, [_broadcast_strides(a, shape) for a in arrays])
    if is_contiguous_as([shape[d] for d in perm], [element_strides(out)[d] for d in perm], contiguous_format):
        return out
    laid = xp.empty([shape[d] for d in perm], dtype=out.dtype)
    inverse = [0] * len(perm)
    for position, d in enumerate(perm):
        inverse[d] = position
    laid = laid.transpose(inverse)
    laid[...] = out
    return laid


def keep_format_tensor(out, input):
    """keep_format for a composite op (interpolate, pad, the pixel shuffles ...), whose last primitive does
    not see the composite's input: out laid out in the format input's strides suggest. A fresh result gets
    its array replaced (the same values: what a node saved of it stays valid); a view is copied."""
    a, o = input._array, out._array
    if (a.__class__ is not np.ndarray and strided_module(a) is None) or (a.flags.c_contiguous and o.flags.c_contiguous):
        return out
    laid = keep_format(o, a)
    if laid is o:
        return out
    if out._base is None and out is not input:
        out._array = laid
        return out
    return out.contiguous(memory_format=suggest(a))


def reduced(out, xp):
    """A reduction's result as PyTorch allocates it: contiguous, whatever the input's layout (NumPy's
    reductions follow a non-contiguous input's dim order). Called when the input is not C-contiguous."""
    if not out.ndim or (out.__class__ is not np.ndarray and strided_module(out) is None):
        return out
    return as_format(out, contiguous_format, xp)


def _non_overlapping_and_dense(shape, strides):
    """PyTorch's is_non_overlapping_and_dense: the dims (size-1 ones aside), ordered by stride, tile memory
    with no gap and no overlap."""
    expected = 1
    for stride, size in sorted((s, n) for n, s in zip(shape, strides) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def grad_layout(grad, variable):
    """PyTorch's layout contract for a leaf's .grad (AccumulateGrad): a non-overlapping and dense leaf's
    .grad has its strides (size-1 dims aside), any other leaf's is contiguous. None when grad keeps it as it
    is, else an empty array laid out as the stored .grad must be (the engine copies grad into it). Called
    when grad or variable is not C-contiguous."""
    cls = grad.__class__
    xp = np if cls is np.ndarray else strided_module(grad)
    if xp is None or variable.__class__ is not cls or grad.shape != variable.shape:
        return None
    shape = grad.shape
    strides = element_strides(variable)
    if not _non_overlapping_and_dense(shape, strides):
        return None if grad.flags.c_contiguous else xp.empty(shape, dtype=grad.dtype)
    if all(g == v or (n == 1 and g != 0) for n, g, v in zip(shape, element_strides(grad), strides)):
        return None
    perm = _iterator_perm(shape, [strides])
    out = xp.empty([shape[d] for d in perm], dtype=grad.dtype)
    inverse = [0] * len(perm)
    for position, d in enumerate(perm):
        inverse[d] = position
    return out.transpose(inverse)
