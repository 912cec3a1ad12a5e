"""Statistics: var / std (and var_mean / std_mean), median / nanmedian / mode, cov / corrcoef,
quantile / nanquantile, histogram."""
import math
from builtins import max as _builtin_max

import numpy as _np

from .._backends import cpu as _cpu, errstate
from .. import _dtype as _dt
from .._memory_format import reduced
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ._common import cast, nodiff, return_type
from ._registry import export
from ._shapes import normalize_dims, wrap_dim
from .comparison import _select, where
from .reduction import MaxAll, _expand_grad, mean, sum
from .unary import sqrt
from ..amp._dispatch import AUTOCAST, autocast_run

# --- variance and standard deviation----------------------------------------------------------------

_ndarray = _np.ndarray
_add_reduce = _cpu.add_reduce
_isfinite = math.isfinite
_SMALL_WHOLE = 4096        # up to here a whole-array var sums its squares by dot (error ~n eps, in float64)

def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _var_forward(ctx, input, dims, correction, keepdim, full, root=False):
    whole = len(dims) == input.ndim
    n = input.size if whole else math.prod(input.shape[d] for d in dims)
    dof = n - correction
    ctx.dims, ctx.keepdim, ctx.divisor = dims, keepdim, dof if dof > 0 else 0
    ctx.dof, ctx.full = dof, full
    # float32 and half types accumulate in float64: the result is then correctly rounded, like PyTorch's
    work = input.astype(ctx.xp.float64) if input.itemsize < 8 else input
    if whole and not keepdim and dof > 0 and n <= _SMALL_WHOLE and input.__class__ is _ndarray and \
            input.flags.c_contiguous:
        # a small contiguous array as a whole: its mean as a number and the squares' sum by BLAS's dot (float64),
        # without errstate (~1 us): a finite sum of squares (BLAS raises no floating-point flags) means no inf or
        # NaN among the values, so that nothing below can warn; ~half the time of the path below
        flat = work.reshape(-1)
        if _isfinite(flat.dot(flat)):
            centered = flat - _add_reduce(flat, None) / n
            out = centered.dot(centered) / dof
            return ctx.xp.array(ctx.xp.sqrt(out) if root else out, input.dtype)
    with errstate(invalid="ignore", divide="ignore"):
        centered = work - work.sum(axis=dims, keepdims=True) / n if n else work
        out = (centered * centered).sum(axis=dims, keepdims=keepdim) / ctx.divisor
    if root:                                       # std: the root of the wide variance, rounded once
        out = ctx.xp.sqrt(out)
    return out.astype(input.dtype, copy=False)


def _var_backward(ctx, grad, input):
    # PyTorch's var_backward: (2 / (n - correction)) * grad * (x - mean); with no dim given and
    # n <= correction, grad * (NaN where x == mean, else +inf); with a dim, the raw n - correction
    # (a negative scale past n, although the forward clamps it at 0)
    grad = _expand_grad(grad, input.shape, ctx.dims, ctx.keepdim)
    mean = input.mean(ctx.dims, keepdim=True)
    if ctx.dof <= 0 and ctx.full:
        xp = ctx.xp
        at_mean = input._array == mean._array
        return grad * _make(xp.where(at_mean, xp.nan, xp.inf).astype(input._array.dtype), input.device)
    return grad * (2.0 / ctx.dof if ctx.dof else float("inf")) * (input - mean)


class Var(Op):
    """Variance over dims with a correction; d var / dx = 2 (x - mean) / (n - correction)."""
    @staticmethod
    def forward(ctx, input, dims, correction, keepdim, full):
        ctx.save_for_backward(input)
        out = _var_forward(ctx, input, dims, correction, keepdim, full)
        return out if input.flags.c_contiguous else reduced(out, ctx.xp)     # Note [memory formats]

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return _var_backward(ctx, grad, input), None, None, None, None


class Std(Op):
    """sqrt(var); the gradient is var's divided by 2 std."""
    @staticmethod
    def forward(ctx, input, dims, correction, keepdim, full):
        out = _var_forward(ctx, input, dims, correction, keepdim, full, root=True)
        if not input.flags.c_contiguous:           # see Note [memory formats]; PyTorch's result is contiguous
            out = reduced(out, ctx.xp)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        # PyTorch: 0 where std == 0 (a constant slice), selected so no 0 / 0 reaches the result
        grad_var = _select(out._array == 0, 0.0, grad / (out * 2))
        return _var_backward(ctx, grad_var, input), None, None, None, None

