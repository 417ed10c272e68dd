"""Compare: marked runs side by side, differing settings highlighted, curves overlaid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from storage.records import Comparison
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.widgets.metric_chart import ChartSpec, MetricChart, Series

COLOURS = ("cyan", "magenta", "green", "yellow", "red", "blue", "white", "orange")
METRIC_FORMATS = {
    "best_val_acc": lambda v: fmt.pct(v, 2), "final_val_acc": lambda v: fmt.pct(v, 2),
    "test_acc": lambda v: fmt.pct(v, 2), "test_loss": fmt.num, "duration_s": fmt.duration,
    "images_per_s": lambda v: fmt.num(v, ",.0f"), "num_params": lambda v: fmt.num(v, ",d"),
}
HIDDEN_CONFIG = ("name",)  # always differs, and is already the column header


def show(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, float) else str(value)


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "toggle_all", "All settings"),
    ]

    @dataclass
    class Loaded(Message):
        comparison: Comparison

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.comparison: Comparison | None = None
        self.show_all = False

    def compose(self) -> ComposeResult:
        yield Static(f"Comparing {len(self.run_ids)} runs", id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="compare-charts"):
            yield MetricChart("val accuracy %", id="compare-acc")
            yield MetricChart("val loss", id="compare-loss")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()

    @job("compare-load")
    def load(self) -> None:
        self.post_message(self.Loaded(context_of(self).store.compare(self.run_ids)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.comparison = event.comparison
        self.fill_table()
        self.fill_charts()

    def fill_table(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        table.add_column("", key="key")
        for i, run in enumerate(comparison.runs):
            colour = COLOURS[i % len(COLOURS)]
            table.add_column(Text(f"#{run.id} {run.name}", style=f"bold {colour}"), key=str(run.id))
        for metric, values in comparison.metrics.items():
            render = METRIC_FORMATS.get(metric, show)
            cells = [Text(render(v)) for v in values]
            if metric == "status":
                cells = [Text(str(v), style=fmt.STATUS_COLOURS.get(str(v), "")) for v in values]
            table.add_row(Text(metric, style="bold"), *cells)
        keys = sorted({k for r in comparison.runs for k in r.config} - set(HIDDEN_CONFIG))
        shown = 0
        for key in keys:
            values = [r.config.get(key) for r in comparison.runs]
            differs = key in comparison.config_diff
            if not differs and not self.show_all:
                continue
            shown += 1
            style = "bold reverse yellow" if differs else ""
            table.add_row(Text(key, style="bold yellow" if differs else "dim"),
                          *[Text(show(v), style=style) for v in values])
        hidden = len(keys) - shown
        title = (f"Comparing {len(comparison.runs)} runs · "
                 f"{len(comparison.config_diff)} settings differ (highlighted)")
        if hidden:
            title += f" · {hidden} equal settings hidden (a shows all)"
        self.query_one("#compare-title", Static).update(title)

    def fill_charts(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        acc, loss = [], []
        for i, run in enumerate(comparison.runs):
            rows = comparison.curves.get(run.id, [])
            colour = COLOURS[i % len(COLOURS)]
            acc_rows = [(r.epoch, r.val_acc * 100) for r in rows if r.val_acc is not None]
            loss_rows = [(r.epoch, r.val_loss) for r in rows if r.val_loss is not None]
            acc.append(Series(f"#{run.id}", [e for e, _ in acc_rows], [v for _, v in acc_rows],
                              colour))
            loss.append(Series(f"#{run.id}", [e for e, _ in loss_rows],
                               [v for _, v in loss_rows], colour))
        acc_chart = self.query_one("#compare-acc", MetricChart)
        acc_chart.draw(ChartSpec("val accuracy %", acc, xlabel="epoch"))
        self.query_one("#compare-loss", MetricChart).draw(
            ChartSpec("val loss", loss, xlabel="epoch"))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.fill_table()
