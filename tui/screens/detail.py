"""Run detail: config, final metrics, per-class accuracy, confusion grid, errors,
checkpoints, and editable notes and tags."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from storage.records import RunDetail
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.messages import CancelRequested, DuplicateRequested, OpenRequested, RunChanged
from tui.widgets.confusion_grid import ConfusionGrid


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


class RunDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("D", "duplicate", "Duplicate"),
        Binding("l", "live", "Live"),
        Binding("x", "cancel_run", "Cancel run"),
        Binding("e", "edit_notes", "Notes"),
        Binding("t", "edit_tags", "Tags"),
    ]

    @dataclass
    class Loaded(Message):
        run: RunDetail

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Run #{self.run_id}", id="detail-title")
        with VerticalScroll(id="detail"):
            with Horizontal(id="detail-top"):
                with Vertical(classes="panel"):
                    yield Label("Results", classes="panel-title")
                    yield Static(id="detail-metrics")
                with Vertical(classes="panel"):
                    yield Label("Config", classes="panel-title")
                    yield Static(id="detail-config")
            yield Static(id="detail-error")
            with Horizontal(classes="field"):
                yield Label("notes", classes="field-label")
                yield Input(placeholder="notes (enter saves)", id="notes", compact=True)
            with Horizontal(classes="field"):
                yield Label("tags", classes="field-label")
                yield Input(placeholder="comma-separated (enter saves)", id="tags", compact=True)
            with Horizontal(id="detail-classes"):
                with Vertical(classes="panel"):
                    yield Label("Per-class accuracy", classes="panel-title")
                    yield Static(id="detail-per-class")
                with Vertical(classes="panel"):
                    yield Label("Confusion matrix", classes="panel-title")
                    yield ConfusionGrid(id="detail-confusion")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail").focus()
        self.load()

    @job("detail-load")
    def load(self) -> None:
        self.post_message(self.Loaded(context_of(self).store.get_run(self.run_id)))

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
        error = self.query_one("#detail-error", Static)
        if run.error or run.traceback:
            error.update(Text.assemble(("Error: ", "bold red"), run.error or "", "\n",
                                       (run.traceback or "", "dim")))
        error.display = bool(run.error or run.traceback)
        self.query_one("#notes", Input).value = run.notes or ""
        self.query_one("#tags", Input).value = ", ".join(run.tags)
        self.query_one("#detail-per-class", Static).update(per_class_table(run))
        self.query_one(ConfusionGrid).show(run.confusion, run.class_names)

    # -- notes and tags ---------------------------------------------------------
    @on(Input.Submitted, "#notes")
    @on(Input.Submitted, "#tags")
    def _save(self) -> None:
        self.query_one("#detail").focus()  # hand the keys back to the screen
        if self.run is None:
            return
        wanted = [t.strip() for t in self.query_one("#tags", Input).value.split(",") if t.strip()]
        notes = self.query_one("#notes", Input).value
        self._save_annotations(notes, list(dict.fromkeys(wanted)), list(self.run.tags))

    @job("detail-save")
    def _save_annotations(self, notes: str, tags: list[str], old_tags: list[str]) -> None:
        store = context_of(self).store
        store.set_note(self.run_id, notes)
        for tag in old_tags:
            if tag not in tags:
                store.remove_tag(self.run_id, tag)
        for tag in tags:
            if tag not in old_tags:
                store.add_tag(self.run_id, tag)
        run = store.get_run(self.run_id)
        self.post_message(self.Loaded(run))
        self.app.post_message(RunChanged(self.run_id))
        self.app.call_from_thread(self.notify, "Notes and tags saved.")

    def action_edit_notes(self) -> None:
        self.query_one("#notes", Input).focus()

    def action_edit_tags(self) -> None:
        self.query_one("#tags", Input).focus()

    def action_duplicate(self) -> None:
        self.post_message(DuplicateRequested(self.run_id))

    def action_live(self) -> None:
        self.post_message(OpenRequested(self.run_id, "live"))

    def action_cancel_run(self) -> None:
        self.post_message(CancelRequested(self.run_id))
