"""Live run: progress and charts that follow the store, whoever started the run.

Steps are fetched incrementally (``get_steps(after_step=...)``) every poll, so
a long run costs the same per second as a short one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from storage.records import RunDetail, StepRow
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.messages import (
    CancelRequested,
    DeleteRequested,
    DuplicateRequested,
    OpenRequested,
    ResumeRequested,
)
from tui.screens.run_log import RunLogScreen
from tui.widgets.metric_chart import ChartSpec, MetricChart, Series
from tui.widgets.progress_header import ProgressHeader


class LiveRunScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("x", "cancel_run", "Cancel run"),
        # Kept out of the crowded footer (help and the palette list them; home's status
        # line points at w when queued runs have no worker).
        Binding("R", "resume_run", "Resume a stopped run", show=False),
        Binding("delete", "delete_run", "Delete run", key_display="del", show=False),
        Binding("w", "app.workers", "Workers", show=False),
        Binding("L", "run_log", "Run log (train.log, following)", show=False),
        Binding("d", "detail", "Detail"),
        Binding("D", "duplicate", "Duplicate"),
    ]

    @dataclass
    class Polled(Message):
        run: RunDetail
        steps: list[StepRow]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunDetail | None = None
        self.steps: list[float] = []
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.last_step = -1
        self.timer = None
        self.drawn: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield ProgressHeader(id="live-header")
        with Grid(id="live-charts"):
            yield MetricChart("train loss (EMA)", id="chart-loss")
            yield MetricChart("validation", id="chart-val")
            yield MetricChart("learning rate", id="chart-lr")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.poll()
        interval = context_of(self).poll_interval
        if interval:
            self.timer = self.set_interval(interval, self.poll)

    def poll(self) -> None:
        self._poll(self.last_step)

    @job("live-poll")
    def _poll(self, after_step: int) -> None:
        store = context_of(self).store
        steps = store.get_steps(self.run_id, after_step=after_step)
        run = store.get_run(self.run_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Polled(run, steps))

    @on(Polled)
    def _polled(self, event: Polled) -> None:
        new = [s for s in event.steps if s.step > self.last_step]
        for row in new:
            self.steps.append(row.step)
            self.losses.append(row.loss)
            self.lrs.append(row.lr)
        now = context_of(self).clock()
        header = self.query_one(ProgressHeader)
        if new:
            self.last_step = new[-1].step
            header.last_point_at = now
        self.run = event.run
        header.now = now
        header.run = event.run
        shown = (self.last_step, len(event.run.epoch_rows), event.run.status, event.run.total_steps)
        if shown != self.drawn:  # nothing new: keep the charts as they are
            self.drawn = shown
            self.redraw(event.run)
        if event.run.status not in fmt.ACTIVE and self.timer is not None:
            self.timer.stop()  # a finished run will not change again
            self.timer = None

    def redraw(self, run: RunDetail) -> None:
        """Each series its own colour and marker, so the legend tells them apart."""
        total = run.total_steps
        xlim = (1, total) if total else None
        # An ended run will get no points: say so rather than "waiting for data".
        empty = "waiting for data" if run.status in fmt.ACTIVE else f"no data, run {run.status}"
        self.query_one("#chart-loss", MetricChart).draw(ChartSpec(
            "train loss (EMA)", [Series("loss", self.steps, fmt.ema(self.losses), "cyan")],
            xlabel="step", xlim=xlim, whole_x=True, empty=empty, short_titles=("loss",),
        ))
        epochs = [r.epoch for r in run.epoch_rows]
        val_loss = [(r.epoch, r.val_loss) for r in run.epoch_rows if r.val_loss is not None]
        val_acc = [(r.epoch, r.val_acc * 100) for r in run.epoch_rows if r.val_acc is not None]
        self.query_one("#chart-val", MetricChart).draw(ChartSpec(
            "val acc % (green) · val loss (yellow, right)",
            [
                Series("val acc %", [e for e, _ in val_acc], [v for _, v in val_acc], "green",
                       marker="hd"),
                Series("val loss", [e for e, _ in val_loss], [v for _, v in val_loss], "yellow",
                       right=True, marker="dot"),
            ],
            xlabel="epoch", xlim=(1, max(run.epochs, max(epochs, default=1))) if epochs else None,
            whole_x=True, empty=empty,
            short_titles=("val acc % · val loss (right)", "val acc · loss", "validation"),
        ))
        config = run.config
        plan = fmt.planned_lr(str(config.get("schedule", "onecycle")),
                              float(config.get("max_lr", run.max_lr)),
                              float(config.get("pct_start", 0.3)), total or 0)
        self.query_one("#chart-lr", MetricChart).draw(ChartSpec(
            "learning rate (plan, seen, now)",
            [Series("plan", *plan, "gray", marker="dot"),
             Series("seen", self.steps, self.lrs, "magenta", marker="hd")],
            xlabel="step", xlim=xlim, vline=self.last_step if self.last_step > 0 else None,
            whole_x=True, empty=empty, short_titles=("learning rate", "lr"),
        ))

    def action_cancel_run(self) -> None:
        self.post_message(CancelRequested(self.run_id))

    def action_resume_run(self) -> None:
        self.post_message(ResumeRequested(self.run_id))

    def action_delete_run(self) -> None:
        self.post_message(DeleteRequested(self.run_id))

    def action_run_log(self) -> None:
        self.app.push_screen(RunLogScreen(self.run_id))

    def action_detail(self) -> None:
        self.post_message(OpenRequested(self.run_id, "detail"))

    def action_duplicate(self) -> None:
        self.post_message(DuplicateRequested(self.run_id))
