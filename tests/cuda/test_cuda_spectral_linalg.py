"""ember.fft, stft/istft, the window functions and ember.linalg on cuda, beyond the op table (test_cuda_ops.py
covers the ops with an OpCase; fft, stft and the windows are tested elsewhere on cpu and not in that table): values,
dtypes and gradients equal the cpu's, outputs and gradients stored on the device. Decompositions are compared
through quantities that do not depend on the sign or phase a solver picks for its vectors (a GPU's cuSOLVER may
pick others than LAPACK)."""
import numpy as np
import pytest

import ember
from ember._backends import cuda as backend

_RNG = np.random.default_rng(14)
A = _RNG.standard_normal((4, 4))
B = _RNG.standard_normal((4, 2))
SPD = A @ A.T + 4 * np.eye(4)
BATCH = _RNG.standard_normal((2, 3, 3))
SIGNAL = _RNG.standard_normal((3, 16))
COMPLEX = _RNG.standard_normal((3, 16)) + 1j * _RNG.standard_normal((3, 16))
L, F = ember.linalg, ember.fft


def _window(m, n):
    return ember.hann_window(n, dtype=m.dtype, device=m.device)


CASES = {}
for _name in ("fft", "ifft", "rfft", "ihfft", "fftn", "ifftn", "rfftn", "ihfftn", "fft2", "ifft2", "rfft2",
              "ihfft2"):
    CASES[f"fft.{_name}"] = (lambda name: lambda x: getattr(F, name)(x, norm="ortho"))(_name), [SIGNAL]
for _name in ("fft", "ifft", "irfft", "hfft", "fftn", "irfftn", "hfftn", "irfft2", "hfft2"):
    CASES[f"fft.{_name}_complex"] = (lambda name: lambda z: getattr(F, name)(z))(_name), [COMPLEX]
CASES.update({
    "fft.fft_n": (lambda x: F.fft(x, n=20, dim=0), [SIGNAL]),
    "fft.fftshift": (lambda x: F.fftshift(x), [SIGNAL]),
    "fft.ifftshift": (lambda x: F.ifftshift(x, dim=-1), [SIGNAL]),
    "fft.fftfreq": (lambda device: F.fftfreq(9, 0.1, dtype=ember.float64, device=device), None),
    "fft.rfftfreq": (lambda device: F.rfftfreq(8, device=device), None),
    "stft": (lambda x: ember.stft(x, 8, hop_length=2, window=_window(x, 8), return_complex=True), [SIGNAL]),
    "stft_onesided_false": (lambda x: ember.stft(x, 8, window=ember.ones(8, dtype=x.dtype, device=x.device),
                                                 return_complex=True, onesided=False, center=False), [SIGNAL]),
    "istft": (lambda x: ember.istft(ember.stft(x, 8, hop_length=2, window=_window(x, 8), return_complex=True), 8,
                                    hop_length=2, window=_window(x, 8), length=16), [SIGNAL]),
    # decompositions, through sign-invariant quantities
    "linalg.cholesky": (lambda a: L.cholesky(a), [SPD]),
    "linalg.eigh": (lambda a: [L.eigh(a)[0], L.eigh(a)[1] @ L.eigh(a)[0].diag_embed() @ L.eigh(a)[1].mT], [SPD]),
    "linalg.eigvalsh": (lambda a: L.eigvalsh(a), [SPD]),
    "linalg.qr": (lambda a: [L.qr(a)[0] @ L.qr(a)[1], L.qr(a)[1].diagonal().abs()], [A]),
    "linalg.svd": (lambda a: [L.svd(a)[1], L.svd(a)[0] @ L.svd(a)[1].diag_embed() @ L.svd(a)[2]], [A]),
    "linalg.svd_reduced": (lambda a: L.svd(a, full_matrices=False)[1], [B]),
    "linalg.svdvals": (lambda a: L.svdvals(a), [BATCH]),
    "linalg.matrix_exp": (lambda a: L.matrix_exp(a * 0.3), [BATCH]),
    "linalg.matrix_power": (lambda a: L.matrix_power(a, 3), [A]),
    "linalg.matrix_power_negative": (lambda a: L.matrix_power(a, -2), [SPD]),
    "linalg.matrix_rank": (lambda a: L.matrix_rank(a), [A]),
    "linalg.multi_dot": (lambda a, b: L.multi_dot([a, a, b]), [A, B]),
    "linalg.solve_triangular": (lambda a, b: L.solve_triangular(a.tril(), b, upper=False), [SPD, B]),
    "linalg.vecdot": (lambda a, b: L.vecdot(a, b), [A, A]),
    "linalg.vander": (lambda x: L.vander(x), [SIGNAL[0, :5]]),
    "linalg.tensorinv": (lambda a: L.tensorinv(a.reshape(2, 2, 4), 2), [SPD]),
    "linalg.tensorsolve": (lambda a, b: L.tensorsolve(a, b[:, 0]), [SPD, B]),
    "linalg.diagonal": (lambda a: L.diagonal(a, offset=1), [A]),
    "linalg.det_batch": (lambda a: L.det(a), [BATCH]),
    "linalg.slogdet": (lambda a: list(L.slogdet(a)), [A]),
    "linalg.inv_batch": (lambda a: L.inv(a), [BATCH]),
    "linalg.pinv": (lambda a: L.pinv(a), [B]),
    "linalg.solve_left": (lambda a, b: L.solve(a, b.mT, left=False), [SPD, B]),
    "linalg.norm_nuc": (lambda a: L.matrix_norm(a, "nuc"), [A]),
    "linalg.norm_2": (lambda a: L.matrix_norm(a, 2), [A]),
    "linalg.cross": (lambda a, b: L.cross(a[:, :3], b[:, 1:]), [A, A]),
    "linalg.vector_norm": (lambda a: L.vector_norm(a, 3, dim=0), [A]),
})


