"""Run log: the last lines of a run's train.log, following it while the run is active.

A worker-trained run's child writes its stdout and stderr there; a foreground
`cifar-tui train` writes its epoch lines and outcome there too. Each poll reads only the
bytes appended since the last one, so a long log costs the same per poll as a short one.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Log, Static
from textual.worker import get_current_worker

from storage.errors import RunNotFound
from tui import format as fmt
from tui.context import context_of
from tui.jobs import job
from tui.log_tail import Chunk, read_new
from tui.widgets.keys_footer import KeysFooter

LINES = 500  # shown at most; older lines scroll off the top
TAIL_BYTES = 256 * 1024  # read at most this much of the log at a time


def missing_reason(run_id: int, status: str | None) -> str:
    """One line: why run ``run_id`` (``status``, None once deleted) has no log to show."""
    if status is None:
        return f"no log for run #{run_id}: the run was deleted"
    if status == "queued":
        return f"no log for run #{run_id} yet: it is queued; its lines appear here when it starts"
    return (f"no log for run #{run_id}: it was trained before run logs existed, "
            "or in a foreground `train` on another machine")


class RunLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,L", "app.pop_screen", "Close")]

    @dataclass
    class Read(Message):
        """A poll's result: the run's status (None: deleted) and what its log gained
        (None: there is no log file)."""

        status: str | None
        chunk: Chunk | None

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.read_at: int | None = None  # where the next read starts; None: read the tail
        self.status: str | None = None
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="run-log"):
            yield Static(Text(f"Log of run #{self.run_id}", style="bold"), id="run-log-title")
            yield Log(max_lines=LINES, id="run-log-lines")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.poll()
        interval = context_of(self).poll_interval
        if interval:
            self.timer = self.set_interval(interval, self.poll)

    def poll(self) -> None:
        self._read(self.read_at)

    @job("run-log-read")
    def _read(self, offset: int | None) -> None:
        store = context_of(self).store
        try:
            status: str | None = store.get_run(self.run_id).status
        except RunNotFound:
            status = None
        # The status is read first, so a run seen ended has every line in the file by now.
        active = status in fmt.ACTIVE
        path = store.run_dir(self.run_id) / "train.log"
        chunk = read_new(path, offset, LINES, TAIL_BYTES, whole_lines_only=active)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Read(status, chunk))

    @on(Read)
    def _show(self, event: Read) -> None:
        self.status = event.status
        active = event.status in fmt.ACTIVE
        if not active and self.timer is not None:
            self.timer.stop()  # this read saw the run ended: its log is complete
            self.timer = None
        title = self.query_one("#run-log-title", Static)
        log = self.query_one(Log)
        chunk = event.chunk
        if chunk is None:
            title.update(Text(missing_reason(self.run_id, event.status), style="yellow"))
            log.display = False
            return
        log.display = True
        # Follow only while the view is at the end: scrolling up to read stops the jumps.
        follow = chunk.reset or log.is_vertical_scroll_end
        if chunk.reset:
            log.clear()
        if chunk.lines:
            log.write_lines(chunk.lines, scroll_end=follow)
        self.read_at = chunk.offset
        state = "following" if active else event.status or ""
        title.update(Text.assemble((f"Log of run #{self.run_id}", "bold"), "  train.log",
                                   (f"  (last {LINES} lines, {state})", "dim")))
