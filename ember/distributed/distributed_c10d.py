"""Process groups and collectives (PyTorch's torch.distributed.distributed_c10d), on MPI.

Every rank of a job is an MPI process: start them with `python -m ember.distributed.run --nproc-per-node N
script.py` (torchrun's interface) or `mpiexec -n N python script.py`. init_process_group wraps MPI's world
communicator; the backend names "gloo" and "mpi" both mean it, and with "nccl" cuda tensors go through NCCL
(CuPy's bindings) for all_reduce, broadcast, all_gather_into_tensor and reduce_scatter_tensor, and through
host memory over MPI for the rest. A collective takes a tensor of any dtype and layout in strides, and writes
its result into the tensor's own memory as PyTorch does. Blocking collectives call MPI's blocking routines (the
fastest MPI offers) under a watchdog that ends the job past the group's timeout; `async_op=True` starts MPI's
nonblocking routine and returns a Work whose wait() finishes it.
"""
import datetime
import enum
import os
import time
import warnings

import numpy    # MPI moves host memory: device tensors are staged through host arrays

from .._dtype import scalar_type_name
from .._layout import strided
from .._tensor import Tensor
from . import _mpi

__all__ = ["Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError", "GroupMember",
           "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_gather_object",
           "all_reduce", "all_to_all", "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
           "default_pg_timeout", "destroy_process_group", "gather", "gather_object", "get_backend",
           "get_global_rank", "get_group_rank", "get_node_local_rank", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "irecv", "is_available", "is_gloo_available",
           "is_initialized", "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "is_ucc_available",
           "isend",
           "monitored_barrier", "new_group", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor", "scatter",
           "scatter_object_list", "send"]

default_pg_timeout = datetime.timedelta(minutes=30)


class DistError(RuntimeError):
    """An error of the distributed package (PyTorch's torch.distributed.DistError)."""


class DistBackendError(DistError):
    """An error in the communication backend: a failed or timed-out collective."""


class DistNetworkError(DistError):
    """A network error."""


class DistStoreError(DistError):
    """A store error."""


class ReduceOp(enum.Enum):
    """The reductions of all_reduce / reduce / reduce_scatter (PyTorch's ReduceOp.RedOpType values)."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8


ReduceOp.RedOpType = ReduceOp


class Backend(str):
    """PyTorch's backend names: Backend("GLOO") == Backend.GLOO == "gloo"."""
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


def is_available():
    """True when the MPI engine (mpi4py) is installed: `pip install 'ember[distributed]'`."""
    return _mpi.available()


def is_mpi_available():
    return _mpi.available()


def is_gloo_available():
    """The name "gloo" runs on the MPI engine, so it is there whenever MPI is."""
    return _mpi.available()


def is_nccl_available():
    """The name "nccl" (cuda tensors, staged through host memory over MPI) needs MPI and a cuda device."""
    if not _mpi.available():
        return False
    from .. import cuda
    return cuda.is_available()


def is_ucc_available():
    return False


def is_torchelastic_launched():
    """Whether a torchrun-style launcher started this process (its TORCHELASTIC_RUN_ID is set)."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


# -- process groups --------------------------------------------------------------------------------------------

class ProcessGroup:
    """A set of ranks that run collectives together: an MPI communicator with PyTorch's accessors."""
    __slots__ = ("_comm", "_ranks", "_rank", "_size", "_backend", "_timeout", "_timeout_s", "_name", "_nccl",
                 "__weakref__")

    def __init__(self, comm, ranks, backend, timeout, name):
        self._comm = comm
        self._ranks = ranks                      # global rank of each group rank
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self._backend = backend
        self._timeout = timeout
        self._timeout_s = timeout.total_seconds()
        self._name = name
        self._nccl = None                        # the NCCL communicator, made by the first cuda collective

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def name(self):
        return self._backend

    @property
    def group_name(self):
        return self._name

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, ranks={self._ranks}, rank={self._rank})"


class _State:
    __slots__ = ("default", "groups", "watchdog", "group_count")

    def __init__(self):
        self.default = None
        self.groups = []
        self.watchdog = None
        self.group_count = 0


_state = _State()


class _WorldMeta(type):
    @property
    def WORLD(cls):
        """The default process group (None before init_process_group)."""
        return _state.default


class GroupMember(metaclass=_WorldMeta):
    """GroupMember.WORLD is the default group; new_group gives NON_GROUP_MEMBER to ranks outside the group."""
    NON_GROUP_MEMBER = -100


group = GroupMember


def _not_initialized():
    return ValueError("Default process group has not been initialized, please make sure to call "
                      "init_process_group.")


