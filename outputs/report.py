"""Report files: the seed notebook's plots for one or more runs, as PNG, SVG, PDF or HTML.

Reads runs through ``RunStore``'s browse API and draws them with matplotlib (outputs/
figures.py); the HTML page (outputs/report_html.py) adds the configs and results. matplotlib
is imported only here, inside the functions that write, so neither the TUI's start-up nor
another command pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.records import RunDetail, StepRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from outputs.figures import ClassResults, RunLines
    from storage.runs import RunStore

FORMATS = ("png", "svg", "pdf", "html")
INSTALL_HINT = "pip install 'cifar-tui[report]'"


class ReportError(Exception):
    """A one-line problem with the report asked for: the message names the fix."""


@dataclass(frozen=True)
class ReportEntry:
    """One line on the plots: a run, or a seed group (``g:N``) drawn as its mean with a
    min-max band. ``steps`` are its first run's (a group's runs share the lr schedule)."""

    label: str
    runs: list[RunDetail]  # a group's runs with epochs, oldest first; one for a run
    steps: list[StepRow]
    is_group: bool

    @property
    def first(self) -> RunDetail:
        return self.runs[0]


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, read from the store in one go."""

    entries: list[ReportEntry]
    config_diff: dict[str, list[Any]]  # setting -> each entry's value, settings that differ
    made_at: datetime

    @property
    def title(self) -> str:
        return "cifar-tui report: " + ", ".join(e.label for e in self.entries)

    @property
    def single_run(self) -> RunDetail | None:
        """The run when the report is on exactly one run (it gets the class figures)."""
        if len(self.entries) == 1 and not self.entries[0].is_group:
            return self.entries[0].first
        return None


# -- checking the request -------------------------------------------------------------


def report_format(path: str | Path) -> str:
    """The format ``path``'s extension names, or ReportError."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = f"'.{ext}'" if ext else "no extension"
        raise ReportError(f"cannot write a report with {shown} ({path}); name the file "
                          f"{' / '.join('.' + f for f in FORMATS)}")
    return ext


def check_writable(path: Path) -> None:
    """Refuse before drawing anything when the file cannot be written."""
    folder = path.parent
    if path.is_dir():
        raise ReportError(f"{path} is a folder; give a file name, e.g. {path / 'report.html'}")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ReportError(f"{folder} {problem}; create that folder or write elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and
                                                   not os.access(path, os.W_OK)):
        raise ReportError(f"cannot write {path}: permission denied; choose another -o path")


def matplotlib_or_error() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportError(f"reports need matplotlib, which is not installed: "
                          f"{INSTALL_HINT}") from None


# -- reading the runs -------------------------------------------------------------------


def load_report(store: RunStore, refs: Sequence[str | int]) -> ReportData:
    """The runs named by ``refs`` (ids, ``#id``s or names) and the seed groups named by
    ``g:REF`` (storage/groups.py's ``compare`` operands), each with epochs and steps."""
    from storage.groups import load_columns, settings_diff

    if not refs:
        raise ReportError("a report needs at least one run, e.g. `cifar-tui report 3 7`")
    columns = load_columns(store, [str(ref) for ref in refs])
    entries = [_entry(store, c.label, c.runs) for c in columns]
    return ReportData(entries, settings_diff(columns), datetime.now(timezone.utc))


def _entry(store: RunStore, label: str, runs: list[RunDetail]) -> ReportEntry:
    is_group = label.startswith("g:")
    trained = [r for r in runs if r.epoch_rows]
    if not trained:
        what = (f"no run of group {label} ({len(runs)} runs)" if is_group
                else f"run {runs[0].id} ({runs[0].name}, {runs[0].status})")
        raise ReportError(f"{what} has no epochs yet; report it after its first epoch, "
                          "or leave it out")
    if is_group:
        label = f"{label} ({runs[0].model}, n={len(trained)})"
    else:
        label = f"#{runs[0].id} {runs[0].name}"
    return ReportEntry(label, trained, store.get_steps(trained[0].id), is_group)


def run_lines(entry: ReportEntry) -> RunLines:
    """The entry's curves: one run's values, or a group's per-epoch mean and min-max."""
    from outputs.figures import Curve, RunLines
    from storage.groups import band

    def epochs(metric: str) -> Curve:
        points = band((r.epoch_rows for r in entry.runs), metric)
        xs = [float(p.epoch) for p in points]
        if not entry.is_group:
            return Curve(xs, [p.mean for p in points])
        return Curve(xs, [p.mean for p in points], [p.low for p in points],
                     [p.high for p in points])

    lr = Curve([float(s.step) for s in entry.steps], [s.lr for s in entry.steps])
    return RunLines(entry.label, epochs("val_acc"), epochs("train_loss"), epochs("val_loss"),
                    lr)


def class_results(d: RunDetail) -> ClassResults:
    from outputs.figures import ClassResults

    label = f"#{d.id} {d.name}"
    return ClassResults(label, list(d.class_names or []), d.per_class_acc, d.confusion)


# -- writing ------------------------------------------------------------------------------


def image_figure(data: ReportData) -> Figure:
    """The one figure a PNG, SVG or PDF holds: the curves, plus the classes for one run."""
    from outputs.figures import report_figure

    run = data.single_run
    classes = class_results(run) if run is not None else None
    return report_figure([run_lines(e) for e in data.entries], classes)


def write_report(store: RunStore, refs: Sequence[str | int], output: str | Path) -> Path:
    """Write the report on ``refs`` to ``output`` (its extension picks the format); returns
    the absolute path. ReportError or StoreError (one line each) for bad input."""
    path = Path(output).expanduser()
    fmt = report_format(path)
    check_writable(path)
    matplotlib_or_error()
    data = load_report(store, refs)
    path = path.resolve()
    try:
        if fmt == "html":
            from outputs.report_html import render_html

            text = render_html(data)
            path.write_text(text, encoding="utf-8")
        else:
            image_figure(data).savefig(path, format=fmt, metadata={"Title": data.title})
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}; "
                          "choose another -o path") from None
    return path


def default_report_path(store: RunStore, refs: Sequence[str | int]) -> Path:
    """Where the TUI's o key writes: in the run's own folder for one run (deleted with it),
    else in the store's reports folder; one HTML page, mailable as it is."""
    if len(refs) == 1 and isinstance(refs[0], int):
        folder = store.run_dir(refs[0])
        name = "report.html"
    else:
        folder = store.artifact_root / "reports"
        names = [str(ref).replace(":", "") for ref in refs]  # g:12 -> g12: any file system
        name = "compare-" + "-".join(names) + ".html"
        if len(name) > 120:  # many runs: the first few and a count
            name = f"compare-{'-'.join(names[:8])}-and-{len(names) - 8}-more.html"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create {folder}: {exc.strerror or exc}; fix its "
                          "permissions or move the store's files (`cifar-tui store`)") from None
    return folder / name


def save_report_for(store: RunStore, refs: Sequence[str | int]) -> Path:
    """The TUI's o key: the HTML report on runs (ids) or seed groups (``g:N``) at its
    default place."""
    return write_report(store, list(refs), default_report_path(store, refs))
