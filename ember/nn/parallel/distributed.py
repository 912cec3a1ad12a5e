"""DistributedDataParallel: PyTorch's multi-process data parallel wrapper. It needs a process group, which ember
never has (see ember.distributed), so building one raises PyTorch's error for a missing default group."""
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Refuses to build: without init_process_group (impossible in ember) PyTorch raises the same ValueError.
    For one process, use the module itself (or nn.DataParallel)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False, bucket_cap_mb_list=None, batched_grad_copy=False,
                 forward_sync_buffers=None):
        super().__init__()
        from ...distributed import _no_process_group
        _no_process_group()