def is_initialized():
    return _state.default is not None


def _backend_name(backend):
    if backend is None:
        return "gloo"
    name = str(backend).lower()
    if "," in name or ":" in name:                           # "cpu:gloo,cuda:nccl"
        names = {part.split(":")[-1] for part in name.split(",")}
    else:
        names = {name}
    unknown = names - {"gloo", "mpi", "nccl"}
    if unknown:
        raise ValueError(f"Invalid backend: {backend!r}. ember.distributed runs 'gloo' and 'mpi' (both on MPI) and "
                         "'nccl' (cuda tensors through host memory over MPI).")
    if names == {"nccl"}:
        from .. import cuda
        if not cuda.is_available():
            raise RuntimeError("ProcessGroupNCCL is only supported with GPUs, no GPUs found!")
    return name


def _check_timeout(timeout):
    if timeout is None:
        return default_pg_timeout
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout).__name__}")
    return timeout


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join this process to the job's default process group.

    The job's ranks are the processes of one MPI job; `rank` and `world_size` (or the RANK / WORLD_SIZE the
    launcher sets for `env://`) must agree with MPI's. `init_method` (env://, tcp://, file://) and `store` are
    accepted for PyTorch's code and not needed: MPI has already connected the ranks."""
    if _state.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if init_method is not None and store is not None:
        raise ValueError("Cannot specify both init_method and store.")
    name = _backend_name(backend)
    timeout = _check_timeout(timeout)
    if not _mpi.available():
        raise RuntimeError(f"init_process_group: no MPI engine. {_mpi.INSTALL_HINT}")
    if init_method is None or str(init_method).startswith("env://"):
        if world_size == -1 and os.getenv("WORLD_SIZE") is not None:
            world_size = int(os.environ["WORLD_SIZE"])
        if rank == -1 and os.getenv("RANK") is not None:
            rank = int(os.environ["RANK"])
    comm = _mpi.world()
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    if world_size not in (-1, mpi_size) or rank not in (-1, mpi_rank):
        raise RuntimeError(
            f"init_process_group: asked for rank {rank} of world_size {world_size}, but this process is rank "
            f"{mpi_rank} of an MPI job of {mpi_size}. ember's ranks are MPI processes: start them with "
            f"`python -m ember.distributed.run --nproc-per-node {max(world_size, 1)} script.py` or "
            f"`mpiexec -n {max(world_size, 1)} python script.py`.")
    _state.watchdog = _state.watchdog or _mpi.Watchdog(mpi_rank)
    _state.default = ProcessGroup(comm.Dup(), list(range(mpi_size)), name, timeout, group_name or "0")
    _state.group_count = 1
    if mpi_size > 1:
        _mpi.abort_on_uncaught_exception()


def destroy_process_group(group=None):
    """Free a group (the default one, and every group, when group is None)."""
    if group is None or group is _state.default:
        if _state.default is None:
            raise AssertionError("Process group cannot be None")
        for pg in _state.groups:
            pg._comm.Free()
        _state.default._comm.Free()
        _state.groups = []
        _state.default = None
        return
    if group == GroupMember.NON_GROUP_MEMBER:
        return
    if group not in _state.groups:
        raise ValueError("Invalid process group specified")
    _state.groups.remove(group)
    group._comm.Free()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the given global ranks (all of them by default). Every rank of the default group must call
    it, members or not, in the same order; ranks outside the group get GroupMember.NON_GROUP_MEMBER."""
    world = _default()
    if ranks is None or len(ranks) == 0:
        ranks = list(range(world._size))
    ranks = sorted(ranks) if sort_ranks else list(ranks)
    for r in ranks:
        if not isinstance(r, int) or not 0 <= r < world._size:
            raise ValueError(f"Invalid rank {r!r} for new_group: the default group has ranks 0..{world._size - 1}")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} has duplicates")
    member = world._rank in ranks
    MPI = _mpi.load()
    comm = world._comm.Split(0 if member else MPI.UNDEFINED, ranks.index(world._rank) if member else 0)
    _state.group_count += 1
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, _backend_name(backend) if backend else world._backend,
                      _check_timeout(timeout) if timeout else world._timeout, str(_state.group_count - 1))
    _state.groups.append(pg)
    return pg


def _default():
    if _state.default is None:
        raise _not_initialized()
    return _state.default


def _resolve(group, what):
    """The process group to run on, or None (after PyTorch's warning) on a rank outside it."""
    if group is None:
        return _default()
    if group == GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running {what} on global rank {_default()._rank} which does not belong to the given group.",
                      stacklevel=3)
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{what}: group must be a ProcessGroup (from new_group) or None, got {type(group).__name__}")
    return group


