"""Timer: PyTorch's torch.utils.benchmark.Timer on Python's timeit, for ember statements: a warm-up before
measuring, a fixed thread count, and Measurement results (blocked_autorange picks a block size that makes
the timer's own overhead negligible; adaptive_autorange repeats until the spread is small)."""
import enum
import textwrap
import timeit as _timeit_module

import numpy as np

from . import common

__all__ = ["Timer", "timer", "Language"]


def timer():
    """The default clock: timeit's, after waiting for an accelerator's queued work when there is one."""
    from .... import accelerator
    if accelerator.is_available():
        accelerator.synchronize()
    return _timeit_module.default_timer()


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


class Timer:
    """Measure the time of `stmt` (a string run with `globals`, after `setup`); `torch` and `ember` in the
    statement's globals are ember unless given. label / sub_label / description / env name the result for
    Compare; num_threads is the thread count set while measuring.

    Deviations: Python statements only (language="cpp" and collect_callgrind need PyTorch's C++ toolchain);
    repeat() and autorange(), which PyTorch leaves unimplemented, behave as timeit.Timer's."""

    _timer_cls = _timeit_module.Timer

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None, label=None,
                 sub_label=None, description=None, env=None, num_threads=1, language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise ValueError("ember's Timer runs Python statements only: C++ timing (language='cpp') needs "
                             "PyTorch's C++ extension toolchain.")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely this code can "
                             "simply be moved to `setup`.")
        import ember
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", ember)
        self._globals.setdefault("ember", ember)
        self._language = Language.PYTHON
        stmt, setup = _clean(stmt), _clean(setup)
        self._timer = self._timer_cls(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = common.TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                          sub_label=sub_label, description=description, env=env,
                                          num_threads=num_threads)

    def _timeit(self, number):
        # a zero time (a clock too coarse for the block) would break the statistics: at least 1 ns
        return max(self._timer.timeit(number), 1e-9)

    def timeit(self, number=1000000):
        """Run `stmt` `number` times (after a warm-up of number // 100, at least 2): one measurement."""
        with common.set_torch_threads(self._task_spec.num_threads):
            self._timeit(number=max(int(number // 100), 2))
            return common.Measurement(number_per_run=number, raw_times=[self._timeit(number=number)],
                                      task_spec=self._task_spec)

    def repeat(self, repeat=-1, number=-1):
        """timeit.Timer.repeat: a list of `repeat` totals (seconds) of `number` runs each (defaults 5 and
        1000000)."""
        repeat = _timeit_module.default_repeat if repeat == -1 else repeat
        number = _timeit_module.default_number if number == -1 else number
        with common.set_torch_threads(self._task_spec.num_threads):
            return [self._timeit(number) for _ in range(repeat)]

    def autorange(self, callback=None):
        """timeit.Timer.autorange: the first of 1, 2, 5, 10, 20, 50 ... runs taking at least 0.2 s, as
        (number, total seconds); callback(number, seconds) after each try."""
        with common.set_torch_threads(self._task_spec.num_threads):
            i = 1
            while True:
                for j in (1, 2, 5):
                    number = i * j
                    time_taken = self._timeit(number)
                    if callback:
                        callback(number, time_taken)
                    if time_taken >= 0.2:
                        return number, time_taken
                i *= 10

    def _measurement_loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        """Blocks of `number` runs until min_run_time has been spent and stop(times) agrees (or
        max_run_time is spent)."""
        total, times, can_stop = 0.0, [], False
        with common.set_torch_threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._timeit(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def _estimate_block_size(self, min_run_time):
        """Runs per block: grow by 10x until the timer's overhead is under 0.01% of a block and a block takes
        at least min_run_time / 1000 (or a block alone exceeds min_run_time)."""
        with common.set_torch_threads(self._task_spec.num_threads):
            # the median of 5 empty runs, rounded to float32 as PyTorch's tensor median gives it
            overhead = float(np.float32(sorted(self._timeit(0) for _ in range(5))[2]))
            number = 1
            while True:
                time_taken = self._timeit(number)
                if overhead / time_taken <= 1e-4 and time_taken >= min_run_time / 1000:
                    break
                if time_taken > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Measure blocks of a fixed number of runs (chosen so the timer's overhead is negligible) until
        min_run_time seconds have been spent; each block is one of the Measurement's raw_times."""
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time, callback=callback)
        return common.Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0, callback=None):
        """Like blocked_autorange, but keep measuring until there are more than 3 blocks whose IQR / median
        is under `threshold` (and min_run_time is spent), or max_run_time is spent."""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop(times):
            return len(times) > 3 and common.Measurement(
                number_per_run=number, raw_times=times, task_spec=self._task_spec).meets_confidence(threshold)
        times = self._measurement_loop(number, stop, min_run_time, max_run_time, callback=callback)
        return common.Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)


def _clean(code):
    code = textwrap.dedent(code)
    return (code[1:] if code and code[0] == "\n" else code).rstrip()
