"""Report files: the seed notebook's plots for one or more runs, as PNG, SVG, PDF or HTML.

Reads runs through ``RunStore``'s browse API and draws them with matplotlib (outputs/
figures.py); the HTML page (outputs/report_html.py) adds the configs and results. matplotlib
is imported only here, inside the functions that write, so neither the TUI's start-up nor
another command pays for it.
"""

from __future__ import annotations

import os
import re
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
class ReportRun:
    detail: RunDetail
    steps: list[StepRow]

    @property
    def label(self) -> str:
        return f"#{self.detail.id} {self.detail.name}"


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, read from the store in one go."""

    runs: list[ReportRun]
    config_diff: dict[str, list[Any]]  # config key -> each run's value, keys that differ
    made_at: datetime

    @property
    def title(self) -> str:
        return "cifar-tui report: " + ", ".join(r.label for r in self.runs)


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
        raise ReportError(f"folder {folder} does not exist; create it or write elsewhere")
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
    """The runs named by ``refs`` (ids, ``#id``s or names), each with epochs and steps."""
    if not refs:
        raise ReportError("a report needs at least one run, e.g. `cifar-tui report 3 7`")
    ids = list(dict.fromkeys(store.resolve_run(ref) for ref in refs))
    comparison = store.compare(ids)
    for run in comparison.runs:
        if not run.epoch_rows:
            raise ReportError(f"run {run.id} ({run.name}) has no epochs yet ({run.status}); "
                              "report it after its first epoch, or leave it out")
    runs = [ReportRun(r, store.get_steps(r.id)) for r in comparison.runs]
    diff = {k: v for k, v in comparison.config_diff.items() if k != "name"}
    return ReportData(runs, diff, datetime.now(timezone.utc))


def run_lines(run: ReportRun) -> RunLines:
    from outputs.figures import Curve, RunLines

    def epochs(attr: str) -> Curve:
        rows = [(e.epoch, getattr(e, attr)) for e in run.detail.epoch_rows]
        kept = [(x, y) for x, y in rows if y is not None]
        return Curve([float(x) for x, _ in kept], [float(y) for _, y in kept])

    lr = Curve([float(s.step) for s in run.steps], [s.lr for s in run.steps])
    return RunLines(run.label, epochs("val_acc"), epochs("train_loss"), epochs("val_loss"), lr)


def class_results(run: ReportRun) -> ClassResults:
    from outputs.figures import ClassResults

    d = run.detail
    return ClassResults(run.label, list(d.class_names or []), d.per_class_acc, d.confusion)


# -- writing ------------------------------------------------------------------------------


def image_figure(data: ReportData) -> Figure:
    """The one figure a PNG, SVG or PDF holds: the curves, plus the classes for one run."""
    from outputs.figures import report_figure

    classes = class_results(data.runs[0]) if len(data.runs) == 1 else None
    return report_figure([run_lines(r) for r in data.runs], classes)


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


def default_report_path(store: RunStore, run_ids: Sequence[int]) -> Path:
    """Where the TUI's o key writes: in the run's own folder for one run (deleted with it),
    else in the store's reports folder; one HTML page, mailable as it is."""
    if len(run_ids) == 1:
        folder = store.run_dir(run_ids[0])
        name = "report.html"
    else:
        folder = store.artifact_root / "reports"
        name = "compare-" + "-".join(str(i) for i in run_ids) + ".html"
        if len(name) > 120:  # many runs: the first few ids and a count
            name = f"compare-{'-'.join(map(str, run_ids[:8]))}-and-{len(run_ids) - 8}-more.html"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create {folder}: {exc.strerror or exc}; fix its "
                          "permissions or move the store's files (`cifar-tui store`)") from None
    return folder / re.sub(r"[^\w.-]", "_", name)


def save_report_for(store: RunStore, run_ids: Sequence[int]) -> Path:
    """The TUI's o key: the HTML report on ``run_ids`` at its default place."""
    return write_report(store, list(run_ids), default_report_path(store, run_ids))
