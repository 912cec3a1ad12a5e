"""ember.autograd.profiler: PyTorch's autograd-level profiler API. `profile` records every op call (named
as PyTorch names them: "aten::add", "aten::linear"), record_function regions and backward nodes
("autograd::engine::evaluate_function: MulBackward0") while it is entered, with real per-call times taken
around ember's op entry points (Note [profiler swapping] in ember/profiler/_instrument.py: nothing is
checked when no profile records). `emit_nvtx` marks the same ranges for NVIDIA's tools (CUDA via CuPy).

Deviations: ember records the ops it calls, not ATen's internal ones (PyTorch's `aten::linear` has
`aten::t` and `aten::addmm` below it; ember's has what ember.nn.functional.linear calls); CPU memory per op
is the bytes of the arrays the op returned that are new (not views or inputs), so an op's total is its
children's plus its own; with_stack keeps each op's Python stack outside ember (innermost first) instead of
adding one event per Python function; no device (CUDA kernel) times or FLOP counts.
"""
import gzip
import json
import os
import threading
import time
from time import perf_counter_ns

from ..profiler import _instrument as _rec
from ..profiler._events import EventList, FunctionEvent, FunctionEventAvg, build_events
from ..profiler._instrument import record_function
from ..profiler.profiler import kineto_available

__all__ = ["profile", "record_function", "emit_nvtx", "EventList", "FunctionEvent", "FunctionEventAvg",
           "kineto_available"]


class profile:
    """Context manager recording the ops run inside it; read the result with table(), key_averages(),
    function_events, export_chrome_trace()."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None,
                 post_processing_timeout_s=None, activity_filters=None):
        if post_processing_timeout_s is not None and post_processing_timeout_s < 0:
            raise ValueError("post_processing_timeout_s must be non-negative")
        if use_cuda:
            use_device = "cuda"
        self.enabled = enabled
        self.use_device = use_device
        self.use_cpu = use_cpu
        self.record_shapes = record_shapes
        self.with_flops = with_flops
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_modules = with_modules
        self.use_kineto = use_kineto
        self.acc_events = acc_events
        self.experimental_config = experimental_config
        self.entered = False
        self.profiling_start_time_ns = self.profiling_end_time_ns = 0
        self._function_events = None
        self._old_function_events = None
        self._log = None
        self._first = 0
        self._start_epoch_ns = 0

    def __enter__(self):
        if not self.enabled:
            return None
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self._start_trace()
        return self

    def _start_trace(self):
        self.entered = True
        record = self.use_cpu
        self._log, self._first = _rec.start(self.record_shapes and record, self.profile_memory and record,
                                            self.with_stack and record) if record else (None, 0)
        self._start_epoch_ns = time.time_ns()
        self.profiling_start_time_ns = perf_counter_ns()

    def __exit__(self, exc_type, exc_value, traceback):
        if not self.enabled:
            return None
        self._stop_trace()
        return False

    def _stop_trace(self):
        self.profiling_end_time_ns = perf_counter_ns()
        if self._function_events is not None and self.acc_events:
            self._old_function_events = self._function_events
        if self._log is not None:
            last = _rec.stop()
            events = build_events(self._log, self._first, last, self.profiling_start_time_ns,
                                  self.profile_memory, self.use_device)
        else:
            events = EventList([], use_device=self.use_device, profile_memory=self.profile_memory)
            events._tree_built = True
        self._log = None
        if self._old_function_events and self.acc_events:
            events.extend(self._old_function_events)
            self._old_function_events = None
        self._function_events = events

    def __repr__(self):
        if self._function_events is None:
            return "<unfinished torch.autograd.profile>"
        return repr(self._function_events)

    def __str__(self):
        if self._function_events is None:
            return "<unfinished torch.autograd.profile>"
        return str(self._function_events)

    def _results(self):
        if self._function_events is None:
            raise AssertionError("Expected profiling results")
        return self._function_events

    @property
    def function_events(self):
        return self._function_events

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        return self._results().table(sort_by=sort_by, row_limit=row_limit,
                                     max_src_column_width=max_src_column_width,
                                     max_name_column_width=max_name_column_width,
                                     max_shapes_column_width=max_shapes_column_width, header=header,
                                     top_level_events_only=top_level_events_only)

    table.__doc__ = EventList.table.__doc__

    def export_chrome_trace(self, path, metadata=None, use_python_export=False):
        """Write the trace as Chrome's JSON trace format: an object whose "traceEvents" hold one complete
        ("ph": "X") event per call, "ts" and "dur" in microseconds (a path ending in .gz is gzipped)."""
        events = self._results()
        trace = {"schemaVersion": 1, "deviceProperties": [], "record_shapes": int(bool(self.record_shapes)),
                 "profile_memory": int(bool(self.profile_memory)), "with_stack": int(bool(self.with_stack)),
                 "displayTimeUnit": "ms", "baseTimeNanoseconds": self._start_epoch_ns,
                 "traceEvents": _trace_events(events, self.record_shapes), "traceName": str(path)}
        if metadata:
            trace.update(metadata)
        text = json.dumps(trace)
        if str(path).endswith(".gz"):
            with gzip.open(path, "wt") as f:
                f.write(text)
        else:
            with open(path, "w") as f:
                f.write(text)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        events = self._results()
        if not self.with_stack:
            raise AssertionError("export_stacks() requires with_stack=True")
        return events.export_stacks(path, metric)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        return self._results().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    key_averages.__doc__ = EventList.key_averages.__doc__

    def total_average(self):
        return self._results().total_average()

    @property
    def self_cpu_time_total(self):
        """The sum of every event's self CPU time, in microseconds."""
        return self._results().self_cpu_time_total


