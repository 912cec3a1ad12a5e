"""ember.stft / ember.istft (and the Tensor methods) against PyTorch's: values and dtypes across n_fft, hop and
window lengths, centring and pad modes, one-sided and normalized transforms, complex signals and windows;
gradients (gradcheck in float64, and PyTorch's backward) with respect to the signal and the window; the
round trip istft(stft(x)) == x; PyTorch's once-per-process warnings and its errors, in its order. Then the
window functions (hann/hamming/blackman/bartlett/kaiser_window) and ember.signal.windows against PyTorch's and
against NumPy's formulas."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.ops import short_time_fourier as _stft_module

N_FFT = 16


def _signal(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _hann(n, dtype="float32"):
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(dtype)   # periodic Hann


def _numpy(t):
    return t.detach().numpy()


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _convert(lib, kwargs):
    return {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def _outcome(fn, *args, **kwargs):
    """(array, dtype name) of a call, or (exception type name, message)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = fn(*args, **kwargs)
        except Exception as e:                   # noqa: BLE001 - the exception is what is compared
            return type(e).__name__, str(e)
    return _numpy(r), _dtype_name(r)


def _assert_same(torch, name, x, *args, **kwargs):
    """ember.<name> and torch.<name> on the same data agree: values, shape and dtype, or error type and text."""
    ours = _outcome(getattr(ember, name), ember.tensor(x), *args, **_convert(ember, kwargs))
    theirs = _outcome(getattr(torch, name), torch.tensor(x), *args, **_convert(torch, kwargs))
    if isinstance(theirs[0], str) or isinstance(ours[0], str):
        assert ours == theirs
        return
    assert ours[1] == theirs[1]
    assert ours[0].shape == theirs[0].shape
    np.testing.assert_allclose(ours[0], theirs[0], rtol=2e-5, atol=2e-5)


# --- stft values ---------------------------------------------------------------------------------------------

STFT_KWARGS = [
    {"return_complex": True},
    {"return_complex": False},
    {"window": _hann(N_FFT), "return_complex": True},
    {"window": _hann(N_FFT), "normalized": True, "return_complex": True},
    {"window": _hann(N_FFT), "onesided": False, "return_complex": True},
    {"window": _hann(10), "win_length": 10, "return_complex": True},
    {"win_length": 9, "return_complex": True},
    {"hop_length": 5, "return_complex": True},
    {"center": False, "return_complex": True},
    {"center": False, "win_length": 7, "window": _hann(7), "align_to_window": True, "return_complex": True},
    {"center": False, "win_length": 7, "window": _hann(7), "align_to_window": False, "return_complex": True},
    {"pad_mode": "constant", "return_complex": True},
    {"pad_mode": "replicate", "return_complex": True},
    {"pad_mode": "circular", "return_complex": True},
    {"window": _hann(N_FFT, "float64"), "return_complex": True},          # the window's dtype promotes
    {"window": _hann(N_FFT, "complex64"), "return_complex": False},       # a complex window: two-sided
    {"window": _hann(N_FFT, "complex64")},                                # ... and complex by default
]


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "1d"])
@pytest.mark.parametrize("kwargs", STFT_KWARGS, ids=lambda k: ",".join(f"{a}={getattr(b, 'dtype', b)}"
                                                                          for a, b in k.items()))
def test_stft_matches_torch(torch, kwargs, batched):
    x = _signal((2, 100) if batched else (100,))
    _assert_same(torch, "stft", x, N_FFT, **kwargs)


@pytest.mark.parametrize("dtype,kwargs", [("complex64", {"return_complex": True}), ("complex128", {}),
                                          ("complex128", {"return_complex": False}),
                                          ("float64", {"window": _hann(N_FFT), "return_complex": True})])
def test_stft_dtypes_match_torch(torch, dtype, kwargs):
    _assert_same(torch, "stft", _signal((2, 60), dtype), N_FFT, **kwargs)


