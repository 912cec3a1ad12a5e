"""The "nccl" backend on a 2-rank job with cuda tensors (test_distributed_mpi.py runs it under
EMBER_EMULATE_CUDA=1, whose NCCL stand-in takes the same pointer-based calls as CuPy's bindings)."""
import datetime

import pytest

import ember as torch
import ember.distributed as dist


@pytest.fixture(scope="module", autouse=True)
def group():
    dist.init_process_group("nccl", timeout=datetime.timedelta(seconds=60))
    yield
    dist.destroy_process_group()


def rank():
    return dist.get_rank()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.float16], ids=str)
@pytest.mark.parametrize("name", ["SUM", "MAX", "MIN", "PRODUCT"])
def test_all_reduce_through_nccl(name, dtype):
    values = [torch.tensor([1, 4, -2, 3]) + r for r in range(2)]
    t = values[rank()].to(dtype).cuda()
    dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
    combine = {"SUM": torch.add, "MAX": torch.maximum, "MIN": torch.minimum, "PRODUCT": torch.mul}[name]
    assert t.device.type == "cuda" and dist.group.WORLD._nccl is not None
    assert t.cpu().tolist() == combine(values[0], values[1]).to(dtype).tolist()


def test_avg_broadcast_gather_scatter_through_nccl():
    t = torch.tensor([1.0, 2.0, 3.0, 4.0], device="cuda") * (rank() + 1)
    dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True).wait()
    assert t.cpu().tolist() == [1.5, 3.0, 4.5, 6.0]
    b = torch.full((3,), float(rank()), device="cuda")
    dist.broadcast(b, src=1)
    assert b.cpu().tolist() == [1.0, 1.0, 1.0]
    out = torch.zeros(4, device="cuda")
    dist.all_gather_into_tensor(out, torch.full((2,), float(rank() + 1), device="cuda"))
    assert out.cpu().tolist() == [1.0, 1.0, 2.0, 2.0]
    piece = torch.zeros(2, device="cuda")
    dist.reduce_scatter_tensor(piece, torch.arange(4.0, device="cuda"))
    assert piece.cpu().tolist() == ([0.0, 2.0] if rank() == 0 else [4.0, 6.0])


def test_ddp_on_cuda_averages_through_nccl():
    torch.manual_seed(rank())
    model = torch.nn.Linear(3, 2).cuda()
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0])
    x = torch.ones(4, 3, device="cuda") * (rank() + 1)
    ddp(x).sum().backward()
    grads = [None, None]
    dist.all_gather_object(grads, model.weight.grad.cpu().tolist())
    assert grads[0] == grads[1]
    assert model.weight.grad.cpu().tolist() == [[6.0, 6.0, 6.0], [6.0, 6.0, 6.0]]   # mean of 4 and 8
