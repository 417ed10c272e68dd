"""One sweep: its trials best first, best-so-far, each parameter against the metric and
(tpe) parameter importances; cancel it, open a trial's run.

Read with ``worker.sweeps.summarize`` in a job (its Optuna study imports optuna, ~1 s, so
never on the UI thread or at start-up), after ``settle`` tells the study any trial whose
runs have ended, as `cifar-tui sweep show` does. Polled while the sweep is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.context import context_of
from tui.jobs import job
from tui.messages import CompareRequested, OpenRequested, RunChanged
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.metric_chart import MetricChart
from tui.widgets.sweep_charts import (
    Param,
    ScatterChart,
    best_so_far_spec,
    importance_text,
    param_spec,
    swept_params,
)

if TYPE_CHECKING:
    from worker.sweeps import SweepSummary, TrialRow

POLL_EVERY = 2.0  # seconds at least: each read opens the study and reads every trial
ACTIVE = ("running", "waiting")
COLUMNS = (("trial", 5), ("state", 8), ("value", 9), ("runs", 12), ("parameters", None))


def params_text(params: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def runs_text(trial: TrialRow) -> str:
    if not trial.run_ids:
        return "-"
    if len(trial.run_ids) == 1:
        return f"#{trial.run_ids[0]}"
    return f"#{trial.run_ids[0]} +{len(trial.run_ids) - 1}"


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no runs yet"


def fill_table(table: DataTable[str], columns: tuple[tuple[str, int | None], ...],
               rows: tuple[tuple[str, ...], ...]) -> None:
    """Columns sized to their cells now (an auto width is only settled when the app is
    idle, so a frame could show it cut), then the rows, keyed by their first item."""
    table.clear(columns=True)
    for i, (label, width) in enumerate(columns):
        fit = max([len(label), *(len(row[i + 1]) for row in rows)])
        table.add_column(label, width=width or fit, key=label)
    for key, *cells in rows:
        table.add_row(*cells, key=key)


def cancel_question(summary: SweepSummary) -> str:
    """What a yes does, counted from the sweep as last read."""
    rec = summary.record
    counts = rec.run_counts
    queued, running = counts.get("queued", 0), counts.get("running", 0)
    left = rec.n_trials - rec.trials_asked
    return (f"Cancel sweep #{rec.id} {rec.name}? No more trials are asked"
            + (f" ({left} not asked yet)" if left > 0 else "")
            + f"; its {queued} queued run(s) are cancelled now and its {running} running "
              "run(s) are asked to stop. Finished trials and their runs are kept.")


class SweepScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        # Above the table's own enter, so the footer names it; a click on a row opens too.
        Binding("enter", "open_trial", "Open run", priority=True),
        Binding("c", "compare_trial", "Compare trial's seeds", show=False),
        Binding("p", "next_param", "Next parameter"),
        Binding("x", "cancel_sweep", "Cancel sweep"),
    ]

    @dataclass
    class Loaded(Message):
        summary: SweepSummary

    def __init__(self, sweep_id: int) -> None:
        super().__init__()
        self.sweep_id = sweep_id
        self.summary: SweepSummary | None = None
        self.params: list[Param] = []
        self.param_at = 0
        self.shown_rows: tuple[object, ...] | None = None  # None: never filled
        self.timer: Any = None

    def compose(self) -> ComposeResult:
        yield Static(f"Sweep #{self.sweep_id}", id="sweep-head")
        yield Static("reading the sweep…", id="sweep-facts")
        yield DataTable(id="trials", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="sweep-charts"):
            yield MetricChart("best so far", id="sweep-best")
            yield ScatterChart("parameter", id="sweep-param")
        yield Static(id="sweep-importance")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#trials", DataTable).focus()
        self.poll()
        interval = context_of(self).poll_interval
        if interval:
            self.timer = self.set_interval(max(POLL_EVERY, interval), self.poll)

    def poll(self) -> None:
        if self.app.screen is self or self.summary is None:  # hidden: no reads
            self._load(self.sweep_id)

    @job("sweep-load")
    def _load(self, sweep_id: int) -> None:
        from worker.sweeps import settle, summarize  # optuna: in this thread only

        store = context_of(self).store
        settle(store, log=lambda _line: None)
        self.post_message(self.Loaded(summarize(store, sweep_id)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        summary = self.summary = event.summary
        rec = summary.record
        if not self.params:
            self.params = swept_params(rec.spec)
        self.query_one("#sweep-head", Static).update(
            f"Sweep #{rec.id} {rec.name} · {rec.method} · {rec.goal} {rec.metric} · {rec.status}")
        best = summary.best
        said = (f" · best: trial {best.number} ({best.value:.4g})"
                if best and best.value is not None else "")
        self.query_one("#sweep-facts", Static).update(
            f"{rec.trials_told}/{rec.n_trials} trials told, {rec.trials_asked} asked · "
            f"runs: {counts_text(rec.run_counts)}{said}")
        self._fill_table(summary)
        self.query_one("#sweep-best", MetricChart).draw(best_so_far_spec(summary))
        self._draw_param()
        importance = self.query_one("#sweep-importance", Static)
        importance.update(importance_text(summary.importances)
                          or "importance: once two trials are complete")
        importance.display = rec.method == "tpe"
        if rec.status != "active" and not any(t.state in ACTIVE for t in summary.trials):
            if self.timer is not None:
                self.timer.stop()  # nothing more can change

    def _fill_table(self, summary: SweepSummary) -> None:
        best = summary.best.number if summary.best else None
        rows = tuple(
            (str(t.number), (f"{t.number}*" if t.number == best else str(t.number)), t.state,
             "" if t.value is None else t.value_text, runs_text(t), params_text(t.params))
            for t in summary.trials)
        if rows == self.shown_rows:
            return
        self.shown_rows = rows
        table = self.query_one("#trials", DataTable)
        kept = None
        if table.row_count:
            kept = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        fill_table(table, COLUMNS, rows)
        if kept is not None and kept in {r[0] for r in rows}:
            table.move_cursor(row=table.get_row_index(kept))

    def _draw_param(self) -> None:
        chart = self.query_one("#sweep-param", ScatterChart)
        if self.summary is None or not self.params:
            return
        param = self.params[self.param_at % len(self.params)]
        where = f" {self.param_at + 1}/{len(self.params)}" if len(self.params) > 1 else ""
        chart.draw(param_spec(self.summary, param, where))

    # -- keys -------------------------------------------------------------------
    def selected_trial(self) -> TrialRow | None:
        table = self.query_one("#trials", DataTable)
        if self.summary is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((t for t in self.summary.trials if str(t.number) == key), None)

    def action_open_trial(self) -> None:
        """The trial's run (its first seed's; c compares them all)."""
        trial = self.selected_trial()
        if trial is None or not trial.run_ids:
            self.notify("this trial has no run yet", severity="warning")
            return
        self.post_message(OpenRequested(trial.run_ids[0], view="detail"))

    @on(DataTable.RowSelected, "#trials")
    def _row_chosen(self) -> None:
        self.action_open_trial()

    def action_compare_trial(self) -> None:
        trial = self.selected_trial()
        if trial is None or len(trial.run_ids) < 2:
            self.notify("c compares a trial's seeds: this trial has one run", severity="warning")
            return
        self.post_message(CompareRequested(list(trial.run_ids)))

    def action_next_param(self) -> None:
        if len(self.params) < 2:
            self.notify("this sweep varies one parameter", severity="information")
            return
        self.param_at = (self.param_at + 1) % len(self.params)
        self._draw_param()

    def action_cancel_sweep(self) -> None:
        from tui.screens.confirm import ConfirmDialog

        if self.summary is None:
            return
        rec = self.summary.record
        if rec.status != "active":
            self.notify(f"sweep #{rec.id} is already {rec.status}; nothing to cancel",
                        severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel(rec.id)

        self.app.push_screen(ConfirmDialog(cancel_question(self.summary),
                                           yes="Cancel sweep"), answered)

    @job("sweep-cancel")
    def _cancel(self, sweep_id: int) -> None:
        said = context_of(self).store.cancel_sweep(sweep_id)
        self.app.call_from_thread(self.notify, said[0].upper() + said[1:] + ".")
        self.post_message(RunChanged(0))
        self.app.call_from_thread(self._load, sweep_id)
