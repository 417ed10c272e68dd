"""Compare: marked runs side by side, differing settings highlighted, curves overlaid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.config import FIELDS
from storage.records import Comparison
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.screens.run_keys import write_report
from tui.widgets.chart_options import ChartView, run_colour, run_rich_colour
from tui.widgets.chart_pins import load_pins, save_pins, toggled
from tui.widgets.chart_series import (
    NO_EPOCH_TIMES,
    Curve,
    axis_options,
    empty_spec,
    epoch_xs,
    steps_per_epoch,
    view_series,
    view_title,
)
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.metric_chart import ChartSpec, MetricChart, Series

METRIC_FORMATS = {
    "best_val_acc": lambda v: fmt.pct(v, 2), "final_val_acc": lambda v: fmt.pct(v, 2),
    "test_acc": lambda v: fmt.pct(v, 2), "test_loss": fmt.num, "duration_s": fmt.duration,
    "images_per_s": lambda v: fmt.num(v, ",.0f"), "num_params": lambda v: fmt.num(v, ",d"),
}
HIDDEN_CONFIG = ("name",)  # always differs, and is already the column header
METRIC_LABELS = {
    "best_val_acc": "best val acc", "final_val_acc": "final val acc", "test_acc": "test acc",
    "test_loss": "test loss", "current_epoch": "epochs done", "duration_s": "duration",
    "images_per_s": "images/s", "num_params": "parameters",
    "device": "device (ran on)",  # the config's `device` is what was asked for, e.g. "auto"
}
CONFIG_LABELS = {"device": "device (asked)", "grad_clip": "grad clip"}  # the form's label is a hint
MAX_CELL = 24  # a long data_dir would otherwise make every run's column ~45 wide
LOG_SPAN = 100.0  # the loss axis turns log by itself when its values span more than this


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def config_label(key: str) -> str:
    if key in CONFIG_LABELS:
        return CONFIG_LABELS[key]
    spec = FIELDS.get(key)
    return spec.label if spec is not None else key.replace("_", " ")


def shorten(text: str, width: int = MAX_CELL) -> str:
    """``text`` in at most ``width`` columns: a path keeps its last parts ("…/cifar-10-subset"),
    anything else (or a last part too long) loses its middle."""
    if len(text) <= width:
        return text
    parts = text.replace("\\", "/").rstrip("/").split("/")
    if len(parts) > 1 and len(parts[-1]) + 2 <= width:
        tail = parts[-1]
        for part in reversed(parts[1:-1]):
            if len(tail) + len(part) + 3 > width:
                break
            tail = f"{part}/{tail}"
        return f"…/{tail}"
    keep = width - 1
    return text[: keep - keep // 2] + "…" + text[len(text) - keep // 2:]


def loss_span(series: list[Series]) -> float:
    """Largest over smallest positive value across all series (1 when there is nothing)."""
    values = [v for s in series for v in s.ys if v > 0]
    return max(values) / min(values) if values else 1.0


def show(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, float) else str(value)


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "toggle_all", "All settings"),
        Binding("l", "toggle_log", "Log loss"),
        Binding("s", "toggle_smoothing", "Smooth"),
        Binding("t", "next_x_axis", "X axis"),
        Binding("z", "next_zoom", "Zoom last N", show=False),
        Binding("p", "toggle_pins", "Pin", tooltip="Pin these runs behind live charts"),
        Binding("o", "write_report", "Write an HTML report (plots, results, settings)",
                show=False),
    ]
    FOOTER_IF_ROOM = {"write_report": "Report", "next_zoom": "Zoom"}  # as wide allows

    @dataclass
    class Loaded(Message):
        comparison: Comparison
        store_id: str
        pins: list[int] = field(default_factory=list)

    @dataclass
    class PinsSaved(Message):
        pins: list[int]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.comparison: Comparison | None = None
        self.show_all = False
        self.log_y: bool | None = None  # None: log when the losses span more than LOG_SPAN
        self.loss_log = False  # whether the loss chart is drawn log now
        self.full_values: dict[str, str] = {}  # row key -> the row's uncut values, for the tooltip
        # Epoch curves have a few points: raw by default, and a lighter EMA when asked.
        self.view = ChartView(smoothing=None, x_axis="epoch", ema_weight=0.5)
        self.store_id = ""
        self.pins: list[int] = []

    def first_title(self) -> str:
        """The title until the comparison is loaded (the group screen counts groups)."""
        return f"Comparing {len(self.run_ids)} runs"

    def compose(self) -> ComposeResult:
        yield Static(self.first_title(), id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="compare-charts"):
            yield MetricChart("val accuracy %", id="compare-acc")
            yield MetricChart("val loss", id="compare-loss")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.load()

    @job("compare-load")
    def load(self) -> None:
        store = context_of(self).store
        comparison = store.compare(self.run_ids)
        store_id = store.store_id
        self.post_message(self.Loaded(comparison, store_id, load_pins(store_id)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.comparison = event.comparison
        self.store_id, self.pins = event.store_id, event.pins
        self.fill_table()
        self.fill_charts()

    def fill_table(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        self.full_values = {}
        table.add_column("", key="key")
        for run in comparison.runs:
            pinned = " *" if run.id in self.pins else ""  # the title says what * means
            header = Text(f"#{run.id} {shorten(run.name)}{pinned}",
                          style=f"bold {run_rich_colour(run.id)}")
            table.add_column(header, key=str(run.id))
        for metric, values in comparison.metrics.items():
            render = METRIC_FORMATS.get(metric, show)
            cells = [Text(shorten(render(v))) for v in values]
            if metric == "status":
                cells = [Text(str(v), style=fmt.STATUS_COLOURS.get(str(v), "")) for v in values]
            table.add_row(Text(metric_label(metric), style="bold"), *cells, key=f"metric:{metric}")
        keys = sorted({k for r in comparison.runs for k in r.config} - set(HIDDEN_CONFIG))
        # Counted over the rows that can be listed: `name` differs too, but is the header.
        differing = [k for k in keys if k in comparison.config_diff]
        shown = 0
        for key in keys:
            differs = key in comparison.config_diff
            if not differs and not self.show_all:
                continue
            shown += 1
            self._add_config_row(table, key, differs)
        hidden = len(keys) - shown
        title = (f"Comparing {len(comparison.runs)} runs · "
                 f"{fmt.settings_differ(len(differing))} (highlighted)")
        if hidden:
            title += f" · {hidden} equal setting{'' if hidden == 1 else 's'} hidden (a shows all)"
        if pinned := [f"#{r.id}" for r in comparison.runs if r.id in self.pins]:
            title += f" · * pinned: {' '.join(pinned)}"
        self.query_one("#compare-title", Static).update(title)
        self._set_tooltip(table)

    def _add_config_row(self, table: DataTable, key: str, differs: bool) -> None:
        """One setting's row; values too long for a cell are cut, and whole in the tooltip."""
        assert self.comparison is not None
        runs = self.comparison.runs
        full = [show(r.config.get(key)) for r in runs]
        cut = [shorten(v) for v in full]
        row_key = f"config:{key}"
        if cut != full:
            self.full_values[row_key] = "\n".join(
                f"#{r.id}: {v}" for r, v in zip(runs, full, strict=True))
        style = "bold reverse yellow" if differs else ""
        table.add_row(Text(config_label(key), style="bold yellow" if differs else "dim"),
                      *[Text(v, style=style) for v in cut], key=row_key)

    @on(DataTable.RowHighlighted, "#compare-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._set_tooltip(event.data_table)

    def _set_tooltip(self, table: DataTable) -> None:
        """The whole values of a row whose cells were cut (a long data_dir), else none."""
        key = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.tooltip = self.full_values.get(key or "")

    def fill_charts(self) -> None:
        """Both charts for the view; a run with no epoch times is left off a time axis."""
        comparison = self.comparison
        if comparison is None:
            return
        axis = self.view.x_axis
        acc: list[Curve] = []
        loss: list[Curve] = []
        untimed: list[str] = []
        for run in comparison.runs:
            rows = comparison.curves.get(run.id, [])
            spe = steps_per_epoch(run.total_steps, run.epochs)
            acc_rows = [r for r in rows if r.val_acc is not None]
            # An exploded run may log inf or nan; neither can be plotted.
            loss_rows = [r for r in rows if r.val_loss is not None and math.isfinite(r.val_loss)]
            acc_x, loss_x = epoch_xs(acc_rows, axis, spe), epoch_xs(loss_rows, axis, spe)
            if acc_x is None or loss_x is None:
                untimed.append(f"#{run.id}")
                continue
            colour = run_colour(run.id)
            acc.append(Curve(f"#{run.id}", acc_x, [r.val_acc * 100 for r in acc_rows], colour))
            loss.append(Curve(f"#{run.id}", loss_x, [r.val_loss for r in loss_rows], colour))
        acc_chart = self.query_one("#compare-acc", MetricChart)
        loss_chart = self.query_one("#compare-loss", MetricChart)
        if untimed and not acc:
            acc_chart.draw(empty_spec("val accuracy %", axis, NO_EPOCH_TIMES))
            loss_chart.draw(empty_spec("val loss", axis, NO_EPOCH_TIMES))
            return
        note = f" · {' '.join(untimed)} untimed" if untimed else ""
        drawn = view_series(acc, self.view)
        title = view_title("val accuracy %", self.view, 0, bool(self.view.smoothing)) + note
        acc_chart.draw(ChartSpec(title, drawn.series, short_titles=("val acc %",),
                                 **axis_options(axis)))
        loss_chart.draw(self._loss_spec(loss, note))

    def _loss_spec(self, loss: list[Curve], note: str = "") -> ChartSpec:
        """Linear, or log10 of the values with ticks at whole decades: plotext's own log
        scale crashes on redraw under textual-plotext, so the screen takes the log itself."""
        raw = [Series(c.label, c.xs, c.ys) for c in loss]
        self.loss_log = loss_span(raw) > LOG_SPAN if self.log_y is None else self.log_y
        drawn = view_series(loss, self.view, log_y=self.loss_log)
        base = "log10 val loss" if self.loss_log else "val loss"
        title = view_title(base, self.view, drawn.skipped, bool(self.view.smoothing)) + note
        return ChartSpec(title, drawn.series, short_titles=("log loss" if self.loss_log
                                                              else "loss",),
                         yticks=drawn.yticks, **axis_options(self.view.x_axis))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.fill_table()

    def action_toggle_log(self) -> None:
        self.log_y = not self.loss_log
        self.fill_charts()

    def action_toggle_smoothing(self) -> None:
        self.view = self.view.smoothing_toggled()
        self.fill_charts()

    def action_next_x_axis(self) -> None:
        self.view = self.view.next_x_axis()
        self.fill_charts()

    def action_next_zoom(self) -> None:
        self.view = self.view.next_zoom()
        self.fill_charts()

    def action_write_report(self) -> None:
        write_report(self, self.run_ids)

    def action_toggle_pins(self) -> None:
        """Pin the compared runs (or unpin them when all are pinned already)."""
        if self.store_id:
            self._save_pins(self.store_id, toggled(self.pins, self.run_ids))

    @job("compare-pins")
    def _save_pins(self, store_id: str, pins: list[int]) -> None:
        self.post_message(self.PinsSaved(save_pins(store_id, pins)))

    @on(PinsSaved)
    def _pins_saved(self, event: PinsSaved) -> None:
        self.pins = event.pins
        shown = [i for i in self.run_ids if i in self.pins]
        self.notify(f"pinned {' '.join(f'#{i}' for i in shown)}: drawn behind live charts"
                    if shown else "unpinned: no longer drawn behind live charts")
        self.fill_table()
