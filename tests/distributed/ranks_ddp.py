"""DistributedDataParallel on a 2-rank job (started by test_distributed_mpi.py with the launcher). Each rank also
trains, locally, the one-process reference on the global batch, so the checks need no communication of their own
beyond what DDP does."""
import datetime
import os

import pytest

import ember as torch
import ember.distributed as dist
import ember.nn as nn
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset


@pytest.fixture(scope="module", autouse=True)
def group():
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    yield
    dist.destroy_process_group()


def rank():
    return dist.get_rank()


def make_model(seed, batch_norm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(5, 16), nn.Tanh()] + ([nn.BatchNorm1d(16)] if batch_norm else []) + [nn.Linear(16, 3)]
    return nn.Sequential(*layers).double()


def dataset():
    g = torch.Generator().manual_seed(123)
    return TensorDataset(torch.randn(40, 5, generator=g, dtype=torch.float64),
                         torch.randint(0, 3, (40,), generator=g))


def train_reference(steps, batch, model, optimizer):
    """One process on the global batch: per step the union of what every rank's sampler gives."""
    data = dataset()
    sampler_order = [list(DistributedSampler(data, num_replicas=2, rank=r, shuffle=True, seed=7)) for r in (0, 1)]
    for step in range(steps):
        idx = [i for r in (0, 1) for i in sampler_order[r][step * batch:(step + 1) * batch]]
        x, y = data[idx]
        # the mean over the global batch = the average of the two ranks' means (equal per-rank batches)
        losses = [nn.functional.cross_entropy(model(x[r * batch:(r + 1) * batch]), y[r * batch:(r + 1) * batch])
                  for r in (0, 1)]
        optimizer.zero_grad()
        ((losses[0] + losses[1]) / 2).backward()
        optimizer.step()


@pytest.mark.parametrize("bucket_cap_mb", [25, 0.0005])
@pytest.mark.parametrize("gradient_as_bucket_view", [False, True])
def test_ddp_trains_to_the_one_process_parameters(bucket_cap_mb, gradient_as_bucket_view):
    model = make_model(seed=rank())                 # different on each rank: DDP broadcasts rank 0's
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb, gradient_as_bucket_view=gradient_as_bucket_view)
    assert ddp.module is model
    if bucket_cap_mb < 1:
        assert len(ddp._buckets) > 1
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.2, momentum=0.9)
    data = dataset()
    sampler = DistributedSampler(data, shuffle=True, seed=7)
    loader = DataLoader(data, batch_size=4, sampler=sampler)
    steps = 0
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(ddp(x), y).backward()
        optimizer.step()
        steps += 1
    reference = make_model(seed=0)
    train_reference(steps, 4, reference, torch.optim.SGD(reference.parameters(), lr=0.2, momentum=0.9))
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p, q, rtol=1e-12, atol=1e-12), name


def test_state_dict_has_the_module_prefix_and_a_checkpoint_loads_everywhere():
    ddp = DDP(make_model(seed=rank()))
    assert list(ddp.state_dict()) == ["module." + k for k in ddp.module.state_dict()]
    path = os.path.join(os.environ["EMBER_TEST_DIR"], "ddp.pt")
    if rank() == 0:
        with torch.no_grad():
            ddp.module[0].weight.add_(1.5)
        torch.save(ddp.state_dict(), path)
    dist.barrier()
    other = DDP(make_model(seed=10 + rank()))
    other.load_state_dict(torch.load(path))
    expected = make_model(seed=0)
    with torch.no_grad():
        expected[0].weight.add_(1.5)
    for p, q in zip(other.module.parameters(), expected.parameters()):
        assert torch.equal(p, q)


