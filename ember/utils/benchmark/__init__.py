"""ember.utils.benchmark: PyTorch's torch.utils.benchmark for ember: Timer (timeit, blocked_autorange,
adaptive_autorange), Measurement (times, median, mean, IQR, PyTorch's printed summary) and Compare (tables of
many measurements). Loaded on first use of ember.utils.benchmark."""
from .utils.common import (Measurement, TaskSpec, ordered_unique, select_unit, set_torch_threads, trim_sigfig,
                           unit_to_english)
from .utils.compare import Colorize, Compare
from .utils.timer import Language, Timer, timer

__all__ = ["Timer", "timer", "Language", "Measurement", "TaskSpec", "Compare", "Colorize", "select_unit",
           "unit_to_english", "trim_sigfig", "ordered_unique", "set_torch_threads"]
