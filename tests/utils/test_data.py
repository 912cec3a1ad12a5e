"""ember.utils.data in one process: datasets, samplers, collation, DataLoader; PyTorch as the oracle."""
import collections
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                              RandomSampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                              TensorDataset, WeightedRandomSampler, default_collate, default_convert,
                              get_worker_info, random_split)
from ember.utils.data._collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


class Squares(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


def stream_class(base):
    class Stream(base):
        def __init__(self, n, length=None):
            self.n, self.length = n, length

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n if self.length is None else self.length
    return Stream


Stream = stream_class(IterableDataset)


def plain(x):
    """Nested data with every tensor (ember or torch) replaced by (type tag, dtype name, shape, values)."""
    if hasattr(x, "dtype") and hasattr(x, "shape") and not isinstance(x, np.ndarray):
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, np.ndarray):
        return ("ndarray", x.dtype.str, x.tolist())
    return x


# --- datasets --------------------------------------------------------------------------------------

def test_dataset_base_and_addition():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    both = Squares(3) + Squares(2)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 4, 0, 1]
    chained = Stream(2) + Stream(3)
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 0, 1, 2] and len(chained) == 5


def test_tensor_dataset():
    x, y = ember.arange(12.0).reshape(6, 2), ember.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    assert a.tolist() == [8.0, 9.0] and b.item() == 4
    with pytest.raises(AssertionError):
        TensorDataset(x, ember.arange(5))


def test_stack_dataset():
    ds = StackDataset(Squares(4), TensorDataset(ember.arange(4)))
    assert len(ds) == 4 and ds[2][0] == 4 and ds[2][1][0].item() == 2
    named = StackDataset(a=Squares(3), b=Subset(Squares(5), [4, 3, 2]))
    assert named[1] == {"a": 1, "b": 9}
    assert named.__getitems__([0, 2]) == [{"a": 0, "b": 16}, {"a": 4, "b": 4}]
    assert ds.__getitems__([1, 3])[1][0] == 9
    for bad in (lambda: StackDataset(Squares(2), a=Squares(2)), lambda: StackDataset(),
                lambda: StackDataset(Squares(2), Squares(3))):
        with pytest.raises(ValueError):
            bad()


def test_concat_dataset():
    ds = ConcatDataset([Squares(2), Squares(0), Squares(3)])
    assert len(ds) == 5 and ds.cumulative_sizes == [2, 2, 5]
    assert [ds[i] for i in range(5)] == [0, 1, 0, 1, 4] and ds[-1] == 4 and ds[-5] == 0
    with pytest.raises(ValueError):
        ds[-6]
    with pytest.raises(AssertionError):
        ConcatDataset([])
    with pytest.raises(AssertionError):
        ConcatDataset([Stream(2)])
    with pytest.warns(FutureWarning):
        assert ds.cummulative_sizes == [2, 2, 5]


def test_chain_dataset_rejects_map_datasets():
    with pytest.raises(AssertionError):
        list(ChainDataset([Stream(1), Squares(1)]))


def test_subset():
    sub = Subset(Squares(10), [3, 1, 4])
    assert len(sub) == 3 and sub[0] == 9 and sub.__getitems__([2, 1]) == [16, 1]
    nested = Subset(Subset(Squares(10), [9, 8, 7]), [2, 0])
    assert nested.__getitems__([0, 1]) == [49, 81]

    class OnlyGetitem(Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError):
        OnlyGetitem(Squares(3), [0])


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [1 / 3] * 3, [5, 0, 5]])
def test_random_split_matches_torch(torch, lengths):
    ours = random_split(Squares(10), lengths, generator=ember.Generator().manual_seed(42))
    theirs = torch.utils.data.random_split(range(10), lengths, generator=torch.Generator().manual_seed(42))
    assert [s.indices for s in ours] == [s.indices for s in theirs]


def test_random_split_default_generator_matches_torch(torch):
    ember.manual_seed(7)
    torch.manual_seed(7)
    ours = random_split(Squares(9), [0.5, 0.5])
    theirs = torch.utils.data.random_split(range(9), [0.5, 0.5])
    assert [s.indices for s in ours] == [s.indices for s in theirs]
    assert ember.randint(0, 1000, (4,)).tolist() == torch.randint(0, 1000, (4,)).tolist()


def test_random_split_errors_and_warnings():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Squares(5), [2, 2])
    with pytest.raises(ValueError, match="Fraction at index 0"):
        random_split(Squares(5), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Squares(1), [0.5, 0.5])


# --- samplers ---------------------------------------------------------------------------------------

