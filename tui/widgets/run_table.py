"""The run history table: renders RunSummary rows, owns marks and the sort order.

It never queries the store: the home screen pages rows in and tells it what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from storage.records import RunSummary
from tui import format as fmt

# (column key, header, store sort column, width; None = takes the spare width).
# Widths include a one-space gap on the left (cell padding is 0), so the table fits 80 columns.
COLUMNS: tuple[tuple[str, str, str, int | None], ...] = (
    ("id", "id", "id", 7),
    ("name", "name", "name", None),
    ("model", "model", "model", 6),
    ("status", "status", "status", 13),  # " running 100%"
    ("epochs", "ep", "current_epoch", 8),  # " 100/200"
    ("best", "val", "best_val_acc", 7),
    ("test", "test", "test_acc", 7),
    ("duration", "time", "duration_s", 10),
    ("created", "created", "created_at", 9),
)
SORT_KEYS = [c[0] for c in COLUMNS]
STORE_SORT = {c[0]: c[2] for c in COLUMNS}
MIN_NAME = 10
MODEL_SHORT = {"resnet9": "rn9", "resnet18": "rn18", "resnet18-seed": "rn18s"}
TIME_COLUMNS = ("duration", "created")  # cells that age with the clock


def fit(text: str, width: int) -> str:
    """Cut in the middle with an ellipsis: run names share a prefix and differ at the end
    (resnet9-001, resnet9-002), so the end must stay in view."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    return f"{text[:width - 1 - tail]}…{text[len(text) - tail:] if tail else ''}"


def name_cell(name: str, tags: Iterable[str], width: int) -> Text:
    """The name, then its tags dimmed (#sweep) in whatever room the name leaves."""
    shown = fit(name, width)
    cell = Text(f" {shown}", no_wrap=True)
    tag_text = " ".join(f"#{t}" for t in tags)
    room = width - len(shown) - 1
    if tag_text and room >= 4:  # fewer than "#ab…" says nothing
        cell.append(" " + (tag_text if len(tag_text) <= room else tag_text[:room - 1] + "…"),
                    style="dim")
    return cell


def status_text(run: RunSummary) -> str:
    if run.status == "running" and run.total_steps:
        return f"running {100 * (run.current_step or 0) // run.total_steps}%"
    return run.status


def failure_reason(error: str | None, width: int = 200) -> str:
    """A failed run's first error line, short: the table's status line shows it."""
    first = next((line.strip() for line in (error or "").splitlines() if line.strip()), "")
    return first if len(first) <= width else first[:width - 1] + "…"


def runs_word(count: int) -> str:
    return f"{count:,} run{'' if count == 1 else 's'}"


