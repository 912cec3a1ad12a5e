"""ember.cuda's devices, streams and events as PyTorch spells them: set_device / current_device, the `device` and
`device_of` contexts, Stream, Event, stream() / StreamContext, current_stream / default_stream / set_stream.

They wrap CuPy's (through ember/_backends/cuda.py), so timings with Event(enable_timing=True) measure the
device's queue. Without a GPU every one raises PyTorch's AssertionError("Torch not compiled with CUDA enabled").
"""
from ._backends import cuda as _backend

__all__ = ["set_device", "current_device", "device", "device_of", "Stream", "Event", "StreamContext", "stream",
           "current_stream", "default_stream", "set_stream"]


def _started():
    _backend.check_available()          # AssertionError without a GPU, as PyTorch's CPU-only build
    return _backend


def _index(d):
    from ._cuda_memory import _index as index
    return _started().current_device() if d is None else index(d)


def current_device():
    """The index of the current CUDA device."""
    return _started().current_device()


def set_device(device):
    """Make `device` (an index, "cuda:i" or an ember.device) the current CUDA device; a negative index is a no-op."""
    index = _index(device)
    if index >= 0:
        _backend.set_device(index)


class device:
    """Context manager that makes a device current inside its block (an index, "cuda:i", an ember.device or None:
    None and -1 change nothing)."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = _backend.current_device()
            if self.prev_idx != self.idx:
                _backend.set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            _backend.set_device(self.prev_idx)
        return False


class device_of(device):
    """device(obj's device) when obj is a cuda tensor; a no-op context otherwise."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else None)


class Stream:
    """A CUDA stream (CuPy's): work queued while it is current runs in order on it."""

    def __init__(self, device=None, priority=0, **kwargs):
        with globals()["device"](device):
            self._stream = _started().new_stream(non_blocking=False)
        self.device_index = _backend.current_device() if device is None else _index(device)
        self.priority = priority

    @classmethod
    def _wrap(cls, raw, index):
        out = cls.__new__(cls)
        out._stream, out.device_index, out.priority = raw, index, 0
        return out

    @property
    def device(self):
        from ._device import device as _device
        return _device("cuda", self.device_index)

    @property
    def cuda_stream(self):
        return self._stream.ptr

    def wait_event(self, event):
        self._stream.wait_event(event._event)

    def wait_stream(self, stream):
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def query(self):
        return bool(self._stream.done)

    def synchronize(self):
        self._stream.synchronize()

    def __eq__(self, other):
        return isinstance(other, Stream) and other.cuda_stream == self.cuda_stream and \
            other.device_index == self.device_index

    def __hash__(self):
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self):
        return f"<ember.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: record() marks a point in a stream; elapsed_time() gives milliseconds between two."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self._event = _started().new_event(enable_timing, blocking, interprocess)
        self._recorded = False

    def record(self, stream=None):
        stream = current_stream() if stream is None else stream
        self._event.record(stream._stream)
        self._recorded = True

    def wait(self, stream=None):
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self):
        return bool(self._event.done)

    def synchronize(self):
        self._event.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds from this event to end_event (both recorded, both made with enable_timing=True)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        end_event.synchronize()
        return _backend.elapsed_ms(self._event, end_event._event)

    def __repr__(self):
        return f"<ember.cuda.Event {'recorded' if self._recorded else 'uninitialized'}>"


def current_stream(device=None):
    """The stream work is queued on now (the default stream unless a stream() block says otherwise)."""
    index = _index(device)
    return Stream._wrap(_backend.current_stream(), index)


def default_stream(device=None):
    return Stream._wrap(_started().null_stream(), _index(device))


def set_stream(stream):
    """Make `stream` current (prefer the `stream()` context manager)."""
    if stream is not None:
        stream._stream.use()


class StreamContext:
    """Context manager that makes a stream current inside its block (None: a no-op)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            self._previous = _backend.current_stream()
            self.stream._stream.use()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            self._previous.use()
        return False


def stream(stream):
    """`with ember.cuda.stream(s):` queues the block's work on s."""
    return StreamContext(stream)