def sampler_pairs(m, data):
    """(name, sampler) pairs built the same way from module m (ember or torch)."""
    data_mod = m.utils.data
    gen = m.Generator().manual_seed(1234)
    return [
        ("sequential", data_mod.SequentialSampler(data)),
        ("random", data_mod.RandomSampler(data, generator=gen)),
        ("random_more", data_mod.RandomSampler(data, num_samples=23, generator=gen)),
        ("random_fewer", data_mod.RandomSampler(data, num_samples=4, generator=gen)),
        ("replacement", data_mod.RandomSampler(data, replacement=True, num_samples=70, generator=gen)),
        ("replacement_default_n", data_mod.RandomSampler(data, replacement=True, generator=gen)),
        ("subset", data_mod.SubsetRandomSampler([5, 3, 9, 1, 7], generator=gen)),
        ("weighted", data_mod.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 8, generator=gen)),
        ("weighted_no_replacement",
         data_mod.WeightedRandomSampler([0.9, 0.4, 0.05, 0.2, 0.3, 0.1], 5, replacement=False,
                                        generator=gen)),
        ("batch", data_mod.BatchSampler(data_mod.RandomSampler(data, generator=gen), 3, drop_last=False)),
        ("batch_drop", data_mod.BatchSampler(range(10), 4, drop_last=True)),
        ("batch_keep", data_mod.BatchSampler(range(10), 4, drop_last=False)),
    ]


def test_sampler_sequences_match_torch(torch):
    """Seeded generators give PyTorch's exact index sequences (two passes: the generator advances)."""
    ours, theirs = sampler_pairs(ember, Squares(10)), sampler_pairs(torch, list(range(10)))
    for (name, a), (_, b) in zip(ours, theirs):
        assert len(a) == len(b), name
        for _ in range(2):
            assert list(a) == list(b), name


@pytest.mark.parametrize("n, replicas, shuffle, drop_last", [(10, 3, True, False), (10, 3, True, True),
                                                             (11, 4, False, False), (2, 5, True, False),
                                                             (12, 4, True, True)])
def test_distributed_sampler_matches_torch(torch, n, replicas, shuffle, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchDistributedSampler
    from ember.utils.data.distributed import DistributedSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=5, drop_last=drop_last)
        theirs = TorchDistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=5,
                                         drop_last=drop_last)
        for epoch in (0, 3):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_checks_its_rank():
    # without num_replicas/rank it asks the process group: tests/test_distributed_onnx.py, tests/distributed
    from ember.utils.data import DistributedSampler
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


def test_random_sampler_without_generator_matches_torch(torch):
    """Without a generator, one int64 is drawn from the default generator to seed a fresh one."""
    ember.manual_seed(3)
    torch.manual_seed(3)
    for replacement in (False, True):
        a = list(RandomSampler(Squares(12), replacement=replacement, num_samples=40))
        b = list(torch.utils.data.RandomSampler(range(12), replacement=replacement, num_samples=40))
        assert a == b
    assert ember.randint(0, 1000, (4,)).tolist() == torch.randint(0, 1000, (4,)).tolist()


def test_sampler_basics():
    assert sorted(RandomSampler(Squares(7))) == list(range(7))
    assert len(RandomSampler(Squares(7), replacement=True, num_samples=3)) == 3
    assert sorted(SubsetRandomSampler([4, 8, 15])) == [4, 8, 15]
    weighted = list(WeightedRandomSampler([0, 0, 1, 0], 5))
    assert weighted == [2] * 5
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    assert list(SequentialSampler(range(3))) == [0, 1, 2]


def test_sampler_argument_errors(torch):
    cases = [
        lambda m: m.utils.data.RandomSampler(range(3), replacement=1),
        lambda m: m.utils.data.RandomSampler(range(3), num_samples=0),
        lambda m: m.utils.data.RandomSampler([]),
        lambda m: m.utils.data.WeightedRandomSampler([1.0, 2.0], 0),
        lambda m: m.utils.data.WeightedRandomSampler([1.0, 2.0], 2, replacement=None),
        lambda m: m.utils.data.WeightedRandomSampler([[1.0, 2.0]], 2),
        lambda m: m.utils.data.BatchSampler(range(3), 0, False),
        lambda m: m.utils.data.BatchSampler(range(3), True, False),
        lambda m: m.utils.data.BatchSampler(range(3), 2, 1),
    ]
    for case in cases:
        with pytest.raises(Exception) as expected:
            case(torch)
        with pytest.raises(type(expected.value)) as got:
            case(ember)
        assert str(got.value) == str(expected.value)


# --- collation ----------------------------------------------------------------------------------------

