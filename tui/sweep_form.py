"""The new-run form's sweeps: lists and ranges typed in its fields, and its sweep rows.

A field may hold what `cifar-tui queue`/`sweep` take on the command line: one value, a
list (``0.005,0.01,0.02``, ``adam,sgd``) or a range (``1e-3:1e-1:log``). Every text goes
through ``engine.sweep_spec``, so the form refuses a sweep in the CLI's own words and
queues the same ``SweepSpec`` the CLI would. A choice field offers its lists as extra
options of its select (tui/form_fields.py); an on/off field's "both" box queues it on
and off.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from engine.config import FIELDS, ConfigError, config_from_preset, parse_field, validate_field
from engine.paths import data_folder_problem, pinned_data_dir
from engine.sweep_spec import (
    METHODS,
    METRICS,
    SweepSpec,
    SweepSpecError,
    build_spec,
    parse_field_values,
)
from tui import form_memory
from tui.context import context_of
from tui.form_fields import BOTH, NO_PRESET, ROWS, both_entry
from tui.jobs import job
from tui.messages import RunChanged, WorkersChanged
from tui.screens.confirm import ConfirmDialog

Entry = tuple[str, Any]  # ("value", v) | ("values", (v, ...)) | ("range", ParamRange)
CONFIRM_ABOVE = 100  # as the CLI: more runs than this asks first
AUTO_GOAL = "auto"  # min for val_loss, else max (the CLI's default)
SWEEP_ERROR = "sweep"  # the key of a whole-sweep problem in the form's error table


def sweepable(name: str, text: str) -> bool:
    """Whether the text is a list or range the sweep syntax reads (free text never is:
    ``cuda:0`` and a folder with a colon stay one value)."""
    spec = FIELDS[name]
    listable = bool(spec.choices) or spec.kind in (int, float)
    return listable and ("," in text or ":" in text)


def read_entry(name: str, text: str) -> Entry:
    """A field's text as one value, a list or a range; ValueError (SweepSpecError for
    lists and ranges) with the CLI's words when it is refused."""
    spec = FIELDS[name]
    if sweepable(name, text):
        return parse_field_values(name, text)
    value = text if spec.choices else parse_field(name, text)
    if problem := validate_field(name, value):
        raise ValueError(problem)
    return "value", value


def is_sweep(entries: dict[str, Entry]) -> bool:
    return any(kind != "value" for kind, _ in entries.values())


def datasets_of(entries: dict[str, Entry]) -> tuple[str, ...]:
    kind, value = entries.get("dataset", ("value", "cifar10"))
    return tuple(value) if kind == "values" else (value,)


def data_problem(entries: dict[str, Entry]) -> str | None:
    """The CLI's data folder check, for each dataset a list names."""
    data_dir = entries.get("data_dir", ("value", None))[1]
    for dataset in datasets_of(entries):
        if problem := data_folder_problem(dataset, data_dir):
            return problem
    return None


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """What the sweep rows say, as text (checked by ``build_spec``)."""

    method: str = "grid"
    trials: str = ""
    metric: str = "val_acc"
    goal: str = AUTO_GOAL
    prune: bool = False
    repeat: str = "1"


