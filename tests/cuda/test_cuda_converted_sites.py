"""Paths converted from NumPy to the device's array module (issue 14): each runs on cuda and gives the cpu's values,
its results stored on the device."""
import numpy as np

import ember
from ember._backends import cuda as backend


def _pair(fn, device):
    out = fn("cpu"), fn(device)
    assert isinstance(out[1]._array, backend.xp.ndarray)
    np.testing.assert_allclose(out[1].detach().cpu().numpy(), out[0].detach().numpy(), rtol=1e-9, atol=1e-12)
    return out


def test_causal_attention_mask_on_cuda(cuda_device):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 4, 5)) for _ in range(3))
    F = ember.nn.functional

    def run(device):
        args = [ember.tensor(a, device=device) for a in (q, k, v)]
        return F.scaled_dot_product_attention(*args, is_causal=True)
    cpu, cuda = _pair(run, cuda_device)
    # the first query sees only the first key: its output is v's first row
    np.testing.assert_allclose(cuda[:, :, 0].cpu().numpy(), v[:, :, 0], rtol=1e-12)


def test_ctc_loss_on_cuda(cuda_device):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 2, 4))
    targets, in_len, tgt_len = np.array([1, 2, 3, 1, 1]), [6, 5], [3, 2]

    def run(device):
        log_probs = ember.tensor(logits, device=device).log_softmax(-1)
        return ember.nn.functional.ctc_loss(log_probs, ember.tensor(targets, device=device), in_len, tgt_len)
    _pair(run, cuda_device)


def test_lbfgs_strong_wolfe_on_cuda(cuda_device):
    def run(device):
        x = ember.tensor([1.5, -0.5], dtype=ember.float64, device=device, requires_grad=True)
        opt = ember.optim.LBFGS([x], lr=1, max_iter=20, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
            loss.backward()
            return loss
        for _ in range(3):
            opt.step(closure)
        return x
    cpu, _ = _pair(run, cuda_device)
    assert abs(cpu.detach().numpy() - 1).max() < 1e-3      # Rosenbrock's minimum


def test_scalar_results_become_arrays_of_their_device(cuda_device):
    """What an op's forward gives that is not an array (a NumPy scalar from a cpu 0-d computation, a Python number)
    is made an array by the array module of the result's device (autograd/function.py's _as_array)."""
    from ember._device import CPU, to_device
    from ember.autograd.function import _as_array
    cuda = to_device(cuda_device)
    ember.ones(1, device=cuda)                                  # starts the backend
    for value in (0.5, 3, True):
        out = _as_array(value, cuda)
        assert isinstance(out, backend.xp.ndarray) and out.shape == () and out.item() == value
        host = _as_array(value, CPU)
        assert isinstance(host, np.ndarray) and host.item() == value
    assert isinstance(_as_array(np.float32(2)), np.ndarray)
    device_array = backend.xp.zeros(3)
    assert _as_array(device_array, cuda) is device_array
