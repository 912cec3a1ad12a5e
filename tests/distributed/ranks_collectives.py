"""Collectives against their definitions, run by every rank of a 2-rank job (test_distributed_mpi.py starts it
with the launcher: `python -m ember.distributed.run --nproc-per-node 2 -m pytest tests/distributed/
ranks_collectives.py`). Each rank computes every rank's input locally, so each check knows the exact answer.
Every rank runs the same tests in the same order, so the collectives match."""
import datetime
import functools
import warnings

import pytest

import ember as torch
import ember.distributed as dist

OPS = ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int8,
          torch.uint8, torch.bool, torch.complex64]


@pytest.fixture(scope="module", autouse=True)
def group():
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    yield dist.group.WORLD
    dist.destroy_process_group()


def rank():
    return dist.get_rank()


def world():
    return dist.get_world_size()


def data(r, dtype, shape=(2, 3)):
    """Rank r's input: distinct, small values (products stay exact in every dtype)."""
    base = torch.arange(1, 1 + int(torch.tensor(shape).prod()), dtype=torch.float64).reshape(shape)
    values = (base + 2 * r) % 5 + r
    if dtype == torch.bool:
        return (values.long() % 2).bool()
    if dtype.is_complex:
        return torch.complex(values, values - r).to(dtype)
    return values.to(dtype)


def combine(name, tensors):
    fns = {"SUM": torch.add, "AVG": torch.add, "PRODUCT": torch.mul, "MIN": torch.minimum, "MAX": torch.maximum,
           "BAND": torch.bitwise_and, "BOR": torch.bitwise_or, "BXOR": torch.bitwise_xor}
    out = functools.reduce(fns[name], tensors)
    return out / len(tensors) if name == "AVG" else out


def error_of(name, dtype):
    """The exception PyTorch raises for op on dtype, or None."""
    if dtype.is_complex and name not in ("SUM", "AVG", "PRODUCT"):
        return ValueError
    if name in ("BAND", "BOR", "BXOR") and (dtype.is_floating_point or dtype.is_complex):
        return RuntimeError
    if name == "AVG" and not (dtype.is_floating_point or dtype.is_complex):
        return RuntimeError
    return None


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", OPS)
def test_all_reduce_every_op_and_dtype(name, dtype):
    op = getattr(dist.ReduceOp, name)
    t = data(rank(), dtype)
    error = error_of(name, dtype)
    if error is not None:
        before = t.clone()
        with pytest.raises(error):
            dist.all_reduce(t, op=op)
        assert torch.equal(t, before)                 # refused before touching the tensor
        return
    expected = combine(name, [data(r, dtype) for r in range(world())])
    version = t._version
    assert dist.all_reduce(t, op=op) is None
    assert t.dtype == dtype and torch.equal(t, expected), (name, dtype, t, expected)
    assert t._version > version


@pytest.mark.parametrize("layout", ["transposed", "strided-view", "0-d", "empty"])
def test_all_reduce_writes_into_non_contiguous_tensors(layout):
    def make(r):
        if layout == "transposed":
            return data(r, torch.float32, (3, 4)).t()
        if layout == "strided-view":
            return data(r, torch.float64, (6, 4))[::2, 1:]
        if layout == "0-d":
            return data(r, torch.float32, ())
        return torch.zeros(0, 3)
    base = make(rank())
    t = base
    expected = combine("SUM", [make(r) for r in range(world())])
    dist.all_reduce(t)
    assert t is base and t.stride() == make(rank()).stride() and torch.equal(t, expected)


def test_all_reduce_of_a_view_changes_its_base():
    base = data(rank(), torch.float32, (4, 3))
    dist.all_reduce(base[1:3])
    expected = data(rank(), torch.float32, (4, 3))
    expected[1:3] = combine("SUM", [data(r, torch.float32, (4, 3))[1:3] for r in range(world())])
    assert torch.equal(base, expected)


