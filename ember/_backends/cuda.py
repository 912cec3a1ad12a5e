"""CUDA backend over CuPy, loaded only when a cuda device is asked for (and by ember.cuda's queries, which
call the functions below: this module imports CuPy only inside them, so loading it does not load CuPy).

With the environment variable EMBER_EMULATE_CUDA=1 the array module is `emulated_cupy`, a strict stand-in for
CuPy on NumPy (see its docstring): `cuda` then works on any machine, and code that would break on CuPy breaks."""
import importlib
import importlib.util
import os

name = "cuda"
xp = None


def emulated():
    """Whether EMBER_EMULATE_CUDA asks for the emulated device (read each time: tests switch it)."""
    return os.environ.get("EMBER_EMULATE_CUDA", "0") not in ("", "0")


def _cupy():
    """The array module: CuPy, or its stand-in under emulation (ImportError where CuPy is missing)."""
    if emulated():
        from . import emulated_cupy
        return emulated_cupy
    return importlib.import_module("cupy")


def available():
    """True when CuPy imports and sees at least one GPU (always, under emulation)."""
    try:
        return _cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def check_available():
    global xp
    if xp is not None:
        return
    if not available():                      # PyTorch's exception type and words on a CPU-only build
        raise AssertionError("Torch not compiled with CUDA enabled (ember's cuda backend needs CuPy and an "
                             "NVIDIA GPU: pip install cupy-cuda12x; ember.cuda.is_available() is False here)")
    xp = _cupy()
    from . import STRIDED
    if hasattr(xp, "ndarray"):           # (a stand-in module in tests may have none)
        STRIDED.add(xp.ndarray)          # layouts apply to device arrays too (Note [memory formats])


def is_installed():
    """Whether CuPy is installed (found, not imported; no GPU needed), or emulated."""
    return emulated() or importlib.util.find_spec("cupy") is not None


def device_count():
    """The number of GPUs CuPy sees (CuPy must import)."""
    return _cupy().cuda.runtime.getDeviceCount()


# The device queries below expect check_available() to have succeeded; index is a CUDA device index.

def memory_pool_bytes(index):
    """(bytes held by live arrays, bytes kept from the driver) of CuPy's default memory pool on the device."""
    with xp.cuda.Device(index):
        pool = xp.get_default_memory_pool()
        return pool.used_bytes(), pool.total_bytes()


def mem_get_info(index):
    """(free bytes, total bytes) of the device, from the CUDA driver."""
    with xp.cuda.Device(index):
        free, total = xp.cuda.runtime.memGetInfo()
    return free, total


def device_properties(index):
    """The CUDA runtime's device properties of the device, as CuPy's dict."""
    return xp.cuda.runtime.getDeviceProperties(index)


def synchronize(index):
    """Wait for the device's queued work."""
    xp.cuda.Device(index).synchronize()


def empty_cache():
    """Give the unused blocks of CuPy's default memory pool back to the driver (CuPy must import)."""
    _cupy().get_default_memory_pool().free_all_blocks()


def nvtx_range_functions():
    """(push(message), pop()): NVTX's range push and pop, resolved once (ImportError where CuPy lacks them)."""
    if emulated():
        raise ImportError("the emulated cuda device has no NVTX")
    from cupy.cuda import nvtx
    return nvtx.RangePush, nvtx.RangePop


def asarray(data, dtype=None):
    return xp.asarray(data, dtype=dtype)


def to_numpy(array):
    return xp.asnumpy(array)


def from_numpy(array):
    return xp.asarray(array)


def empty_like_shape(shape, dtype):
    return xp.empty(shape, dtype=dtype)


def scratch(shape, dtype, slot=0):
    """A temporary for one op call (the cpu backend reuses its memory, Note [scratch buffers]); a new array here."""
    return xp.empty(shape, dtype=dtype)


def broadcast_to(array, shape):
    return xp.broadcast_to(array, shape)


def matmul(a, b, out=None):
    """a @ b, into `out` when given (the cpu backend's runs small products on one BLAS thread; here there is no BLAS
    to steer)."""
    return a @ b if out is None else xp.matmul(a, b, out=out)


# The dtypes CuPy's add.at / cupyx.scatter_add add with CUDA's atomicAdd; the others go through a carrier.
_ATOMIC_ADD = frozenset("efdIiQ")          # float16/32/64, uint32, int32, uint64


