"""softmax and log_softmax: exp normalized over a dim, shifted by the max so that it never overflows.
(Not softmax.py: ember.ops.softmax is the public function, which would hide a module of that name.)"""
import numpy as _np

from .. import _dtype as _dt
from .._backends import cpu as _cpu
from ..amp._dispatch import AUTOCAST, autocast_run
from ..autograd.function import Op
from ._common import cast
from ._registry import export
from ._shapes import wrap_dim

_ndarray = _np.ndarray
_max_reduce, _add_reduce, _exp = _cpu.maximum_reduce, _cpu.add_reduce, _np.exp


def _opmath_input(xp, x):
    """float16 and bfloat16 in float32, PyTorch's accumulate type for them (the result is rounded once)."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _contiguous(xp, input):
    """PyTorch's softmax kernels read a contiguous copy of a non-contiguous input, so the output is
    contiguous whatever the input's layout (a channels-last one included: Note [memory formats])."""
    return input if input.flags.c_contiguous else xp.ascontiguousarray(input)


class Softmax(Op):
    @staticmethod
    def forward(ctx, input, dim):
        xp = ctx.xp
        ctx.dim = dim
        if input.__class__ is _ndarray and input.ndim and input.flags.c_contiguous and input.size and \
                input.dtype.kind == "f" and input.itemsize >= 4:
            # float32/float64 in NumPy (the usual call): the ufuncs' own reductions, in place on one buffer
            # (~1.5 us less than the array methods and the checks below)
            out = input - _max_reduce(input, dim, None, None, True)
            _exp(out, out=out)
            out /= _add_reduce(out, dim, None, None, True)
            ctx.save_for_backward(out)
            return out
        input = _contiguous(xp, input)
        if not input.size:
            out = input.copy()
        else:                                       # in place on one buffer: shift, exp, normalise
            work = _opmath_input(xp, input)
            if work.ndim == 0:                      # a 0-d input: over its one element (no view, as PyTorch)
                work = work.reshape(1)
            out = work - work.max(axis=dim, keepdims=True)
            xp.exp(out, out=out)
            out /= out.sum(axis=dim, keepdims=True)
            out = out.astype(input.dtype, copy=False)
            if input.ndim == 0:
                out = out.reshape(())
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # out * (grad - sum(grad * out)), rounded as PyTorch's kernel rounds it: a constant upstream
        # gradient then gives exact zeros
        return out * (grad - (grad * out).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Op):
    @staticmethod
    def forward(ctx, input, dim):
        xp = ctx.xp
        ctx.dim = dim
        input = _contiguous(xp, input)
        if not input.size:
            out = input.copy()
        else:
            work = _opmath_input(xp, input)
            if work.ndim == 0:                      # a 0-d input: over its one element (no view, as PyTorch)
                work = work.reshape(1)
            out = work - work.max(axis=dim, keepdims=True)
            out -= xp.log(xp.exp(out).sum(axis=dim, keepdims=True))
            out = out.astype(input.dtype, copy=False)
            if input.ndim == 0:
                out = out.reshape(())
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - out.exp() * grad.sum(ctx.dim, keepdim=True), None


def _softmax_input(input, dim, dtype, name):
    if dtype is not None:
        input = cast(input, _dt.to_dtype(dtype))
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                           f"'{_dt.scalar_type_name(input.dtype)}'")
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1      # PyTorch's legacy implicit-dim choice
    return input, wrap_dim(dim, input.ndim)


@export(method=True)
def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """exp(x) / sum(exp(x)) along dim, shifted by the max so it never overflows."""
    if "softmax" in AUTOCAST:
        return autocast_run("softmax", softmax, input, dim, dtype=dtype)
    input, dim = _softmax_input(input, dim, dtype, "softmax")
    return Softmax.apply_binary(input, dim)        # apply(input, dim) without packing (Note [apply fast path])


@export(method=True)
def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """x - logsumexp(x) along dim, computed stably."""
    if "log_softmax" in AUTOCAST:
        return autocast_run("log_softmax", log_softmax, input, dim, dtype=dtype)
    input, dim = _softmax_input(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(input, dim)
