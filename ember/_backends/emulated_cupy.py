"""A strict stand-in for CuPy built on NumPy: the `cuda` device on machines without a GPU.

With EMBER_EMULATE_CUDA=1 the cuda backend uses this module as its `xp` instead of `cupy`. It is a testing
aid, not a fast path: its job is to fail wherever real CuPy would fail, so that code which works here works on
a GPU. What it enforces, as CuPy does:

- Device memory is separate: `asarray(host_array)` copies, `asnumpy(a)` / `a.get()` copy back, and a device
  array refuses implicit conversion to NumPy (`numpy.asarray(a)` raises TypeError, as CuPy's `__array__` does).
- NumPy's ufuncs and functions accept device arrays through `__array_ufunc__` / `__array_function__` (as they
  accept CuPy's) and return device arrays, but refuse host NumPy arrays mixed in (CuPy's TypeError).
- Results are always arrays: a reduction or an element read gives a 0-d device array, never a NumPy scalar.
- There are no read-only arrays (`flags` has c_contiguous, f_contiguous and owndata only).

Memory is accounted as CuPy's default pool does: `get_default_memory_pool().used_bytes()` counts the bytes of
live arrays that own their data.
"""
import builtins
import math
import numbers
import time
import types
import weakref

import numpy as _np
from numpy.lib.mixins import NDArrayOperatorsMixin

DEVICE_MEMORY = 16 << 30            # what memGetInfo reports as the emulated device's total memory


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        self.c_contiguous, self.f_contiguous = a.flags.c_contiguous, a.flags.f_contiguous
        self.owndata = a.base is None

    def __getitem__(self, key):         # CuPy's flags['C_CONTIGUOUS'] spelling
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


def _host_array_error(kind="argument"):
    return TypeError(f"Unsupported type <class 'numpy.ndarray'> as a device {kind}: a host NumPy array cannot be "
                     "mixed with cuda arrays (copy it with xp.asarray first)")


def _unwrap(value):
    """The NumPy array behind a device array (recursing into lists and tuples); host arrays are refused."""
    cls = value.__class__
    if cls is ndarray:
        return value._a
    if cls is _np.ndarray:
        raise _host_array_error()
    if cls is list or cls is tuple:
        return cls(_unwrap(v) for v in value)
    return value


