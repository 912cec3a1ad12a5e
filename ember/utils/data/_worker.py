"""DataLoader worker processes: the worker loop, worker info and seeding, errors carried to the main
process, and the result channel that moves batches between processes.

Note [result channel]: each worker writes its results to its own pipe, in the order it got its
tasks. A message is a small header, the pickle of the result (protocol 5) and, out of band, the raw
bytes of every contiguous array in it. The reader receives those bytes straight into fresh aligned
NumPy buffers (os.readv): a batch's data is copied into the pipe and out of it, never through
pickle bytes or temporary buffers, and arrives writable. CPU tensors pickle as their arrays.
"""
import io
import os
import pickle
import queue
import random
import struct
import sys
import traceback
import weakref
from dataclasses import dataclass

import numpy as np

from ... import random as _random
from ..._tensor import Tensor
from ...ops.creation import from_numpy
from ._fetch import _DatasetKind

__all__ = ["WorkerInfo", "get_worker_info"]

MP_STATUS_CHECK_INTERVAL = 5.0       # seconds between the main process's liveness checks of its workers
# An idle worker wakes this often to see whether the main process has set done_event or died. The
# stop signal cannot travel through the index queue alone: when an abandoned iterator is collected
# as garbage, the queue's own finalizer may close its feeder thread before our None is sent.
_IDLE_POLL = 0.1

# Read ends of result pipes held by the main process. A forked worker inherits copies of all of them
# and closes those copies first thing: a pipe whose reader the main process closed must give its
# writer EPIPE, not block it forever because some worker still holds a read end.
_parent_readers = weakref.WeakSet()

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker: its id, the worker count, its seed, and the
    worker's own copy of the dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str = "multiprocessing"


def get_worker_info():
    """The current worker's WorkerInfo, or None in the main process."""
    return _worker_info


def _numpy_seed(base_seed, worker_id):
    """The NumPy global seed PyTorch gives a worker: four words that NumPy's SeedSequence hashes out of
    (worker_id, low and high halves of base_seed, 0) -- the same hash PyTorch computes itself."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4)


class _IterableDatasetStopIteration:
    """A worker's answer once its IterableDataset copy is exhausted."""
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at a new epoch; they echo it back once their fetcher is fresh."""


class _KeyErrorMessage(str):
    """KeyError shows repr() of its argument; this makes that the message itself, newlines intact."""
    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception's type and formatted traceback, picklable, re-raised in another process."""

    def __init__(self, exc_info=None, where="in background"):
        exc_type, exc_value, tb = exc_info if exc_info is not None else sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc_value, tb))
        self.where = where

    def __reduce__(self):
        exc_type = self.exc_type
        try:
            pickle.dumps(exc_type)
        except Exception:                        # e.g. a class local to a function: re-raise as RuntimeError
            exc_type = RuntimeError
        return _rebuild_wrapper, (exc_type, self.exc_msg, self.where)

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        try:
            exception = self.exc_type(message)
        except Exception:                        # a type whose constructor wants other arguments
            raise RuntimeError(message) from None
        raise exception


def _rebuild_wrapper(exc_type, exc_msg, where):
    wrapper = ExceptionWrapper.__new__(ExceptionWrapper)
    wrapper.exc_type, wrapper.exc_msg, wrapper.where = exc_type, exc_msg, where
    return wrapper


# --- the result channel (Note [result channel]) ----------------------------------------------------

_HEADER = struct.Struct("<QI")          # pickle length, number of out-of-band buffers


class _BatchPickler(pickle.Pickler):
    def reducer_override(self, obj):
        # a plain CPU tensor travels as its array alone: Tensor.__reduce_ex__ would copy it first
        if type(obj) is Tensor and obj._device.type == "cpu" and not obj._requires_grad:
            return from_numpy, (obj._array,)
        return NotImplemented


def serialize(obj):
    """The frames of one message: header, pickle, raw buffers."""
    buffers = []
    stream = io.BytesIO()
    _BatchPickler(stream, protocol=5, buffer_callback=buffers.append).dump(obj)
    raws = [buffer.raw() for buffer in buffers]
    sizes = [raw.nbytes for raw in raws]
    header = _HEADER.pack(stream.tell(), len(raws)) + struct.pack(f"<{len(raws)}Q", *sizes)
    return [header, stream.getbuffer(), *raws]


def write_frames(conn, frames):
    fd = conn.fileno()
    for frame in frames:
        view = memoryview(frame).cast("B")
        while view:
            view = view[os.write(fd, view):]


def _read_into(fd, buffer):
    view = memoryview(buffer).cast("B")
    while view:
        n = os.readv(fd, [view])
        if n == 0:
            raise EOFError("the worker's result pipe closed")
        view = view[n:]
    return buffer


def receive(conn):
    """One message from a result pipe (blocks until it is complete); EOFError if the writer is gone."""
    fd = conn.fileno()
    length, count = _HEADER.unpack(_read_into(fd, bytearray(_HEADER.size)))
    sizes = struct.unpack(f"<{count}Q", _read_into(fd, bytearray(8 * count)))
    payload = _read_into(fd, bytearray(length))
    buffers = [_read_into(fd, np.empty(size, dtype=np.uint8)) for size in sizes]
    return pickle.loads(payload, buffers=buffers)


# --- the worker process ---------------------------------------------------------------------------

def _send_result(conn, message, where):
    try:
        frames = serialize(message)
    except Exception:                            # an unpicklable batch is reported, not fatal
        frames = serialize((message[0], ExceptionWrapper(where=where)))
    write_frames(conn, frames)


def _worker_loop(dataset_kind, dataset, index_queue, result_conn, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers):
    """Seed, run worker_init_fn, then answer (task_id, index) tasks in order until told to stop (None)."""
    global _worker_info
    for conn in list(_parent_readers):           # inherited through fork (see _parent_readers)
        conn.close()
    try:
        # PyTorch's per-worker seeds: base_seed + id for Python and ember, a SeedSequence hash for NumPy
        seed = base_seed + worker_id
        random.seed(seed)
        _random.manual_seed(seed)
        np.random.seed(_numpy_seed(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"

        def new_fetcher():
            return _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)

        fetcher = setup_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = new_fetcher()
        except Exception:
            setup_error = ExceptionWrapper(where=where)
        init_failed = setup_error is not None
        ended = False
        parent = os.getppid()
        while os.getppid() == parent and not done_event.is_set():    # orphaned or told to stop: exit
            try:
                task = index_queue.get(timeout=_IDLE_POLL)
            except queue.Empty:
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                ended = False
                if not init_failed:
                    try:
                        fetcher, setup_error = new_fetcher(), None
                    except Exception:
                        setup_error = ExceptionWrapper(where=where)
                write_frames(result_conn, serialize((task, None)))
                continue
            if ended:
                continue
            task_id, index = task
            if setup_error is not None:
                data = setup_error
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as error:
                    if isinstance(error, StopIteration) and dataset_kind == _DatasetKind.Iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        ended = True
                    else:
                        data = ExceptionWrapper(where=where)
            _send_result(result_conn, (task_id, data), where)
            del data, task, index                # do not hold a batch while waiting for the next task
    except (KeyboardInterrupt, BrokenPipeError):
        pass                                     # the main process raises the interrupt / has let go of us
    finally:
        result_conn.close()