def _whole(flag: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SweepSpecError(f"{flag} must be a whole number, got {text!r}") from None


def sweep_spec(entries: dict[str, Entry], preset: str | None, options: SweepOptions,
               name: str | None, tags: list[str]) -> SweepSpec:
    """The form's sweep: fields that differ from the preset (the preset fills the rest,
    so an untouched seed does not clash with repeat), the sweep rows, data folder pinned."""
    base = config_from_preset(preset)
    kept = {k: e for k, e in entries.items()
            if k != "name" and (e[0] != "value" or e[1] != getattr(base, k))}
    repeat = _whole("--repeat", options.repeat)
    spec = build_spec(kept, {
        "method": options.method, "metric": options.metric,
        "goal": None if options.goal == AUTO_GOAL else options.goal,
        "trials": _whole("--trials", options.trials), "prune": options.prune,
        "repeat": 1 if repeat is None else repeat, "preset": preset, "name": name or None,
        "tags": tuple(tags)})
    datasets = datasets_of(entries)
    pinned = pinned_data_dir("cifar10" if "cifar10" in datasets else datasets[0],
                             entries.get("data_dir", ("value", None))[1])
    if pinned is None:
        return spec
    fixed = {**spec.fixed, "data_dir": pinned}
    return dataclasses.replace(spec, fixed={k: fixed[k] for k in FIELDS if k in fixed})


def plan_text(spec: SweepSpec) -> str:
    """``this queues 6 runs (grid: 3 points x 2 seeds)``: the CLI's count, as a line."""
    runs, trials = spec.run_count(), spec.trial_count()
    what = "point" if spec.method == "grid" else "trial"
    seeds = f" x {spec.repeat} seeds" if spec.repeat > 1 else ""
    how = "" if spec.method == "grid" else ", asked one by one as workers free up"
    return (f"this queues {runs} run{'s' if runs != 1 else ''} ({spec.method}: {trials} "
            f"{what}{'s' if trials != 1 else ''}{seeds}{how})")


def has_range(entries: dict[str, Entry]) -> bool:
    return any(kind == "range" for kind, _ in entries.values())


def sweep_box() -> ComposeResult:
    """Where the sweep rows go, at the end of the form, and the sweep's error line. The rows
    themselves are mounted the first time a field holds a list or a range: composed with
    the form, their ~17 widgets were a quarter of its build (~45 ms of ~220 ms here)."""
    with Vertical(id="sweep"):
        yield Static(id=f"e-{SWEEP_ERROR}", classes="field-error")


def sweep_rows(method: str) -> ComposeResult:
    """The sweep's own settings, two to a row, so they take six lines at 80x24."""
    yield Static("Sweep: a list or a range in a field above, or a both box, makes one",
                 id="sweep-title")
    with Horizontal(classes="field sweep-pair"):
        yield Label("method", classes="field-label")
        yield Select([(m, m) for m in METHODS], value=method, allow_blank=False,
                     id="s-method", compact=True)
        yield Label("trials", classes="pair-label")
        yield Input(id="s-trials", placeholder="random/tpe: how many", compact=True)
    with Horizontal(classes="field sweep-pair"):
        yield Label("metric", classes="field-label")
        yield Select([(m, m) for m in METRICS], value="val_acc", allow_blank=False,
                     id="s-metric", compact=True)
        yield Label("goal", classes="pair-label")
        yield Select([("auto", AUTO_GOAL), ("max", "max"), ("min", "min")],
                     value=AUTO_GOAL, allow_blank=False, id="s-goal", compact=True)
    with Horizontal(classes="field sweep-pair"):
        yield Label("repeat", classes="field-label")
        yield Input("1", id="s-repeat", placeholder="seeds per trial", compact=True)
        yield Label("prune", classes="pair-label")
        yield Checkbox("stop laggards early", id="s-prune", compact=True)


def read_options(root: Any) -> SweepOptions:
    """The sweep rows' values (``root`` is the form screen)."""
    return SweepOptions(
        method=str(root.query_one("#s-method", Select).value),
        trials=root.query_one("#s-trials", Input).value,
        metric=str(root.query_one("#s-metric", Select).value),
        goal=str(root.query_one("#s-goal", Select).value),
        prune=root.query_one("#s-prune", Checkbox).value,
        repeat=root.query_one("#s-repeat", Input).value,
    )


def widget_of(key: str, problem: str) -> str:
    """The widget to focus for a problem: the field's own, or the sweep row it names."""
    if key != SWEEP_ERROR:
        return f"#f-{key}"
    for flag in ("trials", "repeat", "prune", "metric", "goal"):
        if f"--{flag}" in problem:
            return f"#s-{flag}"
    return "#s-method"


class SweepForm:
    """The new-run form's sweep half, mixed into ``NewRunScreen`` (which has ``entries``,
    ``errors``, ``plan``, ``method_auto`` and the rows these read)."""

    entries: dict[str, Entry]
    errors: dict[str, str]
    plan: SweepSpec | None
    method_auto: bool
    sweep_shown: bool = False  # the sweep rows are on show (a field held a list or range)
    rows_state: str = "none"  # the sweep rows: none, mounting, ready

    def _replan(self) -> None:
        """Show the sweep rows while a field holds a list or a range; work out the sweep."""
        sweeping = bool(self.sweeping)
        if not sweeping and not self.sweep_shown and not self.method_auto:
            self.plan = None  # a plain run, as before: nothing to look up (fill checks ~25)
            return
        self.sweep_shown = sweeping
        self.query_one("#sweep").set_class(sweeping, "shown")
        button = self.query_one("#queue", Button)
        label = "Queue sweep  ^s" if sweeping else "Queue run  ^s"
        if str(button.label) != label:
            button.label = label
            button.refresh(layout=True)  # its width follows the label only on a new layout
        if sweeping and self.rows_state == "none":
            self.rows_state = "mounting"
            self.call_later(self._mount_rows)
        if self.rows_state == "ready":
            self._auto_method()
            options = read_options(self)
        else:  # the rows' defaults, until they are there
            self.method_auto = has_range(self.entries)
            options = SweepOptions(method="tpe" if self.method_auto else "grid")
        self.plan, problem = None, None
        if sweeping and not any(k != SWEEP_ERROR for k in self.errors):
            try:
                self.plan = self.sweep_spec(options)
            except (ValueError, ConfigError) as exc:  # SweepSpecError: the CLI's words
                problem = str(exc)
        if problem:
            self.errors[SWEEP_ERROR] = problem
        else:
            self.errors.pop(SWEEP_ERROR, None)
        error = self.query_one(f"#e-{SWEEP_ERROR}", Static)
        error.update(problem or "")
        error.set_class(bool(problem), "shown")

    def _auto_method(self) -> None:
        """A grid cannot cover a range: a range turns an untouched grid into tpe, and
        back once no range is left."""
        ranged = has_range(self.entries)
        method = self.query_one("#s-method", Select)
        if ranged == self.method_auto or (ranged and method.value != "grid"):
            return
        with self.prevent(Select.Changed):
            method.value = "tpe" if ranged else "grid"
        self.method_auto = ranged

    async def _mount_rows(self) -> None:
        box = self.query_one("#sweep")
        await box.mount_compose(sweep_rows("tpe" if self.method_auto else "grid"),
                                before=f"#e-{SWEEP_ERROR}")
        self.rows_state = "ready"
        self._show_summary()

    def problem_widget(self, key: str) -> Any:
        """The widget to focus for a problem (the form itself while rows still mount)."""
        found = self.query(widget_of(key, self.errors[key]))
        return found.first() if found else self.query_one("#queue", Button)

    def sweep_spec(self, options: SweepOptions) -> SweepSpec:
        """The sweep the fields and the sweep rows make; SweepSpecError names a problem."""
        entries = dict(self.entries)
        for spec in ROWS:
            if spec.kind is bool:
                box = self.query_one(f"#{BOTH}{spec.name}", Checkbox)
                both = box.value and not box.disabled  # nesterov's, for adam: no sweep
                value = self.query_one(f"#f-{spec.name}", Checkbox).value
                entries[spec.name] = both_entry(both, value)
        preset = self.query_one("#preset", Select).value
        return sweep_spec(entries, None if preset == NO_PRESET else str(preset),
                             options, entries.get("name", ("value", None))[1],
                             self.read_tags())

    def _submit_sweep(self, spec: SweepSpec) -> None:
        """Queue it; more than the CLI's 100 runs asks first, as `sweep` does."""
        typed_dir = bool(self.query_one("#f-data_dir", Input).value.strip())
        remember = typed_dir and "cifar10" in datasets_of(self.entries)
        runs = spec.run_count()
        if runs <= CONFIRM_ABOVE:
            self._queue_sweep(spec, remember)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._queue_sweep(spec, remember)

        text = plan_text(spec)
        question = (f"{text[0].upper()}{text[1:]}, more than {CONFIRM_ABOVE}. "
                    "Queue them all?")
        self.app.push_screen(ConfirmDialog(question, yes="Queue"), answered)

    @job("form-queue")
    def _queue_sweep(self, spec: SweepSpec, remember: bool) -> None:
        from worker.sweeps import queue_sweep  # its study imports optuna (~1 s): only here

        ctx = context_of(self)
        try:
            sweep_id, run_ids = queue_sweep(ctx.store, spec)
        except SweepSpecError as exc:  # a point the config refuses, before anything is written
            self.app.call_from_thread(self.notify, str(exc), title="Not queued", severity="error")
            return
        if remember and spec.fixed.get("data_dir"):
            form_memory.remember_data_dir(spec.fixed["data_dir"])
        pid = None if ctx.worker_alive() else ctx.start_worker(ctx.store.url)
        self.app.call_from_thread(self._sweep_queued, sweep_id, run_ids, spec, pid)

    def _sweep_queued(self, sweep_id: int, run_ids: list[int], spec: SweepSpec,
                      pid: int | None) -> None:
        started = f"; started a worker (pid {pid})" if pid else ""
        what = (f"{len(run_ids)} runs queued" if run_ids else
                f"workers ask its {spec.trial_count()} trials one by one")
        self.app.notify(f"Queued sweep #{sweep_id}: {what}{started}.")
        self.app.post_message(RunChanged(run_ids[0] if run_ids else 0))
        if pid:
            self.app.post_message(WorkersChanged())
        self.dismiss(None)


__all__ = [
    "CONFIRM_ABOVE", "SWEEP_ERROR", "Entry", "SweepForm", "SweepOptions", "data_problem",
    "has_range", "is_sweep", "plan_text", "read_entry", "read_options", "sweep_box",
    "sweep_rows",
    "sweep_spec", "sweepable", "widget_of",
]
