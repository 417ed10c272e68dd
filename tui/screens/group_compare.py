"""Compare seed groups: each group one column (mean ± sample std over its seeds), its
curves drawn as the mean with a min–max band. Opened from the runs list in group mode."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable, Static

from storage.groups import Column, load_columns, settings_diff, stat_text
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.screens.compare import CompareScreen, config_label, shorten, show
from tui.screens.run_keys import write_report
from tui.widgets.chart_options import run_colour, run_rich_colour
from tui.widgets.chart_pins import load_pins
from tui.widgets.chart_series import (
    Curve,
    axis_options,
    band_curves,
    empty_spec,
    steps_per_epoch,
    view_series,
    view_title,
)
from tui.widgets.metric_chart import ChartSpec, MetricChart

NO_GROUP_TIMES = "groups are drawn by epoch or step (t)"
BAND_NOTE = "mean, • min–max"


def _value(value: object) -> str:
    if isinstance(value, list):  # a group's seeds
        return ",".join(show(v) for v in value)
    return show(value)


class GroupCompareScreen(CompareScreen):
    """``refs`` as `compare` takes them: ``g:12`` is run 12's whole seed group."""

    @dataclass
    class ColumnsLoaded(Message):
        columns: list[Column]
        store_id: str
        pins: list[int] = field(default_factory=list)

    def __init__(self, refs: list[str]) -> None:
        super().__init__([])  # the runs are known once the groups are loaded
        self.refs = refs
        self.columns: list[Column] = []

    def first_title(self) -> str:
        return f"Comparing {len(self.refs)} seed groups"

    def action_write_report(self) -> None:
        write_report(self, self.refs)  # each group as its mean and band, as drawn here

    @job("compare-load")
    def load(self) -> None:
        store = context_of(self).store
        columns = load_columns(store, self.refs)
        self.post_message(self.ColumnsLoaded(columns, store.store_id, load_pins(store.store_id)))

    @on(ColumnsLoaded)
    def _columns_loaded(self, event: ColumnsLoaded) -> None:
        self.columns = event.columns
        self.run_ids = [i for c in event.columns for i in c.run_ids]  # pins and reports
        self.store_id, self.pins = event.store_id, event.pins
        self.fill_table()
        self.fill_charts()

    def fill_table(self) -> None:
        if not self.columns:
            return
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        self.full_values = {}
        table.add_column("", key="key")
        for c in self.columns:
            pinned = " *" if all(i in self.pins for i in c.run_ids) else ""
            table.add_column(Text(f"{c.label} n={len(c.runs)}{pinned}",
                                  style=f"bold {run_rich_colour(c.run_ids[0])}"), key=c.label)
        self._add_metric_rows(table)
        diff = settings_diff(self.columns)
        keys = sorted({k for c in self.columns for k in c.settings})
        for key in keys:
            if key in diff or self.show_all:
                self._add_setting_row(table, key, key in diff)
        hidden = 0 if self.show_all else len(keys) - len(diff)
        title = (f"Comparing {len(self.columns)} seed groups · mean ± sample std over seeds · "
                 f"{fmt.settings_differ(len(diff))}")
        if hidden:
            title += f" · {hidden} equal hidden (a shows all)"
        self.query_one("#compare-title", Static).update(title)
        self._set_tooltip(table)

    def _add_metric_rows(self, table: DataTable) -> None:
        def have(c: Column) -> str:
            with_values = c.stats["best_val_acc"].n
            return f"{len(c.runs)}" + ("" if with_values == len(c.runs)
                                       else f" ({with_values} with results)")

        rows = [
            ("runs", [have(c) for c in self.columns]),
            ("best val acc", [stat_text(c.stats["best_val_acc"]) for c in self.columns]),
            ("test acc", [stat_text(c.stats["test_acc"]) for c in self.columns]),
            ("time (mean)", [fmt.duration(c.stats["duration_s"].mean) for c in self.columns]),
            ("run ids", [shorten(" ".join(f"#{i}" for i in c.run_ids)) for c in self.columns]),
        ]
        for label, cells in rows:
            table.add_row(Text(label, style="bold"), *(Text(v) for v in cells),
                          key=f"metric:{label}")

    def _add_setting_row(self, table: DataTable, key: str, differs: bool) -> None:
        full = [_value(c.settings.get(key)) for c in self.columns]
        cut = [shorten(v) for v in full]
        row_key = f"config:{key}"
        if cut != full:
            self.full_values[row_key] = "\n".join(
                f"{c.label}: {v}" for c, v in zip(self.columns, full, strict=True))
        style = "bold reverse yellow" if differs else ""
        table.add_row(Text(config_label(key), style="bold yellow" if differs else "dim"),
                      *[Text(v, style=style) for v in cut], key=row_key)

    def fill_charts(self) -> None:
        """Each group's mean curve with its min–max band, by epoch or step."""
        if not self.columns:
            return
        axis = self.view.x_axis
        acc_chart = self.query_one("#compare-acc", MetricChart)
        loss_chart = self.query_one("#compare-loss", MetricChart)
        if axis == "time":  # seeds train for different times: no one x per epoch
            acc_chart.draw(empty_spec("val accuracy %", axis, NO_GROUP_TIMES))
            loss_chart.draw(empty_spec("val loss", axis, NO_GROUP_TIMES))
            return
        acc: list[Curve] = []
        loss: list[Curve] = []
        for c in self.columns:
            first = c.runs[0]
            spe = steps_per_epoch(first.total_steps, first.epochs) if axis == "step" else 1.0
            colour = run_colour(c.run_ids[0])
            points = c.curves["val_acc"]
            acc += band_curves(c.label, points, [p.epoch * spe for p in points], colour, 100.0)
            finite = [p for p in c.curves["val_loss"]
                      if all(math.isfinite(v) for v in (p.mean, p.low, p.high))]
            loss += band_curves(c.label, finite, [p.epoch * spe for p in finite], colour)
        drawn = view_series(acc, self.view)
        title = view_title(f"val accuracy % · {BAND_NOTE}", self.view, 0,
                           bool(self.view.smoothing))
        acc_chart.draw(ChartSpec(title, drawn.series, short_titles=("val acc %",),
                                 **axis_options(axis)))
        loss_chart.draw(self._loss_spec(loss, f" · {BAND_NOTE}"))
