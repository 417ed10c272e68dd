"""New run form: every setting, validated inline with the CLI's own rules.

The rows are generated from the field table in ``engine.config``, so the form
has every field the CLI has. Text is parsed with ``parse_field`` and checked
with ``validate_field``: the form refuses exactly what ``cifar-tui queue``
refuses, in the same words. A list or a range in a field makes a sweep, read and
refused as `cifar-tui sweep` does (tui/sweep_form.py), and queued with its rows.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from engine.config import (
    PRESETS,
    ConfigError,
    RunConfig,
    config_from_preset,
    parse_field,
    validate_field,
)
from engine.paths import downloads_allowed, find_batches_dir, pinned_data_dir, resolve_data_dir
from engine.sweep_spec import SweepSpec
from tui import form_memory
from tui import sweep_form as sf
from tui.context import context_of
from tui.devices import device_check
from tui.form_fields import (  # noqa: F401 (as_text, parse_tags: this module's API)
    BOTH,
    NO_PRESET,
    ROWS,
    TAGS,
    TEXT_ROWS,
    as_text,
    field_row,
    parse_tags,
    tags_row,
)
from tui.jobs import job
from tui.messages import RunQueued
from tui.screens.confirm import ConfirmDialog
from tui.widgets.keys_footer import KeysFooter


class NewRunScreen(sf.SweepForm, Screen[int | None]):
    """Dismisses with the queued run's id, or None for a sweep or when left with escape."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Queue run", priority=True),
        Binding("escape", "back", "Back"),
        # A stray q on a select must not throw away a half-filled form; ctrl+q still quits.
        Binding("q", "stay", show=False),
    ]

    def action_stay(self) -> None:
        self.notify("q does not quit from the form: esc goes back, ctrl+q quits", timeout=3)

    @dataclass
    class SourceLoaded(Message):
        config: dict[str, Any]

    def __init__(self, source_run: int | None = None, collect_first: bool = False) -> None:
        super().__init__()
        self.source_run = source_run
        # Built ahead after another form closed: collect that one (cyclic garbage) once this
        # is built, before the user can press a key, not in a full collection on a key.
        self.collect_first = collect_first
        self.errors: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self.touched: set[str] = set()  # fields the user changed: a preset keeps them
        self.filled: dict[str, Any] = {}  # each field's value as last filled in
        self._filling = False
        self.entries: dict[str, sf.Entry] = {}  # each checked field's value, list or range
        self.sweeping: set[str] = set()  # fields holding a list or a range
        self.plan: SweepSpec | None = None  # the sweep the form would queue now
        self.method_auto = False  # the method was set to tpe for a range, not by the user
        self.composed = False  # mounted and filled in
        self.shown = False  # on screen at least once

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="form-title")
        with VerticalScroll(id="form"):
            with Horizontal(classes="field"):
                yield Label("preset", classes="field-label")
                yield Select([(p, p) for p in (*PRESETS, NO_PRESET)], value="seed",
                             allow_blank=False, id="preset", compact=True)
            for spec in ROWS:
                yield from field_row(spec)
                if spec.name == "name":  # tags sit with the name: both only label the run
                    yield from tags_row()
            yield from sf.sweep_box()
            with Horizontal(id="form-buttons"):
                yield Button("Queue run  ^s", variant="primary", id="queue", compact=True)
                yield Button("Cancel  esc", id="back", compact=True)
        yield Static(id="form-summary")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.fill(config_from_preset("seed"))
        if self.source_run is None:
            self._fill_remembered()
        self.query_one("#f-name", Input).focus()
        if self.collect_first:
            gc.collect()
        self.composed = True
        if self.source_run is not None:
            self._load_source(self.source_run)

    def duplicate(self, run_id: int) -> None:
        """Prefill from a stored run; a form built ahead (``CifarTui.prepare_form``) is
        already mounted, so it retitles itself and loads the run now."""
        self.source_run = run_id
        if self.composed:
            self.query_one("#form-title", Static).update(self.title_text())
            self._load_source(run_id)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown the first time: a form built ahead re-reads what may have changed since
        (the folder remembered by another form, the data on disk)."""
        if self.shown:
            return  # back from the discard question: keep what was typed
        self.shown = True
        # Styled as it was mounted: Textual's restyling of all ~150 widgets on show (which
        # runs after this handler) would repeat that work, a third of the time to show it.
        event.refresh_styles = False
        if self.source_run is None and "data_dir" not in self.touched:
            self._fill_remembered()

    def _fill_remembered(self) -> None:
        remembered = form_memory.last_data_dir()
        if remembered and remembered != self.filled.get("data_dir"):
            with self.prevent(Input.Changed):
                self.query_one("#f-data_dir", Input).value = self.filled["data_dir"] = remembered
        self.check("data_dir")

    def title_text(self) -> str:
        return f"New run (duplicate of #{self.source_run})" if self.source_run else "New run"

    @job("form-load")
    def _load_source(self, run_id: int) -> None:
        self.post_message(self.SourceLoaded(context_of(self).store.get_run(run_id).config))

    @on(SourceLoaded)
    def _source_loaded(self, event: SourceLoaded) -> None:
        config = RunConfig.from_dict(event.config)
        self.fill(config.replace(name=None))
        with self.prevent(Select.Changed):
            chosen = config.preset if config.preset in PRESETS else NO_PRESET
            self.query_one("#preset", Select).value = chosen

    # -- filling and reading ----------------------------------------------------
    def fill(self, config: RunConfig, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Put a config's values into every field but ``keep`` (a preset or a duplicate)."""
        self._filling = True
        # Changed messages land after this returns: they must not count as the user's edits.
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            for spec in ROWS:
                if spec.name in keep:
                    continue
                value = getattr(config, spec.name)
                widget = self.query_one(f"#f-{spec.name}")
                if isinstance(widget, Input):
                    value = as_text(value)
                elif spec.kind is bool:
                    value = bool(value)
                    self.query_one(f"#{BOTH}{spec.name}", Checkbox).value = False
                widget.value = self.filled[spec.name] = value  # type: ignore[attr-defined]
        self._filling = False
        self._sync_momentum()
        self.validate_all()

    def _sync_momentum(self) -> None:
        """Momentum and Nesterov only mean something to sgd: grey them out otherwise."""
        sgd = "sgd" in str(self.query_one("#f-optimizer", Select).value).split(",")
        self.query_one("#f-momentum").disabled = not sgd
        self.query_one(f"#{BOTH}nesterov").disabled = not sgd  # its own box follows
        self._sync_both()

    def _sync_both(self) -> None:
        """An on/off field whose "both" box is ticked is a sweep: its own box greys out."""
        for spec in ROWS:
            if spec.kind is bool:
                both = self.query_one(f"#{BOTH}{spec.name}", Checkbox)
                sweeps = both.value and not both.disabled
                self.query_one(f"#f-{spec.name}").disabled = sweeps or both.disabled
                (self.sweeping.add if sweeps else self.sweeping.discard)(spec.name)

    @property
    def changed(self) -> bool:
        return bool(self.touched) or bool(self.query_one(f"#f-{TAGS}", Input).value.strip())

    def read_field(self, name: str) -> Any:
        """The field's parsed value; raises ValueError with the CLI's message."""
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Input):
            value = parse_field(name, widget.value)
        else:
            value = widget.value  # type: ignore[attr-defined]
        problem = validate_field(name, value)
        if problem:
            raise ValueError(problem)
        return value

    def read_tags(self) -> list[str]:
        return parse_tags(self.query_one(f"#f-{TAGS}", Input).value)

    def validate_all(self) -> None:
        for name in (*TEXT_ROWS, TAGS):
            self.check(name)

    def check(self, name: str) -> None:
        problem = None
        try:
            if name == TAGS:
                self.read_tags()
            else:
                text = str(self.query_one(f"#f-{name}").value)  # type: ignore[attr-defined]
                self.sweeping.discard(name)
                self.entries.pop(name, None)
                if sf.sweepable(name, text):
                    self.sweeping.add(name)
                self.entries[name] = sf.read_entry(name, text)
        except ValueError as exc:  # SweepSpecError too: a list's or a range's CLI words
            problem = str(exc)
        warning = None
        if name in ("data_dir", "dataset") and problem is None:
            problem, warning = self._data_problem()
            name = "data_dir"
        elif name == "device" and problem is None:
            problem, warning = device_check(self.entries["device"][1])
        self._show_error(name, problem, warning)

    def _data_problem(self) -> tuple[str | None, str | None]:
        """(problem, warning): the CLI's check, and a warning when the data must be fetched
        first (the run downloads it, and fails if this machine is offline)."""
        if "dataset" not in self.entries or "data_dir" not in self.entries:
            return None, None
        problem = sf.data_problem(self.entries)
        datasets, data_dir = sf.datasets_of(self.entries), self.entries["data_dir"][1]
        if problem or "cifar10" not in datasets:
            return problem, None
        root = resolve_data_dir(data_dir)
        if find_batches_dir(root) is None and downloads_allowed():
            return None, f"no CIFAR-10 in {root} yet: the run downloads it first (~170 MB)"
        return None, None

    def _show_error(self, name: str, problem: str | None, warning: str | None = None) -> None:
        for table, text in ((self.errors, problem), (self.warnings, warning)):
            if text:
                table[name] = text
            else:
                table.pop(name, None)
        error = self.query_one(f"#e-{name}", Static)
        error.update(problem or warning or "")
        error.set_class(bool(problem or warning), "shown")
        error.set_class(bool(warning and not problem), "warning")
        self.query_one(f"#f-{name}").set_class(bool(problem), "invalid")
        self._show_summary()

    def _show_summary(self) -> None:
        self._replan()
        summary = self.query_one("#form-summary", Static)
        count = len(self.errors)
        if count:
            summary.update(f"{count} field{'s' if count != 1 else ''} to fix")
        elif self.plan is not None:
            summary.update(f"{sf.plan_text(self.plan)} · ctrl+s queues")
        elif self.warnings:
            summary.update(f"check: {next(iter(self.warnings.values()))} · ctrl+s queues")
        else:
            summary.update("ready: enter or ctrl+s queues the run")
        summary.set_class(bool(count), "has-errors")
        summary.set_class(not count and bool(self.warnings), "has-warnings")

    def build_config(self) -> RunConfig:
        preset = self.query_one("#preset", Select).value
        values = {spec.name: self.read_field(spec.name) for spec in ROWS}
        chosen = None if preset == NO_PRESET else str(preset)
        config = RunConfig(preset=chosen, **values).validate()
        return config.replace(data_dir=pinned_data_dir(config.dataset, config.data_dir))

    # -- events -----------------------------------------------------------------
    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value == NO_PRESET or self._filling:
            return
        preset = str(event.value)
        # The preset sets its own fields; what the user typed elsewhere (name, data dir,
        # limit...) stays.
        keep = (self.touched | {"name", "data_dir"}) - set(PRESETS[preset])
        self.fill(config_from_preset(preset), keep=keep)
        self.touched -= set(PRESETS[preset])

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        widget_id = event.control.id or ""
        if widget_id.startswith(BOTH) and not self._filling:
            name = widget_id.removeprefix(BOTH)
            main = self.query_one(f"#f-{name}", Checkbox).value
            edited = event.value or main != self.filled.get(name)
            (self.touched.add if edited else self.touched.discard)(name)
            self._sync_both()
            self._show_summary()
        elif widget_id.startswith("f-") and not self._filling:
            # A select says Changed once mounted: only a value unlike the filled one is an edit.
            name = widget_id[2:]
            if event.value == self.filled.get(name, object()):
                self.touched.discard(name)
            else:
                self.touched.add(name)
            if widget_id == "f-optimizer":
                self._sync_momentum()
            if not isinstance(event, Checkbox.Changed):
                self.check(name)
        elif widget_id.startswith("s-") and not self._filling:
            # Only another method than the one a range picked is the user's choice.
            self.method_auto = self.method_auto and not (
                widget_id == "s-method" and event.value != "tpe")
            self._show_summary()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A dropdown opens below its select: centred, it has room above the footer at 80x24.
        if isinstance(event.widget, Select) and event.widget.id != "preset":
            self.query_one("#form", VerticalScroll).scroll_to_center(event.widget, animate=False)

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()  # enter queues like ctrl+s; with problems it shows the first

    def action_back(self) -> None:
        """esc: leave, asking first when something was typed."""
        if not self.changed:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDialog("Discard this new run? What you typed is lost.",
                                           yes="Discard"), answered)

    @on(Button.Pressed, "#queue")
    def action_submit(self) -> None:
        self.validate_all()
        if self.errors:
            first = next(iter(self.errors))
            widget = self.problem_widget(first)
            widget.focus()
            widget.scroll_visible()
            self.notify(self.errors[first], title="Not queued", severity="error")
            return
        if self.plan is not None:
            self._submit_sweep(self.plan)
            return
        try:
            config = self.build_config()
            tags = self.read_tags()
        except (ValueError, ConfigError) as exc:
            self.notify(str(exc), title="Not queued", severity="error")
            return
        typed_dir = bool(self.query_one("#f-data_dir", Input).value.strip())
        self._queue(config, tags, remember=typed_dir and config.dataset == "cifar10")

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.action_back()

    @job("form-queue")
    def _queue(self, config: RunConfig, tags: list[str], remember: bool = False) -> None:
        from storage import leases  # here: it imports SQLAlchemy, the first frame must not

        ctx = context_of(self)
        run_id = ctx.store.create_run(config, name=config.name, tags=tags,
                                      max_retries=leases.DEFAULT_RETRIES)
        if remember and config.data_dir:
            form_memory.remember_data_dir(config.data_dir)  # prefilled next time
        pid = None if ctx.worker_alive() else ctx.start_worker(ctx.store.url)
        self.app.call_from_thread(self._queued, run_id, pid)

    def _queued(self, run_id: int, pid: int | None) -> None:
        self.app.post_message(RunQueued(run_id, pid))
        self.dismiss(run_id)