def test_stft_values_without_torch():
    """Each column is the FFT of one windowed, centred frame (NumPy's rfft as the reference)."""
    x = _signal(64, "float64")
    w = _hann(N_FFT, "float64")
    out = ember.stft(ember.tensor(x), N_FFT, hop_length=4, window=ember.tensor(w), return_complex=True)
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    frames = np.stack([padded[i:i + N_FFT] for i in range(0, len(padded) - N_FFT + 1, 4)])
    expected = np.fft.rfft(frames * w, axis=-1).T
    assert out.shape == (N_FFT // 2 + 1, 1 + 64 // 4) and out.dtype == ember.complex128
    np.testing.assert_allclose(_numpy(out), expected, atol=1e-12)
    normalized = ember.stft(ember.tensor(x), N_FFT, 4, window=ember.tensor(w), normalized=True, return_complex=True)
    np.testing.assert_allclose(_numpy(normalized), expected / np.sqrt(N_FFT), atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # return_complex=False is deprecated (warned once)
        as_real = ember.tensor(x).stft(N_FFT, 4, window=ember.tensor(w), return_complex=False)
    np.testing.assert_allclose(_numpy(as_real), np.stack([expected.real, expected.imag], -1), atol=1e-12)


# --- istft values --------------------------------------------------------------------------------------------

def _spectrum(torch, onesided=True, x_shape=(2, 100)):
    x = torch.tensor(_signal(x_shape))
    return torch.stft(x, N_FFT, window=torch.tensor(_hann(N_FFT)), onesided=onesided, return_complex=True).numpy()


ISTFT_KWARGS = [
    {"window": _hann(N_FFT)},
    {"window": _hann(N_FFT), "length": 100},
    {"window": _hann(N_FFT), "length": 120},           # longer than the frames cover: zero-padded (warns)
    {"window": _hann(N_FFT), "length": 50},
    {},
    {"window": _hann(N_FFT), "normalized": True},
    {"window": _hann(N_FFT, "float64")},
    {"window": _hann(N_FFT), "hop_length": 2},
    {"window": _hann(12), "win_length": 12},
    {"window": np.hanning(N_FFT).astype("float32"), "center": False},
    {"window": _hann(N_FFT), "onesided": False},                         # error: 9 bins are one-sided
    {"window": _hann(N_FFT), "return_complex": True},                    # error: complex output is two-sided
    {"window": _hann(N_FFT, "complex64")},                               # error: complex window, real output
]


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "1d"])
@pytest.mark.parametrize("kwargs", ISTFT_KWARGS, ids=lambda k: ",".join(f"{a}={getattr(b, 'dtype', b)}"
                                                                           for a, b in k.items()))
def test_istft_matches_torch(torch, kwargs, batched):
    spectrum = _spectrum(torch)
    _assert_same(torch, "istft", spectrum if batched else spectrum[0], N_FFT, **kwargs)


@pytest.mark.parametrize("kwargs", [{"window": _hann(N_FFT)}, {"window": _hann(N_FFT), "return_complex": True},
                                    {"window": _hann(N_FFT), "onesided": True},
                                    {"window": _hann(N_FFT, "complex64"), "return_complex": True}])
def test_istft_two_sided_matches_torch(torch, kwargs):
    _assert_same(torch, "istft", _spectrum(torch, onesided=False), N_FFT, **kwargs)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_istft_inverts_stft(center, dtype):
    x = ember.tensor(_signal((3, 97), dtype))
    # Hamming: no zero at the ends, so the envelope is positive without centring too (the NOLA condition)
    w = ember.hamming_window(N_FFT, dtype=ember.float64 if dtype != "float32" else ember.float32)
    spectrum = ember.stft(x, N_FFT, hop_length=4, window=w, center=center, return_complex=True)
    back = ember.istft(spectrum, N_FFT, hop_length=4, window=w, center=center, length=97 if center else None,
                       return_complex=x.is_complex())
    covered = 97 if center else N_FFT + 4 * (spectrum.shape[-1] - 1)      # without centring: whole frames only
    assert back.shape == (3, covered) and back.dtype == x.dtype
    np.testing.assert_allclose(_numpy(back), _numpy(x)[:, :covered], atol=1e-5 if dtype == "float32" else 1e-12)