def get_rank(group=None):
    """This process's rank in `group` (the default group by default); -1 outside it."""
    if group == GroupMember.NON_GROUP_MEMBER:
        _default()
        return -1
    return (_default() if group is None else group)._rank


def get_world_size(group=None):
    if group == GroupMember.NON_GROUP_MEMBER:
        _default()
        return -1
    return (_default() if group is None else group)._size


def get_backend(group=None):
    if group == GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return (_default() if group is None else group)._backend


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its node: LOCAL_RANK, set by the launcher (else fallback_rank when given)."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context and "
                       "want the code to run locally instead.")


def get_process_group_ranks(group):
    """The global ranks of a group, in group-rank order."""
    return list((_default() if group is None else group)._ranks)


def get_global_rank(group, group_rank):
    ranks = (_default() if group is None else group)._ranks
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[group_rank]


def get_group_rank(group, global_rank):
    ranks = (_default() if group is None else group)._ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def _group_rank(pg, what, global_rank, group_rank, default=None):
    """A rank argument given globally (src=, dst=) or in the group (group_src=, group_dst=) as a group rank."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        if not 0 <= group_rank < pg._size:
            raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
        return group_rank
    if global_rank is None:
        if default is None:
            raise ValueError("Must specify global_rank or group_rank")
        global_rank = default
    if global_rank not in pg._ranks:
        if pg is _state.default:
            raise RuntimeError(f"{what}: invalid root rank {global_rank}: the group has ranks 0..{pg._size - 1}")
        raise ValueError(f"Global rank {global_rank} is not part of group {pg}")
    return pg._ranks.index(global_rank)


# -- tensors as host buffers ------------------------------------------------------------------------------------

def _check_tensor(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor but got "
                        f"{type(tensor)} instead.")
    if tensor.layout is not strided or tensor.device.type not in ("cpu", "cuda"):
        raise RuntimeError(f"ember.distributed: `{name}` must be a dense (strided) cpu or cuda tensor, got one with "
                           f"layout {tensor.layout} on {tensor.device}")


def _check_list(tensors, name):
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor] but got "
                        f"{type(tensors)} instead.")
    for t in tensors:
        _check_tensor(t, name)


def _same_dtype(what, *tensors):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        first, other = tensors[0].dtype, next(t.dtype for t in tensors if t.dtype != tensors[0].dtype)
        raise ValueError(f"Invalid usage of tensors with different dtypes in {what}: found {first} and {other}")


def _pair_group(what, group, first, second):
    """The process group of collective `what` on two arguments, each (checker, value, name) with checker
    _check_tensor or _check_list, checked in order; on a member rank every tensor in them must share one dtype.
    None on a rank outside the group (the collective then does nothing)."""
    tensors = []
    for check, value, name in (first, second):
        check(value, name)
        tensors += [value] if check is _check_tensor else value
    pg = _resolve(group, what)
    if pg is not None:
        _same_dtype(what, *tensors)
    return pg


def _read(tensor):
    """The tensor's elements as a contiguous host array (the tensor's own memory when it already is one)."""
    host = tensor._backend().to_numpy(tensor._array)
    return host if host.flags.c_contiguous else host.copy(order="C")


def _writable(tensor):
    """(host, write_back): a contiguous host array holding the tensor's elements, and whether done() must copy it
    back (False when the array is the tensor's own memory)."""
    array = tensor._array
    host = tensor._backend().to_numpy(array)
    if host is array and host.flags.c_contiguous and host.flags.writeable:
        return host, False
    return (host if host is not array and host.flags.c_contiguous else host.copy(order="C")), True


def _write_back(tensor, host, copy):
    if copy:
        tensor._array[...] = tensor._backend().from_numpy(host).reshape(tensor._array.shape)
    tensor._bump_version()


# -- running a collective -------------------------------------------------------------------------------------

class Work:
    """An asynchronous collective in flight (async_op=True): wait() blocks until it is done and its results are
    in the tensors; is_completed() asks without blocking."""
    __slots__ = ("_requests", "_finish", "_done", "_pg", "_what", "_status", "_result")

    def __init__(self, requests, finish, pg, what, result=None, status=None):
        self._requests = requests
        self._finish = finish
        self._done = False
        self._pg = pg
        self._what = what
        self._result = result
        self._status = status

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None

    def wait(self, timeout=None):
        """Block until done. Past `timeout` (a timedelta; the group's timeout by default) raise
        DistBackendError, or, without one, end the job as a blocking collective does."""
        if self._done:
            return True
        MPI = _mpi.load()
        if timeout is None:
            watchdog = _state.watchdog
            watchdog.arm(self._what, self._pg._timeout_s)
            try:
                MPI.Request.Waitall(self._requests, self._status)
            finally:
                watchdog.armed = None
        else:
            seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
            deadline = time.monotonic() + seconds
            pause = 1e-6
            while not MPI.Request.Testall(self._requests, self._status):
                if time.monotonic() > deadline:
                    raise DistBackendError(f"ember.distributed: {self._what} timed out after {seconds:g} s "
                                           f"(Work.wait(timeout=)) on rank {self._pg._rank}")
                time.sleep(pause)
                pause = min(pause * 2, 1e-3)
        self._complete()
        return True

    def is_completed(self):
        if not self._done and _mpi.load().Request.Testall(self._requests, self._status):
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def synchronize(self):
        self.wait()

    def result(self):
        self.wait()
        return list(self._result or [])

    def source_rank(self):
        """The sender of a completed recv from any source."""
        self.wait()
        if self._status is None or not isinstance(self._status, list):
            raise RuntimeError("source_rank() is only available for recv from any source (src=None)")
        return self._pg._ranks[self._status[0].Get_source()]

    def get_future(self):
        from ..jit import Future
        self.wait()
        return Future(self.result())


# -- cuda tensors on the "nccl" backend ---------------------------------------------------------------------------

def _nccl_for(pg, tensor, op=None, *others):
    """The group's NCCL communicator when `tensor` (and `others`) are cuda tensors it can take directly on the
    "nccl" backend (made on first use: every rank reaches the same collective first), else None (the host path)."""
    if "nccl" not in pg._backend or tensor._device.type != "cuda":
        return None
    if pg._nccl is None:
        backend = tensor._backend()
        if not backend.nccl_available():
            return None
        pg._nccl = backend.NcclGroup(pg._comm)
    nccl = pg._nccl
    if not nccl.supports(tensor._array, op) or not all(nccl.supports(t._array) for t in others):
        return None
    return nccl


class _StreamWork(Work):
    """An NCCL collective: enqueued on the current stream; wait() synchronizes it."""
    __slots__ = ()

    def __init__(self, nccl, pg, what, result):
        super().__init__([], nccl.synchronize, pg, what, result)

    def wait(self, timeout=None):
        self._complete()
        return True

    def is_completed(self):
        self._complete()
        return True


def _nccl_done(nccl, pg, what, async_op, tensors):
    for t in tensors:
        t._bump_version()
    return _StreamWork(nccl, pg, what, tensors) if async_op else None


def _run(pg, what, async_op, blocking, start, finish=None, result=None):
    """Run a collective: blocking() now under the watchdog, or start() -> MPI requests for a Work."""
    if async_op:
        return Work(start(), finish, pg, what, result)
    watchdog = _state.watchdog
    watchdog.arm(what, pg._timeout_s)
    try:
        blocking()
    finally:
        watchdog.armed = None
    if finish is not None:
        finish()
    return None


def _op_name(op, tensor, what):
    """Check a reduction against the tensor's dtype as PyTorch does; its name (AVG reduces as SUM)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{what}: op must be a ReduceOp, got {op!r}")
    name = op.name
    if name == "PREMUL_SUM":
        raise ValueError(f"{what}: ReduceOp.PREMUL_SUM needs a factor (PyTorch builds it for NCCL only); use SUM "
                         "and scale")
    if tensor.is_complex() and name not in ("SUM", "AVG", "PRODUCT"):
        raise ValueError(f"{what} does not support {op} on complex tensors")
    if name in ("BAND", "BOR", "BXOR") and (tensor.is_floating_point() or tensor.is_complex()):
        raise RuntimeError(f"Cannot use {op} with non-integral dtype")
    if name == "AVG" and not (tensor.is_floating_point() or tensor.is_complex()):
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(tensor.dtype)}")
    return name


def _reduce_spec(host, name):
    return _mpi.reduction(host, "SUM" if name == "AVG" else name)


def _average(host, name, size):
    if name == "AVG":
        numpy.true_divide(host, size, out=host)


# -- collectives --------------------------------------------------------------------------------------------

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` across the group with `op`; every rank gets the result in `tensor`."""
    pg = _state.default
    if op is ReduceOp.SUM and group is None and not async_op and pg is not None and tensor.__class__ is Tensor:
        # the common call (a gradient bucket, a metric): a contiguous host array of a type MPI sums natively
        array = tensor._array
        if array.__class__ is numpy.ndarray and array.flags.c_contiguous and array.flags.writeable:
            kind = _mpi.native_sum(array.dtype)
            if kind is not None:
                watchdog = _state.watchdog
                watchdog.arm("all_reduce", pg._timeout_s)
                try:
                    pg._comm.Allreduce(kind[0], [array, kind[1]], kind[2])
                finally:
                    watchdog.armed = None
                tensor._bump_version()
                return None
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "all_reduce")
    if pg is None:
        return None
    name = _op_name(op, tensor, "all_reduce")
    nccl = _nccl_for(pg, tensor, name)
    if nccl is not None:
        nccl.all_reduce(tensor._array, name)
        return _nccl_done(nccl, pg, "all_reduce", async_op, [tensor])
    host, copy = _writable(tensor)
    buf, mpi_op = _reduce_spec(host, name)
    in_place = _mpi.load().IN_PLACE
    comm = pg._comm

    def finish():
        _average(host, name, pg._size)
        _write_back(tensor, host, copy)
    return _run(pg, "all_reduce", async_op, lambda: comm.Allreduce(in_place, buf, mpi_op),
                lambda: [comm.Iallreduce(in_place, buf, mpi_op)], finish, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce `tensor` across the group into `tensor` on rank `dst`; the others' tensors are left as they were."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "reduce")
    if pg is None:
        return None
    root = _group_rank(pg, "reduce", dst, group_dst)
    name = _op_name(op, tensor, "reduce")
    MPI = _mpi.load()
    comm = pg._comm
    if pg._rank == root:
        host, copy = _writable(tensor)
        buf, mpi_op = _reduce_spec(host, name)
        send = MPI.IN_PLACE

        def finish():
            _average(host, name, pg._size)
            _write_back(tensor, host, copy)
    else:
        buf, mpi_op = _reduce_spec(_read(tensor), name)
        send, finish = buf, None
        buf = None
    return _run(pg, "reduce", async_op, lambda: comm.Reduce(send, buf, mpi_op, root),
                lambda: [comm.Ireduce(send, buf, mpi_op, root)], finish, [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy `tensor` of rank `src` into `tensor` on every rank."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "broadcast")
    if pg is None:
        return None
    root = _group_rank(pg, "broadcast", src, group_src)
    nccl = _nccl_for(pg, tensor)
    if nccl is not None:
        nccl.broadcast(tensor._array, root)
        return _nccl_done(nccl, pg, "broadcast", async_op, [tensor])
    comm = pg._comm
    if pg._rank == root:
        host, copy, finish = _read(tensor), False, None
    else:
        host, copy = _writable(tensor)

        def finish():
            _write_back(tensor, host, copy)
    buf = _mpi.spec(host)
    return _run(pg, "broadcast", async_op, lambda: comm.Bcast(buf, root), lambda: [comm.Ibcast(buf, root)],
                finish, [tensor])


def _scatter_into(tensors, host):
    """Copy consecutive pieces of a flat host array into tensors (each piece the tensor's numel)."""
    at = 0
    for t in tensors:
        n = t.numel()
        t._array[...] = t._backend().from_numpy(host[at:at + n].reshape(t._array.shape))
        t._bump_version()
        at += n


def _one_per_rank(pg, what, name, tensors, mine, mine_name):
    """A list argument holds one tensor per rank, and this rank's has as many elements as `mine`."""
    if len(tensors) != pg._size:
        raise RuntimeError(f"{what}: invalid {name}, one tensor per rank (expected length {pg._size}, got "
                           f"{len(tensors)})")
    own = tensors[pg._rank]
    if own.numel() != mine.numel():
        raise RuntimeError(f"{what}: invalid tensor size: {name}[{pg._rank}] has shape {list(own.shape)}, "
                           f"{mine_name} has shape {list(mine.shape)}")


def _concat(tensors, dtype):
    if not tensors:
        return numpy.empty(0, dtype)
    return numpy.concatenate([_read(t).reshape(-1) for t in tensors])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] gets rank i's `tensor` (the pieces may differ in size across ranks: each rank's piece has
    the size of its slot in tensor_list)."""
    _check_list(tensor_list, "tensor_list")
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "all_gather")
    if pg is None:
        return None
    _same_dtype("all_gather", tensor, *tensor_list)          # the input first (the message names its dtype first)
    _one_per_rank(pg, "all_gather", "tensor_list", tensor_list, tensor, "the input")
    counts = [t.numel() for t in tensor_list]
    host = numpy.empty(sum(counts), _read(tensor).dtype)
    send = _mpi.spec(_read(tensor))
    recv = [host, (counts, None), _mpi.element_type(host.dtype.itemsize)]
    comm = pg._comm
    return _run(pg, "all_gather", async_op, lambda: comm.Allgatherv(send, recv), lambda: [comm.Iallgatherv(send, recv)],
                lambda: _scatter_into(tensor_list, host), tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor gets every rank's input_tensor, concatenated along dim 0 (or stacked in a new dim 0)."""
    pg = _pair_group("all_gather_into_tensor", group, (_check_tensor, output_tensor, "output_tensor"),
                     (_check_tensor, input_tensor, "input_tensor"))
    if pg is None:
        return None
    if output_tensor.numel() != pg._size * input_tensor.numel():
        raise ValueError(f"all_gather_into_tensor: output tensor of shape {list(output_tensor.shape)} must hold "
                         f"{pg._size} (world size) x the input's shape {list(input_tensor.shape)}")
    nccl = _nccl_for(pg, output_tensor, None, input_tensor)
    if nccl is not None:
        nccl.all_gather(input_tensor._array, output_tensor._array)
        return _nccl_done(nccl, pg, "all_gather_into_tensor", async_op, [output_tensor])
    host, copy = _writable(output_tensor)
    send, recv = _mpi.spec(_read(input_tensor)), _mpi.spec(host)
    comm = pg._comm
    return _run(pg, "all_gather_into_tensor", async_op, lambda: comm.Allgather(send, recv),
                lambda: [comm.Iallgather(send, recv)], lambda: _write_back(output_tensor, host, copy),
                [output_tensor])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather_list[i] on rank dst gets rank i's `tensor`."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "gather")
    if pg is None:
        return None
    root = _group_rank(pg, "gather", dst, group_dst, default=0)
    comm = pg._comm
    send = _mpi.spec(_read(tensor))
    if pg._rank == root:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, "gather_list")
        _same_dtype("gather", tensor, *gather_list)
        if len(gather_list) != pg._size or any(t.numel() != tensor.numel() for t in gather_list):
            raise RuntimeError(f"gather: gather_list must hold {pg._size} tensors of the input's shape "
                               f"{list(tensor.shape)}")
        host = numpy.empty(pg._size * tensor.numel(), send[0].dtype)
        recv = _mpi.spec(host)

        def finish():
            _scatter_into(gather_list, host)
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
        recv, finish = None, None
    return _run(pg, "gather", async_op, lambda: comm.Gather(send, recv, root),
                lambda: [comm.Igather(send, recv, root)], finish, gather_list or [])


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank i's `tensor` gets scatter_list[i] of rank src."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "scatter")
    if pg is None:
        return None
    root = _group_rank(pg, "scatter", src, group_src, default=0)
    comm = pg._comm
    host, copy = _writable(tensor)
    recv = _mpi.spec(host)
    if pg._rank == root:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, "scatter_list")
        _same_dtype("scatter", tensor, *scatter_list)
        if len(scatter_list) != pg._size or any(t.numel() != tensor.numel() for t in scatter_list):
            raise RuntimeError(f"scatter: scatter_list must hold {pg._size} tensors of the output's shape "
                               f"{list(tensor.shape)}")
        send = _mpi.spec(_concat(scatter_list, host.dtype))
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        send = None
    return _run(pg, "scatter", async_op, lambda: comm.Scatter(send, recv, root),
                lambda: [comm.Iscatter(send, recv, root)], lambda: _write_back(tensor, host, copy), [tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce input_list across ranks elementwise; rank i's `output` gets the reduction of the input_list[i]s."""
    pg = _pair_group("reduce_scatter", group, (_check_tensor, output, "output"), (_check_list, input_list, "input_list"))
    if pg is None:
        return None
    _one_per_rank(pg, "reduce_scatter", "input_list", input_list, output, "the output")
    name = _op_name(op, output, "reduce_scatter")
    host, copy = _writable(output)
    send, mpi_op = _reduce_spec(_concat(input_list, host.dtype), name)
    recv = [host, send[1]]
    counts = [t.numel() for t in input_list]
    comm = pg._comm

    def finish():
        _average(host, name, pg._size)
        _write_back(output, host, copy)
    return _run(pg, "reduce_scatter", async_op, lambda: comm.Reduce_scatter(send, recv, counts, mpi_op),
                lambda: [comm.Ireduce_scatter(send, recv, counts, mpi_op)], finish, [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `input` across ranks; rank i's `output` gets the i-th of world-size equal pieces of the result."""
    pg = _pair_group("reduce_scatter_tensor", group, (_check_tensor, output, "output"), (_check_tensor, input, "input"))
    if pg is None:
        return None
    if input.numel() != pg._size * output.numel():
        raise ValueError(f"reduce_scatter_tensor: input of shape {list(input.shape)} must hold {pg._size} (world "
                         f"size) x the output's shape {list(output.shape)}")
    name = _op_name(op, output, "reduce_scatter_tensor")
    nccl = _nccl_for(pg, output, name, input)
    if nccl is not None:
        nccl.reduce_scatter(input._array, output._array, name)
        return _nccl_done(nccl, pg, "reduce_scatter_tensor", async_op, [output])
    host, copy = _writable(output)
    send, mpi_op = _reduce_spec(_read(input), name)
    recv = [host, send[1]]
    comm = pg._comm

    def finish():
        _average(host, name, pg._size)
        _write_back(output, host, copy)
    return _run(pg, "reduce_scatter_tensor", async_op, lambda: comm.Reduce_scatter_block(send, recv, mpi_op),
                lambda: [comm.Ireduce_scatter_block(send, recv, mpi_op)], finish, [output])


def _displacements(counts):
    out, at = [], 0
    for c in counts:
        out.append(at)
        at += c
    return out


def _all_to_all(pg, what, send_host, send_counts, recv_host, recv_counts, async_op, finish, result):
    kind = _mpi.element_type(send_host.dtype.itemsize)
    send = [send_host, (send_counts, _displacements(send_counts)), kind]
    recv = [recv_host, (recv_counts, _displacements(recv_counts)), kind]
    comm = pg._comm
    return _run(pg, what, async_op, lambda: comm.Alltoallv(send, recv), lambda: [comm.Ialltoallv(send, recv)],
                finish, result)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank i sends input_tensor_list[j] to rank j, which receives it in output_tensor_list[i]."""
    pg = _pair_group("all_to_all", group, (_check_list, output_tensor_list, "output_tensor_list"),
                     (_check_list, input_tensor_list, "input_tensor_list"))
    if pg is None:
        return None
    if len(output_tensor_list) != pg._size or len(input_tensor_list) != pg._size:
        raise RuntimeError(f"all_to_all: both lists must hold {pg._size} tensors (one per rank), got "
                           f"{len(output_tensor_list)} outputs and {len(input_tensor_list)} inputs")
    send_host = _concat(input_tensor_list, None)
    recv_counts = [t.numel() for t in output_tensor_list]
    recv_host = numpy.empty(sum(recv_counts), send_host.dtype)
    return _all_to_all(pg, "all_to_all", send_host, [t.numel() for t in input_tensor_list], recv_host, recv_counts,
                       async_op, lambda: _scatter_into(output_tensor_list, recv_host), output_tensor_list)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """all_to_all of the pieces of `input` along dim 0 (equal, or of input_split_sizes rows) into `output`."""
    pg = _pair_group("all_to_all_single", group, (_check_tensor, output, "output"), (_check_tensor, input, "input"))
    if pg is None:
        return None

    def counts(tensor, splits, which):
        rows = tensor.shape[0] if tensor.dim() else 1
        per_row = tensor.numel() // rows if rows else 0
        if splits is None:
            if rows % pg._size:
                raise ValueError(f"all_to_all_single: {which}'s dim 0 ({rows}) must divide by the world size "
                                 f"({pg._size}) without split sizes")
            return [rows // pg._size * per_row] * pg._size
        splits = list(splits)
        if len(splits) != pg._size or sum(splits) != rows:
            raise ValueError(f"all_to_all_single: {which} split sizes {splits} must give one piece per rank "
                             f"({pg._size}) summing to dim 0 ({rows})")
        return [s * per_row for s in splits]
    send_counts = counts(input, input_split_sizes, "input")
    recv_counts = counts(output, output_split_sizes, "output")
    host, copy = _writable(output)
    return _all_to_all(pg, "all_to_all_single", _read(input).reshape(-1), send_counts, host.reshape(-1), recv_counts,
                       async_op, lambda: _write_back(output, host, copy), [output])


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait until every rank of the group gets here."""
    pg = _resolve(group, "barrier")
    if pg is None:
        return None
    comm = pg._comm
    return _run(pg, "barrier", async_op, comm.Barrier, lambda: [comm.Ibarrier()])


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that fails past `timeout` (the group's by default) instead of waiting for ever: its error names
    the ranks that did not arrive, as far as the waiting rank can tell (all others, here)."""
    pg = _resolve(group, "monitored_barrier")
    if pg is None:
        return None
    work = Work([pg._comm.Ibarrier()], None, pg, "monitored_barrier")
    work.wait(_check_timeout(timeout) if timeout is not None else pg._timeout)


# -- point to point --------------------------------------------------------------------------------------------

def _peer(pg, what, global_rank, group_rank, kind):
    peer = _group_rank(pg, what, global_rank, group_rank)
    if peer == pg._rank:
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank of the current "
                         "process.")
    return peer


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send `tensor` to rank dst (blocks until the buffer may be reused)."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "send")
    if pg is None:
        return None
    peer = _peer(pg, "send", dst, group_dst, "destination")
    buf = _mpi.spec(_read(tensor))
    _run(pg, "send", False, lambda: pg._comm.Send(buf, peer, tag), None)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending `tensor` to rank dst; the Work's wait() returns once it is sent."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, "isend")
    if pg is None:
        return None
    peer = _peer(pg, "isend", dst, group_dst, "destination")
    buf = _mpi.spec(_read(tensor))
    return Work([pg._comm.Isend(buf, peer, tag)], None, pg, "isend", [tensor])


def _recv_args(tensor, src, group, group_src, what):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group, what)
    if pg is None:
        return None, None
    if src is None and group_src is None:
        return pg, _mpi.load().ANY_SOURCE
    return pg, _peer(pg, what, src, group_src, "source")


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into `tensor` from rank src (any rank when None); returns the sender's rank."""
    pg, peer = _recv_args(tensor, src, group, group_src, "recv")
    if pg is None:
        return -1
    host, copy = _writable(tensor)
    status = _mpi.load().Status()
    _run(pg, "recv", False, lambda: pg._comm.Recv(_mpi.spec(host), peer, tag, status), None)
    _write_back(tensor, host, copy)
    return pg._ranks[status.Get_source()]


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into `tensor` from rank src (any rank when None); wait() on the Work completes it."""
    pg, peer = _recv_args(tensor, src, group, group_src, "irecv")
    if pg is None:
        return None
    host, copy = _writable(tensor)
    status = [_mpi.load().Status()]
    return Work([pg._comm.Irecv(_mpi.spec(host), peer, tag)], lambda: _write_back(tensor, host, copy), pg, "irecv",
                [tensor], status)


# -- Python objects (pickled, as PyTorch does: only exchange objects with ranks you trust) -----------------------

def all_gather_object(object_list, obj, group=None):
    """object_list[i] gets rank i's obj."""
    pg = _resolve(group, "all_gather_object")
    if pg is None:
        return None
    if len(object_list) != pg._size:
        raise ValueError(f"all_gather_object: object_list must have one slot per rank ({pg._size}), has "
                         f"{len(object_list)}")
    object_list[:] = _blocking_objects(pg, "all_gather_object", lambda: pg._comm.allgather(obj))


def _blocking_objects(pg, what, call):
    out = []
    _run(pg, what, False, lambda: out.append(call()), None)
    return out[0]


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """object_list on every rank becomes rank src's object_list (same length on every rank)."""
    pg = _resolve(group, "broadcast_object_list")
    if pg is None:
        return None
    root = _group_rank(pg, "broadcast_object_list", src, group_src, default=0)
    got = _blocking_objects(pg, "broadcast_object_list",
                            lambda: pg._comm.bcast(list(object_list) if pg._rank == root else None, root))
    object_list[:] = got[:len(object_list)]


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """object_gather_list[i] on rank dst gets rank i's obj."""
    pg = _resolve(group, "gather_object")
    if pg is None:
        return None
    root = _group_rank(pg, "gather_object", dst, group_dst, default=0)
    if pg._rank == root:
        if object_gather_list is None or len(object_gather_list) != pg._size:
            raise ValueError(f"Argument ``object_gather_list`` must be specified on destination rank, with one slot "
                             f"per rank ({pg._size})")
    elif object_gather_list is not None:
        raise ValueError("Argument ``object_gather_list`` must NOT be specified on non-destination ranks.")
    got = _blocking_objects(pg, "gather_object", lambda: pg._comm.gather(obj, root))
    if pg._rank == root:
        object_gather_list[:] = got


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """scatter_object_output_list[0] on rank i gets scatter_object_input_list[i] of rank src."""
    pg = _resolve(group, "scatter_object_list")
    if pg is None:
        return None
    root = _group_rank(pg, "scatter_object_list", src, group_src, default=0)
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    if pg._rank == root and (scatter_object_input_list is None or len(scatter_object_input_list) != pg._size):
        raise ValueError(f"scatter_object_list: scatter_object_input_list must have one object per rank ({pg._size}) "
                         "on the source rank")
    scatter_object_output_list[0] = _blocking_objects(
        pg, "scatter_object_list",
        lambda: pg._comm.scatter(list(scatter_object_input_list) if pg._rank == root else None, root))