def _flat(result):
    if isinstance(result, ember.Tensor):
        return [result]
    if isinstance(result, (list, tuple)):
        return [t for r in result for t in _flat(r)]
    return []


def _run(name, device):
    fn, arrays = CASES[name]
    if arrays is None:                          # a factory: it takes the device
        return _flat(fn(device))
    inputs = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
    outputs = _flat(fn(*inputs))
    grads = []
    diff = [o for o in outputs if o.requires_grad]
    if inputs and diff:
        loss = sum((o.real if o.is_complex() else o).sum() + (o.imag.sum() if o.is_complex() else 0) for o in diff)
        grads = [g for g in ember.autograd.grad(loss, inputs, allow_unused=True) if g is not None]
    return outputs + grads


@pytest.mark.parametrize("name", sorted(CASES))
def test_on_cuda_matches_cpu(name, cuda_device):
    want = _run(name, "cpu")
    got = _run(name, cuda_device)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.device.type == "cuda" and isinstance(g._array, backend.xp.ndarray), f"{name}: on {g.device}"
        assert g.dtype == w.dtype and g.shape == w.shape, name
        np.testing.assert_allclose(g.detach().cpu().numpy(), w.detach().numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
SIGNAL_WINDOWS = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "hamming", "hann", "kaiser",
                  "nuttall"]


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.float16])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("name", WINDOWS)
def test_window_on_cuda_matches_cpu(name, periodic, dtype, cuda_device):
    for length in (0, 1, 2, 9):
        got = getattr(ember, name)(length, periodic, dtype=dtype, device=cuda_device, requires_grad=True)
        want = getattr(ember, name)(length, periodic, dtype=dtype)
        assert got.device.type == "cuda" and isinstance(got._array, backend.xp.ndarray)
        assert got.dtype == dtype and got.requires_grad and got.is_leaf
        np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-12)
    ember.set_default_device(cuda_device)
    try:
        assert getattr(ember, name)(4).device.type == "cuda"    # the default device, as PyTorch's factories
    finally:
        ember.set_default_device(None)


def test_window_values_without_torch():
    """The formulas themselves: hann(4) periodic is [0, 0.5, 1, 0.5]; bartlett(5, False) a triangle; kaiser(1) is 1."""
    np.testing.assert_allclose(ember.hann_window(4, dtype=ember.float64).numpy(), [0, 0.5, 1, 0.5], atol=1e-15)
    np.testing.assert_allclose(ember.bartlett_window(5, False, dtype=ember.float64).numpy(), [0, 0.5, 1, 0.5, 0],
                               atol=1e-15)
    assert ember.kaiser_window(1).tolist() == [1.0]
    np.testing.assert_allclose(ember.kaiser_window(3, False, beta=0.0, dtype=ember.float64).numpy(), [1, 1, 1])


@pytest.mark.parametrize("name", SIGNAL_WINDOWS)
def test_signal_windows_on_cuda_match_cpu(name, cuda_device):
    got = getattr(ember.signal.windows, name)(10, dtype=ember.float64, device=cuda_device)
    want = getattr(ember.signal.windows, name)(10, dtype=ember.float64)
    assert got.device.type == "cuda" and isinstance(got._array, backend.xp.ndarray)
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-12, atol=1e-15)


def test_windows_match_torch():
    torch = pytest.importorskip("torch")
    for name in WINDOWS:
        for periodic in (True, False):
            want = getattr(torch, name)(7, periodic, dtype=torch.float64).numpy()
            got = getattr(ember, name)(7, periodic, dtype=ember.float64).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=f"{name} {periodic}")
