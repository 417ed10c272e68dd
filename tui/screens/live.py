"""Live run: progress and charts that follow the store, whoever started the run.

Steps are fetched incrementally (``get_steps(after_step=...)``) every poll, so
a long run costs the same per second as a short one. Pinned runs are fetched once
per pin change and drawn behind this run's loss and accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.message import Message
from textual.worker import get_current_worker

from storage.records import RunDetail, StepRow
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.messages import (
    DuplicateRequested,
    OpenRequested,
)
from tui.screens.run_keys import RunControlScreen
from tui.widgets import chart_pins
from tui.widgets.chart_live import LiveData, loss_spec, lr_spec, val_spec
from tui.widgets.chart_options import ChartView
from tui.widgets.chart_pins import load_pins, save_pins, toggled
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.metric_chart import MetricChart
from tui.widgets.progress_header import ProgressHeader


class LiveRunScreen(RunControlScreen):
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
        Binding("D", "duplicate", "Duplicate", show=False),
        Binding("s", "toggle_smoothing", "Smooth", tooltip="EMA 0.9 or raw (raw faint behind)"),
        Binding("l", "toggle_log", "Log", tooltip="log-Y on the loss axes"),
        Binding("t", "next_x_axis", "X axis", tooltip="step, epoch or wall time"),
        Binding("z", "next_zoom", "Zoom", tooltip="all, last 200 or last 50 points"),
        Binding("p", "toggle_pin", "Pin", tooltip="Pin this run behind other live charts"),
        Binding("P", "unpin_all", "Unpin all runs", show=False),
    ]

    @dataclass
    class Polled(Message):
        run: RunDetail
        steps: list[StepRow]

    @dataclass
    class PinsLoaded(Message):
        store_id: str
        pins: list[int]
        generation: int
        pinned: dict[int, tuple[RunDetail, list[StepRow]]] = field(default_factory=dict)

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunDetail | None = None
        self.rows: list[StepRow] = []
        self.last_step = -1
        self.timer = None
        self.drawn: tuple[object, ...] = ()
        self.view = ChartView()
        self.store_id = ""
        self.pins: list[int] = []
        self.pins_generation = -1  # chart_pins.generation() when the pins were read
        self.pinned: dict[int, tuple[RunDetail, list[StepRow]]] = {}

    @property
    def steps(self) -> list[int]:
        return [r.step for r in self.rows]

    def compose(self) -> ComposeResult:
        yield ProgressHeader(id="live-header")
        with Grid(id="live-charts"):
            yield MetricChart("train loss", id="chart-loss")
            yield MetricChart("validation", id="chart-val")
            yield MetricChart("learning rate", id="chart-lr")
        yield KeysFooter(compact=True)

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
        self.rows.extend(new)
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

    def redraw(self, run: RunDetail | None = None) -> None:
        """Each chart gets its spec for the data and view; one whose spec is unchanged
        keeps what it drew (MetricChart.draw compares)."""
        run = run or self.run
        if run is None:
            return
        data = LiveData(run, self.rows, self.pinned)
        self.query_one("#chart-loss", MetricChart).draw(loss_spec(data, self.view))
        self.query_one("#chart-val", MetricChart).draw(val_spec(data, self.view))
        self.query_one("#chart-lr", MetricChart).draw(lr_spec(data, self.view))

    def on_screen_resume(self) -> None:
        # On the first show too; and compare may have pinned or unpinned runs meanwhile.
        if chart_pins.generation() != self.pins_generation:
            self.load_pins()

    @job("live-pins")
    def load_pins(self, pins: list[int] | None = None) -> None:
        """Read (or, given ``pins``, save) this store's pins, then fetch each pinned run
        not fetched yet; a deleted pinned run is simply not drawn."""
        from storage.errors import RunNotFound

        store = context_of(self).store
        store_id = store.store_id
        pins = load_pins(store_id) if pins is None else save_pins(store_id, pins)
        generation = chart_pins.generation()
        pinned: dict[int, tuple[RunDetail, list[StepRow]]] = {}
        for run_id in pins:
            if run_id == self.run_id:
                continue
            known = self.pinned.get(run_id)
            if known is not None and known[0].status not in fmt.ACTIVE:
                pinned[run_id] = known  # an ended run will not change
                continue
            try:
                pinned[run_id] = (store.get_run(run_id), store.get_steps(run_id))
            except RunNotFound:
                continue
        if not get_current_worker().is_cancelled:
            self.post_message(self.PinsLoaded(store_id, pins, generation, pinned))

    @on(PinsLoaded)
    def _pins_loaded(self, event: PinsLoaded) -> None:
        self.store_id, self.pins = event.store_id, event.pins
        self.pins_generation = event.generation
        if event.pinned.keys() != self.pinned.keys() or any(
                len(event.pinned[k][1]) != len(self.pinned[k][1]) for k in event.pinned):
            self.pinned = event.pinned
            self.redraw()

    def action_toggle_smoothing(self) -> None:
        self._set_view(self.view.smoothing_toggled())

    def action_toggle_log(self) -> None:
        self._set_view(self.view.log_toggled())

    def action_next_x_axis(self) -> None:
        self._set_view(self.view.next_x_axis())

    def action_next_zoom(self) -> None:
        self._set_view(self.view.next_zoom())

    def _set_view(self, view: ChartView) -> None:
        self.view = view
        self.redraw()

    def action_toggle_pin(self) -> None:
        pins = toggled(self.pins, [self.run_id])
        self.notify(f"#{self.run_id} pinned: drawn behind other runs' live charts"
                    if self.run_id in pins else f"#{self.run_id} unpinned")
        self.load_pins(pins)

    def action_unpin_all(self) -> None:
        self.notify("every run unpinned")
        self.load_pins([])

    def action_detail(self) -> None:
        self.post_message(OpenRequested(self.run_id, "detail"))

    def action_duplicate(self) -> None:
        self.post_message(DuplicateRequested(self.run_id))
