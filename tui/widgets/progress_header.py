"""The live run's header: status, epoch and step, images/s, device, a progress bar and ETA,
and one line saying what comes next (the next loss point) or how the run ended."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from storage.records import RunDetail
from tui import format as fmt

ENDED_WORDS = ("failed", "cancelled", "interrupted", "pruned")


def next_point(step: int, log_every: int, steps_per_epoch: int | None,
               total_steps: int | None) -> int:
    """The step of the next loss point after ``step``. The engine reads the loss every
    ``log_every`` steps counted from the epoch's start, and at each epoch's end."""
    every = max(1, log_every)
    into = step % steps_per_epoch if steps_per_epoch else step  # steps into this epoch
    nxt = step - into % every + every
    if steps_per_epoch:
        nxt = min(nxt, (step // steps_per_epoch + 1) * steps_per_epoch)
    return min(nxt, total_steps) if total_steps else nxt


def pulse_line(run: RunDetail, now: datetime, last_point_at: datetime | None,
               width: int = 80) -> Text:
    """One line between loss points (which come only every ``log_every`` steps, ~20 s on a
    CPU): when the next one is due. On an ended run: its status and error instead, the
    error cut to ``width`` so where to read the traceback stays in sight."""
    if run.status in ENDED_WORDS:
        hint = " · full traceback: d" if run.traceback else ""
        why = run.error.splitlines()[0] if run.error else ""
        room = max(10, width - len(run.status) - len(hint) - 4)
        why = why if len(why) <= room else why[: room - 1] + "…"
        return Text.assemble((run.status, fmt.STATUS_COLOURS.get(run.status, "")),
                             f": {why}" if why else "", (hint, "dim"),
                             no_wrap=True, overflow="ellipsis")
    if run.status == "completed":
        return Text(f"completed in {fmt.duration(run.duration_s)}", style="green")
    if run.status == "queued":
        return Text("queued: waiting for a worker to claim it", style="dim")
    step = run.current_step or 0
    log_every = int(run.config.get("log_every") or 1)
    nxt = next_point(step, log_every, run.steps_per_epoch, run.total_steps)
    parts = [f"loss every {log_every} steps", f"next point at step {nxt}"]
    batch = run.config.get("batch_size") or run.batch_size
    if run.images_per_s and batch and step:
        due = (nxt - step) * float(batch) / run.images_per_s
        waited = (now - last_point_at).total_seconds() if last_point_at else 0.0
        parts[-1] += f" (~{fmt.duration(max(0.0, due - waited))})"
    if last_point_at is not None:
        parts.append(f"last {fmt.duration(max(0.0, (now - last_point_at).total_seconds()))} ago")
    return Text(" · ".join(parts), style="dim", no_wrap=True, overflow="ellipsis")


class ProgressHeader(Vertical):
    run: reactive[RunDetail | None] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.now: datetime = fmt.utc_now()
        self.last_point_at: datetime | None = None  # when the screen last saw a new step

    def compose(self) -> ComposeResult:
        yield Static(id="live-title")
        with Horizontal(id="live-progress-row"):
            yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="live-bar")
            yield Static(id="live-eta")
        yield Static(id="live-facts")
        yield Static(id="live-pulse")

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
        # With no total an ended run would pulse "--%" for ever: it will not move again.
        bar.display = bool(run.total_steps) or run.status in fmt.ACTIVE
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
        self.query_one("#live-pulse", Static).update(
            pulse_line(run, self.now, self.last_point_at, self.size.width - 2))
