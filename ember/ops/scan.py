"""Scans along one dim: cumsum, cumprod, logcumsumexp, cummax / cummin; and their relatives diff (the
inverse of cumsum) and the trapezoid integrals (trapezoid, cumulative_trapezoid)."""
from builtins import max as _builtin_max

import numpy as _np

from .. import _dtype as _dt
from ..amp._dispatch import AUTOCAST, autocast_run
from ..autograd.function import Op
from .._memory_format import reduced
from .._tensor import Tensor
from ._common import cast, return_type, zeros_like_
from ._registry import export
from ._shapes import wrap_dim
from .comparison import _select, where
from .reduction import _sum_dtype, sum

# PyTorch's CPU cumulative kernels keep their running total in a wider type (float32 in float64, the
# half types in float32, complex64 in complex128) and round each output; so does ember, to match it.
_WIDER_ACCUMULATOR = {"float32": "float64", "float16": "float32", "bfloat16": "float32", "complex64": "complex128"}
# The same keyed by the NumPy dtype itself (None: no wider type), filled on first sight of each dtype: NumPy's
# dtype.name is a Python property that formats a string (~2 us, as long as the 2000-element scan itself).
_WIDER_BY_DTYPE = {}


def _wider(dtype):
    """The accumulator dtype for a scan of `dtype` (a NumPy dtype), or None when it is its own."""
    try:
        return _WIDER_BY_DTYPE[dtype]
    except KeyError:
        wide = _WIDER_ACCUMULATOR.get(dtype.name)
        wide = _WIDER_BY_DTYPE[dtype] = None if wide is None else _np.dtype(wide)
        return wide


def _cumulative(xp, method, input, dim, np_dtype):
    out_dtype = input.dtype if np_dtype is None else _np.dtype(np_dtype)
    wide = _wider(out_dtype)
    out = method(axis=dim, dtype=np_dtype) if wide is None else method(axis=dim, dtype=wide).astype(out_dtype)
    # PyTorch's scans answer contiguous, whatever the input's layout (NumPy's follow a transposed input's order)
    return out if input.flags.c_contiguous else reduced(out, xp)


class Cumsum(Op):
    @staticmethod
    def forward(ctx, input, dim, np_dtype):
        ctx.dim = dim
        return _cumulative(ctx.xp, input.cumsum, input, dim, np_dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None, None


@export(inplace=True)
def cumsum(input, dim, *, dtype=None):
    if "cumsum" in AUTOCAST:
        return autocast_run("cumsum", cumsum, input, dim, dtype=dtype)
    dim = wrap_dim(dim, input.ndim)
    np_dtype = _sum_dtype(input, dtype)
    if input.ndim == 0:                              # a 0-d input is its own cumulative sum
        return input.clone() if np_dtype is None else cast(input, _dt.from_numpy(np_dtype)).clone()
    return Cumsum.apply(input, dim, np_dtype)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, input, dim, np_dtype):
        if input.ndim == 0:                       # a 0-d input is its own cumulative product
            out = input.astype(np_dtype) if np_dtype is not None else input.copy()
        else:
            out = _cumulative(ctx.xp, input.cumprod, input, dim, np_dtype)
        ctx.dim = dim
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        input, out = ctx.saved_tensors
        dim = ctx.dim
        if input.ndim == 0 or input.shape[dim] == 1:     # out is input itself: the grad passes through
            return grad, None, None
        if input._array.size <= 1:                # PyTorch's formula hands the gradient back as it is
            return grad, None, None
        if not bool((input == 0).any()):
            return (grad * out).flip(dim).cumsum(dim).flip(dim) / input, None, None
        # With zeros: d out_j / d x_i = prod_{k<=j, k!=i} x_k, built per position (small inputs only).
        from .joining import stack
        n = input.shape[dim]
        grads = []
        xp = ctx.xp
        shape = [n if d == dim else 1 for d in range(input.ndim)]
        position = xp.arange(n).reshape(shape)
        is_zero = input._array == 0
        zeros_so_far = xp.cumsum(is_zero, axis=dim)
        for i in range(n):
            # input_i replaced by 1 (selected: inf * 0 would be NaN); grad_j is taken for j >= i whose product
            # has no other zero in it, and the rest selected out as PyTorch does (a NaN gradient there stays out)
            partial = cumprod(_select(position == i, 1.0, input), dim)
            others = zeros_so_far - xp.take(is_zero, [i], axis=dim)
            grads.append(_select((position >= i) & (others == 0), grad * partial, 0.0).sum(dim))
        return stack(grads, dim), None, None


