"""Compare: PyTorch's table of many Measurements. One table per label; a row per (num_threads, env,
sub_label or stmt), a column per description; each cell the median in the unit that suits the fastest
result, optionally trimmed to its significant figures, colored against the best of its column or row, and
flagged "(! XX%)" where the spread is high."""
import enum
import itertools
import math

from . import common

__all__ = ["Colorize", "Compare"]

BEST = "\033[92m"
GOOD = "\033[34m"
BAD = "\033[2m\033[91m"
VERY_BAD = "\033[31m"
BOLD = "\033[1m"
TERMINATE = "\033[0m"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _leading_digits(value):
    # digits before the decimal point, from a float32 log10 as PyTorch computes it
    return math.ceil(common.log10_f32(value))


class _Column:
    """One description's cells: a shared number format wide enough for its largest median."""

    def __init__(self, grouped_results, time_scale, trim_significant_figures, highlight_warnings):
        self._grouped_results = grouped_results
        flat = [r for r in itertools.chain.from_iterable(grouped_results) if r is not None]
        self._trim = trim_significant_figures
        self._highlight = highlight_warnings and any(r.has_warnings for r in flat)
        digits = [(_leading_digits(r.median / time_scale), r) for r in flat]
        unit_digits = max(d for d, _ in digits)
        decimals = min(max(r.significant_figures - d, 0) for d, r in digits) if self._trim else 1
        self._width = unit_digits + decimals + (1 if decimals else 0)
        self._decimals = decimals

    def get_results_for(self, group):
        return self._grouped_results[group]

    def num_to_str(self, value, estimated_sigfigs, spread):
        if value is None:
            return " " * len(self.num_to_str(1, estimated_sigfigs, None))
        if self._trim:
            value = common.trim_sigfig(value, estimated_sigfigs)
        flag = f" (! {spread * 100:.0f}%)" if self._highlight and spread is not None else ""
        return f"{value:>{self._width}.{self._decimals}f}" + (f"{flag:>7}" if self._highlight else flag)


def _color(segment, value, best):
    if value <= best * 1.01 or value <= best + 100e-9:
        return BEST + BOLD + segment + TERMINATE * 2
    if value <= best * 1.1:
        return GOOD + BOLD + segment + TERMINATE * 2
    if value >= best * 5:
        return VERY_BAD + BOLD + segment + TERMINATE * 2
    if value >= best * 2:
        return BAD + segment + TERMINATE * 2
    return segment


class _Row:
    def __init__(self, results, row_group, render_env, env_str_len, time_scale, colorize, num_threads):
        self._results = results
        self._row_group = row_group
        self._render_env = render_env
        self._env_str_len = env_str_len
        self._time_scale = time_scale
        self._colorize = colorize
        self._num_threads = num_threads       # set on the first row of a thread-count group
        self._columns = ()

    def cells(self):
        first = next(r for r in self._results if r is not None)
        env = f"({first.env})" if self._render_env else ""
        out = ["  " + env.ljust(self._env_str_len + 4) + first.as_row_name]
        for m, column in zip(self._results, self._columns):
            if m is None:
                out.append(column.num_to_str(None, 1, None))
            else:
                out.append(column.num_to_str(m.median / self._time_scale, m.significant_figures,
                                             m.iqr / m.median if m.has_warnings else None))
        return out

    def separator(self, width):
        return [f"{self._num_threads} threads: ".ljust(width, "-")] if self._num_threads is not None else []

    def finalize(self, cells, widths):
        if self._colorize == Colorize.ROWWISE:
            best = [min(r.median for r in self._results if r is not None)] * len(cells)
        elif self._colorize == Colorize.COLUMNWISE:
            best = [min((r.median for r in column.get_results_for(self._row_group) if r is not None),
                        default=None) for column in self._columns]
        else:
            best = [None] * len(cells)
        out = [cells[0].ljust(widths[0])]
        for cell, width, result, b in zip(cells[1:], widths[1:], self._results, best):
            cell = cell.center(width)
            if self._colorize != Colorize.NONE and result is not None and b is not None:
                cell = _color(cell, result.median, b)
            out.append(cell)
        return out


class _Table:
    def __init__(self, results, colorize, trim_significant_figures, highlight_warnings):
        self.results = results
        self.label = results[0].label
        self.highlight_warnings = highlight_warnings
        self.time_unit, self.time_scale = common.select_unit(min(r.median for r in results))
        # rows grouped by thread count then env (stable: statement order kept within a group)
        row_keys = common.ordered_unique((r.num_threads, r.env, r.as_row_name) for r in results)
        row_keys.sort(key=lambda k: (k[0], k[1] is not None, k[1] or ""))
        self.column_keys = common.ordered_unique(r.description for r in results)
        grid = [[None] * len(self.column_keys) for _ in row_keys]
        row_at = {k: i for i, k in enumerate(row_keys)}
        col_at = {k: j for j, k in enumerate(self.column_keys)}
        for r in results:
            grid[row_at[(r.num_threads, r.env, r.as_row_name)]][col_at[r.description]] = r
        envs = {r.env for r in results}
        render_env = len(envs) > 1
        env_str_len = max(len(str(e)) for e in envs) if render_env else 0

        rows, groups, prior_threads, prior_env = [], [], None, ""
        for (threads, env, _), cells in zip(row_keys, grid):
            new_group = threads != prior_threads
            if new_group:
                prior_threads, prior_env = threads, ""
                groups.append([])
            rows.append(_Row(cells, len(groups) - 1, render_env and env != prior_env, env_str_len,
                             self.time_scale, colorize, threads if new_group else None))
            groups[-1].append(cells)
            prior_env = env
        columns = tuple(_Column([tuple(cells[j] for cells in g) for g in groups], self.time_scale,
                                trim_significant_figures, highlight_warnings)
                        for j in range(len(self.column_keys)))
        for row in rows:
            row._columns = columns
        self.rows = rows

    def render(self):
        table = [[""] + ["" if k is None else str(k) for k in self.column_keys]]
        table += [row.cells() for row in self.rows]
        n = max(len(cells) for cells in table)
        for cells in table:
            cells.extend([""] * (n - len(cells)))
        widths = [max(len(c) for c in column) for column in zip(*table)]
        lines = ["  |  ".join(c.center(w) for c, w in zip(table[0], widths))]
        width = len(lines[0])
        for cells, row in zip(table[1:], self.rows):
            lines += row.separator(width)
            lines.append("  |  ".join(row.finalize(cells, widths)))
        warned = self.highlight_warnings and any(r.has_warnings for r in self.results)
        title = f"[{(' ' + (self.label or '') + ' ').center(width - 2, '-')}]"
        return (title + "\n" + "\n".join(lines) + "\n\n"
                + f"Times are in {common.unit_to_english(self.time_unit)}s ({self.time_unit}).\n"
                + ("(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n" if warned else ""))


class Compare:
    """Print many Measurements as tables (one per label): print(Compare(results)) or .print()."""

    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self):
        return "\n".join(self._render())

    def extend_results(self, results):
        """Add more Measurements."""
        for r in results:
            if not isinstance(r, common.Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        """Show each column only to the digits its measurements support."""
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        """Color each cell against the best of its column (or of its row, rowwise=True)."""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self):
        """Flag cells whose IQR is high relative to the median with "(! XX%)"."""
        self._highlight_warnings = True

    def print(self):
        print(str(self))

    def _render(self):
        by_label = {}
        for r in common.Measurement.merge(self._results):
            by_label.setdefault(r.label, []).append(r)
        return [_Table(group, self._colorize, self._trim_significant_figures, self._highlight_warnings).render()
                for group in by_label.values()]
