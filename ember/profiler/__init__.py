"""ember.profiler: PyTorch's torch.profiler. `profile` records ember's op calls (with PyTorch's names,
"aten::mm"), record_function regions and backward nodes with real per-call times, nested as they ran;
key_averages().table() prints PyTorch's summary table and export_chrome_trace() writes a Chrome trace.
Nothing is checked on ember's op paths while no profile records (Note [profiler swapping] in
_instrument.py). Loaded on first use of ember.profiler."""
from ._events import DeviceType, EventList, FunctionEvent, FunctionEventAvg
from ._instrument import record_function
from .profiler import (ProfilerAction, ProfilerActivity, kineto_available, profile, schedule,
                       supported_activities, tensorboard_trace_handler)

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "supported_activities", "tensorboard_trace_handler", "DeviceType", "EventList", "FunctionEvent",
           "FunctionEventAvg", "kineto_available"]
