"""ember.fft: PyTorch's torch.fft. Discrete Fourier transforms (fft, rfft, hfft and their inverses, in one,
two and n dimensions), the sample frequencies (fftfreq, rfftfreq) and fftshift/ifftshift.

The transforms are composites over three primitives in ember/ops/spectral.py (FftC2C, FftR2C, FftC2R, as
in PyTorch, so grad_fn names match), whose gradients are checked against PyTorch's. Known difference:
ifft and ihfft of a real signal record FftR2CBackward0 where PyTorch records ConjBackward0 (ember has no
differentiable conj); values and gradients are the same. PyTorch's CPU (MKL) kernels refuse inputs with a
zero-size batch dim; ember transforms them to an empty result."""
import math
import operator

from . import _dtype as _dt
from .ops._common import _out
from .ops.creation import _device_and_xp, _finish
from .ops.reordering import roll as _roll
from .ops.spectral import FftC2C as _C2C, FftC2R as _C2R, FftR2C as _R2C
from .ops.spectral import canonicalize as _canonicalize, check_args as _check_args, check_out as _check_out
from .ops.spectral import check_points as _check_points, check_real as _check_real, norm_mode as _norm_mode
from .ops.spectral import promote as _promote, resize as _resize, wrap_fft_dim as _wrap_dim
from .amp._dispatch import AUTOCAST, autocast_run

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


# --- one dimension -------------------------------------------------------------------------------------------

def _c2c(fname, input, n, dim, norm, forward, out):
    """fft / ifft: complex input through FftC2C, real input through the two-sided FftR2C (as PyTorch)."""
    _check_args(fname, input, norm, n=n, dim=dim)
    _check_out(fname, out, True)
    x = _promote(input)
    dim = _wrap_dim(dim, x.ndim)
    n = _check_points(x.shape[dim] if n is None else n)
    x = _resize(x, (dim,), (n,))
    mode = _norm_mode(norm, forward)
    if x.is_complex():
        result = _C2C.apply(x, dims=(dim,), norm=mode, forward=forward)
    else:
        result = _R2C.apply(x, dims=(dim,), norm=mode, onesided=False, forward=forward)
    return _out(result, out)


def _r2c(fname, input, n, dim, norm, forward, out):
    """rfft / ihfft: the first n//2+1 bins of a real signal's transform."""
    _check_args(fname, input, norm, n=n, dim=dim)
    _check_real(input, f"{fname} expects a real input tensor, but got")
    _check_out(fname, out, True)
    x = _promote(input)
    dim = _wrap_dim(dim, x.ndim)
    n = _check_points(x.shape[dim] if n is None else n)
    x = _resize(x, (dim,), (n,))
    result = _R2C.apply(x, dims=(dim,), norm=_norm_mode(norm, forward), onesided=True, forward=forward)
    return _out(result, out)


