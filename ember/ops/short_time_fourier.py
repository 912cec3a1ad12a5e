"""stft and istft (ember.stft, Tensor.stft, ember.istft, Tensor.istft), PyTorch's short-time Fourier transform
and its inverse, composed from differentiable ops so gradients reach the signal and the window.

stft: pad the signal (center=True: n_fft//2 each side, F.pad's pad_mode), cut it into frames with
Tensor.unfold, multiply by the window (zero-padded to n_fft, centred, when win_length < n_fft), transform
each frame with the FFT primitives of ember/ops/spectral.py (one-sided for a real signal and window), and
lay the result out as (batch?, freq, frames). istft inverts it: inverse FFT of each frame, window, overlap-add
(UnfoldBackward, PyTorch's unfold_backward), division by the overlap-added squared window (the window
envelope), after checking that the envelope has no zero (the NOLA condition), then the centre padding is
trimmed. Checks, their order and messages are PyTorch's (its "stft(...) : expected ..." prefix included);
its once-per-process warnings (no window given, return_complex=False) are issued once per process here too.
"""
import warnings

from .. import _dtype as _dt
from .._tensor import Tensor
from ._registry import export
from .conv import constant_pad_nd
from .slicing import UnfoldBackward

__all__ = ["stft", "istft"]

_WARNED = set()           # PyTorch's TORCH_WARN_ONCE: each of these warnings is issued once per process

_STFT_NO_WINDOW = ("A window was not provided. A rectangular window will be applied,which is known to cause "
                   "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                   "recommended to reduce spectral leakage.To suppress this warning and use a rectangular window, "
                   "explicitly set `window=torch.ones(n_fft, device=<device>)`.")
_STFT_REAL_OUTPUT = ("stft with return_complex=False is deprecated. In a future pytorch release, stft will return "
                     "complex tensors for all inputs, and return_complex=False will raise an error.\nNote: you can "
                     "still call torch.view_as_real on the complex output to recover the old return format.")
_ISTFT_NO_WINDOW = ("A window was not provided. A rectangular window will be applied.Please provide the same window "
                    "used by stft to make the inversion lossless.To suppress this warning and use a rectangular "
                    "window, explicitly set `window=torch.ones(n_fft, device=<device>)`.")
_ISTFT_PADDED = ("The length of signal is shorter than the length parameter. Result is being padded with zeros in "
                 "the tail. Please check your center and hop_length settings.")


def _warn_once(message):
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def _type_string(t):
    """PyTorch's Tensor::toString(): the legacy class name, or CPU<ScalarType>Type where there is none."""
    name = _dt.scalar_type_name(t.dtype)
    device = t.device.type
    if t.is_complex():
        return f"{device.upper()}{name}Type"
    return f"torch.{name}Tensor" if device == "cpu" else f"torch.{device}.{name}Tensor"


def _sizes(t):
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _opt(value):
    """A C++ optional<bool/int> as PyTorch prints it: None, or the value with bools as 0/1."""
    return "None" if value is None else str(int(value))


def _window_repr(window):
    return "None" if window is None else f"{_type_string(window)}{{{_sizes(window)}}}"


def _check_int(fname, name, value, position, optional=True):
    """PyTorch's argument parser: int arguments take ints (not bools, not floats)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{fname}(): argument '{name}' (position {position}) must be int, not "
                        f"{type(value).__name__}")


def _padded_window(window, win_length, n_fft, like):
    """The window zero-padded on both sides to n_fft (left gets the smaller half), or None when that is a no-op.
    Without a window and win_length < n_fft, a centred block of ones in `like`'s real dtype."""
    if win_length == n_fft:
        return window
    if window is None:
        from .creation import ones
        dtype = like.dtype.to_real() if like.is_complex() else like.dtype
        window = ones(win_length, dtype=dtype, device=like.device)
    left = (n_fft - win_length) // 2
    return constant_pad_nd(window, [left, n_fft - win_length - left])