class VarMean(Op):
    """var_mean: one node for both results, saving the input (std_mean's also saves the std), as PyTorch's; a
    result that gets no gradient adds nothing (no 0 * inf)."""
    node_name = "VarMeanBackward0"

    @staticmethod
    def forward(ctx, input, dims, correction, keepdim, full, root=False):
        ctx.set_materialize_grads(False)
        ctx.root = root                            # std_mean: the first result is the std
        var = _var_forward(ctx, input, dims, correction, keepdim, full, root=root)
        ctx.count = n = math.prod(input.shape[d] for d in dims)
        work = input.astype(ctx.xp.float64) if input.dtype.itemsize < 8 else input
        with errstate(invalid="ignore", divide="ignore"):  # accumulated wide, as PyTorch's (Welford's) mean
            mean_ = (work.sum(axis=dims, keepdims=keepdim) / n).astype(input.dtype, copy=False)
        if not input.flags.c_contiguous:
            mean_ = reduced(mean_, ctx.xp)
        if not input.flags.c_contiguous:           # see Note [memory formats]; PyTorch's result is contiguous
            var = reduced(var, ctx.xp)
        if root:
            ctx.save_for_backward(input, var)
        else:
            ctx.save_for_backward(input)
        return var, mean_

    @staticmethod
    def backward(ctx, grad_var, grad_mean):
        saved = ctx.saved_tensors
        input = saved[0]
        out = None
        if grad_var is not None:
            if ctx.root:                           # as Std's: 0 where std == 0
                grad_var = _select(saved[1]._array == 0, 0.0, grad_var / (saved[1] * 2))
            out = _var_backward(ctx, grad_var, input)
        if grad_mean is not None:
            g = _expand_grad(grad_mean, input.shape, ctx.dims, ctx.keepdim) / ctx.count
            out = g if out is None else out + g
        return out, None, None, None, None


class StdMean(VarMean):
    node_name = "StdMeanBackward0"


def _var_args(input, dim, unbiased, correction, name, stacklevel=4):
    if unbiased is not None and isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"std and var only support floating point and complex dtypes, got "
                           f"{_dt.scalar_type_name(input.dtype)}")
    array = input._array
    dims, c = normalize_dims(dim, array.ndim), _correction(unbiased, correction)
    n = array.size if len(dims) == array.ndim else math.prod(array.shape[d] for d in dims)
    if n - c <= 0:
        import warnings
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                      "factor (input numel divided by output numel).", UserWarning, stacklevel=stacklevel)
    return dims, c


