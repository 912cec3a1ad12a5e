"""ember.profiler and ember.autograd.profiler: op names and nesting as PyTorch records them, self/total
times, key_averages tables laid out as PyTorch prints them, schedules, Chrome traces, memory per op, and
zero cost when off (every swapped entry point is the identical object again after a profile)."""
import json
import re
import sys
import types

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import profiler as autograd_profiler
from ember.ops._registry import METHODS, PUBLIC
from ember.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def _snapshot():
    import ember.linalg
    import ember.nn.modules.conv as conv_modules
    owners = [ember.Tensor, ember, ember.ops, F, ember.linalg, ember.ops.arithmetic, ember.nn._functional.linear,
              conv_modules.Conv2d]
    return [(owner, dict(vars(owner))) for owner in owners] + [("PUBLIC", dict(PUBLIC)), ("METHODS", dict(METHODS))]


def _assert_same(snapshot):
    for owner, saved in snapshot:
        now = PUBLIC if owner == "PUBLIC" else METHODS if owner == "METHODS" else vars(owner)
        changed = [k for k, v in saved.items() if k != "profiler" and now.get(k) is not v]
        assert not changed, (owner, changed[:5])
        assert set(now) - {"profiler"} == set(saved) - {"profiler"}, owner


def _workload():
    x = ember.randn(4, 3, requires_grad=True)
    lin = nn.Linear(3, 2)
    conv = nn.Conv2d(1, 2, 3)
    with record_function("block"):
        y = lin(x)
        z = (y * 2 + y.relu()).sum()
    z.backward()
    conv(ember.randn(1, 1, 5, 5)).sum()
    return x.grad


def test_ops_are_the_identical_objects_after_a_profile():
    snapshot = _snapshot()
    add = ember.add
    with profile():
        assert ember.add is not add and ember.add.__wrapped__ is add       # swapped while recording
        assert ember.Tensor.__dict__["__mul__"] is not snapshot[0][1]["__mul__"]
        _workload()
    _assert_same(snapshot)
    with pytest.raises(KeyError):                 # restored on an exception too
        with profile():
            _workload()
            raise KeyError("boom")
    _assert_same(snapshot)
    with autograd_profiler.profile():
        _workload()
    _assert_same(snapshot)
    from ember.autograd.anomaly_mode import _Anomaly
    assert _Anomaly.profiler is None and not _Anomaly.enabled


def test_results_are_unchanged_under_the_profiler():
    ember.manual_seed(1)
    plain = _workload()
    ember.manual_seed(1)
    with profile(record_shapes=True, profile_memory=True, with_stack=True):
        profiled = _workload()
    assert ember.equal(plain, profiled)
    t = ember.ones(3)
    with profile():
        assert hash(t) == hash(t) and {t: 1}[t] == 1          # __eq__ swapped, hashing unchanged
        assert (t == t).all() and t[0].item() == 1.0


def _top_names(events):
    return [e.name for e in events if e.cpu_parent is None]


def _run_ops(lib, functional):
    a = lib.arange(12.0).reshape(3, 4)
    b = lib.ones(4, 3)
    c = lib.full((3, 4), 2.0)
    lib.mm(a, b)
    lib.matmul(a, b)
    a + c
    a * c
    a - c
    a / c
    _ = -a
    a.sum()
    a.exp()
    a.t()
    a.view(-1)
    lib.cat([a, c])
    functional.relu(a)
    functional.softmax(a, dim=-1)
    a[0]
    a[1:]
    _ = a > 0
    a.clone()


def test_op_names_match_torch(torch):
    with profile() as prof:
        _run_ops(ember, F)
    with torch.profiler.profile() as tprof:
        _run_ops(torch, torch.nn.functional)
    expected = ["aten::mm", "aten::matmul", "aten::add", "aten::mul", "aten::sub", "aten::div", "aten::neg",
                "aten::sum", "aten::exp", "aten::t", "aten::view", "aten::cat", "aten::relu", "aten::softmax",
                "aten::select", "aten::slice", "aten::gt", "aten::clone"]
    made = {"aten::arange", "aten::reshape", "aten::ones", "aten::full"}       # the inputs, made first
    ours = [n for n in _top_names(prof.events()) if n not in made]
    theirs = [n for n in _top_names(tprof.events()) if n not in made]
    assert ours == expected
    assert theirs == expected