@pytest.mark.parametrize("name", ["SUM", "AVG", "MAX"])
def test_async_all_reduce_returns_a_work(name):
    t = data(rank(), torch.float32)
    work = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True and work.is_completed() and work.is_success()
    assert torch.equal(t, combine(name, [data(r, torch.float32) for r in range(world())]))
    assert work.result()[0] is t


def test_several_async_collectives_in_flight():
    tensors = [data(rank(), torch.float64, (5,)) * i for i in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in tensors]
    for w in reversed(works):
        w.wait()
    for i, t in enumerate(tensors):
        assert torch.equal(t, combine("SUM", [data(r, torch.float64, (5,)) * i for r in range(world())]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool, torch.bfloat16, torch.complex128], ids=str)
@pytest.mark.parametrize("src", [0, 1])
def test_broadcast(src, dtype):
    t = data(rank(), dtype, (3, 2)).t()
    assert dist.broadcast(t, src=src) is None
    assert torch.equal(t, data(src, dtype, (3, 2)).t())


def test_broadcast_async_and_group_src():
    t = data(rank(), torch.float32)
    dist.broadcast(t, group_src=1, async_op=True).wait()
    assert torch.equal(t, data(1, torch.float32))


def test_broadcast_argument_errors():
    t = torch.ones(2)
    with pytest.raises(RuntimeError, match="invalid root rank 5"):
        dist.broadcast(t, src=5)
    with pytest.raises(ValueError):
        dist.broadcast(t)                           # neither src nor group_src
    with pytest.raises(ValueError):
        dist.broadcast(t, src=0, group_src=0)
    with pytest.raises(TypeError, match="Expected parameter `tensor` of type torch.Tensor"):
        dist.broadcast([1, 2], src=0)


@pytest.mark.parametrize("name", ["SUM", "AVG", "PRODUCT", "MIN", "MAX"])
@pytest.mark.parametrize("dst", [0, 1])
def test_reduce(dst, name):
    t = data(rank(), torch.float32)
    dist.reduce(t, dst=dst, op=getattr(dist.ReduceOp, name))
    if rank() == dst:
        assert torch.equal(t, combine(name, [data(r, torch.float32) for r in range(world())]))
    else:
        assert torch.equal(t, data(rank(), torch.float32))        # left as it was


def test_reduce_bitwise_on_integers():
    t = data(rank(), torch.int32)
    dist.reduce(t, dst=0, op=dist.ReduceOp.BXOR, async_op=True).wait()
    if rank() == 0:
        assert torch.equal(t, combine("BXOR", [data(r, torch.int32) for r in range(world())]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int8, torch.bool, torch.float16], ids=str)
def test_all_gather(dtype):
    out = [torch.zeros(2, 3, dtype=dtype) for _ in range(world())]
    dist.all_gather(out, data(rank(), dtype))
    for r in range(world()):
        assert torch.equal(out[r], data(r, dtype))


def test_all_gather_uneven_pieces_and_async():
    sizes = [r + 1 for r in range(world())]
    out = [torch.zeros(n) for n in sizes]
    dist.all_gather(out, torch.full((sizes[rank()],), float(rank())), async_op=True).wait()
    for r, n in enumerate(sizes):
        assert torch.equal(out[r], torch.full((n,), float(r)))


def test_all_gather_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="expected length 2, got 1"):
        dist.all_gather([torch.zeros(2)], torch.ones(2))
    with pytest.raises(RuntimeError, match="invalid tensor size"):
        dist.all_gather([torch.zeros(2), torch.zeros(2)], torch.ones(3))
    with pytest.raises(ValueError, match="different dtypes"):
        dist.all_gather([torch.zeros(2), torch.zeros(2)], torch.ones(2, dtype=torch.float64))
    with pytest.raises(TypeError, match="List"):
        dist.all_gather(torch.zeros(2), torch.ones(2))


@pytest.mark.parametrize("shape", [(4,), (2, 2)])
def test_all_gather_into_tensor_concatenated_or_stacked(shape):
    out = torch.zeros(shape)
    dist.all_gather_into_tensor(out, torch.full((2,), float(rank() + 1)))
    assert torch.equal(out.reshape(-1), torch.tensor([1., 1., 2., 2.]))
    with pytest.raises(ValueError, match="world size"):
        dist.all_gather_into_tensor(torch.zeros(5), torch.ones(2))


