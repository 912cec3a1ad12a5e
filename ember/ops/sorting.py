"""sort, argsort, topk, kthvalue, unique, searchsorted, bincount, histc, isclose/allclose/equal."""

from .. import _dtype as _dt, _memory_format as _mf
from .._tensor import Tensor, _make
from ._common import nodiff, not_a_tensor, return_type
from ._registry import export
from ._shapes import wrap_dim

sort_result = return_type("sort")
topk_result = return_type("topk")
kthvalue_result = return_type("kthvalue")


def _sort_indices(xp, a, dim, descending, stable=True):
    if descending:
        # stable descending order: sort the reversed array ascending by negated keys is wrong for
        # unsigned/bool; instead reverse a stable ascending sort of the flipped array.
        n = a.shape[dim]
        flipped = xp.flip(a, axis=dim)
        idx = xp.argsort(flipped, axis=dim, kind="stable")
        idx = xp.flip(idx, axis=dim)
        return (n - 1 - idx)
    return xp.argsort(a, axis=dim, kind="stable")


@export(method=True)
def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values and their indices (NaN sorts as the largest value, like PyTorch)."""
    from .scatter_gather import gather_at_indices
    dim, indices = _sort_indices_of(input, dim, descending)
    indices = _laid_like(indices, input)
    return sort_result(_laid_like(gather_at_indices(input, dim, indices, "SortBackward0"), input), indices)


def _laid_like(out, input):
    """A fresh result of a sort along a dim of input, laid out in input's dim order when input is dense but not
    C-contiguous (a transpose, channels_last), as PyTorch allocates sort's outputs (empty_like). Its array is
    replaced by a copy with the same values, so what a node saved of it stays valid."""
    a, o = input._array, out._array
    if o.ndim < 2 or _mf.strided_module(a) is None or a.flags.c_contiguous or \
            not _mf._non_overlapping_and_dense(a.shape, _mf.element_strides(a)):
        return out
    out._array = _mf.iterator_layout(o, a)
    return out


def _sort_indices_of(input, dim, descending, at=None):
    """(the wrapped dim, the int64 indices that sort input along it); `at` (a slice, or an int that drops the
    dim) picks positions of them, contiguous. A 0-d input is its own sort, at 0."""
    if input.ndim == 0:
        wrap_dim(dim, 0)
        return 0, _make(input._backend().xp.zeros((), dtype="int64"), input._device)
    d = wrap_dim(dim, input.ndim)

    def fn(xp, a):
        idx = _sort_indices(xp, a, d, descending).astype(xp.int64)
        if at is not None:
            idx = xp.array(idx[(slice(None),) * d + (at,)])        # a copy, C-contiguous
        return idx
    return d, nodiff(fn, input)


@export(method=True)
def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


@export(method=True)
def msort(input):
    return sort(input, 0).values


@export(method=True)
def topk(input, k, dim=-1, largest=True, sorted=True):
    from .scatter_gather import gather_at_indices
    d = wrap_dim(dim, input.ndim)
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k={k}, size of dim {d} is {size})")
    _, indices = _sort_indices_of(input, d, largest, slice(0, k))
    return topk_result(gather_at_indices(input, d, indices, "TopkBackward0"), indices)


@export(method=True)
def kthvalue(input, k, dim=-1, keepdim=False):
    d = wrap_dim(dim, input.ndim)
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {d} (k={k}, size {size})")
    from .scatter_gather import gather_at_indices
    _, indices = _sort_indices_of(input, d, False, slice(k - 1, k) if keepdim else k - 1)
    return kthvalue_result(gather_at_indices(input, d, indices, "KthvalueBackward0", squeeze=not keepdim),
                           indices)


@export(method=True)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    def fn(xp, a):
        if dim is None:
            values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
            inverse = inverse.reshape(a.shape)
        else:
            values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                                axis=wrap_dim(dim, a.ndim))
            inverse = inverse.reshape(-1)
        return values, inverse.astype(xp.int64), counts.astype(xp.int64)
    values, inverse, counts = nodiff(fn, input)
    out = [values]
    if return_inverse:
        out.append(inverse)
    if return_counts:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


@export(method=True)
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    def fn(xp, a):
        flat = a.reshape(-1)
        if flat.size == 0:
            return flat, xp.zeros(a.shape, xp.int64), xp.zeros(0, xp.int64)
        change = xp.concatenate([[True], flat[1:] != flat[:-1]])
        values = flat[change]
        inverse = (xp.cumsum(change) - 1).reshape(a.shape)
        starts = xp.nonzero(change)[0]
        counts = xp.diff(xp.concatenate([starts, [flat.size]]))
        return values, inverse.astype(xp.int64), counts.astype(xp.int64)
    values, inverse, counts = nodiff(fn, input)
    out = [values] + ([inverse] if return_inverse else []) + ([counts] if return_counts else [])
    return out[0] if len(out) == 1 else tuple(out)


@export(method=False)
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    if side is not None:
        right = side == "right"
    if not isinstance(input, Tensor):
        from .creation import tensor
        input = tensor(input, dtype=sorted_sequence.dtype)
    side_name = "right" if right else "left"

    def fn(xp, seq, values):
        if seq.ndim == 1:
            out = xp.searchsorted(seq, values, side=side_name)
        else:
            lead = seq.shape[:-1]
            flat_seq = seq.reshape(-1, seq.shape[-1])
            flat_val = values.reshape(-1, values.shape[-1])
            out = xp.stack([xp.searchsorted(s, v, side=side_name) for s, v in zip(flat_seq, flat_val)])
            out = out.reshape(lead + (values.shape[-1],))
        return out.astype(xp.int32 if out_int32 else xp.int64)
    return nodiff(fn, sorted_sequence, input)


@export(method=False)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@export(method=True)
def bincount(input, weights=None, minlength=0):
    if input.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if input.dtype.category != _dt.INT:
        raise RuntimeError(f"\"bincount_cpu\" not implemented for '{input.dtype.name}'")
    if input.numel() and int(input._array.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return nodiff(lambda xp, a: xp.bincount(a, minlength=minlength).astype(xp.int64), input)
    wdtype = weights.dtype if weights.dtype.category >= _dt.FLOAT else _dt.float64
    return nodiff(lambda xp, a, w: xp.bincount(a, weights=w, minlength=minlength).astype(
        wdtype.numpy if wdtype is not _dt.float32 else xp.float32), input, weights)


@export(method=True)
def histc(input, bins=100, min=0, max=0):
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.dtype.name}'")

    def fn(xp, a):
        lo, hi = float(min), float(max)
        if lo == hi and a.size:
            lo, hi = float(a.min()), float(a.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        counts, _ = xp.histogram(a, bins=bins, range=(lo, hi))
        return counts.astype(a.dtype)
    return nodiff(fn, input)


def _two_tensors(name, input, other):
    """PyTorch's TypeError for an operand that is not a tensor (a number or a list)."""
    for position, value in ((1, input), (2, other)):
        if not isinstance(value, Tensor):
            raise not_a_tensor(name, value, position)