def test_backward_nodes_match_torch(torch):
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = lib.full((3,), 2.0, requires_grad=True)
        (x * y).sum().backward()

    with profile() as prof:
        run(ember)
    with torch.profiler.profile() as tprof:
        run(torch)

    def engine(events):
        return [e.name for e in events if e.name.startswith("autograd::engine") and "AccumulateGrad" not in e.name]
    assert engine(prof.events()) == engine(tprof.events()) == [
        "autograd::engine::evaluate_function: SumBackward0", "autograd::engine::evaluate_function: MulBackward0"]
    for e in prof.events():
        if e.name.startswith("autograd::engine"):
            assert [c.name for c in e.cpu_children] == [e.name.split(": ")[1]]
            assert e.scope == 1


def test_nesting_and_self_times():
    with profile() as prof:
        with record_function("outer"):
            a = ember.ones(3, 3)
            with record_function("inner"):
                a.mm(a).relu()
            F.linear(a, a)
    events = prof.events()
    by_name = {e.name: e for e in events}
    outer, inner = by_name["outer"], by_name["inner"]
    assert [c.name for c in outer.cpu_children] == ["aten::ones", "inner", "aten::linear"]
    assert [c.name for c in inner.cpu_children] == ["aten::mm", "aten::relu"]
    assert inner.cpu_parent is outer and by_name["aten::mm"].cpu_parent is inner
    for e in events:
        assert e.self_cpu_time_total == pytest.approx(e.cpu_time_total - sum(c.cpu_time_total for c in e.cpu_children))
        assert e.self_cpu_time_total >= 0
        for c in e.cpu_children:                 # a child's interval lies inside its parent's
            assert e.time_range.start <= c.time_range.start and c.time_range.end <= e.time_range.end
    assert prof.events().self_cpu_time_total == pytest.approx(outer.cpu_time_total)
    with profile() as prof:
        t = ember.ones(2, 2)
        t.matmul(t)                               # Tensor.matmul and ember.matmul: recorded once, as PyTorch folds
    assert [e.name for e in prof.events()] == ["aten::ones", "aten::matmul"]


def _grid(table):
    """(rule, header cells, row cells, footer) of a profiler table, cells cut at the rule's dash runs."""
    lines = table.splitlines()
    rule = lines[0]
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    assert lines[2] == rule and lines[-2] == rule
    cells = [[line[a:b] for a, b in spans] for line in lines[1:-2] if line != rule]
    return rule, cells[0], cells[1:], lines[-1]


_TIME_COLUMNS = {"Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"}


def test_table_layout_matches_torch(torch):
    def run(lib, a):
        for _ in range(3):
            a * a
        a.exp()
        _ = -a

    for kwargs, group in (({}, False), ({"record_shapes": True}, True), ({"profile_memory": True}, False),
                          ({"record_shapes": True, "profile_memory": True}, True)):
        tables = []
        for lib, prof_mod in ((ember, ember.profiler), (torch, torch.profiler)):
            a = lib.ones(3, 3)
            with prof_mod.profile(activities=[prof_mod.ProfilerActivity.CPU], **kwargs) as prof:
                run(lib, a)
            tables.append(prof.key_averages(group_by_input_shape=group).table(row_limit=10))
        (rule, header, rows, footer), (t_rule, t_header, t_rows, t_footer) = map(_grid, tables)
        assert rule == t_rule and header == t_header
        assert [h.strip() for h in header][:2] == ["Name", "Self CPU %"]
        assert ("Input Shapes" in tables[0]) == group and ("CPU Mem" in tables[0]) == kwargs.get(
            "profile_memory", False)
        timed = [i for i, h in enumerate(header) if h.strip() in _TIME_COLUMNS]
        assert len(timed) == 5

        def untimed(rows):
            return [[c for i, c in enumerate(r) if i not in timed] for r in rows]
        t_rows = [r for r in t_rows if r[0].strip() != "[memory]"]    # PyTorch's row of frees: not in ember
        assert untimed(rows) == untimed(t_rows)                   # names, memory, counts, shapes
        assert [r[0].strip() for r in rows] == ["aten::mul", "aten::exp", "aten::neg"]
        assert [r[header.index(next(h for h in header if h.strip() == "# of Calls"))].strip()
                for r in rows] == ["3", "1", "1"]
        assert footer.startswith("Self CPU time total: ") and t_footer.startswith("Self CPU time total: ")
        percents = [float(r[1].strip().rstrip("%")) for r in rows]
        assert sum(percents) == pytest.approx(100, abs=0.1)
    # the Name column is right-aligned in width max(len(name)) + 4, each other column 12 wide, 2 apart
    with profile() as prof:
        a = ember.ones(3, 3)
        a + a
    table = prof.key_averages().table()
    assert table.splitlines()[0] == "-" * (len("aten::ones") + 4) + "  " + ("-" * 12 + "  ") * 6
    assert table.splitlines()[3].startswith("    aten::ones  ")
    sorted_table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=1)
    assert len(_grid(sorted_table)[2]) == 1
    with profile() as prof:
        with record_function("top"):
            ember.ones(1)
    top_only = prof.events().table(top_level_events_only=True, header="HEADER")
    lines = top_only.splitlines()
    assert lines[0] == "=" * len(lines[2]) and lines[1] == "HEADER"
    assert lines[3] == "This report only display top-level ops statistics"
    assert "top" in top_only and "aten::ones" not in top_only
    assert "ms" not in prof.events().table(time_unit="us").split("Self CPU time total")[0]
    long_name = "x" * 60
    with profile() as prof:
        with record_function(long_name):
            pass
    row = _grid(prof.key_averages().table())[2][0]
    assert row[0] == "x" * 52 + "..."          # names cut at max_name_column_width (55)


