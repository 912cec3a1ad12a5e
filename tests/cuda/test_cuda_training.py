"""Modules and optimizers on the cuda device give the cpu's numbers: every optimizer configuration of
tests/optim/optim_db.py trained on cuda, a model of conv + batchnorm + LSTM + linear trained three steps, and
checkpoints moved between the devices."""
import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember._backends import cuda as backend

sys.path.insert(0, str(Path(__file__).parents[1] / "optim"))
from optim_db import LBFGS_CASES, OPTIM_CASES, closure_for, loss_fn, make_data, make_params  # noqa: E402

nn = ember.nn


def _on(device, params):
    return [p.detach().to(device).requires_grad_() for p in params]


def _host(t):
    return t.detach().cpu().numpy()


def _assert_state_on(state, device):
    for value in state.values():
        if isinstance(value, ember.Tensor) and value.ndim:       # step counters may stay on the cpu, as torch's
            assert value.device.type == device, f"optimizer state on {value.device}"
            if device == "cuda":
                assert isinstance(value._array, backend.xp.ndarray)


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in OPTIM_CASES + LBFGS_CASES])
def test_optimizer_on_cuda_matches_cpu(case, cuda_device):
    results = {}
    for device in ("cpu", cuda_device):
        params = _on(device, make_params(ember, "float64"))
        data = [t.to(device) for t in make_data(ember, "float64")]
        opt = case.build(ember, params)
        closure = closure_for(opt, params, data)
        sign = -1 if opt.defaults.get("maximize") else 1
        for _ in range(5):
            if case.name == "LBFGS":
                opt.step(closure)
            else:
                opt.zero_grad()
                (loss_fn(params, *data) * sign).backward()
                opt.step()
        for state in opt.state.values():
            _assert_state_on(state, device)
        results[device] = [_host(p) for p in params]
    for c, g in zip(results["cpu"], results[cuda_device]):
        np.testing.assert_allclose(g, c, rtol=1e-9, atol=1e-12)


class ConvLSTM(nn.Module):
    """conv + batchnorm + LSTM + linear: the model issue 14 names."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        h = self.bn(self.conv(x).relu())                    # (batch, channels, time)
        out, _ = self.lstm(h.transpose(1, 2))
        return self.head(out[:, -1])


def _train(model, device, steps=3):
    ember.manual_seed(1)
    x = ember.randn(6, 3, 10, dtype=ember.float64).to(device)
    y = ember.randint(0, 4, (6,)).to(device)
    model = model.to(device)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: _host(v) for k, v in model.state_dict().items()}


def test_conv_batchnorm_lstm_linear_trains_the_same_on_cuda(cuda_device):
    ember.manual_seed(0)
    model = ConvLSTM().double()
    cpu_losses, cpu_state = _train(copy.deepcopy(model), "cpu")
    gpu_losses, gpu_state = _train(copy.deepcopy(model), cuda_device)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-10)
    assert cpu_state.keys() == gpu_state.keys()
    for k in cpu_state:
        np.testing.assert_allclose(gpu_state[k], cpu_state[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_module_to_cuda_moves_parameters_buffers_and_grads(cuda_device):
    model = ConvLSTM()
    model(ember.randn(2, 3, 5)).sum().backward()
    model.cuda()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert t.is_cuda, name
        assert isinstance(t._array, backend.xp.ndarray), name
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.is_cuda, name
    assert model(ember.randn(2, 3, 5, device=cuda_device)).is_cuda


def test_state_dict_moves_between_devices(cuda_device, tmp_path):
    model = ConvLSTM().to(cuda_device)
    path = tmp_path / "model.pt"
    ember.save(model.state_dict(), path)
    on_cpu = ConvLSTM()
    on_cpu.load_state_dict(ember.load(path, map_location="cpu"))
    for (name, a), b in zip(model.state_dict().items(), on_cpu.state_dict().values()):
        assert b.device.type == "cpu"
        assert np.array_equal(_host(a), b.numpy()), name
    back = ConvLSTM().to(cuda_device)
    back.load_state_dict(on_cpu.state_dict())              # copies cpu values into cuda parameters
    assert all(p.is_cuda for p in back.parameters())


def test_dataloader_batches_move_with_non_blocking(cuda_device):
    data = ember.utils.data.TensorDataset(ember.arange(10.0).reshape(5, 2), ember.arange(5))
    seen = []
    for x, y in ember.utils.data.DataLoader(data, batch_size=2, pin_memory=True):
        x, y = x.to(cuda_device, non_blocking=True), y.to(cuda_device, non_blocking=True)
        assert x.is_cuda and y.is_cuda
        seen.append(y.cpu().tolist())
    assert seen == [[0, 1], [2, 3], [4]]
