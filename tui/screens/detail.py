"""Run detail: config, final metrics, what the machine did while it ran, per-class
accuracy, confusion grid, errors, checkpoints, and editable notes and tags."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from engine.events import SystemSample
from storage.errors import EditConflict, RunNotFound
from storage.records import RunDetail
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.messages import (
    DuplicateRequested,
    OpenRequested,
    RunChanged,
)
from tui.screens.run_keys import RunControlScreen, write_report
from tui.screens.system import run_system_table
from tui.widgets.confusion_grid import ConfusionGrid
from tui.widgets.keys_footer import KeysFooter

STACK_BELOW = 112  # columns: per-class bars (~40) and the confusion grid (66) side by side
SAMPLES_EVERY_S = 5.0  # the worker samples every 5 s: rereading them more often finds nothing


def config_table(run: RunDetail) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    for key, value in run.config.items():
        table.add_row(key, "–" if value is None else str(value))
    return table


def metrics_table(run: RunDetail) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("status", Text(run.status, style=fmt.STATUS_COLOURS.get(run.status, ""))),
        ("best val acc", fmt.pct(run.best_val_acc, 2)),
        ("final val acc", fmt.pct(run.final_val_acc, 2)),
        ("test acc", fmt.pct(run.test_acc, 2)),
        ("test loss", fmt.num(run.test_loss)),
        ("epochs", fmt.epochs_progress(run.current_epoch, run.epochs)),
        ("duration", fmt.duration(run.duration_s)),
        ("images/s", fmt.num(run.images_per_s, ",.0f")),
        ("device", run.device or "–"),
        ("host", run.host or "–"),
        ("parameters", fmt.num(run.num_params, ",d") if run.num_params is not None else "–"),
        ("created", run.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    jobs = slurm_jobs(run)
    if jobs:  # trained on a Slurm cluster (`cifar-tui slurm`): which jobs, oldest first
        rows.append(("slurm", ", ".join(f"slurm job {j}" for j in jobs)))
    for kind in ("best", "last"):
        rows.append((f"checkpoint {kind}", run.checkpoints.get(kind, "–")))
    for key, value in rows:
        table.add_row(key, value)
    return table


def per_class_table(run: RunDetail) -> Table | Text:
    if not run.per_class_acc:
        return Text("no per-class accuracy yet", style="italic")
    names = run.class_names or [str(i) for i in range(len(run.per_class_acc))]
    table = Table(box=None, show_header=False, padding=(0, 1))
    for name, acc in zip(names, run.per_class_acc, strict=False):
        bar = "█" * int(round(acc * 20))
        colour = "green" if acc >= 0.8 else "yellow" if acc >= 0.5 else "red"
        table.add_row(name, fmt.pct(acc), Text(bar, style=colour))
    return table


def slurm_job_of(worker_id: str | None) -> str | None:
    """The Slurm job id a worker id carries (``host:pid:device[#slot]@slurm:JOB``), or None."""
    from worker.launcher import parse_worker_id

    parsed = parse_worker_id(worker_id)
    return parsed.slurm_job if parsed is not None else None


def slurm_jobs(run: RunDetail) -> list[str]:
    """The Slurm jobs that trained this run, once each, in the order of its attempts."""
    ids = [slurm_job_of(a.worker_id) for a in run.attempts] + [slurm_job_of(run.worker_id)]
    return list(dict.fromkeys(j for j in ids if j))


def attempts_lines(run: RunDetail) -> list[Text]:
    """One line per try, only when there were several: how each ended and why."""
    if len(run.attempts) < 2:
        return []
    lines = []
    for a in run.attempts:
        outcome = a.outcome or "running"
        lines.append(Text.assemble(
            f"attempt {a.attempt}: ", (outcome, fmt.STATUS_COLOURS.get(outcome, "")),
            f" on {a.host or '?'} {a.device or ''}".rstrip(),
            f" (slurm job {job})" if (job := slurm_job_of(a.worker_id)) else "",
            (f" · {a.reason}" if a.reason else "", "dim")))
    return lines


def error_text(run: RunDetail) -> Text | None:
    """The error, the attempts' outcomes and the traceback, shown first on a failed run."""
    parts = attempts_lines(run)
    if run.error:
        parts.insert(0, Text.assemble(("Error: ", "bold red"), run.error))
    if run.traceback:
        parts.append(Text(run.traceback.rstrip(), style="dim"))
    return Text("\n").join(parts) if parts else None


class RunDetailScreen(RunControlScreen):
    DEFAULT_CSS = "#detail-system-title { margin-top: 1; }"  # apart from the results above
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("D", "duplicate", "Duplicate"),
        Binding("l", "live", "Live"),
        Binding("x", "cancel_run", "Cancel run"),
        # Kept out of the crowded footer (help and the palette list them; home's status
        # line points at w when queued runs have no worker).
        Binding("R", "resume_run", "Resume a stopped run", show=False),
        Binding("delete", "delete_run", "Delete run", key_display="del", show=False),
        Binding("w", "app.workers", "Workers", show=False),
        Binding("L", "run_log", "Run log (train.log, following)", show=False),
        Binding("o", "write_report", "Write an HTML report (plots, results, config)",
                show=False),
        Binding("e", "edit_notes", "Notes"),
        Binding("t", "edit_tags", "Tags"),
    ]
    FOOTER_IF_ROOM = {"write_report": "Report", "run_log": "Log", "resume_run": "Resume",
                      "delete_run": "Delete", "app.workers": "Workers"}  # as wide allows

    @dataclass
    class Loaded(Message):
        """The run as read from the store. ``saved`` names the fields a save just wrote
        (their inputs take the stored value whatever was typed); ``tickets`` are the
        per-field save counts when the read began, so an older read never undoes a save."""

        run: RunDetail
        tickets: dict[str, int]
        saved: tuple[str, ...] = ()
        samples: list[SystemSample] | None = None  # None: not reread this time

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunDetail | None = None
        # What each input was last filled with from the store: the base an edit is diffed
        # against (tags) or whose version it sends (notes).
        self.shown: dict[str, str] = {"notes": "", "tags": ""}
        self.shown_tags: tuple[str, ...] = ()
        self.notes_version = 0
        self.saves_done: dict[str, int] = {"notes": 0, "tags": 0}
        self.timer: Timer | None = None
        self.deleted = False  # told once that the run was deleted elsewhere
        # When the system samples were last read and whether the run was active then
        # (written only by the load job, which never runs twice at once).
        self.samples_read: tuple[float, bool] | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Run #{self.run_id}", id="detail-title")
        with VerticalScroll(id="detail"):
            yield Static(id="detail-error")  # first: at 80x24 it is what a failed run is about
            with Horizontal(id="detail-top"):
                with Vertical(classes="panel"):
                    yield Label("Results", classes="panel-title")
                    yield Static(id="detail-metrics")
                    # Under the results, beside the long config: no row lower at 80x24.
                    yield Label("System while it ran", classes="panel-title",
                                id="detail-system-title")
                    yield Static(Text("…", style="dim"), id="detail-system")
                with Vertical(classes="panel"):
                    yield Label("Config", classes="panel-title")
                    yield Static(id="detail-config")
            with Horizontal(classes="field"):
                yield Label("notes", classes="field-label")
                yield Input(placeholder="notes (enter saves)", id="notes", compact=True)
            with Horizontal(classes="field"):
                yield Label("tags", classes="field-label")
                yield Input(placeholder="comma-separated (enter saves)", id="tags", compact=True)
            with Horizontal(id="detail-classes"):
                with Vertical(classes="panel", id="per-class-panel"):
                    yield Label("Per-class accuracy", classes="panel-title")
                    yield Static(id="detail-per-class")
                with Vertical(classes="panel", id="confusion-panel"):
                    yield Label("Confusion matrix", classes="panel-title")
                    yield ConfusionGrid(id="detail-confusion")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail").focus()
        self.load()
        interval = context_of(self).poll_interval
        if interval:  # notes, tags and results may change in another window or process
            self.timer = self.set_interval(interval, self.load)

    def on_resize(self) -> None:
        # Side by side the confusion grid (66 columns) would wrap: stack the two panels.
        self.query_one("#detail-classes").set_class(self.size.width < STACK_BELOW, "stacked")

    def load(self) -> None:
        self._load(dict(self.saves_done))

    @job("detail-load")
    def _load(self, tickets: dict[str, int]) -> None:
        store = context_of(self).store
        try:
            run = store.get_run(self.run_id)
            due = self._samples_due(run.status)
            samples = store.get_system_samples(self.run_id) if due else None
        except RunNotFound:
            if self.timer is None and not self.deleted:
                raise  # not polling: the App tells it once
            if not self.deleted:  # a poll already in flight when it was told stays quiet
                self.app.call_from_thread(self._gone)  # once, not on every poll
            return
        if get_current_worker().is_cancelled:
            return  # a newer load reads them
        if due:
            self.samples_read = (time.monotonic(), run.status in fmt.ACTIVE)
        self.post_message(self.Loaded(run, tickets, samples=samples))

    def _samples_due(self, status: str) -> bool:
        """Read once for an ended run; while it runs every few seconds, and once more after
        it ends, for the last samples."""
        if self.samples_read is None:
            return True
        when, was_active = self.samples_read
        if not was_active:
            return False
        return status not in fmt.ACTIVE or time.monotonic() - when >= SAMPLES_EVERY_S

    def _gone(self) -> None:
        self.deleted = True
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
            self.notify(f"Run #{self.run_id} was deleted elsewhere; escape goes back.",
                        severity="warning", timeout=10)

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        run = self.run = event.run
        self.query_one("#detail-title", Static).update(Text.assemble(
            (f"Run #{run.id} {run.name}  ", "bold"),
            (run.status, fmt.STATUS_COLOURS.get(run.status, "")),
            f"  {run.model} · {run.dataset}",
        ))
        self.query_one("#detail-metrics", Static).update(metrics_table(run))
        self.query_one("#detail-config", Static).update(config_table(run))
        if event.samples is not None:
            self.query_one("#detail-system", Static).update(run_system_table(event.samples))
        error = self.query_one("#detail-error", Static)
        shown = error_text(run)
        if shown is not None:
            error.update(shown)
        error.display = shown is not None
        if self._may_show(event, "notes", run.notes or ""):
            self.notes_version = run.notes_version
        if self._may_show(event, "tags", ", ".join(run.tags)):
            self.shown_tags = run.tags
        self.query_one("#detail-per-class", Static).update(per_class_table(run))
        self.query_one(ConfusionGrid).show(run.confusion, run.class_names)

    def _may_show(self, event: Loaded, field: str, value: str) -> bool:
        """Put the stored value in the field's input unless that would lose the user's
        work: the input has focus or holds an unsaved edit, or the read predates a save."""
        if field in event.saved:
            self.saves_done[field] += 1
        elif event.tickets[field] != self.saves_done[field]:
            return False
        box = self.query_one(f"#{field}", Input)
        if field not in event.saved and (box.has_focus or box.value != self.shown[field]):
            return False
        box.value = self.shown[field] = value
        return True

    # -- notes and tags: each a single store operation, never "write everything" ------
    @on(Input.Submitted, "#notes")
    def _save_notes(self, event: Input.Submitted) -> None:
        self.query_one("#detail").focus()  # hand the keys back to the screen
        if self.run is not None and event.value.strip() != self.shown["notes"].strip():
            self._store_note(event.value, self.notes_version, dict(self.saves_done))

    @on(Input.Submitted, "#tags")
    def _save_tags(self, event: Input.Submitted) -> None:
        self.query_one("#detail").focus()
        if self.run is None:
            return
        wanted = list(dict.fromkeys(t.strip() for t in event.value.split(",") if t.strip()))
        added = [t for t in wanted if t not in self.shown_tags]
        removed = [t for t in self.shown_tags if t not in wanted]
        if added or removed:
            self._store_tags(added, removed, dict(self.saves_done))

    @job("detail-notes")
    def _store_note(self, text: str, version: int, tickets: dict[str, int]) -> None:
        store = context_of(self).store
        try:
            store.set_note(self.run_id, text, expected_version=version)
        except EditConflict as exc:
            # Nothing was written; show the stored note and keep the user's text in sight.
            self.post_message(self.Loaded(store.get_run(self.run_id), tickets, ("notes",)))
            mine = text if len(text) <= 60 else text[:59] + "…"
            self.app.call_from_thread(self.notify, f"{exc} (your text: {mine!r})",
                                      title="Not saved", severity="warning", timeout=15,
                                      markup=False)  # the user's text is not markup
            return
        self._saved(store.get_run(self.run_id), tickets, "notes", "Note saved.")

    @job("detail-tags")
    def _store_tags(self, added: list[str], removed: list[str], tickets: dict[str, int]) -> None:
        """Only the tags this edit added or removed: a tag changed elsewhere stays changed."""
        store = context_of(self).store
        for tag in removed:
            store.remove_tag(self.run_id, tag)
        for tag in added:
            store.add_tag(self.run_id, tag)
        self._saved(store.get_run(self.run_id), tickets, "tags", "Tags saved.")

    def _saved(self, run: RunDetail, tickets: dict[str, int], field: str, words: str) -> None:
        self.post_message(self.Loaded(run, tickets, (field,)))
        self.app.post_message(RunChanged(self.run_id))
        self.app.call_from_thread(self.notify, words)

    def action_edit_notes(self) -> None:
        self.query_one("#notes", Input).focus()

    def action_edit_tags(self) -> None:
        self.query_one("#tags", Input).focus()

    def action_duplicate(self) -> None:
        self.post_message(DuplicateRequested(self.run_id))

    def action_live(self) -> None:
        self.post_message(OpenRequested(self.run_id, "live"))

    def action_write_report(self) -> None:
        write_report(self, [self.run_id])
