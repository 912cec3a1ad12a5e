"""CPU backend: NumPy arrays."""
import threading as _threading
from _thread import get_ident as _get_ident

import numpy as xp

name = "cpu"


def asarray(data, dtype=None):
    return xp.asarray(data, dtype=dtype)


def to_numpy(array):
    return array


def from_numpy(array):
    return array


def empty_like_shape(shape, dtype):
    return xp.empty(shape, dtype=dtype)


# Note [scratch buffers]: a large temporary that lives only inside one op call (a convolution's im2col columns, its
# per-tap products in backward) is carved from a buffer kept per thread and per slot, so each call does not map
# fresh memory from the kernel and fault it in again (zeroing pages costs ~1 ms per 10 MB here, as much as
# building the columns). The array is valid until the next scratch() of the same slot on the same thread: an op
# uses it and lets go before it returns, and never hands it out as a tensor's storage. The memory stays with the
# thread (at most the two largest temporaries asked for, as a caching allocator keeps its blocks); requests above
# _SCRATCH_LIMIT bytes (64 MiB) get fresh memory and are not kept, which bounds what a process holds for good.
_scratch = _threading.local()
_SCRATCH_LIMIT = 1 << 26


def scratch(shape, dtype, slot=0):
    """An uninitialised array of `shape` and `dtype` that is only valid until this thread's next scratch() of the
    same `slot` (Note [scratch buffers])."""
    dtype = xp.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if nbytes > _SCRATCH_LIMIT:
        return xp.empty(shape, dtype=dtype)
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    held = buffers.get(slot)
    if held is None or held.nbytes < nbytes:
        held = buffers[slot] = xp.empty(max(nbytes, 1), dtype=xp.uint8)
    return held[:nbytes].view(dtype).reshape(shape)


def add_at(array, index, values):
    """array[index] += values, each repeated position adding every value (NumPy's add.at)."""
    xp.add.at(array, index, values)


# Full reductions with out=...: NumPy >= 2.3 then returns a 0-d array instead of a NumPy scalar that a tensor
# could not hold (Note [array storage]), saving the conversion (~0.4 us). ops/reduction.py's CPU fast paths.
add_reduce = xp.add.reduce
maximum_reduce, minimum_reduce = xp.maximum.reduce, xp.minimum.reduce
try:
    add_reduce(xp.zeros(1), None, out=...)
    REDUCE_TO_ARRAY = True
except TypeError:
    REDUCE_TO_ARRAY = False


def int64_array(value):
    """An index (argmax's answer, a NumPy integer) as a 0-d int64 array."""
    return xp.array(value, dtype=xp.int64)


def broadcast_to(array, shape):
    """A read-only view of `array` expanded to `shape`.

    np.broadcast_to spends ~4 us checking arguments in Python; a 0-d array (the gradient of sum(),
    expanded in every backward) becomes an all-zero-stride view of its element directly (~1 us)."""
    if array.ndim == 0:
        out = xp.ndarray(shape, array.dtype, array, 0, (0,) * len(shape))
        out.flags.writeable = False
        return out
    return xp.broadcast_to(array, shape)


