"""Workers: every live worker on this machine (this store's marked), one row per device
it serves with the run(s) training there, their images/s and the GPU's utilisation and
memory (NVML), and the tail of its log; start and stop this store's worker."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from engine.events import GpuSample
from tui import format as fmt
from tui.context import AppContext, context_of
from tui.jobs import job
from tui.log_tail import tail_lines
from tui.messages import WorkersChanged
from tui.screens.confirm import ConfirmDialog
from tui.widgets.keys_footer import KeysFooter
from worker import machine
from worker.device_status import (
    TrainingRun,
    gpu_of,
    gpu_words,
    run_words,
    speed_words,
    training_runs,
)
from worker.launcher import WorkerInfo

TAIL = 15  # log lines shown


@dataclass(frozen=True)
class WorkerRow:
    info: WorkerInfo
    mine: bool  # serves this store
    runs: list[TrainingRun]  # this store's runs it trains on this device (several if shared)
    gpu: GpuSample | None  # this device's NVML reading (this store's cuda devices only)
    log: Path  # the run's train.log while training one of this store's runs, else its own
    tail: list[str]

    @property
    def run_id(self) -> int | None:
        return self.runs[0].run_id if self.runs else None

    def training_cell(self) -> Text:
        """The run (``+N`` more sharing the device), then its images/s and GPU figures on a
        second line: a row fits 80 columns with every figure in it."""
        if not self.runs:
            first = "idle" if self.mine else "–"
        else:
            more = f" +{len(self.runs) - 1}" if len(self.runs) > 1 else ""
            first = run_words(self.runs[0], 20 - len(more)) + more
        speeds = [r.images_per_s for r in self.runs if r.images_per_s is not None]
        second = " ".join(word for word in (
            speed_words(sum(speeds)) if speeds else "", gpu_words(self.gpu, compact=True))
            if word)
        if not second:
            return Text(first)
        return Text.assemble(first, "\n", (second, "dim"))


def gather_rows(ctx: AppContext, read_gpus: Callable[[], tuple] | None = None) -> list[WorkerRow]:
    """Every live worker, what it trains and its log's tail (blocking: run in a job)."""
    store = ctx.store
    training = training_runs(store)
    workers = ctx.live_workers()
    mine_cuda = any(w.store_id == store.store_id and w.device.startswith("cuda")
                    for w in workers)
    gpus = (read_gpus or machine.read_gpus)()[0] if mine_cuda else ()
    rows = []
    for info in workers:
        mine = info.store_id == store.store_id
        runs = training.get((info.pid, info.device), []) if mine else []
        log = Path(info.log_path)
        if runs and (store.run_dir(runs[0].run_id) / "train.log").is_file():
            log = store.run_dir(runs[0].run_id) / "train.log"  # the training output itself
        gpu = gpu_of(info.device, gpus) if mine else None
        rows.append(WorkerRow(info, mine, runs, gpu, log, tail_lines(log, TAIL)))
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
        read: int  # which read: a poll begun before a stop must not bring its worker back

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[WorkerRow] = []
        self.reads = itertools.count(1)  # next() is atomic: the jobs' threads share it
        self.shown_read = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="workers"):
            yield Static(Text("Workers", style="bold"), id="workers-title")
            yield DataTable(id="workers-table", cursor_type="row", show_cursor=True)
            yield Static(id="workers-log-title")
            with VerticalScroll(id="workers-log-box"):
                yield Static(id="workers-log")
        yield KeysFooter(compact=True)

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

    def read_rows(self) -> Loaded:
        """Read the workers now; the message knows it was read after every earlier one."""
        read = next(self.reads)
        return self.Loaded(gather_rows(context_of(self)), read)

    @job("workers-load")
    def _load(self) -> None:
        loaded = self.read_rows()
        if not get_current_worker().is_cancelled:
            self.post_message(loaded)

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        if event.read < self.shown_read:
            return  # a newer read is already shown
        self.shown_read = event.read
        self.rows = event.rows
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        now = context_of(self).clock().timestamp()
        for row in event.rows:
            info = row.info
            store = (Text("this store", style="bold green") if row.mine
                     else Text(f"other {info.store_id[:8] or '?'}", style="dim"))
            training = row.training_cell()
            table.add_row(store, info.device, str(info.pid),
                          fmt.duration(now - info.started_at), training,
                          height=len(training.plain.splitlines()))
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
        job = next((f", slurm job {r.slurm_job}" for r in row.runs if r.slurm_job), "")
        title.update(Text.assemble(("log ", "bold"), whose, row.log.name,
                                   (f"  (last {TAIL} lines, pid {row.info.pid}{job})", "dim")))
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
        self.post_message(self.read_rows())
        self.app.post_message(WorkersChanged())
        self.app.call_from_thread(self.notify, f"Started this store's worker (pid {pid}, "
                                               "device auto).")

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
        self.post_message(self.read_rows())
        self.app.post_message(WorkersChanged())
        self.app.call_from_thread(self.notify, words, severity="information" if stopped
                                  else "error")
