"""The profiler's results, as PyTorch's torch.autograd.profiler_util gives them: FunctionEvent (one recorded
call, with its children and self/total times), FunctionEventAvg (events averaged by key), and EventList
(a list of either, with table(), key_averages(), total_average(), export_chrome_trace() and export_stacks()).
Times are in microseconds."""
import enum
import json
from collections import defaultdict

from . import _instrument as _rec
from ._table import build_table, format_time

__all__ = ["DeviceType", "Interval", "FunctionEvent", "FunctionEventAvg", "EventList"]


class DeviceType(enum.Enum):
    """Where an event ran (PyTorch's torch.profiler.DeviceType; ember records CPU events)."""
    CPU = 0
    CUDA = 1

    def __repr__(self):
        return f"<DeviceType.{self.name}: {self.value}>"

    def __str__(self):
        return f"DeviceType.{self.name}"


class Interval:
    def __init__(self, start, end):
        self.start = start
        self.end = end

    def elapsed_us(self):
        return self.end - self.start


class _Formatted:
    """The *_str properties and per-call averages shared by FunctionEvent and FunctionEventAvg."""

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self):
        return self.device_time_total / self.count if self.count else 0.0

    cpu_time_str = property(lambda self: format_time(self.cpu_time))
    device_time_str = property(lambda self: format_time(self.device_time))
    cpu_time_total_str = property(lambda self: format_time(self.cpu_time_total))
    device_time_total_str = property(lambda self: format_time(self.device_time_total))
    self_cpu_time_total_str = property(lambda self: format_time(self.self_cpu_time_total))
    self_device_time_total_str = property(lambda self: format_time(self.self_device_time_total))


class FunctionEvent(_Formatted):
    """One recorded call: an op ("aten::mm"), a record_function region, or a backward node."""

    def __init__(self, id, name, thread, start_us, end_us, input_shapes=None, stack=None, scope=0,
                 cpu_memory_usage=0, trace_name=None, is_user_annotation=False, sequence_nr=-1):
        self.id = id
        self.name = name
        self.trace_name = trace_name if trace_name is not None else name
        self.overload_name = ""
        self.time_range = Interval(start_us, end_us)
        self.thread = thread
        self.fwd_thread = thread
        self.kernels = []
        self.count = 1
        self.cpu_children = []
        self.cpu_parent = None
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.stack = stack if stack is not None else []
        self.scope = scope
        self.use_device = None
        self.cpu_memory_usage = cpu_memory_usage
        self.device_memory_usage = 0
        self.is_async = False
        self.is_remote = False
        self.sequence_nr = sequence_nr
        self.node_id = -1
        self.device_type = DeviceType.CPU
        self.device_index = 0
        self.is_legacy = False
        self.flops = 0
        self.is_user_annotation = is_user_annotation
        self.self_cpu_percent = -1
        self.total_cpu_percent = -1

    def append_cpu_child(self, child):
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent):
        self.cpu_parent = parent

    @property
    def key(self):
        return self.name

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(child.cpu_memory_usage for child in self.cpu_children)

    device_time_total = self_device_time_total = self_device_memory_usage = property(lambda self: 0)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} overload_name={self.overload_name} "
                f"device_type={self.device_type} node_id={self.node_id} cpu_time={self.cpu_time_str} "
                f"start_us={self.time_range.start} end_us={self.time_range.end} "
                f"cpu_children={[c.id for c in self.cpu_children]} None_time={self.device_time_str} "
                f"name={self.name} thread={self.thread} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage} None_memory_usage={self.device_memory_usage} "
                f"is_async={self.is_async} is_remote={self.is_remote} seq_nr={self.sequence_nr} "
                f"is_legacy={self.is_legacy}>")


