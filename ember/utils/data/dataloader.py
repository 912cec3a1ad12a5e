"""DataLoader: batches from a dataset, in the main process or in worker processes.

Iterating a DataLoader makes an iterator that first draws one int64 `base_seed` from the loader's
generator (the default generator when none is given), exactly as PyTorch does and before any
sampler draws, so shuffled orders match PyTorch's for the same generator state. Worker i seeds
Python's `random` and ember with base_seed + i and NumPy with PyTorch's hash of the two.
"""
import atexit
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
import warnings
import weakref

from ... import _dtype
from ...ops.creation import empty
from . import _worker
from ._collate import default_collate, default_convert
from ._fetch import _DatasetKind
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

get_worker_info = _worker.get_worker_info


class _InfiniteConstantSampler(Sampler):
    """None forever: the index 'sampler' of an IterableDataset, which ignores indices."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    # fork starts workers in milliseconds and needs nothing picklable; it is only safe on Linux
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


class DataLoader:
    """Iterates batches of `dataset`: PyTorch's arguments, defaults and errors.

    pin_memory is accepted and does nothing: ember's host arrays need no pinning.
    """

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to "
                             "None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler "
                                 f"option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers <= 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                     f"{methods!r}, but got multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                                f"string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, name, value):
        if self._initialized and name in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                          "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            # an IterableDataset's __len__ is only a promise; __next__ warns if more batches come
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self):
        """Warn when asking for more workers than this process may run on CPUs at once."""
        if self.num_workers <= 0:
            return
        cpus = _cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in total. Our "
                          f"suggested max number of worker in current system is {cpus}, which is smaller "
                          f"than what this DataLoader is going to create. Please be aware that excessive "
                          f"worker creation might get DataLoader running slow or even freeze, lower the "
                          f"worker number to avoid potential slowness/freeze if necessary.", stacklevel=2)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory:
            from ... import cuda
            if not cuda.is_available():
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device "
                              "pinned memory won't be used.", stacklevel=3)
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        # drawn here, before the (lazy) sampler draws anything, as in PyTorch
        self._base_seed = int(empty((), dtype=_dtype.int64).random_(generator=loader.generator).item())
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        promised = self._IterableDataset_len_called
        if (self._dataset_kind == _DatasetKind.Iterable and promised is not None
                and self._num_yielded > promised):
            message = (f"Length of IterableDataset {self._dataset} was reported to be {promised}(when "
                       f"accessing len(dataloader)), but {self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not properly "
                            "configuring the IterableDataset replica at each worker. Please see "
                            "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for "
                            "examples.")
            warnings.warn(message, stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        if self._timeout != 0:                   # PyTorch's check: timeout needs worker processes
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._dataset_fetcher = _DatasetKind.create_fetcher(self._dataset_kind, self._dataset,
                                                            self._auto_collation, self._collate_fn,
                                                            self._drop_last)

    def _next_data(self):
        index = self._next_index()               # StopIteration ends the epoch
        return self._dataset_fetcher.fetch(index)


_SHUTDOWN_GRACE = 1.0                    # seconds busy workers get to finish before terminate()

# Live multi-process iterators, shut down at interpreter exit before multiprocessing's own clean-up
_live_iterators = weakref.WeakSet()


@atexit.register
def _shutdown_live_iterators():
    for iterator in list(_live_iterators):
        iterator._shutdown_workers()


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers take (task_id, index) tasks from their own queue and answer on their own pipe, in order
    (Note [result channel] in _worker.py). The main process keeps prefetch_factor tasks per worker in
    flight, hands them out round-robin, and returns results in task order (or as they come when
    in_order=False). Workers that die, time out or raise surface here as errors."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for MultiProcessingDataLoaderIter")
        context = loader.multiprocessing_context or _default_context()
        self._owner_pid = os.getpid()            # a forked child must never shut these workers down
        self._shutdown = False
        self._workers, self._index_queues, self._result_conns = [], [], []
        self._done_event = context.Event()
        try:
            for worker_id in range(self._num_workers):
                self._start_worker(context, loader, worker_id)
        except BaseException:
            self._shutdown_workers()
            raise
        _live_iterators.add(self)
        self._reset(loader, first_iter=True)

    def _start_worker(self, context, loader, worker_id):
        index_queue = context.Queue()
        index_queue.cancel_join_thread()         # never block exit on undelivered indices
        reader, writer = context.Pipe(duplex=False)
        _grow_pipe(reader)
        _worker._parent_readers.add(reader)
        process = context.Process(
            target=_worker._worker_loop,
            args=(self._dataset_kind, self._dataset, index_queue, writer, self._done_event,
                  self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
                  loader.worker_init_fn, worker_id, self._num_workers),
            daemon=True)
        self._index_queues.append(index_queue)
        self._result_conns.append(reader)
        try:
            process.start()
        finally:
            writer.close()                       # the worker holds the only write end: EOF means it died
        self._workers.append(process)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0                       # id of the next task to send
        self._rcvd_idx = 0                       # id of the next task to return (in order)
        self._task_info = {}                     # task id -> [worker id] or [worker id, data]
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: drop what the last epoch left in flight, then restart their fetchers
            for index_queue in self._index_queues:
                index_queue.put(_worker._ResumeIteration())
            for worker_id in range(self._num_workers):
                while not isinstance(self._receive_from(worker_id)[0], _worker._ResumeIteration):
                    pass
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):       # the next active worker in turn
            worker_id = next(self._worker_queue_idx_cycle)
            if not self._workers_status[worker_id]:
                continue
            # out of order, a slow worker must not hoard tasks: each gets its share of the prefetch
            if self._in_order or self._workers_num_tasks[worker_id] < max_tasks // sum(self._workers_status):
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = [worker_id]
        self._workers_num_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _next_data(self):
        while True:
            # skip tasks whose worker ran out of data without answering them
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:                   # already received out of turn
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process_data(info[1], info[0])
            if self._in_order:
                task_id, data = self._receive_from(info[0])
            else:
                task_id, data = self._receive_any()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                if not self._persistent_workers:
                    self._index_queues[data.worker_id].put(None)     # let the idle worker exit now
                self._try_put_index()
                continue
            if task_id == self._rcvd_idx:
                del self._task_info[task_id]
                self._rcvd_idx += 1
                return self._process_data(data, info[0])
            worker_id = self._task_info[task_id][0]
            if not self._in_order:
                del self._task_info[task_id]
                return self._process_data(data, worker_id)
            self._task_info[task_id].append(data)

    def _process_data(self, data, worker_id):
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _receive_from(self, worker_id):
        return self._receive([worker_id])

    def _receive_any(self):
        busy = [i for i, count in enumerate(self._workers_num_tasks) if count and self._workers_status[i]]
        return self._receive(busy or [i for i, alive in enumerate(self._workers_status) if alive])

    def _receive(self, worker_ids):
        """The next message from one of these workers, checking that the workers are alive and honouring
        timeout while waiting."""
        conns = {self._result_conns[i]: i for i in worker_ids}
        wait = self._timeout if self._timeout > 0 else _worker.MP_STATUS_CHECK_INTERVAL
        while True:
            ready = multiprocessing.connection.wait(list(conns), timeout=wait)
            if ready:
                try:
                    return _worker.receive(ready[0])
                except EOFError:
                    self._raise_worker_died([conns[ready[0]]])
            dead = [i for i, process in enumerate(self._workers) if not process.is_alive()]
            if dead:
                self._raise_worker_died(dead)
            if self._timeout > 0:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _raise_worker_died(self, worker_ids):
        pids = ", ".join(str(self._workers[i].pid) for i in worker_ids)
        self._shutdown_workers()
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")

    def _shutdown_workers(self):
        """Stop every worker and release queues and pipes; safe to call more than once."""
        if self._shutdown or os.getpid() != self._owner_pid:
            return
        self._shutdown = True
        _live_iterators.discard(self)
        try:
            self._done_event.set()               # idle workers see it within _worker._IDLE_POLL
            for index_queue in self._index_queues:
                index_queue.put(None)
            for conn in self._result_conns:      # a worker blocked writing a batch gets EPIPE and exits
                conn.close()
            # A worker still inside a slow __getitem__ is terminated after the grace period: that is
            # safe here because no worker shares a lock or queue that others still use.
            deadline = time.monotonic() + _SHUTDOWN_GRACE
            for process in self._workers:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for process in self._workers:
                if process.is_alive():
                    process.terminate()
                    process.join()
            for index_queue in self._index_queues:
                index_queue.cancel_join_thread()
                index_queue.close()

    def __del__(self):
        if getattr(self, "_workers", None) is not None:
            self._shutdown_workers()


def _grow_pipe(conn):
    """Raise the pipe's capacity to 1 MiB where Linux allows: fewer wake-ups per batch sent."""
    try:
        import fcntl
        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
