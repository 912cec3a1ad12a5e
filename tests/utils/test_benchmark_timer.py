"""ember.utils.benchmark: Timer's counts and block sizes, Measurement's statistics and printed summary, and
Compare's tables, checked against torch.utils.benchmark with a deterministic clock (never real timings)."""
import re

import numpy as np
import pytest

import ember
from ember.utils import benchmark
from ember.utils.benchmark import Compare, Measurement, TaskSpec, Timer


class Clock:
    """A fake clock the timed statement advances: clock.tick() spends the next of `steps` seconds."""

    def __init__(self, steps):
        self.t, self.steps, self.i = 0.0, steps, 0

    def tick(self):
        self.t += self.steps[self.i % len(self.steps)]
        self.i += 1

    def __call__(self):
        return self.t


def _strip_address(text):
    return re.sub(r"<[\w.]+\.Measurement object at 0x[0-9a-f]+>", "<Measurement>", text)


def _measure(bench):
    clock = Clock([1e-6, 1.2e-6, 0.9e-6, 3e-6])
    timer = bench.Timer("clock.tick()", setup="x = 1", globals={"clock": clock}, timer=clock, label="add",
                        sub_label="small", description="float")
    return [timer.timeit(1000), timer.blocked_autorange(min_run_time=0.01),
            timer.adaptive_autorange(threshold=0.1, min_run_time=0.01, max_run_time=0.05)]


def test_timer_matches_torch_on_a_deterministic_clock():
    torch = pytest.importorskip("torch")
    import torch.utils.benchmark as torch_benchmark
    for ours, theirs in zip(_measure(benchmark), _measure(torch_benchmark)):
        assert ours.number_per_run == theirs.number_per_run
        assert ours.raw_times == pytest.approx(theirs.raw_times, rel=1e-12)
        for attr in ("median", "mean", "iqr"):
            assert getattr(ours, attr) == pytest.approx(getattr(theirs, attr), rel=1e-9, abs=1e-18)
        assert (ours.significant_figures, ours.has_warnings, ours.title, ours.as_row_name, ours.env) == (
            theirs.significant_figures, theirs.has_warnings, theirs.title, theirs.as_row_name, theirs.env)
        assert _strip_address(repr(ours)) == _strip_address(repr(theirs))
    assert torch.__version__


def test_timer_counts_and_block_sizes():
    timeit_m, blocked, adaptive = _measure(benchmark)
    assert timeit_m.number_per_run == 1000 and len(timeit_m.times) == 1
    # 1000 runs cycling 1, 1.2, 0.9, 3 us after a warm-up of 10 (number // 100): mean 1.525 us a run
    assert timeit_m.times[0] == pytest.approx(1.525e-6)
    # block size: grown by 10x until a block is >= min_run_time / 1000 = 10 us with overhead (1 ns) < 0.01%
    assert blocked.number_per_run == 10
    assert sum(blocked.raw_times) >= 0.01 and sum(blocked.raw_times[:-1]) < 0.01
    assert adaptive.number_per_run == 100 and len(adaptive.times) > 3
    assert adaptive.meets_confidence(0.1)
    assert blocked.times == pytest.approx([t / 10 for t in blocked.raw_times])


def test_measurement_statistics_from_recorded_times():
    raw = [4.0e-4, 1.0e-4, 2.0e-4, 3.0e-4, 9.0e-4]
    m = Measurement(100, raw, TaskSpec("f(x)", "pass", label="f", sub_label="big", description="cpu"))
    times = np.array(raw) / 100
    assert m.times == pytest.approx(list(times))
    assert m.median == pytest.approx(np.median(times)) and m.mean == pytest.approx(times.mean())
    assert m.iqr == pytest.approx(np.quantile(times, 0.75) - np.quantile(times, 0.25))
    assert m.has_warnings and not m.meets_confidence(0.1)
    assert (m.stmt, m.label, m.num_threads, m.title) == ("f(x)", "f", 1, "f: big")
    text = repr(m)
    assert "  Median: 3.00 us" in text and "  IQR:    2.00 us (2.00 to 4.00)" in text
    assert "5 measurements, 100 runs per measurement, 1 thread" in text
    assert "WARNING: Interquartile range is 66.7% of the median measurement." in text
    merged = Measurement.merge([m, Measurement(1, [5e-6], m.task_spec)])
    assert len(merged) == 1 and merged[0].number_per_run == 1 and len(merged[0].times) == 6
    few = Measurement(10, [1e-5, 2e-5], TaskSpec("a\nb", "s1\ns2", sub_label="s"))
    assert "IQR" not in repr(few) and "stmt: (s)\n  a\n  b\n" in repr(few) and "setup:\n  s1\n  s2" in repr(few)