def test_key_averages_counts_and_shapes():
    with profile(record_shapes=True) as prof:
        a, b = ember.ones(2, 3), ember.ones(4, 3)
        for _ in range(3):
            a + a
        b + b
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["aten::add"].count == 4 and avg["aten::ones"].count == 2
    assert avg["aten::add"].input_shapes == ""
    by_shape = {(e.key, str(e.input_shapes)): e.count for e in prof.key_averages(group_by_input_shape=True)}
    assert by_shape[("aten::add", "[[2, 3], [2, 3]]")] == 3 and by_shape[("aten::add", "[[4, 3], [4, 3]]")] == 1
    total = prof.key_averages().total_average()
    assert total.key == "Total" and total.count == 6
    ev = avg["aten::add"]
    assert ev.cpu_time == pytest.approx(ev.cpu_time_total / 4)
    assert prof.key_averages().table(row_limit=1).count("aten::") == 1


def test_profile_memory_counts_new_arrays():
    with profile(profile_memory=True) as prof:
        with record_function("region"):
            a = ember.zeros(256)                 # 1 KiB float32
            a.view(16, 16)                       # a view: nothing new
            a.add_(1)                            # in place: nothing new
            a.double()                           # 2 KiB
    events = {e.name: e for e in prof.events()}
    assert events["aten::zeros"].cpu_memory_usage == 1024
    assert events["aten::view"].cpu_memory_usage == 0
    assert events["aten::add_"].cpu_memory_usage == 0
    assert events["aten::to"].cpu_memory_usage == 2048
    assert events["region"].cpu_memory_usage == 3072 and events["region"].self_cpu_memory_usage == 0
    table = prof.key_averages().table(sort_by="cpu_memory_usage")
    assert "3.00 KB" in table and "CPU Mem" in table


def test_export_chrome_trace(tmp_path):
    path = tmp_path / "trace.json"
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            a = ember.ones(3, 3)
            a.mul(a)
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in spans] == ["step", "aten::ones", "aten::mul"]
    assert spans[0]["cat"] == "user_annotation" and spans[2]["cat"] == "cpu_op"
    events = {e.name: e for e in prof.events()}
    for span in spans:
        assert span["dur"] == pytest.approx(events[span["name"]].cpu_time_total)
        assert span["ts"] == pytest.approx(events[span["name"]].time_range.start)
    assert spans[0]["ts"] <= spans[2]["ts"] and spans[2]["ts"] + spans[2]["dur"] <= spans[0]["ts"] + spans[0]["dur"]
    assert spans[2]["args"]["Input Dims"] == [[3, 3], [3, 3]]
    legacy = tmp_path / "legacy.json"
    prof.events().export_chrome_trace(str(legacy))
    assert [e["name"] for e in json.loads(legacy.read_text())] == ["step", "aten::ones", "aten::mul"]
    gz = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(gz))
    import gzip
    assert json.loads(gzip.open(gz).read())["traceEvents"]


