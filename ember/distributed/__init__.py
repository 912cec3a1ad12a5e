"""ember.distributed: PyTorch's torch.distributed on MPI (mpi4py), for training on several processes.

Start the ranks with the launcher, torchrun's interface (`python -m ember.distributed.run --nproc-per-node 2
train.py`), or with `mpiexec -n 2 python train.py`; then `init_process_group("gloo")` (or "mpi") joins them and
the collectives (all_reduce, broadcast, all_gather, ...) and nn.parallel.DistributedDataParallel work as in
PyTorch. Without mpi4py installed (`pip install 'ember[distributed]'`) is_available() is False and
init_process_group says how to install it; code written as `rank = dist.get_rank() if dist.is_initialized()
else 0` runs unchanged either way.
"""
from .distributed_c10d import (  # noqa: F401  (the public names, as PyTorch's torch.distributed has them)
    Backend, DistBackendError, DistError, DistNetworkError, DistStoreError, GroupMember, ProcessGroup, ReduceOp, Work,
    all_gather, all_gather_into_tensor, all_gather_object, all_reduce, all_to_all, all_to_all_single, barrier,
    broadcast, broadcast_object_list, default_pg_timeout, destroy_process_group, gather, gather_object, get_backend,
    get_global_rank, get_group_rank, get_node_local_rank, get_process_group_ranks, get_rank, get_world_size, group,
    init_process_group, irecv, is_available, is_gloo_available, is_initialized, is_mpi_available, is_nccl_available,
    is_torchelastic_launched, is_ucc_available, isend, monitored_barrier, new_group, recv, reduce, reduce_scatter,
    reduce_scatter_tensor, scatter, scatter_object_list, send,
)
from .distributed_c10d import __all__  # noqa: F401