def batches(m):
    """(name, list of samples) pairs; `m` (ember or torch) makes the tensors."""
    return [
        ("tensors", [m.arange(6, dtype=m.float32).reshape(2, 3) + i for i in range(3)]),
        ("scalar_tensors", [m.tensor(i) for i in range(4)]),
        ("int8_tensors", [m.tensor([i, -i], dtype=m.int8) for i in range(2)]),
        ("numpy_arrays", [np.arange(4, dtype=np.float32) * i for i in range(3)]),
        ("numpy_int16", [np.array([[i]], dtype=np.int16) for i in range(2)]),
        ("numpy_bool", [np.array([True, i % 2 == 0]) for i in range(3)]),
        ("floats", [0.5, 1.5, -2.0]),
        ("ints", [1, 2, 3]),
        ("bools", [True, False]),
        ("numpy_scalars_f32", [np.float32(1.5), np.float32(2.5)]),
        ("numpy_scalars_i32", [np.int32(1), np.int32(-4)]),
        ("numpy_scalars_f64", [np.float64(1.5), np.float64(2.5)]),
        ("numpy_bool_scalars", [np.bool_(True), np.bool_(False)]),
        ("strings", ["a", "bc"]),
        ("bytes", [b"a", b"b"]),
        ("dicts", [{"x": m.ones(2) * i, "label": i, "name": f"n{i}"} for i in range(3)]),
        ("ordered_dicts", [collections.OrderedDict(b=i, a=float(i)) for i in range(2)]),
        ("namedtuples", [Point(m.zeros(2) + i, i) for i in range(3)]),
        ("tuples", [(m.ones(1) * i, i, 0.5 * i) for i in range(3)]),
        ("lists", [[i, i + 1] for i in range(3)]),
        ("nested", [{"pair": (i, [1.0 * i, {"deep": np.ones(2) * i}]), "s": "t"} for i in range(2)]),
    ]


def test_default_collate_matches_torch(torch):
    from torch.utils.data import default_collate as torch_collate
    for (name, ours), (_, theirs) in zip(batches(ember), batches(torch)):
        assert plain(default_collate(ours)) == plain(torch_collate(theirs)), name


def test_default_convert_matches_torch(torch):
    from torch.utils.data import default_convert as torch_convert
    for (name, ours), (_, theirs) in zip(batches(ember), batches(torch)):
        for a, b in zip(ours, theirs):
            assert plain(default_convert(a)) == plain(torch_convert(b)), name
    strings = np.array(["a", "b"])
    assert default_convert(strings) is strings


def test_collate_errors_match_torch(torch):
    from torch.utils.data import default_collate as torch_collate
    cases = [
        lambda m: [[1, 2], [3]],                                  # ragged lists
        lambda m: [np.array(["a"]), np.array(["b"])],             # string arrays
        lambda m: [object(), object()],                           # unsupported leaves
        lambda m: [None, None],
        lambda m: [m.ones(2), m.ones(3)],                         # tensors of different shapes
    ]
    for case in cases:
        with pytest.raises(Exception) as expected:
            torch_collate(case(torch))
        with pytest.raises(type(expected.value)) as got:
            default_collate(case(ember))
        if not isinstance(expected.value, TypeError):              # TypeError names ember's/torch's types
            assert str(got.value).split(" at entry")[0] == str(expected.value).split(" at entry")[0]


def test_collate_tensor_edge_cases():
    out = default_collate([ember.ones(2, requires_grad=True), ember.zeros(2)])
    assert out.requires_grad and out.grad_fn is not None             # autograd goes through ember.stack
    mixed = default_collate([ember.ones(2, dtype=ember.int32), ember.ones(2, dtype=ember.float64)])
    assert mixed.dtype == ember.float64
    t = ember.arange(6.0).reshape(2, 3).t()                            # non-contiguous samples
    assert default_collate([t, t + 1]).tolist() == [t.tolist(), (t + 1).tolist()]
    batch = default_collate([ember.ones(2), ember.ones(2)])
    batch.add_(1)                                                       # a fresh, writable batch
    assert batch.tolist() == [[2.0, 2.0]] * 2


def test_custom_collate_fn_map():
    def collate_str(batch, *, collate_fn_map=None):
        return "|".join(batch)

    fn_map = {**default_collate_fn_map, str: collate_str}
    out = collate([{"s": "a", "v": 1}, {"s": "b", "v": 2}], collate_fn_map=fn_map)
    assert out["s"] == "a|b" and out["v"].tolist() == [1, 2]


# --- DataLoader (single process) ---------------------------------------------------------------------

