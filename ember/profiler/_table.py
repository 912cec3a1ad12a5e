"""The profiler's text table (EventList.table / key_averages().table), laid out as PyTorch prints it: a
right-aligned Name column, 12-wide time, percentage, memory and count columns separated by two spaces,
dashed rules, optional "Input Shapes" and "Source Location" columns, and a "Self CPU time total" footer."""

_SPACING = 2
_WIDTH = 12


def format_time(time_us):
    """123.456us, 1.235ms or 2.000s: three decimals in the largest unit that is at least 1."""
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def format_time_share(time_us, total_us):
    if total_us == 0:
        return "NaN"
    return f"{time_us * 100.0 / total_us:.2f}%"


def format_memory(nbytes):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _in_unit(time_us, unit):
    if unit == "s":
        return f"{time_us / 1e6:.3f}s"
    if unit == "ms":
        return f"{time_us / 1e3:.3f}ms"
    if unit == "us":
        return f"{time_us:.3f}us"
    return format_time(time_us)


def _trim_source(entry, width):
    if len(entry) > width:
        entry = entry[len(entry) - width:]
        if len(entry) > 3:
            entry = "..." + entry[3:]
    return entry


class _Layout:
    """Column widths and alignment; formats a row of cells as one line."""

    def __init__(self):
        self.columns = []                        # (width, align)

    def add(self, width, align=">"):
        self.columns.append((width, align))

    def line(self, cells):
        return "".join(f"{cell:{align}{width}}" + " " * _SPACING
                       for cell, (width, align) in zip(cells, self.columns))

    def rule(self):
        return "".join("-" * width + " " * _SPACING for width, _ in self.columns)

    def length(self):
        return sum(width + _SPACING for width, _ in self.columns) - _SPACING


def build_table(events, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
                max_shapes_column_width=80, header=None, profile_memory=False, top_level_events_only=False,
                time_unit=None):
    if len(events) == 0:
        return ""
    if sort_by is not None:
        attr = sort_by.replace("cuda", "device").replace("xpu", "device").replace("privateuse1", "device")
        events = sorted(events, key=lambda e: getattr(e, attr), reverse=True)
    has_shapes = any(e.input_shapes is not None and len(e.input_shapes) > 0 for e in events)
    stacks = [e.stack for e in events if e.stack]
    name_width = max(len(e.key) for e in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)

    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    layout = _Layout()
    layout.add(name_width)
    for _ in headers[1:]:
        layout.add(_WIDTH)
    shapes_width = src_width = None
    if has_shapes:
        shapes_width = max(len(str(e.input_shapes)) for e in events) + 4
        if max_shapes_column_width is not None:
            shapes_width = min(shapes_width, max_shapes_column_width)
        headers.append("Input Shapes")
        layout.add(shapes_width)
    if stacks:
        src_width = max(len(entry) for stack in stacks for entry in stack) + 4
        if max_src_column_width is not None:
            src_width = min(src_width, max_src_column_width)
        headers.append("Source Location")
        layout.add(src_width, "<")

    total_self = sum(e.self_cpu_time_total for e in events)
    rule = layout.rule()
    lines = []
    if header is not None:
        lines += ["=" * layout.length(), header]
    if top_level_events_only:
        lines += ["=" * layout.length(), "This report only display top-level ops statistics"]
    lines += [rule, layout.line(headers), rule]

    shown = 0
    for event in events:
        if shown == row_limit:
            break
        if top_level_events_only and event.cpu_parent is not None:
            continue
        shown += 1
        name = event.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        event.self_cpu_percent = format_time_share(event.self_cpu_time_total, total_self)
        event.total_cpu_percent = format_time_share(event.cpu_time_total, total_self) if not event.is_async else 0
        cells = [name, event.self_cpu_percent, _in_unit(event.self_cpu_time_total, time_unit),
                 event.total_cpu_percent, _in_unit(event.cpu_time_total, time_unit),
                 _in_unit(event.cpu_time, time_unit)]
        if profile_memory:
            cells += [format_memory(event.cpu_memory_usage), format_memory(event.self_cpu_memory_usage)]
        cells.append(event.count)
        if has_shapes:
            cells.append(str(event.input_shapes)[:shapes_width])
        if stacks:
            cells.append(_trim_source(event.stack[0], src_width) if event.stack else "")
        lines.append(layout.line(cells))
        if stacks:
            blank = [""] * (len(headers) - 1)
            for entry in (event.stack or [])[1:]:
                lines.append(layout.line(blank + [_trim_source(entry, src_width)]))
            lines.append(layout.line(blank + [""]))
    lines += [rule, f"Self CPU time total: {_in_unit(total_self, time_unit)}"]
    return "".join(line + "\n" for line in lines)