@export(method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (correction=1)."""
    return _var(input, dim, unbiased, keepdim, correction, "var")


def _var(input, dim, unbiased, keepdim, correction, name, stacklevel=4):
    dims, c = _var_args(input, dim, unbiased, correction, name, stacklevel)
    if not input.is_complex():
        return Var.apply(input, dims, c, keepdim, dim is None or input.ndim == 0)
    n = math.prod(input.shape[d] for d in dims)           # complex: |x - mean|^2, composed
    centered = input - mean(input, dims, keepdim=True)
    return sum((centered * centered.conj()).real, dims, keepdim) / _builtin_max(n - c, 0)


@export(method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation, sqrt(var)."""
    return _std(input, dim, unbiased, keepdim, correction, "std")


def _std(input, dim, unbiased, keepdim, correction, name):
    if not input.is_complex():
        dims, c = _var_args(input, dim, unbiased, correction, name)
        return Std.apply(input, dims, c, keepdim, dim is None or input.ndim == 0)
    return sqrt(_var(input, dim, unbiased, keepdim, correction, name, stacklevel=5))


@export(method=False)                  # torch.var_mean: no Tensor method
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    if not input.is_complex():
        dims, c = _var_args(input, dim, unbiased, correction, "var_mean", 3)
        return VarMean.apply(input, dims, c, keepdim, dim is None or input.ndim == 0)
    return (_var(input, dim, unbiased, keepdim, correction, "var_mean"),
            mean(input, normalize_dims(dim, input.ndim), keepdim))


@export(method=False)                  # torch.std_mean: no Tensor method
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None
    if not input.is_complex():
        dims, c = _var_args(input, dim, unbiased, correction, "std_mean", 3)
        return StdMean.apply(input, dims, c, keepdim, dim is None or input.ndim == 0, root=True)
    return (_std(input, dim, unbiased, keepdim, correction, "std_mean"),
            mean(input, normalize_dims(dim, input.ndim), keepdim))


# --- median / mode ---------------------------------------------------------------------------------

class MedianAll(Op):
    """median() of all elements (the lower median; NaN if any, unless ignore_nan). PyTorch saves the input
    and the result; its gradient is MaxAll's: shared evenly among the elements equal to the result (the NaNs
    when it is NaN)."""
    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, input, ignore_nan):
        xp = ctx.xp
        flat = xp.sort(input.reshape(-1))                # NaN sorts last
        if not flat.shape[0]:                            # empty: NaN, still in the graph as in PyTorch
            out = xp.asarray(float("nan"), dtype=input.dtype)
        elif input.dtype.kind not in "fc":
            out = flat[(flat.shape[0] - 1) // 2]
        elif ignore_nan:                                 # all NaN: the first, NaN
            k = xp.maximum(xp.count_nonzero(flat == flat) - 1, 0) // 2
            out = flat[k]
        else:
            out = xp.where(flat[-1] != flat[-1], flat[-1], flat[(flat.shape[0] - 1) // 2])
        out = xp.asarray(out)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaxAll.backward(ctx, grad)[0], None


class NanmedianAll(MedianAll):
    node_name = "NanmedianBackward0"


# median() of an empty integer or bool tensor: PyTorch returns its NaN cast to the dtype, which on x86-64 (the
# platform of its CPU wheels) is the cvttsd2si "integer indefinite" value: INT_MIN for 32/64-bit, its low bits (0)
# for narrower types, and NaN != 0 for bool
_EMPTY_MEDIAN = {"int64": -2 ** 63, "int32": -2 ** 31, "bool": True}


def _unsupported(input, kernel):
    """bool and complex: PyTorch's median kernels are not instantiated for them."""
    if input.dtype.category in (_dt.BOOL, _dt.COMPLEX):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")


def _median_all(input, op):
    if input._array.size == 0:                   # empty: no kernel runs, so bool and complex pass
        if input.dtype.category < _dt.FLOAT:
            value = _EMPTY_MEDIAN.get(input.dtype.name, 0)
            return _make(input._backend().xp.asarray(value, dtype=input._array.dtype), input._device)
    else:
        _unsupported(input, "median_cpu")
    return op.apply(input, op is NanmedianAll)


@export(method=True)
def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch does not average the two middle values); NaN wins if present."""
    if dim is None:
        return _median_all(input, MedianAll)
    return _median_along(input, dim, keepdim, ignore_nan=False)


@export(method=True)
def nanmedian(input, dim=None, keepdim=False):
    """median() that skips NaN (NaN only where a whole slice is NaN)."""
    if dim is None:
        return _median_all(input, NanmedianAll)
    return _median_along(input, dim, keepdim, ignore_nan=True)


def _median_along(input, dim, keepdim, ignore_nan):
    # Written without reading values on the host, so it also runs on the meta device.
    from .scatter_gather import gather, gather_at_indices
    from .sorting import sort
    dim = wrap_dim(dim, input.ndim)
    result = return_type("nanmedian" if ignore_nan else "median")
    if input.ndim and input.shape[dim] == 0:
        raise IndexError(f"median(): Expected reduction dim {dim} to have non-zero size.")
    _unsupported(input, "median_out")
    node = "NanmedianBackward1" if ignore_nan else "MedianBackward1"
    if input.ndim == 0:
        idx = _make(input._backend().xp.zeros((), dtype="int64"), input._device)
        return result(gather_at_indices(input, 0, idx, node), idx)
    _, indices = sort(input, dim)                      # NaN sorts last
    floating = input.dtype.category >= _dt.FLOAT
    if ignore_nan and floating:
        counts = sum(input.isnan().logical_not(), dim, keepdim=True)
        idx = gather(indices, dim, ((counts - 1).clamp(min=0)) // 2)
    else:
        idx = indices.narrow(dim, (input.shape[dim] - 1) // 2, 1)
        if floating:
            nan = input.isnan()
            idx = where(nan.any(dim, keepdim=True), nan.to(_dt.int64).argmax(dim, keepdim=True), idx)
    if not keepdim:
        idx = idx.squeeze(dim).clone()             # no view, as PyTorch's indices
    return result(gather_at_indices(input, dim, idx, node, squeeze=not keepdim), idx)


@export(method=True)
def mode(input, dim=-1, keepdim=False):
    """Most frequent value along dim (smallest on ties) and an index where it occurs (the last one)."""
    dim = wrap_dim(dim, input.ndim)

    def fn(xp, a):
        moved = xp.moveaxis(a, dim, -1) if a.ndim else a       # a 0-d input is its own mode, at index 0
        flat = moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)
        vals = xp.empty(flat.shape[0], dtype=a.dtype)
        idxs = xp.empty(flat.shape[0], dtype=xp.int64)
        floating = a.dtype.kind in "fc"
        for r in range(flat.shape[0]):
            row = flat[r]
            # NaN equals nothing, so each NaN counts once and never beats a number (ties go to the smallest); a
            # row of NaNs answers NaN at index 0, as PyTorch's. (PyTorch's index for a row mixing NaNs with
            # repeated numbers follows from its sort's treatment of NaN; here it is the last occurrence, as
            # everywhere else.)
            numbers = row[~xp.isnan(row)] if floating else row
            if not numbers.size:
                vals[r], idxs[r] = row[0], 0
                continue
            uniq, counts = xp.unique(numbers, return_counts=True)
            v = uniq[xp.argmax(counts)]
            vals[r] = v
            idxs[r] = xp.nonzero(row == v)[0][-1]
        shape = moved.shape[:-1]
        vals, idxs = vals.reshape(shape), idxs.reshape(shape)
        if keepdim and a.ndim:
            vals, idxs = xp.expand_dims(vals, dim), xp.expand_dims(idxs, dim)
        return vals, idxs
    values, indices = nodiff(fn, input)
    if input._requires_grad or input._base is not None and input._base._requires_grad:
        from .scatter_gather import gather_at_indices
        values = gather_at_indices(input, dim, indices, "ModeBackward0", squeeze=not keepdim)
    return return_type("mode")(values, indices)


# --- covariance, correlation, quantiles, histograms ------------------------------------------------------

def _check_weights(name, weights, n, integral):
    kind = "integral" if integral else "floating point"
    if weights.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                           f"{weights.ndim} dimensions")
    if weights.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the input "
                           f"but got {weights.numel()} != {n}")
    if (weights.dtype.category == _dt.INT) != integral or weights.dtype is _dt.bool_:
        raise RuntimeError(f"cov(): expected {name} to have {kind} dtype but got {name} with "
                           f"{_dt.scalar_type_name(weights.dtype)} dtype")
    if bool((weights < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


@export(method=True)
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) over the columns (observations), optionally weighted."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    n = x.shape[1]
    if x.dtype.category < _dt.FLOAT:
        x = cast(x, _dt.get_default_dtype())
    weights = None
    if fweights is not None:
        _check_weights("fweights", fweights, n, True)
        weights = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, n, False)
        x = cast(x, _dt.promote_types(x.dtype, aweights.dtype))
        weights = aweights if weights is None else weights * aweights
    if weights is None:
        avg, norm = mean(x, 1, keepdim=True), n - correction
        if norm <= 0:
            _dof_warning()
            norm = 0
    else:
        weights = cast(weights, x.dtype)
        w_sum = sum(weights)
        avg = sum(x * weights, 1, keepdim=True) / w_sum
        norm = w_sum - correction * (1 if aweights is None else sum(weights * aweights) / w_sum)
        if bool(norm <= 0):
            _dof_warning()
            norm = norm.clamp(min=0)
    centered = x - avg
    product = (centered if weights is None else centered * weights) @ centered.mT.conj()
    return (product / norm).squeeze()


def _dof_warning():
    import warnings
    warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                  "observations.", UserWarning, stacklevel=3)


@export(method=True)
def corrcoef(input):
    """Pearson correlation coefficients of the rows, clamped to [-1, 1] (complex inputs are not clamped)."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = sqrt(c.diagonal().real)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c if c.is_complex() else c.clamp(-1, 1)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    from .scatter_gather import gather
    from .sorting import sort
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype is not input.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if bool(((q < 0) | (q > 1)).any()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
    elif not 0 <= q <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if dim is None:
        x = input.reshape(-1)
        kept = (1,) * input.ndim
    else:
        d = wrap_dim(dim, input.ndim)
        x = input.movedim(d, -1) if input.ndim else input.reshape(1)
        kept = tuple(1 if i == d else s for i, s in enumerate(input.shape))
    values = sort(x, -1).values                  # NaN sorts last
    q_many = isinstance(q, Tensor) and q.ndim == 1

    def positions(xp, v, qs):
        # rank q * (count - 1) among the sorted values, as scale * q + offset; NaN-only (nanquantile) or
        # NaN-holding (quantile) slices point at their last value, a NaN
        n = v.shape[-1]
        nan = xp.isnan(v)
        count = (n - nan.sum(-1, keepdims=True)) if ignore_nan else xp.full(v.shape[:-1] + (1,), n)
        last = (count == 0) if ignore_nan else nan[..., -1:]
        scale = xp.where(last, 0, count - 1).astype(v.dtype)
        offset = xp.where(last, n - 1, 0).astype(v.dtype)
        qs = xp.asarray(qs, dtype=v.dtype).reshape((-1,) + (1,) * v.ndim if q_many else ())
        ranks = qs * scale + offset
        if interpolation == "nearest":
            ranks = xp.round(ranks)              # half to even, as PyTorch's round()
        return xp.floor(ranks).astype(xp.int64), xp.ceil(ranks).astype(xp.int64), scale, offset
    lo, hi, scale, offset = nodiff(positions, values, q._array if isinstance(q, Tensor) else q)
    if q_many:
        values = values.unsqueeze(0).expand((q.shape[0],) + tuple(values.shape))
    if interpolation in ("lower", "nearest"):
        out = gather(values, -1, lo)
    elif interpolation == "higher":
        out = gather(values, -1, hi)
    else:
        # the weight is differentiable in q, as in PyTorch
        weight = 0.5 if interpolation == "midpoint" else \
            (q.reshape((-1,) + (1,) * x.ndim) if q_many else q) * scale + offset - cast(lo, input.dtype)
        below = gather(values, -1, lo)
        out = below + weight * (gather(values, -1, hi) - below)
    out = out.squeeze(-1)
    lead = tuple(out.shape[:1]) if q_many else ()
    if keepdim:
        return out.reshape(lead + kept)
    return out if dim is None or input.ndim else out.reshape(lead)


@export(method=True)
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles (q a number or 1-D tensor) over all elements or along dim; NaN if any is NaN."""
    if "quantile" in AUTOCAST:
        return autocast_run("quantile", quantile, input, q, dim, keepdim, interpolation=interpolation)
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


@export(method=True)
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile() that ignores NaN (NaN only where a whole slice is NaN)."""
    if "nanquantile" in AUTOCAST:
        return autocast_run("nanquantile", nanquantile, input, q, dim, keepdim, interpolation=interpolation)
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


@export(method=True)
def histogram(input, bins, *, range=None, weight=None, density=False):
    """Counts (or weights, or a density) in equal-width bins or between given edges; (hist, bin_edges)."""
    name = _dt.scalar_type_name(input.dtype)
    if input.dtype.category != _dt.FLOAT:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{name}'")
    for other in (bins, weight):
        if isinstance(other, Tensor) and other.dtype is not input.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins/weight tensors should have the same "
                               f"dtype, but got input with dtype {name} and {_dt.scalar_type_name(other.dtype)}")
    if isinstance(bins, int) and bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if range is not None and range[0] > range[1]:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {range[0]} max {range[1]} "
                           f"for dimension 0")
    if weight is not None and weight.shape != input.shape:
        raise RuntimeError(f"torch.histogramdd: weight should have the shape of input, but got input with shape "
                           f"{list(input.shape)} and weight with shape {list(weight.shape)}")

    def fn(xp, a, edges, w):
        hist, edges = xp.histogram(a.reshape(-1), edges, range, weights=None if w is None else w.reshape(-1),
                                   density=density)
        return hist.astype(a.dtype), edges.astype(a.dtype)
    hist, edges = nodiff(fn, input, bins, weight)
    return return_type("histogram", ("hist", "bin_edges"))(hist, edges)