def loader_cases(m):
    """(name, DataLoader) pairs built the same way from module m; each generator is seeded alike."""
    data_mod = m.utils.data
    gen = lambda: m.Generator().manual_seed(99)  # noqa: E731
    data = list(range(11))
    stream = stream_class(data_mod.IterableDataset)
    return [
        ("default", data_mod.DataLoader(data)),
        ("batch4", data_mod.DataLoader(data, batch_size=4)),
        ("drop_last", data_mod.DataLoader(data, batch_size=4, drop_last=True)),
        ("shuffle", data_mod.DataLoader(data, batch_size=3, shuffle=True, generator=gen())),
        ("no_batching", data_mod.DataLoader(data, batch_size=None)),
        ("sampler", data_mod.DataLoader(data, batch_size=2,
                                        sampler=data_mod.RandomSampler(data, generator=gen()))),
        ("batch_sampler", data_mod.DataLoader(data, batch_sampler=[[1, 2], [5], [0, 9, 10]])),
        ("collate_fn", data_mod.DataLoader(data, batch_size=5, collate_fn=lambda b: sum(b))),
        ("iterable", data_mod.DataLoader(stream(7), batch_size=3)),
        ("iterable_drop", data_mod.DataLoader(stream(7), batch_size=3, drop_last=True)),
        ("iterable_unbatched", data_mod.DataLoader(stream(3), batch_size=None)),
        ("weighted", data_mod.DataLoader(data, batch_size=2, sampler=data_mod.WeightedRandomSampler(
            [1.0] * 11, 6, generator=gen()))),
    ]


def test_dataloader_batches_match_torch(torch):
    for (name, ours), (_, theirs) in zip(loader_cases(ember), loader_cases(torch)):
        assert len(ours) == len(theirs), name
        for _ in range(2):                                              # two epochs
            assert plain(list(ours)) == plain(list(theirs)), name


def test_shuffle_without_generator_matches_torch(torch):
    """The iterator draws base_seed from the default generator, then the sampler draws its seed."""
    ember.manual_seed(11)
    torch.manual_seed(11)
    ours = DataLoader(list(range(20)), batch_size=6, shuffle=True)
    theirs = torch.utils.data.DataLoader(list(range(20)), batch_size=6, shuffle=True)
    for _ in range(2):
        assert plain(list(ours)) == plain(list(theirs))
    assert ember.randint(0, 1000, (4,)).tolist() == torch.randint(0, 1000, (4,)).tolist()


def test_dataloader_samples_of_every_kind():
    class Records(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"image": np.full((2, 2), i, np.float32), "label": i, "meta": Point(float(i), f"s{i}")}

    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert batch["image"].shape == (3, 2, 2) and batch["image"].dtype == ember.float32
    assert batch["label"].dtype == ember.int64 and batch["label"].tolist() == [0, 1, 2]
    assert batch["meta"].x.dtype == ember.float64 and batch["meta"].y == ["s0", "s1", "s2"]


def test_dataloader_argument_errors_match_torch(torch):
    data = list(range(4))
    cases = [
        dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
        dict(num_workers=1, prefetch_factor=-1), dict(sampler=[0, 1], shuffle=True),
        dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], drop_last=True),
        dict(batch_size=None, drop_last=True), dict(multiprocessing_context="fork"),
        dict(num_workers=1, multiprocessing_context="nonsense"),
        dict(num_workers=1, multiprocessing_context=3),
    ]
    for kwargs in cases:
        with pytest.raises(Exception) as expected:
            torch.utils.data.DataLoader(data, **kwargs)
        with pytest.raises(type(expected.value)) as got:
            DataLoader(data, **kwargs)
        assert str(got.value) == str(expected.value), kwargs
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="IterableDataset"):
            DataLoader(Stream(2), **kwargs)


def test_dataloader_attributes_are_frozen():
    loader = DataLoader(Squares(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 2
    loader.num_workers = 0                                  # not frozen in PyTorch either


def test_timeout_without_workers_is_refused_at_iteration(torch):
    with pytest.raises(AssertionError):
        iter(torch.utils.data.DataLoader([1], timeout=1))
    with pytest.raises(AssertionError):
        iter(DataLoader([1], timeout=1))


def test_pin_memory_is_accepted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches_ = list(DataLoader(Squares(4), batch_size=2, pin_memory=True))
    assert [b.tolist() for b in batches_] == [[0, 1], [4, 9]]


def test_iterable_dataset_length_warning():
    loader = DataLoader(Stream(5, length=2), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)
    assert len(DataLoader(Stream(7), batch_size=3)) == 3 and len(DataLoader(Stream(7), batch_size=3,
                                                                            drop_last=True)) == 2


def test_get_worker_info_in_main_process():
    assert get_worker_info() is None