# --- gradients -----------------------------------------------------------------------------------------------

GRAD_KWARGS = [{}, {"onesided": False}, {"normalized": True}, {"center": False}, {"win_length": 6},
               {"hop_length": 3}]


@pytest.mark.parametrize("kwargs", GRAD_KWARGS, ids=str)
def test_stft_gradcheck(kwargs):
    x = ember.tensor(_signal((2, 30), "float64"), requires_grad=True)
    w = ember.tensor(_signal(kwargs.get("win_length", 8), "float64", seed=1) + 2, requires_grad=True)
    assert gradcheck(lambda a, b: ember.view_as_real(ember.stft(a, 8, window=b, return_complex=True, **kwargs)),
                     (x, w))
    xc = ember.tensor(_signal(30, "complex128"), requires_grad=True)       # a complex signal: two-sided
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                      # return_complex=False is deprecated
        assert gradcheck(lambda a: ember.stft(a, 8, window=w.detach(), return_complex=False, **kwargs), (xc,))


@pytest.mark.parametrize("kwargs", GRAD_KWARGS, ids=str)
def test_istft_gradcheck(kwargs):
    wl = kwargs.get("win_length", 8)
    w = ember.tensor(_signal(wl, "float64", seed=1) + 2)
    spectrum = ember.stft(ember.tensor(_signal((2, 30), "float64")), 8, window=w, return_complex=True, **kwargs)
    spectrum.requires_grad_()
    w.requires_grad_()
    assert gradcheck(lambda s, b: ember.istft(s, 8, window=b, **kwargs), (spectrum, w))