@export
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """Short-time Fourier transform of a 1-D signal or a 2-D batch of signals: (batch?, freq, frames)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _check_int("stft", "n_fft", n_fft, 2, optional=False)
    _check_int("stft", "hop_length", hop_length, 3)
    _check_int("stft", "win_length", win_length, 4)
    for name, value in (("onesided", onesided), ("return_complex", return_complex),
                        ("align_to_window", align_to_window)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"stft(): argument '{name}' must be bool, not {type(value).__name__}")
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if center:                                    # as torch.functional.stft: pad a (1, 1?, L) view, then undo it
        from ..nn.functional import pad
        signal_dim = input.ndim
        pad_size = n_fft // 2
        padded = pad(input.view([1] * (3 - signal_dim) + list(input.shape)), [pad_size, pad_size], pad_mode)
        input = padded.view(padded.shape[-signal_dim:] if signal_dim else ())
    hop_length = n_fft >> 2 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    window_complex = window is not None and window.is_complex()

    def fail(problem):
        raise RuntimeError(f"stft({_type_string(input)}{_sizes(input)}, n_fft={n_fft}, hop_length={hop_length}, "
                           f"win_length={win_length}, window={_window_repr(window)}, normalized={int(normalized)}, "
                           f"onesided={_opt(onesided)}, return_complex={_opt(return_complex)}, "
                           f"align_to_window={_opt(align_to_window)}) : {problem}")

    if return_complex is None:
        if not (input.is_complex() or window_complex):
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if window is None:
        _warn_once(_STFT_NO_WINDOW)
    if not return_complex:
        _warn_once(_STFT_REAL_OUTPUT)
    if not (input.is_floating_point() or input.is_complex()):
        fail("expected a tensor of floating point or complex values")
    if input.ndim not in (1, 2):
        fail("expected a 1D or 2D tensor")
    batched = input if input.ndim == 2 else input.unsqueeze(0)
    length = batched.shape[1]
    if n_fft <= 0 or n_fft > length:
        fail(f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop_length <= 0:
        fail(f"expected hop_length > 0, but got hop_length={hop_length}")
    if win_length <= 0 or win_length > n_fft:
        fail(f"expected 0 < win_length <= n_fft, but got win_length={win_length}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        fail(f"expected a 1D window tensor of size equal to win_length={win_length}, but got window with size "
             f"{_sizes(window)}")
    full_window = _padded_window(window, win_length, n_fft, batched)
    from .spectral import BY_ROOT_N, NONE, FftC2C, FftR2C       # imported on first use: `import ember` stays fast
    if align_to_window and win_length < n_fft:
        # frame m's window covers the signal from m * hop_length: pad so the centred window lands there
        left = (n_fft - win_length) // 2
        batched = constant_pad_nd(batched, [left, n_fft - win_length - left])
    frames = batched.unfold(-1, n_fft, hop_length)            # (batch, frames, n_fft)
    if full_window is not None:
        frames = frames * full_window
    if frames.dtype.itemsize < 4 and not frames.is_complex():
        raise RuntimeError(f"MKL FFT doesn't support tensors of type: {_dt.scalar_type_name(frames.dtype)}")
    norm = BY_ROOT_N if normalized else NONE
    if frames.is_complex():
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = FftC2C.apply(frames, dims=(2,), norm=norm, forward=True)
    else:
        out = FftR2C.apply(frames, dims=(2,), norm=norm, onesided=True if onesided is None else onesided,
                           forward=True)
    out = out.transpose(1, 2)
    if input.ndim == 1:
        out = out.squeeze(0)
    if return_complex:
        return out
    from .views import view_as_real
    return view_as_real(out)


@export
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """Inverse of stft: overlap-add of the inverse transforms of the frames, divided by the window envelope."""
    if not isinstance(input, Tensor):
        raise TypeError(f"istft(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _check_int("istft", "n_fft", n_fft, 2, optional=False)
    _check_int("istft", "hop_length", hop_length, 3)
    _check_int("istft", "win_length", win_length, 4)
    _check_int("istft", "length", length, 9)
    if window is None:
        _warn_once(_ISTFT_NO_WINDOW)
    hop_length = n_fft >> 2 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")

    def fail(problem, separator=": "):
        raise RuntimeError(f"istft({_type_string(input)}{_sizes(input)}, n_fft={n_fft}, hop_length={hop_length}, "
                           f"win_length={win_length}, window={_window_repr(window)}, center={int(center)}, "
                           f"normalized={int(normalized)}, onesided={_opt(onesided)}, length={_opt(length)}, "
                           f"return_complex={int(return_complex)}) {separator}{problem}")

    real_dims = input.ndim + 1                   # PyTorch checks the view_as_real of the input
    if real_dims < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-real_dims}, {real_dims - 1}], "
                         "but got -3)")
    n_frames, fft_size = input.shape[-1], input.shape[-2]
    expected_len = n_fft + hop_length * (n_frames - 1)
    if input.numel() == 0:
        fail("input tensor cannot be empty.")
    if real_dims not in (3, 4):
        fail(f"expected a tensor with 3 or 4 dimensions, but got {real_dims}")
    onesided_ = fft_size != n_fft if onesided is None else onesided
    if onesided_ and n_fft // 2 + 1 != fft_size:
        fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft / 2 + 1 when "
             f"onesided=True, but got {fft_size}")
    if not onesided_ and n_fft != fft_size:
        fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft when "
             f"onesided=False, but got {fft_size}")
    if not 0 < hop_length <= win_length:
        fail("expected 0 < hop_length <= win_length")
    if not 0 < win_length <= n_fft:
        fail("expected 0 < win_length <= n_fft")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        fail("Invalid window shape. window has to be 1D and length of `win_length`")
    if window is None:
        from .creation import ones
        window_full = ones(win_length, dtype=input.dtype.to_real(), device=input.device)
    else:
        window_full = window
    window_full = _padded_window(window_full, win_length, n_fft, input)
    from .spectral import BY_N, BY_ROOT_N, FftC2C, FftC2R
    frames = (input if input.ndim == 3 else input.unsqueeze(0)).transpose(1, 2)   # (batch, frames, fft_size)
    norm = BY_ROOT_N if normalized else BY_N
    if return_complex:
        if onesided_:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = FftC2C.apply(frames, dims=(2,), norm=norm, forward=False)
    else:
        if window is not None and window.is_complex():
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not onesided_:
            frames = frames.narrow(-1, 0, n_fft // 2 + 1)
        frames = FftC2R.apply(frames, dims=(2,), norm=norm, last_dim_size=n_fft, forward=False)
    frames = frames * window_full                                   # (batch, frames, n_fft)
    signal = UnfoldBackward.apply(frames, (frames.shape[0], expected_len), 1, n_fft, hop_length)
    squared = (window_full * window_full).expand(1, n_frames, n_fft)
    envelope = UnfoldBackward.apply(squared, (1, expected_len), 1, n_fft, hop_length)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = -(n_fft // 2) if center else expected_len
    signal, envelope = signal[:, start:end], envelope[:, start:end]
    if bool(envelope.abs().min() < 1e-11):                         # the NOLA condition
        fail("window overlap add min: 1\n[ CPUBoolType{} ]", separator="")
    signal = signal / envelope
    if input.ndim == 2:
        signal = signal.squeeze(0)
    if end > expected_len:
        _warn_once(_ISTFT_PADDED)
        signal = constant_pad_nd(signal, [0, end - expected_len])
    return signal
