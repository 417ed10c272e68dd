"""The seed groups table (storage/groups.py): one row per group, n, mean ± sample std of
best val and test accuracy, mean time. The home screen builds it only when asked (a)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from engine.formatting import setting as fmt_setting
from tui import format as fmt
from tui.widgets.run_table import MIN_NAME, MODEL_SHORT, fit, runs_word

if TYPE_CHECKING:
    from storage.groups import RunGroup


# Seed groups (storage/groups.py): (column key, header, width; None = the spare width).
GROUP_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("id", "group", 8),
    ("name", "settings", None),
    ("model", "model", 6),
    ("n", "n", 6),  # " 3", or " 2/3" when one run has no result yet
    ("best", "val ± std", 11),
    ("test", "test ± std", 11),
    ("duration", "time", 7),
)


class GroupTable(DataTable[Text]):
    """Seed groups, one per row, keyed by the group's label (``g:<lowest run id>``): n,
    mean ± sample std of best val and test accuracy, mean time. Marks pick groups for
    compare. Built only when the history is switched to groups."""

    DEFAULT_CSS = """
    GroupTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """
    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    @dataclass
    class MarksChanged(Message):
        marked: list[str]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self.marked: list[str] = []
        self.groups: dict[str, RunGroup] = {}
        self.setting_keys: list[str] = []  # what tells the shown groups apart
        self.name_width = MIN_NAME - 1

    def on_mount(self) -> None:
        for key, label, width in GROUP_COLUMNS:
            justify = "right" if key in ("best", "test") else "left"
            self.add_column(Text(f" {label}", justify=justify), key=key, width=width or MIN_NAME)
        self._fit_name()

    def on_resize(self) -> None:
        self._fit_name()

    def _fit_name(self) -> None:
        fixed = sum(w or 0 for *_, w in GROUP_COLUMNS)
        spare = self.size.width - fixed - self.styles.scrollbar_size_vertical
        column = self.columns.get("name")  # type: ignore[call-overload]
        if column is not None and max(MIN_NAME, spare) != column.width:
            column.width = max(MIN_NAME, spare)
            self.name_width = column.width - 1
            self._require_update_dimensions = True
            self.show_groups(list(self.groups.values()))

    def settings_text(self, group: RunGroup) -> str:
        """The settings that differ between the shown groups (the first run's name when
        there is only one group, or nothing differs)."""
        if not self.setting_keys:
            return group.runs[0].name
        return " ".join(f"{k}={fmt_setting(group.settings.get(k))}" for k in self.setting_keys)

    def cells(self, group: RunGroup) -> list[Text]:
        from storage.groups import stat_text

        marked = group.label in self.marked
        val, test = group.stats["best_val_acc"], group.stats["test_acc"]
        have = max(val.n, test.n)
        count = str(group.n) if have == group.n else f"{have}/{group.n}"
        return [
            Text(f"{'●' if marked else ' '}{group.label}", style="bold magenta" if marked else ""),
            Text(f" {fit(self.settings_text(group), self.name_width)}", no_wrap=True),
            Text(f" {fit(MODEL_SHORT.get(group.runs[0].model, group.runs[0].model), 5)}"),
            Text(f" {count}"),
            Text(stat_text(val, digits=1, sep="±"), justify="right"),
            Text(stat_text(test, digits=1, sep="±"), justify="right"),
            Text(f" {fmt.duration(group.stats['duration_s'].mean)}"),
        ]

    def show_groups(self, groups: list[RunGroup]) -> None:
        """Show these groups from the top; the cursor stays on the same group if it can,
        and marks on groups that are gone are dropped."""
        from storage.groups import differing_settings

        keep = self.current_label
        self.clear()
        self.groups = {g.label: g for g in groups}
        self.setting_keys = differing_settings(groups)
        for group in groups:
            self.add_row(*self.cells(group), key=group.label)
        if keep in self.groups:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        gone = [label for label in self.marked if label not in self.groups]
        if gone:
            self.marked = [label for label in self.marked if label in self.groups]
            self.post_message(self.MarksChanged(list(self.marked)))

    def status_line(self, sort: str) -> str:
        """The home status line while groups are shown: how many, what the figures are."""
        count, runs = len(self.groups), sum(g.n for g in self.groups.values())
        parts = [f"{count:,} group{'' if count == 1 else 's'} of {runs_word(runs)}",
                 "mean ± sample std over seeds", "a: back to runs"]
        if self.marked:
            parts.append(f"{len(self.marked)} marked: {' '.join(self.marked)}")
        parts.append(f"sorted by {sort}")
        return " · ".join(parts)

    @property
    def current_label(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    @property
    def current_group(self) -> RunGroup | None:
        label = self.current_label
        return None if label is None else self.groups.get(label)

    def action_toggle_mark(self) -> None:
        group = self.current_group
        if group is None:
            return
        if group.label in self.marked:
            self.marked.remove(group.label)
        else:
            self.marked.append(group.label)
        for (key, *_), cell in zip(GROUP_COLUMNS, self.cells(group), strict=True):
            self.update_cell(group.label, key, cell)
        self.post_message(self.MarksChanged(list(self.marked)))
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)