def add_at(array, index, values):
    """array[index] += values, each repeated position adding every value (NumPy's add.at): CuPy's ufunc.at
    (cupyx.scatter_add before CuPy 12), whose atomicAdd knows float16/32/64, (u)int32 and uint64 only. int64
    adds as uint64 (the same bits, wrapping alike); complex adds its real and imaginary views; 8/16-bit integers
    sum into an int32 carrier first (wrapping alike: addition modulo 2**bits), bool ORs (NumPy's add on bool)."""
    code = array.dtype.char
    values = xp.asarray(values)
    if code in _ATOMIC_ADD:
        _scatter_add(array, index, values.astype(array.dtype, copy=False))
    elif code in "lq":
        _scatter_add(array.view(xp.uint64), index, values.astype(array.dtype).view(xp.uint64))
    elif array.dtype.kind == "c":
        values = values.astype(array.dtype, copy=False)
        _scatter_add(array.real, index, xp.ascontiguousarray(values.real))
        _scatter_add(array.imag, index, xp.ascontiguousarray(values.imag))
    else:                                   # bool, (u)int8, (u)int16
        carrier = xp.zeros(array.shape, dtype=xp.int32)
        _scatter_add(carrier, index, values.astype(xp.int32))
        if code == "?":
            array |= carrier != 0
        else:
            array += carrier.astype(array.dtype)


def _scatter_add(array, index, values):
    at = getattr(xp.add, "at", None)
    if at is not None:
        at(array, index, values)
    else:
        importlib.import_module("cupyx").scatter_add(array, index, values)


# --- devices, streams and events (ember/_cuda_streams.py wraps these in PyTorch's classes) -----------------

def current_device():
    """The index of CuPy's current device."""
    return xp.cuda.runtime.getDevice()


def set_device(index):
    xp.cuda.Device(index).use()


def device_context(index):
    """A context manager making device `index` current (CuPy's Device)."""
    return xp.cuda.Device(index)


def new_stream(non_blocking=False):
    return xp.cuda.Stream(non_blocking=non_blocking)


def null_stream():
    return xp.cuda.Stream.null


def current_stream():
    return xp.cuda.get_current_stream()


def new_event(enable_timing=False, blocking=False, interprocess=False):
    return xp.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)


def elapsed_ms(start, end):
    """Milliseconds between two recorded events."""
    return xp.cuda.get_elapsed_time(start, end)


# --- NCCL (ember.distributed's "nccl" backend) ----------------------------------------------------------------

def nccl_available():
    """Whether CuPy brings NCCL (cupy.cuda.nccl imports), or the emulation's stand-in."""
    try:
        return hasattr(_cupy().cuda, "nccl") and _cupy().cuda.nccl is not None
    except Exception:
        return False


# NumPy dtype name -> NCCL data type constant name
_NCCL_TYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "uint32": "NCCL_UINT32",
               "int64": "NCCL_INT64", "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16",
               "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "bfloat16": "NCCL_BFLOAT16"}
_NCCL_OPS = {"SUM": "NCCL_SUM", "PRODUCT": "NCCL_PROD", "MIN": "NCCL_MIN", "MAX": "NCCL_MAX", "AVG": "NCCL_AVG"}


class NcclGroup:
    """One NCCL communicator over the ranks of an MPI communicator (rank 0 makes the unique id, MPI carries it to
    the others). The collectives take contiguous device arrays and run on the current stream, as PyTorch's
    NCCL process group does: the host does not wait, later work on the stream sees the result."""

    def __init__(self, mpi_comm):
        check_available()
        nccl = xp.cuda.nccl
        unique_id = nccl.get_unique_id() if mpi_comm.Get_rank() == 0 else None
        unique_id = mpi_comm.bcast(unique_id, root=0)
        self.comm = nccl.NcclCommunicator(mpi_comm.Get_size(), unique_id, mpi_comm.Get_rank())
        if emulated():                       # the stand-in moves host memory over the same MPI ranks
            self.comm._bind(mpi_comm)
        self.nccl = nccl

    def supports(self, array, op=None):
        """Whether NCCL reduces (or moves, op None) this array: a contiguous device array of an NCCL type."""
        if array.__class__ is not xp.ndarray or not array.flags.c_contiguous:
            return False
        kind = _NCCL_TYPES.get(array.dtype.name)
        if kind is None or not hasattr(self.nccl, kind):
            return False
        return op is None or hasattr(self.nccl, _NCCL_OPS.get(op, "-"))

    def _type(self, array):
        return getattr(self.nccl, _NCCL_TYPES[array.dtype.name])

    def all_reduce(self, array, op):
        self.comm.allReduce(array.data.ptr, array.data.ptr, array.size, self._type(array),
                            getattr(self.nccl, _NCCL_OPS[op]), current_stream().ptr)

    def broadcast(self, array, root):
        self.comm.bcast(array.data.ptr, array.size, self._type(array), root, current_stream().ptr)

    def all_gather(self, send, recv):
        self.comm.allGather(send.data.ptr, recv.data.ptr, send.size, self._type(send), current_stream().ptr)

    def reduce_scatter(self, send, recv, op):
        self.comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size, self._type(send),
                                getattr(self.nccl, _NCCL_OPS[op]), current_stream().ptr)

    def synchronize(self):
        current_stream().synchronize()
