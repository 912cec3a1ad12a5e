"""DataLoader with worker processes: results, order, seeds, errors, timeouts, shutdown; PyTorch as oracle."""
import gc
import math
import os
import random
import time

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, Dataset, TensorDataset, get_worker_info

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the worker tests start workers with fork")


class Squares(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


class WhoAmI(Dataset):
    """Each sample says which worker made it and what that worker's random streams give."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return {"index": i, "worker": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "pid": os.getpid(), "dataset_is_self": info.dataset is self}


def random_draws(m):
    """What a worker's Python, NumPy and ember/torch generators give first."""
    class Draws(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = get_info(m)
            return [info.id, info.seed, random.random(), int(np.random.randint(1 << 30)),
                    m.rand(3, dtype=m.float64).tolist()]
    return Draws()


def get_info(m):
    return m.utils.data.get_worker_info()


class Failing(Dataset):
    def __init__(self, error, bad_index=2):
        self.error, self.bad_index = error, bad_index

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == self.bad_index:
            raise self.error
        return i


class NeedsTwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def make_sharded(m):
    class Sharded(m.utils.data.IterableDataset):
        """range(start, end) split into contiguous shards, one per worker (PyTorch's documented pattern)."""

        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = m.utils.data.get_worker_info()
            if info is None:
                return iter(range(self.start, self.end))
            per_worker = math.ceil((self.end - self.start) / info.num_workers)
            lo = self.start + info.id * per_worker
            return iter(range(lo, min(lo + per_worker, self.end)))
    return Sharded


def make_unsharded(m):
    class Unsharded(m.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    return Unsharded


def plain(batches):
    return [b.tolist() if hasattr(b, "tolist") else b for b in batches]


def alive(pid):
    """True while the process exists and is not a zombie (a zombie was never waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_reaped(pids):
    if not os.path.isdir("/proc/self"):
        return                                    # no procfs to inspect
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} still exists (alive={alive(pid)})"


# --- results and order -----------------------------------------------------------------------------

def test_two_workers_iterate_a_dataset_like_one_process():
    x = ember.arange(40.0).reshape(20, 2)
    ds = TensorDataset(x, ember.arange(20))
    single = [(a.tolist(), b.tolist()) for a, b in DataLoader(ds, batch_size=3)]
    multi = [(a.tolist(), b.tolist()) for a, b in DataLoader(ds, batch_size=3, num_workers=2)]
    assert multi == single and len(multi) == 7


@pytest.mark.parametrize("prefetch_factor", [1, 3])
def test_shuffled_order_matches_torch_with_workers(torch, prefetch_factor):
    ours = DataLoader(Squares(23), batch_size=4, shuffle=True, num_workers=2, prefetch_factor=prefetch_factor,
                      generator=ember.Generator().manual_seed(5))
    theirs = torch.utils.data.DataLoader(list(i * i for i in range(23)), batch_size=4, shuffle=True,
                                         num_workers=2, prefetch_factor=prefetch_factor,
                                         generator=torch.Generator().manual_seed(5))
    assert plain(ours) == plain(theirs)


def test_prefetch_keeps_tasks_in_flight():
    loader = DataLoader(Squares(100), batch_size=2, num_workers=2, prefetch_factor=3)
    it = iter(loader)
    assert it._send_idx == 6                    # prefetch_factor * num_workers tasks sent up front
    next(it)
    assert it._send_idx == 7
    del it


def test_out_of_order_delivery_returns_every_batch():
    loader = DataLoader(Squares(20), batch_size=3, num_workers=2, in_order=False)
    assert sorted(sum(plain(loader), [])) == [i * i for i in range(20)]


def test_batches_cross_processes_intact():
    class Mixed(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"big": np.full((64, 64, 3), i, np.float32), "t": ember.arange(6.0).reshape(2, 3).t() + i,
                    "half": ember.full((2,), i, dtype=ember.bfloat16),
                    "text": f"s{i}", "pair": (i, float(i))}

    for batch in DataLoader(Mixed(), batch_size=3, num_workers=2):
        first = batch["pair"][0][0].item()
        assert batch["big"].shape == (3, 64, 64, 3) and batch["big"][1].mean().item() == first + 1
        assert batch["t"].shape == (3, 3, 2) and batch["t"][0].tolist() == [[first, first + 3.0],
                                                                             [first + 1, first + 4],
                                                                             [first + 2, first + 5]]
        assert batch["half"].dtype == ember.bfloat16 and batch["half"][:, 0].tolist() == [first, first + 1,
                                                                                           first + 2]
        assert batch["text"] == [f"s{first + k}" for k in range(3)]
        assert batch["pair"][1].dtype == ember.float64
        batch["big"].add_(1)                                  # received batches are writable


def test_a_batch_with_autograd_history_cannot_cross_processes():
    # PyTorch refuses this too (its worker collate stacks with out=, which autograd refuses).
    class Grads(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return ember.ones(2, requires_grad=True)

    with pytest.raises(RuntimeError, match="requires grad"):
        list(DataLoader(Grads(), batch_size=2, num_workers=1))
    assert list(DataLoader(Grads(), batch_size=2))[0].requires_grad     # fine in the main process


def test_unbatched_loading_with_workers():
    assert plain(DataLoader(Squares(5), batch_size=None, num_workers=2)) == [0, 1, 4, 9, 16]


# --- worker info, init and seeds --------------------------------------------------------------------

def test_worker_info_and_init_fn(tmp_path):
    def init(worker_id):
        (tmp_path / f"init{worker_id}").write_text(str(get_worker_info().id))

    generator = ember.Generator().manual_seed(17)
    base_seed = ember.empty((), dtype=ember.int64).random_(generator=generator.clone_state()).item()
    samples = list(DataLoader(WhoAmI(), batch_size=None, num_workers=2, worker_init_fn=init,
                              generator=generator))
    assert [s["index"] for s in samples] == [0, 1, 2, 3]
    assert [s["worker"] for s in samples] == [0, 1, 0, 1]            # round-robin
    assert {s["num_workers"] for s in samples} == {2}
    assert [s["seed"] for s in samples] == [base_seed + s["worker"] for s in samples]
    assert all(s["dataset_is_self"] for s in samples)               # the worker's own copy
    assert len({s["pid"] for s in samples}) == 2 and os.getpid() not in {s["pid"] for s in samples}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["init0", "init1"]
    assert (tmp_path / "init1").read_text() == "1"
    assert get_worker_info() is None


def test_worker_random_streams_match_torch(torch):
    """Worker seeds (Python, NumPy, ember/torch) follow PyTorch's derivation from the base seed."""
    ours = DataLoader(random_draws(ember), batch_size=None, num_workers=2,
                      generator=ember.Generator().manual_seed(3))
    theirs = torch.utils.data.DataLoader(random_draws(torch), batch_size=None, num_workers=2,
                                         generator=torch.Generator().manual_seed(3))
    a, b = list(ours), list(theirs)
    assert [x[:4] for x in a] == [x[:4] for x in b]
    np.testing.assert_allclose([x[4] for x in a], [x[4] for x in b], rtol=0, atol=0)


def test_base_seed_draw_from_default_generator_matches_torch(torch):
    ember.manual_seed(21)
    torch.manual_seed(21)
    ours = DataLoader(random_draws(ember), batch_size=None, num_workers=2, shuffle=True)
    theirs = torch.utils.data.DataLoader(random_draws(torch), batch_size=None, num_workers=2, shuffle=True)
    assert [x[:2] for x in ours] == [x[:2] for x in theirs]
    assert ember.randint(0, 1000, (3,)).tolist() == torch.randint(0, 1000, (3,)).tolist()


# --- iterable datasets ----------------------------------------------------------------------------

def test_iterable_dataset_sharding_matches_torch(torch):
    ours = DataLoader(make_sharded(ember)(3, 12), batch_size=2, num_workers=2)
    theirs = torch.utils.data.DataLoader(make_sharded(torch)(3, 12), batch_size=2,
                                         num_workers=2)
    got = plain(ours)
    assert got == plain(theirs)
    assert sorted(sum(got, [])) == list(range(3, 12))


def test_iterable_dataset_without_sharding_repeats_per_worker(torch):
    ours = plain(DataLoader(make_unsharded(ember)(), batch_size=None, num_workers=2))
    theirs = plain(torch.utils.data.DataLoader(make_unsharded(torch)(),
                                               batch_size=None, num_workers=2))
    assert ours == theirs == [0, 0, 1, 1, 2, 2]


def test_iterable_dataset_drop_last_with_workers(torch):
    ours = DataLoader(make_sharded(ember)(0, 9), batch_size=2, num_workers=2, drop_last=True)
    theirs = torch.utils.data.DataLoader(make_sharded(torch)(0, 9), batch_size=2,
                                         num_workers=2, drop_last=True)
    assert plain(ours) == plain(theirs)


# --- errors -------------------------------------------------------------------------------------------

def test_worker_error_reraises_with_traceback():
    loader = DataLoader(Failing(ValueError("bad sample")), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    message = str(info.value)
    assert message.startswith("Caught ValueError in DataLoader worker process 1.\n"
                              "Original Traceback (most recent call last):\n")
    assert "raise self.error" in message and message.rstrip().endswith("ValueError: bad sample")


def test_iteration_continues_after_a_worker_error():
    it = iter(DataLoader(Failing(KeyError("k")), batch_size=None, num_workers=2))
    assert [next(it), next(it)] == [0, 1]
    with pytest.raises(KeyError) as info:
        next(it)
    assert "Caught KeyError in DataLoader worker process 0.\nOriginal Traceback" in str(info.value)
    assert list(it) == [3, 4, 5]


def test_worker_error_types_that_cannot_carry_a_message():
    class LocalError(Exception):
        pass

    for error in (NeedsTwoArgs(1, 2), LocalError("local")):
        with pytest.raises(RuntimeError, match="in DataLoader worker process 0"):
            list(DataLoader(Failing(error, bad_index=0), batch_size=None, num_workers=1))


def test_worker_init_fn_error_is_reported():
    def init(worker_id):
        raise OSError(f"no resource for worker {worker_id}")

    with pytest.raises(OSError, match="Caught OSError in DataLoader worker process 0"):
        list(DataLoader(Squares(4), num_workers=2, worker_init_fn=init))


def test_unpicklable_batch_is_reported():
    with pytest.raises(Exception, match="in DataLoader worker process 0"):
        list(DataLoader(Squares(2), num_workers=1, collate_fn=lambda b: (lambda: b)))


def test_timeout():
    class Slow(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            time.sleep(3)
            return i

    loader = DataLoader(Slow(), num_workers=1, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        list(loader)
    assert time.monotonic() - start < 2.5


def test_dead_worker_is_detected():
    class Dies(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            os._exit(3)

    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Dies(), num_workers=2))


# --- shutdown -----------------------------------------------------------------------------------------

def worker_pids(it):
    return [w.pid for w in it._workers]


def test_workers_are_reaped_after_an_epoch():
    it = iter(DataLoader(Squares(8), batch_size=2, num_workers=2))
    pids = worker_pids(it)
    assert all(alive(pid) for pid in pids)
    assert plain(it) == [[0, 1], [4, 9], [16, 25], [36, 49]]
    assert_reaped(pids)


def test_workers_are_reaped_when_the_iterator_is_dropped():
    class Big(Dataset):
        def __len__(self):
            return 100

        def __getitem__(self, i):
            return np.zeros(1 << 20, np.uint8)    # results larger than the pipe: workers block writing

    it = iter(DataLoader(Big(), batch_size=4, num_workers=2))
    next(it)
    pids = worker_pids(it)
    start = time.monotonic()
    del it
    gc.collect()
    assert time.monotonic() - start < 3          # blocked writers are released, not waited out
    assert_reaped(pids)


def test_persistent_workers_survive_epochs_then_shut_down():
    loader = DataLoader(WhoAmI(), batch_size=None, num_workers=2, persistent_workers=True)
    first = list(loader)
    it = loader._iterator
    pids = worker_pids(it)
    partial = iter(loader)
    next(partial)                                # abandon an epoch half-way ...
    second = list(loader)                        # ... the next one starts cleanly
    assert [s["index"] for s in second] == [0, 1, 2, 3]
    assert {s["pid"] for s in first} == {s["pid"] for s in second} == set(pids)
    del loader, it, partial
    gc.collect()
    assert_reaped(pids)


def test_persistent_iterable_workers_restart_their_streams():
    loader = DataLoader(make_sharded(ember)(0, 6), batch_size=2, num_workers=2,
                        persistent_workers=True)
    assert plain(loader) == plain(loader) == [[0, 1], [3, 4], [2], [5]]
    pids = worker_pids(loader._iterator)
    loader._iterator._shutdown_workers()
    assert_reaped(pids)


def test_spawn_context_works():
    ds = TensorDataset(ember.arange(6.0))
    loader = DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert [b[0].tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
