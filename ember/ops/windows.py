"""PyTorch's top-level window functions: hann_window, hamming_window, blackman_window, bartlett_window and
kaiser_window (the tapers stft/istft take as `window`).

Each is computed in float64 with the device's array module (NumPy, CuPy) and rounded once to the requested
dtype, so a float32 window is the correctly rounded value of the formula (PyTorch evaluates in the target dtype; the two agree to float32
rounding). `periodic=True` (the default) is the window of length N+1 with its last point dropped, the form
spectral analysis wants; `periodic=False` is the symmetric window. Factory functions: the result is a leaf,
`requires_grad=True` makes it one that requires grad.
"""
import math
import numbers

import numpy as np

from .. import _dtype as _dt
from .._backends import backend_for, special as _special
from .._device import _default as _default_device, to_device
from .._tensor import _make
from ._registry import export
from .sampling import _CPP_NAME

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


def _check(name, window_length, periodic, dtype, device):
    """PyTorch's argument checks, in its order; returns (dtype, device)."""
    if isinstance(window_length, bool) or not isinstance(window_length, numbers.Integral):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if not isinstance(periodic, (bool, np.bool_)):
        raise TypeError(f"{name}(): argument 'periodic' (position 2) must be bool, not {type(periodic).__name__}")
    dtype = _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)
    device = _default_device[0] if device is None else to_device(device)
    if dtype.is_complex:                          # PyTorch's kernels start from arange, which has no complex
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_CPP_NAME.get(dtype.name, dtype.name)}, device={device}, layout=Strided (default), "
                           "requires_grad=false (default), pinned_memory=false, memory_format=(nullopt))")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    return dtype, device


def _make_window(name, window_length, periodic, dtype, device, requires_grad, formula):
    """Check, evaluate `formula(xp, n, N)` in float64 on n = 0..N-1 (N one longer when periodic), round once."""
    dtype, device = _check(name, window_length, periodic, dtype, device)
    if dtype.numpy is None:
        _dt.check_bfloat16()
    xp = backend_for(device).xp
    if window_length <= 1:                        # PyTorch: empty, or the single point 1
        values = xp.ones(window_length, dtype=xp.float64)
    else:
        size = window_length + 1 if periodic else window_length
        values = formula(xp, xp.arange(size, dtype=xp.float64), size)[:window_length]
    t = _make(xp.ascontiguousarray(values.astype(dtype.numpy)), device)
    if requires_grad:
        t.requires_grad = True
    return t


@export(method=False)
def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   pin_memory=False, requires_grad=False):
    """alpha - beta cos(2 pi n / (N - 1))."""
    return _make_window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                        lambda xp, n, size: alpha - beta * xp.cos(2 * math.pi * n / (size - 1)))


@export(method=False)
def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / (N - 1)): the Hamming window with alpha = beta = 0.5."""
    return _make_window("hann_window", window_length, periodic, dtype, device, requires_grad,
                        lambda xp, n, size: 0.5 - 0.5 * xp.cos(2 * math.pi * n / (size - 1)))


@export(method=False)
def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    def formula(xp, n, size):
        phase = 2 * math.pi * n / (size - 1)
        return 0.42 - 0.5 * xp.cos(phase) + 0.08 * xp.cos(2 * phase)
    return _make_window("blackman_window", window_length, periodic, dtype, device, requires_grad, formula)


@export(method=False)
def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    """The triangle 1 - |2n / (N - 1) - 1|."""
    return _make_window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                        lambda xp, n, size: 1 - xp.abs(2 * n / (size - 1) - 1))


@export(method=False)
def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  pin_memory=False, requires_grad=False):
    """I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta). (PyTorch takes beta only after periodic, by
    position; ember also accepts it by keyword, as the documented signature reads.)"""
    def formula(xp, n, size):
        ratio = 2 * n / (size - 1) - 1
        i0 = _special.i0                  # array code on every backend (the meta device has no rule for np.i0)
        return i0(xp, beta * xp.sqrt(xp.maximum(1 - ratio * ratio, 0.0))) / i0(xp, xp.asarray(float(beta)))
    return _make_window("kaiser_window", window_length, periodic, dtype, device, requires_grad, formula)