@export(method=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _two_tensors("isclose", input, other)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    from .comparison import _elementwise
    return _elementwise("isclose", lambda xp, a, b: xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
                        input, other)


@export(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _two_tensors("allclose", input, other)
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@export(method=True)
def equal(input, other):
    _two_tensors("equal", input, other)
    if input.shape != other.shape:
        return False
    return bool(nodiff(lambda xp, a, b: xp.asarray(xp.array_equal(a, b)), input, other).item())


@export(method=False)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of `elements` occurs in `test_elements` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments - got two numbers, but expected at "
                        "least one Tensor")
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and (t.dtype is _dt.bool_ or t.dtype.is_complex):
            raise RuntimeError(f"Unsupported input type encountered for isin(): {_dt.scalar_type_name(t.dtype)}")
    return nodiff(lambda xp, a, b: xp.isin(a, b, assume_unique=assume_unique, invert=invert),
                  elements, test_elements)


@export(method=False)
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a vector: columns x**(N-1), ..., x**0 (reversed when increasing)."""
    from ._common import cast
    from .joining import cat
    from ..amp._dispatch import AUTOCAST, run_without_autocast
    if AUTOCAST:                                     # one kernel in PyTorch: its cat is ember's own
        return run_without_autocast(vander, x, N, increasing)
    from .scan import cumprod
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x.dtype.category < _dt.FLOAT:
        x = cast(x, _dt.int64)                   # integer and bool inputs give int64 powers, as in PyTorch
    if n == 0:
        return x.new_empty((x.shape[0], 0))
    # running products of [1, x, x, ...]: differentiable, and exact for integers
    powers = cumprod(cat([x.new_ones((x.shape[0], 1)), x.unsqueeze(1).expand(-1, n - 1)], 1), 1)
    return powers if increasing else powers.flip(1)
