"""Help: every key, by screen. Generated from the bindings, so it cannot drift."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def keys_table(title: str, bindings: list[Binding]) -> Text:
    """Plain aligned text, not a Rich Table: it draws in a fraction of the time."""
    out = Text(title, style="bold")
    for b in bindings:
        key = b.key_display or b.key.replace("slash", "/")
        out.append("\n  ")
        out.append(f"{key:<10}", style="bold cyan")
        out.append(b.description or b.action)
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        from tui.screens.compare import CompareScreen
        from tui.screens.detail import RunDetailScreen
        from tui.screens.home import HomeScreen
        from tui.screens.live import LiveRunScreen
        from tui.screens.new_run import NewRunScreen
        from tui.screens.run_log import RunLogScreen
        from tui.screens.sweep import SweepScreen
        from tui.screens.sweeps import SweepsScreen
        from tui.screens.system import SystemScreen
        from tui.screens.workers import WorkersScreen
        from tui.widgets.run_table import RunTable

        sections = [
            ("Everywhere", [Binding("question_mark", "", "this help", key_display="?"),
                            Binding("ctrl+p", "", "command palette"),
                            Binding("m", "", "the machine: GPUs, CPU, RAM, disk"),
                            Binding("q", "", "quit (runs keep going)")]),
            ("Runs", [*HomeScreen.BINDINGS, *RunTable.BINDINGS,
                      Binding("click", "", "a column header sorts by it")]),
            ("New run", NewRunScreen.BINDINGS),
            ("Live run", LiveRunScreen.BINDINGS),
            ("Run detail", RunDetailScreen.BINDINGS),
            ("Compare", CompareScreen.BINDINGS),
            ("Sweeps (S)", SweepsScreen.BINDINGS),
            ("Sweep", SweepScreen.BINDINGS),
            ("Workers (w)", WorkersScreen.BINDINGS),
            ("Machine (m)", SystemScreen.BINDINGS),
            ("Run log (L)", RunLogScreen.BINDINGS),
        ]
        with VerticalScroll(id="help"):
            yield Static(Text("cifar-tui keys", style="bold"))
            for i, (title, bindings) in enumerate(sections):
                shown = [b for b in bindings if isinstance(b, Binding) and b.description]
                yield Static(keys_table(title, shown), id=f"help-{i}")