def _c2r(fname, input, n, dim, norm, forward, out):
    """irfft / hfft: n real values from the n//2+1 stored bins of a Hermitian signal (default n: 2*(m-1))."""
    _check_args(fname, input, norm, n=n, dim=dim)
    _check_out(fname, out, False)
    x = _promote(input)
    dim = _wrap_dim(dim, x.ndim)
    n = _check_points(2 * (x.shape[dim] - 1) if n is None else n)
    x = _resize(x, (dim,), (n // 2 + 1,))
    result = _C2R.apply(x, dims=(dim,), norm=_norm_mode(norm, forward), last_dim_size=n, forward=forward)
    return _out(result, out)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The discrete Fourier transform along dim, cropped or zero-padded to n points."""
    if "fft_fft" in AUTOCAST and out is None:
        return autocast_run("fft_fft", fft, input, n, dim, norm)
    return _c2c("fft", input, n, dim, norm, True, out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse discrete Fourier transform along dim."""
    if "fft_ifft" in AUTOCAST and out is None:
        return autocast_run("fft_ifft", ifft, input, n, dim, norm)
    return _c2c("ifft", input, n, dim, norm, False, out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The transform of a real signal: its n//2+1 non-negative frequencies."""
    if "fft_rfft" in AUTOCAST and out is None:
        return autocast_run("fft_rfft", rfft, input, n, dim, norm)
    return _r2c("rfft", input, n, dim, norm, True, out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of rfft: n real values (default 2*(input.size(dim)-1))."""
    if "fft_irfft" in AUTOCAST and out is None:
        return autocast_run("fft_irfft", irfft, input, n, dim, norm)
    return _c2r("irfft", input, n, dim, norm, False, out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The transform of a Hermitian-symmetric signal given by its first half: n real values."""
    if "fft_hfft" in AUTOCAST and out is None:
        return autocast_run("fft_hfft", hfft, input, n, dim, norm)
    return _c2r("hfft", input, n, dim, norm, True, out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of hfft: the n//2+1 first bins of a real signal's inverse transform."""
    if "fft_ihfft" in AUTOCAST and out is None:
        return autocast_run("fft_ihfft", ihfft, input, n, dim, norm)
    return _r2c("ihfft", input, n, dim, norm, False, out)


# --- n dimensions --------------------------------------------------------------------------------------------

def _c2c_nd(fname, input, s, dim, norm, forward, out):
    _check_args(fname, input, norm)
    x = _promote(input)
    dims, sizes = _canonicalize(x, s, dim)
    x = _resize(x, dims, sizes)
    result = _C2C.apply(x, dims=dims, norm=_norm_mode(norm, forward), forward=forward)
    return _out_nd("fftn", result, out)                  # PyTorch names fftn for ifftn, fft2 and ifft2 too


def _out_nd(fname, result, out):
    if out is not None:
        _check_out(fname, out, result.is_complex())
    return _out(result, out)


def _at_least_one_axis(fname, dims):
    if not dims:
        raise RuntimeError(f"{fname} must transform at least one axis")


def _c2r_dims(fname, x, s, dim):
    """dims, input sizes and the output's last size of an irfftn/hfftn (PyTorch's
    canonicalize_fft_c2r_shape_and_dim_args): the last dim's default size is 2*(m-1)."""
    dims, sizes = _canonicalize(x, s, dim)
    _at_least_one_axis(fname, dims)
    last = sizes[-1]
    if s is None or (operator.index(s) if hasattr(type(s), "__index__") else list(s)[-1]) == -1:
        last = 2 * (x.shape[dims[-1]] - 1)
    _check_points(last)
    return dims, sizes[:-1] + (last // 2 + 1,), last


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional transform over dim (default: all dims, or the last len(s) dims)."""
    if "fft_fftn" in AUTOCAST and out is None:
        return autocast_run("fft_fftn", fftn, input, s, dim, norm)
    return _c2c_nd("fftn", input, s, dim, norm, True, out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional inverse transform over dim."""
    if "fft_ifftn" in AUTOCAST and out is None:
        return autocast_run("fft_ifftn", ifftn, input, s, dim, norm)
    return _c2c_nd("ifftn", input, s, dim, norm, False, out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """fftn over the last two dims."""
    if "fft_fft2" in AUTOCAST and out is None:
        return autocast_run("fft_fft2", fft2, input, s, dim, norm)
    return _c2c_nd("fft2", input, s, dim, norm, True, out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """ifftn over the last two dims."""
    if "fft_ifft2" in AUTOCAST and out is None:
        return autocast_run("fft_ifft2", ifft2, input, s, dim, norm)
    return _c2c_nd("ifft2", input, s, dim, norm, False, out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional transform of a real signal, one-sided in the last of dim."""
    if "fft_rfftn" in AUTOCAST and out is None:
        return autocast_run("fft_rfftn", rfftn, input, s, dim, norm)
    _check_args("rfftn", input, norm)
    _check_real(input, "rfftn expects a real-valued input tensor, but got")
    x = _promote(input)
    dims, sizes = _canonicalize(x, s, dim)
    _at_least_one_axis("rfftn", dims)
    x = _resize(x, dims, sizes)
    result = _R2C.apply(x, dims=dims, norm=_norm_mode(norm, True), onesided=True, forward=True)
    return _out_nd("rfftn", result, out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of rfftn: a real signal of sizes s (the last default 2*(m-1))."""
    if "fft_irfftn" in AUTOCAST and out is None:
        return autocast_run("fft_irfftn", irfftn, input, s, dim, norm)
    _check_args("irfftn", input, norm)
    x = _promote(input)
    dims, sizes, last = _c2r_dims("irfftn", x, s, dim)
    x = _resize(x, dims, sizes)
    result = _C2R.apply(x, dims=dims, norm=_norm_mode(norm, False), last_dim_size=last, forward=False)
    return _out_nd("irfftn", result, out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional transform of a Hermitian-symmetric signal given by its one-sided half: real values."""
    _check_args("hfftn", input, norm)
    dims, sizes, last = _c2r_dims("hfftn", input, s, dim)
    x = _resize(_promote(input), dims, sizes)
    result = _C2R.apply(x, dims=dims, norm=_norm_mode(norm, True), last_dim_size=last, forward=True)
    return _out_nd("hfftn", result, out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of hfftn: one-sided in the last of dim (PyTorch's order: that dim first, then the rest)."""
    _check_args("ihfftn", input, norm)
    dims, sizes = _canonicalize(input, s, dim)
    _at_least_one_axis("ihfftn", dims)
    x = _promote(input)
    _check_real(x, "Only supports floating-point dtypes, but found:")
    x = _resize(x, dims, sizes)
    mode = _norm_mode(norm, False)
    result = _R2C.apply(x, dims=dims[-1:], norm=mode, onesided=True, forward=False)
    if len(dims) > 1:
        result = _C2C.apply(result, dims=dims[:-1], norm=mode, forward=False)
    return _out_nd("ihfftn", result, out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """rfftn over the last two dims."""
    if "fft_rfft2" in AUTOCAST and out is None:
        return autocast_run("fft_rfft2", rfft2, input, s, dim, norm)
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """irfftn over the last two dims."""
    if "fft_irfft2" in AUTOCAST and out is None:
        return autocast_run("fft_irfft2", irfft2, input, s, dim, norm)
    return irfftn(input, s, dim, norm, out=out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """hfftn over the last two dims."""
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """ihfftn over the last two dims."""
    return ihfftn(input, s, dim, norm, out=out)


# --- helpers -------------------------------------------------------------------------------------------------

def _freq(fname, n, d, out, dtype, device, requires_grad, onesided):
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"fft_{fname}(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    n = operator.index(n)
    if out is not None:
        if dtype is None:
            dtype = out.dtype
        elif _dt.to_dtype(dtype) is not out.dtype:
            raise RuntimeError(f"dtype {_dt.scalar_type_name(_dt.to_dtype(dtype))} does not match dtype of out "
                               f"parameter ({_dt.scalar_type_name(out.dtype)})")
    dtype = _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)
    if dtype.category < _dt.FLOAT:
        raise RuntimeError(f"{fname} requires a floating point or complex dtype")
    if dtype.is_complex:                         # PyTorch builds the result with arange, which has no complex
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if dtype.numpy is None:
        _dt.check_bfloat16()
    device, xp = _device_and_xp(device)
    if onesided:
        k = xp.arange(n // 2 + 1)
    else:                                        # 0, 1, ..., (n-1)//2, then -(n//2), ..., -1
        k = xp.concatenate([xp.arange((n + 1) // 2), xp.arange(-(n // 2), 0)])
    d = float(d)
    scale = 1.0 / (n * d) if n * d else math.copysign(math.inf, n * d)
    # PyTorch's result.mul_(scale): the scale rounded to the dtype, the product taken in its compute type
    # (float32 for half precision) and rounded once
    compute = xp.float32 if dtype.itemsize < 4 else dtype.numpy
    scale = xp.asarray(scale, dtype=dtype.numpy).astype(compute)
    values = (k.astype(compute) * scale).astype(dtype.numpy, copy=False)
    return _out(_finish(values, device, requires_grad), out)


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point fft with sample spacing d: [0, 1, ..., -2, -1] / (n * d)."""
    return _freq("fftfreq", n, d, out, dtype, device, requires_grad, False)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (n * d)."""
    return _freq("rfftfreq", n, d, out, dtype, device, requires_grad, True)


def _shift(input, dim, inverse):
    if dim is None:
        dims = tuple(range(input.ndim))
    else:
        dims = (dim,) if hasattr(type(dim), "__index__") else tuple(dim)
    if not dims:
        raise RuntimeError("`shifts` required")
    sizes = [input.shape[_wrap_dim(d, input.ndim)] for d in dims]
    return _roll(input, [(n + 1) // 2 if inverse else n // 2 for n in sizes], dims)


def fftshift(input, dim=None):
    """Roll each of dim (default all) by half its size: the zero frequency moves to the centre."""
    return _shift(input, dim, False)


def ifftshift(input, dim=None):
    """The inverse of fftshift."""
    return _shift(input, dim, True)