@pytest.mark.parametrize("dst", [0, 1])
def test_gather(dst):
    mine = data(rank(), torch.float64)
    if rank() == dst:
        out = [torch.zeros(2, 3, dtype=torch.float64) for _ in range(world())]
        dist.gather(mine, out, dst=dst)
        for r in range(world()):
            assert torch.equal(out[r], data(r, torch.float64))
        with pytest.raises(ValueError, match="must be specified on destination rank"):
            dist.gather(mine, None, dst=dst)
    else:
        dist.gather(mine, dst=dst)
        with pytest.raises(ValueError, match="must NOT be specified on non-destination ranks"):
            dist.gather(mine, [torch.zeros(2, 3)] * 2, dst=dst)


@pytest.mark.parametrize("src", [0, 1])
def test_scatter(src):
    out = torch.zeros(3, 2).t()
    pieces = [data(r, torch.float32) for r in range(world())] if rank() == src else None
    dist.scatter(out, pieces, src=src)
    assert torch.equal(out, data(rank(), torch.float32))


@pytest.mark.parametrize("name", ["SUM", "AVG", "MAX"])
def test_reduce_scatter_and_reduce_scatter_tensor(name):
    op = getattr(dist.ReduceOp, name)
    inputs = [data(rank(), torch.float32, (4,)) * (i + 1) for i in range(world())]
    out = torch.zeros(4)
    dist.reduce_scatter(out, inputs, op=op)
    expected = combine(name, [data(r, torch.float32, (4,)) * (rank() + 1) for r in range(world())])
    assert torch.equal(out, expected)
    flat = torch.cat(inputs)
    out2 = torch.zeros(4)
    dist.reduce_scatter_tensor(out2, flat, op=op, async_op=True).wait()
    assert torch.equal(out2, expected)
    with pytest.raises(ValueError, match="world"):
        dist.reduce_scatter_tensor(torch.zeros(3), flat)


def test_all_to_all_and_all_to_all_single():
    inputs = [torch.full((r + 1,), float(10 * rank() + r)) for r in range(world())]
    outputs = [torch.zeros(rank() + 1) for _ in range(world())]
    dist.all_to_all(outputs, inputs)
    for r in range(world()):
        assert torch.equal(outputs[r], torch.full((rank() + 1,), float(10 * r + rank())))
    out = torch.zeros(world(), 3)
    dist.all_to_all_single(out, torch.arange(world() * 3.).reshape(world(), 3) + 100 * rank())
    for r in range(world()):
        assert torch.equal(out[r], torch.arange(3.) + 3 * rank() + 100 * r)
    # uneven splits: rank r sends r + 1 rows to rank 0 and 1 row to rank 1 (world size 2)
    send = torch.arange((rank() + 2) * 2.).reshape(rank() + 2, 2) + 100 * rank()
    splits_in = [rank() + 1, 1]
    splits_out = [1, 2] if rank() == 0 else [1, 1]
    recv = torch.zeros(sum(splits_out), 2)
    dist.all_to_all_single(recv, send, output_split_sizes=splits_out, input_split_sizes=splits_in)
    if rank() == 0:
        assert recv.tolist() == [[0., 1.], [100., 101.], [102., 103.]]
    else:
        assert recv.tolist() == [[2., 3.], [104., 105.]]


def test_send_recv_isend_irecv():
    other = 1 - rank()
    if rank() == 0:
        dist.send(torch.arange(4.), dst=1)
        t = torch.zeros(3, dtype=torch.int64)
        assert dist.recv(t) == 1                        # any source: returns the sender
        assert t.tolist() == [7, 8, 9]
    else:
        t = torch.zeros(4)
        assert dist.recv(t, src=0) == 0 and t.tolist() == [0., 1., 2., 3.]
        dist.send(torch.tensor([7, 8, 9]), dst=0)
    out = torch.zeros(2, 2).t()
    recv = dist.irecv(out, src=other, tag=3)
    send = dist.isend(torch.tensor([[1., 2.], [3., 4.]]) * (rank() + 1), dst=other, tag=3)
    send.wait()
    recv.wait()
    assert torch.equal(out, torch.tensor([[1., 2.], [3., 4.]]) * (other + 1))
    with pytest.raises(ValueError, match="should not be the same as the rank of the current process"):
        dist.send(torch.ones(1), dst=rank())