class FunctionEventAvg(_Formatted):
    """The sums of several events with one key (and count, the number of calls)."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.node_id = 0
        self.is_async = False
        self.is_remote = False
        self.use_device = None
        self.cpu_time_total = 0
        self.device_time_total = 0
        self.self_cpu_time_total = 0
        self.self_device_time_total = 0
        self.input_shapes = None
        self.overload_name = None
        self.stack = None
        self.scope = None
        self.cpu_memory_usage = 0
        self.device_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.self_device_memory_usage = 0
        self.cpu_children = None
        self.cpu_parent = None
        self.device_type = DeviceType.CPU
        self.is_legacy = False
        self.flops = 0
        self.is_user_annotation = False

    def add(self, other):
        if self.key is None:                     # the first event gives the group its descriptive fields
            for attr in ("key", "node_id", "is_async", "is_remote", "cpu_parent", "cpu_children", "overload_name",
                         "input_shapes", "stack", "scope", "device_type", "is_legacy", "use_device",
                         "is_user_annotation"):
                setattr(self, attr, getattr(other, attr))
        if not isinstance(other, (FunctionEvent, FunctionEventAvg)):
            raise TypeError(f"can only add a FunctionEvent or FunctionEventAvg, got {type(other).__name__}")
        if other.key != self.key:
            raise ValueError(f"cannot average events of different keys: {other.key} and {self.key}")
        for attr in ("cpu_time_total", "device_time_total", "self_cpu_time_total", "self_device_time_total",
                     "cpu_memory_usage", "device_memory_usage", "self_cpu_memory_usage",
                     "self_device_memory_usage", "count", "flops"):
            setattr(self, attr, getattr(self, attr) + (getattr(other, attr) or 0))
        return self

    def __iadd__(self, other):
        return self.add(other)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str}  self_cuda_time={self.self_device_time_total_str} "
                f"cuda_time={self.device_time_str} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage} cuda_memory_usage={self.device_memory_usage}>")


class EventList(list):
    """A list of FunctionEvent (or FunctionEventAvg) with PyTorch's summaries and exports."""

    def __init__(self, *args, use_device=None, profile_memory=False, with_flops=False):
        super().__init__(*args)
        self._use_device = use_device
        self._profile_memory = profile_memory
        self._with_flops = with_flops
        self._tree_built = False

    def __str__(self):
        return self.table()

    @property
    def self_cpu_time_total(self):
        return sum(event.self_cpu_time_total for event in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        """The events as PyTorch's text table, sorted by the attribute `sort_by` (largest first)."""
        return build_table(self, sort_by=sort_by, row_limit=row_limit, max_src_column_width=max_src_column_width,
                           max_name_column_width=max_name_column_width,
                           max_shapes_column_width=max_shapes_column_width, header=header,
                           profile_memory=self._profile_memory, top_level_events_only=top_level_events_only,
                           time_unit=time_unit)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0, group_by_overload_name=False):
        """An EventList of FunctionEventAvg: one per key (name), or per (name, input shapes) and top stack."""
        groups = defaultdict(FunctionEventAvg)
        for event in self:
            key = [str(event.key), str(event.node_id), str(event.device_type), str(event.is_legacy),
                   str(event.is_user_annotation)]
            if group_by_overload_name:
                key.append(event.overload_name)
            if group_by_input_shapes:
                key.append(str(event.input_shapes))
            if group_by_stack_n > 0:
                key += event.stack[:group_by_stack_n]
            groups[tuple(key)].add(event)
        averages = EventList(groups.values(), use_device=self._use_device, profile_memory=self._profile_memory,
                             with_flops=self._with_flops)
        for avg in averages:
            avg.stack = avg.stack[:group_by_stack_n]
            if not group_by_input_shapes:
                avg.input_shapes = ""
            if not group_by_overload_name:
                avg.overload_name = ""
        return averages

    def total_average(self):
        """One FunctionEventAvg with key "Total" summing every event."""
        total = FunctionEventAvg()
        for event in self:
            total.key = event.key              # add() checks keys: take each event's
            total.add(event)
        total.key = "Total"
        return total

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (a JSON array of complete "X" events; times in microseconds)."""
        events = [{"name": e.trace_name, "ph": "X", "ts": e.time_range.start, "dur": e.time_range.elapsed_us(),
                   "tid": e.thread, "pid": "CPU functions", "args": {}}
                  for e in self if isinstance(e, FunctionEvent) and e.trace_name is not None]
        with open(path, "w") as f:
            json.dump(events, f)

    def supported_export_stacks_metrics(self):
        return ["self_cpu_time_total", "self_cuda_time_total", "self_xpu_time_total",
                "self_privateuse1_time_total"]

    def export_stacks(self, path, metric):
        """Write one line per event with a stack: the frames outermost first joined by ';', then the metric
        as an integer (the collapsed-stack format flame graph tools read)."""
        if metric not in self.supported_export_stacks_metrics():
            raise ValueError("metric should be one of: " + str(self.supported_export_stacks_metrics()))
        attr = metric.replace("cuda", "device").replace("xpu", "device").replace("privateuse1", "device")
        clean = str.maketrans(" ;\t\n", "____")
        with open(path, "w") as f:
            for event in self:
                value = int(getattr(event, attr))
                if event.stack and value > 0:
                    f.write(";".join(entry.translate(clean) for entry in reversed(event.stack)) + f" {value}\n")


def build_events(log, first, last, t0_ns, profile_memory=False, use_device=None):
    """FunctionEvents (with parents and children) from the recorder's log slice [first, last); times in
    microseconds since t0_ns. Events still open at the end, and parents outside the slice, are left out."""
    events, by_record = [], {}
    for record in log[first:last]:
        if record[_rec.END] is None:
            continue
        name = record[_rec.NAME]
        step = name.startswith("ProfilerStep#")
        event = FunctionEvent(
            id=len(events) + 1, name="ProfilerStep*" if step else name, thread=record[_rec.THREAD],
            start_us=(record[_rec.START] - t0_ns) / 1000, end_us=(record[_rec.END] - t0_ns) / 1000,
            input_shapes=record[_rec.SHAPES], stack=record[_rec.STACK], scope=record[_rec.SCOPE],
            cpu_memory_usage=record[_rec.MEMORY], trace_name=name,
            is_user_annotation=record[_rec.SCOPE] == _rec.FORWARD and not name.startswith("aten::"))
        event.use_device = use_device
        by_record[id(record)] = event
        events.append(event)
    for record in log[first:last]:
        event = by_record.get(id(record))
        parent = by_record.get(id(record[_rec.PARENT])) if record[_rec.PARENT] is not None else None
        if event is not None and parent is not None:
            parent.append_cpu_child(event)
            event.set_cpu_parent(parent)
    # A record_function region or backward node allocates through the ops it runs: its memory is theirs.
    for event in reversed(events):
        if not event.name.startswith("aten::"):
            event.cpu_memory_usage = sum(child.cpu_memory_usage for child in event.cpu_children)
    events = _merge_repeated(events)
    result = EventList(events, use_device=use_device, profile_memory=profile_memory)
    result._tree_built = True
    return result


def _merge_repeated(events):
    """An op whose only child is the same op (Tensor.matmul calling ember.matmul) shows once, as PyTorch
    folds such pairs: the child goes and its children move up."""
    dropped = set()
    for event in events:                        # parents come before children: chains fold from the top
        parent = event.cpu_parent
        if parent is not None and parent.name == event.name and len(parent.cpu_children) == 1:
            parent.cpu_children = event.cpu_children
            for child in event.cpu_children:
                child.cpu_parent = parent
            dropped.add(id(event))
    kept = [e for e in events if id(e) not in dropped]
    for i, event in enumerate(kept):
        event.id = i + 1
    return kept
