"""torch.cpu: the CPU device module for device-agnostic code (is_available, device_count, current_device,
synchronize, streams that do nothing) and torch.cpu.amp, the deprecated spellings of ember.amp's autocast and
GradScaler for the CPU."""
import sys

from .amp._deprecated import cpu_amp as amp

sys.modules.setdefault("ember.cpu.amp", amp)       # `import ember.cpu.amp` and `from ember.cpu.amp import ...`

__all__ = ["amp", "current_device", "current_stream", "device_count", "is_available", "is_initialized",
           "set_device", "stream", "synchronize", "Stream", "StreamContext", "Event"]


def is_available():
    """Always True (there is always a CPU)."""
    return True


def is_initialized():
    return True


def device_count():
    """The number of CPU devices (not cores): always 1."""
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """Does nothing: there is one CPU device."""


def synchronize(device=None):
    """Does nothing: CPU work is done when the call returns."""


class Stream:
    """A CPU 'stream': its methods do nothing."""

    def __init__(self, priority=-1):
        pass

    def wait_stream(self, stream):
        pass

    def record_event(self):
        pass

    def wait_event(self, event):
        pass


class Event:
    def query(self):
        return True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass


_default_stream = Stream()
_current = [_default_stream]


def current_stream(device=None):
    return _current[0]


class StreamContext:
    """Makes `stream` the current CPU stream inside the block (None: no change)."""

    def __init__(self, stream):
        self.stream = stream
        self.prev_stream = _default_stream

    def __enter__(self):
        if self.stream is not None:
            self.prev_stream, _current[0] = _current[0], self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            _current[0] = self.prev_stream


def stream(stream):
    return StreamContext(stream)