def _trace_events(events, record_shapes):
    pid = os.getpid()
    threads = sorted({e.thread for e in events})
    out = [{"ph": "M", "name": "process_name", "ts": 0, "pid": pid, "tid": 0, "args": {"name": "python"}},
           {"ph": "M", "name": "process_labels", "ts": 0, "pid": pid, "tid": 0, "args": {"labels": "CPU"}}]
    names = {t.ident: t.name for t in threading.enumerate()}
    for tid in threads:
        out.append({"ph": "M", "name": "thread_name", "ts": 0, "pid": pid, "tid": tid,
                    "args": {"name": f"thread {tid} ({names.get(tid, 'python')})"}})
    for i, e in enumerate(sorted(events, key=lambda e: e.time_range.start)):
        args = {"External id": i + 1, "Record function id": 0, "Ev Idx": i}
        if record_shapes and not e.is_user_annotation:
            args["Input Dims"] = e.input_shapes
        out.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op",
                    "name": e.trace_name, "pid": pid, "tid": e.thread, "ts": e.time_range.start,
                    "dur": e.time_range.elapsed_us(), "args": args})
    return out


class emit_nvtx:
    """Context manager: every op, record_function region and backward node run inside it is marked as an
    NVTX range (shown by Nsight Systems / nvprof), named as the profiler names it ("aten::mm", with
    ", sizes = [[2, 3], [3, 4]]" under record_shapes). Needs CUDA (CuPy); without it entering raises
    AssertionError, as PyTorch built without CUDA does."""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled
        self.entered = False
        self.record_shapes = record_shapes

    def __enter__(self):
        if not self.enabled:
            return None
        if self.entered:
            raise RuntimeError("NVTX annotation context manager is not reentrant")
        from .. import cuda
        if not cuda.is_available():
            raise AssertionError("Torch not compiled with CUDA enabled")
        from .._backends import cuda as _backend
        push, pop = _backend.nvtx_range_functions()
        self.entered = True
        cuda.synchronize()
        _rec.start_nvtx(push, pop, self.record_shapes)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if not self.enabled:
            return None
        from .. import cuda
        cuda.synchronize()
        _rec.stop_nvtx()
        return False
