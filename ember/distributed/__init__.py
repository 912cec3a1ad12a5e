"""ember.distributed: PyTorch's torch.distributed names for code that checks for them. ember runs in one process
and has no communication backend (gloo, nccl, mpi), so there is never a process group.

is_available() and is_initialized() are False and the backend queries say no; every function that needs the
default process group (get_rank, get_world_size, all_reduce, broadcast, barrier, all_gather ...) raises the
ValueError PyTorch raises before init_process_group, and init_process_group itself raises RuntimeError saying
why. Code written as `rank = dist.get_rank() if dist.is_initialized() else 0` runs unchanged.
"""
import enum
import os

__all__ = ["Backend", "GroupMember", "ReduceOp", "all_gather", "all_gather_into_tensor", "all_gather_object",
           "all_reduce", "all_to_all", "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "gather_object", "get_backend", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "irecv", "is_available", "is_gloo_available",
           "is_initialized", "is_mpi_available", "is_nccl_available", "is_torchelastic_launched",
           "is_ucc_available", "isend", "monitored_barrier", "new_group", "recv", "reduce", "reduce_scatter",
           "reduce_scatter_tensor", "scatter", "scatter_object_list", "send"]


def is_available():
    """False: ember has no distributed communication backend."""
    return False


def is_initialized():
    return False


def is_nccl_available():
    return False


def is_gloo_available():
    return False


def is_mpi_available():
    return False


def is_ucc_available():
    return False


def is_torchelastic_launched():
    """Whether torchrun started this process (its TORCHELASTIC_RUN_ID is set), as PyTorch answers."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


class ReduceOp(enum.Enum):
    """The reductions of all_reduce / reduce (PyTorch's ReduceOp.RedOpType values)."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8


class Backend(str):
    """PyTorch's backend names: Backend("GLOO") == Backend.GLOO == "gloo" (none is available in ember)."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"
    FAKE = "fake"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        return super().__new__(cls, getattr(cls, name.upper(), name.lower()))


class GroupMember:
    """The default group: WORLD is None until init_process_group (that is, always here)."""
    WORLD = None
    NON_GROUP_MEMBER = -100


group = GroupMember


def _no_process_group():
    raise ValueError("Default process group has not been initialized, please make sure to call "
                     "init_process_group.")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Refused: ember has no backend to build a process group on."""
    raise RuntimeError(f"ember.distributed.init_process_group: no process group backend (backend={backend!r}): "
                       "ember runs in a single process and has no gloo, nccl or mpi communication. "
                       "ember.distributed.is_available() is False; run multi-process training with PyTorch.")


def destroy_process_group(group=None):
    raise AssertionError("Process group cannot be None")      # PyTorch's words when there is none


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    _no_process_group()


def get_backend(group=None):
    _no_process_group()


def get_rank(group=None):
    _no_process_group()


def get_world_size(group=None):
    _no_process_group()


def get_process_group_ranks(group):
    _no_process_group()


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    _no_process_group()


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    _no_process_group()


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    _no_process_group()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _no_process_group()


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _no_process_group()


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _no_process_group()


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    _no_process_group()


def all_gather_object(object_list, obj, group=None):
    _no_process_group()


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    _no_process_group()


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    _no_process_group()


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    _no_process_group()


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    _no_process_group()


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    _no_process_group()


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    _no_process_group()


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    _no_process_group()


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    _no_process_group()


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    _no_process_group()


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    _no_process_group()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    _no_process_group()


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    _no_process_group()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    _no_process_group()
