"""ember.distributed, nn.parallel.DistributedDataParallel and ember.onnx import cleanly and answer as PyTorch does
before init_process_group, without starting MPI (the jobs themselves: tests/distributed; ONNX export:
tests/onnx)."""
import pytest

import ember
import ember.distributed as dist
from ember import nn

NEEDS_GROUP = {
    "get_rank": lambda d, t: d.get_rank(), "get_world_size": lambda d, t: d.get_world_size(),
    "get_backend": lambda d, t: d.get_backend(), "new_group": lambda d, t: d.new_group(),
    "barrier": lambda d, t: d.barrier(), "all_reduce": lambda d, t: d.all_reduce(t),
    "all_reduce_max": lambda d, t: d.all_reduce(t, op=d.ReduceOp.MAX), "broadcast": lambda d, t: d.broadcast(t, 0),
    "reduce": lambda d, t: d.reduce(t, 0), "all_gather": lambda d, t: d.all_gather([t.clone()], t),
    "all_gather_object": lambda d, t: d.all_gather_object([None], 1),
    "broadcast_object_list": lambda d, t: d.broadcast_object_list([1]), "send": lambda d, t: d.send(t, 1),
    "recv": lambda d, t: d.recv(t, 0), "scatter": lambda d, t: d.scatter(t, None, 0),
    "gather": lambda d, t: d.gather(t, None, 0), "all_to_all": lambda d, t: d.all_to_all([t], [t]),
    "reduce_scatter": lambda d, t: d.reduce_scatter(t, [t, t]),
    "monitored_barrier": lambda d, t: d.monitored_barrier(),
}


@pytest.mark.parametrize("name", sorted(NEEDS_GROUP))
def test_collectives_raise_torchs_value_error(torch, name):
    import torch.distributed as torch_dist
    messages = []
    for d, m in ((dist, ember), (torch_dist, torch)):
        with pytest.raises(ValueError) as info:
            NEEDS_GROUP[name](d, m.ones(2))
        messages.append(str(info.value))
    assert messages[0] == messages[1] == ("Default process group has not been initialized, please make sure to "
                                          "call init_process_group.")


def test_queries(torch, monkeypatch):
    import importlib.util

    import torch.distributed as torch_dist
    has_mpi = importlib.util.find_spec("mpi4py") is not None
    assert dist.is_available() is dist.is_gloo_available() is dist.is_mpi_available() is has_mpi
    assert dist.is_initialized() is torch_dist.is_initialized() is False
    assert not dist.is_ucc_available()
    assert dist.is_torchelastic_launched() is torch_dist.is_torchelastic_launched() is False
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    assert dist.is_torchelastic_launched() is torch_dist.is_torchelastic_launched() is True
    assert dist.group.WORLD is None and dist.GroupMember.WORLD is None
    assert list(dist.ReduceOp.__members__) == list(torch_dist.ReduceOp.RedOpType.__members__)
    assert dist.Backend("GLOO") == dist.Backend.GLOO == torch_dist.Backend.GLOO == "gloo"
    for d in (dist, torch_dist):
        with pytest.raises(AssertionError, match="Process group cannot be None"):
            d.destroy_process_group()


def test_without_mpi_init_process_group_says_how_to_install_it(monkeypatch):
    from ember.distributed import _mpi
    from ember.utils.data import DistributedSampler
    monkeypatch.setattr(_mpi, "available", lambda: False)
    assert dist.is_available() is False and dist.is_nccl_available() is False
    with pytest.raises(RuntimeError, match=r"pip install 'ember\[distributed\]'"):
        dist.init_process_group("gloo", rank=0, world_size=1)
    assert dist.is_initialized() is False
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(list(range(4)))


def test_distributed_sampler_before_init_process_group(torch):
    from torch.utils.data import DistributedSampler as TorchSampler

    from ember.utils.data import DistributedSampler
    if not dist.is_available():
        pytest.skip("ember.distributed without MPI: covered above")
    for sampler in (DistributedSampler, TorchSampler):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            sampler(list(range(4)))


def test_distributed_data_parallel(torch):
    from ember.nn.parallel import DistributedDataParallel
    assert nn.parallel.DistributedDataParallel is DistributedDataParallel
    assert issubclass(DistributedDataParallel, nn.Module)
    for m in (ember, torch):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            m.nn.parallel.DistributedDataParallel(m.nn.Linear(2, 2))


def test_onnx_error_type_matches_torch(torch):
    assert issubclass(torch.onnx.OnnxExporterError, RuntimeError)
    assert torch.onnx.is_in_onnx_export() is ember.onnx.is_in_onnx_export() is False


def test_modules_are_lazy_and_listed():
    import subprocess
    import sys
    code = ("import sys, ember; assert not any(m in sys.modules for m in ('ember.jit', 'ember.hub', 'ember.onnx', "
            "'ember.distributed')); assert {'jit', 'hub', 'onnx', 'distributed'} <= set(dir(ember))")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert ember.distributed.__name__ == "ember.distributed" and ember.onnx.__name__ == "ember.onnx"