def _wrap(value):
    """Device arrays for NumPy results: arrays, NumPy scalars (as 0-d arrays) and tuples/lists of them."""
    if isinstance(value, _np.ndarray):
        return ndarray._of(value)
    if isinstance(value, _np.generic):
        return ndarray._of(_np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _index(key):
    """An index for the NumPy array: device arrays unwrapped; host index arrays accepted, as CuPy copies them."""
    if key.__class__ is ndarray:
        return key._a
    if key.__class__ is tuple:
        return tuple(k._a if k.__class__ is ndarray else k for k in key)
    return key


class _Pool:
    """CuPy's default memory pool, accounted: bytes of live arrays that own their memory."""

    def __init__(self):
        self._used = 0
        self._peak_total = 0

    def _track(self, a):
        n = a.nbytes
        if n:
            self._used += n
            self._peak_total = max(self._peak_total, self._used)
            weakref.finalize(a, self._release, n)

    def _release(self, n):
        self._used -= n

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return max(self._used, self._peak_total)

    def free_bytes(self):
        return self.total_bytes() - self._used

    def free_all_blocks(self):
        self._peak_total = self._used


_POOL = _Pool()


def get_default_memory_pool():
    return _POOL


class ndarray(NDArrayOperatorsMixin):
    """A device array: a NumPy array that only device code may touch (see the module docstring)."""
    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100.0

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise TypeError("the emulated device does not take raw memory pointers")
        self._a = _np.empty(shape, dtype=dtype, order=order)
        _POOL._track(self._a)

    @classmethod
    def _of(cls, a):
        out = object.__new__(cls)
        out._a = a
        if a.base is None:
            _POOL._track(a)
        elif not a.flags.writeable:         # NumPy's read-only views (diagonal ...) are writable in CuPy
            try:
                a.flags.writeable = True
            except ValueError:              # a view of read-only memory stays read-only
                pass
        return out

    # --- the NumPy protocols, as CuPy answers them --------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # CuPy's operators hand an operand of higher __array_priority__ its reflected method (x + s: s.__radd__(x)):
        # NotImplemented lets NumPy ask that operand, with these device arrays
        if any(getattr(x, "__array_priority__", 0) > 100 for x in inputs if x.__class__ is not ndarray):
            return NotImplemented
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _unwrap(out)
        result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return _call(func, args, kwargs)

    # --- attributes CuPy's ndarray has ------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    device = property(lambda self: cuda.Device(0))
    T = property(lambda self: ndarray._of(self._a.T))
    mT = property(lambda self: ndarray._of(_np.swapaxes(self._a, -1, -2)))

    @property
    def base(self):
        b = self._a.base
        return None if b is None else ndarray._of(b)

    @property
    def real(self):
        return ndarray._of(self._a.real)

    @real.setter
    def real(self, value):
        self._a.real = _unwrap(value)

    @property
    def imag(self):
        return ndarray._of(self._a.imag)

    @imag.setter
    def imag(self, value):
        self._a.imag = _unwrap(value)

    @property
    def data(self):
        return _MemoryPointer(self._a)

    @property
    def __cuda_array_interface__(self):
        """CuPy's description of the memory (version 3): the host address stands in for the device's."""
        interface = self._a.__array_interface__
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": interface["data"],
                "strides": None if self._a.flags.c_contiguous else self._a.strides, "version": 3}

    # --- element access -----------------------------------------------------------------------------
    def __getitem__(self, key):
        key = _index(key)
        out = self._a[key]
        if not isinstance(out, _np.ndarray):        # an element: CuPy gives a 0-d view
            out = self._a[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
        return ndarray._of(out)

    def __setitem__(self, key, value):
        self._a[_index(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        if self._a.ndim or self._a.dtype.kind not in "biu":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._a)

    __hash__ = None

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    def __copy__(self):
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray._of(self._a.copy())

    def __reduce__(self):
        return (_from_host, (self._a.copy(),))

    # --- to the host, explicitly ----------------------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        host = _np.array(self._a, order=order if order != "A" else "K")
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        if not isinstance(arr, _np.ndarray):
            raise TypeError("set() takes a NumPy array")
        self._a[...] = arr

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def tobytes(self, order="C"):
        return self._a.tobytes(order)

    # --- methods that give arrays -----------------------------------------------------------------------
    def fill(self, value):
        self._a.fill(_unwrap(value))

    def view(self, dtype=None):
        return ndarray._of(self._a.view() if dtype is None else self._a.view(dtype))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return ndarray._of(self._a.astype(dtype, order=order, copy=copy))

    def copy(self, order="C"):
        return ndarray._of(self._a.copy(order=order))

    def reshape(self, *shape, order="C"):
        return ndarray._of(self._a.reshape(*shape, order=order))

    def transpose(self, *axes):
        return ndarray._of(self._a.transpose(*axes))

    def swapaxes(self, a, b):
        return ndarray._of(self._a.swapaxes(a, b))

    def squeeze(self, axis=None):
        return ndarray._of(self._a.squeeze(axis))

    def ravel(self, order="C"):
        return ndarray._of(self._a.ravel(order))

    def flatten(self, order="C"):
        return ndarray._of(self._a.flatten(order))

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return ndarray._of(self._a.diagonal(offset, axis1, axis2))

    def conj(self):
        return ndarray._of(self._a.conj())

    conjugate = conj

    def nonzero(self):
        return _wrap(self._a.nonzero())

    def sort(self, axis=-1, kind=None):
        self._a.sort(axis=axis, kind=kind)

    def put(self, indices, values, mode="wrap"):
        self._a.put(_unwrap(indices), _unwrap(values), mode=mode)

    def dot(self, b, out=None):
        return dot(self, b, out=out)


def _method(name):
    function = getattr(_np, name)

    def method(self, *args, **kwargs):
        return _call(function, (self, *args), kwargs)
    method.__name__ = name
    return method


for _name in ("all", "any", "argmax", "argmin", "argsort", "argpartition", "clip", "cumprod", "cumsum", "max",
              "mean", "min", "prod", "repeat", "round", "std", "sum", "take", "trace", "var", "compress",
              "choose", "partition", "ptp"):
    setattr(ndarray, _name, _method(_name))


class _MemoryPointer:
    """What `a.data` gives: the address of the first element (CuPy's MemoryPointer.ptr)."""
    __slots__ = ("ptr",)

    def __init__(self, a):
        self.ptr = a.__array_interface__["data"][0]


def _from_host(a):
    return ndarray._of(a)


# --- the namespace: NumPy's functions, taking and giving device arrays -----------------------------------

def _call(function, args, kwargs):
    result = function(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
    out = kwargs.get("out")
    return out if out is not None else _wrap(result)


class _Function:
    """A NumPy function made to take and give device arrays (a ufunc keeps its reduce/accumulate/at/outer)."""
    __slots__ = ("_f", "__name__", "nin", "nout")

    def __init__(self, f):
        self._f, self.__name__ = f, f.__name__
        self.nin, self.nout = getattr(f, "nin", None), getattr(f, "nout", None)

    def __call__(self, *args, **kwargs):
        return _call(self._f, args, kwargs)

    def __getattr__(self, method):                  # ufunc.reduce, .accumulate, .at, .outer
        return _Function(getattr(self._f, method))

    def __repr__(self):
        return f"<emulated cupy function {self.__name__}>"


class _Namespace(types.ModuleType):
    """A NumPy submodule seen through device arrays (cupy.linalg, cupy.fft, cupy.random, ...)."""

    def __init__(self, name, module):
        super().__init__(name)
        self._module = module

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if isinstance(value, _np.ufunc) or (callable(value) and not isinstance(value, type)):
            value = _Function(value)
        setattr(self, name, value)
        return value


_PASS = (type, numbers.Number, str, bytes, types.ModuleType)


_NUMPY_ONLY = {"errstate", "seterr", "geterr", "seterrcall", "geterrcall"}     # CuPy has none of these


def __getattr__(name):
    """NumPy's name, made to take and give device arrays (dtypes, constants and classes as they are)."""
    if name in _NUMPY_ONLY:
        raise AttributeError(f"module 'cupy' has no attribute '{name}' (NumPy only: use ember._backends.errstate)")
    value = getattr(_np, name)
    if isinstance(value, _np.ufunc) or (callable(value) and not isinstance(value, _PASS)):
        value = _Function(value)
    if not hasattr(builtins, name):         # cached, unless it would shadow a builtin this module uses
        globals()[name] = value
    return value


def asarray(a, dtype=None, order=None, *, blocking=False):
    """A device array of a (a host array is copied to the device, as CuPy copies it)."""
    if a.__class__ is ndarray:
        return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    return ndarray._of(_np.array(_unwrap_nested(a), dtype=dtype, order=order or "K"))


def take(a, indices, axis=None, out=None):
    """CuPy's take calls the array's own take method (a sparse storage's included)."""
    return a.take(indices, axis, out)


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    if a.__class__ is ndarray:
        return ndarray._of(_np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray._of(_np.array(_unwrap_nested(a), dtype=dtype, order=order, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    return ndarray._of(_np.ascontiguousarray(_unwrap(a), dtype=dtype))


def _unwrap_nested(a):
    """Host data for a new device array: nested lists may hold 0-d device arrays (CuPy reads them)."""
    if isinstance(a, (list, tuple)):
        return [_unwrap_nested(v) for v in a]
    return a._a if a.__class__ is ndarray else a


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A host copy of a device array (host data passes through, as in CuPy)."""
    if a.__class__ is ndarray:
        return a.get(order=order, out=out)
    return _np.asarray(a, order=order)


def get_array_module(*args):
    import sys
    return sys.modules[__name__] if any(a.__class__ is ndarray for a in args) else _np


def fuse(*args, **kwargs):
    """cupy.fuse: the function itself (the emulation does not compile kernels)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


def dot(a, b, out=None):
    return _call(_np.dot, (a, b), {} if out is None else {"out": out})


# --- cupy.cuda: devices, streams, events, the runtime ----------------------------------------------------

class _Device:
    _current = 0

    def __init__(self, device=None):
        self.id = _Device._current if device is None else int(device)
        if not 0 <= self.id < runtime_device_count():
            raise ValueError(f"invalid device ordinal {self.id} (the emulation has {runtime_device_count()})")

    def use(self):
        _Device._current = self.id

    def synchronize(self):
        pass

    def __enter__(self):
        self._previous = _Device._current
        _Device._current = self.id
        return self

    def __exit__(self, *exc):
        _Device._current = self._previous

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"



class _Stream:
    """A CUDA stream: work here runs at once, so synchronizing has nothing to wait for."""
    null = None

    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.ptr = 0 if null else id(self)

    def synchronize(self):
        pass

    def use(self):
        _current_stream[0] = self
        return self

    @property
    def done(self):
        return True

    def wait_event(self, event):
        pass

    def record(self, event=None):
        event = event or _Event()
        event.record(self)
        return event

    def __enter__(self):
        self._previous = _current_stream[0]
        _current_stream[0] = self
        return self

    def __exit__(self, *exc):
        _current_stream[0] = self._previous


class _Event:
    """A CUDA event: record() takes the host clock (work runs synchronously here)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing, self._t = disable_timing, None

    def record(self, stream=None):
        self._t = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return self._t is not None


def _get_elapsed_time(start, end):
    """Milliseconds from start to end (cupy.cuda.get_elapsed_time)."""
    if start._t is None or end._t is None:
        raise RuntimeError("Both events must be recorded before calculating elapsed time.")
    return (end._t - start._t) * 1000.0


def runtime_device_count():
    """How many devices the emulation shows: EMBER_EMULATE_CUDA=N for N > 1, otherwise one."""
    import os
    value = os.environ.get("EMBER_EMULATE_CUDA", "1")
    return int(value) if value.isdigit() and int(value) > 1 else 1


def _device_properties(index):
    return {"name": b"Emulated CUDA device (NumPy)", "totalGlobalMem": DEVICE_MEMORY, "major": 9, "minor": 0,
            "multiProcessorCount": 1, "integrated": 0, "isMultiGpuBoard": 0, "warpSize": 32,
            "l2CacheSize": 0, "uuid": b"\0" * 16}


runtime = types.SimpleNamespace(
    getDeviceCount=runtime_device_count,
    getDevice=lambda: _Device._current,
    memGetInfo=lambda: (DEVICE_MEMORY - _POOL.total_bytes(), DEVICE_MEMORY),
    getDeviceProperties=_device_properties,
    deviceSynchronize=lambda: None,
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
)
_Stream.null = _Stream(null=True)
_current_stream = [_Stream.null]
class _NcclCommunicator:
    """cupy.cuda.nccl.NcclCommunicator's stand-in: the same pointer-based calls, on the host memory the emulated
    device arrays live in, moved over the MPI ranks the communicator was bound to (ember/_backends/cuda.py's
    NcclGroup binds it; a real NCCL communicator finds its peers through the unique id)."""

    def __init__(self, ndev, comm_id, rank):
        self.ndev, self.rank, self._mpi = ndev, rank, None

    def _bind(self, mpi_comm):
        if mpi_comm.Get_size() != self.ndev or mpi_comm.Get_rank() != self.rank:
            raise RuntimeError("emulated NCCL: the MPI communicator does not match the NCCL ranks")
        self._mpi = mpi_comm

    @staticmethod
    def _view(ptr, count, datatype):
        import ctypes
        dtype = _np.dtype(_NCCL_DTYPES[datatype])
        buffer = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
        return _np.frombuffer(buffer, dtype=dtype, count=count)

    def _op(self, op):
        from mpi4py import MPI
        return {NCCL_SUM: MPI.SUM, NCCL_PROD: MPI.PROD, NCCL_MIN: MPI.MIN, NCCL_MAX: MPI.MAX, NCCL_AVG: MPI.SUM}[op]

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        from mpi4py import MPI
        send, recv = self._view(sendbuf, count, datatype), self._view(recvbuf, count, datatype)
        self._mpi.Allreduce(MPI.IN_PLACE if sendbuf == recvbuf else send, recv, self._op(op))
        if op == NCCL_AVG:
            _np.true_divide(recv, self.ndev, out=recv, casting="unsafe")

    def bcast(self, buff, count, datatype, root, stream):
        self._mpi.Bcast(self._view(buff, count, datatype), root)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        self._mpi.Allgather(self._view(sendbuf, count, datatype), self._view(recvbuf, count * self.ndev, datatype))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        recv = self._view(recvbuf, recvcount, datatype)
        self._mpi.Reduce_scatter_block(self._view(sendbuf, recvcount * self.ndev, datatype), recv, self._op(op))
        if op == NCCL_AVG:
            _np.true_divide(recv, self.ndev, out=recv, casting="unsafe")

    def destroy(self):
        self._mpi = None


(NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64, NCCL_FLOAT16, NCCL_FLOAT32,
 NCCL_FLOAT64) = range(9)
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = range(5)
_NCCL_DTYPES = {NCCL_INT8: "int8", NCCL_UINT8: "uint8", NCCL_INT32: "int32", NCCL_UINT32: "uint32",
                NCCL_INT64: "int64", NCCL_UINT64: "uint64", NCCL_FLOAT16: "float16", NCCL_FLOAT32: "float32",
                NCCL_FLOAT64: "float64"}
nccl = types.SimpleNamespace(
    NcclCommunicator=_NcclCommunicator, get_unique_id=lambda: tuple(range(128)),
    NCCL_INT8=NCCL_INT8, NCCL_UINT8=NCCL_UINT8, NCCL_INT32=NCCL_INT32, NCCL_UINT32=NCCL_UINT32,
    NCCL_INT64=NCCL_INT64, NCCL_UINT64=NCCL_UINT64, NCCL_FLOAT16=NCCL_FLOAT16, NCCL_FLOAT32=NCCL_FLOAT32,
    NCCL_FLOAT64=NCCL_FLOAT64, NCCL_SUM=NCCL_SUM, NCCL_PROD=NCCL_PROD, NCCL_MAX=NCCL_MAX, NCCL_MIN=NCCL_MIN,
    NCCL_AVG=NCCL_AVG)
cuda = types.SimpleNamespace(Device=_Device, Stream=_Stream, Event=_Event, runtime=runtime, nccl=nccl,
                             get_elapsed_time=_get_elapsed_time, get_current_stream=lambda: _current_stream[0],
                             is_available=lambda: True, nvtx=None)

linalg = _Namespace("emulated_cupy.linalg", _np.linalg)
fft = _Namespace("emulated_cupy.fft", _np.fft)
random = _Namespace("emulated_cupy.random", _np.random)
lib = types.SimpleNamespace(stride_tricks=_Namespace("emulated_cupy.lib.stride_tricks", _np.lib.stride_tricks))

newaxis, pi, e, inf, nan = None, math.pi, math.e, math.inf, math.nan