def test_irecv_from_any_source_names_the_sender():
    if rank() == 1:
        dist.send(torch.ones(2), dst=0)
    else:
        t = torch.zeros(2)
        work = dist.irecv(t)
        work.wait()
        assert work.source_rank() == 1 and t.tolist() == [1., 1.]


def test_work_wait_with_a_timeout_raises_then_completes():
    if rank() == 0:
        t = torch.zeros(1)
        work = dist.irecv(t, src=1)
        with pytest.raises(dist.DistBackendError, match="timed out"):
            work.wait(timeout=datetime.timedelta(milliseconds=50))
        dist.barrier()
        work.wait()
        assert t.item() == 5.
    else:
        dist.barrier()                           # sends only after rank 0's wait has timed out
        dist.send(torch.tensor([5.]), dst=0)


def test_object_collectives():
    objects = [None] * world()
    dist.all_gather_object(objects, {"rank": rank(), "tensor": torch.tensor([rank()])})
    assert [o["rank"] for o in objects] == list(range(world()))
    assert [o["tensor"].item() for o in objects] == list(range(world()))
    items = [rank(), "from", rank()] if rank() == 1 else [None, None, None]
    dist.broadcast_object_list(items, src=1)
    assert items == [1, "from", 1]
    gathered = [None] * world() if rank() == 0 else None
    dist.gather_object(("x", rank()), gathered, dst=0)
    if rank() == 0:
        assert gathered == [("x", 0), ("x", 1)]
    out = [None]
    dist.scatter_object_list(out, [{"to": r} for r in range(world())] if rank() == 0 else None, src=0)
    assert out == [{"to": rank()}]


def test_barrier_and_queries():
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()
    dist.monitored_barrier(timeout=datetime.timedelta(seconds=30))
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert dist.get_world_size() == 2 and dist.get_rank() in (0, 1)
    assert dist.get_process_group_ranks(dist.group.WORLD) == [0, 1]
    assert dist.group.WORLD is dist.GroupMember.WORLD and dist.group.WORLD.size() == 2


def test_new_group_of_one_rank():
    g = dist.new_group([1])
    if rank() == 1:
        assert g.size() == 1 and dist.get_rank(g) == 0 and dist.get_world_size(g) == 1
        assert dist.get_process_group_ranks(g) == [1] and dist.get_global_rank(g, 0) == 1
        t = torch.ones(2)
        dist.all_reduce(t, group=g)
        assert t.tolist() == [1., 1.]
        dist.broadcast(t, src=1, group=g)
        with pytest.raises(ValueError, match="not part of group"):
            dist.broadcast(t, src=0, group=g)
    else:
        assert g == dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(g) == -1 and dist.get_world_size(g) == -1
        t = torch.ones(2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert dist.all_reduce(t, group=g) is None
        assert "does not belong to the given group" in str(caught[0].message)
        assert t.tolist() == [1., 1.]
    dist.destroy_process_group(g)


def test_new_group_of_both_ranks_in_reverse_order():
    g = dist.new_group([1, 0], sort_ranks=False)
    assert dist.get_rank(g) == 1 - rank() and dist.get_process_group_ranks(g) == [1, 0]
    t = torch.tensor([float(rank())])
    dist.broadcast(t, group_src=0, group=g)           # group rank 0 is global rank 1
    assert t.item() == 1.
    dist.destroy_process_group(g)


def test_distributed_sampler_defaults_to_the_group():
    from ember.utils.data import DistributedSampler
    sampler = DistributedSampler(list(range(10)), shuffle=False)
    assert sampler.num_replicas == 2 and sampler.rank == rank()
    assert list(sampler) == list(range(rank(), 10, 2))
