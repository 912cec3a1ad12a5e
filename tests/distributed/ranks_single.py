"""A one-process group, started without mpiexec (MPI's singleton): what init_process_group accepts and refuses,
and DDP on one rank (test_distributed_mpi.py runs this file in a fresh interpreter)."""
import datetime

import pytest

import ember as torch
import ember.distributed as dist
import ember.nn as nn


@pytest.fixture(autouse=True)
def no_group_left():
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_env_init_without_a_launcher_is_a_group_of_one(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert dist.is_available() and dist.is_mpi_available() and dist.is_gloo_available()
    dist.init_process_group(backend="mpi", init_method="env://")
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_backend() == "mpi" and dist.group.WORLD.size() == 1
    t = torch.arange(3.)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [0., 1., 2.]
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("gloo")
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.group.WORLD is None
    dist.init_process_group("gloo", rank=0, world_size=1, init_method="tcp://127.0.0.1:23456")
    assert dist.get_world_size() == 1


def test_a_world_size_mpi_did_not_start_is_refused_with_the_way_out(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(RuntimeError, match="python -m ember.distributed.run --nproc-per-node 2"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_bad_arguments():
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("gloo", timeout=30)
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("carrier-pigeon")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPUs found"):
            dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="both init_method and store"):
        dist.init_process_group("gloo", init_method="env://", store=object())
    assert not dist.is_initialized()
    dist.init_process_group("cpu:gloo,cuda:nccl", timeout=datetime.timedelta(seconds=5))
    assert dist.get_backend() == "cpu:gloo,cuda:nccl"


def test_ddp_on_one_rank_is_the_plain_model():
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    ddp = nn.parallel.DistributedDataParallel(model)
    x = torch.randn(8, 3)
    for m in (ddp, plain):
        opt = torch.optim.Adam(m.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            m(x).pow(2).mean().backward()
            opt.step()
    for p, q in zip(model.parameters(), plain.parameters()):
        assert torch.equal(p, q)


def test_cuda_tensors_travel_through_host_memory():
    if not torch.cuda.is_available():
        pytest.skip("no cuda device (test_distributed_mpi.py runs this file again on the emulated one)")
    dist.init_process_group("nccl")
    assert dist.is_nccl_available() and dist.get_backend() == "nccl"
    t = torch.arange(6., device="cuda").reshape(2, 3).t()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.device.type == "cuda" and t.cpu().tolist() == [[0., 3.], [1., 4.], [2., 5.]]
    out = [torch.zeros(3, device="cuda")]
    dist.all_gather(out, torch.ones(3, device="cuda"))
    assert out[0].device.type == "cuda" and out[0].cpu().tolist() == [1., 1., 1.]
    model = nn.Linear(3, 2).cuda()
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[0])
    ddp(torch.randn(4, 3)).sum().backward()            # device_ids: the input moves to the model's device
    assert model.weight.grad.device.type == "cuda"


def test_nccl_collectives_on_cuda_tensors():
    if not torch.cuda.is_available():
        pytest.skip("no cuda device (test_distributed_mpi.py runs this file again on the emulated one)")
    dist.init_process_group("nccl")
    pg = dist.group.WORLD
    t = torch.arange(6., device="cuda")
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    work.wait()
    assert pg._nccl is not None                       # the NCCL communicator took it, not the host path
    assert t.cpu().tolist() == [0., 1., 2., 3., 4., 5.]
    dist.broadcast(t, src=0)
    out = torch.zeros(6, device="cuda")
    dist.all_gather_into_tensor(out, t)
    assert out.cpu().tolist() == t.cpu().tolist()
    dist.reduce_scatter_tensor(out, t)
    assert out.cpu().tolist() == t.cpu().tolist()
    flags = torch.tensor([True, False], device="cuda")  # a dtype NCCL has no type for: the host path
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    assert flags.cpu().tolist() == [True, False]
