"""Workers: every live worker on this machine (this store's marked), the run each is
training, and the tail of its log; start and stop this store's worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from engine.paths import host_name
from storage.records import RunFilter
from tui import format as fmt
from tui.context import AppContext, context_of
from tui.jobs import job
from tui.log_tail import tail_lines
from tui.messages import WorkersChanged
from tui.screens.confirm import ConfirmDialog
from worker.launcher import WorkerInfo

if TYPE_CHECKING:
    from storage.runs import RunStore

TAIL = 15  # log lines shown


@dataclass(frozen=True)
class WorkerRow:
    info: WorkerInfo
    mine: bool  # serves this store
    run_id: int | None  # the run of this store it is training
    run_name: str
    log: Path  # the run's train.log while training one of this store's runs, else its own
    tail: list[str]


def training_runs(store: RunStore) -> dict[tuple[int, str], tuple[int, str]]:
    """This store's running runs by the (pid, device) of the local worker training them
    (worker ids read ``host:pid:device``)."""
    host = host_name()
    found: dict[tuple[int, str], tuple[int, str]] = {}
    for summary in store.list_runs(RunFilter(status="running"), limit=100):
        worker_id = store.get_run(summary.id).worker_id or ""
        parts = worker_id.split(":", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit():
            found[(int(parts[1]), parts[2])] = (summary.id, summary.name)
    return found


def gather_rows(ctx: AppContext) -> list[WorkerRow]:
    """Every live worker, what it trains and its log's tail (blocking: run in a job)."""
    store = ctx.store
    training = training_runs(store)
    rows = []
    for info in ctx.live_workers():
        mine = info.store_id == store.store_id
        run_id, name = training.get((info.pid, info.device), (None, "")) if mine else (None, "")
        log = Path(info.log_path)
        if run_id is not None and (store.run_dir(run_id) / "train.log").is_file():
            log = store.run_dir(run_id) / "train.log"  # the training output itself
        rows.append(WorkerRow(info, mine, run_id, name, log, tail_lines(log, TAIL)))
    return sorted(rows, key=lambda r: (not r.mine, r.info.device))  # this store's first


class WorkersScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,w", "app.pop_screen", "Close"),
        Binding("s", "start", "Start this store's worker"),
        Binding("x", "stop", "Stop this store's worker"),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[WorkerRow]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[WorkerRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="workers"):
            yield Static(Text("Workers", style="bold"), id="workers-title")
            yield DataTable(id="workers-table", cursor_type="row", show_cursor=True)
            yield Static(id="workers-log-title")
            with VerticalScroll(id="workers-log-box"):
                yield Static(id="workers-log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("store", "device", "pid", "up", "training")
        table.focus()
        self.load()
        interval = context_of(self).poll_interval
        if interval:
            self.set_interval(interval, self.load)

    def load(self) -> None:
        self._load()

    @job("workers-load")
    def _load(self) -> None:
        rows = gather_rows(context_of(self))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(rows))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.rows = event.rows
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        now = context_of(self).clock().timestamp()
        for row in event.rows:
            info = row.info
            store = (Text("this store", style="bold green") if row.mine
                     else Text(f"other {info.store_id[:8] or '?'}", style="dim"))
            training = (f"#{row.run_id} {row.run_name}" if row.run_id is not None
                        else "idle" if row.mine else "–")
            table.add_row(store, info.device, str(info.pid),
                          fmt.duration(now - info.started_at), training)
        if event.rows:
            table.move_cursor(row=min(keep, len(event.rows) - 1))
        self._show_log()

    @on(DataTable.RowHighlighted)
    def _show_log(self) -> None:
        title = self.query_one("#workers-log-title", Static)
        body = self.query_one("#workers-log", Static)
        if not self.rows:
            title.update(Text("No worker is running. Press s to start this store's worker "
                              "(device auto).", style="yellow"))
            body.update("")
            return
        row = self.rows[min(max(self.query_one(DataTable).cursor_row, 0), len(self.rows) - 1)]
        whose = f"run #{row.run_id} " if row.log.name == "train.log" else ""
        title.update(Text.assemble(("log ", "bold"), whose, row.log.name,
                                   (f"  (last {TAIL} lines, pid {row.info.pid})", "dim")))
        body.update(Text("\n".join(row.tail) or "(empty)", no_wrap=True))
        self.query_one("#workers-log-box").scroll_end(animate=False)  # the newest lines

    def _own(self) -> WorkerRow | None:
        return next((r for r in self.rows if r.mine), None)

    def action_start(self) -> None:
        own = self._own()
        if own is not None:
            self.notify(f"This store's worker is already running (pid {own.info.pid}).",
                        severity="warning")
            return
        self._start()

    @job("workers-start")
    def _start(self) -> None:
        ctx = context_of(self)
        pid = ctx.start_worker(ctx.store.url)
        self.app.call_from_thread(self.notify, f"Started this store's worker (pid {pid}, "
                                               "device auto).")
        self.app.post_message(WorkersChanged())
        self.post_message(self.Loaded(gather_rows(ctx)))

    def action_stop(self) -> None:
        own = self._own()
        if own is None:
            self.notify("No worker is running for this store; nothing to stop.",
                        severity="warning")
            return
        doing = (f"Its run #{own.run_id} becomes interrupted (resume it with R)"
                 if own.run_id is not None else "It is idle")
        question = f"Stop this store's worker (pid {own.info.pid}, {own.info.device})? {doing}."

        def answered(yes: bool | None) -> None:
            if yes:
                self._stop(own.info.pid)

        self.app.push_screen(ConfirmDialog(question, yes="Stop worker"), answered)

    @job("workers-stop")
    def _stop(self, pid: int) -> None:
        ctx = context_of(self)
        stopped = ctx.stop_worker()
        words = (f"Stopped this store's worker (pid {pid})." if stopped
                 else f"The worker (pid {pid}) did not stop within 30 s; see its log.")
        self.app.call_from_thread(self.notify, words, severity="information" if stopped
                                  else "error")
        self.app.post_message(WorkersChanged())
        self.post_message(self.Loaded(gather_rows(ctx)))
