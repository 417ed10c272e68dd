"""Runs (home): the history table with sort, filters, marks and live updates.

Rows are paged in from the store (``PAGE`` at a time, more as the cursor nears
the end), so a store of 10,000 runs opens as fast as one of ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, Static
from textual.worker import get_current_worker

from engine.config import MODELS
from storage.records import STATUSES, RunFilter, RunSummary
from tui import format as fmt
from tui.context import context_of
from tui.control import worker_hint
from tui.home_poll import PollResult, poll_runs
from tui.jobs import job
from tui.messages import (
    CancelRequested,
    CompareRequested,
    DeleteRequested,
    DuplicateRequested,
    OpenRequested,
    ResumeRequested,
)
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.run_table import RunTable, failure_reason, runs_word

if TYPE_CHECKING:
    from storage.groups import RunGroup
    from tui.widgets.group_table import GroupTable

PAGE = 100
PREFETCH = 20  # rows before the end at which the next page is fetched
KEEP_MAX = 1000  # a refresh reloads at most this many rows


class HomeScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "new_run", "New"),
        Binding("enter", "open", "Open (live while active, else detail)", show=False),
        Binding("d", "detail", "Detail", show=False),
        Binding("l", "live", "Live", show=False),
        Binding("D", "duplicate", "Dup"),
        Binding("c", "compare", "Compare"),
        Binding("x", "cancel_run", "Cancel"),
        # Kept out of the crowded footer (help and the palette list them; home's status
        # line points at w when queued runs have no worker).
        Binding("R", "resume_run", "Resume a stopped run", show=False),
        Binding("delete", "delete_run", "Delete run", key_display="del", show=False),
        Binding("w", "app.workers", "Workers", show=False),
        Binding("S", "app.sweeps", "Sweeps: trials best first, charts, cancel", show=False),
        Binding("s", "cycle_sort", "Sort"),
        # Seed groups. Out of the footer, which has no room left at 80 columns: help, the
        # palette and the grouped list's status line name it.
        Binding("a", "toggle_groups", "Seed groups on/off (mean ± std over seeds)", show=False),
        Binding("r", "reverse_sort", "Reverse sort", show=False),
        Binding("slash", "search", "Search", key_display="/", show=False),
        Binding("escape", "focus_table", "Back to the table", show=False),
    ]
    # Shown in the footer, in this order, while the terminal is wide enough (KeysFooter).
    FOOTER_IF_ROOM = {"app.sweeps": "Sweeps", "toggle_groups": "Groups",
                      "app.workers": "Workers", "resume_run": "Resume", "delete_run": "Delete"}

    @dataclass
    class PageLoaded(Message):
        runs: list[RunSummary]
        total: int
        offset: int
        generation: int

    @dataclass
    class Polled(Message):
        result: PollResult

    @dataclass
    class WorkerChecked(Message):
        alive: bool

    @dataclass
    class GroupsLoaded(Message):
        groups: list[RunGroup]
        generation: int

    def __init__(self) -> None:
        super().__init__()
        self.filter = RunFilter()
        self.sort = "created_at"
        self.descending = True
        self.total = 0
        self.generation = 0
        self.loading_more = False
        self.active_ids: set[int] = set()
        self.queued = 0  # queued runs at the last poll: with no worker, the line says so
        # None until the launcher has answered: a reconnect must not say "no worker" first.
        self.worker_alive: bool | None = None
        self.missed_poll = False
        self.grouped = False  # seed groups instead of runs (a); computed only while on

    def compose(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield Input(placeholder="search name, notes, #id  (/)", id="search", compact=True)
            yield Select([(s, s) for s in STATUSES], prompt="any status", id="status", compact=True)
            yield Select([(m, m) for m in MODELS], prompt="any model", id="model", compact=True)
            yield Input(placeholder="tag", id="tag", compact=True)
        yield RunTable(id="runs")
        yield Static(id="home-status")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(RunTable).focus()
        if not context_of(self).slot.ready:  # the first page's status line replaces it
            self.query_one("#home-status", Static).update("opening the store…")
        self.reload()
        self._check_worker()
        interval = context_of(self).poll_interval
        if interval:
            self.set_interval(interval, self.poll)

    # -- loading ----------------------------------------------------------------
    def reload(self, keep_loaded: bool = False) -> None:
        """Fetch the first page for the current filter and sort; with ``keep_loaded``
        as many rows as are loaded now (up to ``KEEP_MAX``), so the cursor keeps its place."""
        self.generation += 1
        self.loading_more = False
        if self.grouped:
            self._fetch_groups(self.filter, self.sort, self.descending, self.generation)
            return
        rows = self.query_one(RunTable).row_count if keep_loaded else 0
        limit = max(PAGE, min(rows, KEEP_MAX))
        self._fetch(self.filter, self.sort, self.descending, 0, self.generation, limit)

    @job("home-list")
    def _fetch(self, flt: RunFilter, sort: str, descending: bool, offset: int, generation: int,
               limit: int = PAGE) -> None:
        store = context_of(self).store
        runs = store.list_runs(flt, sort=sort, descending=descending, limit=limit, offset=offset)
        total = store.count_runs(flt) if offset == 0 else self.total
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageLoaded(runs, total, offset, generation))

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        if event.generation != self.generation:
            return  # a newer filter or sort has been asked for since
        table = self.query_one(RunTable)
        table.now = context_of(self).clock()
        if event.offset == 0:
            self.total = event.total
            table.replace_rows(event.runs)
        else:
            table.append_rows(event.runs)
        self.loading_more = False
        self.active_ids |= {r.id for r in event.runs if r.status in fmt.ACTIVE}
        self._show_status()

    @job("home-groups")
    def _fetch_groups(self, flt: RunFilter, sort: str, descending: bool, generation: int) -> None:
        from storage.groups import load_groups

        groups = load_groups(context_of(self).store, flt, sort, descending)
        if not get_current_worker().is_cancelled:
            self.post_message(self.GroupsLoaded(groups, generation))

    @on(GroupsLoaded)
    def _groups_loaded(self, event: GroupsLoaded) -> None:
        if event.generation != self.generation or not self.grouped:
            return
        self.group_table.show_groups(event.groups)
        self._show_status()

    def action_toggle_groups(self) -> None:
        """Runs <-> seed groups; the groups are loaded afresh each time they are shown."""
        self.grouped = not self.grouped
        runs = self.query_one(RunTable)
        if not self.query("#groups"):
            from tui.widgets.group_table import GroupTable  # not on the first frame's path

            self.mount(GroupTable(id="groups"), after=runs)
        groups = self.group_table
        runs.display, groups.display = not self.grouped, self.grouped
        (groups if self.grouped else runs).focus()
        self.reload()
        self._show_status()

    @job("home-worker")
    def _check_worker(self) -> None:
        self.post_message(self.WorkerChecked(context_of(self).worker_alive()))

    @on(WorkerChecked)
    def _worker_checked(self, event: WorkerChecked) -> None:
        self.worker_alive = event.alive
        self._show_status()

    @on(DataTable.RowHighlighted)
    def _maybe_load_more(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one(RunTable)
        self._show_status()  # the highlighted run's failure reason
        if self.grouped:
            return  # every group is loaded at once
        if self.loading_more or table.row_count >= self.total:
            return
        if event.cursor_row >= table.row_count - PREFETCH:
            self.loading_more = True
            self._fetch(self.filter, self.sort, self.descending, table.row_count, self.generation)

    # -- live updates -------------------------------------------------------------
    def poll(self) -> None:
        if self.covered:
            # Its queries would only compete with the screen on top, for the one Python
            # thread that runs at a time (the live charts' keys). Polled again when shown.
            self.missed_poll = True
            return
        self._poll(set(self.active_ids), self.filter, list(self.query_one(RunTable).marked))

    @property
    def covered(self) -> bool:
        """Hidden under an opaque screen (a dialog or help lets it show through)."""
        stack = self.app.screen_stack
        above = stack[stack.index(self) + 1:] if self in stack else []
        return any(screen.styles.background.a == 1 for screen in above)

    def on_screen_resume(self) -> None:
        if self.missed_poll:
            self.missed_poll = False
            self.poll()

    @job("home-poll")
    def _poll(self, was_active: set[int], flt: RunFilter, marked: list[int]) -> None:
        self.post_message(self.Polled(poll_runs(context_of(self), was_active, flt, marked)))

    @on(Polled)
    def _polled(self, event: Polled) -> None:
        polled = event.result
        table = self.query_one(RunTable)
        table.now = context_of(self).clock()
        self.worker_alive = polled.worker_alive
        self.active_ids = {r.id for r in polled.runs if r.status in fmt.ACTIVE}
        self.queued = sum(r.status == "queued" for r in polled.runs)
        table.drop_marks(polled.gone)
        table.refresh_times()  # "created" ages and running times move with the clock
        if self.grouped and (polled.total != self.total
                             or any(r.status not in fmt.ACTIVE for r in polled.runs)):
            self.total = polled.total
            self.reload()  # a run was added, removed or ended: the groups' figures changed
        elif polled.total != self.total:
            self.reload(keep_loaded=True)  # runs were added or removed: the pages are stale
            return
        for run in polled.runs:
            table.update_run(run)
        self._show_status()

    def _show_status(self) -> None:
        if self.grouped:
            self.query_one("#home-status", Static).update(
                self.group_table.status_line(self.sort))
            return
        table = self.query_one(RunTable)
        loaded = f" ({table.row_count:,} loaded)" if table.row_count < self.total else ""
        parts = [f"{runs_word(self.total)}{loaded}"]
        run = table.current_run
        if run is not None and run.status == "failed" and run.error:
            # No room for a reason column at 80 columns: the highlighted run's goes first.
            reason = failure_reason(run.error, max(20, self.size.width - 55))
            parts.insert(0, f"#{run.id} failed: {reason}")
        if table.marked:
            parts.append(f"{len(table.marked)} marked: {' '.join(f'#{i}' for i in table.marked)}")
        active = len(self.active_ids)
        if active:
            parts.append(f"{active} queued/running")
        parts.append("checking worker…" if self.worker_alive is None
                     else worker_hint(self.queued, self.worker_alive))
        if self.total == 0:
            which = "No runs match." if self.filter != RunFilter() else "No runs yet."
            parts = [f"{which} Press n to queue one."]
        self.query_one("#home-status", Static).update(" · ".join(parts))

    # -- filters and sort -----------------------------------------------------
    @on(Input.Changed, "#search")
    @on(Input.Changed, "#tag")
    @on(Select.Changed)
    def _filters_changed(self) -> None:
        status = self.query_one("#status", Select).value
        model = self.query_one("#model", Select).value
        self.filter = RunFilter(
            status=None if status is Select.NULL else str(status),
            model=None if model is Select.NULL else str(model),
            tag=self.query_one("#tag", Input).value.strip() or None,
            text=self.query_one("#search", Input).value.strip() or None,
        )
        self.reload()

    @on(Input.Submitted)
    def _search_done(self) -> None:
        self.action_focus_table()

    @on(RunTable.SortChanged)
    def _sort_changed(self, event: RunTable.SortChanged) -> None:
        self.sort, self.descending = event.sort, event.descending
        self.reload()

    @on(RunTable.MarksChanged)
    def _marks_changed(self) -> None:
        self._show_status()

    def on_group_table_marks_changed(self) -> None:  # GroupTable.MarksChanged
        self._show_status()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    # -- actions --------------------------------------------------------------
    def _current(self) -> RunSummary | None:
        if self.grouped:
            self.notify("Showing seed groups: press a for the runs, to act on one.",
                        severity="warning")
            return None
        run = self.query_one(RunTable).current_run
        if run is None:
            self.notify("No run selected.", severity="warning")
        return run

    def action_new_run(self) -> None:
        self.app.action_new_run()  # type: ignore[attr-defined]

    def action_open(self) -> None:
        if self.grouped:  # one group's runs, as compare shows groups
            if group := self.group_table.current_group:
                self._compare_groups([group.label])
            return
        if run := self._current():
            view = "live" if run.status in fmt.ACTIVE else "detail"
            self.post_message(OpenRequested(run.id, view))

    def action_detail(self) -> None:
        if run := self._current():
            self.post_message(OpenRequested(run.id, "detail"))

    def action_live(self) -> None:
        if run := self._current():
            self.post_message(OpenRequested(run.id, "live"))

    def action_duplicate(self) -> None:
        if run := self._current():
            self.post_message(DuplicateRequested(run.id))

    def action_cancel_run(self) -> None:
        if run := self._current():
            self.post_message(CancelRequested(run.id))

    def action_resume_run(self) -> None:
        if run := self._current():
            self.post_message(ResumeRequested(run.id))

    def action_delete_run(self) -> None:
        if run := self._current():
            self.post_message(DeleteRequested(run.id))

    def _compare_groups(self, labels: list[str]) -> None:
        from tui.screens.group_compare import GroupCompareScreen

        self.app.push_screen(GroupCompareScreen(labels))

    def action_compare(self) -> None:
        if self.grouped:
            labels = self.group_table.marked
            if len(labels) < 2:
                self.notify("Mark two or more groups with space, then press c "
                            "(enter shows one group).", severity="warning")
                return
            self._compare_groups(list(labels))
            return
        marked = self.query_one(RunTable).marked
        if len(marked) < 2:
            self.notify("Mark two or more runs with space, then press c.", severity="warning")
            return
        self.post_message(CompareRequested(list(marked)))

    def action_cycle_sort(self) -> None:
        self.query_one(RunTable).cycle_sort()

    def action_reverse_sort(self) -> None:
        self.query_one(RunTable).reverse_sort()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        (self.group_table if self.grouped else self.query_one(RunTable)).focus()

    @property
    def group_table(self) -> GroupTable:
        return self.query_one("#groups")  # type: ignore[return-value]
