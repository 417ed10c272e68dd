"""The live run's header: status, epoch and step, images/s, device, a progress bar and ETA."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from storage.records import RunDetail
from tui import format as fmt


class ProgressHeader(Vertical):
    run: reactive[RunDetail | None] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.now: datetime = fmt.utc_now()

    def compose(self) -> ComposeResult:
        yield Static(id="live-title")
        with Horizontal(id="live-progress-row"):
            yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="live-bar")
            yield Static(id="live-eta")
        yield Static(id="live-facts")

    def watch_run(self, run: RunDetail | None) -> None:
        if run is None or not self.is_mounted:
            return
        title = Text.assemble(
            (f"#{run.id} {run.name}", "bold"), "  ",
            (run.status + (" (cancel requested)"
                           if run.cancel_requested and run.status == "running" else ""),
             fmt.STATUS_COLOURS.get(run.status, "")),
            f"  {run.model} · {run.dataset}",
        )
        self.query_one("#live-title", Static).update(title)
        bar = self.query_one("#live-bar", ProgressBar)
        step = run.current_step or 0
        if run.total_steps:
            done = run.total_steps if run.status == "completed" else min(step, run.total_steps)
            bar.update(total=run.total_steps, progress=done)
        seconds = fmt.elapsed(run.started_at, run.finished_at, run.duration_s, self.now)
        left = fmt.eta(step, run.total_steps, seconds) if run.status == "running" else None
        eta = f"ETA {fmt.duration(left)}" if left is not None else fmt.duration(seconds)
        self.query_one("#live-eta", Static).update(eta)
        facts = [
            f"epoch {fmt.epochs_progress(run.current_epoch, run.epochs)}",
            f"step {step if run.current_step is not None else '–'}/{run.total_steps or '–'}",
            f"{fmt.num(run.images_per_s, ',.0f')} img/s",
            f"device {run.device or '–'}",
            f"best val {fmt.pct(run.best_val_acc)}",
        ]
        self.query_one("#live-facts", Static).update(" · ".join(facts))