def _measurements(bench, spec_cls):
    rng = np.random.default_rng(0)
    out = []
    for label in ("add", "mul"):
        for threads in (1, 4):
            for sub in ("small", "large"):
                for desc in ("float", "double"):
                    scale = (1e-5 if sub == "large" else 1e-6) * (2 if desc == "double" else 1) / threads
                    spread = 0.5 if sub == "small" else 0.02
                    raw = list(scale * (1 + rng.random(9) * spread))
                    out.append(bench.Measurement(10, raw, spec_cls(stmt="x + y", setup="pass", label=label,
                                                                   sub_label=sub, description=desc,
                                                                   num_threads=threads)))
    return out


@pytest.mark.parametrize("mode", ["plain", "trim", "colorize", "rowwise", "warnings"])
def test_compare_matches_torch(mode):
    pytest.importorskip("torch")
    import torch.utils.benchmark as torch_benchmark
    from torch.utils.benchmark.utils.common import TaskSpec as TorchTaskSpec
    texts = []
    for bench, spec_cls in ((benchmark, TaskSpec), (torch_benchmark, TorchTaskSpec)):
        compare = bench.Compare(_measurements(bench, spec_cls))
        if mode != "plain":
            compare.trim_significant_figures()
        if mode == "colorize":
            compare.colorize()
        if mode == "rowwise":
            compare.colorize(rowwise=True)
        if mode == "warnings":
            compare.highlight_warnings()
        texts.append(str(compare))
    assert texts[0] == texts[1]


def test_compare_rows_and_columns(capsys):
    specs = [("x + y", "a", "float", 1, 1e-6), ("x + y", "a", "double", 1, 2e-6), ("x + y", "b", "float", 1, 3e-6),
             ("x * y", "a", "float", 2, 4e-6)]
    results = [Measurement(1, [t] * 5, TaskSpec(stmt, "pass", label="L", sub_label=sub, description=desc,
                                                 num_threads=n)) for stmt, sub, desc, n, t in specs]
    compare = Compare(results)
    compare.print()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[") and " L " in lines[0] and lines[0].endswith("]")
    assert [c.strip() for c in lines[1].split("|")] == ["", "float", "double"]
    assert lines[2].startswith("1 threads: ---")
    assert [c.strip() for c in lines[3].split("|")] == ["a", "1.0", "2.0"]
    assert [c.strip() for c in lines[4].split("|")] == ["b", "3.0", ""]
    assert lines[5].startswith("2 threads: ---") and [c.strip() for c in lines[6].split("|")] == ["a", "4.0", ""]
    assert lines[-2:] == ["Times are in microseconds (us).", ""]
    with pytest.raises(ValueError, match="Expected an instance of `Measurement`"):
        Compare([1.0])


def test_timer_arguments_and_timeit_style_methods():
    with pytest.raises(ValueError, match="Currently only a `str` stmt is supported."):
        Timer(lambda: None)
    with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
        Timer("pass", global_setup="int x;")
    with pytest.raises(ValueError, match="Invalid language"):
        Timer("pass", language="rust")
    with pytest.raises(ValueError, match="Python statements only"):
        Timer("pass", language="cpp")
    clock = Clock([1e-3])
    timer = Timer("""
        clock.tick()
        """, globals={"clock": clock}, timer=clock)
    assert timer._task_spec.stmt == "clock.tick()"
    assert timer.repeat(repeat=3, number=10) == pytest.approx([1e-2] * 3)
    tries = []
    number, taken = timer.autorange(callback=lambda n, t: tries.append(n))
    assert (number, taken) == (200, pytest.approx(0.2)) and tries == [1, 2, 5, 10, 20, 50, 100, 200]
    seen = {}
    Timer("seen['torch'] = torch; seen['ember'] = ember", globals={"seen": seen}).timeit(1)
    assert seen["torch"] is ember and seen["ember"] is ember


def test_num_threads_is_set_while_measuring_and_restored():
    before = ember.get_num_threads()
    seen = []
    Timer("seen.append(ember.get_num_threads())", globals={"seen": seen}, num_threads=1).timeit(3)
    assert set(seen) == {1} and ember.get_num_threads() == before


def test_helpers_match_torch():
    pytest.importorskip("torch")
    from torch.utils.benchmark.utils import common as torch_common
    for t in (3e-9, 4.5e-7, 1e-6, 2e-4, 0.5, 12.0):
        assert benchmark.select_unit(t) == torch_common.select_unit(t)
    for x, n in ((3.14159, 2), (123456.0, 3), (0.000123456, 1), (99.95, 3)):
        assert benchmark.trim_sigfig(x, n) == torch_common.trim_sigfig(x, n)
    assert benchmark.unit_to_english("us") == "microsecond"
    assert benchmark.ordered_unique([3, 1, 3, 2, 1]) == [3, 1, 2]
