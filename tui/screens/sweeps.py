"""Sweeps: every sweep of this store, newest first; enter opens one (tui/screens/sweep.py).

``RunStore.list_sweeps`` is plain SQL (no Optuna), so this list opens at once; only the
sweep screen reads a study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.screens.sweep import counts_text, fill_table
from tui.widgets.keys_footer import KeysFooter

if TYPE_CHECKING:
    from storage.records import SweepRecord

COLUMNS = (("id", 3), ("name", 14), ("status", 9), ("method", 6), ("metric", 11),
           ("trials", 6), ("runs", None), ("created", 9))


class SweepsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,S", "app.pop_screen", "Back"),
        Binding("enter", "open_sweep", "Open sweep"),
    ]

    @dataclass
    class Loaded(Message):
        sweeps: list[SweepRecord]

    def __init__(self) -> None:
        super().__init__()
        self.shown_rows: tuple[object, ...] | None = None  # None: never filled

    def compose(self) -> ComposeResult:
        yield Static("Sweeps", id="sweeps-head")
        yield DataTable(id="sweeps", cursor_type="row", zebra_stripes=True)
        yield Static("reading the sweeps…", id="sweeps-status")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#sweeps", DataTable).focus()
        self.poll()
        interval = context_of(self).poll_interval
        if interval:
            self.set_interval(max(2.0, interval), self.poll)

    def poll(self) -> None:
        if self.app.screen is self:
            self._load()

    @job("sweeps-load")
    def _load(self) -> None:
        sweeps = context_of(self).store.list_sweeps()
        self.post_message(self.Loaded(sorted(sweeps, key=lambda s: -s.id)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        now = context_of(self).clock()
        rows = tuple(
            (str(s.id), str(s.id), s.name, s.status, s.method, f"{s.goal} {s.metric}",
             f"{s.trials_told}/{s.n_trials}", counts_text(s.run_counts),
             fmt.ago(s.created_at, now))
            for s in event.sweeps)
        status = self.query_one("#sweeps-status", Static)
        status.update(f"{len(rows)} sweep{'s' if len(rows) != 1 else ''} · enter opens one"
                      if rows else "no sweeps yet: a list or a range in the new-run form "
                      "(n) makes one, or `cifar-tui sweep`")
        if rows == self.shown_rows:
            return
        self.shown_rows = rows
        table = self.query_one("#sweeps", DataTable)
        row = table.cursor_row
        fill_table(table, COLUMNS, rows)
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))

    def action_open_sweep(self) -> None:
        from tui.screens.sweep import SweepScreen

        table = self.query_one("#sweeps", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.app.push_screen(SweepScreen(int(str(key))))

    @on(DataTable.RowSelected, "#sweeps")
    def _row_chosen(self) -> None:
        self.action_open_sweep()