def test_no_sync_accumulates_then_averages_the_sum():
    model = make_model(seed=0)
    ddp = DDP(model)
    data = dataset()
    x, y = data[list(range(16))]
    mine = [x[rank() * 8 + k * 4: rank() * 8 + k * 4 + 4] for k in (0, 1)], \
           [y[rank() * 8 + k * 4: rank() * 8 + k * 4 + 4] for k in (0, 1)]
    with ddp.no_sync():
        nn.functional.cross_entropy(ddp(mine[0][0]), mine[1][0]).backward()
    local = [p.grad.clone() for p in model.parameters()]
    nn.functional.cross_entropy(ddp(mine[0][1]), mine[1][1]).backward()
    reference = make_model(seed=0)
    for r in (0, 1):
        for k in (0, 1):
            xs, ys = x[r * 8 + k * 4: r * 8 + k * 4 + 4], y[r * 8 + k * 4: r * 8 + k * 4 + 4]
            (nn.functional.cross_entropy(reference(xs), ys) / 2).backward()
    for p, q, before in zip(model.parameters(), reference.parameters(), local):
        assert torch.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-13)
        assert not torch.allclose(p.grad, before)       # the no_sync step alone was only local


class TwoHeads(nn.Module):
    """head_b is used on rank 1 only (or never); head_c is never used."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(4, 4).double()
        self.head_a = nn.Linear(4, 1).double()
        self.head_b = nn.Linear(4, 1).double()
        self.head_c = nn.Linear(4, 1).double()

    def forward(self, x, use_b):
        h = self.body(x)
        return self.head_a(h) + (self.head_b(h) if use_b else 0)


def test_unused_parameters_without_find_unused_raise_at_the_next_forward():
    ddp = DDP(TwoHeads())
    x = torch.ones(2, 4, dtype=torch.float64)
    ddp(x, use_b=True).sum().backward()
    with pytest.raises(RuntimeError, match="Expected to have finished reduction in the prior iteration.*head_c"):
        ddp(x, use_b=True)


def test_find_unused_parameters_averages_what_some_rank_used():
    model = TwoHeads()
    ddp = DDP(model, find_unused_parameters=True)
    x = torch.full((2, 4), float(rank() + 1), dtype=torch.float64)
    for _ in range(2):                                   # a second iteration runs (no leftover reduction)
        model.zero_grad()
        ddp(x, use_b=rank() == 1).sum().backward()
    assert model.head_c.weight.grad is None             # no rank used it: untouched
    reference = TwoHeads()
    grads = []
    for r in (0, 1):
        reference.zero_grad()
        reference(torch.full((2, 4), float(r + 1), dtype=torch.float64), use_b=r == 1).sum().backward()
        grads.append({n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                      for n, p in reference.named_parameters()})
    for name, p in model.named_parameters():
        if name.startswith("head_c"):
            continue
        assert torch.allclose(p.grad, (grads[0][name] + grads[1][name]) / 2, rtol=1e-12, atol=1e-13), name


@pytest.mark.parametrize("broadcast_buffers", [True, False])
def test_buffers_follow_rank_0_at_each_forward_with_grad(broadcast_buffers):
    model = make_model(seed=rank(), batch_norm=True)
    ddp = DDP(model, init_sync=False, broadcast_buffers=broadcast_buffers)
    model[2].momentum = 0.0                     # forward leaves the statistics as they are
    x = torch.randn(6, 5, dtype=torch.float64)
    with torch.no_grad():
        model[2].running_mean.fill_(float(rank()))
    ddp(x)                                      # with grad: rank 0's buffers first
    assert model[2].running_mean.tolist() == [0. if broadcast_buffers else float(rank())] * 16
    with torch.no_grad():
        model[2].running_mean.fill_(float(rank()))
        ddp(x)                                  # without grad: no synchronisation, as PyTorch
    with ddp.no_sync():
        ddp(x)
    assert model[2].running_mean.tolist() == [float(rank())] * 16
    assert model[0].weight.grad is None


def test_ddp_refuses_different_models_and_models_without_parameters():
    model = nn.Linear(3, 2 + rank()).double()
    with pytest.raises(RuntimeError, match="same model on every rank"):
        DDP(model)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DDP(nn.ReLU())