# --- BLAS threads --------------------------------------------------------------------------------------------
# Note [BLAS threads per product]: OpenBLAS (the BLAS of NumPy's wheels) spreads a product of m*n*k above 2**18
# over up to m*n*k / 2**18 threads. On a small product a second thread gains little and risks much: waking and
# joining it takes tens of microseconds, and when another process holds the other core the join waits for a
# timeslice. Measured on a 2-core machine shared with other processes (OpenBLAS 0.3.31 pthreads, float32; mean
# of 300 calls, each followed by ~30 us of small NumPy work), 1 vs 2 threads:
#   busy:  16x96 @ (384x96).T (linear's h @ W_hh.T, hidden-96 LSTM) 84 vs 1600 us; 128x128 @ (128x128).T 134 vs
#          398 us; 128x128 @ 128x256 207 vs 136 us; 256x256 @ 256x256 370 vs 662 us
#   quiet: 16x96 @ (384x96).T 40 vs 29 us; 128x128 @ 128x128 45 vs 37 us; 512x32 @ 32x384 139 vs 90 us;
#          256x256 @ 256x256 326 vs 211 us; 512x512 @ 512x512 2589 vs 1377 us (other quiet runs had 2 threads
#          slower up to ~4M multiply-adds: 64x128 @ 128x128 23 vs 41 us)
# float64 products take ~2x as long, so the same time comes at half the m*n*k. MKL, PyTorch's BLAS, picks
# threads per call by size too. So matmul() below runs a product on one thread when m*n*k*itemsize <
# SMALL_PRODUCT, and on BLAS's count (set_num_threads, else its default) above. 2**26 (float32 below ~16.8M
# multiply-adds, float64 below ~8.4M: up to ~0.35 ms on one thread) weighs the two: quiet, one thread costs such
# a product at most ~0.15 ms; busy, two threads cost it milliseconds. benchmarks/run.py's char LSTM (5 steps;
# 95 products of 0.6M and 3 of 6.3M multiply-adds a step): quiet, 37 ms with BLAS choosing, 39-40 ms with this
# policy or on one thread throughout; busy, 260-990 ms with BLAS choosing, 115-160 ms with a 2**24 threshold
# (the 6.3M products on two threads), 60-87 ms with 2**26, 40-46 ms on one thread. On a shared machine
# set_num_threads(1) is the fastest setting. The digits MLP epoch (64-256-256-10, batch 64: products of 1-4M
# multiply-adds), ember alone: 2**24 24.5 ms quiet, 82 ms with one core busy; 2**26 28.1 ms and 28 ms.
# Matrix-vector products (m or n == 1) keep BLAS's own choice: they are memory-bound and gain from threads early
# (1024x1024 @ 1024 float32: 83 us on one thread, 61 us on two). The switch is OpenBLAS's own
# openblas_set_num_threads through ctypes (0.3 us a call; threadpoolctl's limit() context costs ~14 us,
# threadpool_limits ~340 us) on the library threadpoolctl finds, called around a small product only and restored
# after it, so BLAS's count elsewhere (NumPy code, LAPACK calls, an enclosing threadpool_limits) stays as it was:
# ~1 us a small product. Only the main thread switches: OpenBLAS's pthreads pool is process-wide, and two threads
# saving and restoring its count in turn could leave it at one. Without threadpoolctl, or with another BLAS (MKL,
# BLIS, an OpenMP OpenBLAS), products run as BLAS decides.

SMALL_PRODUCT = 1 << 26          # m * n * k * itemsize below which a product runs on one BLAS thread
_BLAS_SINGLE = 1 << 18           # m * n * k OpenBLAS runs on one thread by itself (65536 * GEMM_MULTITHREAD_THRESHOLD)
_MAIN_THREAD = _threading.main_thread().ident
_UNKNOWN = object()
_openblas = _UNKNOWN             # (get, set) ctypes functions of NumPy's OpenBLAS once looked up; None: not there


def matmul(a, b, out=None):
    """a @ b (NumPy's matmul), into `out` when given; a small matrix product runs on one BLAS thread
    (Note [BLAS threads per product])."""
    if a.__class__ is xp.ndarray and b.__class__ is xp.ndarray and a.ndim > 1 and b.ndim > 1:
        m, n = a.shape[-2], b.shape[-1]
        work = m * n * a.shape[-1]
        if _BLAS_SINGLE < work and work * a.itemsize < SMALL_PRODUCT and m > 1 and n > 1 \
                and _get_ident() == _MAIN_THREAD:
            blas = _openblas if _openblas is not _UNKNOWN else _find_openblas()
            if blas is not None:
                threads = blas[0]()
                if threads > 1:
                    blas[1](1)
                    try:
                        return a @ b if out is None else xp.matmul(a, b, out=out)
                    finally:
                        blas[1](threads)
    return a @ b if out is None else xp.matmul(a, b, out=out)


def _find_openblas():
    """NumPy's OpenBLAS (pthreads build) through threadpoolctl: its (get, set) thread-count functions, or None."""
    global _openblas
    _openblas = None
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    found = [c for c in ThreadpoolController().lib_controllers
             if c.internal_api == "openblas" and getattr(c, "threading_layer", None) == "pthreads"]
    ours = [c for c in found if "numpy" in c.filepath] or found      # NumPy's own copy when SciPy brings another
    if len(ours) != 1:
        return None
    lib = getattr(ours[0], "dynlib", None)          # the ctypes handle threadpoolctl opened
    if lib is None:
        return None
    for prefix in ("", "scipy_"):                  # scipy-openblas renames its symbols: scipy_openblas_..._64_
        for suffix in ("", "64_", "_64"):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                _openblas = (get, put)
                return _openblas
    return None


def blas_threads():
    """The thread count NumPy's OpenBLAS runs large products on, or None when it cannot be read."""
    blas = _openblas if _openblas is not _UNKNOWN else _find_openblas()
    return None if blas is None else blas[0]()


def set_blas_threads(n):
    """Set the thread count of every BLAS NumPy may use (threadpoolctl); False when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=n, user_api="blas")
    return True