@export(inplace=True)
def cumprod(input, dim, *, dtype=None):
    if "cumprod" in AUTOCAST:
        return autocast_run("cumprod", cumprod, input, dim, dtype=dtype)
    dim = wrap_dim(dim, input.ndim)
    np_dtype = _sum_dtype(input, dtype)
    return Cumprod.apply(input, dim, np_dtype)


class LogCumSumExp(Op):
    """A running log(exp(total) + exp(x)) along dim, as PyTorch's CPU scan (in the wider accumulator type):
    no shift by a global maximum, so tiny terms next to large ones keep their own values."""
    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, input, dim):
        ctx.dim = dim
        if input.ndim == 0 or not input.size:
            out = input.copy()
        else:
            wide = _wider(input.dtype)
            work = input.astype(wide) if wide is not None else input
            out = ctx.xp.logaddexp.accumulate(work, axis=dim).astype(input.dtype, copy=False)
            if not input.flags.c_contiguous:          # contiguous, as PyTorch's scans (see _cumulative)
                out = reduced(out, ctx.xp)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula: the positive and negative parts of grad in log space, each through a reversed
        # logcumsumexp (so a NaN gradient, neither > 0 nor < 0, contributes nothing, as there)
        if grad.ndim == 0 or not grad.numel():
            return grad, None
        input, out = ctx.saved_tensors
        dim = ctx.dim
        lowest = _dt.finfo(grad.dtype).min
        log_abs = grad.abs().log()
        parts = []
        for keep in (grad > 0, grad < 0):
            shifted = where(keep, log_abs, lowest) - out
            parts.append((LogCumSumExp.apply(shifted.flip(dim), dim).flip(dim) + input).exp())
        return parts[0] - parts[1], None


@export(method=True)
def logcumsumexp(input, dim):
    dim = wrap_dim(dim, input.ndim)
    if input.dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{_dt.scalar_type_name(input.dtype)}'")
    return LogCumSumExp.apply(input, dim)


@export(method=True)
def cummax(input, dim):
    return _cum_extreme(input, _cum_dim("cummax", input, dim), True)


@export(method=True)
def cummin(input, dim):
    return _cum_extreme(input, _cum_dim("cummin", input, dim), False)


def _cum_dim(name, input, dim):
    if input.ndim == 0:                           # a 0-d input is its own running extreme, at index 0
        if dim not in (0, -1):
            raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
        return 0
    return wrap_dim(dim, input.ndim)


class Cummax(Op):
    """Running maximum and its index along dim (the last one among ties and NaNs, as PyTorch's scan).
    PyTorch saves the input and the indices; the gradient is grad scattered-added at the indices."""
    non_differentiable_outputs = (1,)

    @staticmethod
    def forward(ctx, input, dim, is_max):
        xp = ctx.xp
        a = input.reshape(1) if input.ndim == 0 else input
        acc = (xp.maximum if is_max else xp.minimum).accumulate(a, axis=dim)
        n = a.shape[dim]
        idx_shape = [1] * a.ndim
        idx_shape[dim] = n
        positions = xp.broadcast_to(xp.arange(n).reshape(idx_shape), a.shape)
        hit = a == acc
        if a.dtype.kind in "fc":
            hit |= a != a                         # a NaN takes the index (and keeps it until the next NaN)
        indices = xp.maximum.accumulate(xp.where(hit, positions, 0), axis=dim).astype(xp.int64, copy=False)
        if input.ndim == 0:
            acc, indices = acc.reshape(()), indices.reshape(())
        elif not input.flags.c_contiguous:          # contiguous, as PyTorch's scans (see _cumulative)
            acc, indices = reduced(acc, xp), reduced(indices, xp)
        ctx.dim = dim
        ctx.save_for_backward(input, indices)
        return acc, indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        input, indices = ctx.saved_tensors
        if input.ndim == 0:
            return grad, None, None
        if not input._array.size:                 # PyTorch's formula hands back the (empty) input itself
            return input, None, None
        from .creation import zeros
        from .scatter_gather import scatter_add
        zero = zeros(input.shape, dtype=grad.dtype, device=grad.device)
        return scatter_add(zero, ctx.dim, indices, grad), None, None