@pytest.mark.parametrize("kwargs", [dict(wait=1, warmup=1, active=2), dict(wait=1, warmup=1, active=2, repeat=1),
                                    dict(wait=0, warmup=2, active=1, repeat=2, skip_first=3),
                                    dict(wait=2, warmup=1, active=1, skip_first=1, skip_first_wait=1)])
def test_schedule_matches_torch(torch, kwargs):
    ours = schedule(**kwargs)
    theirs = torch.profiler.schedule(**kwargs)
    assert [ours(i).name for i in range(20)] == [theirs(i).name for i in range(20)]
    assert ours(3) in ProfilerAction


@pytest.mark.filterwarnings("ignore:Warning. Profiler clears events")
def test_scheduled_profile_matches_torch(torch):
    def run(lib, prof_mod):
        ready = []
        x = lib.ones(3, 3)

        def on_ready(p):
            ready.append((p.step_num, sorted(e.trace_name for e in p.events() if e.name == "ProfilerStep*")))
        with prof_mod.profile(schedule=prof_mod.schedule(wait=1, warmup=1, active=2, repeat=2),
                              on_trace_ready=on_ready) as p:
            for _ in range(10):
                x.mm(x)
                p.step()
        return ready, p.step_num
    assert run(ember, ember.profiler) == run(torch, torch.profiler) == (
        [(4, ["ProfilerStep#2", "ProfilerStep#3"]), (8, ["ProfilerStep#6", "ProfilerStep#7"])], 10)
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        schedule(wait=0, warmup=0, active=0)
    with pytest.warns(UserWarning, match="won't be using warmup"):
        schedule(wait=1, warmup=0, active=1)


def test_exit_during_active_step_reports_trace():
    seen = []
    with profile(schedule=schedule(wait=0, warmup=1, active=3), on_trace_ready=lambda p: seen.append(p.step_num)) as p:
        for _ in range(2):
            ember.ones(1)
            p.step()
    assert seen == [2]
    assert [e.trace_name for e in p.events() if e.name == "ProfilerStep*"] == ["ProfilerStep#1", "ProfilerStep#2"]


def test_record_function_as_decorator_and_without_profiler():
    @record_function("my_fn")
    def f(t):
        return t * 2

    assert f(ember.ones(2)).tolist() == [2.0, 2.0]              # no profile: just runs
    with record_function("idle") as r:
        assert r.name == "idle" and r.args is None
    with profile() as prof:
        f(ember.ones(2))
        f(ember.ones(2))
    fn_events = [e for e in prof.events() if e.name == "my_fn"]
    assert len(fn_events) == 2 and [c.name for c in fn_events[0].cpu_children] == ["aten::mul"]
    assert fn_events[0].is_user_annotation


def test_tensorboard_trace_handler(tmp_path):
    handler = ember.profiler.tensorboard_trace_handler(str(tmp_path / "logs"), worker_name="w0")
    with profile(schedule=schedule(wait=0, warmup=1, active=1), on_trace_ready=handler) as p:
        for _ in range(4):
            ember.ones(2).sum()
            p.step()
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) == 2 and all(re.fullmatch(r"w0\.\d+\.pt\.trace\.json", f.name) for f in files)
    trace = json.loads(files[0].read_text())
    assert {"ProfilerStep#1", "aten::ones", "aten::sum"} <= {e["name"] for e in trace["traceEvents"]}


def test_with_stack_records_user_frames(tmp_path):
    def user_fn(t):
        return t.exp()

    with profile(with_stack=True) as prof:
        user_fn(ember.ones(2))
    event = [e for e in prof.events() if e.name == "aten::exp"][0]
    assert event.stack[0].startswith(__file__) and event.stack[0].endswith(": user_fn")
    assert "test_with_stack_records_user_frames" in event.stack[1]
    table = prof.key_averages(group_by_stack_n=2).table()
    assert "Source Location" in table and ": user_fn" in table
    path = tmp_path / "stacks.txt"
    prof.export_stacks(str(path), "self_cpu_time_total")
    lines = path.read_text().splitlines()
    assert any(line.split(";")[-1].split(" ")[0].endswith(":_user_fn") for line in lines)


