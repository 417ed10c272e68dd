"""New run form: every setting, validated inline with the CLI's own rules.

Text is parsed with ``parse_field`` and checked with ``validate_field``, so the
form refuses exactly what ``cifar-tui queue`` refuses, in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from engine.config import (
    CLIP_MODES,
    DATASETS,
    MODELS,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    ConfigError,
    RunConfig,
    config_from_preset,
    parse_field,
    validate_field,
)
from engine.paths import data_folder_problem
from tui.context import context_of
from tui.jobs import job
from tui.messages import RunQueued

# (field, label, choices or None for free text); the order is the form's order.
FIELDS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("name", "name", None),
    ("model", "model", MODELS),
    ("epochs", "epochs", None),
    ("batch_size", "batch size", None),
    ("max_lr", "max lr", None),
    ("pct_start", "pct start", None),
    ("schedule", "schedule", SCHEDULES),
    ("optimizer", "optimizer", OPTIMIZERS),
    ("momentum", "momentum", None),
    ("weight_decay", "weight decay", None),
    ("grad_clip", "grad clip (0=off)", None),
    ("grad_clip_mode", "clip mode", CLIP_MODES),
    ("label_smoothing", "label smoothing", None),
    ("width_mult", "width", None),
    ("dataset", "dataset", DATASETS),
    ("data_dir", "data dir", None),
    ("val_fraction", "val fraction", None),
    ("limit_train", "limit train", None),
    ("device", "device", None),
    ("seed", "seed", None),
)
SWITCHES = (("augment", "augment"), ("tta", "test-time augmentation"))
NO_PRESET = "none"


def as_text(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class NewRunScreen(Screen[int | None]):
    """Dismisses with the queued run's id, or None when left with escape."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Queue run", priority=True),
        Binding("escape", "app.pop_screen", "Back"),
        # A stray q on a select must not throw away a half-filled form; ctrl+q still quits.
        Binding("q", "stay", show=False),
    ]

    def action_stay(self) -> None:
        self.notify("q does not quit from the form: esc goes back, ctrl+q quits", timeout=3)

    @dataclass
    class SourceLoaded(Message):
        config: dict[str, Any]

    def __init__(self, source_run: int | None = None) -> None:
        super().__init__()
        self.source_run = source_run
        self.errors: dict[str, str] = {}
        self._filling = False

    def compose(self) -> ComposeResult:
        title = f"New run (duplicate of #{self.source_run})" if self.source_run else "New run"
        yield Static(title, id="form-title")
        with VerticalScroll(id="form"):
            with Horizontal(classes="field"):
                yield Label("preset", classes="field-label")
                yield Select([(p, p) for p in (*PRESETS, NO_PRESET)], value="seed", allow_blank=False,
                             id="preset", compact=True)
            for name, label, choices in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    if choices is None:
                        yield Input(id=f"f-{name}", compact=True)
                    else:
                        yield Select([(c, c) for c in choices], allow_blank=False, id=f"f-{name}", compact=True)
                yield Static(id=f"e-{name}", classes="field-error")
            with Horizontal(classes="field"):
                for name, label in SWITCHES:
                    yield Checkbox(label, id=f"f-{name}", compact=True)
            with Horizontal(id="form-buttons"):
                yield Button("Queue run  ^s", variant="primary", id="queue", compact=True)
                yield Button("Cancel  esc", id="back", compact=True)
        yield Static(id="form-summary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.fill(config_from_preset("seed"))
        self.query_one("#f-name", Input).focus()
        if self.source_run is not None:
            self._load_source(self.source_run)

    @job("form-load")
    def _load_source(self, run_id: int) -> None:
        self.post_message(self.SourceLoaded(context_of(self).store.get_run(run_id).config))

    @on(SourceLoaded)
    def _source_loaded(self, event: SourceLoaded) -> None:
        config = RunConfig.from_dict(event.config)
        self.fill(config.replace(name=None))
        with self.prevent(Select.Changed):
            self.query_one("#preset", Select).value = config.preset if config.preset in PRESETS else NO_PRESET

    # -- filling and reading ----------------------------------------------------
    def fill(self, config: RunConfig) -> None:
        """Put a config's values into every field (a preset choice or a duplicate)."""
        self._filling = True
        for name, _, choices in FIELDS:
            value = getattr(config, name)
            if choices is None:
                self.query_one(f"#f-{name}", Input).value = as_text(value)
            else:
                self.query_one(f"#f-{name}", Select).value = value
        for name, _ in SWITCHES:
            self.query_one(f"#f-{name}", Checkbox).value = bool(getattr(config, name))
        self._filling = False
        self.validate_all()

    def read_field(self, name: str) -> Any:
        """The field's parsed value; raises ValueError with the CLI's message."""
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Input):
            value = parse_field(name, widget.value)
            if name == "name":
                value = (value or "").strip() or None
        else:
            value = widget.value  # type: ignore[attr-defined]
        problem = validate_field(name, value)
        if problem:
            raise ValueError(problem)
        return value

    def validate_all(self) -> None:
        for name, _, _ in FIELDS:
            self.check(name)

    def check(self, name: str) -> None:
        try:
            self.read_field(name)
            problem = None
        except ValueError as exc:
            problem = str(exc)
        if name in ("data_dir", "dataset") and problem is None:
            problem = self._data_problem()
            name = "data_dir"
        self._show_error(name, problem)

    def _data_problem(self) -> str | None:
        try:
            return data_folder_problem(self.read_field("dataset"), self.read_field("data_dir"))
        except ValueError:
            return None

    def _show_error(self, name: str, problem: str | None) -> None:
        if problem:
            self.errors[name] = problem
        else:
            self.errors.pop(name, None)
        error = self.query_one(f"#e-{name}", Static)
        error.update(problem or "")
        error.set_class(bool(problem), "shown")
        self.query_one(f"#f-{name}").set_class(bool(problem), "invalid")
        summary = self.query_one("#form-summary", Static)
        count = len(self.errors)
        summary.update(f"{count} field{'s' if count != 1 else ''} to fix" if count else "ready: ctrl+s queues the run")
        summary.set_class(bool(count), "has-errors")

    def build_config(self) -> RunConfig:
        preset = self.query_one("#preset", Select).value
        values = {name: self.read_field(name) for name, _, _ in FIELDS}
        values.update({name: self.query_one(f"#f-{name}", Checkbox).value for name, _ in SWITCHES})
        chosen = None if preset == NO_PRESET else str(preset)
        return RunConfig(preset=chosen, **values).validate()

    # -- events -----------------------------------------------------------------
    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value != NO_PRESET and not self._filling:
            self.fill(config_from_preset(str(event.value)))

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed) -> None:
        widget_id = event.control.id or ""
        if widget_id.startswith("f-") and not self._filling:
            self.check(widget_id[2:])

    @on(Button.Pressed, "#queue")
    def action_submit(self) -> None:
        self.validate_all()
        if self.errors:
            first = next(iter(self.errors))
            widget = self.query_one(f"#f-{first}")
            widget.focus()
            widget.scroll_visible()
            self.notify(self.errors[first], title="Not queued", severity="error")
            return
        try:
            config = self.build_config()
        except (ValueError, ConfigError) as exc:
            self.notify(str(exc), title="Not queued", severity="error")
            return
        self._queue(config)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)

    @job("form-queue")
    def _queue(self, config: RunConfig) -> None:
        ctx = context_of(self)
        run_id = ctx.store.create_run(config, name=config.name)
        pid = None if ctx.worker_alive() else ctx.start_worker(ctx.store.url)
        self.app.call_from_thread(self._queued, run_id, pid)

    def _queued(self, run_id: int, pid: int | None) -> None:
        self.app.post_message(RunQueued(run_id, pid))
        self.dismiss(run_id)