class Cummin(Cummax):
    pass


def _cum_extreme(input, dim, is_max):
    name = "cummax" if is_max else "cummin"
    values, indices = (Cummax if is_max else Cummin).apply(input, dim, is_max)
    return return_type(name)(values, indices)


# --- differences and integrals ---------------------------------------------------------------------------

@export(method=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (logical xor for bool), after joining prepend/append."""
    from .joining import cat
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = wrap_dim(dim, input.ndim)
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for d in range(input.ndim):
            if d != dim and extra.shape[d] != input.shape[d]:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({d}) = {input.shape[d]}, "
                                   f"but got tensor.size({d}) = {extra.shape[d]}")
        parts.append(extra)
    out = cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        size = out.shape[dim]
        if size == 0:
            break
        after, before = out.narrow(dim, 1, size - 1), out.narrow(dim, 0, size - 1)
        out = after != before if out.dtype is _dt.bool_ else after - before
    return out


class _Scale(Op):
    """input times a Python number, as PyTorch's mul.Scalar (MulBackward1): the number is no saved tensor, so
    the node can run backward again."""
    node_name = "MulBackward1"

    @staticmethod
    def forward(ctx, input, factor):
        ctx.factor = factor
        return input * input.dtype.type(factor)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


class _Halve(Op):
    """input / 2, as PyTorch's div.Scalar (DivBackward1)."""
    node_name = "DivBackward1"

    @staticmethod
    def forward(ctx, input):
        return input / input.dtype.type(2)

    @staticmethod
    def backward(ctx, grad):
        return grad / 2.0


def _trapezoid_parts(name, y, x, dx, dim):
    """(y floated, neighbour sums y[i + 1] + y[i], spacing: a Python number or x's differences), as PyTorch's
    trapezoid: by a number, (sum(y) - (y[0] + y[-1]) / 2) * dx and cumsum((dx / 2) * pairs); by x's
    differences d, sum(d * pairs) / 2 and cumsum(d * pairs) / 2."""
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if x is not None and dx is not None:
        raise TypeError(f"{name}(): pass either x or dx, not both")
    dim = wrap_dim(dim, y.ndim)
    if y.dtype.category < _dt.FLOAT:
        y = cast(y, _dt.get_default_dtype())
    n = y.shape[dim]
    pairs = y.narrow(dim, 1 if n else 0, _builtin_max(n - 1, 0)) + y.narrow(dim, 0, _builtin_max(n - 1, 0))
    if x is None:
        return y, pairs, 1 if dx is None else dx
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = x.reshape([-1 if d == dim else 1 for d in range(y.ndim)])
        return y, pairs, diff(x, dim=dim)
    return y, pairs, diff(x, dim=dim - y.ndim)


@export(method=False, aliases=("trapz",))
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim, with sample points x or a constant spacing dx (default 1)."""
    y, pairs, spacing = _trapezoid_parts("trapezoid", y, x, dx, dim)
    dim = wrap_dim(dim, y.ndim)
    if not y.shape[dim]:                           # nothing to integrate: zeros, out of the graph
        return zeros_like_(sum(pairs.detach(), dim))
    if isinstance(spacing, Tensor):
        return _Halve.apply(sum(pairs * spacing, dim))
    return _Scale.apply(sum(y, dim) - _Scale.apply(y.select(dim, 0) + y.select(dim, -1), 0.5), spacing)


@export(method=False)
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along dim (one element shorter than y there)."""
    y, pairs, spacing = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    dim = wrap_dim(dim, y.ndim)
    if isinstance(spacing, Tensor):
        return _Halve.apply(cumsum(pairs * spacing, dim))
    return cumsum(_Scale.apply(pairs, spacing / 2.0), dim)