@pytest.mark.parametrize("kwargs", GRAD_KWARGS, ids=str)
def test_gradients_match_torch(torch, kwargs):
    wl = kwargs.get("win_length", 8)
    x, w = _signal((2, 30), "float64"), _signal(wl, "float64", seed=1) + 2
    results = []
    for lib in (ember, torch):
        rng = np.random.default_rng(2)                          # the same upstream gradients for both
        signal, window = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        out = lib.stft(signal, 8, window=window, return_complex=True, **kwargs)
        out.backward(lib.tensor(rng.standard_normal(tuple(out.shape)) + 1j * rng.standard_normal(tuple(out.shape))))
        spectrum, window2 = lib.tensor(_numpy(out), requires_grad=True), lib.tensor(w, requires_grad=True)
        back = lib.istft(spectrum, 8, window=window2, **kwargs)
        back.backward(lib.tensor(rng.standard_normal(tuple(back.shape))))
        results.append([_numpy(t.grad) for t in (signal, window, spectrum, window2)] + [_numpy(back)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


# --- warnings and errors -------------------------------------------------------------------------------------

def test_warnings_are_issued_once_per_process():
    x = ember.tensor(_signal(40))
    _stft_module._WARNED.clear()
    with pytest.warns(UserWarning, match="A window was not provided. A rectangular window will be applied,which"):
        spectrum = ember.stft(x, 8, return_complex=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # a second call does not warn again
        ember.stft(x, 8, return_complex=True)
    with pytest.warns(UserWarning, match="stft with return_complex=False is deprecated"):
        ember.stft(x, 8, window=ember.ones(8), return_complex=False)
    with pytest.warns(UserWarning, match="Please provide the same window used by stft"):
        ember.istft(spectrum, 8)
    with pytest.warns(UserWarning, match="Result is being padded with zeros in the tail"):
        out = ember.istft(spectrum, 8, window=ember.ones(8), length=50)
    # 21 frames of 8 every 2 samples cover 48; less the 4 centring samples, 44 are signal, the rest zeros
    assert out.shape == (50,) and not _numpy(out)[44:].any() and _numpy(out)[:44].all()


STFT_ERRORS = [
    ((2, 100), "float32", (N_FFT,), {}),                                   # return_complex is required
    ((2, 3, 100), "float32", (N_FFT,), {"return_complex": True}),
    ((2, 3, 100), "int64", (N_FFT,), {"return_complex": True}),
    ((5,), "int64", (0,), {"hop_length": 0, "center": False, "return_complex": True}),
    ((5,), "float32", (0,), {"hop_length": 0, "center": False, "return_complex": True}),
    ((2, 100), "float32", (200,), {"center": False, "return_complex": True}),
    ((2, 100), "float32", (200,), {"return_complex": True}),               # reflect padding too long
    ((5,), "float32", (4,), {"hop_length": 0, "win_length": 9, "center": False, "return_complex": True}),
    ((2, 100), "float32", (N_FFT,), {"win_length": 17, "return_complex": True}),
    ((2, 100), "float32", (N_FFT,), {"window": np.ones(8, "float32"), "return_complex": True}),
    ((2, 100), "float32", (N_FFT,), {"window": np.ones((4, 4), "float32"), "normalized": True, "onesided": True,
                                     "return_complex": False}),
    ((5,), "float32", (4,), {"window": np.ones(3, "complex128"), "center": False, "onesided": False,
                             "return_complex": False}),
    ((2, 100), "complex64", (N_FFT,), {"onesided": True, "return_complex": True}),
    ((2, 100), "float32", (N_FFT,), {"align_to_window": True, "return_complex": True}),
    ((2, 100), "float32", (N_FFT,), {"pad_mode": "foo", "return_complex": True}),
    ((2, 100), "float16", (N_FFT,), {"return_complex": True}),
    ((), "float32", (N_FFT,), {"return_complex": True}),
]


@pytest.mark.parametrize("shape,dtype,args,kwargs", STFT_ERRORS, ids=[str(i) for i in range(len(STFT_ERRORS))])
def test_stft_errors_match_torch(torch, shape, dtype, args, kwargs):
    theirs = _outcome(torch.stft, torch.tensor(_signal(shape, dtype)), *args, **_convert(torch, kwargs))
    assert isinstance(theirs[0], str)
    _assert_same(torch, "stft", _signal(shape, dtype), *args, **kwargs)


def test_stft_errors_without_torch():
    x = ember.tensor(_signal((2, 100)))
    with pytest.raises(RuntimeError, match=r"^stft requires the return_complex parameter be given for real"):
        ember.stft(x, N_FFT)
    with pytest.raises(RuntimeError, match=r"^stft\(torch.FloatTensor\[2, 116\], n_fft=16, hop_length=0, "
                                           r"win_length=16, window=None, normalized=0, onesided=None, "
                                           r"return_complex=1, align_to_window=None\) : expected hop_length > 0"):
        ember.stft(x, N_FFT, hop_length=0, return_complex=True)
    with pytest.raises(TypeError, match="argument 'n_fft'"):
        ember.stft(x, 16.0, return_complex=True)


ISTFT_ERRORS = [
    ("real", {"window": _hann(N_FFT)}),
    ("1d", {"window": _hann(N_FFT)}),
    ("4d", {"window": _hann(N_FFT)}),
    ("empty", {"window": _hann(N_FFT)}),
    ("batch", {"window": _hann(N_FFT), "center": False}),           # NOLA: the envelope's first sample is 0
    ("batch", {"window": _hann(N_FFT).astype("int64")}),
    ("batch", {"window": _hann(N_FFT), "hop_length": 0}),
    ("batch", {"window": _hann(N_FFT), "hop_length": 17}),
    ("batch", {"window": _hann(N_FFT), "win_length": 17}),
    ("batch", {"window": _hann(N_FFT), "win_length": 8}),
    ("batch", {"window": np.ones((4, 4), "float32")}),
    ("batch", {"window": _hann(N_FFT), "length": 0}),
    ("n_fft", {"window": np.ones(18, "float32")}),
]


@pytest.mark.parametrize("kind,kwargs", ISTFT_ERRORS, ids=[str(i) for i in range(len(ISTFT_ERRORS))])
def test_istft_errors_match_torch(torch, kind, kwargs):
    spectrum = _spectrum(torch)
    data = {"real": spectrum.real.copy(), "1d": spectrum[0, 0], "4d": spectrum[None], "empty": spectrum[:, :, :0],
            "batch": spectrum, "n_fft": spectrum}[kind]
    n_fft = 18 if kind == "n_fft" else N_FFT
    theirs = _outcome(torch.istft, torch.tensor(data), n_fft, **_convert(torch, kwargs))
    assert isinstance(theirs[0], str)
    _assert_same(torch, "istft", data, n_fft, **kwargs)


def test_istft_nola_error_without_torch():
    spectrum = ember.stft(ember.tensor(_signal(40)), 8, window=ember.hann_window(8), return_complex=True)
    with pytest.raises(RuntimeError, match=r"window overlap add min: 1"):
        ember.istft(spectrum, 8, window=ember.hann_window(8, periodic=False), center=False)


# --- window functions ----------------------------------------------------------------------------------------

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
# the symmetric windows NumPy has (periodic=False)
NUMPY_WINDOWS = {"hann_window": np.hanning, "hamming_window": np.hamming, "blackman_window": np.blackman,
                 "bartlett_window": np.bartlett, "kaiser_window": lambda n: np.kaiser(n, 12.0)}


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 16, 101])
def test_windows_match_numpy(name, n):
    symmetric = getattr(ember, name)(n, periodic=False, dtype=ember.float64)
    np.testing.assert_allclose(_numpy(symmetric), NUMPY_WINDOWS[name](n), atol=1e-12)
    periodic = getattr(ember, name)(n, dtype=ember.float64)
    expected = NUMPY_WINDOWS[name](n + 1)[:-1] if n > 1 else np.ones(n)
    np.testing.assert_allclose(_numpy(periodic), expected, atol=1e-12)
    assert getattr(ember, name)(n).dtype == ember.float32


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(torch, name, dtype, periodic):
    extra = {"hamming_window": (0.5, 0.4), "kaiser_window": (5.0,)}.get(name, ())
    # PyTorch evaluates in the target dtype; ember rounds the float64 value once (half precision differs there)
    tol = {"float32": 1e-6, "float64": 1e-12, "float16": 2e-3, "bfloat16": 2e-2}[dtype]
    for n in (0, 1, 2, 7, 16):
        for args in ((n, periodic), (n, periodic, *extra)):
            ours = getattr(ember, name)(*args, dtype=getattr(ember, dtype), requires_grad=dtype == "float64")
            theirs = getattr(torch, name)(*args, dtype=getattr(torch, dtype), requires_grad=dtype == "float64")
            assert _dtype_name(ours) == dtype and tuple(ours.shape) == tuple(theirs.shape)
            assert ours.requires_grad == theirs.requires_grad and ours.is_leaf and theirs.is_leaf
            np.testing.assert_allclose(_numpy(ours.float()), theirs.detach().float().numpy(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("args,kwargs", [((-1,), {}), ((5,), {"dtype": "int64"}), ((5,), {"dtype": "uint8"}),
                                         ((5,), {"dtype": "bool"}), ((5,), {"dtype": "complex64"}),
                                         ((5.0,), {}), ((True,), {}), ((-1,), {"dtype": "int32"})])
def test_window_errors_match_torch(torch, name, args, kwargs):
    results = []
    for lib in (torch, ember):
        options = {k: getattr(lib, v) for k, v in kwargs.items()}
        results.append(_outcome(getattr(lib, name), *args, **options))
    assert results[0] == results[1]


# --- ember.signal.windows ------------------------------------------------------------------------------------

SIGNAL_WINDOWS = [("bartlett", {}), ("blackman", {}), ("cosine", {}), ("exponential", {}),
                  ("exponential", {"tau": 3.0}), ("gaussian", {}), ("gaussian", {"std": 2.5}),
                  ("general_cosine", {"a": [0.46, 0.23, 0.31]}), ("general_hamming", {"alpha": 0.6}),
                  ("hamming", {}), ("hann", {}), ("kaiser", {}), ("kaiser", {"beta": 3.0}), ("nuttall", {})]


@pytest.mark.parametrize("name,kwargs", SIGNAL_WINDOWS, ids=lambda v: v if isinstance(v, str) else str(v))
@pytest.mark.parametrize("sym", [True, False])
def test_signal_windows_match_torch(torch, name, kwargs, sym):
    for n in (0, 1, 2, 7, 16):
        for dtype in ("float32", "float64"):
            for requires_grad in (False, True):
                ours = getattr(ember.signal.windows, name)(n, sym=sym, dtype=getattr(ember, dtype),
                                                           requires_grad=requires_grad, **kwargs)
                theirs = getattr(torch.signal.windows, name)(n, sym=sym, dtype=getattr(torch, dtype),
                                                             requires_grad=requires_grad, **kwargs)
                assert _dtype_name(ours) == dtype and tuple(ours.shape) == tuple(theirs.shape)
                assert (ours.requires_grad, ours.is_leaf) == (theirs.requires_grad, theirs.is_leaf)
                tol = 1e-5 if dtype == "float32" else 1e-12
                np.testing.assert_allclose(_numpy(ours), theirs.detach().numpy(), atol=tol, rtol=tol)


def test_signal_windows_match_numpy():
    windows = ember.signal.windows
    for n in (1, 2, 9, 16):
        np.testing.assert_allclose(_numpy(windows.hann(n, dtype=ember.float64)), np.hanning(n), atol=1e-12)
        np.testing.assert_allclose(_numpy(windows.hamming(n, dtype=ember.float64)), np.hamming(n), atol=1e-12)
        np.testing.assert_allclose(_numpy(windows.blackman(n, dtype=ember.float64)), np.blackman(n), atol=1e-12)
        np.testing.assert_allclose(_numpy(windows.bartlett(n, dtype=ember.float64)), np.bartlett(n), atol=1e-12)
        np.testing.assert_allclose(_numpy(windows.kaiser(n, beta=4.0, dtype=ember.float64)), np.kaiser(n, 4.0),
                                   atol=1e-12)
    centred = np.arange(7) - 3.0
    np.testing.assert_allclose(_numpy(windows.gaussian(7, std=2.0, dtype=ember.float64)),
                               np.exp(-centred ** 2 / 8), atol=1e-12)
    np.testing.assert_allclose(_numpy(windows.exponential(7, tau=2.0, dtype=ember.float64)),
                               np.exp(-np.abs(centred) / 2), atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [(n, k) for n, k in SIGNAL_WINDOWS if not k] +
                         [("exponential", {"tau": 0}), ("exponential", {"center": 1.0}), ("gaussian", {"std": 0}),
                          ("kaiser", {"beta": -1}), ("general_cosine", {"a": 3}), ("general_cosine", {"a": []})],
                         ids=str)
def test_signal_window_errors_match_torch(torch, name, kwargs):
    if name == "general_cosine" and "a" not in kwargs:
        kwargs = {"a": [0.5]}
    for extra in ({}, {"dtype": "int64"}, {"dtype": "float16"}, {"layout": "sparse_coo"}):
        for n in (-1, 5):
            results = []
            for lib in (torch, ember):
                options = {k: getattr(lib, v) for k, v in extra.items()}
                outcome = _outcome(getattr(lib.signal.windows, name), n, **kwargs, **options)
                results.append(tuple(s.replace(lib.__name__ + ".", "") if isinstance(s, str) else s.shape
                                     for s in outcome))
            assert results[0] == results[1]