def test_nested_profiles_each_keep_their_slice():
    with profile() as outer:
        ember.ones(1)
        with profile() as inner:
            ember.zeros(1)
        ember.empty(1)
    assert [e.name for e in outer.events()] == ["aten::ones", "aten::zeros", "aten::empty"]
    assert [e.name for e in inner.events()] == ["aten::zeros"]


def test_profiler_errors_and_states(torch):
    p = profile()
    with pytest.raises(AssertionError, match="Profiler must be initialized before accessing events"):
        p.events()
    with pytest.raises(AssertionError, match="No valid profiler activities found"):
        profile(activities=[])
    with pytest.raises(AssertionError, match="Profiler must be initialized before getting key averages"):
        profile().key_averages()
    assert repr(ProfilerActivity.CPU) == repr(torch.profiler.ProfilerActivity.CPU)
    assert ember.profiler.supported_activities() == {ProfilerActivity.CPU}
    legacy = autograd_profiler.profile()
    assert repr(legacy) == "<unfinished torch.autograd.profile>"
    with pytest.raises(AssertionError, match="Expected profiling results"):
        legacy.table()
    assert autograd_profiler.profile(enabled=False).__enter__() is None
    with autograd_profiler.profile(record_shapes=True) as legacy:
        ember.ones(2, 2).sum()
    assert [e.name for e in legacy.function_events] == ["aten::ones", "aten::sum"]
    assert legacy.function_events[1].input_shapes == [[2, 2]]
    assert legacy.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in legacy.function_events))
    assert "aten::sum" in legacy.table() and "Input Shapes" in legacy.table()
    with pytest.raises(RuntimeError, match="not reentrant"):
        legacy.__enter__()
    with pytest.raises(AssertionError, match="requires with_stack=True"):
        legacy.export_stacks("unused.txt")
    assert ember.autograd.profiler is autograd_profiler
    assert autograd_profiler.record_function is record_function is ember.profiler.record_function


def test_emit_nvtx(monkeypatch):
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        with autograd_profiler.emit_nvtx():
            pass
    calls = []
    nvtx = types.SimpleNamespace(RangePush=lambda name: calls.append(("push", name)),
                                 RangePop=lambda: calls.append(("pop",)))
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.ModuleType("cupy.cuda")
    cupy.cuda.nvtx = nvtx
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cupy.cuda)
    monkeypatch.setattr(ember.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ember.cuda, "synchronize", lambda device=None: None)
    snapshot = _snapshot()
    a = ember.ones(2, 2)
    with autograd_profiler.emit_nvtx(record_shapes=True):
        a.mm(a)
    assert calls == [("push", "aten::mm, sizes = [[2, 2], [2, 2]]"), ("push", "aten::matmul, sizes = [[2, 2], "
                     "[2, 2]]"), ("pop",), ("pop",)]             # mm calls matmul: nested ranges
    _assert_same(snapshot)


def test_event_repr_and_attributes():
    with profile() as prof:
        ember.ones(2)
    event = prof.events()[0]
    assert repr(event).startswith("<FunctionEvent id=1 name=aten::ones ")
    assert event.key == event.name == "aten::ones" and event.count == 1 and event.device_type.name == "CPU"
    assert event.cpu_time_str.endswith("us") or event.cpu_time_str.endswith("ms")
    avg = prof.key_averages()[0]
    assert repr(avg).startswith("<FunctionEventAvg key=aten::ones ")
    assert np.isclose(avg.self_cpu_time_total, event.self_cpu_time_total)


def test_wraps_whatever_is_registered_at_start(monkeypatch):
    """Another feature (autocast) may replace a public op: the profiler times the function it finds."""
    original = ember.matmul

    def replaced(input, other, **kwargs):
        return original(input, other, **kwargs)
    monkeypatch.setattr(ember, "matmul", replaced)
    monkeypatch.setattr(ember.Tensor, "matmul", replaced)
    a = ember.ones(2, 2)
    with profile() as prof:
        ember.matmul(a, a)
        a.matmul(a)
    assert [e.name for e in prof.events() if e.cpu_parent is None] == ["aten::matmul", "aten::matmul"]
    assert ember.matmul is replaced and ember.Tensor.__dict__["matmul"] is replaced