class RunTable(DataTable[Text]):
    """Runs, one per row, keyed by run id."""

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
        # The table fits the width, so home/end move through runs, not across columns.
        Binding("home,g", "scroll_top", "First run", show=False),
        Binding("end,G", "scroll_bottom", "Last loaded run (loads more)", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    sort_key: reactive[str] = reactive("created")
    descending: reactive[bool] = reactive(True)

    @dataclass
    class SortChanged(Message):
        sort: str  # store column
        descending: bool

    @dataclass
    class MarksChanged(Message):
        marked: list[int]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self.marked: list[int] = []
        self.summaries: dict[int, RunSummary] = {}
        self.now = fmt.utc_now()
        self.name_width = MIN_NAME - 1

    def on_mount(self) -> None:
        for key, label, _, width in COLUMNS:
            self.add_column(self._header(key, label), key=key, width=width or MIN_NAME)
        self._fit_name()

    def on_resize(self) -> None:
        self._fit_name()

    def _fit_name(self) -> None:
        """Give the name column whatever width the fixed columns leave."""
        fixed = sum(w or 0 for *_, w in COLUMNS)
        spare = self.size.width - fixed - self.styles.scrollbar_size_vertical
        column = self.columns.get("name")  # type: ignore[call-overload]
        if column is not None:
            column.width = max(MIN_NAME, spare)
            self._require_update_dimensions = True
            if column.width - 1 != self.name_width:  # names are cut to fit: cut them again
                self.name_width = column.width - 1
                for run in list(self.summaries.values()):
                    self.update_cell(str(run.id), "name", self._name_cell(run))
            self.refresh()

    def _name_cell(self, run: RunSummary) -> Text:
        return name_cell(run.name, run.tags, self.name_width)

    def _header(self, key: str, label: str) -> Text:
        if key != self.sort_key:
            return Text(f" {label}")
        return Text(f" {label}{'▼' if self.descending else '▲'}", style="bold")

    def _relabel(self) -> None:
        for key, label, _, _ in COLUMNS:
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None:
                column.label = self._header(key, label)
        self.refresh()

    def watch_sort_key(self) -> None:
        self._relabel()

    def watch_descending(self) -> None:
        self._relabel()

    # -- sorting --------------------------------------------------------------
    def set_sort(self, key: str, descending: bool | None = None) -> None:
        if descending is None:
            high_first = key in ("id", "created", "best", "test")  # newest, best first
            descending = not self.descending if key == self.sort_key else high_first
        self.sort_key, self.descending = key, descending
        self.post_message(self.SortChanged(STORE_SORT[key], descending))

    def cycle_sort(self) -> None:
        index = (SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)
        self.set_sort(SORT_KEYS[index])

    def reverse_sort(self) -> None:
        self.set_sort(self.sort_key, not self.descending)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.set_sort(str(event.column_key.value))

    # -- rows -------------------------------------------------------------------
    def cells(self, run: RunSummary) -> list[Text]:
        now = self.now
        mark = "●" if run.id in self.marked else " "
        seconds = fmt.elapsed(run.started_at, run.finished_at, run.duration_s, now)
        if run.status == "running":
            left = fmt.eta(run.current_step, run.total_steps, seconds)
            time_cell = f"eta {fmt.duration(left)}" if left is not None else fmt.duration(seconds)
        else:
            time_cell = fmt.duration(seconds)
        return [
            Text(f"{mark}{run.id}", style="bold magenta" if run.id in self.marked else ""),
            self._name_cell(run),
            Text(f" {fit(MODEL_SHORT.get(run.model, run.model), 5)}"),
            Text(f" {status_text(run)}", style=fmt.STATUS_COLOURS.get(run.status, "")),
            Text(f" {fit(fmt.epochs_progress(run.current_epoch, run.epochs), 7)}"),
            Text(fmt.pct(run.best_val_acc), justify="right"),
            Text(fmt.pct(run.test_acc), justify="right"),
            Text(f" {time_cell}"),
            Text(f" {fmt.ago(run.created_at, now)}"),
        ]

    def replace_rows(self, runs: Iterable[RunSummary]) -> None:
        """Show these runs from the top; the cursor stays on the same run if it is still there."""
        keep = self.current_run_id
        self.clear()
        self.summaries.clear()
        self.append_rows(runs)
        if keep is not None and keep in self.summaries:
            self.move_cursor(row=self.get_row_index(str(keep)), animate=False)

    def append_rows(self, runs: Iterable[RunSummary]) -> None:
        for run in runs:
            if run.id in self.summaries:
                continue
            self.summaries[run.id] = run
            self.add_row(*self.cells(run), key=str(run.id))

    def update_run(self, run: RunSummary) -> None:
        """Refresh one run's cells in place; a run not on screen is ignored."""
        if run.id not in self.summaries:
            return
        self.summaries[run.id] = run
        for (key, *_), cell in zip(COLUMNS, self.cells(run), strict=False):
            self._set_cell(str(run.id), key, cell)

    def refresh_times(self) -> None:
        """Redraw the cells that age with the clock ("3m ago", a running run's time)."""
        for run in self.summaries.values():
            cells = dict(zip((c[0] for c in COLUMNS), self.cells(run), strict=True))
            for key in TIME_COLUMNS:
                self._set_cell(str(run.id), key, cells[key])

    def _set_cell(self, row: str, column: str, cell: Text) -> None:
        """Only a cell whose text changed: any update makes the table re-render the rows it
        shows on the next frame, and most cells (a finished run's time, "2d ago") are the
        same at every poll."""
        if self.get_cell(row, column) != cell:
            self.update_cell(row, column, cell)

    def drop_marks(self, run_ids: Iterable[int]) -> None:
        """Unmark runs that are gone (deleted here or elsewhere)."""
        gone = [i for i in run_ids if i in self.marked]
        if not gone:
            return
        self.marked = [i for i in self.marked if i not in gone]
        for run_id in gone:
            if run_id in self.summaries:
                self.update_run(self.summaries[run_id])
        self.post_message(self.MarksChanged(list(self.marked)))

    @property
    def current_run_id(self) -> int | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:  # the cursor sits past the rows while they are replaced
            return None
        return int(key.value) if key.value is not None else None

    @property
    def current_run(self) -> RunSummary | None:
        run_id = self.current_run_id
        return None if run_id is None else self.summaries.get(run_id)

    # -- marks --------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        run_id = self.current_run_id
        if run_id is None:
            return
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        self.update_run(self.summaries[run_id])
        self.post_message(self.MarksChanged(list(self.marked)))
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)
